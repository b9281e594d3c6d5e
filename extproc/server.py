"""The gRPC server: Envoy's ExternalProcessor service and the standard health service.

One process serves both ext_proc filters. Envoy tells them apart by the
`x-llm-gateway-filter` initial metadata each filter's `grpc_service` sends
(`router` or `upstream`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from . import metrics
from .dispatch import dispatch_router, dispatch_upstream
from .processor import Gateway, RouterProcessor
from .upstream import UpstreamProcessor, canonical_paths, endpoints_by_cluster

log = logging.getLogger(__name__)

FILTER_METADATA_KEY = "x-llm-gateway-filter"
# Request and response bodies travel inside gRPC messages; gRPC's 4 MiB default
# would refuse a 4 MiB request body with its JSON framing, or a large answer.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SERVICE_NAME = "envoy.service.ext_proc.v3.ExternalProcessor"


class ExternalProcessorService(pb_grpc.ExternalProcessorServicer):
    """Runs one processor per ext_proc stream, phase by phase."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._credentials = gateway.credentials
        self._endpoints = endpoints_by_cluster(gateway.catalog)
        self._paths = canonical_paths(gateway.catalog)

    async def Process(self, request_iterator, context: grpc.aio.ServicerContext):  # noqa: N802 - gRPC name
        """One bidirectional stream: one HTTP request, or one upstream attempt."""
        if _filter_kind(context) == "upstream":
            upstream = UpstreamProcessor(self._credentials, self._endpoints, self._gateway.translators, self._paths)
            async for request in request_iterator:
                yield await dispatch_upstream(upstream, request)
            return
        router = RouterProcessor(self._gateway)
        async for request in request_iterator:
            yield await dispatch_router(router, request)


def _filter_kind(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
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


async def start(gateway: Gateway, listen: Listen) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
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
    health_servicer = health.aio.HealthServicer()
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


async def serve(gateway: Gateway, listen: Listen, grace: float = 5.0) -> None:
    """Serve until SIGTERM or SIGINT, then drain: NOT_SERVING first, then stop."""
    server, health_servicer, port = await start(gateway, listen)
    log.info("ext_proc service listening on %s", listen.uds or f"{listen.host}:{port}")
    metrics_server = None
    if listen.metrics_port is not None:
        metrics_server = await metrics.start_http_server(listen.host, listen.metrics_port, reuse_port=True)
        log.info("metrics on http://%s:%d/metrics", listen.host, metrics_server.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("ext_proc service draining")
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace)
    if metrics_server is not None:
        await metrics_server.stop()
