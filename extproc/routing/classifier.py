"""The task and complexity classifier: load the shipped model once, classify a request in well under 1 ms.

    classifier = Classifier.load()
    prediction = classifier.classify(body["messages"])
    prediction.task, prediction.task_confidence, prediction.complexity, prediction.complexity_confidence

The model is two linear heads (task: 7 classes; complexity: 2) over the same hashed features
(features.py); each head is a logistic regression plus a naive Bayes model, summed into one
weight matrix at training time (train.py). They are stored as plain arrays (`data/classifier.npz`: weights as int16 with a
scale, only the columns training used) and JSON settings (`data/classifier.json`), never a
pickle. A prediction is a sparse dot product: the row's non-zero columns pick rows of a dense
weight matrix. Confidences are softmax probabilities after temperature scaling fitted on
predictions cross-validated by source file, so "0.9" means right about 9 times in 10 on requests
written apart from the training set (benchmarks/routing_eval.py reports how well that holds on
two held-out sets: slightly under-confident). Only numpy is needed: scikit-learn
trains the model but is never imported here. Classify is synchronous and bounded (text.py reads
at most a head and tail of the last user turn), about 0.2 ms for 200 tokens.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from extproc.routing.features import FeatureSettings, Featurizer
from extproc.routing.text import request_text

DATA_DIR = Path(__file__).resolve().parent / "data"
MODEL_FILE = DATA_DIR / "classifier.npz"
SETTINGS_FILE = DATA_DIR / "classifier.json"
TASKS = (
    "code",
    "math",
    "summarization",
    "translation",
    "sentiment_analysis",
    "question_answering",
    "text_generation",
)
COMPLEXITIES = ("simple", "complex")


@dataclass(frozen=True, slots=True)
class Prediction:
    """The classifier's answer for one request; confidences are probabilities in [0, 1]."""

    task: str
    task_confidence: float
    complexity: str
    complexity_confidence: float

    @property
    def complex_probability(self) -> float:
        """P(complex), whichever complexity won."""
        if self.complexity == "complex":
            return self.complexity_confidence
        return 1.0 - self.complexity_confidence


@dataclass(frozen=True)
class Head:
    """One linear classifier: weights (features x classes), intercepts, temperature."""

    labels: tuple[str, ...]
    weights: np.ndarray
    intercepts: np.ndarray
    temperature: float

    def probabilities(self, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Class probabilities of one sparse row."""
        logits = (values @ self.weights[indices] + self.intercepts) / self.temperature
        logits -= logits.max()
        exp = np.exp(logits)
        return exp / exp.sum()


class Classifier:
    """Predicts a request's task and complexity from its messages."""

    def __init__(self, featurizer: Featurizer, task: Head, complexity: Head, metadata: dict) -> None:
        self._featurizer = featurizer
        self._task = task
        self._complexity = complexity
        self.metadata = metadata

    @classmethod
    def load(cls, model_file: Path = MODEL_FILE, settings_file: Path = SETTINGS_FILE) -> Classifier:
        """The model written by `python -m extproc.routing.train` (the shipped one by default)."""
        metadata = json.loads(settings_file.read_text(encoding="utf-8"))
        arrays = np.load(model_file)
        featurizer = Featurizer(FeatureSettings.from_dict(metadata["features"]), idf=arrays["idf"])
        heads = [
            Head(
                labels=tuple(metadata[name]["labels"]),
                weights=_dense_weights(arrays, name, featurizer.n_features),
                intercepts=arrays[f"{name}_intercepts"].astype(np.float32),
                temperature=float(metadata[name]["temperature"]),
            )
            for name in ("task", "complexity")
        ]
        return cls(featurizer, heads[0], heads[1], metadata)

    def probabilities(self, messages: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities of every task (TASKS order) and complexity (COMPLEXITIES order)."""
        indices, values = self._featurizer.row(request_text(messages))
        return self._task.probabilities(indices, values), self._complexity.probabilities(indices, values)

    def classify(self, messages: Sequence[Any]) -> Prediction:
        """The task and complexity of the last user turn of `messages` (OpenAI format)."""
        task, complexity = self.probabilities(messages)
        t, c = int(task.argmax()), int(complexity.argmax())
        return Prediction(self._task.labels[t], float(task[t]), self._complexity.labels[c], float(complexity[c]))


def _dense_weights(arrays: Any, name: str, n_features: int) -> np.ndarray:
    """A head's weights as a dense (features x classes) matrix from its stored non-zero columns."""
    columns = arrays[f"{name}_columns"]
    values = arrays[f"{name}_values"].astype(np.float32) * float(arrays[f"{name}_scale"])
    weights = np.zeros((n_features, values.shape[1]), dtype=np.float32)
    weights[columns] = values
    return weights
