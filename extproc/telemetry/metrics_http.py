"""The service's own `GET /metrics` port (`llm-gateway serve --metrics-port`): the same sums as through Envoy."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from extproc.telemetry.metrics import render


@dataclass(slots=True)
class MetricsServer:
    """MetricsServer is a running HTTP server that answers `GET /metrics`; `port` is its bound TCP port."""

    host: str
    port: int
    _runner: web.AppRunner

    async def stop(self) -> None:
        """stop closes the listening socket and the open connections."""
        await self._runner.cleanup()


async def start_http_server(host: str, port: int, *, reuse_port: bool = False) -> MetricsServer:
    """start_http_server serves `GET /metrics` on host:port (0: a free port) in the running event loop.

    With `reuse_port`, every service process may listen on the same port; any
    of them answers with the same sums.
    """
    app = web.Application()
    app.router.add_get("/metrics", _metrics_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    except BaseException:
        await runner.cleanup()
        raise
    return MetricsServer(host=host, port=int(runner.addresses[0][1]), _runner=runner)


async def _metrics_handler(request: web.Request) -> web.Response:
    # Reading every process's files takes milliseconds: keep it off the event loop.
    body, content_type = await asyncio.to_thread(render)
    return web.Response(body=body, headers={"Content-Type": content_type})

