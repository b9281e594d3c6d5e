"""Where a service process's CPU goes under one of the suite's rows: py-spy on every service process.

    .venv/bin/python -m benchmarks.profile_rows passthrough [--seconds 10] [--out /tmp/profiles]
    .venv/bin/python -m benchmarks.profile_rows full

Starts the row's gateway as `benchmarks/suite.py` does (same config, same fake
provider, Unix sockets, 2 service processes), loads it with the same wrk
script, and runs `py-spy record` (raw, collapsed stacks, `--nonblocking`
so the process is never paused) on each service process meanwhile. It prints
the functions that take the most samples, inclusive and self, in our code
(`extproc/`) and everywhere, and leaves the collapsed stacks in `--out` for
a flame graph (`flamegraph.pl` or speedscope read them).

py-spy comes from the `test` extra (`pip install -e .[test]`).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.harness import BENCH_KEY, NEVER_REFUSING, _benchmark_source, _gateway, _with_tenancy
from benchmarks.suite import Target, _add_redis_key, _config, _gateway_target, _lua, fake_provider
from extproc.tenancy.keys import FileKeyStore, new_record

ROWS = ("passthrough", "full", "exact")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("row", choices=ROWS)
    parser.add_argument("--seconds", type=int, default=10, help="seconds of load and of sampling")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "llm-gateway-profiles")
    args = parser.parse_args()
    args.unix_sockets, args.envoy_concurrency, args.workers, args.connections = True, None, 2, 16
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed: pip install -e .[test]")
    args.out.mkdir(parents=True, exist_ok=True)
    stacks = profile(args, py_spy)
    report(stacks, args.top)


def profile(args: argparse.Namespace, py_spy: str) -> Counter[str]:
    """The row's collapsed stacks, summed over its service processes."""
    tmp = Path(tempfile.mkdtemp(prefix="llm-gateway-profile-"))
    try:
        with fake_provider(tmp) as upstream_port:
            source = _benchmark_source(upstream_port)
            if args.row == "full":
                return _full(source, tmp, args, py_spy)
            keys_file = tmp / "keys.json"
            asyncio.run(FileKeyStore(keys_file).add(new_record(BENCH_KEY, "bench")))
            cache = {"cache": {"mode": "exact"}} if args.row == "exact" else {}
            config = _config(tmp, args.row, _with_tenancy(source, limits={}, privacy={}, **cache))
            with _gateway(config, tmp / args.row, args.workers, keys_file, args) as stack:
                return _load_and_sample(_gateway_target(stack), args, py_spy, unique=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _full(source: dict[str, Any], tmp: Path, args: argparse.Namespace, py_spy: str) -> Counter[str]:
    from tests.support.redis_server import redis_server

    with redis_server(tmp) as url:
        asyncio.run(_add_redis_key(url))
        config = _with_tenancy(
            source, limits=NEVER_REFUSING, store={"kind": "redis", "redis_url": url}, cache={"mode": "exact", "ttl_seconds": 600}
        )
        with _gateway(_config(tmp, "full", config), tmp / "full", args.workers, None, args) as stack:
            return _load_and_sample(_gateway_target(stack), args, py_spy, unique=True)


def _load_and_sample(target: Target, args: argparse.Namespace, py_spy: str, unique: bool) -> Counter[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(target, "Say hello", False, unique))
    wrk = ["wrk", "-t2", f"-c{args.connections}", "-s", script.name]
    subprocess.run([*wrk, "-d2s", target.url], capture_output=True, check=True)  # warm-up
    load = subprocess.Popen([*wrk, f"-d{args.seconds + 2}s", target.url], stdout=subprocess.PIPE, text=True)
    samplers = []
    for pid in target.services:
        out = args.out / f"{args.row}-{pid}.txt"
        command = [py_spy, "record", "-p", str(pid), "-d", str(args.seconds), "-r", str(args.rate), "-f", "raw",
                   "--nonblocking", "-o", str(out)]  # fmt: skip
        samplers.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))
    stacks: Counter[str] = Counter()
    for sampler, out in samplers:
        sampler.wait()
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack:
                stacks[stack] += int(count)
    print(load.communicate()[0])
    return stacks


def report(stacks: Counter[str], top: int) -> None:
    """The functions with the most samples: inclusive (anywhere on the stack) and self (on top)."""
    total = sum(stacks.values()) or 1
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    print(f"{total} samples")
    for title, counter, prefix in (("inclusive, extproc/", inclusive, "extproc/"), ("self, anywhere", own, "")):
        print(f"\n--- {title} ---")
        shown = [(frame, count) for frame, count in counter.most_common() if prefix in frame][:top]
        for frame, count in shown:
            print(f"{count / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
