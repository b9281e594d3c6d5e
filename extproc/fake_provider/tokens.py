"""Token counting with a real tokenizer, loaded offline from LiteLLM's bundled files.

LiteLLM ships tiktoken's cache files in `litellm/litellm_core_utils/tokenizers/`.
We point tiktoken at that directory without importing LiteLLM (an import takes
seconds), so counting never touches the network.
"""

from __future__ import annotations

import codecs
import hashlib
import importlib.util
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import tiktoken

# Encodings to try, best first: o200k_base is what current OpenAI models use.
ENCODINGS = ("o200k_base", "cl100k_base")

# Where tiktoken downloads an encoding's ranks from (the cache key is derived from it).
_BPE_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"

_encoding: tiktoken.Encoding | None = None


def encoding() -> tiktoken.Encoding:
    """encoding returns the tokenizer, loading it on first use."""
    global _encoding
    if _encoding is None:
        _encoding = _load()
    return _encoding


def count(text: str) -> int:
    """count is the number of tokens in `text`."""
    if not text:
        return 0
    if len(text) > 4096:
        return len(_encode(text))
    return _count_cached(text)


def truncate(text: str, max_tokens: int) -> tuple[str, bool]:
    """truncate keeps the first `max_tokens` tokens of `text`; says whether it cut."""
    tokens = _encode(text)
    if len(tokens) <= max_tokens:
        return text, False
    head = encoding().decode_bytes(tokens[: max(max_tokens, 0)])
    return head.decode("utf-8", errors="ignore"), True


def pieces(text: str, tokens_per_piece: int) -> Iterator[str]:
    """pieces splits `text` into fragments of a few tokens each (never splitting a character)."""
    if not text:
        return
    tokens = _encode(text)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
    enc = encoding()
    step = max(tokens_per_piece, 1)
    for start in range(0, len(tokens), step):
        piece = decoder.decode(enc.decode_bytes(tokens[start : start + step]))
        if piece:
            yield piece
    rest = decoder.decode(b"", final=True)
    if rest:
        yield rest


def _encode(text: str) -> list[int]:
    return encoding().encode(text, disallowed_special=())


@lru_cache(maxsize=4096)
def _count_cached(text: str) -> int:
    return len(_encode(text))


def _load() -> tiktoken.Encoding:
    bundled = _bundled_cache_dir()
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    if bundled is not None:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
    try:
        for name in _available(bundled):
            return tiktoken.get_encoding(name)
        raise RuntimeError(f"no offline tiktoken encoding found (tried {', '.join(ENCODINGS)} in {bundled})")
    finally:
        if bundled is not None:
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous


def _available(bundled: Path | None) -> list[str]:
    """The encodings whose cache file is present (all of them if we cannot tell)."""
    if bundled is None:
        return list(ENCODINGS)
    # tiktoken names a cache file by the SHA-1 of the URL it would download.
    return [
        name for name in ENCODINGS if (bundled / hashlib.sha1(_BPE_URL.format(name=name).encode()).hexdigest()).exists()
    ]


def _bundled_cache_dir() -> Path | None:
    """LiteLLM's tokenizer directory, found without importing LiteLLM."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "litellm_core_utils" / "tokenizers"
        if candidate.is_dir():
            return candidate
    return None
