"""A fake provider on a background thread, for tests and benchmarks that drive it from sync code.

Running it on its own event loop means a blocking client (the sync `openai`
SDK) in the test's thread cannot stall it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from extproc.fake_provider.config import FakeConfig
from extproc.fake_provider.server import FakeServer, start


@contextmanager
def running(config: FakeConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> Iterator[FakeServer]:
    """running serves the fake provider on a thread of its own for the duration of the block."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-provider", daemon=True)
    thread.start()
    try:
        server = asyncio.run_coroutine_threadsafe(start(config or FakeConfig(), host, port), loop).result(30)
        try:
            yield server
        finally:
            asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
