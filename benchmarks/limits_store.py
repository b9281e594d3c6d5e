"""What a request's limits cost in each store: one take (3 buckets and a budget hold) and one settle.

    .venv/bin/python -m benchmarks.limits_store [--requests 3000] [--concurrency 1,8]

One request's admission and settlement, as the limits stage does them, timed
in one process against the in-process store (the baseline), the SQLite store
(one file; the embedded default) and a real Redis on loopback. Each store serves `--requests` requests, one at a time
(the cost of one request) and then several at a time (what a request waits for
the others: the SQLite store runs one transaction at a time per process); the
SQLite store is also measured with a second process doing the same on the
same file meanwhile (two service processes on one host). Compare ratios within one run: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio

from extproc.tenancy.limits import (
    REQUESTS,
    TOKENS,
    Bucket,
    Charge,
    Hold,
    Limits,
    MemoryLimits,
    RedisLimits,
    SqliteLimits,
    bucket_key,
)

# Large enough that nothing is refused: the figure is the store's work, not a refusal.
_BUCKETS = [
    Bucket(bucket_key("tenant", "bench", "all", REQUESTS), 1e9, REQUESTS, "tenant"),
    Bucket(bucket_key("tenant", "bench", "all", TOKENS), 1e12, TOKENS, "tenant"),
    Bucket(bucket_key("key", "bench", "key_1", REQUESTS), 1e9, REQUESTS, "key"),
]
_HOLD = Hold("bench", usd=0.001, per_day=1e9, per_month=1e9)


async def one_request(store: Limits) -> float:
    """Seconds for one take and its settle."""
    started = time.perf_counter()
    admission = await store.take([(_BUCKETS[0], 1), (_BUCKETS[1], 1100), (_BUCKETS[2], 1)], _HOLD)
    assert admission.admitted
    await store.settle([(_BUCKETS[1], 1000)], Charge("bench", 0.0001, admission.hold_id))
    return time.perf_counter() - started


async def measure(store: Limits, requests: int, concurrency: int) -> list[float]:
    """Per-request seconds for `requests` requests, `concurrency` in flight at once."""
    gate = asyncio.Semaphore(concurrency)

    async def gated() -> float:
        async with gate:
            return await one_request(store)

    for _ in range(50):  # warm up: connections, schema, scripts loaded
        await one_request(store)
    return list(await asyncio.gather(*(gated() for _ in range(requests))))


def summary(name: str, seconds: list[float], baseline: float | None) -> str:
    """A table row: p50 and p99 in microseconds, and p50 against the baseline's."""
    ordered = sorted(seconds)
    p50 = statistics.median(ordered) * 1e6
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1e6
    ratio = f"{p50 / baseline:.1f}x" if baseline else "1.0x"
    return f"| {name} | {p50:,.0f} | {p99:,.0f} | {ratio} |"


async def run(args: argparse.Namespace, tmp: Path, redis_url: str, concurrency: int) -> list[str]:
    """Every store's row at one concurrency, the in-process store first (the baseline)."""
    rows = []
    memory = await measure(MemoryLimits(), args.requests, concurrency)
    baseline = statistics.median(memory) * 1e6
    rows.append(summary(f"memory (in process), {concurrency} at a time", memory, None))
    path = tmp / f"limits-{concurrency}.sqlite3"
    sqlite = SqliteLimits(path)
    rows.append(summary(f"sqlite, 1 process, {concurrency} at a time", await measure(sqlite, args.requests, concurrency), baseline))
    other = _second_process(path, args.requests * 2, concurrency)
    both = await measure(sqlite, args.requests, concurrency)
    rows.append(summary(f"sqlite, 2 processes on one file, {concurrency} at a time", both, baseline))
    other.wait(300)
    sqlite.close()
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    rows.append(summary(f"redis (loopback), {concurrency} at a time", await measure(RedisLimits(client), args.requests, concurrency), baseline))
    await client.aclose()
    return rows


def _second_process(path: Path, requests: int, concurrency: int) -> subprocess.Popen[bytes]:
    """Another process taking and settling on the same file meanwhile (a second service process)."""
    code = (
        "import asyncio, sys; from benchmarks.limits_store import measure; from extproc.tenancy.limits import SqliteLimits\n"
        f"asyncio.run(measure(SqliteLimits(sys.argv[1]), {requests}, {concurrency}))"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(path)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", default="1,8", help="requests in flight at once, comma-separated runs")
    args = parser.parse_args(argv)
    from tests.support.redis_server import redis_server  # the test suite's real-Redis launcher

    with tempfile.TemporaryDirectory(prefix="limits-bench-") as tmp, redis_server(Path(tmp)) as redis_url:
        rows = ["| store | p50 µs | p99 µs | p50 vs memory |", "|---|---:|---:|---:|"]
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            rows += asyncio.run(run(args, Path(tmp), redis_url, concurrency))
    print(f"{args.requests} requests per row; each a take (3 buckets, a budget hold) and a settle")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
