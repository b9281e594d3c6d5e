"""The gRPC server's own behaviour: draining on SIGTERM waits for Envoy's health checks to notice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from extproc.config import DEFAULT_CONFIG, build_gateway
from extproc.server import Listen, start


@pytest.fixture(scope="module")
def gateway():  # noqa: ANN201
    return build_gateway(yaml.safe_load(DEFAULT_CONFIG.read_text()))


async def _check(channel: grpc.aio.Channel) -> int:
    response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
    return response.status


async def test_drain_reports_not_serving_and_ends_once_two_checks_saw_it(gateway, tmp_path: Path) -> None:  # noqa: ANN001
    server, health, _ = await start(gateway, Listen(uds=str(tmp_path / "s.sock")))
    try:
        async with grpc.aio.insecure_channel(f"unix:{tmp_path / 's.sock'}") as channel:
            assert await _check(channel) == health_pb2.HealthCheckResponse.SERVING
            drained = asyncio.create_task(health.drain(checks=2, timeout=30))
            await asyncio.sleep(0.05)
            assert await _check(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
            assert not drained.done()  # one check is not enough for Envoy to mark it unhealthy
            await _check(channel)
            assert await asyncio.wait_for(drained, 5) is True
    finally:
        await server.stop(0)


async def test_drain_gives_up_after_its_timeout_without_health_checks(gateway, tmp_path: Path) -> None:  # noqa: ANN001
    server, health, _ = await start(gateway, Listen(uds=str(tmp_path / "s.sock")))
    try:
        assert await health.drain(checks=2, timeout=0.2) is False
        assert await health.drain(checks=2, timeout=0) is False
    finally:
        await server.stop(0)


async def test_a_second_signal_cuts_a_drain_short(gateway, tmp_path: Path) -> None:  # noqa: ANN001
    server, health, _ = await start(gateway, Listen(uds=str(tmp_path / "s.sock")))
    try:
        drained = asyncio.create_task(health.drain(checks=2, timeout=30))
        await asyncio.sleep(0.05)
        health.cut_short()
        assert await asyncio.wait_for(drained, 5) is True
    finally:
        await server.stop(0)
