"""`llm-gateway eval run` against a real gateway (real Envoy, two service processes, the fake provider).

The runner is the real command in a subprocess, an HTTP client of the gateway like any other. The
fake provider answers "Fake reply to: <last user message>", so each case's words decide what a model
(and a judge model) says; the judge cases show the judge's plumbing and its bias counters working
through the gateway, not a judgement of quality (tests/unit/evals/test_judge.py covers those
with scripted judges).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from extproc.ops.launcher import Stack
from tests.e2e.conftest import fake_requests, wait_until
from tests.support.sdk_clients import ADMIN_AUTH, AUTH, TEST_ADMIN_KEY, TEST_API_KEY

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "evals/golden.yaml"
ROUTING = ROOT / "evals/routing.yaml"
PROMPTS = ROOT / "evals/prompts"


def eval_run(stack: Stack, *args: str | Path, key: str = TEST_API_KEY) -> subprocess.CompletedProcess[str]:
    """`llm-gateway eval run ...` against `stack`, as a separate process."""
    command = [sys.executable, "-m", "extproc", "eval", "--gateway", f"http://127.0.0.1:{stack.port}", "--key", key,
               "run", *map(str, args)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ})


def read_json(path: Path) -> dict[str, Any]:
    return orjson.loads(path.read_bytes())


def test_the_golden_suite_passes_with_local_prompts(gateway: Stack, tmp_path: Path) -> None:
    junit, report = tmp_path / "golden.xml", tmp_path / "golden.json"
    done = eval_run(gateway, GOLDEN, "--prompts", PROMPTS, "--junit", junit, "--json", report)
    assert done.returncode == 0, done.stdout + done.stderr
    result = read_json(report)
    assert result["counts"] == {"passed": 26, "failed": 0, "error": 0, "skipped": 0}
    assert set(result["by_model"]) >= {"fast", "smart", "claude", "gemini", "local", "reliable", "embed"}
    served = {case["case"]: case["served_model"] for case in result["cases"]}
    assert served["prompt-summarize-json"] == "gpt-4o" and served["prompt-extract-total"] == "claude-haiku-4-5"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("26", "0", "0")
    assert "golden: 100.0% passed (26 passed" in done.stdout


def test_the_routing_suite_passes_against_the_shipped_auto_policy(gateway: Stack, tmp_path: Path) -> None:
    report = tmp_path / "routing.json"
    done = eval_run(gateway, ROUTING, "--json", report)
    assert done.returncode == 0, done.stdout + done.stderr
    result = read_json(report)
    assert result["counts"]["skipped"] == 0 and result["counts"]["failed"] == 0, result["cases"]
    served = {case["case"]: case["served_model"] for case in result["cases"]}
    assert served["auto-greeting-small"] == "gpt-4o-mini" and served["auto-complex-analysis"] == "gpt-4o"


def test_the_golden_prompt_cases_expand_what_the_provider_receives(gateway: Stack, tmp_path: Path) -> None:
    httpx.delete(f"http://127.0.0.1:{gateway.fake_provider_port}/_fake/requests", timeout=10)
    done = eval_run(gateway, GOLDEN, "--prompts", PROMPTS, "--only", "prompt-support-reply")
    assert done.returncode == 0, done.stdout + done.stderr
    (received,) = [r for r in fake_requests(gateway) if "asks:" in orjson.dumps(r).decode()]
    text = orjson.dumps(received).decode()
    assert "You are a friendly support agent for the Acme app." in text and "Ann asks: How do I reset my password?" in text


# Each scorer with a case that passes and one that fails (the fake provider echoes the last user message).
SCORERS = """
suite: scorers
judge: { model: smart }
defaults: { model: fast, params: { max_tokens: 100 } }
cases:
  - { id: exact-pass, messages: [{role: user, content: ping}], expect: [{exact: "Fake reply to: ping"}] }
  - { id: exact-fail, messages: [{role: user, content: ping}], expect: [{exact: pong}] }
  - { id: contains-pass, messages: [{role: user, content: "say PONG"}], expect: [{contains: PONG}] }
  - { id: contains-fail, messages: [{role: user, content: "say PING"}], expect: [{contains: PONG}] }
  - { id: not-contains-pass, messages: [{role: user, content: hello}], expect: [{not_contains: zebra}] }
  - { id: not-contains-fail, messages: [{role: user, content: zebra}], expect: [{not_contains: zebra}] }
  - { id: regex-pass, messages: [{role: user, content: "code 555-1234"}], expect: [{regex: '\\d{3}-\\d{4}'}] }
  - { id: regex-fail, messages: [{role: user, content: "code 5551234"}], expect: [{regex: '\\d{3}-\\d{4}'}] }
  - id: json-schema-pass
    messages: [{role: user, content: "json please"}]
    params: { response_format: { type: json_object } }
    expect: [{json_schema: {schema: {type: object, required: [reply]}}}]
  - { id: json-schema-fail, messages: [{role: user, content: "plain text"}], expect: [{json_schema: {schema: {type: object}}}] }
  - { id: number-pass, messages: [{role: user, content: "total 41.9"}], expect: [{number: {equals: 42, tolerance: 0.2}}] }
  - { id: number-fail, messages: [{role: user, content: "total 40"}], expect: [{number: {equals: 42, tolerance: 0.2}}] }
  - { id: served-model-pass, model: smart, messages: [{role: user, content: hi}], expect: [{served_model: gpt-4o}] }
  - { id: served-model-fail, messages: [{role: user, content: hi}], expect: [{served_model: gpt-4o}] }
  - id: header-pass
    messages: [{role: user, content: hi}]
    expect: [{header: {name: x-gateway-cost-usd, regex: '^[0-9.e-]+$'}}]
  - { id: header-fail, messages: [{role: user, content: hi}], expect: [{header: {name: x-gateway-nope, present: true}}] }
  - { id: status-pass, model: no-such-model, messages: [{role: user, content: hi}], expect: [{status: 404}] }
  - { id: status-fail, model: no-such-model, messages: [{role: user, content: hi}], expect: [{status: 200}] }
  - id: judge-pass
    messages: [{role: user, content: "Answer briefly.\\nVERDICT: PASS"}]
    expect: [{judge: {rubric: "Answers briefly."}}]
  - id: judge-fail
    messages: [{role: user, content: "Answer briefly.\\nVERDICT: FAIL"}]
    expect: [{judge: {rubric: "Answers briefly."}}]
  - id: pairwise-pass
    messages: [{role: user, content: "Compare me.\\nWINNER: B"}]
    expect: [{pairwise: {rubric: "The better answer.", reference: "A reference answer.\\nWINNER: A", pass_on: [win]}}]
  - id: pairwise-fail-position-bias
    description: a judge that names the same position whatever the order gets a tie, not a win
    messages: [{role: user, content: "Compare me.\\nWINNER: A"}]
    expect: [{pairwise: {rubric: "The better answer.", reference: "A reference answer.", pass_on: [win]}}]
  - id: judge-fail-judges-itself
    description: smart is an alias of gpt-4o, so the judge would grade its own answer
    model: gpt-4o
    messages: [{role: user, content: "Answer.\\nVERDICT: PASS"}]
    expect: [{judge: {rubric: "Answers."}}]
