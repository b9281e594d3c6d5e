"""The tenants' recent requests: a bounded ring buffer per service process, for the playground's list.

Each service process keeps its own (Envoy spreads requests over the processes, so with two
processes each lists the requests it served): the list is a window on what just happened, not
an audit log, and sharing it through the configured store would put a write on every request's
path for a view someone opens now and then. What it holds says what happened, never what was
said: no prompt or answer text, whatever the route's logging allows.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import asdict, dataclass
from typing import Any

# Requests kept per tenant, and tenants kept (the least recently active one goes first).
PER_TENANT = 50
MAX_TENANTS = 1000


@dataclass(frozen=True, slots=True)
class RecentRequest:
    """One finished request, as the playground's recent-requests view shows it."""

    request_id: str
    time: str  # ISO 8601, UTC, milliseconds
    model: str | None  # as the client asked
    served_model: str | None
    status: int
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    cache: str  # hit, miss, bypass, or off
    route_reason: str | None
    latency_ms: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON object `/v1/gateway/requests` lists."""
        return asdict(self)


class RecentRequests:
    """The last PER_TENANT requests of each of the MAX_TENANTS most recently active tenants."""

    def __init__(self, per_tenant: int = PER_TENANT, max_tenants: int = MAX_TENANTS) -> None:
        self._per_tenant = per_tenant
        self._max_tenants = max_tenants
        self._by_tenant: OrderedDict[str, deque[RecentRequest]] = OrderedDict()

    def record(self, tenant: str, request: RecentRequest) -> None:
        """Keep `request` as the tenant's newest, dropping its oldest (or the quietest tenant) past the bounds."""
        kept = self._by_tenant.get(tenant)
        if kept is None:
            kept = self._by_tenant[tenant] = deque(maxlen=self._per_tenant)
            while len(self._by_tenant) > self._max_tenants:
                self._by_tenant.popitem(last=False)
        else:
            self._by_tenant.move_to_end(tenant)
        kept.append(request)

    def of(self, tenant: str) -> list[RecentRequest]:
        """The tenant's kept requests, newest first (only that tenant's)."""
        return list(reversed(self._by_tenant.get(tenant, ())))
