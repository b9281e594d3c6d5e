"""The draining health servicer: only Envoy's health checks tell a drain that Envoy has noticed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from extproc.app import build_gateway
from extproc.ext_proc.server import Listen, start
from tests.support.gateway_config import gateway_config

# What Envoy's active health checker sends as its user agent (gRPC checks included).
ENVOY_HC = [("grpc.primary_user_agent", "Envoy/HC")]
# What the kubelet's gRPC probe sends.
KUBE_PROBE = [("grpc.primary_user_agent", "kube-probe/1.37")]


@pytest.fixture(scope="module")
def gateway():  # noqa: ANN201
    return build_gateway(gateway_config("gpt-4o-mini"))


async def _check(channel: grpc.aio.Channel) -> int:
    response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
    return response.status


async def test_kubernetes_probes_do_not_end_a_drain(gateway, tmp_path: Path) -> None:  # noqa: ANN001
    socket = f"unix:{tmp_path / 's.sock'}"
    server, health, _ = await start(gateway, Listen(uds=str(tmp_path / "s.sock")))
    try:
        async with grpc.aio.insecure_channel(socket, options=KUBE_PROBE) as probe, \
                grpc.aio.insecure_channel(socket, options=ENVOY_HC) as envoy:  # fmt: skip
            drained = asyncio.create_task(health.drain(checks=2, timeout=30))
            await asyncio.sleep(0.05)
            for _ in range(5):  # the probes see NOT_SERVING, but Envoy has not looked yet
                assert await _check(probe) == health_pb2.HealthCheckResponse.NOT_SERVING
            await asyncio.sleep(0.05)
            assert not drained.done()
            assert await _check(envoy) == health_pb2.HealthCheckResponse.NOT_SERVING
            await _check(envoy)
            assert await asyncio.wait_for(drained, 5) is True
    finally:
        await server.stop(0)