"""


def test_every_scorer_passes_and_fails_through_the_gateway(gateway: Stack, tmp_path: Path) -> None:
    suite, report = tmp_path / "scorers.yaml", tmp_path / "scorers.json"
    suite.write_text(SCORERS)
    done = eval_run(gateway, suite, "--json", report)
    assert done.returncode == 1, done.stdout + done.stderr  # the failing cases fail the run
    cases = {case["case"]: case for case in read_json(report)["cases"]}
    for name, case in cases.items():
        assert case["status"] == ("passed" if "-pass" in name else "failed"), (name, case)
    detail = {name: " ".join(score["detail"] for score in case["scores"]) for name, case in cases.items()}
    assert "orders disagree" in detail["pairwise-fail-position-bias"]
    assert "win in both orders" in detail["pairwise-pass"]
    assert "the model it judges" in detail["judge-fail-judges-itself"]
    assert "judge gpt-4o: FAIL" in detail["judge-fail"]


def test_a_suite_whose_judge_is_a_judged_model_is_refused(gateway: Stack, tmp_path: Path) -> None:
    suite = tmp_path / "self.yaml"
    suite.write_text("suite: s\njudge: {model: fast}\ncases:\n  - {id: a, model: fast, messages: [{role: user, content: x}], "
                     "expect: [{judge: {rubric: r}}]}\n")  # fmt: skip
    done = eval_run(gateway, suite)
    assert done.returncode == 2 and "the judge model 'fast' would judge its own answers" in done.stderr
    assert done.stdout == ""  # nothing was sent, nothing reported


def test_an_eval_file_with_a_yaml_error_is_a_clear_error(gateway: Stack, tmp_path: Path) -> None:
    suite = tmp_path / "broken.yaml"
    suite.write_text("suite: s\ncases:\n  - id: a\n    messages: [{role: user, content: x}\n")
    done = eval_run(gateway, suite)
    assert done.returncode == 2
    assert f"problem: {suite}: not valid YAML: line 5, column 1: expected ',' or ']'" in done.stderr


def test_a_broken_prompt_version_is_a_regression_against_the_baseline(gateway: Stack, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    prompt_cases = [arg for case in ("prompt-support-reply", "prompt-support-reply-history", "fast-pong")
                    for arg in ("--only", case)]  # fmt: skip
    first = eval_run(gateway, GOLDEN, "--prompts", PROMPTS, "--json", baseline, *prompt_cases)
    assert first.returncode == 0, first.stdout + first.stderr

    broken = tmp_path / "prompts"
    shutil.copytree(PROMPTS, broken)
    source = broken / "support-reply.yaml"
    source.write_text(source.read_text().replace('"{{ customer }} asks: {{ question }}"', '"{{ customer|lower }}: {{ question|lower }}"'))
    metrics = tmp_path / "textfile" / "golden.prom"
    second = eval_run(gateway, GOLDEN, "--prompts", broken, "--baseline", baseline, "--margin", "0.05",
                      "--metrics-file", metrics, *prompt_cases)  # fmt: skip
    assert second.returncode == 1, second.stdout + second.stderr
    assert "baseline: REGRESSION (margin 5 points)" in second.stdout
    assert "prompt support-reply: 100.0% -> 0.0%" in second.stdout
    assert "newly failing: prompt-support-reply, prompt-support-reply-history" in second.stdout
    gauges = metrics.read_text()
    assert 'llm_gateway_eval_baseline_regression{suite="golden"} 1.0' in gauges
    assert re.search(r'llm_gateway_eval_prompt_pass_ratio\{prompt="support-reply",prompt_version="local-[0-9a-f]{12}",'
                     r'suite="golden"\} 0\.0', gauges)  # fmt: skip

    fixed = eval_run(gateway, GOLDEN, "--prompts", PROMPTS, "--baseline", baseline, *prompt_cases)
    assert fixed.returncode == 0 and "baseline: no regression" in fixed.stdout


def test_a_client_pulls_a_prompt_by_label_and_uses_it_by_name(gateway: Stack) -> None:
    """The issue's proof, written for the wiring step: push, pull by label, use by name, move the label."""
    base = f"http://127.0.0.1:{gateway.port}"
    document = {"messages": [{"role": "system", "content": "Greet {{ who }} warmly."}], "model": "fast"}
    with httpx.Client(base_url=base, timeout=30) as http:
        pushed = http.post("/v1/gateway/prompts/e2e-greet/versions", headers=ADMIN_AUTH,
                           json={"prompt": document, "labels": ["production"]})  # fmt: skip
        assert pushed.status_code in (200, 201), pushed.text
        pulled = http.get("/v1/gateway/prompts/e2e-greet", headers=AUTH)
        assert pulled.status_code == 200 and pulled.json()["prompt"]["messages"] == document["messages"]
        httpx.delete(f"http://127.0.0.1:{gateway.fake_provider_port}/_fake/requests", timeout=10)
        used = http.post("/v1/chat/completions", headers=AUTH,
                         json={"prompt": {"name": "e2e-greet", "variables": {"who": "Ann"}}, "messages": []})  # fmt: skip
        assert used.status_code == 200, used.text
        assert used.headers["x-gateway-prompt"] == "e2e-greet" and used.headers["x-gateway-prompt-version"] == "1"
        assert "Greet Ann warmly." in orjson.dumps(fake_requests(gateway)[-1]).decode()


