"""The detector on the labelled corpora: the issue's precision and recall targets, and no stream leaks.

`benchmarks/pii_eval.py` prints the same figures per entity.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.pii_eval import CORPUS, evaluate, load_corpus, report
from extproc.redaction.detector import Detector
from extproc.redaction.entities import ENTITIES

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", ["pii_corpus.jsonl", "pii_holdout.jsonl"])
def test_targets_are_met_on_the_corpus(name: str) -> None:
    records = load_corpus(CORPUS.parent / name)
    assert len(records) >= 250
    scores = evaluate(records, Detector(ENTITIES))
    assert scores.failures() == [], report(scores)


@pytest.mark.parametrize("script", ["make_pii_corpus.py", "make_pii_holdout.py"])
def test_the_corpora_are_what_their_generators_write(script: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "data" / script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
