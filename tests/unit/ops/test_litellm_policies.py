"""The template's own policies in an imported LiteLLM config: each one named, or all left out like for like."""

from __future__ import annotations

from pathlib import Path

import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG, iter_connection_managers
from extproc.config.validation import gateway_settings
from extproc.ops.checks import check_config
from extproc.ops.litellm_import import import_litellm
from extproc.ops.litellm_policies import PER_IP_FILTER, like_for_like, template_policies

LITELLM = {"model_list": [{"model_name": "chat", "litellm_params": {"model": "openai/gpt-4o-mini",
                                                                     "api_key": "os.environ/OPENAI_API_KEY"}}]}  # fmt: skip


def _imported() -> dict:
    return import_litellm(LITELLM, yaml.safe_load(DEFAULT_CONFIG.read_text())).config


def test_every_policy_the_template_adds_is_named() -> None:
    named = "\n".join(template_policies(_imported()))
    for words in ("gateway API keys", "personal data in prompts is masked", "answers are checked for CREDIT_CARD, US_SSN, SECRET",
                  "a per-tenant limit of 3,000 requests and 2,000,000 tokens a minute", "a per-key limit of 1,500 requests",
                  "a spend budget per tenant of $25 a day and $500 a month", f"per-client-IP rate limit in Envoy ({PER_IP_FILTER})"):  # fmt: skip
        assert words in named, named


def test_like_for_like_leaves_them_out_and_still_passes_the_check(tmp_path: Path) -> None:
    config = _imported()
    notes = like_for_like(config, LITELLM)
    assert template_policies(config) == []
    host = gateway_settings(config).virtual_host
    assert host.auth.mode == "none" and host.privacy.request is None and host.limits.budget.usd_per_day is None
    assert not any(f["name"] == PER_IP_FILTER for hcm in iter_connection_managers(config) for f in hcm["http_filters"])
    assert any("left out personal data in prompts is masked" in note for note in notes)
    assert any("keys are off (auth.mode: none)" in note for note in notes)
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(config))
    report = check_config(path, environ={"OPENAI_API_KEY": "sk-x"})
    assert report.ok, report.problems


def test_like_for_like_keeps_keys_when_litellm_asks_for_a_master_key() -> None:
    config = _imported()
    like_for_like(config, {**LITELLM, "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"}})
    assert gateway_settings(config).virtual_host.auth.mode == "api_keys"
