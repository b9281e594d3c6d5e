"""Train the routing classifier and write the shipped model (`extproc/routing/data/`).

    python -m extproc.routing.train              # fit CHOSEN on the training set, write the model
    python -m extproc.routing.train --select     # first cross-validate CANDIDATES, print the table

Cross-validation is grouped by source (group_of): every request of one hand-written file, and
every draw of one instruction, stays in one fold, so a score never rewards remembering a
near-copy or a writing session's habits. The confidences' temperatures are fitted on the
cross-validated predictions of CHOSEN. Everything is deterministic (no random state in the solver
or the folds), so the same data gives the same file; the written settings also record the
probabilities of a few training examples (PROBES), so a test can check cheaply that the shipped
arrays are the fit those settings describe.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.naive_bayes import ComplementNB, MultinomialNB

from extproc.routing.classifier import COMPLEXITIES, MODEL_FILE, SETTINGS_FILE, TASKS
from extproc.routing.features import FeatureSettings, Featurizer
from extproc.routing.text import RequestText, request_text

TRAINING_SET = Path(__file__).resolve().parents[2] / "tests" / "data" / "routing" / "train.jsonl"
FOLDS = 5
# Columns whose largest weight magnitude is below this are left out of the shipped file, to keep
# it small; such a weight moves a score by at most 0.001 per unit of its (L2-normalised) feature.
PRUNE_BELOW = 1e-3


@dataclass(frozen=True)
class ModelSettings:
    """Features and regularisation: what --select chooses between."""

    features: FeatureSettings = field(default_factory=FeatureSettings)
    task_c: float = 10.0
    complexity_c: float = 10.0
    # "balanced" weighs each class by the inverse of its share of the training set.
    class_weight: str | None = None
    # A naive Bayes model added to each head's logistic regression ("complement" or
    # "multinomial", with its smoothing alpha); nb_weight 0 leaves it out. Both are linear in the
    # features, so the sum is one weight matrix and serving is unchanged.
    task_nb: tuple[str, float] = ("complement", 0.3)
    complexity_nb: tuple[str, float] = ("multinomial", 0.03)
    nb_weight: float = 0.0

    def as_dict(self) -> dict:
        """JSON-ready settings."""
        return {"features": self.features.as_dict(), "task_c": self.task_c, "complexity_c": self.complexity_c,
                "class_weight": self.class_weight, "task_nb": list(self.task_nb),
                "complexity_nb": list(self.complexity_nb), "nb_weight": self.nb_weight}


# Chosen by grouped 5-fold cross-validation (docs/benchmarks.md, "Routing classifier"): the
# cue counts lifted task accuracy from 0.72 to 0.86; an instruction-edges block of its own, a
# larger cue scale and other regularisations did no better.
CHOSEN = ModelSettings(features=FeatureSettings(cue_scale=0.5, split=True), task_c=30.0, complexity_c=10.0,
                       class_weight="balanced", nb_weight=1.0)
CANDIDATES = [
    CHOSEN,
    replace(CHOSEN, nb_weight=0.0),
    replace(CHOSEN, task_nb=("complement", 1.0), complexity_nb=("complement", 0.3)),
    replace(CHOSEN, class_weight=None),
    replace(CHOSEN, features=replace(CHOSEN.features, split=False)),
    replace(CHOSEN, features=replace(CHOSEN.features, material_bits=16)),
    replace(CHOSEN, task_c=10.0, complexity_c=3.0),
]
# Training examples whose probabilities the written settings record (every len/PROBES-th).
PROBES = 12


@dataclass
class Fitted:
    """A trained model in memory: weights over every feature column, in TASKS/COMPLEXITIES order."""

    settings: ModelSettings
    idf: np.ndarray
    task_weights: np.ndarray
    task_intercepts: np.ndarray
    complexity_weights: np.ndarray
    complexity_intercepts: np.ndarray

    def logits(self, texts: Sequence[RequestText]) -> tuple[np.ndarray, np.ndarray]:
        """Raw scores of both heads for `texts`."""
        matrix = Featurizer(self.settings.features, idf=self.idf).matrix(texts)
        return (matrix @ self.task_weights + self.task_intercepts,
                matrix @ self.complexity_weights + self.complexity_intercepts)


def load_examples(path: Path = TRAINING_SET) -> list[dict]:
    """The labelled examples of a JSON Lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def group_of(example_id: str, by: str = "source") -> str:
    """The cross-validation group of an example, from its id (tests/data/routing/make_train.py).

    by="request": an instruction's draws ("d012-3") and a request repeated after an unrelated
    exchange ("...-ctx") share a group; every other request is its own. by="source" (the
    default, stricter): every request of one hand-written file shares a group, so a fold is
    scored by a model that never saw that writing session, which is closer to a held-out set
    written by someone else; this is also what the temperatures are fitted on.
    """
    example_id = example_id.removesuffix("-ctx")
    head, _, tail = example_id.rpartition("-")
    if head.startswith("d") and head[1:].isdigit() and tail.isdigit():
        return head
    if by == "request":
        return example_id
    return head.removeprefix("w-") if tail.isdigit() else example_id


