"""What a hostile tenant costs the others: issue 13's cases replayed under a light background load.

    .venv/bin/python -m benchmarks.abuse [--rate 5] [--case-seconds 20] [--no-redis]

Starts the gateway on loopback (shipped envoy.yaml, two service processes,
the fake provider; free ports) with two tenants: `victim` sends a small chat
request at a fixed rate the whole time, `attacker` replays each hostile case
of issue 13 in turn. For each case it prints the victim's p50/p99 latency
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
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from extproc.catalog import iter_routes
from extproc.config import DEFAULT_CONFIG
from extproc.keys import FileKeyStore, RedisKeyStore, generate_key, new_record
from extproc.launcher import Stack, StackOptions
from extproc.settings import tenancy_metadata

VICTIM_KEY, ATTACKER_KEY = generate_key(), generate_key()
CHAT = "/v1/chat/completions"
VICTIM_BODY = {"model": "fast", "max_tokens": 8, "messages": [{"role": "user", "content": "ping"}]}
PII_TEXT = "call 212-736-5000 mail a.b@example.com card 4111 1111 1111 1111 "
ATTACKER_BUDGET_USD = 0.0005
LEAKY_HEADERS = {"OpenAI-Organization": "org-operator", "OpenAI-Project": "proj-operator",
                 "anthropic-beta": "context-1m-2025-08-07", "Cookie": "session=1", "Proxy-Authorization": "Basic eDp5"}  # fmt: skip


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


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
    """The victim's light load: one request every 1/rate seconds on a thread of its own, each timed."""

    def __init__(self, port: int, rate: float) -> None:
        self._port, self._interval = port, 1.0 / rate
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="victim", daemon=True)

    def __enter__(self) -> Background:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def since(self, start: float) -> list[Sample]:
        """The samples that started at or after `start` (monotonic)."""
        return [s for s in list(self.samples) if s.started >= start]

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self._port}", timeout=30, headers=_auth(VICTIM_KEY)) as client:
            pending: set[asyncio.Task[None]] = set()
            while not self._stop.is_set():
                task = asyncio.create_task(self._one(client))
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(self._interval)  # open loop: a slow answer does not slow the load
            await asyncio.gather(*pending, return_exceptions=True)

    async def _one(self, client: httpx.AsyncClient) -> None:
        started = time.monotonic()
        try:
            status = (await client.post(CHAT, json=VICTIM_BODY)).status_code
        except httpx.HTTPError:
            status = 0
        self.samples.append(Sample(started, time.monotonic() - started, status))


# --- the cases: each returns what the attacker achieved -----------------------------------------


def _post_many(stack: Stack, jobs: list[tuple[str, Any, dict[str, str]]], timeout: float) -> list[httpx.Response | None]:
    def one(job: tuple[str, Any, dict[str, str]]) -> httpx.Response | None:
        path, body, headers = job
        try:
            content = body if isinstance(body, bytes) else None
            return httpx.post(f"http://127.0.0.1:{stack.port}{path}", json=None if content else body, content=content,
                              headers={"content-type": "application/json", **headers}, timeout=timeout)  # fmt: skip
        except httpx.HTTPError:
            return None

    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        return list(pool.map(one, jobs))


def _statuses(replies: list[httpx.Response | None]) -> str:
    counts: dict[str, int] = {}
    for reply in replies:
        key = str(reply.status_code) if reply is not None else "timeout"
        counts[key] = counts.get(key, 0) + 1
    return " ".join(f"{n}x{status}" for status, n in sorted(counts.items()))


def _provider_got(stack: Stack, marker: str) -> list[dict[str, Any]]:
    entries = httpx.get(f"http://127.0.0.1:{stack.fake_provider_port}/_fake/requests", timeout=10).json()["requests"]
    return [r for r in entries if marker in str(r.get("body"))]


