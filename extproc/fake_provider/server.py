"""Running the fake provider: `start` for tests, `serve` until cancelled, `run` as a blocking command."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
from dataclasses import dataclass

from aiohttp import web

from extproc.fake_provider.app import create_app
from extproc.fake_provider.config import FakeConfig

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FakeServer:
    """FakeServer is a started fake provider; `close` stops it."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        """url is the server's base URL, e.g. http://127.0.0.1:9000 (OpenAI clients add /v1)."""
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        """close stops listening and ends open connections."""
        await self.runner.cleanup()


async def start(config: FakeConfig, host: str = "127.0.0.1", port: int = 0, reuse_port: bool = False) -> FakeServer:
    """start listens on host:port (0: a free port) and returns at once."""
    runner = web.AppRunner(create_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_port=reuse_port or None)
    await site.start()
    return FakeServer(runner=runner, host=host, port=runner.addresses[0][1])


async def serve(config: FakeConfig, host: str, port: int, reuse_port: bool = False) -> None:
    """serve runs the fake provider until cancelled."""
    server = await start(config, host, port, reuse_port)
    log.info("fake provider listening on %s (pid %d)", server.url, os.getpid())
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


def run(config: FakeConfig, host: str, port: int) -> None:
    """run serves on uvloop until SIGTERM or SIGINT; with `config.workers` > 1, in that many processes."""
    if config.workers <= 1:
        _run_one(config, host, port, reuse_port=False, parent=None)
        return
    if port == 0:
        raise ValueError("several workers need a fixed port to share")
    parent = os.getpid()
    children = []
    for index in range(1, config.workers):
        pid = os.fork()
        if pid == 0:  # a worker: its own seed, so workers do not fail in lockstep
            try:
                _run_one(dataclasses.replace(config, seed=config.seed + index), host, port, True, parent)
            finally:
                os._exit(0)
        children.append(pid)
    try:
        _run_one(config, host, port, reuse_port=True, parent=None)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _run_one(config: FakeConfig, host: str, port: int, reuse_port: bool, parent: int | None) -> None:
    import uvloop  # noqa: PLC0415  # each worker process's own loop

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        watchdog = asyncio.create_task(_exit_with(parent, task)) if parent is not None else None
        try:
            await serve(config, host, port, reuse_port)
        except asyncio.CancelledError:
            log.info("fake provider stopped (pid %d)", os.getpid())
        finally:
            if watchdog is not None:
                watchdog.cancel()

    uvloop.run(main())


async def _exit_with(parent: int, task: asyncio.Task[None]) -> None:
    """Stops a worker whose parent died without stopping it (SIGKILL)."""
    while os.getppid() == parent:
        await asyncio.sleep(1)
    task.cancel()
