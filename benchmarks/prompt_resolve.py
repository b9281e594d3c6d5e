"""What expanding a request's `prompt` field costs per request, against parsing the request's JSON body.

    python -m benchmarks.prompt_resolve [--rounds 20000]

Warm: the resolver has the prompt's head (≤ 1 s old) and its compiled version cached, as on a busy
gateway; the cost is rendering the templates and building the expanded body. Cold: every call reads
the head from the store (SQLite, the embedded default), as when the head cache has just expired.
The baseline, run in the same invocation, is `orjson.loads` of the same request body, which the
gateway does for every request anyway; the figures are ratios to it.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from extproc.prompts.files import load_prompt_file
from extproc.prompts.model import GLOBAL
from extproc.prompts.resolver import PromptResolver
from extproc.prompts.sqlite import SqlitePromptStore

PROMPT = Path(__file__).resolve().parents[1] / "evals/prompts/support-reply.yaml"
BODY = {
    "model": "fast",
    "prompt": {"name": "support-reply", "variables": {"customer": "Ann", "question": "How do I reset my password? " * 4,
                                                      "history": ["Ann asked about billing.", "We answered."]}},
    "messages": [{"role": "user", "content": "One more thing: " + "details " * 40}],
}  # fmt: skip


async def main(rounds: int) -> None:
    raw = orjson.dumps(BODY)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlitePromptStore(Path(tmp) / "prompts.sqlite3")
        await store.add_version(GLOBAL, load_prompt_file(PROMPT), None, ["production"])
        warm = PromptResolver(store)
        cold = PromptResolver(store, head_ttl_seconds=0.0)

        def parse() -> None:
            orjson.loads(raw)

        async def expand(resolver: PromptResolver) -> None:
            body = orjson.loads(raw)
            (await resolver.resolve("acme", body["prompt"])).apply(body)

        baseline = _timed_sync(parse, rounds)
        warm_s = await _timed(lambda: expand(warm), rounds)
        cold_s = await _timed(lambda: expand(cold), max(rounds // 20, 100))
        await store.close()
    print(f"request body parse (baseline): {baseline * 1e6:8.1f} µs")
    print(f"parse + expand, warm cache:    {warm_s * 1e6:8.1f} µs  ({warm_s / baseline:5.1f}x the baseline)")
    print(f"parse + expand, head from SQLite: {cold_s * 1e6:5.1f} µs  ({cold_s / baseline:5.1f}x the baseline)")


def _timed_sync(call: Callable[[], None], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        call()
    return (time.perf_counter() - started) / rounds


async def _timed(call: Callable[[], Awaitable[None]], rounds: int) -> float:
    await call()  # warm-up: fills the caches
    started = time.perf_counter()
    for _ in range(rounds):
        await call()
    return (time.perf_counter() - started) / rounds


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20000)
    asyncio.run(main(parser.parse_args().rounds))
