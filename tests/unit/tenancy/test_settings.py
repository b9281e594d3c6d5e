"""Tenancy settings read from envoy.yaml, and the mistakes they refuse."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG
from extproc.tenancy.settings import Budget, Rates, SettingsError, load_settings, tenancy_metadata

SHIPPED = yaml.safe_load(DEFAULT_CONFIG.read_text())


def _with(meta: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(SHIPPED)
    tenancy_metadata(config).update(meta)
    return config


def test_the_shipped_configuration_asks_for_keys_and_sets_limits() -> None:
    settings = load_settings(SHIPPED)
    assert settings.auth_mode == "api_keys" and settings.store == "sqlite"
    assert settings.store_path == "var/limits.sqlite3" and not settings.loopback_metrics_without_key
    assert settings.default.per_tenant == Rates(3000, 2_000_000)
    assert settings.default.budget == Budget(25.0, 500.0)
    assert settings.model_rates["gpt-4o"] == Rates(1000, 800_000)
    assert settings.limits_anything


def test_a_tenant_override_keeps_the_defaults_it_does_not_name() -> None:
    settings = load_settings(_with({"tenants": {"acme": {"per_tenant": {"tokens_per_minute": 5}, "budget": {"usd_per_day": 1}}}}))
    acme = settings.policy_for("acme")
    assert acme.per_tenant == Rates(3000, 5) and acme.budget == Budget(1.0, 500.0)
    assert settings.policy_for("globex") == settings.default


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"auth": {"mode": "basic"}}, "auth.mode"),
        ({"store": {"kind": "etcd"}}, "store.kind"),
        ({"store": {"kind": "redis"}}, "redis_url"),
        ({"store": {"kind": "sqlite", "file": "x.db"}}, "store does not know file"),
        ({"store": {"hold_ttl_seconds": 0}}, "hold_ttl_seconds"),
        ({"auth": {"mode": "api_keys", "admin": True}}, "auth does not know admin"),
        ({"auth": {"loopback_metrics_without_key": "yes"}}, "true or false"),
        ({"limits": {"per_tenant": {"requests_per_minute": 0}}}, "positive"),
        ({"limits": {"per_tenant": {"requests_per_minute": 1.5}}}, "whole number"),
        ({"limits": {"per_tenant": {"requests_per_hour": 10}}}, "requests_per_hour"),
        ({"limits": {"burst": 10}}, "burst"),
        ({"tenants": {"acme": "generous"}}, "tenants.acme"),
    ],
)
def test_mistakes_are_named(meta: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_GATEWAY_REDIS_URL", raising=False)
    monkeypatch.delenv("LLM_GATEWAY_STORE_PATH", raising=False)
    with pytest.raises(SettingsError, match=message):
        load_settings(_with(meta))


def test_the_environment_names_the_redis_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_GATEWAY_REDIS_URL", "redis://127.0.0.1:1/0")
    assert load_settings(_with({"store": {"kind": "redis"}})).redis_url == "redis://127.0.0.1:1/0"


def test_the_environment_names_the_sqlite_file_and_the_store_defaults_to_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_GATEWAY_STORE_PATH", "/tmp/elsewhere.sqlite3")
    config = copy.deepcopy(SHIPPED)
    tenancy_metadata(config).pop("store")
    settings = load_settings(config)
    assert settings.store == "sqlite" and settings.store_path == "/tmp/elsewhere.sqlite3"
    assert settings.hold_ttl_seconds == 900.0


def test_local_scrapes_without_a_key_are_an_explicit_choice() -> None:
    assert load_settings(_with({"auth": {"mode": "api_keys", "loopback_metrics_without_key": True}})).loopback_metrics_without_key
