"""The gRPC server: Envoy's ExternalProcessor service and the standard health service.

One process serves both ext_proc filters. Envoy tells them apart by the
`x-llm-gateway-filter` initial metadata each filter's `grpc_service` sends
(`router` or `upstream`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from extproc.app import Gateway
from extproc.config.catalog import Endpoint
from extproc.ext_proc import codec
from extproc.ext_proc.health import DrainingHealthServicer
from extproc.phases import Processor
from extproc.redaction.pool import ScanPool
from extproc.router.processor import RouterProcessor
from extproc.telemetry import metrics_http, tracing
from extproc.upstream.processor import UpstreamProcessor, canonical_paths, endpoints_by_cluster

log = logging.getLogger(__name__)

FILTER_METADATA_KEY = "x-llm-gateway-filter"
# Request and response bodies travel inside gRPC messages; gRPC's 4 MiB default
# would refuse a 4 MiB request body with its JSON framing, or a large answer.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SERVICE_NAME = "envoy.service.ext_proc.v3.ExternalProcessor"
# The shipped envoy.yaml marks a process unhealthy after this many failed
# checks; the host set then reaches Envoy's workers within milliseconds.
HEALTH_CHECKS_TO_DRAIN = 2
HEALTH_PROPAGATION_S = 0.2


@dataclass(frozen=True, slots=True)
class Serving:
    """One configuration's gateway, with the lookups the upstream filter makes in it (built once)."""

    gateway: Gateway
    endpoints: dict[tuple[str, str], Endpoint]
    paths: dict[str, str]

    @classmethod
    def of(cls, gateway: Gateway) -> Serving:
        """The gateway and its lookups."""
        return cls(gateway, endpoints_by_cluster(gateway.catalog), canonical_paths(gateway.catalog))


class Current:
    """The configuration new streams are served with. A reload swaps it; a stream keeps the one
    it started with to its end, so nothing in flight changes policy half-way."""

    def __init__(self, gateway: Gateway) -> None:
        self.serving = Serving.of(gateway)
        # Every redaction worker pool started so far (stopped with the server, whichever gateway uses it).
        self.pools: list[ScanPool] = []

    def swap(self, gateway: Gateway) -> None:
        """Serve new streams with `gateway` from now on (its redaction workers started first)."""
        self.start_pools(gateway)
        self.serving = Serving.of(gateway)

    def start_pools(self, gateway: Gateway | None = None) -> None:
        """Start the redaction workers of `gateway` (default: the one serving) that are not running yet."""
        for pool in (gateway or self.serving.gateway).scan_pools:
            if pool not in self.pools:
                pool.start()  # its worker processes load their detectors meanwhile
                self.pools.append(pool)


