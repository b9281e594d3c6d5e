"""Bad requests and upstream failures come back as OpenAI error JSON with the right status."""

from __future__ import annotations

import httpx
import openai
import pytest

from extproc.ops.launcher import Stack
from tests.support.sdk_clients import openai_client

pytestmark = pytest.mark.e2e

CHAT = "/v1/chat/completions"


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body["error"]) >= {"message", "type", "param", "code"}
    assert body["error"]["message"]
    return body["error"]


def test_unknown_model_names_the_models_that_exist(gateway: Stack) -> None:
    client = openai_client(gateway.base_url)
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    message = raised.value.body["message"]  # type: ignore[index]
    assert "gpt-9" in message and "gpt-4o-mini" in message and "fast" in message


def test_malformed_json_is_400(http: httpx.Client) -> None:
    error = _error(http.post(CHAT, content=b'{"model": "fast", "messages": [', headers={"content-type": "application/json"}), 400)
    assert error["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "fast"}, "messages"),
        ({"model": "fast", "messages": []}, "messages"),
        ({"model": "fast", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"model": "fast", "messages": [{"role": "user", "content": "hi"}], "max_tokens": -5}, "max_tokens"),
        ({"model": "fast", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, "temperature"),
        ({"model": "fast", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}, "stream"),
        (["not", "an", "object"], None),
    ],
)
def test_schema_errors_are_400_naming_the_field(http: httpx.Client, body: object, param: str | None) -> None:
    error = _error(http.post(CHAT, json=body), 400)
    assert error["param"] == param


def test_oversized_body_is_413(http: httpx.Client) -> None:
    huge = b'{"model": "fast", "messages": [{"role": "user", "content": "' + b"a" * (4 * 1024 * 1024 + 10) + b'"}]}'
    error = _error(http.post(CHAT, content=huge, headers={"content-type": "application/json"}), 413)
    assert error["code"] == "request_too_large"


def test_body_just_under_the_limit_is_served(http: httpx.Client) -> None:
    big = "word " * (3 * 1024 * 1024 // 5)
    response = http.post(CHAT, json={"model": "fast", "messages": [{"role": "user", "content": big}], "max_tokens": 5})
    assert response.status_code == 200, response.text[:300]


def test_unknown_path_and_wrong_method(http: httpx.Client) -> None:
    assert _error(http.get("/v1/nothing-here"), 404)["code"] == "unknown_endpoint"
    assert _error(http.get(CHAT), 405)["code"] == "method_not_allowed"


def test_wrong_content_type_is_415(http: httpx.Client) -> None:
    response = http.post(CHAT, content=b"model=fast", headers={"content-type": "application/x-www-form-urlencoded"})
    _error(response, 415)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_upstream_error_status_and_body_reach_the_client(http: httpx.Client, status: int) -> None:
    response = http.post(
        CHAT,
        json={"model": "fast", "messages": [{"role": "user", "content": "fail please"}]},
        headers={"x-fake-status": str(status)},
    )
    _error(response, status)


def test_malformed_upstream_answer_is_502(http: httpx.Client) -> None:
    response = http.post(
        CHAT,
        json={"model": "fast", "messages": [{"role": "user", "content": "garble please"}]},
        headers={"x-fake-malformed": "1"},
    )
    assert _error(response, 502)["code"] == "bad_upstream_response"


def test_upstream_reset_is_503(http: httpx.Client) -> None:
    response = http.post(
        CHAT,
        json={"model": "smart", "messages": [{"role": "user", "content": "reset please"}]},
        headers={"x-fake-reset-after-chunks": "0"},
    )
    assert _error(response, 503)["code"] == "upstream_unavailable"


def test_spoofed_gateway_headers_change_nothing(http: httpx.Client, gateway: Stack) -> None:
    response = http.post(
        CHAT,
        json={"model": "fast", "messages": [{"role": "user", "content": "spoof"}]},
        headers={
            "x-gateway-model": "gpt-4o",  # would pick the dearer route if trusted
            "x-gateway-served-model": "spoofed",
            "x-gateway-request-id": "spoofed",
        },
    )
    assert response.status_code == 200
    assert response.headers["x-gateway-served-model"] == "gpt-4o-mini"
    assert response.headers["x-gateway-request-id"] != "spoofed"
