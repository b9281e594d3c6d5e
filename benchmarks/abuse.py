"""What a hostile tenant costs the others: issue 13's cases replayed under a light background load.

    .venv/bin/python -m benchmarks.abuse [--rate 5] [--case-seconds 20] [--no-redis]

Starts the gateway on loopback (shipped envoy.yaml, two service processes,
the fake provider; free ports) with tenants: `victim` sends a small chat
request at a fixed rate the whole time, `attacker` (and `spender`, `cacher`
for the cases that exhaust a limit) replays each hostile case of issue 13 in
turn (`benchmarks/abuse_cases.py`). For each case it prints the victim's p50/p99 latency
and errors while the case ran, beside a quiet baseline measured in the same
run, and what the case achieved (a leak, an overshoot, a refusal...). The
revocation case runs on a second stack with a real Redis when
`redis-server` is installed.

Bounded: every attacker request has a timeout, every case a deadline, and a
case that leaves the service unable to answer is followed by a wait for
recovery (at most --recovery-seconds) and, past it, a restart of the service
processes, which the table reports. Envoy's per-IP bucket is switched off
through its runtime: both tenants come from 127.0.0.1, and the bucket would
make any flood look like the victim's problem.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import queue
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG, iter_routes
from extproc.ops.launcher import Stack, StackOptions
from extproc.tenancy.keys import FileKeyStore, RedisKeyStore, new_record
from extproc.tenancy.settings import STORE_PATH_ENV, tenancy_metadata

from .abuse_cases import (
    ATTACKER_BUDGET_USD,
    ATTACKER_KEY,
    CACHER_KEY,
    CASES,
    CHAT,
    SPENDER_KEY,
    VICTIM_BODY,
    VICTIM_KEY,
    case_revoked_during_redis_hang,
    redis_call,
)
from .abuse_cases import auth as _auth


@dataclass
class Sample:
    """One victim request: when it started, how long it took, what it got."""

    started: float
    seconds: float
    status: int


@dataclass
class Row:
    """One case: the victim's figures while it ran, and what the attacker achieved."""

    case: str
    samples: list[Sample] = field(default_factory=list)
    outcome: str = ""

    def figures(self) -> tuple[int, float, float, int]:
        """Victim requests, p50 and p99 in ms, errors."""
        times = sorted(s.seconds * 1000 for s in self.samples)
        if not times:
            return 0, 0.0, 0.0, 0
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        return len(times), statistics.median(times), p99, sum(1 for s in self.samples if s.status != 200)


class Background:
    """The victim's light load: one request every 1/rate seconds, each timed, from a process of its own.

    The key is passed in: the spawned process imports abuse_cases afresh, which makes new keys.
    A process, not a thread: the attacking cases run their requests on threads of this process,
    and their GIL time (100 clients at once, 3.5 MB bodies encoded) would otherwise show up as
    the victim's latency. CLOCK_MONOTONIC is system-wide, so the times compare across processes.
    """

    def __init__(self, port: int, rate: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._queue: multiprocessing.Queue[tuple[float, float, int] | None] = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(target=_victim, args=(port, VICTIM_KEY, 1.0 / rate, self._queue, self._stop), name="victim", daemon=True)
        self.samples: list[Sample] = []

    def __enter__(self) -> Background:
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._drain(until_done=True)
        self._process.join(60)

    def since(self, start: float) -> list[Sample]:
        """The samples that started at or after `start` (monotonic)."""
        self._drain()
        return [s for s in self.samples if s.started >= start]

    def _drain(self, until_done: bool = False) -> None:
        while True:
            try:
                item = self._queue.get(timeout=60 if until_done else 0.05)
            except queue.Empty:
                return
            if item is None:
                return
            self.samples.append(Sample(*item))


def _victim(port: int, key: str, interval: float, samples: multiprocessing.Queue[tuple[float, float, int] | None], stop: Any) -> None:
    asyncio.run(_victim_loop(port, key, interval, samples, stop))
    samples.put(None)


async def _victim_loop(port: int, key: str, interval: float, samples: multiprocessing.Queue[tuple[float, float, int] | None], stop: Any) -> None:
    async def one(client: httpx.AsyncClient) -> None:
        started = time.monotonic()
        try:
            status = (await client.post(CHAT, json=VICTIM_BODY)).status_code
        except httpx.HTTPError:
            status = 0
        samples.put((started, time.monotonic() - started, status))

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=_auth(key)) as client:
        pending: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            task = asyncio.create_task(one(client))
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(interval)  # open loop: a slow answer does not slow the load
        await asyncio.gather(*pending, return_exceptions=True)


# --- the run ------------------------------------------------------------------------------------


