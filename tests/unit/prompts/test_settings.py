"""The `prompts` block of envoy.yaml: where prompts live by default and when named, the render's bounds,
and the words `check` and `serve --preflight` use when it is wrong or its store cannot be reached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG
from extproc.config.validation import ConfigError
from extproc.ops.checks import check_config
from extproc.ops.launcher import free_port
from extproc.ops.preflight import problems
from extproc.prompts.settings import PromptSettings, load_prompt_settings
from extproc.tenancy.settings import Settings, load_settings, tenancy_metadata


@pytest.fixture
def config() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def with_prompts(config: dict[str, Any], block: Any) -> dict[str, Any]:
    tenancy_metadata(config)["prompts"] = block
    return config


def test_without_a_block_prompts_live_where_the_tenancy_store_does(config: dict[str, Any]) -> None:
    shipped = load_prompt_settings(config, load_settings(config))
    assert (shipped.store, shipped.path) == ("sqlite", str(Path("var/prompts.sqlite3")))
    assert shipped.body_limit == 4 * 1024 * 1024  # the buffer filter's cap
    redis = load_prompt_settings(config, Settings(store="redis", redis_url="redis://r:6379/0"))
    assert (redis.store, redis.redis_url) == ("redis", "redis://r:6379/0")
    moved = load_prompt_settings(config, Settings(store="sqlite", store_path="/srv/state/limits.sqlite3"))
    assert moved.path == "/srv/state/prompts.sqlite3"
    assert load_prompt_settings(config, Settings()).store == "memory"


def test_a_named_store_and_bounds_are_read(config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_GATEWAY_POSTGRES_URL", raising=False)
    block = {"store": "postgres", "postgres_url": "postgresql://gw@db/gw", "max_rendered_bytes": 2048, "head_ttl_seconds": 0}
    read = load_prompt_settings(with_prompts(config, block), Settings())
    assert read == PromptSettings(store="postgres", path=str(Path("var/prompts.sqlite3")), postgres_url="postgresql://gw@db/gw",
                                  max_rendered_bytes=2048, head_ttl_seconds=0.0)  # fmt: skip
    monkeypatch.setenv("LLM_GATEWAY_POSTGRES_URL", "postgresql://gw@other/gw")
    assert load_prompt_settings(config, Settings()).postgres_url == "postgresql://gw@other/gw"


@pytest.mark.parametrize(
    ("block", "words"),
    [
        ({"store": "file"}, "prompts.store must be one of memory, sqlite, redis, postgres; got 'file'"),
        ({"store": "postgres"}, "prompts.store is postgres: set prompts.postgres_url or LLM_GATEWAY_POSTGRES_URL"),
        ({"store": "redis"}, "prompts.store is redis: set prompts.redis_url"),
        ({"max_rendered_bytes": 0}, "prompts.max_rendered_bytes must be a positive whole number; got 0"),
        ({"max_rendered_bytes": 1.5}, "prompts.max_rendered_bytes must be a positive whole number; got 1.5"),
        ({"head_ttl_seconds": -1}, "prompts.head_ttl_seconds must be a number, at least 0; got -1"),
        ({"labels": {}}, "prompts does not know labels; it takes store, path, redis_url, postgres_url"),
        ("sqlite", "prompts must be a mapping"),
    ],
)
def test_mistakes_are_named(config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, block: Any, words: str) -> None:
    monkeypatch.delenv("LLM_GATEWAY_POSTGRES_URL", raising=False)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        load_prompt_settings(with_prompts(config, block), Settings())


def test_check_reports_a_wrong_block(config: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(with_prompts(config, {"store": "file"})))
    report = check_config(path, run_envoy=False, environ={})
    assert any("prompts.store must be one of" in problem for problem in report.problems), report.problems


def test_preflight_names_an_unreachable_prompt_store_without_its_password(
    config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLM_GATEWAY_POSTGRES_URL", raising=False)
    closed = free_port()
    block = {"store": "postgres", "postgres_url": f"postgresql://gw:s3cret@127.0.0.1:{closed}/gw"}
    (found,) = problems(with_prompts(config, block), environ={"FAKE_PROVIDER_API_KEY": "k"})
    assert found.startswith(f"PostgreSQL at postgresql://gw@127.0.0.1:{closed}/gw cannot be reached: ")
    assert found.endswith("Requests that name a prompt, and the prompt API, are unavailable.") and "s3cret" not in found
