"""What the privacy policy costs a request, for 1 KB, 8 KB and 64 KB prompts, through real Envoy.

    .venv/bin/python -m benchmarks.redaction_cost [--requests 100] [--workers 1]
    .venv/bin/python -m benchmarks.redaction_cost --scan [--timeout 120]
    .venv/bin/python -m benchmarks.redaction_cost --isolation

`--scan` times detection alone on large texts (128 KB, 512 KB, 3.5 MB): the
issue's hostile body (the same three values again and again), the same shape
with every value different, and ordinary prose. It uses only `Detector.find`
(and `find_all` where it exists), so it also runs against an older checkout
(PYTHONPATH) for a before/after table. `--isolation` measures what four large
scans cost an event loop's I/O round trips when they run on threads of its
process versus in worker processes (see docs/adr/0006-redaction.md).

Two gateways run side by side on the canned upstream of `benchmarks/harness.py`:
one without a privacy policy, one with the shipped policy (mask the prompt,
output guard on the answer). Requests alternate between them one by one, so
both see the same moments of a noisy machine; the figure is the difference of
their latencies. The prompts are text with a sensitive value every ~500 bytes
(from the labelled corpus), and the detector's own time is measured in-process
for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from benchmarks.harness import (  # the harness's own set-up, shared rather than copied
    AUTH,
    BENCH_KEY,
    _benchmark_source,
    _gateway,
    _start_envoy,
    _stop,
    _upstream_config,
    _wait_port,
    _with_tenancy,
)
from benchmarks.pii_eval import load_corpus
from extproc.ops.launcher import free_port
from extproc.redaction.detector import Detector
from extproc.redaction.entities import ENTITIES
from extproc.tenancy.keys import FileKeyStore, new_record

SIZES = (1024, 8192, 65536)


def prompt_of(size: int) -> str:
    """`size` characters of corpus text: hard negatives with a positive text every ~500 bytes."""
    records = load_corpus()
    negatives = [r["text"] for r in records if r["category"] == "hard_negative"]
    positives = [r["text"] for r in records if r["category"] == "positive"]
    parts: list[str] = []
    length, n = 0, 0
    while length < size:
        part = positives[n % len(positives)] if n % 3 == 2 else negatives[n % len(negatives)]
        parts.append(part)
        length += len(part) + 1
        n += 1
    return " ".join(parts)[:size]


async def interleaved(ports: dict[str, int], body: bytes, requests: int) -> dict[str, list[float]]:
    """Latencies (ms) of `requests` calls to each gateway, taking turns."""
    latencies: dict[str, list[float]] = {name: [] for name in ports}
    headers = {**AUTH, "content-type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as client:
        for index in range(requests + 5):
            for name, port in ports.items():
                started = time.perf_counter()
                response = await client.post(f"http://127.0.0.1:{port}/v1/chat/completions", content=body, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {response.status_code}: {response.text[:300]}")
                if index >= 5:  # the first few warm connections and caches up
                    latencies[name].append(elapsed)
    return latencies


def detector_ms(text: str, repeats: int = 30) -> float:
    """The detector's p50 time on `text`, in this process."""
    detector = Detector(ENTITIES)
    detector.find(text)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        detector.find(text)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


SCAN_SIZES = (128 * 1024, 512 * 1024, 3584 * 1024)
ISSUE_PHRASE = "call 212-736-5000 mail a.b@example.com card 4111 1111 1111 1111 "


def distinct_values(size: int, seed: int = 1) -> str:
    """`size` characters shaped like the issue's body, every phone, e-mail and (Luhn-valid) card different."""
    rng = random.Random(seed)
    parts: list[str] = []
    length = index = 0
    while length < size:
        digits = [4] + [rng.randint(0, 9) for _ in range(14)]
        total = sum(d if i % 2 else sum(divmod(d * 2, 10)) for i, d in enumerate(digits))
        card = "".join(map(str, digits)) + str((10 - total % 10) % 10)
        part = (f"call 212-{rng.randint(200, 999)}-{rng.randint(1000, 9999)} mail u{index}.x@example.com "
                f"card {' '.join(card[i:i + 4] for i in range(0, 16, 4))} ")  # fmt: skip
        parts.append(part)
        length += len(part)
        index += 1
    return "".join(parts)[:size]