def fit(texts: Sequence[RequestText], tasks: Sequence[str], complexities: Sequence[str], settings: ModelSettings) -> Fitted:
    """Fit both heads on `texts`.

    Only the columns that occur in `texts` go to the solvers (with an L2 penalty the others stay
    at zero anyway, and naive Bayes has nothing to say about them), which makes L-BFGS several
    times faster than over every hashed slot.
    """
    featurizer = Featurizer(settings.features)
    featurizer.fit_idf(texts)
    matrix = featurizer.matrix(texts)
    used = np.unique(matrix.indices)
    compact = matrix[:, used]
    heads = []
    for labels, targets, c, nb in ((TASKS, tasks, settings.task_c, settings.task_nb),
                                   (COMPLEXITIES, complexities, settings.complexity_c, settings.complexity_nb)):
        model = LogisticRegression(C=c, max_iter=3000, class_weight=settings.class_weight).fit(compact, targets)
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:
            # Binary: one score for the second class; as two symmetric columns it is a softmax.
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        order = [list(model.classes_).index(label) for label in labels]
        coef = coef[order]
        if settings.nb_weight:
            coef = coef + settings.nb_weight * _naive_bayes_weights(compact, targets, labels, *nb)
        weights = np.zeros((matrix.shape[1], len(labels)))
        weights[used] = coef.T
        heads += [weights, intercept[order]]
    return Fitted(settings, featurizer.idf, *heads)


def _naive_bayes_weights(matrix, targets: Sequence[str], labels: tuple[str, ...], kind: str, alpha: float) -> np.ndarray:  # noqa: ANN001
    """A naive Bayes model's log-likelihood weights (classes x columns), centred per column.

    Uniform class priors (like the balanced regression). Centring subtracts the same amount from
    every class's score, so probabilities are unchanged, and a column that says nothing about
    the class gets weights near zero.
    """
    model_type = ComplementNB if kind == "complement" else MultinomialNB
    model = model_type(alpha=alpha, fit_prior=False).fit(matrix, targets)
    log_likelihood = model.feature_log_prob_[[list(model.classes_).index(label) for label in labels]]
    return log_likelihood - log_likelihood.mean(axis=0, keepdims=True)


def cross_val_logits(examples: Sequence[dict], settings: ModelSettings, folds: int = FOLDS,
                     by: str = "source") -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold scores of every example (folds grouped by group_of(id, by))."""
    texts = [request_text(example["messages"]) for example in examples]
    tasks = np.array([example["task"] for example in examples])
    complexities = np.array([example["complexity"] for example in examples])
    task = np.zeros((len(examples), len(TASKS)))
    complexity = np.zeros((len(examples), len(COMPLEXITIES)))
    splitter = GroupKFold(n_splits=folds)
    for train, test in splitter.split(texts, tasks, [group_of(example["id"], by) for example in examples]):
        fitted = fit([texts[i] for i in train], tasks[train], complexities[train], settings)
        task[test], complexity[test] = fitted.logits([texts[i] for i in test])
    return task, complexity


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of scores / temperature."""
    scaled = scores / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, labels: Sequence[int]) -> float:
    """The temperature that minimises the log loss of softmax(scores / T) (a grid, then refined)."""
    labels = np.asarray(labels)

    def loss(t: float) -> float:
        return float(-np.log(softmax(scores, t)[np.arange(len(labels)), labels] + 1e-12).mean())

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 200))
    best = min(grid, key=loss)
    fine = np.linspace(best * 0.95, best * 1.05, 41)
    return round(float(min(fine, key=loss)), 4)


def cv_report(examples: Sequence[dict], settings: ModelSettings) -> dict:
    """Cross-validated accuracy and fitted temperatures of `settings`."""
    task_scores, complexity_scores = cross_val_logits(examples, settings)
    task_labels = [TASKS.index(example["task"]) for example in examples]
    complexity_labels = [COMPLEXITIES.index(example["complexity"]) for example in examples]
    return {
        "task_accuracy": round(float((task_scores.argmax(axis=1) == task_labels).mean()), 4),
        "complexity_accuracy": round(float((complexity_scores.argmax(axis=1) == complexity_labels).mean()), 4),
        "task_temperature": fit_temperature(task_scores, task_labels),
        "complexity_temperature": fit_temperature(complexity_scores, complexity_labels),
    }


