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


def test_a_threshold_keeps_false_hits_within_one_percent_on_the_labelled_pairs() -> None:
    from benchmarks.semantic_cache_eval import MAX_FALSE_HIT_RATE, default_threshold, load_pairs, similarities, table
    from extproc.cache.embeddings import Embedder
    from extproc.cache.guards import GUARDS

    pairs = load_pairs()
    assert len(pairs) >= 300
    chosen = default_threshold(table(pairs, similarities(pairs, Embedder()), tuple(GUARDS)))
    assert chosen.false_hit_rate <= MAX_FALSE_HIT_RATE
    assert chosen.recall >= 0.6, chosen  # a guard that refuses everything would pass the bound
