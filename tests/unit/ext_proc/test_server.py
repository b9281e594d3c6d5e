"""The gRPC server's own behaviour: draining on SIGTERM waits for Envoy's health checks to notice;
a stream Envoy gives up on, or a server stopping, stops the detection work it started."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import orjson
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from extproc.app import build_gateway
from extproc.ext_proc.server import MAX_MESSAGE_BYTES, Listen, start
from extproc.redaction.policy import Privacy, PrivacyPolicies, RequestPolicy
from extproc.stages.redaction import RedactionStage
from extproc.tenancy.settings import Settings
from tests.support.gateway_config import gateway_config

BIG = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES), ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]


@pytest.fixture(scope="module")
def gateway():  # noqa: ANN201
    return build_gateway(gateway_config("gpt-4o-mini"))


async def _check(channel: grpc.aio.Channel) -> int:
    response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
    return response.status


async def test_drain_reports_not_serving_and_ends_once_two_checks_saw_it(gateway, tmp_path: Path) -> None:  # noqa: ANN001
    server, health, _ = await start(gateway, Listen(uds=str(tmp_path / "s.sock")))
    try:
        # Envoy's health checker: its checks are the ones a drain counts.
        envoy = [("grpc.primary_user_agent", "Envoy/HC")]
        async with grpc.aio.insecure_channel(f"unix:{tmp_path / 's.sock'}", options=envoy) as channel:
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


# --- heavy work on a stream Envoy gave up on --------------------------------------

DENSE = "call 212-736-5000 mail a.b@example.com card 4111 1111 1111 1111 "


def _patient_gateway():  # noqa: ANN202
    """The shipped config, masking prompts with a budget far larger than any test waits for."""
    policies = PrivacyPolicies(default=Privacy(RequestPolicy("mask", max_scan_bytes=1 << 30, max_scan_seconds=3600)))
    return build_gateway(gateway_config("gpt-4o-mini"), settings=Settings(auth_mode="none"), privacy=policies)


async def _heavy_stream(channel: grpc.aio.Channel):  # noqa: ANN202
    """A Process call that sends one chat request whose scan takes minutes, and waits for its answer."""
    headers = base_pb2.HeaderMap(headers=[
        base_pb2.HeaderValue(key=":method", raw_value=b"POST"),
        base_pb2.HeaderValue(key=":path", raw_value=b"/v1/chat/completions"),
        base_pb2.HeaderValue(key="content-type", raw_value=b"application/json"),
    ])  # fmt: skip
    body = orjson.dumps({"model": "fast", "messages": [{"role": "user", "content": DENSE * 55000}]})
    messages = [
        pb.ProcessingRequest(request_headers=pb.HttpHeaders(headers=headers)),
        pb.ProcessingRequest(request_body=pb.HttpBody(body=body, end_of_stream=True)),
    ]
    return pb_grpc.ExternalProcessorStub(channel).Process(iter(messages))


def _redaction(gateway) -> RedactionStage:  # noqa: ANN001
    return next(stage for stage in gateway.stages if isinstance(stage, RedactionStage))


async def _until(predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_stream_cancelled_by_envoy_stops_its_scan(tmp_path: Path) -> None:
    """Envoy's message timeout or the client going away ends the stream: its detection stops too."""
    gateway = _patient_gateway()
    pool = _redaction(gateway).pool
    server, _, _ = await start(gateway, Listen(uds=str(tmp_path / "s.sock")))
    try:
        async with grpc.aio.insecure_channel(f"unix:{tmp_path / 's.sock'}", options=BIG) as channel:
            call = await _heavy_stream(channel)
            assert (await call.read()).HasField("request_headers")
            await _until(lambda: pool.running == 1)
            call.cancel()
            await _until(lambda: pool.running == 0)
            # The event loop stayed free all along: health checks answer at once.
            assert await asyncio.wait_for(_check(channel), 5) == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(0)


async def test_stopping_the_server_stops_a_scan_in_flight(tmp_path: Path) -> None:
    gateway = _patient_gateway()
    pool = _redaction(gateway).pool
    server, _, _ = await start(gateway, Listen(uds=str(tmp_path / "s.sock")))
    async with grpc.aio.insecure_channel(f"unix:{tmp_path / 's.sock'}", options=BIG) as channel:
        call = await _heavy_stream(channel)
        await call.read()
        await _until(lambda: pool.running == 1)
        await asyncio.wait_for(server.stop(0.1), 10)
        await _until(lambda: pool.running == 0, timeout=10)
