"""Detection in chunks: the same findings as one pass, stopped by its deadline or by a cancelled request."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.pii_eval import CORPUS, load_corpus
from extproc.redaction.detector import Detector
from extproc.redaction.entities import ENTITIES
from extproc.redaction.pool import ScanBusy, ScanPool
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


def endless_scan(limits: Limits, started: str) -> str:
    """A scan that never ends on its own (run in the worker process; says when it began)."""
    Path(started).touch()
    while True:
        try:
            limits.check([], 0)
        except ScanStopped as stopped:
            return stopped.reason
        time.sleep(0.01)


async def _until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_cancelled_request_stops_the_work_in_the_worker(tmp_path: Path) -> None:
    """Envoy gave up on the stream: the handler is cancelled, and the worker's scan stops at its next chunk."""
    pool = ScanPool(processes=1, inline_bytes=0)
    try:
        task = asyncio.create_task(pool.run(endless_scan, (str(tmp_path / "started"),), size=1, seconds=3600))
        await _until(lambda: (tmp_path / "started").exists())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _until(lambda: pool.running == 0)
        # The worker is free again: the next request is served by it.
        assert await pool.run(endless_scan, (str(tmp_path / "again"),), size=1, seconds=0.2) == "seconds"
    finally:
        pool.close()


async def test_closing_the_pool_stops_every_scan(tmp_path: Path) -> None:
    pool = ScanPool(processes=2, inline_bytes=0)
    marks = [tmp_path / "a", tmp_path / "b"]
    tasks = [asyncio.create_task(pool.run(endless_scan, (str(mark),), size=1, seconds=3600)) for mark in marks]
    await _until(lambda: all(mark.exists() for mark in marks))
    pool.close()
    assert await asyncio.wait_for(asyncio.gather(*tasks), 30) == ["cancelled", "cancelled"]


async def test_small_work_runs_at_once_on_the_event_loop() -> None:
    pool = ScanPool(processes=1, inline_bytes=100)
    assert await pool.run(endless_scan_or_name, ("inline",), size=100, seconds=1) == "inline"
    assert pool._executor is None  # no worker was started for it


def endless_scan_or_name(limits: Limits, name: str) -> str:
    return name


def die(limits: Limits) -> None:
    os._exit(1)  # an OOM kill, say


async def test_a_worker_that_dies_costs_its_request_a_503_and_the_next_one_gets_a_new_worker(tmp_path: Path) -> None:
    pool = ScanPool(processes=1, inline_bytes=0)
    try:
        with pytest.raises(ScanBusy):
            await pool.run(die, (), size=1, seconds=60)
        assert await pool.run(endless_scan, (str(tmp_path / "next"),), size=1, seconds=0.5) == "seconds"
        assert pool.running == 0
    finally:
        pool.close()