def case_pii_flood(stack: Stack, deadline: float) -> str:
    """Four 3.5 MB bodies of phone numbers, e-mails and card numbers at once (issue 13, case 1), and,
    while the service works on them, requests with no key or a made-up one, any model, n=128, on
    every path (case 2)."""
    body = orjson_bytes({"model": "fast", "max_tokens": 8, "messages": [{"role": "user", "content": PII_TEXT * 55000}]})
    marker = f"keyless-{uuid.uuid4()}"
    keyless = {"model": "llama-3.1-8b", "n": 128, "max_tokens": 8, "input": marker, "messages": [{"role": "user", "content": marker}]}
    paths = [CHAT, "/v1/messages", "/v1/embeddings", "/local/v1/chat/completions"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        flood = pool.submit(_post_many, stack, [(CHAT, body, _auth(ATTACKER_KEY))] * 4, deadline)
        time.sleep(2)
        strays = _post_many(stack, [(p, keyless, h) for p in paths for h in ({}, {"authorization": "Bearer sk-x"})], deadline)
        replies = flood.result()
    reached = len(_provider_got(stack, marker))
    return f"attacker: {_statuses(replies)}; keyless meanwhile: {_statuses(strays)}, reached a provider: {reached}"


def case_budget(stack: Stack, deadline: float) -> str:
    """50 concurrent requests of 1.5 s against a tiny daily budget (case 3)."""
    body = {"model": "fast", "max_tokens": 64, "messages": [{"role": "user", "content": "write a short poem"}]}
    replies = _post_many(stack, [(CHAT, body, {**_auth(ATTACKER_KEY), "x-fake-latency-ms": "1500"})] * 50, timeout=deadline)
    spent = sum(float(r.headers.get("x-gateway-cost-usd", 0)) for r in replies if r is not None and r.status_code == 200)
    return f"{_statuses(replies)}; spent ${spent:.6f} of ${ATTACKER_BUDGET_USD} ({spent / ATTACKER_BUDGET_USD:.1f}x)"


def case_headers(stack: Stack, deadline: float) -> str:
    """The operator's organisation, betas, cookies from the client (case 4)."""
    marker = f"headers-{uuid.uuid4()}"
    jobs = [(CHAT, {"model": m, "max_tokens": 8, "messages": [{"role": "user", "content": marker}]}, {**_auth(ATTACKER_KEY), **LEAKY_HEADERS})
            for m in ("fast", "smart", "claude")]  # fmt: skip
    replies = _post_many(stack, jobs, timeout=deadline)
    leaked = sorted({h for r in _provider_got(stack, marker) for h in LEAKY_HEADERS if h.lower() in r["headers"]})
    return f"{_statuses(replies)}; headers that reached the provider: {', '.join(leaked) or 'none'}"


def case_unmasked_fields(stack: Stack, deadline: float) -> str:
    """PII in fields the provider reads beside `content`, and detection evasions (case 5)."""
    email = "victim.person@example.com"
    evasions = {
        "user": {"user": email},
        "name": {"messages": [{"role": "user", "name": email, "content": "hi"}]},
        "stop": {"stop": [email]},
        "prediction": {"prediction": {"type": "content", "content": email}},
        "zero-width": {"messages": [{"role": "user", "content": "victim.per\u200bson@example.com"}]},
        "full-width": {"messages": [{"role": "user", "content": "ｖｉｃｔｉｍ@example.com"}]},
        "split parts": {"messages": [{"role": "user", "content": [{"type": "text", "text": "victim.person@exa"},
                                                                  {"type": "text", "text": "mple.com"}]}]},
    }  # fmt: skip
    leaked = []
    for name, extra in evasions.items():
        marker = f"fields-{uuid.uuid4()}"
        body = {"model": "fast", "max_tokens": 8, "messages": [{"role": "user", "content": marker}], **extra}
        if "messages" in extra:
            body["messages"] = [*extra["messages"], {"role": "user", "content": marker}]
        _post_many(stack, [(CHAT, body, _auth(ATTACKER_KEY))], timeout=deadline)
        sent = " ".join(str(r.get("body")) for r in _provider_got(stack, marker))
        if any(v in sent for v in (email, "victim.per\u200bson", "ｖｉｃｔｉｍ", "victim.person@exa")):
            leaked.append(name)
    return f"reached the provider unmasked: {', '.join(leaked) or 'none'} (of {len(evasions)})"


def case_huge_model_name(stack: Stack, deadline: float) -> str:
    """A 3.9 MB model name, eight at once (case 6)."""
    body = orjson_bytes({"model": "m" * 3_900_000, "messages": [{"role": "user", "content": "hi"}]})
    replies = _post_many(stack, [(CHAT, body, _auth(ATTACKER_KEY))] * 8, timeout=deadline)
    longest = max((len(r.content) for r in replies if r is not None), default=0)
    log = stack.log_path("envoy")
    line = max((len(x) for x in log.read_text(errors="replace").splitlines()), default=0) if log.exists() else 0
    return f"{_statuses(replies)}; longest reply {longest:,} B, longest access-log line {line:,} B"


def case_reset_stream(stack: Stack, deadline: float) -> str:
    """A provider that resets each stream of the per-attempt route (case 8)."""
    marker = f"reset-{uuid.uuid4()}"
    body = {"model": "smart", "stream": True, "messages": [{"role": "user", "content": marker}]}
    replies = _post_many(stack, [(CHAT, body, {**_auth(ATTACKER_KEY), "x-fake-reset-after-chunks": "2"})], timeout=deadline)
    reply = replies[0]
    charged = reply.headers.get("x-gateway-cost-usd", "none") if reply is not None else "none"
    return f"{_statuses(replies)}; provider attempts: {len(_provider_got(stack, marker))}; charged: {charged}"


def case_embeddings(stack: Stack, deadline: float) -> str:
    """2,048 embeddings inputs, as the OpenAI SDK sends them (base64), four at once (case 9)."""
    body = {"model": "embed", "input": [f"sentence {i}" for i in range(2048)], "encoding_format": "base64"}
    replies = _post_many(stack, [("/v1/embeddings", body, _auth(ATTACKER_KEY))] * 4, timeout=deadline)
    sizes = {len(r.content) for r in replies if r is not None}
    return f"{_statuses(replies)}; answer {max(sizes, default=0) / 2**20:.1f} MiB"


def case_cache_rate(stack: Stack, deadline: float) -> str:
    """The same cached request (smart caches) 100 times, with a limit of 30 requests a minute (also by design)."""
    body = {"model": "smart", "max_tokens": 8, "temperature": 0, "messages": [{"role": "user", "content": "cached?"}]}
    replies = _post_many(stack, [(CHAT, body, _auth(ATTACKER_KEY))] * 100, timeout=deadline)
    hits = sum(1 for r in replies if r is not None and r.headers.get("x-gateway-cache") == "hit")
    return f"{_statuses(replies)}; cache hits: {hits} (limit: 30/min)"


def case_slow_headers(stack: Stack, deadline: float) -> str:
    """200 connections sending their request head one byte a second (also by design)."""
    sockets = []
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", stack.port), timeout=5)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n")
        sockets.append(sock)
    closed, end = 0, time.monotonic() + min(deadline, 20)
    while time.monotonic() < end and closed < len(sockets):
        closed = 0
        for sock in sockets:
            try:
                sock.sendall(b"X")
            except OSError:
                closed += 1
        time.sleep(1)
    for sock in sockets:
        sock.close()
    return f"closed by Envoy within {min(deadline, 20):.0f} s: {closed} of {len(sockets)}"


