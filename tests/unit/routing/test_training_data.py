"""The routing training set: built from its sources, labelled per the rubric, with the mix it promises."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from extproc.routing.classifier import COMPLEXITIES, TASKS

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "routing"
# A user turn this long is a written request, not an everyday phrase two writers share by chance.
DISTINCTIVE_CHARS = 80


def _make_train():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("make_train", DATA_DIR / "make_train.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def examples() -> list[dict]:
    return [json.loads(line) for line in (DATA_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines()]


def test_train_jsonl_is_what_its_sources_build(capsys: pytest.CaptureFixture[str]) -> None:
    assert _make_train().main(["--check"]) == 0, capsys.readouterr().err


def test_every_example_has_the_rubric_format(examples: list[dict]) -> None:
    assert len({example["id"] for example in examples}) == len(examples)
    for example in examples:
        assert set(example) == {"id", "messages", "task", "complexity", "lang"}, example["id"]
        assert example["task"] in TASKS and example["complexity"] in COMPLEXITIES, example["id"]
        assert example["messages"][-1]["role"] == "user" and example["messages"][-1]["content"], example["id"]
        assert all(m["role"] in ("system", "user", "assistant") for m in example["messages"]), example["id"]


def test_the_set_has_the_mix_the_rubric_asks_for(examples: list[dict]) -> None:
    assert len(examples) >= 1000
    cells = Counter((example["task"], example["complexity"]) for example in examples)
    assert min(cells[task, complexity] for task in TASKS for complexity in COMPLEXITIES) >= 50
    complex_share = sum(example["complexity"] == "complex" for example in examples) / len(examples)
    assert 0.35 <= complex_share <= 0.65
    assert sum(example["lang"] != "en" for example in examples) / len(examples) >= 0.2
    assert len({example["lang"] for example in examples}) >= 10
    words = [sum(len(m["content"].split()) for m in example["messages"]) for example in examples]
    assert sum(n >= 300 for n in words) >= 100 and max(words) >= 2000
    assert sum(len(example["messages"]) > 1 for example in examples) >= 200
    assert sum(example["messages"][0]["role"] == "system" for example in examples) >= 100


@pytest.mark.parametrize("name", ["holdout.jsonl", "holdout2.jsonl"])
def test_no_held_out_request_is_in_the_training_set(examples: list[dict], name: str) -> None:
    # The held-out sets were written apart; nothing derived from them may reach train.jsonl. Short
    # everyday turns ("hi", "thanks!") do recur in sets written independently, so a user turn,
    # or a conversation's user turns together, count from DISTINCTIVE_CHARS on.
    def keys(example: dict) -> set[str]:
        turns = [" ".join(m["content"].split()).lower() for m in example["messages"] if m["role"] == "user"]
        return {text for text in ("\n".join(turns), *turns) if len(text) >= DISTINCTIVE_CHARS}

    held_out = [json.loads(line) for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert held_out and all(example["task"] in TASKS and example["complexity"] in COMPLEXITIES for example in held_out)
    training = set().union(*(keys(example) for example in examples))
    shared = [example["id"] for example in held_out if keys(example) & training]
    assert not shared, f"{name} requests found in train.jsonl: {shared[:5]}"
