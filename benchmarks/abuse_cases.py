"""The hostile cases of issue 13, each replayed against a running gateway; see benchmarks/abuse.py.

Each case takes the stack and a deadline (the timeout of its requests) and
returns one line on what the attacker achieved.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson

from extproc.ops.launcher import Stack
from extproc.tenancy.keys import RedisKeyStore, generate_key

VICTIM_KEY, ATTACKER_KEY = generate_key(), generate_key()
# Tenants of their own for the cases that exhaust a limit, so that no case spoils the next.
SPENDER_KEY, CACHER_KEY = generate_key(), generate_key()
CHAT = "/v1/chat/completions"
VICTIM_BODY = {"model": "fast", "max_tokens": 8, "messages": [{"role": "user", "content": "ping"}]}
PII_TEXT = "call 212-736-5000 mail a.b@example.com card 4111 1111 1111 1111 "
ATTACKER_BUDGET_USD = 0.0005
LEAKY_HEADERS = {"OpenAI-Organization": "org-operator", "OpenAI-Project": "proj-operator",
                 "anthropic-beta": "context-1m-2025-08-07", "Cookie": "session=1", "Proxy-Authorization": "Basic eDp5"}  # fmt: skip


def auth(key: str) -> dict[str, str]:
    """The header that carries a gateway key."""
    return {"authorization": f"Bearer {key}"}


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
        key = str(reply.status_code) if reply is not None else "no answer"
        counts[key] = counts.get(key, 0) + 1
    return " ".join(f"{n}x{status}" for status, n in sorted(counts.items()))


def _provider_got(stack: Stack, marker: str) -> list[dict[str, Any]]:
    entries = httpx.get(f"http://127.0.0.1:{stack.fake_provider_port}/_fake/requests", timeout=10).json()["requests"]
    return [r for r in entries if marker in str(r.get("body"))]


def case_pii_flood(stack: Stack, deadline: float) -> str:
    """Four 3.5 MB bodies of phone numbers, e-mails and card numbers at once (issue 13, case 1), and,
    while the service works on them, requests with no key or a made-up one, any model, n=128, on
    every path (case 2)."""
    body = orjson.dumps({"model": "fast", "max_tokens": 8, "messages": [{"role": "user", "content": PII_TEXT * 55000}]})
    marker = f"keyless-{uuid.uuid4()}"
    keyless = {"model": "llama-3.1-8b", "n": 128, "max_tokens": 8, "input": marker, "messages": [{"role": "user", "content": marker}]}
    paths = [CHAT, "/v1/messages", "/v1/embeddings", "/local/v1/chat/completions"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        flood = pool.submit(_post_many, stack, [(CHAT, body, auth(ATTACKER_KEY))] * 4, deadline)
        time.sleep(2)
        strays = _post_many(stack, [(p, keyless, h) for p in paths for h in ({}, {"authorization": "Bearer sk-x"})], deadline)
        replies = flood.result()
    reached = len(_provider_got(stack, marker))
    return f"attacker: {_statuses(replies)}; keyless meanwhile: {_statuses(strays)}, reached a provider: {reached}"


def case_budget(stack: Stack, deadline: float) -> str:
    """50 concurrent requests of 1.5 s on gpt-4o against a tiny daily budget (case 3)."""
    body = {"model": "smart", "max_tokens": 64, "messages": [{"role": "user", "content": f"a short poem {uuid.uuid4()}"}]}
    replies = _post_many(stack, [(CHAT, body, {**auth(SPENDER_KEY), "x-fake-latency-ms": "1500"})] * 50, timeout=deadline)
    spent = sum(float(r.headers.get("x-gateway-cost-usd", 0)) for r in replies if r is not None and r.status_code == 200)
    return f"{_statuses(replies)}; spent ${spent:.6f} of ${ATTACKER_BUDGET_USD} ({spent / ATTACKER_BUDGET_USD:.1f}x)"


def case_headers(stack: Stack, deadline: float) -> str:
    """The operator's organisation, betas, cookies from the client (case 4)."""
    marker = f"headers-{uuid.uuid4()}"
    jobs = [(CHAT, {"model": m, "max_tokens": 8, "messages": [{"role": "user", "content": marker}]}, {**auth(ATTACKER_KEY), **LEAKY_HEADERS})
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
        _post_many(stack, [(CHAT, body, auth(ATTACKER_KEY))], timeout=deadline)
        sent = " ".join(str(r.get("body")) for r in _provider_got(stack, marker))
        if any(v in sent for v in (email, "victim.per\u200bson", "ｖｉｃｔｉｍ", "victim.person@exa")):
            leaked.append(name)
    return f"reached the provider unmasked: {', '.join(leaked) or 'none'} (of {len(evasions)})"


def case_huge_model_name(stack: Stack, deadline: float) -> str:
    """A 3.9 MB model name, eight at once (case 6)."""
    body = orjson.dumps({"model": "m" * 3_900_000, "messages": [{"role": "user", "content": "hi"}]})
    replies = _post_many(stack, [(CHAT, body, auth(ATTACKER_KEY))] * 8, timeout=deadline)
    longest = max((len(r.content) for r in replies if r is not None), default=0)
    log = stack.log_path("envoy")
    line = max((len(x) for x in log.read_text(errors="replace").splitlines()), default=0) if log.exists() else 0
    return f"{_statuses(replies)}; longest reply {longest:,} B, longest access-log line {line:,} B"


def case_reset_stream(stack: Stack, deadline: float) -> str:
    """A provider that resets each stream of the per-attempt route (case 8)."""
    marker = f"reset-{uuid.uuid4()}"
    body = {"model": "smart", "stream": True, "messages": [{"role": "user", "content": marker}]}
    before = _spend(stack, ATTACKER_KEY)
    replies = _post_many(stack, [(CHAT, body, {**auth(ATTACKER_KEY), "x-fake-reset-after-chunks": "0"})], timeout=deadline)
    time.sleep(1)  # a stream cut after its start is settled when Envoy ends the service's stream
    charged = _spend(stack, ATTACKER_KEY) - before
    return f"{_statuses(replies)}; provider attempts: {len(_provider_got(stack, marker))}; tenant charged ${charged:.7f}"


def _spend(stack: Stack, key: str) -> float:
    """The tenant's spend today, as GET /v1/gateway/limits tells it (exact with a shared store)."""
    reply = httpx.get(f"http://127.0.0.1:{stack.port}/v1/gateway/limits", headers=auth(key), timeout=10)
    return float(reply.json()["spend_usd"]["day"]) if reply.status_code == 200 else 0.0


def case_embeddings(stack: Stack, deadline: float) -> str:
    """2,048 embeddings inputs, as the OpenAI SDK sends them (base64), four at once (case 9)."""
    body = {"model": "embed", "input": [f"sentence {i}" for i in range(2048)], "encoding_format": "base64"}
    replies = _post_many(stack, [("/v1/embeddings", body, auth(ATTACKER_KEY))] * 4, timeout=deadline)
    sizes = {len(r.content) for r in replies if r is not None}
    return f"{_statuses(replies)}; answer {max(sizes, default=0) / 2**20:.1f} MiB"


def case_cache_rate(stack: Stack, deadline: float) -> str:
    """The same cached request (smart caches) 100 times, with a limit of 30 requests a minute (also by design)."""
    body = {"model": "smart", "max_tokens": 8, "temperature": 0, "messages": [{"role": "user", "content": "cached?"}]}
    replies = _post_many(stack, [(CHAT, body, auth(CACHER_KEY))] * 100, timeout=deadline)
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
    reply = httpx.get(f"http://127.0.0.1:{stack.port}/metrics", headers=auth(ATTACKER_KEY), timeout=deadline)
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


def case_revoked_during_redis_hang(stack: Stack, redis_url: str, key_id: str, deadline: float) -> str:
    """A key revoked just before Redis hangs (case 7): how many requests does it still get through?"""
    seconds = min(deadline, 20)
    asyncio.run(redis_call(redis_url, lambda client: RedisKeyStore(client).revoke(key_id)))
    asyncio.run(redis_call(redis_url, lambda client: client.execute_command("CLIENT", "PAUSE", str(int(seconds * 1000)), "ALL")))
    served = total = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        total += 1
        served += sum(1 for r in _post_many(stack, [(CHAT, VICTIM_BODY, auth(ATTACKER_KEY))], 5) if r is not None and r.status_code == 200)
        time.sleep(0.5)
    return f"revoked key served {served} of {total} during a {seconds:.0f} s Redis hang"


async def redis_call(url: str, action: Callable[[Any], Any]) -> None:
    """Run `action` on a Redis client of `url`, then close it."""
    import redis.asyncio  # only the Redis case needs it

    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    try:
        await action(client)
    finally:
        await client.aclose()
