"""The attempt log of one request: which endpoints Envoy tried, what each answered, how fast.

Envoy makes the attempts (first try, retries, fallbacks to lower priorities);
the upstream ext_proc filter sees each one. It writes one dynamic-metadata
entry per attempt, `attempt_<n>`, in the `llm_gateway` namespace: once when the
attempt starts (endpoint only) and again when its response headers arrive
(status and latency). Upstream filters share the request's stream info, so the
router-level filter receives every entry with the final response (metadata
forwarding) and reports them to the client in `x-gateway-attempts`. An attempt
that never got response headers (reset, per-try timeout) keeps its first entry
and is reported without a status. An attempt whose connection was refused
never reaches the upstream filter (Envoy runs it on an open connection); it
is known only from Envoy's attempt count and reported as `unconnected`.

This travels through Envoy rather than process memory because the router
stream and the attempt streams of one request may reach different service
processes.

An attempt that went out and ended with no answer (its connection reset, or
its per-try timeout) is charged: the provider had the whole prompt and may
have begun answering, and bills for that. Envoy retries it only while nothing
has reached the client; the tenant pays each such attempt's prompt, estimated
and priced at its endpoint (`Unanswered`; see ADR 0005).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from extproc.cost.usage import Usage

if TYPE_CHECKING:
    from extproc.config.catalog import Endpoint
    from extproc.cost.estimate import Estimator
    from extproc.cost.pricing import Pricing

# Set by Envoy on each upstream request (virtual host `include_request_attempt_count`).
ATTEMPT_COUNT_HEADER = "x-envoy-attempt-count"
# Client headers: the attempt that served the answer, and every attempt made.
ATTEMPT_HEADER = "x-gateway-attempt"
ATTEMPTS_HEADER = "x-gateway-attempts"
KEY_PREFIX = "attempt_"
# An attempt Envoy counted but no upstream filter saw: its connection failed.
UNCONNECTED = "unconnected"
# Longest attempt log reported; Envoy's retry budget keeps real chains far shorter.
MAX_REPORTED = 10


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream attempt: where it went, and its status and latency once known."""

    number: int
    provider: str
    model: str
    status: int | None = None
    latency_ms: float | None = None

    def metadata_entry(self) -> dict[str, str]:
        """The dynamic-metadata field that records this attempt."""
        fields = [self.provider, self.model]
        if self.status is not None:
            fields += [str(self.status), f"{self.latency_ms or 0:.0f}"]
        return {f"{KEY_PREFIX}{self.number}": " ".join(fields)}

    def header_item(self) -> str:
        """This attempt as one item of `x-gateway-attempts`."""
        outcome = f"status={self.status};ms={self.latency_ms:.0f}" if self.status is not None else "status=none"
        where = f"{self.provider}/{self.model}" if self.provider else UNCONNECTED
        return f"{where};{outcome}"


def attempt_number(headers: dict[str, str]) -> int:
    """The attempt Envoy is making (1 for the first try), from the upstream request's headers."""
    try:
        return max(1, int(headers.get(ATTEMPT_COUNT_HEADER, "1")))
    except ValueError:
        return 1


def envoy_count(headers: dict[str, str]) -> int:
    """How many attempts Envoy made, from an answer's `x-envoy-attempt-count` (0 when absent)."""
    try:
        return int(headers.get(ATTEMPT_COUNT_HEADER, "0"))
    except ValueError:
        return 0


def from_metadata(fields: dict[str, object], count: int = 0) -> list[Attempt]:
    """The attempts recorded in the `llm_gateway` metadata fields, in order; of `count` attempts
    Envoy made, those with no record are the ones that never connected."""
    attempts = []
    for key, value in fields.items():
        if not key.startswith(KEY_PREFIX) or not isinstance(value, str):
            continue
        try:
            number = int(key[len(KEY_PREFIX):])
        except ValueError:
            continue
        parts = value.split(" ")
        if len(parts) == 2:
            attempts.append(Attempt(number, parts[0], parts[1]))
        elif len(parts) == 4 and parts[2].isdigit():
            attempts.append(Attempt(number, parts[0], parts[1], int(parts[2]), float(parts[3])))
    seen = {a.number for a in attempts}
    if attempts:
        attempts += [Attempt(n, "", "") for n in range(1, max(count, max(seen)) + 1) if n not in seen]
    return sorted(attempts, key=lambda a: a.number)


def client_headers(attempts: list[Attempt]) -> dict[str, str]:
    """`x-gateway-attempt` (the last, which answered) and `x-gateway-attempts` (all of them)."""
    if not attempts:
        return {}
    shown = attempts[-MAX_REPORTED:]
    return {
        ATTEMPT_HEADER: str(attempts[-1].number),
        ATTEMPTS_HEADER: ", ".join(a.header_item() for a in shown),
    }


def unanswered(attempts: list[Attempt]) -> list[Attempt]:
    """The attempts that reached a provider and ended without an answer (reset, timed out)."""
    return [a for a in attempts if a.provider and a.status is None]


@dataclass(slots=True)
class Unanswered:
    """What a request's unanswered attempts cost: each one's prompt, estimated, at its endpoint's price.

    Charged once, added to whatever the answer itself cost (nothing, when every attempt failed).
    """

    attempts: list[Attempt] = field(default_factory=list)
    charged: bool = False

    def add_to(
        self,
        cost_usd: float | None,
        endpoints: tuple[Endpoint, ...],
        body: dict[str, Any],
        kind: str,
        estimator: Estimator,
        pricing: Pricing,
    ) -> float | None:
        """`cost_usd` plus the attempts' prompts, the first time it is asked; `cost_usd` after that."""
        if self.charged or not self.attempts:
            return cost_usd
        self.charged = True
        total = cost_usd or 0.0
        for attempt in self.attempts:
            endpoint = next(
                (e for e in endpoints if e.provider == attempt.provider and e.upstream_model == attempt.model), None
            )
            if endpoint is None:
                continue
            prompt = estimator.prompt_tokens(endpoint.model, body, kind)
            total += pricing.cost_usd(endpoint, Usage(prompt_tokens=prompt, completion_tokens=0)) or 0.0
        return total