def probes(fitted: Fitted, examples: Sequence[dict], temperatures: tuple[float, float]) -> list[dict]:
    """Calibrated probabilities of every len/PROBES-th example under `fitted`, rounded, with their ids."""
    chosen = list(examples[::max(1, len(examples) // PROBES)])[:PROBES]
    task, complexity = fitted.logits([request_text(example["messages"]) for example in chosen])
    task, complexity = softmax(task, temperatures[0]), softmax(complexity, temperatures[1])
    return [{"id": example["id"], "task": [round(float(p), 4) for p in t], "complexity": [round(float(p), 4) for p in c]}
            for example, t, c in zip(chosen, task, complexity)]


def write_model(fitted: Fitted, report: dict, data_sha256: str, examples: Sequence[dict],
                model_file: Path = MODEL_FILE, settings_file: Path = SETTINGS_FILE) -> None:
    """The arrays (npz) and settings (JSON) that Classifier.load reads."""
    arrays = {"idf": fitted.idf.astype(np.float32)}
    for name, weights, intercepts in (("task", fitted.task_weights, fitted.task_intercepts),
                                      ("complexity", fitted.complexity_weights, fitted.complexity_intercepts)):
        columns = np.flatnonzero(np.abs(weights).max(axis=1) >= PRUNE_BELOW).astype(np.int32)
        scale = float(np.abs(weights).max()) / 32767
        arrays[f"{name}_columns"] = columns
        arrays[f"{name}_values"] = np.round(weights[columns] / scale).astype(np.int16)
        arrays[f"{name}_scale"] = np.float64(scale)
        arrays[f"{name}_intercepts"] = intercepts.astype(np.float32)
    model_file.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(model_file, **arrays)
    metadata = {
        "format": 1,
        "features": fitted.settings.features.as_dict(),
        "task": {"labels": list(TASKS), "c": fitted.settings.task_c, "temperature": report["task_temperature"]},
        "complexity": {"labels": list(COMPLEXITIES), "c": fitted.settings.complexity_c,
                       "temperature": report["complexity_temperature"]},
        "class_weight": fitted.settings.class_weight,
        "training": {
            "examples": len(examples),
            "data_sha256": data_sha256,
            "cv_folds": FOLDS,
            "cv_groups": "source",
            "cv_task_accuracy": report["task_accuracy"],
            "cv_complexity_accuracy": report["complexity_accuracy"],
        },
        "probes": probes(fitted, examples, (report["task_temperature"], report["complexity_temperature"])),
    }
    settings_file.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def fit_examples(examples: Sequence[dict], settings: ModelSettings = CHOSEN) -> Fitted:
    """Fit both heads on labelled examples."""
    texts = [request_text(example["messages"]) for example in examples]
    return fit(texts, [e["task"] for e in examples], [e["complexity"] for e in examples], settings)


def train(data: Path = TRAINING_SET, settings: ModelSettings = CHOSEN,
          model_file: Path = MODEL_FILE, settings_file: Path = SETTINGS_FILE) -> dict:
    """Cross-validate `settings` (for the temperatures), fit on all of `data`, write the model."""
    examples = load_examples(data)
    report = cv_report(examples, settings)
    fitted = fit_examples(examples, settings)
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    write_model(fitted, report, digest, examples, model_file, settings_file)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: optional model selection, then training."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=TRAINING_SET, help="labelled JSON Lines")
    parser.add_argument("--select", action="store_true", help="cross-validate CANDIDATES and print the table")
    parser.add_argument("--out", type=Path, default=MODEL_FILE.parent, help="directory for the model files")
    args = parser.parse_args(argv)
    if args.select:
        examples = load_examples(args.data)
        print("task_acc  cx_acc  seconds  settings")
        for candidate in CANDIDATES:
            started = time.perf_counter()
            report = cv_report(examples, candidate)
            print(f"{report['task_accuracy']:.4f}  {report['complexity_accuracy']:.4f}  "
                  f"{time.perf_counter() - started:7.1f}  {json.dumps(candidate.as_dict())}", flush=True)
    report = train(args.data, CHOSEN, args.out / MODEL_FILE.name, args.out / SETTINGS_FILE.name)
    print(f"wrote {args.out / MODEL_FILE.name}: cross-validated task accuracy {report['task_accuracy']}, "
          f"complexity accuracy {report['complexity_accuracy']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
