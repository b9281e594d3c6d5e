"""The routing classifier's training: the shipped model is what train.py writes from the shipped
data and settings, and training is deterministic and writes exactly what it fitted.

A full refit takes minutes, too slow for every CI run; these checks take seconds. The shipped
settings name the training data by hash and record the probabilities of a few training
examples, which the shipped arrays must reproduce; determinism and refit-equivalence are
checked by training on a small subset.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from extproc.routing.classifier import SETTINGS_FILE, Classifier
from extproc.routing.features import FeatureSettings
from extproc.routing.text import request_text
from extproc.routing.train import CHOSEN, FOLDS, PROBES, TRAINING_SET, fit_examples, load_examples, softmax, train

SHIPPED = json.loads(SETTINGS_FILE.read_text(encoding="utf-8"))
# int16 weights move a probability by well under this.
QUANTISATION = 2e-3


@pytest.fixture(scope="module")
def examples() -> list[dict]:
    return load_examples()


def test_the_shipped_model_was_trained_on_the_shipped_data_with_the_chosen_settings() -> None:
    assert SHIPPED["training"]["data_sha256"] == hashlib.sha256(TRAINING_SET.read_bytes()).hexdigest(), (
        "train.jsonl changed since the model was trained: run python -m extproc.routing.train"
    )
    assert FeatureSettings.from_dict(SHIPPED["features"]) == CHOSEN.features
    assert (SHIPPED["task"]["c"], SHIPPED["complexity"]["c"]) == (CHOSEN.task_c, CHOSEN.complexity_c)
    assert SHIPPED["class_weight"] == CHOSEN.class_weight
    assert SHIPPED["training"]["cv_folds"] == FOLDS


def test_the_shipped_arrays_reproduce_the_probabilities_training_recorded(examples: list[dict]) -> None:
    by_id = {example["id"]: example for example in examples}
    assert len(SHIPPED["probes"]) == PROBES
    classifier = Classifier.load()
    for probe in SHIPPED["probes"]:
        task, complexity = classifier.probabilities(by_id[probe["id"]]["messages"])
        np.testing.assert_allclose(task, probe["task"], atol=QUANTISATION, err_msg=probe["id"])
        np.testing.assert_allclose(complexity, probe["complexity"], atol=QUANTISATION, err_msg=probe["id"])


def test_training_is_deterministic_and_writes_what_it_fitted(tmp_path: Path, examples: list[dict]) -> None:
    subset = examples[::16]
    data = tmp_path / "subset.jsonl"
    data.write_text("".join(json.dumps(example, ensure_ascii=False) + "\n" for example in subset), encoding="utf-8")
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        train(data, CHOSEN, tmp_path / run / "classifier.npz", tmp_path / run / "classifier.json")
    assert (tmp_path / "a" / "classifier.json").read_bytes() == (tmp_path / "b" / "classifier.json").read_bytes()
    with np.load(tmp_path / "a" / "classifier.npz") as first, np.load(tmp_path / "b" / "classifier.npz") as second:
        assert first.files == second.files
        for name in first.files:
            np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    # What Classifier.load serves is the in-memory fit, calibrated by the written temperatures.
    written = json.loads((tmp_path / "a" / "classifier.json").read_text(encoding="utf-8"))
    model = Classifier.load(tmp_path / "a" / "classifier.npz", tmp_path / "a" / "classifier.json")
    task_scores, complexity_scores = fit_examples(subset, CHOSEN).logits([request_text(e["messages"]) for e in subset])
    expected_task = softmax(task_scores, written["task"]["temperature"])
    expected_complexity = softmax(complexity_scores, written["complexity"]["temperature"])
    for example, task, complexity in zip(subset, expected_task, expected_complexity):
        served_task, served_complexity = model.probabilities(example["messages"])
        np.testing.assert_allclose(served_task, task, atol=QUANTISATION, err_msg=example["id"])
        np.testing.assert_allclose(served_complexity, complexity, atol=QUANTISATION, err_msg=example["id"])