def case_metrics(stack: Stack, deadline: float) -> str:
    """GET /metrics from the gateway's host with a tenant's key (also by design)."""
    reply = httpx.get(f"http://127.0.0.1:{stack.port}/metrics", headers=_auth(ATTACKER_KEY), timeout=deadline)
    return f"{reply.status_code}; lists the victim: {'victim' in reply.text}"


CASES: list[tuple[str, Callable[[Stack, float], str]]] = [
    ("PII flood (4 x 3.5 MB) + keyless", case_pii_flood),
    ("budget overshoot (50 concurrent)", case_budget),
    ("client headers to the provider", case_headers),
    ("unmasked fields and evasions", case_unmasked_fields),
    ("3.9 MB model name (8 at once)", case_huge_model_name),
    ("reset stream on smart", case_reset_stream),
    ("2,048 embeddings inputs (4 at once)", case_embeddings),
    ("cache hits vs request limit", case_cache_rate),
    ("200 slow-header connections", case_slow_headers),
    ("/metrics with a tenant key", case_metrics),
]


def case_revoked_during_redis_hang(stack: Stack, redis_url: str, attacker_key_id: str, deadline: float) -> str:
    """A key revoked just before Redis hangs (case 7): how many requests does it still get through?"""
    import redis as redis_sync  # noqa: PLC0415

    client = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    asyncio.run(_revoke(redis_url, attacker_key_id))
    client.execute_command("CLIENT", "PAUSE", str(int(min(deadline, 20) * 1000)), "ALL")
    served, end = 0, time.monotonic() + min(deadline, 20)
    total = 0
    while time.monotonic() < end:
        replies = _post_many(stack, [(CHAT, VICTIM_BODY, _auth(ATTACKER_KEY))], timeout=5)
        total += 1
        served += sum(1 for r in replies if r is not None and r.status_code == 200)
        time.sleep(0.5)
    client.close()
    return f"revoked key served {served} of {total} during a {min(deadline, 20):.0f} s Redis hang"


