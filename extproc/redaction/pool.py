"""Where detection runs: a small request on the event loop, a large one in a worker process.

One large request must not stall the others on its process. Work on more
than `inline_bytes` of request body goes to one of `processes` worker
processes (spawned once per service process, each with its own detectors);
a request waits for a free one no longer than its own deadline (then
`ScanBusy`). Processes, not threads: a scan is mostly Python code (each
candidate's validation), so a scan thread holds the GIL, and on a busy
machine the event loop waited up to 1.5 s for it (docs/adr/0006-redaction.md
has the measurement).

A request whose handler is cancelled (Envoy gave up on the stream: message
timeout, client gone; or the server is stopping) raises its slot's flag in
memory shared with the workers, and the scan stops at its next chunk. The
slot is reused only once the worker has let go of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from typing import Any, TypeVar

from extproc.redaction.scan import Limits

log = logging.getLogger(__name__)

T = TypeVar("T")

# Heavy scans at once per service process; the others wait. On the 2 cores measured, two service
# processes with one worker each keep both cores for detection at worst.
SCAN_PROCESSES = 1
# A request body this small is scanned on the event loop (a few milliseconds at most).
INLINE_BYTES = 8192
# How much lower than the service the workers run (os.nice).
WORKER_NICENESS = 10


class ScanBusy(Exception):
    """Every worker stayed busy until the request's deadline, or the pool broke."""


class ScanPool:
    """Runs requests' detection work, inline or in a few worker processes, each within its own limits.

    `work` must be a module-level function (it is sent to the worker by name): it is called as
    `work(limits, *args)` and its result comes back.
    """

    def __init__(self, processes: int = SCAN_PROCESSES, inline_bytes: int = INLINE_BYTES) -> None:
        self.processes = processes
        self.inline_bytes = inline_bytes
        self._executor: ProcessPoolExecutor | None = None
        self._flags: Any = None  # one cancel flag per slot, shared with the workers
        self._free: list[int] = []
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        # Scans handed to a worker and not yet finished there (read by tests and benchmarks).
        self.running = 0

    def start(self) -> None:
        """Start the worker processes now (otherwise at the first large request)."""
        if self._executor is not None:
            return
        context = multiprocessing.get_context("spawn")  # a fork would copy the gRPC server's threads' state
        if self._flags is None:  # kept across restarts: a slot in use comes back when its scan ends
            self._flags = context.RawArray(ctypes.c_bool, self.processes)
            self._free = list(range(self.processes))
        self._executor = ProcessPoolExecutor(
            self.processes, mp_context=context, initializer=_start_worker, initargs=(self._flags, os.getpid())
        )
        for _ in range(self.processes):
            self._executor.submit(_warm_up)

    async def run(self, work: Callable[..., T], args: tuple[Any, ...], size: int, seconds: float) -> T:
        """`work(limits, *args)` with a deadline `seconds` from now; in a worker when `size` (bytes) is large."""
        deadline = time.monotonic() + seconds
        if size <= self.inline_bytes:
            return work(Limits(deadline), *args)
        self.start()
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        slots = self._slots_for(loop)
        if slots.locked():
            try:
                await asyncio.wait_for(slots.acquire(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise ScanBusy() from None
        else:
            await slots.acquire()
        slot = self._free.pop()
        self._flags[slot] = False
        try:
            future = self._executor.submit(_in_worker, work, slot, deadline, args)
        except BrokenProcessPool:
            self._free.append(slot)
            slots.release()
            self._restart()
            raise ScanBusy() from None
        self.running += 1
        future.add_done_callback(lambda _: _call_soon(loop, self._release, slot, slots))
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self._flags[slot] = True
            raise
        except BrokenProcessPool:
            log.error("a redaction worker process died; starting new ones")
            self._restart()
            raise ScanBusy() from None

    def close(self) -> None:
        """Stop every scan at its next chunk and take no more work (the process is stopping)."""
        if self._executor is None:
            return
        for slot in range(self.processes):
            self._flags[slot] = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None

    def _release(self, slot: int, slots: asyncio.Semaphore) -> None:
        # Only once the worker has finished with the slot: its flag must not be reset under it.
        self.running -= 1
        self._free.append(slot)
        slots.release()

    def _restart(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _slots_for(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        # A semaphore belongs to one event loop; tests run each in a loop of its own.
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(self.processes), loop
        return self._slots


@lru_cache(maxsize=1)
def default_pool() -> ScanPool:
    """The service process's pool (its workers belong to the process, whatever builds the gateway)."""
    return ScanPool()


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: the process is stopping
        loop.call_soon_threadsafe(callback, *args)


# --- in the worker process ---------------------------------------------------------

_flags: Any = None
_PR_SET_PDEATHSIG = 1


class _SharedFlag:
    """A slot's cancel flag, as the worker sees it (`Limits.cancelled`)."""

    def __init__(self, slot: int) -> None:
        self._slot = slot

    def is_set(self) -> bool:
        return bool(_flags[self._slot])


def _start_worker(flags: Any, service: int) -> None:
    global _flags
    _flags = flags
    # A worker dies with its service, however the service ends (a SIGKILL included): Linux's
    # parent-death signal. Without it, a killed service would leave its worker waiting forever.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != service:  # it died before the line above
        os._exit(0)
    # Ctrl-C reaches the whole process group; the service decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A scan is background work: on a busy machine, requests in flight (the event loops, Envoy)
    # get the CPU first, and a scan that falls behind meets its deadline.
    os.nice(WORKER_NICENESS)


def _warm_up() -> None:
    from extproc.redaction.detector import warm_up  # noqa: PLC0415  # the worker's first import of Presidio (seconds), done at start-up

    warm_up()


def _in_worker(work: Callable[..., T], slot: int, deadline: float, args: tuple[Any, ...]) -> T:
    return work(Limits(deadline, _SharedFlag(slot)), *args)

