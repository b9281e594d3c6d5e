"""Precision and recall of the redaction detector, per entity, on the labelled corpus.

    .venv/bin/python -m benchmarks.pii_eval [--corpus tests/data/pii_corpus.jsonl] [--cost]

Every text of `tests/data/pii_corpus.jsonl` (positives, hard negatives, and
texts cut into stream chunks) goes through the same detector the gateway
runs. A finding is a true positive when it overlaps a labelled value of its
type. The split texts also go through the streaming output guard chunk by
chunk: a labelled value any part of whose characters reach the output counts
as a leak. `--cost` adds the detector's time on 1, 8 and 64 KB prompts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extproc.redaction.detector import Detector, Finding
from extproc.redaction.entities import ENTITIES
from extproc.redaction.output import OutputGuard

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii_corpus.jsonl"
# The targets: recall for these entities, precision for all.
RECALL_TARGETS = {"EMAIL_ADDRESS": 0.98, "CREDIT_CARD": 0.98, "US_SSN": 0.98, "PHONE_NUMBER": 0.98}
PRECISION_TARGET = 0.95


@dataclass
class Scores:
    """Counts per entity over the corpus, and what went wrong where."""

    true_positives: Counter[str] = field(default_factory=Counter)
    false_positives: Counter[str] = field(default_factory=Counter)
    false_negatives: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)
    stream_leaks: list[str] = field(default_factory=list)
    streamed_texts: int = 0

    def precision(self, entity: str) -> float:
        """Findings of `entity` that were labelled, over all its findings (1.0 with none)."""
        found = self.true_positives[entity] + self.false_positives[entity]
        return self.true_positives[entity] / found if found else 1.0

    def recall(self, entity: str) -> float:
        """Labelled values of `entity` found, over all of them (1.0 with none)."""
        labelled = self.true_positives[entity] + self.false_negatives[entity]
        return self.true_positives[entity] / labelled if labelled else 1.0

    def failures(self) -> list[str]:
        """The targets this run misses, in words (empty when all are met)."""
        out = []
        for entity in ENTITIES:
            if self.precision(entity) < PRECISION_TARGET:
                out.append(f"{entity} precision {self.precision(entity):.3f} < {PRECISION_TARGET}")
            target = RECALL_TARGETS.get(entity)
            if target is not None and self.recall(entity) < target:
                out.append(f"{entity} recall {self.recall(entity):.3f} < {target}")
        if self.stream_leaks:
            out.append(f"{len(self.stream_leaks)} labelled values leaked from a split stream")
        return out


def load_corpus(path: Path = CORPUS) -> list[dict[str, Any]]:
    """The corpus's records, one per line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(records: list[dict[str, Any]], detector: Detector) -> Scores:
    """Score `detector` on every record, and stream the split ones through an output guard."""
    scores = Scores()
    for record in records:
        text = record["text"]
        gold = [(e["type"], text.index(e["value"]), text.index(e["value"]) + len(e["value"])) for e in record["entities"]]
        findings = detector.find(text)
        _score(record["id"], text, gold, findings, scores)
        if record.get("chunks"):
            _stream(record, gold, detector, scores)
    return scores


def _score(record_id: str, text: str, gold: list[tuple[str, int, int]], findings: list[Finding], scores: Scores) -> None:
    matched = set()
    for finding in findings:
        hit = next(
            (i for i, (entity, start, end) in enumerate(gold)
             if entity == finding.entity and finding.start < end and start < finding.end),
            None,
        )  # fmt: skip
        if hit is None:
            scores.false_positives[finding.entity] += 1
            scores.false_alarms.append(f"{record_id}: {finding.entity} {text[finding.start:finding.end]!r}")
        elif hit not in matched:
            matched.add(hit)
            scores.true_positives[finding.entity] += 1
    for index, (entity, start, end) in enumerate(gold):
        if index not in matched:
            scores.false_negatives[entity] += 1
            scores.misses.append(f"{record_id}: {entity} {text[start:end]!r}")


def _stream(record: dict[str, Any], gold: list[tuple[str, int, int]], detector: Detector, scores: Scores) -> None:
    """The chunks through the output guard, as a streamed completion: no labelled value may leak."""
    scores.streamed_texts += 1
    stream = OutputGuard(detector, block=False, restore=None).stream()
    out = "".join(stream.feed(chunk) for chunk in record["chunks"]) + stream.flush()
    for entity, start, end in gold:
        value = record["text"][start:end]
        # A leak is the value, or a tell-tale piece of it (its longest digit or letter run), in the output.
        if value in out or _tail(value) in out:
            scores.stream_leaks.append(f"{record['id']}: {entity} {value!r}")


def _tail(value: str) -> str:
    """The last 8 characters of a value: long enough never to occur by chance in the rest of a text."""
    return value[-8:] if len(value) >= 12 else value


def report(scores: Scores) -> str:
    """The table of precision and recall per entity, and the failures listed."""
    lines = [f"{'entity':<15}{'labelled':>9}{'found':>7}{'TP':>6}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}"]
    for entity in ENTITIES:
        tp, fp, fn = scores.true_positives[entity], scores.false_positives[entity], scores.false_negatives[entity]
        lines.append(
            f"{entity:<15}{tp + fn:>9}{tp + fp:>7}{tp:>6}{fp:>5}{fn:>5}"
            f"{scores.precision(entity):>11.3f}{scores.recall(entity):>8.3f}"
        )
    lines.append(f"split texts streamed through the output guard: {scores.streamed_texts}, leaks: {len(scores.stream_leaks)}")
    for title, items in (("missed", scores.misses), ("false alarms", scores.false_alarms), ("leaked", scores.stream_leaks)):
        if items:
            lines.append(f"{title}:")
            lines.extend(f"  {item}" for item in items)
    return "\n".join(lines)


def cost_table(detector: Detector, repeats: int = 20) -> str:
    """Milliseconds to scan prompts of 1, 8 and 64 KB: prose with a few values, as prompts are."""
    records = load_corpus()
    prose = " ".join(r["text"] for r in records if r["category"] == "hard_negative")
    with_values = " ".join(r["text"] for r in records if r["category"] == "positive")
    lines = [f"{'prompt':>8}{'p50 ms':>9}{'p99 ms':>9}{'findings':>10}"]
    for size in (1024, 8192, 65536):
        # Mostly look-alikes (the hard negatives) with one text of values per ~2 KB.
        text = ""
        while len(text) < size:
            text += prose[len(text) % len(prose):][:1800] + " " + with_values[len(text) % len(with_values):][:200] + " "
        text = text[:size]
        times = []
        findings = 0
        for _ in range(repeats):
            started = time.perf_counter()
            findings = len(detector.find(text))
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        lines.append(f"{size // 1024:>6}KB{statistics.median(times):>9.2f}{times[int(len(times) * 0.99) - 1]:>9.2f}{findings:>10}")
    return "\n".join(lines)


def main() -> int:
    """Print the scores (and costs); exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--cost", action="store_true", help="also time the detector on 1, 8 and 64 KB prompts")
    args = parser.parse_args()
    detector = Detector(ENTITIES)
    detector.find("warm up a@example.com")
    records = load_corpus(args.corpus)
    scores = evaluate(records, detector)
    categories = Counter(r["category"] for r in records)
    print(f"{len(records)} texts: " + ", ".join(f"{n} {c}" for c, n in sorted(categories.items())))
    print(report(scores))
    if args.cost:
        print(cost_table(detector))
    failures = scores.failures()
    for failure in failures:
        print(f"TARGET MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
