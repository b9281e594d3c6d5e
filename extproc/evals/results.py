"""The outcome of a run: each case's scores, and pass rates for the suite, per model and per prompt version.

Its JSON (`to_json`) is what `--json` writes and what `--baseline` reads back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from extproc.evals.base import Score

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
FORMAT_VERSION = 1


@dataclass(slots=True)
class CaseResult:
    """One case: whether it passed, each scorer's verdict, and what served it."""

    case: str
    # passed, failed (a scorer said no), error (no answer: the gateway was unreachable), skipped.
    status: str
    # The model the case asked for (or its prompt's default, or what served it).
    model: str
    scores: list[Score] = field(default_factory=list)
    served_model: str | None = None
    prompt: str | None = None
    # The prompt version that answered, as the gateway reports it (or `local-<digest>` with --prompts).
    prompt_version: str | None = None
    latency_s: float = 0.0
    http_status: int | None = None
    detail: str = ""

    @property
    def counted(self) -> bool:
        """False for skipped cases, which count in no pass rate."""
        return self.status != SKIPPED

    @property
    def passed(self) -> bool:
        """True when every scorer passed."""
        return self.status == PASSED


@dataclass(slots=True)
class SuiteResult:
    """A run of one suite against one gateway."""

    suite: str
    gateway: str
    started_at: float
    duration_s: float
    cases: list[CaseResult]

    @property
    def pass_rate(self) -> float | None:
        """Passed over counted cases; None when no case counted."""
        return rate(self.cases)

    def counts(self) -> dict[str, int]:
        """How many cases ended in each status."""
        counts = dict.fromkeys((PASSED, FAILED, ERROR, SKIPPED), 0)
        for case in self.cases:
            counts[case.status] += 1
        return counts

    def by_model(self) -> dict[str, float | None]:
        """Pass rate per model."""
        return self._grouped(lambda case: case.model)

    def by_prompt(self) -> dict[str, float | None]:
        """Pass rate per prompt name (prompt cases only)."""
        return self._grouped(lambda case: case.prompt)

    def by_prompt_version(self) -> dict[tuple[str, str], float | None]:
        """Pass rate per (prompt, version)."""
        groups: dict[tuple[str, str], list[CaseResult]] = {}
        for case in self.cases:
            if case.prompt is not None:
                groups.setdefault((case.prompt, case.prompt_version or "unknown"), []).append(case)
        return {key: rate(cases) for key, cases in sorted(groups.items())}

    def _grouped(self, key: Callable[[CaseResult], str | None]) -> dict[str, float | None]:
        groups: dict[str, list[CaseResult]] = {}
        for case in self.cases:
            label = key(case)
            if label is not None:
                groups.setdefault(label, []).append(case)
        return {label: rate(cases) for label, cases in sorted(groups.items())}

    def to_json(self) -> dict[str, Any]:
        """The run as JSON (the `--json` output and the `--baseline` input)."""
        return {
            "format": FORMAT_VERSION, "suite": self.suite, "gateway": self.gateway, "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3), "pass_rate": self.pass_rate, "counts": self.counts(),
            "by_model": self.by_model(), "by_prompt": self.by_prompt(),
            "cases": [{**asdict(case), "scores": [asdict(score) for score in case.scores]} for case in self.cases],
        }  # fmt: skip

    @staticmethod
    def from_json(value: dict[str, Any]) -> SuiteResult:
        """A run read back from `to_json`'s output; ValueError when it is not one."""
        if not isinstance(value, dict) or value.get("format") != FORMAT_VERSION or not isinstance(value.get("cases"), list):
            raise ValueError("not the JSON of an eval run (llm-gateway eval run --json FILE writes one)")
        cases = [
            CaseResult(**{**case, "scores": [Score(**score) for score in case.get("scores", [])]}) for case in value["cases"]
        ]
        return SuiteResult(value["suite"], value.get("gateway", ""), value.get("started_at", 0.0),
                           value.get("duration_s", 0.0), cases)  # fmt: skip


def rate(cases: list[CaseResult]) -> float | None:
    """Passed over counted cases; None when none counted."""
    counted = [case for case in cases if case.counted]
    return sum(case.passed for case in counted) / len(counted) if counted else None