def _config(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    meta = tenancy_metadata(config)
    meta["tenants"] = {"spender": {"budget": {"usd_per_day": ATTACKER_BUDGET_USD}},
                       "cacher": {"per_key": {"requests_per_minute": 30}}}  # fmt: skip
    meta.update(extra or {})
    for route in iter_routes(config):  # only smart caches: the victim's pings on fast must reach the provider
        route_meta = ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway") or {}
        if route_meta.get("model") == "gpt-4o":
            route_meta["cache"] = {"mode": "exact"}
    return config


@contextmanager
def _stack(tmp: Path, config: dict[str, Any], keys_file: Path | None, workers: int) -> Iterator[Stack]:
    tmp.mkdir(parents=True, exist_ok=True)
    source = tmp / "source.yaml"
    source.write_text(yaml.safe_dump(config, sort_keys=False))
    # A fresh embedded store in the run's directory, never the working directory's var/.
    options = StackOptions(config_path=source, port=0, admin_port=0, workers=workers, service_port=0,
                           fake_provider_port=0, run_dir=tmp, capture_logs=True, keys_file=keys_file,
                           extra_env={STORE_PATH_ENV: str(tmp / "limits.sqlite3")})  # fmt: skip
    stack = Stack(options).start()
    try:
        httpx.post(f"{stack.admin_url}/runtime_modify?llm_gateway.per_ip_rate_limit.enabled=0", timeout=10)
        yield stack
    finally:
        stack.stop()


def _recover(stack: Stack, seconds: float) -> str:
    """Wait until the victim is served again; past `seconds`, restart the service processes."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if httpx.post(f"http://127.0.0.1:{stack.port}{CHAT}", json=VICTIM_BODY, headers=_auth(VICTIM_KEY), timeout=5).status_code == 200:
                return ""
        except httpx.HTTPError:
            pass
        time.sleep(1)
    for index in range(len(stack.services)):
        stack.kill_service(index)
        stack.start_service(index)
        stack.wait_service_healthy(index)
    return f" [service unresponsive {seconds:.0f} s after the case: restarted]"


def _measure(background: Background, name: str, action: Callable[[], str], settle: float) -> Row:
    start = time.monotonic()
    outcome = action()
    time.sleep(settle)  # the victim's requests in flight when the case ended count too
    return Row(name, background.since(start), outcome)


def run(args: argparse.Namespace) -> list[Row]:
    """Every case against one stack (and the revocation case against a Redis one); the rows."""
    tmp = Path(tempfile.mkdtemp(prefix="llm-gateway-abuse-"))
    keys_file = tmp / "keys.json"
    store = FileKeyStore(keys_file)
    for key, tenant in ((VICTIM_KEY, "victim"), (ATTACKER_KEY, "attacker"), (SPENDER_KEY, "spender"), (CACHER_KEY, "cacher")):
        asyncio.run(store.add(new_record(key, tenant)))
    rows: list[Row] = []
    with _stack(tmp / "gateway", _config(), keys_file, args.workers) as stack, Background(stack.port, args.rate) as victim:
        rows.append(_measure(victim, "baseline (victim alone)", lambda: (time.sleep(args.case_seconds), "")[1], 0))
        for name, case in CASES:
            print(f"... {name}", flush=True)
            row = _measure(victim, name, lambda case=case: case(stack, args.case_seconds), args.settle_seconds)
            row.outcome += _recover(stack, args.recovery_seconds)
            rows.append(row)
        rows.append(_measure(victim, "baseline again", lambda: (time.sleep(args.case_seconds), "")[1], 0))
    if args.redis:
        rows.append(_redis_case(tmp, args))
    return rows


def _redis_case(tmp: Path, args: argparse.Namespace) -> Row:
    from tests.support.redis_server import redis_server  # the test suite's real-Redis launcher

    with redis_server(tmp) as url:
        attacker = new_record(ATTACKER_KEY, "attacker")
        for record in (new_record(VICTIM_KEY, "victim"), attacker):
            asyncio.run(redis_call(url, lambda client, record=record: RedisKeyStore(client).add(record)))
        config = _config({"store": {"kind": "redis", "redis_url": url, "on_error": "allow"}})
        with _stack(tmp / "gateway-redis", config, None, args.workers) as stack, Background(stack.port, args.rate) as victim:
            for _ in range(3):  # the key is known (and cached) before it is revoked
                httpx.post(f"http://127.0.0.1:{stack.port}{CHAT}", json=VICTIM_BODY, headers=_auth(ATTACKER_KEY), timeout=10)
            case = lambda: case_revoked_during_redis_hang(stack, url, attacker.id, args.case_seconds)  # noqa: E731
            return _measure(victim, "revoked key, Redis hung (Redis stack)", case, args.settle_seconds)


def table(rows: list[Row]) -> str:
    """The rows as a fixed-width table."""
    lines = [f"{'case':38} {'victim n':>8} {'p50 ms':>8} {'p99 ms':>9} {'errors':>6}  outcome", "-" * 120]
    for row in rows:
        n, p50, p99, errors = row.figures()
        lines.append(f"{row.case:38} {n:8d} {p50:8.1f} {p99:9.1f} {errors:6d}  {row.outcome}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5.0, help="victim requests per second")
    parser.add_argument("--workers", type=int, default=2, help="service processes (llm-gateway up's default)")
    parser.add_argument("--case-seconds", type=float, default=30.0, help="timeout of each attacker request, and the baseline's length")
    parser.add_argument("--settle-seconds", type=float, default=2.0, help="victim time counted after each case")
    parser.add_argument("--recovery-seconds", type=float, default=60.0, help="wait for the service after a case before restarting it")
    parser.add_argument("--no-redis", dest="redis", action="store_false", help="skip the revocation case (needs redis-server)")
    args = parser.parse_args()
    if args.redis:
        import shutil

        args.redis = shutil.which("redis-server") is not None
    print(table(run(args)))


if __name__ == "__main__":
    main()
