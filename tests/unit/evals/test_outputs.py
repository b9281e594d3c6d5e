"""What a run writes: the table, JSON that reads back, JUnit XML that parses, Prometheus gauges, baselines."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from extproc.evals.base import Score
from extproc.evals.baseline import compare, load_baseline
from extproc.evals.command import parse_interval
from extproc.evals.metrics import push, write_textfile
from extproc.evals.report import junit_xml, table
from extproc.evals.results import CaseResult, SuiteResult


def run(*cases: CaseResult) -> SuiteResult:
    return SuiteResult("golden", "http://gw", 1_800_000_000.0, 1.25, list(cases))


def case(name: str, status: str, model: str = "fast", prompt: str | None = None, version: str | None = None) -> CaseResult:
    scores = [Score("contains", status == "passed", "" if status == "passed" else "missing 'PONG' in 'PING'")]
    return CaseResult(name, status, model, scores if status in ("passed", "failed") else [], "gpt-4o-mini", prompt, version,
                      0.05, 200 if status != "error" else None, "connect refused" if status == "error" else "")  # fmt: skip


RESULT = run(
    case("a", "passed"), case("b", "failed"), case("c", "passed", "smart"),
    case("d", "passed", prompt="support", version="3"), case("e", "failed", prompt="support", version="3"),
    case("f", "error"), case("g", "skipped"),
)  # fmt: skip


def test_pass_rates_per_suite_model_and_prompt_version() -> None:
    assert RESULT.pass_rate == pytest.approx(3 / 6)
    assert RESULT.by_model() == {"fast": pytest.approx(2 / 5), "smart": 1.0}
    assert RESULT.by_prompt_version() == {("support", "3"): 0.5}
    assert RESULT.counts() == {"passed": 3, "failed": 2, "error": 1, "skipped": 1}


def test_the_table_shows_each_case_and_why_it_failed() -> None:
    text = table(RESULT)
    assert "b     FAIL" in text and "g     skip" in text
    assert "golden: 50.0% passed (3 passed, 2 failed, 1 errors, 1 skipped)" in text
    assert "by prompt: support@3 50.0%" in text
    assert "  b: contains: missing 'PONG' in 'PING'" in text and "  f: connect refused" in text


def test_json_reads_back_the_same() -> None:
    again = SuiteResult.from_json(orjson.loads(orjson.dumps(RESULT.to_json())))
    assert again.cases == RESULT.cases and again.pass_rate == RESULT.pass_rate


def test_junit_parses_with_a_testcase_per_case() -> None:
    root = ET.fromstring(junit_xml(RESULT))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "golden"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("7", "2", "1", "1")
    cases = {element.get("name"): element for element in suite.findall("testcase")}
    assert set(cases) == set("abcdefg")
    failure = cases["b"].find("failure")
    assert failure is not None and "missing 'PONG'" in (failure.get("message") or "")
    assert cases["f"].find("error") is not None and cases["g"].find("skipped") is not None
    assert cases["a"].find("failure") is None and cases["a"].get("classname") == "golden.fast"


def test_gauges_for_node_exporters_textfile_collector(tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "llm_gateway_eval_golden.prom"
    write_textfile(RESULT, path, regression=True)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(path.read_text())
        for sample in family.samples
    }
    assert samples[("llm_gateway_eval_pass_ratio", (("suite", "golden"),))] == 0.5
    assert samples[("llm_gateway_eval_model_pass_ratio", (("model", "smart"), ("suite", "golden")))] == 1.0
    assert samples[("llm_gateway_eval_prompt_pass_ratio", (("prompt", "support"), ("prompt_version", "3"), ("suite", "golden")))] == 0.5
    assert samples[("llm_gateway_eval_cases", (("result", "error"), ("suite", "golden")))] == 1
    assert samples[("llm_gateway_eval_last_run_timestamp_seconds", (("suite", "golden"),))] == 1_800_000_000.0
    assert samples[("llm_gateway_eval_baseline_regression", (("suite", "golden"),))] == 1.0
    assert not list(tmp_path.glob("textfile/*.tmp*"))  # replaced atomically, nothing left behind


@pytest.fixture()
def pushgateway() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    """A stand-in for a Prometheus Pushgateway: records what is pushed to it."""
    received: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # the http.server API
            received.append(("PUT", self.path, self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


def test_gauges_pushed_to_a_pushgateway_group_by_suite(pushgateway: tuple[str, list[tuple[str, str, bytes]]]) -> None:
    url, received = pushgateway
    push(RESULT, url)
    ((method, path, body),) = received
    assert (method, path) == ("PUT", "/metrics/job/llm_gateway_eval/suite/golden")
    assert b'llm_gateway_eval_pass_ratio{suite="golden"} 0.5' in body
    assert b"llm_gateway_eval_baseline_regression" not in body  # no baseline, no regression gauge


def test_a_drop_beyond_the_margin_is_a_regression(tmp_path: Path) -> None:
    baseline_path = tmp_path / "baseline.json"
    baseline_path.write_bytes(orjson.dumps(run(case("a", "passed"), case("b", "passed"), case("p1", "passed", prompt="support"),
                                                case("p2", "passed", prompt="support")).to_json()))  # fmt: skip
    baseline = load_baseline(baseline_path)
    same = compare(baseline, baseline, margin=0.0)
    assert not same.regressed and same.newly_failing == []
    broken_prompt = run(case("a", "passed"), case("b", "passed"), case("p1", "failed", prompt="support"),
                        case("p2", "failed", prompt="support"))  # fmt: skip
    comparison = compare(baseline, broken_prompt, margin=0.25)
    assert comparison.regressed and comparison.newly_failing == ["p1", "p2"]
    assert ("prompt support", 1.0, 0.0) in comparison.regressions
    assert ("suite golden", 1.0, 0.5) in comparison.regressions
    within = compare(baseline, run(case("a", "passed"), case("b", "failed"), case("p1", "passed", prompt="support"),
                                   case("p2", "passed", prompt="support")), margin=0.25)  # fmt: skip
    assert not within.regressed and within.newly_failing == ["b"]  # 25 points on fast: not beyond the margin
    assert "newly failing: b" in within.describe()


def test_a_baseline_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{"cases": []}')
    with pytest.raises(ValueError, match="not the JSON of an eval run"):
        load_baseline(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="not a readable eval run"):
        load_baseline(path)


def test_intervals() -> None:
    assert [parse_interval(t) for t in ("90s", "15m", "1h", "1.5h", "1d")] == [90, 900, 3600, 5400, 86400]
    for bad in ("1", "h", "0h", "-1h", "1w"):
        with pytest.raises(ValueError, match="30m, 1h, 1d"):
            parse_interval(bad)