class ExternalProcessorService(pb_grpc.ExternalProcessorServicer):  # type: ignore[misc]  # xds-protos' generated modules ship no types
    """Runs one processor per ext_proc stream, message by message."""

    def __init__(self, current: Current) -> None:
        self._current = current

    async def Process(  # noqa: N802 - gRPC name
        self, request_iterator: AsyncIterator[pb.ProcessingRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ProcessingResponse]:
        """One bidirectional stream: one HTTP request, or one upstream attempt."""
        metadata = context.invocation_metadata()
        trace = tracing.start_stream(metadata)
        serving = self._current.serving
        processor: Processor
        if _filter_kind(metadata) == "upstream":
            gateway = serving.gateway
            processor = UpstreamProcessor(gateway.credentials, serving.endpoints, gateway.translators, serving.paths, trace)
        else:
            processor = RouterProcessor(serving.gateway, trace)
        try:
            async for request in request_iterator:
                yield await answer(processor, request)
        finally:
            # Also when Envoy ends the stream early (the client went away).
            processor.close()


async def answer(processor: Processor, request: pb.ProcessingRequest) -> pb.ProcessingResponse:
    """One message through its processor; a failure of the gateway itself is a 500 in the client's
    format (logged with its traceback, never sent)."""
    message = codec.decode(request)
    try:
        decision = await processor.process(message)
    except Exception:
        log.exception("%s failed", message.phase)
        decision = processor.failed()
    return codec.encode(message.phase, decision)


def _filter_kind(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == FILTER_METADATA_KEY:
            return str(value)
    return "router"


@dataclass(slots=True)
class Listen:
    """Where one service process listens: a TCP address or a Unix socket path."""

    host: str = "127.0.0.1"
    port: int = 9002
    uds: str | None = None
    # Prometheus scrape port of the service itself (None: only through Envoy).
    metrics_port: int | None = None

    def target(self) -> str:
        """The gRPC bind address."""
        return f"unix:{self.uds}" if self.uds else f"{self.host}:{self.port}"


async def start(source: Gateway | Current, listen: Listen) -> tuple[grpc.aio.Server, DrainingHealthServicer, int]:
    """Start serving; returns the server, its health servicer and the bound TCP port (0 for a socket)."""
    current = source if isinstance(source, Current) else Current(source)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # Each process listens on its own address; Envoy balances across them.
            ("grpc.so_reuseport", 0),
        ]
    )
    pb_grpc.add_ExternalProcessorServicer_to_server(ExternalProcessorService(current), server)
    health_servicer = DrainingHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if listen.uds:
        Path(listen.uds).unlink(missing_ok=True)
    bound = server.add_insecure_port(listen.target())
    if not listen.uds and bound == 0:
        raise OSError(f"cannot listen on {listen.target()}")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, health_servicer, (0 if listen.uds else bound)


async def serve(
    source: Gateway | Current,
    listen: Listen,
    grace: float = 5.0,
    drain_seconds: float = 10.0,
    on_hangup: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Serve until a signal. SIGTERM drains first: NOT_SERVING, still serving until Envoy's
    health checks have seen it (or `drain_seconds`), then stop with `grace` for streams in
    flight. SIGINT (Ctrl-C, or a whole stack stopping) skips the drain. SIGHUP runs
    `on_hangup` (a reload of envoy.yaml), one at a time."""
    current = source if isinstance(source, Current) else Current(source)
    current.start_pools()
    server, health_servicer, port = await start(current, listen)
    # Everything loaded so far (LiteLLM, Presidio: ~500,000 objects) lives as long as the process.
    # Out of the collector's sight, a full collection takes microseconds instead of ~1 s, during
    # which no request on this process moves (parsing and masking a large request cause one).
    gc.collect()
    gc.freeze()
    log.info("ext_proc service listening on %s", listen.uds or f"{listen.host}:{port}")
    metrics_server = None
    if listen.metrics_port is not None:
        metrics_server = await metrics_http.start_http_server(listen.host, listen.metrics_port, reuse_port=True)
        log.info("metrics on http://%s:%d/metrics", listen.host, metrics_server.port)
    stop = asyncio.Event()
    received: list[signal.Signals] = []
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    reloads: set[asyncio.Task[object]] = set()
    if on_hangup is not None:
        hangup = on_hangup
        lock = asyncio.Lock()

        async def reload_once() -> object:
            async with lock:  # a second SIGHUP waits for the first reload, then reads the file again
                return await hangup()

        def on_sighup() -> None:
            task = loop.create_task(reload_once())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_sighup)
    await stop.wait()
    drain = drain_seconds if received[0] == signal.SIGTERM else 0.0
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, health_servicer.cut_short)
    log.info("ext_proc service draining (up to %.0f s for Envoy's health checks)", drain)
    seen = await health_servicer.drain(HEALTH_CHECKS_TO_DRAIN, drain)
    if seen:
        await asyncio.sleep(HEALTH_PROPAGATION_S)
    await server.stop(grace)
    for task in list(reloads):
        task.cancel()
    for pool in current.pools:
        pool.close()  # any scan still running (a stream not cancelled) stops at its next chunk
    if metrics_server is not None:
        await metrics_server.stop()
