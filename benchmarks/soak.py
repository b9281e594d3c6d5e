"""A soak: the gateway at a steady rate for minutes, counting errors and watching the service's memory.

    .venv/bin/python -m benchmarks.soak [--minutes 5] [--rate 40]

The shipped envoy.yaml on the fake provider, two service processes, an open
loop (one request every 1/rate s whatever the answers do) over a mix a real
deployment sees: buffered and streamed answers, OpenAI and Anthropic clients,
translated providers, and a fallback chain whose first level fails 10% of the
time. Memory is each service process's resident set, sampled every 10 s; the
growth is measured from the end of a warm-up (caches filled) to the end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from extproc.config.envoy_yaml import DEFAULT_CONFIG
from extproc.ops.launcher import Stack, StackOptions

# (path, body, headers): what one request of the mix sends.
MIX: list[tuple[str, dict[str, object], dict[str, str]]] = [
    ("/v1/chat/completions", {"model": "fast", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}, {}),
    (
        "/v1/chat/completions",
        {"model": "claude", "stream": True, "max_tokens": 32, "messages": [{"role": "user", "content": "stream"}]},
        {},
    ),
    (
        "/v1/messages",
        {"model": "smart", "max_tokens": 32, "messages": [{"role": "user", "content": "anthropic client"}]},
        {"anthropic-version": "2023-06-01"},
    ),
    (
        "/v1/chat/completions",
        {"model": "reliable", "max_tokens": 32, "messages": [{"role": "user", "content": "chain"}]},
        {"x-fake-fail-rate": "0.1", "x-fake-fault-models": "llama-3.1-8b"},
    ),
    ("/v1/embeddings", {"model": "embed", "input": ["soak one", "soak two"]}, {}),
    (
        "/v1/chat/completions",
        {"model": "gemini", "stream": True, "max_tokens": 32, "messages": [{"role": "user", "content": "gemini"}]},
        {},
    ),
]


@dataclass
class Soak:
    """What a soak saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    rss_mb: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=40, help="requests per second")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before memory counts")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="llm-gateway-soak-"))
    options = StackOptions(
        config_path=DEFAULT_CONFIG, port=0, admin_port=0, workers=args.workers, service_port=0,
        fake_provider_port=0, run_dir=run_dir, capture_logs=True,
    )  # fmt: skip
    with Stack(options) as stack:
        # One client address sends everything: the per-IP bucket would refuse most of it.
        httpx.post(f"{stack.admin_url}/runtime_modify?llm_gateway.per_ip_rate_limit.enabled=0").raise_for_status()
        soak = asyncio.run(_soak(stack, args.rate, args.minutes * 60, args.warmup))
    print(report(soak, args, run_dir))


async def _soak(stack: Stack, rate: int, seconds: float, warmup: float) -> Soak:
    soak = Soak()
    pids = {name: pid for name, pid in stack.children().items() if name.startswith("service-") or name == "envoy"}
    sampler = asyncio.create_task(_sample_memory(pids, soak))
    mix = itertools.cycle(MIX)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.port}", limits=limits, timeout=60) as client:

        async def one(path: str, body: dict[str, object], headers: dict[str, str]) -> None:
            started = time.perf_counter()
            measured = started - start >= warmup  # warm-up answers fill caches; they are not timed
            try:
                async with client.stream("POST", path, json=body, headers=headers) as response:
                    async for _ in response.aiter_raw():
                        pass
                soak.statuses[response.status_code] += 1
            except httpx.HTTPError:
                soak.statuses[0] += 1  # the connection broke: an error the client saw
                return
            if measured:
                soak.latencies_ms.append((time.perf_counter() - started) * 1000)

        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        total = int(rate * (seconds + warmup))
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(*next(mix))))
            if len(tasks) > 4 * rate:
                done = [t for t in tasks if t.done()]
                tasks = [t for t in tasks if not t.done()]
                await asyncio.gather(*done)
        await asyncio.gather(*tasks)
    sampler.cancel()
    return soak


async def _sample_memory(pids: dict[str, int], soak: Soak) -> None:
    start = time.monotonic()
    while True:
        for name, pid in pids.items():
            soak.rss_mb.setdefault(name, []).append((time.monotonic() - start, _rss_mb(pid)))
        await asyncio.sleep(10)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def report(soak: Soak, args: argparse.Namespace, run_dir: Path) -> str:
    """The soak's figures as a markdown table."""
    lat = sorted(soak.latencies_ms)
    errors = sum(n for status, n in soak.statuses.items() if status != 200)
    lines = [
        f"Soak: {args.minutes:g} min at {args.rate} req/s after {args.warmup:g} s of warm-up, "
        f"{args.workers} service processes (logs in {run_dir})",
        "",
        f"- requests: {sum(soak.statuses.values())}, errors: {errors} ({dict(soak.statuses)})",
        f"- latency p50 {statistics.median(lat):.1f} ms, p99 {lat[int(len(lat) * 0.99) - 1]:.1f} ms",
        "",
        "| process | RSS after warm-up (MB) | RSS at end (MB) | growth |",
        "|---|---|---|---|",
    ]
    for name, samples in sorted(soak.rss_mb.items()):
        after = [mb for t, mb in samples if t >= args.warmup]
        first, last = (after[0], after[-1]) if after else (samples[0][1], samples[-1][1])
        lines.append(f"| {name} | {first:.1f} | {last:.1f} | {100 * (last - first) / first:+.1f}% |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
