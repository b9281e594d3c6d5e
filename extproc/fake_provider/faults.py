"""Fault injection: which faults a request gets, from its x-fake-* headers or the process flags.

A header wins over the flag it shadows. Failure draws come from the app's seeded
`random.Random`, so a run with the same seed and request order is repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from extproc.fake_provider.config import FakeConfig

STATUS = "x-fake-status"
FAIL_RATE = "x-fake-fail-rate"
FAIL_STATUS = "x-fake-fail-status"
LATENCY_MS = "x-fake-latency-ms"
TTFT_MS = "x-fake-ttft-ms"
CHUNK_DELAY_MS = "x-fake-chunk-delay-ms"
RESET_AFTER_CHUNKS = "x-fake-reset-after-chunks"
MALFORMED = "x-fake-malformed"
# After N stream events, the wire's own in-stream error event, then a clean end
# (an Anthropic `event: error`, an OpenAI `data: {"error": ...}`).
ERROR_AFTER_CHUNKS = "x-fake-error-after-chunks"
# Comma-separated models: the faults above then hit only requests for these
# models, so one fallback level can fail while the next serves.
FAULT_MODELS = "x-fake-fault-models"

# Seconds a 429 answer tells the client to wait.
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults is what goes wrong with one request."""

    status: int | None = None
    latency_ms: float = 0.0
    ttft_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    reset_after_chunks: int | None = None
    malformed: bool = False
    error_after_chunks: int | None = None


NO_FAULTS = Faults()


def resolve(headers: Mapping[str, str], config: FakeConfig, rng: random.Random, model: str = "") -> Faults:
    """resolve picks the faults of one request: headers first, then the process flags.

    With an `x-fake-fault-models` header, a request for any other model gets none.
    """
    scope = headers.get(FAULT_MODELS)
    if scope is not None and model not in {m.strip() for m in scope.split(",")}:
        return NO_FAULTS
    status = _status(headers.get(STATUS), config.status)
    if status is None:
        rate = _float(headers.get(FAIL_RATE), config.fail_rate)
        if rate > 0 and rng.random() < rate:
            status = _status(headers.get(FAIL_STATUS), config.fail_status)
    reset = _int(headers.get(RESET_AFTER_CHUNKS), config.reset_after_chunks)
    error_after = _int(headers.get(ERROR_AFTER_CHUNKS), None)
    faults = Faults(
        status=status,
        latency_ms=_float(headers.get(LATENCY_MS), config.latency_ms),
        ttft_ms=_float(headers.get(TTFT_MS), config.ttft_ms),
        chunk_delay_ms=_float(headers.get(CHUNK_DELAY_MS), config.chunk_delay_ms),
        reset_after_chunks=reset if reset is not None and reset >= 0 else None,
        malformed=_flag(headers.get(MALFORMED), config.malformed),
        error_after_chunks=error_after if error_after is not None and error_after >= 0 else None,
    )
    return NO_FAULTS if faults == NO_FAULTS else faults


def retry_headers(status: int) -> dict[str, str]:
    """retry_headers are the extra headers an injected error carries (`retry-after` on 429)."""
    return {"retry-after": str(RETRY_AFTER_SECONDS)} if status == 429 else {}


def _status(raw: str | None, default: int | None) -> int | None:
    value = _int(raw, default)
    # 0 or any 2xx in a header means "no injected status", so a header can switch a flag off.
    return value if value is not None and not 0 <= value < 300 else None


def _int(raw: str | None, default: int | None) -> int | None:
    if raw is None:
        return default
    try:
        return int(raw.strip())
    except ValueError:
        return default


def _float(raw: str | None, default: float) -> float:
    if raw is None:
        return default
    try:
        return max(float(raw.strip()), 0.0)
    except ValueError:
        return default


def _flag(raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    return raw.strip().lower() not in ("", "0", "false", "no", "off")
