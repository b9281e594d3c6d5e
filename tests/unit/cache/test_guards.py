"""The semantic cache's guards: each refuses its kind of near miss and lets paraphrases through;
and on the labelled pairs, a threshold keeps the false-hit rate within 1%."""

from __future__ import annotations

import pytest

from extproc.cache.guards import refusals


@pytest.mark.parametrize(
    ("cached", "query", "guard"),
    [
        ("Convert 5 miles to km", "Convert 50 miles to km", "number"),
        ("How do I merge two dictionaries?", "How do I merge three dictionaries?", "number"),
        ("Which foods are high in iron?", "Which foods are not high in iron?", "negation"),
        ("How do I turn on location services?", "How do I turn off location services?", "negation"),
        ("Signs of a healthy relationship", "Signs of an unhealthy relationship", "negation"),
        ("Convert 10 kg to pounds", "Convert 10 pounds to kg", "unit"),
        ("What is the capital of France?", "What is the capital of Spain?", "entity"),
        ("What is the capital of France?", "Quelle est la capitale de la France ?", "language"),
        ("Write a poem about the sea.", "Write a story about the sea.", "task"),
        ("Is Python faster than C?", "Is C faster than Python?", "near_miss"),
        ("Which fruits are safe for dogs?", "Which fruits are toxic for dogs?", "near_miss"),
    ],
)
def test_each_guard_refuses_its_near_miss(cached: str, query: str, guard: str) -> None:
    assert guard in refusals(cached, query)


@pytest.mark.parametrize(
    ("cached", "query"),
    [
        ("How do I reverse a list in Python?", "Python: what's the way to reverse a list?"),
        ("How do I merge two dictionaries in Python?", "Python - combine 2 dicts, how?"),
        ("whats the capitol of australia", "What is the capital city of Australia?"),
        ("How do I get the current date in Python?", "Python: how can I get today's date?"),
        ("How long can cooked rice be kept in the fridge?", "How many days does cooked rice stay good in the fridge?"),
    ],
)
def test_paraphrases_pass_every_guard(cached: str, query: str) -> None:
    assert refusals(cached, query) == []


@pytest.mark.parametrize("name", ["semantic_cache_pairs.jsonl", "semantic_cache_holdout.jsonl"])
def test_the_default_threshold_keeps_false_hits_within_one_percent(name: str) -> None:
    """On the tuning set and on the held-out set (written without seeing the guards)."""
    from benchmarks.semantic_cache_eval import MAX_FALSE_HIT_RATE, PAIRS, load_pairs, similarities, table
    from extproc.cache.embeddings import Embedder
    from extproc.cache.guards import GUARDS
    from extproc.cache.policy import DEFAULT_THRESHOLD

    pairs = load_pairs(PAIRS.parent / name)
    assert len(pairs) >= 200
    rows = table(pairs, similarities(pairs, Embedder()), tuple(GUARDS))
    default = next(r for r in rows if r.threshold == DEFAULT_THRESHOLD)
    assert default.false_hit_rate <= MAX_FALSE_HIT_RATE, default
    assert default.recall >= 0.5, default  # a guard that refused everything would pass the bound


@pytest.mark.parametrize("script", ["make_semantic_pairs.py", "make_semantic_holdout.py"])
def test_the_pair_sets_are_what_their_generators_write(script: str) -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    result = subprocess.run([sys.executable, str(root / "tests" / "data" / script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
