"""The fake LLM provider: OpenAI, Anthropic and Gemini wire formats, with fault injection.

It stands in for the paid APIs in tests and benchmarks. Importing this package
is cheap (the CLI imports it to build its parser); aiohttp loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from extproc.fake_provider.config import FakeConfig, add_arguments, config_from_args

if TYPE_CHECKING:
    from aiohttp import web

    from extproc.fake_provider.server import FakeServer

__all__ = ["FakeConfig", "add_arguments", "config_from_args", "create_app", "run", "serve", "start"]


def create_app(config: FakeConfig) -> web.Application:
    """create_app builds the fake provider's aiohttp application."""
    from extproc.fake_provider.app import create_app as build  # noqa: PLC0415

    return build(config)


async def start(config: FakeConfig, host: str = "127.0.0.1", port: int = 0) -> FakeServer:
    """start listens on host:port (0: a free port) and returns a FakeServer to `close`."""
    from extproc.fake_provider.server import start as start_server  # noqa: PLC0415

    return await start_server(config, host, port)


async def serve(config: FakeConfig, host: str, port: int) -> None:
    """serve runs the fake provider until cancelled."""
    from extproc.fake_provider.server import serve as serve_forever  # noqa: PLC0415

    await serve_forever(config, host, port)


def run(config: FakeConfig, host: str, port: int) -> None:
    """run serves on uvloop until SIGTERM or SIGINT (blocking)."""
    from extproc.fake_provider.server import run as run_blocking  # noqa: PLC0415

    run_blocking(config, host, port)
