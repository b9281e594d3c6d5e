"""What one request costs Redis, counted by Redis itself: real Envoy, a real redis-server holding the
keys, limits, budgets and the exact cache, the fake provider.

Redis counts every command it runs (INFO commandstats) and every read event it processes on a
client connection (INFO stats `total_reads_processed`): one read per round trip for requests
this small, whatever the client pipelines into it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio

from extproc.ops.launcher import Stack
from extproc.tenancy.keys import RedisKeyStore, generate_key, new_record
from extproc.tenancy.settings import tenancy_metadata
from tests.e2e.conftest import shipped_config, start_stack
from tests.support.redis_server import redis_server

pytestmark = pytest.mark.e2e
CHAT = "/v1/chat/completions"
REQUESTS = 20


@pytest.fixture(scope="module")
def gateway_on_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str, str]]:
    tmp: Path = tmp_path_factory.mktemp("round-trips")
    with redis_server(tmp) as url:
        config = shipped_config()
        meta = tenancy_metadata(config)
        meta["store"] = {"kind": "redis", "redis_url": url}
        meta["cache"] = {"mode": "exact", "ttl_seconds": 600}
        key = generate_key()

        async def add() -> None:
            client = redis.asyncio.Redis.from_url(url)
            await RedisKeyStore(client).add(new_record(key, "acme"))
            await client.aclose()

        asyncio.run(add())
        stack = start_stack(tmp, config, workers=1)
        try:
            yield stack, key, url
        finally:
            stack.stop()


class _Monitor:
    """The commands clients send Redis (not those its scripts run), from MONITOR, until `stop`."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._monitor = self._client.monitor()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        self._monitor.__enter__()
        self._sentinel = f"stop-{uuid.uuid4().hex}"
        self.commands: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            command = self._monitor.next_command()
            if self._sentinel in command["command"]:
                return
            if command.get("client_type") != "lua":
                self.commands.append(command["command"].split(" ", 1)[0].lower())

    def stop(self) -> list[str]:
        """The commands seen so far (the sentinel ECHO that stops the reading is one read event more)."""
        self._client.echo(self._sentinel)
        self._thread.join(timeout=10)
        self._monitor.__exit__(None, None, None)
        self._client.close()
        return self.commands


def _reads(client: redis.Redis) -> int:
    """Read events Redis has processed on client connections (this INFO call's own included)."""
    return int(client.info("stats")["total_reads_processed"])


def _per_request(stack: Stack, key: str, url: str, body_for: Any) -> tuple[dict[str, float], float]:
    """Commands by name and round trips per request over REQUESTS sequential requests (after one to warm up)."""
    client = redis.Redis.from_url(url)
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30) as http:
        headers = {"authorization": f"Bearer {key}"}
        for _ in range(3):  # scripts loaded, key remembered, the clients' connections open
            assert http.post(CHAT, json=body_for(), headers=headers).status_code == 200
        monitor = _Monitor(url)
        before = _reads(client)
        for _ in range(REQUESTS):
            answer = http.post(CHAT, json=body_for(), headers=headers)
            assert answer.status_code == 200, answer.text
        commands = monitor.stop()
        after = _reads(client)
    client.close()
    # Not per request: ours (the INFO calls, the first in `before`, and the sentinel ECHO), the key
    # lookup the key store repeats every 2 s, and a new connection's HELLO and CLIENT SETINFO.
    commands = [c for c in commands if c not in ("info", "echo")]
    apart = [c for c in commands if c in ("hget", "hello", "client")]
    counted = Counter(c for c in commands if c not in apart)
    return {name: n / REQUESTS for name, n in counted.items()}, (after - before - 2 - len(apart)) / REQUESTS


def test_a_cache_miss_costs_four_round_trips_and_a_hit_three(gateway_on_redis: tuple[Stack, str, str]) -> None:
    stack, key, url = gateway_on_redis

    def fresh() -> dict[str, Any]:
        return {"model": "fast", "messages": [{"role": "user", "content": f"Hello {uuid.uuid4().hex}"}], "max_tokens": 16}

    commands, round_trips = _per_request(stack, key, url, fresh)
    # Limits: one script takes from every bucket and holds the budget, one settles the buckets, the
    # hold and the charge; the cache: one GET, and the SET after the answer has gone.
    assert commands == {"evalsha": 2.0, "get": 1.0, "set": 1.0}, commands
    # Up to half a read per request for what a connection's reads split into (Redis counts events).
    assert 4.0 <= round_trips < 4.5, round_trips

    repeated = fresh()
    commands, round_trips = _per_request(stack, key, url, lambda: repeated)
    # A hit takes a request from the buckets and gives its reservation back: nothing is written.
    assert commands == {"evalsha": 2.0, "get": 1.0}, commands
    assert 3.0 <= round_trips < 3.5, round_trips
