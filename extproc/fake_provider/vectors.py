"""Deterministic embeddings: a unit vector derived from a hash of the input."""

from __future__ import annotations

import base64
import hashlib
import math
import sys
from array import array
from functools import lru_cache


@lru_cache(maxsize=2048)
def embedding(data: bytes, dims: int) -> array[float]:
    """embedding is a float32 unit vector of `dims` values, the same for the same `data`."""
    raw = array("h")
    raw.frombytes(hashlib.shake_256(data).digest(dims * 2))
    if sys.byteorder == "big":
        raw.byteswap()
    norm = math.sqrt(math.fsum(value * value for value in raw)) or 1.0
    return array("f", [value / norm for value in raw])


def as_floats(vector: array[float]) -> list[float]:
    """as_floats is the vector as JSON numbers (the float32 values, exactly)."""
    return vector.tolist()


def as_base64(vector: array[float]) -> str:
    """as_base64 is the vector as OpenAI's `encoding_format: base64`: little-endian float32 bytes."""
    if sys.byteorder == "big":
        vector = array("f", vector)
        vector.byteswap()
    return base64.b64encode(vector.tobytes()).decode()