def scan_table(timeout: float) -> None:
    """Print the detector's time on each large text (one run each; `> timeout` when it was stopped)."""
    try:
        from extproc.redaction.scan import Limits, find_all
    except ImportError:  # an older checkout: whole-text detection only
        find_all = None  # type: ignore[assignment]
    detector = Detector(ENTITIES)
    detector.find("warm up a@example.com 212-736-5000 4111 1111 1111 1111")
    kinds = {
        "issue (repeated values)": lambda size: (ISSUE_PHRASE * (size // len(ISSUE_PHRASE) + 1))[:size],
        "distinct values": distinct_values,
        "prose (value every ~2 KB)": lambda size: prose_of(size),
    }
    print(f"{'text':<28}{'size':>8}{'findings':>10}{'find s':>10}{'chunked s':>11}")
    for kind, make in kinds.items():
        for size in SCAN_SIZES:
            text = make(size)
            whole, findings = _timed(lambda text=text: detector.find(text), timeout)
            chunked = "-"
            if find_all is not None:
                seconds, _ = _timed(lambda text=text: find_all(detector, text, Limits(time.monotonic() + 3600)), timeout)
                chunked = seconds
            print(f"{kind:<28}{size // 1024:>6}KB{findings:>10}{whole:>10}{chunked:>11}", flush=True)


def prose_of(size: int) -> str:
    """Corpus look-alikes (hard negatives) with one text of values per ~2 KB, as `pii_eval --cost` builds."""
    records = load_corpus()
    prose = " ".join(r["text"] for r in records if r["category"] == "hard_negative")
    with_values = " ".join(r["text"] for r in records if r["category"] == "positive")
    parts: list[str] = []
    length = 0
    while length < size:
        part = prose[length % len(prose):][:1800] + " " + with_values[length % len(with_values):][:200] + " "
        parts.append(part)
        length += len(part)
    return "".join(parts)[:size]


def _timed(run: Any, timeout: float) -> tuple[str, str]:
    """(seconds, findings) of `run()`, or ("> timeout", "?") when SIGALRM stopped it."""

    def stop(*_: object) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    started = time.perf_counter()
    try:
        found = run()
        return f"{time.perf_counter() - started:.2f}", str(len(found))
    except TimeoutError:
        return f">{timeout:.0f}", "?"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def isolation_table(seconds: float = 6.0) -> None:
    """An event loop's 20-round-trip bursts over a loopback socket while 4 large scans run beside it."""
    import gc

    from extproc.redaction.pool import ScanPool
    from extproc.redaction.scan import Limits, find_all

    text = distinct_values(512 * 1024)
    detector = Detector(ENTITIES)
    detector.find("a@example.com")
    gc.collect()
    gc.freeze()  # as the service does at start-up
    print(f"{'scans run':<34}{'bursts':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")

    async def measure(label: str, start_scans: Any) -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(100):
                writer.write(data)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        stop = start_scans()
        times = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            for _ in range(20):
                writer.write(b"x")
                await writer.drain()
                await reader.read(100)
            times.append((time.perf_counter() - started) * 1000)
        await stop()
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.1)  # the echo handler reads the end of its stream and returns
        server.close()
        await server.wait_closed()
        times.sort()
        print(f"{label:<34}{len(times):>8}{statistics.median(times):>9.1f}{times[int(0.99 * (len(times) - 1))]:>9.1f}{times[-1]:>9.1f}")

    def nothing() -> Any:
        async def stop() -> None:
            return None

        return stop

    def threads() -> Any:
        done = threading.Event()

        def scan() -> None:
            while not done.is_set():
                find_all(detector, text, Limits(time.monotonic() + 3600))

        workers = [threading.Thread(target=scan, daemon=True) for _ in range(4)]
        for worker in workers:
            worker.start()

        async def stop() -> None:
            done.set()
            for worker in workers:
                await asyncio.to_thread(worker.join)

        return stop

    def processes(pool: ScanPool) -> Any:
        tasks = [asyncio.ensure_future(_scan_forever(pool, text)) for _ in range(4)]

        async def stop() -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        return stop

    async def run_all() -> None:
        await measure("none", nothing)
        await measure("4 on threads of this process", threads)
        pool = ScanPool(processes=1, inline_bytes=0)
        pool.start()
        await pool.run(_ready, (), 1, 60)  # its worker has loaded its detectors
        await measure("4 via 1 worker process (niced)", lambda: processes(pool))
        pool.close()

    asyncio.run(run_all())


async def _scan_forever(pool: Any, text: str) -> None:
    while True:
        await pool.run(_scan_text, (text,), len(text), 3600)


def _scan_text(limits: Any, text: str) -> int:
    from extproc.redaction.detector import detector_for
    from extproc.redaction.scan import find_all

    return len(find_all(detector_for(ENTITIES), text, limits))


def _ready(limits: Any) -> bool:
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan", action="store_true", help="time detection alone on 128 KB, 512 KB and 3.5 MB texts")
    parser.add_argument("--timeout", type=float, default=120, help="--scan: stop a case after this many seconds")
    parser.add_argument("--isolation", action="store_true", help="an event loop's latency beside 4 large scans")
    parser.add_argument("--requests", type=int, default=100, help="requests per gateway and prompt size")
    parser.add_argument("--workers", type=int, default=1, help="service processes per gateway")
    parser.add_argument("--unix-sockets", action="store_true")
    parser.add_argument("--envoy-concurrency", type=int, default=1)
    args = parser.parse_args()
    if args.scan:
        scan_table(args.timeout)
        return
    if args.isolation:
        isolation_table()
        return
    tmp = Path(tempfile.mkdtemp(prefix="llm-gateway-redaction-"))
    upstream_port = free_port()
    upstream = _start_envoy(_upstream_config(upstream_port), tmp / "upstream.yaml", concurrency=1)
    try:
        _wait_port(upstream_port)
        source = _benchmark_source(upstream_port)
        keys_file = tmp / "keys.json"
        asyncio.run(FileKeyStore(keys_file).add(new_record(BENCH_KEY, "bench")))
        off, on = tmp / "off.yaml", tmp / "on.yaml"
        off.write_text(yaml.safe_dump(_with_tenancy(source, limits={}, privacy={}), sort_keys=False))
        on.write_text(yaml.safe_dump(_with_tenancy(source, limits={}), sort_keys=False))
        with _gateway(off, tmp / "off", args.workers, keys_file, args) as plain, _gateway(
            on, tmp / "on", args.workers, keys_file, args
        ) as guarded:
            ports = {"off": plain.port, "on": guarded.port}
            print(f"{'prompt':>7}{'values':>8}{'off p50':>9}{'on p50':>9}{'added p50':>11}{'off p99':>9}{'on p99':>9}"
                  f"{'detector p50':>14}  (ms; {args.requests} requests each, alternating)")  # fmt: skip
            for size in SIZES:
                text = prompt_of(size)
                values = len(Detector(ENTITIES).find(text))
                body = json.dumps({"model": "fast", "max_tokens": 16, "messages": [{"role": "user", "content": text}]}).encode()
                latencies = asyncio.run(interleaved(ports, body, args.requests))
                p50 = {k: statistics.median(v) for k, v in latencies.items()}
                p99 = {k: sorted(v)[int(len(v) * 0.99) - 1] for k, v in latencies.items()}
                print(
                    f"{size // 1024:>5}KB{values:>8}{p50['off']:>9.2f}{p50['on']:>9.2f}{p50['on'] - p50['off']:>11.2f}"
                    f"{p99['off']:>9.2f}{p99['on']:>9.2f}{detector_ms(text):>14.2f}",
                    flush=True,
                )
    finally:
        _stop(upstream)


if __name__ == "__main__":
    main()
