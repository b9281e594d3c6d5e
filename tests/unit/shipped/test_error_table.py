"""docs/configuration.md's error table lists exactly the codes the gateway answers with."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
# Packages with errors of their own, documented with them: the fake provider (docs/fake-provider.md),
# the seed API (docs/seed-api.md), prompts and evals (docs/prompts-and-evals.md).
DOCUMENTED_ELSEWHERE = ("fake_provider", "seed_api", "prompts", "evals")
# The constructors of client-facing errors: GatewayError(status, message, code=...) and
# TranslationError(status, message, code), and the 400 helpers _bad(message, code) of modules with many.
ERRORS = {"GatewayError": 2, "TranslationError": 2, "_bad": 1}
# Raised while the service builds its translators at start: it refuses to start instead (and
# `llm-gateway check` names the endpoint), so no client ever gets them.
START_ONLY = {"unknown_provider", "unsupported_provider"}


def _code_literals(tree: ast.AST) -> set[str]:
    codes = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ERRORS):
            continue
        arguments = [k.value for k in node.keywords if k.arg == "code"]
        if len(node.args) > ERRORS[node.func.id]:
            arguments.append(node.args[ERRORS[node.func.id]])
        codes |= {a.value for a in arguments if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return codes


def codes_in_code() -> set[str]:
    """Every code the service's own error constructors use, and every code of Envoy's own replies."""
    codes: set[str] = set()
    for path in (ROOT / "extproc").rglob("*.py"):
        if not any(part in DOCUMENTED_ELSEWHERE for part in path.relative_to(ROOT / "extproc").parts):
            codes |= _code_literals(ast.parse(path.read_text(encoding="utf-8")))
    envoy = (ROOT / "envoy" / "envoy.yaml").read_text(encoding="utf-8")
    codes |= set(re.findall(r"^\s+code: (\w+)$", envoy, re.MULTILINE))  # local_reply_config mappers
    codes |= set(re.findall(r'"code":"(\w+)"', envoy))  # direct_response bodies
    return codes - START_ONLY


def codes_in_docs() -> set[str]:
    """The codes of the Errors section's table (the second column)."""
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in section.splitlines() if re.match(r"\| \d", line)]
    return {code for row in rows for code in re.findall(r"`(\w+)`", row[2])}


def test_every_code_the_gateway_answers_with_is_in_the_table() -> None:
    missing = codes_in_code() - codes_in_docs()
    assert not missing, f"docs/configuration.md's error table lacks {sorted(missing)}"


def test_every_code_in_the_table_is_one_the_gateway_answers_with() -> None:
    unknown = codes_in_docs() - codes_in_code()
    assert not unknown, f"docs/configuration.md's error table lists codes nothing returns: {sorted(unknown)}"


def test_the_envoy_yaml_codes_are_read() -> None:
    # Guards the regular expressions above: Envoy's own replies are in the set.
    assert {"gateway_unavailable", "upstream_timeout", "model_not_found"} <= codes_in_code()
    assert yaml.safe_load((ROOT / "envoy" / "envoy.yaml").read_text())