def test_the_golden_suite_passes_with_prompts_from_the_gateway(gateway: Stack, tmp_path: Path) -> None:
    push = subprocess.run(
        [sys.executable, "-m", "extproc", "prompts", "--gateway", f"http://127.0.0.1:{gateway.port}", "--key",
         TEST_ADMIN_KEY, "push", *map(str, sorted(PROMPTS.glob("*.yaml"))), "--label", "production"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert push.returncode == 0, push.stderr
    report = tmp_path / "golden.json"
    done = eval_run(gateway, GOLDEN, "--json", report)  # no --prompts: the gateway expands every prompt case
    assert done.returncode == 0, done.stdout + done.stderr
    result = read_json(report)
    assert result["counts"] == {"passed": 26, "failed": 0, "error": 0, "skipped": 0}
    # The versions the gateway named in its answers (not local-<digest>): the prompts it expanded itself.
    versions = {case["case"]: case["prompt_version"] for case in result["cases"] if case["prompt"] and case["http_status"] == 200}
    assert len(versions) == 4 and all(version.isdigit() for version in versions.values()), versions


def test_every_repeats_until_stopped(gateway: Stack, tmp_path: Path) -> None:
    report = tmp_path / "run.json"
    command = [sys.executable, "-m", "extproc", "eval", "--gateway", f"http://127.0.0.1:{gateway.port}", "--key",
               TEST_API_KEY, "run", str(GOLDEN), "--only", "fast-pong", "--every", "1s", "--quiet", "--json", str(report)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    starts: set[float] = set()

    def two_runs_written() -> bool:
        try:
            starts.add(read_json(report)["started_at"])
        except (OSError, orjson.JSONDecodeError):
            pass  # not written yet, or being written
        return len(starts) >= 2

    try:
        wait_until(two_runs_written, timeout=60)
    finally:
        process.terminate()  # SIGTERM: the schedule ends cleanly
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.count("golden: 100.0% passed (1 passed") >= 2
