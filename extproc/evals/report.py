"""A run as people and CI read it: a terminal table, and JUnit XML (one test case per eval case)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import cast

from extproc.evals.results import ERROR, FAILED, SKIPPED, SuiteResult

_MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "skip"}


def table(result: SuiteResult) -> str:
    """One line per case, the failing scorers' details under it, then pass rates per model and prompt version."""
    rows = [("CASE", "RESULT", "MODEL", "SERVED BY", "PROMPT", "MS", "SCORERS")]
    notes: list[str] = []
    for case in result.cases:
        prompt = f"{case.prompt}@{case.prompt_version}" if case.prompt else "-"
        passed = sum(score.passed for score in case.scores)
        rows.append((case.case, _MARK[case.status], case.model, case.served_model or "-", prompt,
                     f"{case.latency_s * 1000:.0f}" if case.http_status else "-",
                     f"{passed}/{len(case.scores)}" if case.scores else "-"))  # fmt: skip
        for score in case.scores:
            if not score.passed:
                notes.append(f"  {case.case}: {score.scorer}: {score.detail}")
        if case.detail and case.status in (ERROR, SKIPPED):
            notes.append(f"  {case.case}: {case.detail}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines += ["", summary(result).rstrip("\n")]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines) + "\n"


def summary(result: SuiteResult) -> str:
    """The run in three lines: counts, pass rate per model, per prompt version."""
    counts = result.counts()
    lines = [
        f"{result.suite}: {_percent(result.pass_rate)} passed ({counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['error']} errors, {counts['skipped']} skipped) in {result.duration_s:.1f}s against {result.gateway}",
        "by model: " + ", ".join(f"{model} {_percent(rate)}" for model, rate in result.by_model().items()),
    ]
    versions = result.by_prompt_version()
    if versions:
        shown = (f"{name}@{version} {_percent(rate)}" for (name, version), rate in versions.items())
        lines.append("by prompt: " + ", ".join(shown))
    return "\n".join(lines) + "\n"


def junit_xml(result: SuiteResult) -> bytes:
    """JUnit XML: a <testsuite> of the run, a <testcase> per case with <failure>, <error> or <skipped>."""
    counts = result.counts()
    suites = ET.Element("testsuites", name="llm-gateway eval", tests=str(len(result.cases)),
                        failures=str(counts[FAILED]), errors=str(counts[ERROR]), skipped=str(counts[SKIPPED]),
                        time=f"{result.duration_s:.3f}")  # fmt: skip
    suite = ET.SubElement(suites, "testsuite", name=result.suite, tests=str(len(result.cases)),
                          failures=str(counts[FAILED]), errors=str(counts[ERROR]), skipped=str(counts[SKIPPED]),
                          time=f"{result.duration_s:.3f}")  # fmt: skip
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="gateway", value=result.gateway)
    ET.SubElement(properties, "property", name="pass_rate", value=_percent(result.pass_rate))
    for case in result.cases:
        element = ET.SubElement(suite, "testcase", classname=f"{result.suite}.{case.model}", name=case.case,
                                time=f"{case.latency_s:.3f}")  # fmt: skip
        failed = [score for score in case.scores if not score.passed]
        if case.status == FAILED:
            failure = ET.SubElement(element, "failure", message="; ".join(f"{s.scorer}: {s.detail}" for s in failed)[:1000],
                                    type="eval")  # fmt: skip
            failure.text = "\n".join(f"{s.scorer}: {s.detail}" for s in failed)
        elif case.status == ERROR:
            ET.SubElement(element, "error", message=case.detail[:1000], type="transport")
        elif case.status == SKIPPED:
            ET.SubElement(element, "skipped", message=case.detail)
        served = f"served by {case.served_model}" if case.served_model else ""
        prompt = f"prompt {case.prompt}@{case.prompt_version}" if case.prompt else ""
        if served or prompt:
            ET.SubElement(element, "system-out").text = "; ".join(part for part in (served, prompt) if part)
    ET.indent(suites)
    # typeshed types tostring as Any for any encoding but "unicode"; an encoded document is bytes.
    return cast("bytes", ET.tostring(suites, encoding="utf-8", xml_declaration=True)) + b"\n"


def write_junit(result: SuiteResult, path: str | Path) -> None:
    """Write `junit_xml` to `path`."""
    Path(path).write_bytes(junit_xml(result))


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"
