"""Precision, recall and false-hit rate of the semantic cache per similarity threshold, with and
without its guards, on the labelled pairs in tests/data/semantic_cache_pairs.jsonl; with
--replay, the learned cache against fixed thresholds on a stream built from grouped queries.

    .venv/bin/python -m benchmarks.semantic_cache_eval [--pairs FILE]
    .venv/bin/python -m benchmarks.semantic_cache_eval --replay [--groups FILE] [--seeds 10] [--repeats 3]

A pair is a cached prompt and a new one, labelled should_hit (a paraphrase) or
not (another entity, number, negation, unit, language or task). The cache hits
when the embeddings' cosine similarity reaches the threshold and no guard
refuses. Also printed: what each guard blocks and costs at the chosen
threshold, the false hits left by kind, and the embedding time.

The replay is `benchmarks/semantic_cache_replay.py`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from extproc.cache.embeddings import Embedder
from extproc.cache.guards import GUARDS, refusals

PAIRS = Path(__file__).resolve().parent.parent / "tests" / "data" / "semantic_cache_pairs.jsonl"
THRESHOLDS = [round(0.70 + 0.02 * i, 2) for i in range(15)]
# The bound on wrong answers served.
MAX_FALSE_HIT_RATE = 0.01


@dataclass
class Row:
    """The figures at one threshold."""

    threshold: float
    hits: int
    true_hits: int
    false_hits: int
    positives: int
    negatives: int

    @property
    def precision(self) -> float:
        return self.true_hits / self.hits if self.hits else 1.0

    @property
    def recall(self) -> float:
        return self.true_hits / self.positives if self.positives else 1.0

    @property
    def false_hit_rate(self) -> float:
        return self.false_hits / self.negatives if self.negatives else 0.0


def load_pairs(path: Path = PAIRS) -> list[dict[str, Any]]:
    """The labelled pairs."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def similarities(pairs: list[dict[str, Any]], embedder: Embedder) -> np.ndarray:
    """Cosine similarity of each pair's cached and new prompt."""
    cached = embedder.embed([p["cached"] for p in pairs])
    query = embedder.embed([p["query"] for p in pairs])
    return (cached * query).sum(axis=1)


def table(pairs: list[dict[str, Any]], sims: np.ndarray, guards: tuple[str, ...]) -> list[Row]:
    """One row per threshold, hits refused by any of `guards`."""
    allowed = [not refusals(p["cached"], p["query"], guards) for p in pairs]
    positives = sum(p["should_hit"] for p in pairs)
    rows = []
    for threshold in THRESHOLDS:
        hit = [bool(s >= threshold) and ok for s, ok in zip(sims, allowed)]
        true_hits = sum(h and p["should_hit"] for h, p in zip(hit, pairs))
        rows.append(Row(threshold, sum(hit), true_hits, sum(hit) - true_hits, positives, len(pairs) - positives))
    return rows


def default_threshold(rows: list[Row]) -> Row:
    """The lowest threshold whose false-hit rate stays within the bound (most hits for the risk)."""
    return next(r for r in rows if r.false_hit_rate <= MAX_FALSE_HIT_RATE)


def _print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(f"{'threshold':>9}{'hits':>6}{'precision':>11}{'recall (hit rate)':>19}{'false-hit rate':>16}")
    for r in rows:
        print(f"{r.threshold:>9.2f}{r.hits:>6}{r.precision:>11.3f}{r.recall:>19.3f}{r.false_hit_rate:>16.3f}")


def main() -> int:
    """Print the tables; exit 1 when no threshold keeps the false-hit rate within the bound."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--replay", action="store_true", help="the learned cache against fixed thresholds, on a stream")
    parser.add_argument("--groups", type=Path, default=None, help="--replay: grouped queries (default: the tuning set)")
    parser.add_argument("--seeds", type=int, default=10, help="--replay: streams, each in another random order")
    parser.add_argument("--repeats", type=int, default=3, help="--replay: times each text is asked")
    args = parser.parse_args()
    embedder = Embedder()
    if args.replay:
        from benchmarks.semantic_cache_replay import GROUPS, replay

        replay(args.groups or GROUPS, embedder, seeds=args.seeds, repeats=args.repeats)
        print_embedding_time(embedder)
        return 0
    pairs = load_pairs(args.pairs)
    started = time.perf_counter()
    sims = similarities(pairs, embedder)
    print(f"{len(pairs)} pairs ({sum(p['should_hit'] for p in pairs)} should hit); "
          f"embedded {2 * len(pairs)} prompts in {time.perf_counter() - started:.1f} s")  # fmt: skip
    everything = tuple(GUARDS)
    unguarded, guarded = table(pairs, sims, ()), table(pairs, sims, everything)
    _print_table("without guards", unguarded)
    _print_table("with every guard", guarded)
    try:
        chosen = default_threshold(guarded)
    except StopIteration:
        print(f"\nno threshold keeps the false-hit rate at or under {MAX_FALSE_HIT_RATE:.0%}")
        return 1
    print(f"\nchosen threshold {chosen.threshold:.2f}: false-hit rate {chosen.false_hit_rate:.3f}, "
          f"hit rate {chosen.recall:.3f}, precision {chosen.precision:.3f}")  # fmt: skip
    print(f"\neach guard at {chosen.threshold:.2f} (alone / left out of the full set):")
    print(f"{'guard':>10}{'false hits blocked alone':>26}{'hits lost alone':>17}{'false hits if left out':>24}")
    base = [p for p, s in zip(pairs, sims) if s >= chosen.threshold]
    for name in everything:
        blocked = sum(1 for p in base if not p["should_hit"] and refusals(p["cached"], p["query"], (name,)))
        lost = sum(1 for p in base if p["should_hit"] and refusals(p["cached"], p["query"], (name,)))
        others = tuple(g for g in everything if g != name)
        left_out = sum(1 for p in base if not p["should_hit"] and not refusals(p["cached"], p["query"], others))
        print(f"{name:>10}{blocked:>26}{lost:>17}{left_out:>24}")
    leftover = [p for p in base if not p["should_hit"] and not refusals(p["cached"], p["query"], everything)]
    for pair in leftover:
        print(f"  false hit: {pair['id']} ({pair['kind']}): {pair['cached']!r} ~ {pair['query']!r}")
    print_embedding_time(embedder)
    return 0


def print_embedding_time(embedder: Embedder) -> None:
    """The model's p50 for a ~200-token prompt and a short question, one thread."""
    times = []
    prompt = " ".join(["the quick brown fox jumps over the lazy dog"] * 22)  # ~200 tokens
    short = "How do I reverse a list in Python?"
    for text in (prompt, short):
        embedder.embed_one(text)
        runs = []
        for _ in range(30):
            began = time.perf_counter()
            embedder.embed_one(text)
            runs.append((time.perf_counter() - began) * 1000)
        times.append(statistics.median(runs))
    print(f"\nembedding p50 (1 thread): {times[0]:.1f} ms for ~200 tokens, {times[1]:.1f} ms for a 10-token question")


if __name__ == "__main__":
    raise SystemExit(main())
