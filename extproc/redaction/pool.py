"""Where detection runs: a small request on the event loop, a large one on a scan thread.

One large request must not stall the others on its process. Work on more
than `inline_bytes` of request body goes to a thread; at most `threads` such
scans run at once per process, and a request waits for a free one no longer
than its own deadline (then `ScanBusy`). Threads, not processes: the
`regex` module releases the GIL while it matches, and the loop still gets
the GIL at each switch interval while a scan runs Python code; see
docs/adr/0006-redaction.md for the measurement.

A request whose handler is cancelled (Envoy gave up on the stream: message
timeout, client gone; or the server is stopping) sets its `Limits`'
`cancelled` flag, and its scan stops at the next chunk.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .scan import Limits

T = TypeVar("T")

SCAN_THREADS = 2
INLINE_BYTES = 8192


class ScanBusy(Exception):
    """Every scan thread stayed busy until the request's deadline."""


class ScanPool:
    """Runs requests' detection work, inline or on a few threads, each within its own limits."""

    def __init__(self, threads: int = SCAN_THREADS, inline_bytes: int = INLINE_BYTES) -> None:
        self.threads = threads
        self.inline_bytes = inline_bytes
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="redaction-scan")
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self._live: set[threading.Event] = set()
        # How many scans are running on the threads right now (read by tests and benchmarks).
        self.running = 0
        self._lock = threading.Lock()

    async def run(self, work: Callable[[Limits], T], size: int, seconds: float) -> T:
        """`work(limits)`, with a deadline `seconds` from now; on a thread when `size` (bytes) is large."""
        limits = Limits(time.monotonic() + seconds)
        if size <= self.inline_bytes:
            return work(limits)
        slots = self._slots_for_this_loop()
        try:
            await asyncio.wait_for(slots.acquire(), timeout=max(0.0, limits.deadline - time.monotonic()))
        except TimeoutError:
            raise ScanBusy() from None
        self._live.add(limits.cancelled)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._on_thread, work, limits)
        except asyncio.CancelledError:
            limits.cancelled.set()
            raise
        finally:
            self._live.discard(limits.cancelled)
            slots.release()

    def close(self) -> None:
        """Stop every scan at its next chunk and take no more work (the process is stopping)."""
        for cancelled in list(self._live):
            cancelled.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _on_thread(self, work: Callable[[Limits], T], limits: Limits) -> T:
        with self._lock:
            self.running += 1
        try:
            return work(limits)
        finally:
            with self._lock:
                self.running -= 1

    def _slots_for_this_loop(self) -> asyncio.Semaphore:
        # A semaphore belongs to one event loop; tests run each in a loop of its own.
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(self.threads), loop
        return self._slots
