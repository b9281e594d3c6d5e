"""A service process reloads envoy.yaml on request: a good file is swapped in, a bad one changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from extproc.app import Gateway, build_gateway
from extproc.config.envoy_yaml import DEFAULT_CONFIG, SOURCE_HASH_MARKER, config_hash, gateway_section, iter_routes
from extproc.ext_proc.reload import ConfigReloader
from extproc.ext_proc.server import Current
from extproc.telemetry import metrics
from extproc.tenancy.settings import STORE_PATH_ENV, tenancy_metadata


def _config() -> dict[str, Any]:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    tenancy_metadata(config)["privacy"] = {}  # no redaction workers to start here
    tenancy_metadata(config)["cache"] = {"mode": "exact"}
    return config


def _route(config: dict[str, Any], model: str) -> dict[str, Any]:
    meta = gateway_section(next(r for r in iter_routes(config) if (gateway_section(r) or {}).get("model") == model))
    assert meta is not None
    return meta


def _build(config: dict[str, Any], previous: Gateway | None) -> Gateway:
    return build_gateway(config, previous=previous)


@pytest.fixture()
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Current, ConfigReloader]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(STORE_PATH_ENV, str(tmp_path / "limits.sqlite3"))
    metrics.configure(None)
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(_config()))
    current = Current(_build(_config(), None))
    return path, current, ConfigReloader(path, current, _build, config_hash(path.read_bytes()))


def _value(name: str, **labels: str) -> float | None:
    for line in metrics.render()[0].decode().splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_a_new_alias_and_limit_are_served_after_a_reload_and_stores_carry_over(
    setup: tuple[Path, Current, ConfigReloader],
) -> None:
    path, current, reloader = setup
    before = current.serving.gateway
    config = _config()
    _route(config, "gpt-4o")["aliases"] = ["smart", "clever"]
    _route(config, "gpt-4o")["limits"] = {"requests_per_minute": 7}
    path.write_text(yaml.safe_dump(config))
    assert await reloader.reload()
    after = current.serving.gateway
    assert after is not before
    assert after.catalog.resolve("clever") is not None and before.catalog.resolve("clever") is None
    assert after.settings.model_rates["gpt-4o"].requests_per_minute == 7
    # The same buckets and cache entries: a reload neither refills a tenant's limits nor empties the cache.
    assert after.limits is before.limits and after.cache is not None and before.cache is not None
    assert after.cache.store is before.cache.store
    assert _value("llm_gateway_config_reloads_total", result="applied") == 1
    assert _value("llm_gateway_config_info", sha256=reloader.loaded) == 1


async def test_a_broken_file_is_refused_and_the_old_configuration_keeps_serving(
    setup: tuple[Path, Current, ConfigReloader], caplog: pytest.LogCaptureFixture
) -> None:
    path, current, reloader = setup
    before, loaded = current.serving.gateway, reloader.loaded
    config = _config()
    _route(config, "gpt-4o")["aliasses"] = ["clever"]
    path.write_text(yaml.safe_dump(config))
    assert not await reloader.reload()
    assert current.serving.gateway is before and reloader.loaded == loaded
    assert "does not know aliasses (did you mean aliases?)" in caplog.text and "keeps serving" in caplog.text
    assert _value("llm_gateway_config_reloads_total", result="refused") == 1
    path.write_text("static_resources: [")
    assert not await reloader.reload()
    assert current.serving.gateway is before


def test_up_s_copy_names_the_operator_s_file() -> None:
    assert config_hash(f"{SOURCE_HASH_MARKER}abc123\nadmin: {{}}\n".encode()) == "abc123"
    assert len(config_hash(b"admin: {}\n")) == 64
