"""What the privacy policy costs a request, for 1 KB, 8 KB and 64 KB prompts, through real Envoy.

    .venv/bin/python -m benchmarks.redaction_cost [--requests 100] [--workers 1]

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
import statistics
import tempfile
import time
from pathlib import Path

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
from extproc.keys import FileKeyStore, new_record
from extproc.launcher import free_port
from extproc.redaction.detector import Detector
from extproc.redaction.entities import ENTITIES

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="requests per gateway and prompt size")
    parser.add_argument("--workers", type=int, default=1, help="service processes per gateway")
    parser.add_argument("--unix-sockets", action="store_true")
    parser.add_argument("--envoy-concurrency", type=int, default=1)
    args = parser.parse_args()
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
