"""Features of a request: hashed word and character n-grams plus a few dense counts, in numpy.

The hashing trick needs no vocabulary: the model ships weights, one inverse document frequency
per hashed slot, and the settings below. scikit-learn's HashingVectorizer does the same, but its
character n-grams are made one Python string at a time (1-6 ms a request, measured here), over
the 1 ms budget; here they are rolling hashes over the text's code points, a few vectorised
numpy operations (about 0.1 ms for 200 tokens). Words are `\\w+` runs hashed with CRC-32, bigrams
combined from their words' hashes. The same code makes the training matrix and the row
classified per request, so the two cannot drift apart.

Blocks, in column order: words of the last user turn, its characters (n-grams across the
lower-cased text, digits folded to 0, which also covers scripts written without spaces), words
of the context (system prompt and earlier turns), then DENSE_NAMES (and SPLIT_DENSE_NAMES and the
cue counts, by the settings). With `split` (the shipped setting), "the last user turn" of the
word and character blocks is its instruction (text.instruction_parts), not the pasted material. Each hashed block is
log(1 + count) times idf, L2-normalised on its own, so a long paste does not drown the
instruction.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np

from extproc.routing.cues import TASK_CUES, cue_counts
from extproc.routing.text import RequestText

DENSE_NAMES = (
    "log_last_chars",
    "log_total_chars",
    "code_fence",
    "log_lines",
    "log_list_items",
    "log_questions",
    "symbol_density",
    "user_turns",
    "has_system",
)
_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s", re.MULTILINE)
_CODE_SYMBOLS = re.compile(r"[{}();=<>\[\]_]")
# FNV-1a's 64-bit prime and two odd mixing constants (splitmix64); uint64 arithmetic wraps.
_PRIME = np.uint64(1099511628211)
_MIX_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_B = np.uint64(0xBF58476D1CE4E5B9)
_BIGRAM = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class FeatureSettings:
    """How text becomes features; stored with the model."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 4)
    word_bits: int = 18
    char_bits: int = 18
    context_bits: int = 16
    # The instruction's words: the first and last edge_chars characters of the last user turn
    # (all of a short one) in a block of their own; edge_bits 0 leaves the block out.
    edge_bits: int = 0
    edge_chars: int = 200
    dense: bool = True
    # Read a long last turn as instruction and material (text.instruction_parts): the word and
    # character blocks and the cues see the instruction only; the material gets a block of word
    # unigrams of its own (material_bits; 0 leaves it out) and two dense columns.
    split: bool = False
    material_bits: int = 0
    # Counts of cues.py's task and complexity words in the instruction's edges and in the
    # context, as cue_scale * log(1 + count); cue_scale 0 leaves them out.
    cue_scale: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSettings:
        """Settings read back from JSON (lists become tuples)."""
        fields: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        return cls(**fields)


class Featurizer:
    """Turns a RequestText into a sparse row: (column indices, values)."""

    def __init__(self, settings: FeatureSettings, idf: np.ndarray | None = None) -> None:
        self.settings = settings
        self.idf = idf
        widths: list[int] = [2**settings.word_bits, 2**settings.char_bits, 2**settings.context_bits]
        if settings.edge_bits:
            widths.append(2**settings.edge_bits)
        if settings.split and settings.material_bits:
            widths.append(2**settings.material_bits)
        self._offsets = tuple(int(x) for x in np.cumsum([0] + widths[:-1]))
        self._hashed = sum(widths)

    @property
    def n_dense(self) -> int:
        """Dense columns, after the hashed blocks."""
        dense = len(DENSE_NAMES) + (len(SPLIT_DENSE_NAMES) if self.settings.split else 0) if self.settings.dense else 0
        return dense + (2 * (len(TASK_CUES) + 2) if self.settings.cue_scale else 0)

    @property
    def n_features(self) -> int:
        """Columns of a row."""
        return self._hashed + self.n_dense

    def counts(self, text: RequestText) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each hashed block's (columns, counts)."""
        settings = self.settings
        last = _DIGIT.sub("0", (text.instruction if settings.split else text.last).lower())
        context = _DIGIT.sub("0", text.context.lower())
        blocks = [
            _word_hashes(last, settings.word_ngrams) >> np.uint64(64 - settings.word_bits),
            _char_hashes(_SPACE.sub(" ", last), settings.char_ngrams) >> np.uint64(64 - settings.char_bits),
            _word_hashes(context, (1, 1)) >> np.uint64(64 - settings.context_bits),
        ]
        if settings.edge_bits:
            edges = _edges(last, settings.edge_chars)
            blocks.append(_word_hashes(edges, settings.word_ngrams) >> np.uint64(64 - settings.edge_bits))
        if settings.split and settings.material_bits:
            material = _DIGIT.sub("0", text.material.lower())
            blocks.append(_word_hashes(material, (1, 1)) >> np.uint64(64 - settings.material_bits))
        bins = np.concatenate([block.astype(np.int64) + offset for offset, block in zip(self._offsets, blocks)])
        columns, counts = np.unique(bins, return_counts=True)
        splits = np.searchsorted(columns, self._offsets[1:])
        return list(zip(np.split(columns, splits), np.split(counts, splits)))

    def row(self, text: RequestText) -> tuple[np.ndarray, np.ndarray]:
        """The feature row of one request: sorted column indices and their values."""
        if self.idf is None:
            raise ValueError("fit_idf (or load an idf) before computing rows")
        indices, values = [], []
        for columns, counts in self.counts(text):
            weights = np.log1p(counts).astype(np.float32) * self.idf[columns]
            norm = float(np.sqrt(weights @ weights))
            indices.append(columns)
            values.append(weights / norm if norm else weights)
        dense = dense_features(text) if self.settings.dense else []
        if self.settings.dense and self.settings.split:
            dense += split_features(text)
        if self.settings.cue_scale:
            # The instruction's cues, then the context's (a follow-up like "and in German?"
            # takes its task from the turn before).
            edges = text.instruction.lower() if self.settings.split else _edges(text.last.lower(), self.settings.edge_chars)
            for cues in (cue_counts(edges), cue_counts(text.context[-self.settings.edge_chars:].lower())):
                dense += [self.settings.cue_scale * math.log1p(count) for count in cues]
        if dense:
            indices.append(np.arange(self._hashed, self._hashed + len(dense)))
            values.append(np.array(dense, dtype=np.float32))
        return np.concatenate(indices), np.concatenate(values)

    def fit_idf(self, texts: Sequence[RequestText]) -> None:
        """Set the smoothed inverse document frequency of each hashed slot from `texts`."""
        df = np.zeros(self._hashed, dtype=np.int64)
        for text in texts:
            for columns, _ in self.counts(text):
                df[columns] += 1
        self.idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)

    def matrix(self, texts: Sequence[RequestText]) -> Any:  # a scipy CSR matrix: scipy ships no types
        """The rows of `texts` as a scipy CSR matrix (for training)."""
        import scipy.sparse as sp  # noqa: PLC0415

        rows = [self.row(text) for text in texts]
        indptr = np.cumsum([0] + [len(indices) for indices, _ in rows])
        indices = np.concatenate([indices for indices, _ in rows])
        data = np.concatenate([values for _, values in rows])
        return sp.csr_matrix((data, indices, indptr), shape=(len(texts), self.n_features))


