"""Labelling an exploration: was the cached answer as good as the fresh one for this prompt?

Two comparisons, chosen per route (`cache.compare`):

- `exact`: the answers' texts are equal once case, runs of white space and the closing punctuation
  are ignored. For routes whose answers are deterministic (classification, extraction, a fixed
  format at temperature 0).
- `embedding` (the default): the answers' embeddings, with the cache's own model, are at least
  `answer_similarity` alike. For free text, where two right answers never share their wording.

A judge model would be a third (a route that asks a model whether two answers agree); not built.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

COMPARISONS = ("embedding", "exact")
_SPACE = re.compile(r"\s+")


def answer_text(payload: dict[str, Any]) -> str | None:
    """The text of a canonical chat answer's choices, or None when it has none (tool calls only)."""
    parts = []
    for choice in payload.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            parts.append(message["content"])
    text = "\n".join(parts)
    return text if text.strip() else None


def normalised(text: str) -> str:
    """`text` lower-cased, its white space collapsed and its closing punctuation dropped."""
    return _SPACE.sub(" ", text).strip().rstrip(".!?。").strip().casefold()


def same_answer(
    cached: str,
    fresh: str,
    comparison: str,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    min_similarity: float = 0.9,
) -> bool:
    """True when `cached` would have served as well as `fresh` (see the module's doc)."""
    if normalised(cached) == normalised(fresh):
        return True
    if comparison == "exact" or embed is None:
        return False
    vectors = embed([cached, fresh])
    return float(vectors[0] @ vectors[1]) >= min_similarity
