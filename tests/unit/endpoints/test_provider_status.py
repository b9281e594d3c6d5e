"""`GET /api/status`: providers' health from Envoy's `/clusters?format=json`, served here by a stand-in admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from extproc.config.catalog import load_catalog
from extproc.context import RequestContext
from extproc.endpoints.provider_status import ProviderStatus
from extproc.errors import GatewayError
from tests.support.gateway_config import gateway_config


def _host(address: str, priority: int = 0, **health: Any) -> dict[str, Any]:
    ip, port = address.rsplit(":", 1)
    return {"address": {"socket_address": {"address": ip, "port_value": int(port)}}, "priority": priority,
            "health_status": {"eds_health_status": "HEALTHY", **health}}  # fmt: skip


def _clusters(catalog: Any, unhealthy_provider: str | None = None) -> dict[str, Any]:
    """Envoy's answer for every endpoint of `catalog`, those of `unhealthy_provider` ejected."""
    statuses: dict[str, list[dict[str, Any]]] = {}
    for route in catalog.routes.values():
        for e in route.endpoints:
            failed = {"failed_outlier_check": True} if e.provider == unhealthy_provider else {}
            statuses.setdefault(e.cluster, []).append(_host(e.address, e.priority, **failed))
    return {"cluster_statuses": [{"name": name, "host_statuses": hosts} for name, hosts in statuses.items()]}


@pytest.fixture
async def admin() -> AsyncIterator[tuple[TestServer, dict[str, Any]]]:
    answer: dict[str, Any] = {}

    async def clusters(request: web.Request) -> web.Response:
        assert request.query.get("format") == "json"
        return web.json_response(answer)

    app = web.Application()
    app.router.add_get("/clusters", clusters)
    server = TestServer(app)
    await server.start_server()
    try:
        yield server, answer
    finally:
        await server.close()


async def test_every_provider_is_up_when_envoy_finds_every_host_healthy(admin: tuple[TestServer, dict[str, Any]]) -> None:
    server, answer = admin
    catalog = load_catalog(gateway_config())
    answer.update(_clusters(catalog))
    status = orjson.loads(await ProviderStatus(catalog, str(server.make_url("")).rstrip("/")).answer(RequestContext()))
    assert status["status"] == "ok" and status["providers"]
    assert all(p["status"] == "up" for p in status["providers"].values())


async def test_an_ejected_providers_hosts_turn_it_down(admin: tuple[TestServer, dict[str, Any]]) -> None:
    server, answer = admin
    catalog = load_catalog(gateway_config())
    answer.update(_clusters(catalog, unhealthy_provider="anthropic"))
    status = orjson.loads(await ProviderStatus(catalog, str(server.make_url("")).rstrip("/")).answer(RequestContext()))
    assert status["providers"]["anthropic"]["status"] == "down"
    assert status["providers"]["anthropic"]["healthy_endpoints"] == 0
    assert status["providers"]["openai"]["status"] == "up" and status["status"] == "degraded"


async def test_without_envoys_admin_the_status_is_a_503() -> None:
    catalog = load_catalog(gateway_config())
    with pytest.raises(GatewayError) as refused:
        await ProviderStatus(catalog, "http://127.0.0.1:9").answer(RequestContext())
    assert refused.value.status == 503 and refused.value.code == "status_unavailable"