def _edges(text: str, chars: int) -> str:
    """The first and last `chars` characters of `text` (all of it when short): where instructions are."""
    return text if len(text) <= 2 * chars else f"{text[:chars]}\n{text[-chars:]}"


def _char_hashes(text: str, ngrams: tuple[int, int]) -> np.ndarray:
    """64-bit hashes of every character n-gram of `text`, n in the inclusive range `ngrams`."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    hashes = []
    for n in range(ngrams[0], ngrams[1] + 1):
        count = len(points) - n + 1
        if count <= 0:
            break
        h = points[:count] ^ np.uint64(n * 0x9E3779B97F4A7C15 % 2**64)
        for k in range(1, n):
            h = (h * _PRIME) ^ points[k:k + count]
        hashes.append(h)
    return _mixed(np.concatenate(hashes)) if hashes else np.zeros(0, dtype=np.uint64)


def _word_hashes(text: str, ngrams: tuple[int, int]) -> np.ndarray:
    """64-bit hashes of the word unigrams (and bigrams when ngrams[1] >= 2) of `text`."""
    words = _WORD.findall(text)
    unigrams = np.fromiter((zlib.crc32(word.encode()) for word in words), dtype=np.uint64, count=len(words))
    hashes = [unigrams] if ngrams[0] <= 1 else []
    if ngrams[1] >= 2 and len(words) > 1:
        hashes.append((unigrams[:-1] * _BIGRAM) ^ (unigrams[1:] + _MIX_A))
    return _mixed(np.concatenate(hashes)) if hashes else np.zeros(0, dtype=np.uint64)


def _mixed(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads the hashes so that their top bits are usable as slots."""
    h = (h ^ (h >> np.uint64(30))) * _MIX_B
    h = (h ^ (h >> np.uint64(27))) * _BIGRAM
    return cast("np.ndarray", h ^ (h >> np.uint64(31)))  # numpy types an array's operators with a scalar as Any


SPLIT_DENSE_NAMES = ("log_instruction_chars", "log_material_chars", "material_symbol_density")


def split_features(text: RequestText) -> list[float]:
    """SPLIT_DENSE_NAMES of one request, each scaled to about [0, 1]."""
    material = text.material
    return [
        math.log1p(len(text.instruction)) / 10,
        math.log1p(len(material)) / 10,
        min(1.0, 10 * len(_CODE_SYMBOLS.findall(material)) / max(1, len(material))),
    ]


def dense_features(text: RequestText) -> list[float]:
    """DENSE_NAMES of one request, each scaled to about [0, 1]."""
    last = text.last
    return [
        math.log1p(text.last_chars) / 10,
        math.log1p(text.total_chars) / 10,
        1.0 if "```" in last else 0.0,
        math.log1p(last.count("\n")) / 5,
        math.log1p(len(_LIST_ITEM.findall(last))) / 3,
        math.log1p(last.count("?") + last.count("？")) / 3,
        min(1.0, 10 * len(_CODE_SYMBOLS.findall(last)) / max(1, len(last))),
        min(text.user_turns, 10) / 10,
        1.0 if text.has_system else 0.0,
    ]
