"""Detection in chunks: the same findings as one pass, stopped by its deadline or by a cancelled request."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest

from benchmarks.pii_eval import CORPUS, load_corpus
from extproc.redaction.detector import Detector
from extproc.redaction.entities import ENTITIES
from extproc.redaction.pool import ScanPool
from extproc.redaction.scan import CHUNK, Limits, ScanStopped, find_all

ALL = Detector(ENTITIES)
TEXTS = [r["text"] for name in ("pii_corpus.jsonl", "pii_holdout.jsonl") for r in load_corpus(CORPUS.parent / name)]
PEM = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"] * 3000) + "\n-----END PRIVATE KEY-----"


def no_limits() -> Limits:
    return Limits(time.monotonic() + 3600)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunks_find_what_one_pass_finds(seed: int) -> None:
    rng = random.Random(seed)
    parts = [rng.choice(TEXTS) for _ in range(4000)]
    if seed == 2:
        parts.insert(700, PEM)  # a value longer than a chunk
    if seed == 3:  # long runs without whitespace before each labelled token
        parts = ["x" * 5000 + " Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123 " + rng.choice(TEXTS) for _ in range(80)]
    text = " ".join(parts)
    assert len(text) > 4 * CHUNK
    assert find_all(ALL, text, no_limits()) == ALL.find(text)


def test_the_deadline_stops_a_scan_between_chunks_with_the_findings_so_far() -> None:
    text = "call 212-736-5000 mail a.b@example.com " * 20000
    with pytest.raises(ScanStopped) as stopped:
        find_all(ALL, text, Limits(time.monotonic() + 0.001))
    assert stopped.value.reason == "seconds" and stopped.value.scanned < len(text)
    assert all(f.end <= stopped.value.scanned for f in stopped.value.findings)


def test_a_cancelled_request_stops_its_scan() -> None:
    limits = no_limits()
    limits.cancelled.set()
    with pytest.raises(ScanStopped) as stopped:
        find_all(ALL, "a@example.com", limits)
    assert stopped.value.reason == "cancelled"


async def test_a_cancelled_await_stops_the_work_on_the_thread() -> None:
    """Envoy gave up on the stream: the handler is cancelled, and the scan stops at its next chunk."""
    pool = ScanPool(threads=1, inline_bytes=0)
    chunks = 0
    started = threading.Event()

    def work(limits: Limits) -> int:
        nonlocal chunks
        while True:  # a scan that would never end on its own
            limits.check([], 0)
            chunks += 1
            started.set()
            time.sleep(0.01)

    task = asyncio.create_task(pool.run(work, size=1, seconds=3600))
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 10
    while pool.running and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert pool.running == 0
    done = chunks
    await asyncio.sleep(0.1)
    assert chunks == done  # nothing more ran after the cancel
    pool.close()


async def test_closing_the_pool_stops_every_scan() -> None:
    pool = ScanPool(threads=2, inline_bytes=0)
    started = threading.Barrier(3)

    def work(limits: Limits) -> str:
        started.wait(10)
        while True:
            try:
                limits.check([], 0)
            except ScanStopped as stopped:
                return stopped.reason
            time.sleep(0.01)

    tasks = [asyncio.create_task(pool.run(work, size=1, seconds=3600)) for _ in range(2)]
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
    pool.close()
    assert await asyncio.wait_for(asyncio.gather(*tasks), 10) == ["cancelled", "cancelled"]
