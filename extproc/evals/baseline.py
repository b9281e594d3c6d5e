"""A run against a stored baseline (an earlier run's `--json`): did any pass rate drop beyond the margin?

Pass rates are compared for the whole suite, per model, and per prompt (by
name: a new prompt version is exactly what a baseline should judge). A group
regresses when its pass rate fell by more than `margin` (0.05: five points);
a regression makes `eval run` exit non-zero. Cases that passed in the
baseline and do not now are listed either way, so a drop within the margin
is still visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from extproc.evals.results import SuiteResult


@dataclass(slots=True)
class Comparison:
    """What changed since the baseline."""

    margin: float
    # (group, baseline rate, current rate) for each group that fell by more than the margin.
    regressions: list[tuple[str, float, float]] = field(default_factory=list)
    # Cases that passed in the baseline and did not pass now.
    newly_failing: list[str] = field(default_factory=list)
    newly_passing: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        """True when some pass rate fell by more than the margin."""
        return bool(self.regressions)

    def describe(self) -> str:
        """A few lines for the terminal."""
        lines = [f"baseline: {'REGRESSION' if self.regressed else 'no regression'} (margin {self.margin * 100:g} points)"]
        lines += [f"  {group}: {before * 100:.1f}% -> {now * 100:.1f}%" for group, before, now in self.regressions]
        if self.newly_failing:
            lines.append("  newly failing: " + ", ".join(self.newly_failing))
        if self.newly_passing:
            lines.append("  newly passing: " + ", ".join(self.newly_passing))
        return "\n".join(lines) + "\n"


def load_baseline(path: str | Path) -> SuiteResult:
    """A baseline run from its JSON file; ValueError saying why it cannot be one."""
    try:
        return SuiteResult.from_json(orjson.loads(Path(path).read_bytes()))
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable eval run: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def compare(baseline: SuiteResult, current: SuiteResult, margin: float) -> Comparison:
    """`current` against `baseline`: groups whose pass rate fell by more than `margin`, and the cases that changed."""
    comparison = Comparison(margin)
    groups = [("suite " + current.suite, baseline.pass_rate, current.pass_rate)]
    for label, before_rates, now_rates in (("model", baseline.by_model(), current.by_model()),
                                           ("prompt", baseline.by_prompt(), current.by_prompt())):  # fmt: skip
        groups += [(f"{label} {key}", before_rates[key], now_rates[key]) for key in now_rates if key in before_rates]
    for group, before, now in groups:
        if before is not None and now is not None and before - now > margin + 1e-9:
            comparison.regressions.append((group, before, now))
    before_cases = {case.case: case for case in baseline.cases if case.counted}
    for case in current.cases:
        old = before_cases.get(case.case)
        if old is None or not case.counted:
            continue
        if old.passed and not case.passed:
            comparison.newly_failing.append(case.case)
        elif case.passed and not old.passed:
            comparison.newly_passing.append(case.case)
    return comparison