async def _revoke(url: str, key_id: str) -> None:
    import redis.asyncio  # noqa: PLC0415

    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    await RedisKeyStore(client).revoke(key_id)
    await client.aclose()


# --- the run ------------------------------------------------------------------------------------


def orjson_bytes(value: Any) -> bytes:
    """A request body, encoded once (3.5 MB bodies are sent several times)."""
    import orjson  # noqa: PLC0415

    return orjson.dumps(value)


def _config(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    meta = tenancy_metadata(config)
    meta["tenants"] = {"attacker": {"budget": {"usd_per_day": ATTACKER_BUDGET_USD}, "per_key": {"requests_per_minute": 30}}}
    meta.update(extra or {})
    for route in iter_routes(config):  # only smart caches: the victim's pings on fast must reach the provider
        route_meta = ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway") or {}
        if route_meta.get("model") == "gpt-4o":
            route_meta["cache"] = {"mode": "exact"}
    return config


@contextmanager
def _stack(tmp: Path, config: dict[str, Any], keys_file: Path | None, workers: int) -> Iterator[Stack]:
    source = tmp / "source.yaml"
    source.write_text(yaml.safe_dump(config, sort_keys=False))
    options = StackOptions(config_path=source, port=0, admin_port=0, workers=workers, service_port=0,
                           fake_provider_port=0, run_dir=tmp, capture_logs=True, keys_file=keys_file)  # fmt: skip
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
    asyncio.run(store.add(new_record(VICTIM_KEY, "victim")))
    asyncio.run(store.add(new_record(ATTACKER_KEY, "attacker")))
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
    from tests.redis_server import redis_server  # noqa: PLC0415 - the test suite's real-Redis launcher

    with redis_server(tmp) as url:
        attacker = new_record(ATTACKER_KEY, "attacker")

        async def add() -> None:
            import redis.asyncio  # noqa: PLC0415

            client = redis.asyncio.Redis.from_url(url, decode_responses=True)
            await RedisKeyStore(client).add(new_record(VICTIM_KEY, "victim"))
            await RedisKeyStore(client).add(attacker)
            await client.aclose()

        asyncio.run(add())
        config = _config({"store": {"kind": "redis", "redis_url": url, "on_error": "allow"}})
        with _stack(tmp / "gateway-redis", config, None, args.workers) as stack, Background(stack.port, args.rate) as victim:
            for _ in range(3):  # the key is known (and cached) before it is revoked
                httpx.post(f"http://127.0.0.1:{stack.port}{CHAT}", json=VICTIM_BODY, headers=_auth(ATTACKER_KEY), timeout=10)
            name = "revoked key, Redis hung (Redis stack)"
            return _measure(victim, name, lambda: case_revoked_during_redis_hang(stack, url, attacker.key_id, args.case_seconds),
                            args.settle_seconds)  # fmt: skip


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
        import shutil  # noqa: PLC0415

        args.redis = shutil.which("redis-server") is not None
    print(table(run(args)))


if __name__ == "__main__":
    main()
