"""The routing classifier's training: deterministic, and the shipped model is what train.py writes from the shipped data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from extproc.routing.classifier import MODEL_FILE, SETTINGS_FILE, Classifier
from extproc.routing.features import Featurizer, FeatureSettings
from extproc.routing.train import CHOSEN, TRAINING_SET, fit_examples, load_examples, train, write_model

SHIPPED = json.loads(SETTINGS_FILE.read_text(encoding="utf-8"))


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def _weights(arrays: dict[str, np.ndarray], name: str, n_features: int) -> np.ndarray:
    dense = np.zeros((n_features, arrays[f"{name}_values"].shape[1]))
    dense[arrays[f"{name}_columns"]] = arrays[f"{name}_values"] * float(arrays[f"{name}_scale"])
    return dense


def test_the_shipped_model_was_trained_on_the_shipped_data_with_the_chosen_settings() -> None:
    assert SHIPPED["training"]["data_sha256"] == hashlib.sha256(TRAINING_SET.read_bytes()).hexdigest(), (
        "train.jsonl changed since the model was trained: run python -m extproc.routing.train"
    )
    assert FeatureSettings.from_dict(SHIPPED["features"]) == CHOSEN.features
    assert (SHIPPED["task"]["c"], SHIPPED["complexity"]["c"]) == (CHOSEN.task_c, CHOSEN.complexity_c)


@pytest.mark.timeout(1200)
def test_refitting_on_the_training_set_gives_the_shipped_weights(tmp_path: Path) -> None:
    # The cross-validation that sets the temperatures is not repeated here (it is five more fits);
    # the weights are the whole of what the final fit decides.
    examples = load_examples()
    report = {
        "task_temperature": SHIPPED["task"]["temperature"],
        "complexity_temperature": SHIPPED["complexity"]["temperature"],
        "task_accuracy": SHIPPED["training"]["cv_task_accuracy"],
        "complexity_accuracy": SHIPPED["training"]["cv_complexity_accuracy"],
    }
    write_model(fit_examples(examples, CHOSEN), report, SHIPPED["training"]["data_sha256"], len(examples),
                tmp_path / "classifier.npz", tmp_path / "classifier.json")
    assert json.loads((tmp_path / "classifier.json").read_text(encoding="utf-8")) == SHIPPED
    shipped, refitted = _arrays(MODEL_FILE), _arrays(tmp_path / "classifier.npz")
    np.testing.assert_array_equal(shipped["idf"], refitted["idf"])
    n_features = Featurizer(FeatureSettings.from_dict(SHIPPED["features"])).n_features
    for head in ("task", "complexity"):
        np.testing.assert_allclose(_weights(shipped, head, n_features), _weights(refitted, head, n_features), atol=1e-3)
        np.testing.assert_allclose(shipped[f"{head}_intercepts"], refitted[f"{head}_intercepts"], atol=1e-3)


@pytest.mark.timeout(600)
def test_training_is_deterministic(tmp_path: Path) -> None:
    subset = load_examples()[::8]
    data = tmp_path / "subset.jsonl"
    data.write_text("".join(json.dumps(example, ensure_ascii=False) + "\n" for example in subset), encoding="utf-8")
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        train(data, CHOSEN, tmp_path / run / "classifier.npz", tmp_path / run / "classifier.json")
    assert (tmp_path / "a" / "classifier.json").read_bytes() == (tmp_path / "b" / "classifier.json").read_bytes()
    first, second = _arrays(tmp_path / "a" / "classifier.npz"), _arrays(tmp_path / "b" / "classifier.npz")
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    # And the files it writes are a model Classifier.load reads.
    model = Classifier.load(tmp_path / "a" / "classifier.npz", tmp_path / "a" / "classifier.json")
    assert model.classify([{"role": "user", "content": "hello"}]).task
