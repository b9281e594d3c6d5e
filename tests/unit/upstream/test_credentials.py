"""Provider API keys from the environment or a file; errors that name the source, never a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from extproc.config.catalog import Endpoint
from extproc.errors import GatewayError
from extproc.upstream.credentials import Credentials

SECRET = "sk-live-0123456789abcdef"


def _endpoint(env: str | None = None, file: Path | None = None) -> Endpoint:
    return Endpoint(
        cluster="openai",
        address="api.openai.com:443",
        priority=0,
        model="openai/gpt-4o",
        provider="openai",
        api_key_env=env,
        api_key_file=str(file) if file else None,
    )


def _error(credentials: Credentials, endpoint: Endpoint) -> GatewayError:
    with pytest.raises(GatewayError) as raised:
        credentials.api_key(endpoint)
    return raised.value


def test_key_from_an_environment_variable_is_stripped() -> None:
    assert Credentials({"OPENAI_API_KEY": f"  {SECRET}\n"}).api_key(_endpoint(env="OPENAI_API_KEY")) == SECRET


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_GATEWAY_TEST_KEY", SECRET)
    assert Credentials().api_key(_endpoint(env="LLM_GATEWAY_TEST_KEY")) == SECRET


@pytest.mark.parametrize("environ", [{}, {"OPENAI_API_KEY": ""}, {"OPENAI_API_KEY": "  "}])
def test_missing_variable_is_503_naming_it(environ: dict[str, str]) -> None:
    error = _error(Credentials({**environ, "OTHER_KEY": SECRET}), _endpoint(env="OPENAI_API_KEY"))
    assert error.status == 503 and error.code == "provider_credentials_missing"
    assert "OPENAI_API_KEY" in error.message and "'openai'" in error.message
    assert SECRET not in error.message and SECRET.encode() not in error.body()


def test_key_from_a_file_is_stripped(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(f"{SECRET}\n")
    assert Credentials({}).api_key(_endpoint(file=key_file)) == SECRET


def test_a_key_file_is_read_once(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(SECRET)
    credentials = Credentials({})
    assert credentials.api_key(_endpoint(file=key_file)) == SECRET
    key_file.write_text("sk-rotated")
    assert credentials.api_key(_endpoint(file=key_file)) == SECRET
    key_file.unlink()
    assert credentials.api_key(_endpoint(file=key_file)) == SECRET


def test_a_new_credentials_reads_the_file_again(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(SECRET)
    assert Credentials({}).api_key(_endpoint(file=key_file)) == SECRET
    key_file.write_text("sk-rotated")
    assert Credentials({}).api_key(_endpoint(file=key_file)) == "sk-rotated"


@pytest.mark.parametrize(("content", "why"), [(None, "cannot be read"), ("", "empty"), ("\n \n", "empty")])
def test_unusable_key_file_is_503(tmp_path: Path, content: str | None, why: str) -> None:
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_text(content)
    error = _error(Credentials({"OTHER_KEY": SECRET}), _endpoint(file=key_file))
    assert error.status == 503 and why in error.message
    assert SECRET not in error.message


def test_an_empty_key_file_is_not_cached(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("")
    credentials = Credentials({})
    _error(credentials, _endpoint(file=key_file))
    key_file.write_text(SECRET)  # the operator fixes the file; no restart needed
    assert credentials.api_key(_endpoint(file=key_file)) == SECRET


@pytest.mark.parametrize("content", [None, ""])
def test_unusable_key_file_error_names_the_file(tmp_path: Path, content: str | None) -> None:
    key_file = tmp_path / "openai.key"
    if content is not None:
        key_file.write_text(content)
    assert "openai.key" in _error(Credentials({}), _endpoint(file=key_file)).message


def test_the_variable_wins_over_the_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file")
    endpoint = _endpoint(env="OPENAI_API_KEY", file=key_file)
    assert Credentials({"OPENAI_API_KEY": SECRET}).api_key(endpoint) == SECRET


def test_an_endpoint_with_no_key_source_needs_no_key() -> None:
    assert Credentials({"OPENAI_API_KEY": SECRET}).api_key(_endpoint()) is None
