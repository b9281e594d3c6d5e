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
from dataclasses import dataclass
from pathlib import Path

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from extproc import metrics, tracing
from extproc.dispatch import dispatch_router, dispatch_upstream
from extproc.processor import Gateway, RouterProcessor
from extproc.stages.redaction import RedactionStage
from extproc.upstream import UpstreamProcessor, canonical_paths, endpoints_by_cluster

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


class ExternalProcessorService(pb_grpc.ExternalProcessorServicer):
    """Runs one processor per ext_proc stream, phase by phase."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._credentials = gateway.credentials
        self._endpoints = endpoints_by_cluster(gateway.catalog)
        self._paths = canonical_paths(gateway.catalog)

    async def Process(self, request_iterator, context: grpc.aio.ServicerContext):  # noqa: N802 - gRPC name
        """One bidirectional stream: one HTTP request, or one upstream attempt."""
        metadata = context.invocation_metadata()
        trace = tracing.start_stream(metadata)
        if _filter_kind(metadata) == "upstream":
            upstream = UpstreamProcessor(self._credentials, self._endpoints, self._gateway.translators, self._paths)
            try:
                async for request in request_iterator:
                    yield await dispatch_upstream(upstream, request)
            finally:
                trace.end_attempt(*upstream.summary())
            return
        router = RouterProcessor(self._gateway, trace)
        try:
            async for request in request_iterator:
                yield await dispatch_router(router, request)
        finally:
            # Also when Envoy ends the stream early (the client went away).
            router.close()


def _filter_kind(metadata) -> str:
    for key, value in metadata or ():
        if key == FILTER_METADATA_KEY:
            return value
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


class DrainingHealthServicer(health.aio.HealthServicer):
    """The standard health service, counting the checks answered NOT_SERVING while draining.

    Envoy stops opening streams to a process after `unhealthy_threshold`
    failed checks (2 in the shipped envoy.yaml); counting them tells the
    process when it may stop listening without refusing anyone.
    """

    def __init__(self) -> None:
        super().__init__()
        self.draining = False
        self._refused = 0
        self._seen = asyncio.Event()
        self._needed = 0

    async def Check(self, request, context):  # noqa: N802 - gRPC name
        """Answer as the standard servicer does; while draining, count the refusals."""
        response = await super().Check(request, context)
        if self.draining:
            self._refused += 1
            if self._refused >= self._needed:
                self._seen.set()
        return response

    def cut_short(self) -> None:
        """End a drain now (a second signal: the operator or the supervisor will not wait)."""
        self._seen.set()

    async def drain(self, checks: int, timeout: float) -> bool:
        """Report NOT_SERVING, then wait for `checks` health checks (True) or `timeout` seconds (False)."""
        self._needed = checks
        self.draining = True
        await self.enter_graceful_shutdown()
        if timeout <= 0:
            return False
        try:
            await asyncio.wait_for(self._seen.wait(), timeout)
        except TimeoutError:
            return False
        return True


async def start(gateway: Gateway, listen: Listen) -> tuple[grpc.aio.Server, DrainingHealthServicer, int]:
    """Start serving; returns the server, its health servicer and the bound TCP port (0 for a socket)."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # Each process listens on its own address; Envoy balances across them.
            ("grpc.so_reuseport", 0),
        ]
    )
    pb_grpc.add_ExternalProcessorServicer_to_server(ExternalProcessorService(gateway), server)
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


async def serve(gateway: Gateway, listen: Listen, grace: float = 5.0, drain_seconds: float = 10.0) -> None:
    """Serve until a signal. SIGTERM drains first: NOT_SERVING, still serving until Envoy's
    health checks have seen it (or `drain_seconds`), then stop with `grace` for streams in
    flight. SIGINT (Ctrl-C, or a whole stack stopping) skips the drain."""
    pools = [stage.pool for stage in gateway.stages if isinstance(stage, RedactionStage)]
    for pool in pools:
        pool.start()  # its worker processes load their detectors meanwhile
    server, health_servicer, port = await start(gateway, listen)
    # Everything loaded so far (LiteLLM, Presidio: ~500,000 objects) lives as long as the process.
    # Out of the collector's sight, a full collection takes microseconds instead of ~1 s, during
    # which no request on this process moves (parsing and masking a large request cause one).
    gc.collect()
    gc.freeze()
    log.info("ext_proc service listening on %s", listen.uds or f"{listen.host}:{port}")
    metrics_server = None
    if listen.metrics_port is not None:
        metrics_server = await metrics.start_http_server(listen.host, listen.metrics_port, reuse_port=True)
        log.info("metrics on http://%s:%d/metrics", listen.host, metrics_server.port)
    stop = asyncio.Event()
    received: list[signal.Signals] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda sig=sig: (received.append(sig), stop.set()))
    await stop.wait()
    drain = drain_seconds if received[0] == signal.SIGTERM else 0.0
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, health_servicer.cut_short)
    log.info("ext_proc service draining (up to %.0f s for Envoy's health checks)", drain)
    seen = await health_servicer.drain(HEALTH_CHECKS_TO_DRAIN, drain)
    if seen:
        await asyncio.sleep(HEALTH_PROPAGATION_S)
    await server.stop(grace)
    for pool in pools:
        pool.close()  # any scan still running (a stream not cancelled) stops at its next chunk
    if metrics_server is not None:
        await metrics_server.stop()
