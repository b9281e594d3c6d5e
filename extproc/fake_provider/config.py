"""FakeConfig: the process-wide settings of the fake provider, and their CLI flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FakeConfig:
    """FakeConfig holds the fake provider's settings; every fault can be overridden per request by header."""

    # If set, the only API key accepted (otherwise any non-empty key is).
    required_key: str | None = None
    # Answer every request with this status (None: answer normally).
    status: int | None = None
    # Fraction of requests answered with `fail_status`, drawn from a seeded RNG.
    fail_rate: float = 0.0
    fail_status: int = 500
    seed: int = 0
    # Delay before any response, before a stream's first chunk, between chunks.
    latency_ms: float = 0.0
    ttft_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    # Abort the connection after this many stream chunks (buffered: before headers).
    reset_after_chunks: int | None = None
    # Send a 200 with a truncated JSON body or a broken SSE event.
    malformed: bool = False
    # Requests kept for GET /_fake/requests.
    record_limit: int = 1000
    # Tokens per streamed content chunk.
    chunk_tokens: int = 3
    # Embedding size when the request does not ask for `dimensions`.
    embedding_dims: int = 1536
    # Processes `run` serves with (SO_REUSEPORT); each records and draws failures on its own.
    workers: int = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """add_arguments adds `--host`, `--port` and the fault flags to `parser`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9000, help="port to listen on (0: any free port)")
    parser.add_argument("--api-key", default=None, help="accept only this API key (default: any non-empty key)")
    faults = parser.add_argument_group("faults (each can be overridden per request by an x-fake-* header)")
    faults.add_argument("--status", type=int, default=None, help="answer every request with this HTTP status")
    faults.add_argument("--fail-rate", type=float, default=0.0, help="fraction of requests that fail (0..1)")
    faults.add_argument("--fail-status", type=int, default=500, help="status of the --fail-rate failures")
    faults.add_argument("--seed", type=int, default=0, help="seed of the --fail-rate draws")
    faults.add_argument("--latency-ms", type=float, default=0.0, help="delay before every response")
    faults.add_argument("--ttft-ms", type=float, default=0.0, help="delay before a stream's first chunk")
    faults.add_argument("--chunk-delay-ms", type=float, default=0.0, help="delay between stream chunks")
    faults.add_argument(
        "--reset-after-chunks", type=int, default=None, help="abort the connection after N stream chunks"
    )
    faults.add_argument("--malformed", action="store_true", help="send truncated JSON or a broken SSE event")
    parser.add_argument("--chunk-tokens", type=int, default=3, help="tokens per streamed chunk")
    parser.add_argument("--embedding-dims", type=int, default=1536, help="default embedding size")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (for benchmarks; recordings are per process)"
    )


def config_from_args(ns: argparse.Namespace) -> FakeConfig:
    """config_from_args builds a FakeConfig from the flags `add_arguments` defined."""
    return FakeConfig(
        required_key=ns.api_key,
        status=ns.status,
        fail_rate=ns.fail_rate,
        fail_status=ns.fail_status,
        seed=ns.seed,
        latency_ms=ns.latency_ms,
        ttft_ms=ns.ttft_ms,
        chunk_delay_ms=ns.chunk_delay_ms,
        reset_after_chunks=ns.reset_after_chunks,
        malformed=ns.malformed,
        chunk_tokens=ns.chunk_tokens,
        embedding_dims=ns.embedding_dims,
        workers=ns.workers,
    )
