"""The comparison itself: shape and policy differences, merged streams, failures never "same", the report."""

from __future__ import annotations

import json

import httpx

from extproc.ops.compare import (
    PII_VALUE,
    Probe,
    Row,
    Side,
    _merge_stream,
    notable_headers,
    preflight,
    routing_probes,
    shape_differences,
)
from extproc.ops.compare_report import as_json, summary, table
from extproc.ops.launcher import free_port


def test_shape_differences_name_missing_extra_and_retyped_fields() -> None:
    litellm = {"id": "a", "choices": [{"message": {"content": "x", "provider_specific_fields": {}}}], "usage": {"n": 1}}
    gateway = {"id": "b", "choices": [{"message": {"content": "y", "refusal": None}}], "usage": {"n": "1"}}
    assert shape_differences(litellm, gateway) == [
        "-choices[0].message.provider_specific_fields",
        "+choices[0].message.refusal",
        "~usage.n (number vs string)",
    ]
    assert shape_differences({"a": 1}, {"a": 2}) == []  # values are not compared


def test_a_stream_is_merged_into_one_object_with_its_content_and_usage() -> None:
    raw = (
        b'data: {"id": "c", "choices": [{"delta": {"content": "Hel"}}]}\n\n'
        b'data: {"id": "c", "choices": [{"delta": {"content": "lo"}}]}\n\n'
        b'data: {"id": "c", "choices": [], "usage": {"prompt_tokens": 3}}\n\n'
        b"data: [DONE]\n\n"
    )
    merged = _merge_stream(raw)
    assert merged["content"] == "Hello" and merged["usage"] == {"prompt_tokens": 3} and merged["id"] == "c"


def _answer(text: str, **headers: str) -> Side:
    return Side(status=200, body={"choices": [{"message": {"content": text}}]}, latency_ms=10, headers=headers)


def test_a_side_that_failed_is_never_the_same_and_the_summary_says_so_first() -> None:
    down = Row(Probe("chat", {}), _answer("hi"), Side(error="ConnectError"))
    both_down = Row(Probe("stream", {}), Side(error="ConnectError"), Side(error="ConnectError"))
    alike = Row(Probe("json", {}), _answer("a"), _answer("b"))
    assert down.failed and both_down.failed and not alike.failed
    assert down.differences() == ["gateway gave no answer (ConnectError)"]
    assert alike.differences() == []
    lines = {line.split("  ")[0]: line for line in table([down, both_down, alike]).splitlines()}
    assert lines["chat"].endswith("gateway gave no answer (ConnectError)")
    assert "same" not in lines["stream"] and lines["json"].endswith("same")
    assert summary([down, both_down, alike]).startswith("Summary: 2 of 3 requests FAILED on a side (chat, stream)")
    # No made-up latency when nothing was answered by both.
    assert "no latency to compare" in summary([down, both_down])
    assert as_json([down])["failed"] == 1 and as_json([down])["rows"][0]["same"] is False


def test_policy_differences_show_on_the_personal_data_and_repeat_requests() -> None:
    pii = Probe("personal data", {}, watch="pii")
    masked = Row(pii, _answer(f"Fake reply to: {PII_VALUE}"), _answer("Fake reply to: <EMAIL_ADDRESS_1>"))
    assert masked.differences() == ["policy: the provider got the address as is from LiteLLM, masked from the gateway"]
    assert Row(pii, _answer(PII_VALUE), _answer(PII_VALUE)).differences() == []
    cache = Probe("repeat (cache)", {}, watch="cache")
    hit = Row(cache, _answer("x"), _answer("x", **{"x-gateway-cache": "hit"}))
    assert hit.differences() == ["cache: LiteLLM miss, gateway hit"]
    assert "policies differ on personal data, repeat (cache)" in summary([masked, hit])
    assert as_json([masked])["rows"][0]["gateway"]["personal_data"] == "masked"


def test_headers_of_note_are_shown_side_by_side_without_ids_or_costs() -> None:
    headers = {
        "X-Gateway-Served-Model": "gpt-4o-mini", "x-gateway-request-id": "abc", "x-gateway-cost-usd": "0.1",
        "x-ratelimit-remaining-requests": "59", "content-type": "application/json", "x-litellm-model-id": "a" * 80,
    }  # fmt: skip
    assert notable_headers(headers) == {
        "x-gateway-served-model": "gpt-4o-mini",
        "x-litellm-model-id": "a" * 80,
        "x-ratelimit-remaining-requests": "59",
    }
    gateway = _answer("x", **{"x-gateway-served-model": "gpt-4o-mini", "x-gateway-cache": "miss"})
    litellm = _answer("x", **{"x-litellm-model-id": "a" * 80})
    text = table([Row(Probe("a", {}), litellm, gateway)])
    assert f"    L  x-litellm-model-id: {'a' * 57}..." in text
    assert "    G  x-gateway-served-model: gpt-4o-mini, x-gateway-cache: miss" in text
    assert "<br>" not in text and "|" not in text
    assert json.loads(json.dumps(as_json([Row(Probe("a", {}), litellm, gateway)])))["rows"][0]["litellm"]["headers"] == {
        "x-litellm-model-id": "a" * 80
    }


def test_an_unreachable_side_or_a_refused_key_is_said_before_anything_is_compared() -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{free_port()}", timeout=5) as nowhere:
        said = preflight(nowhere, "k", "The gateway")
    assert said is not None and said.startswith("The gateway at http://127.0.0.1:") and "is unreachable (ConnectError" in said

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "Invalid API key.", "code": "invalid_api_key"}})

    with httpx.Client(base_url="http://gateway", transport=httpx.MockTransport(refuse)) as gateway:
        assert preflight(gateway, None, "The gateway") == "The gateway at http://gateway answers 401: no key was given (Invalid API key.)"
        assert "its key was refused" in (preflight(gateway, "sk-gw-x", "The gateway") or "")
    with httpx.Client(base_url="http://litellm", transport=httpx.MockTransport(lambda r: httpx.Response(200, json={}))) as ok:
        assert preflight(ok, "k", "LiteLLM") is None


def test_routing_and_its_reason_show_side_by_side() -> None:
    [code, *_] = routing_probes("gpt-4o-mini", "auto")
    assert code.body_for(gateway=True)["model"] == "auto" and code.body_for(gateway=False)["model"] == "gpt-4o-mini"
    gateway = Side(status=200, body={"model": "qwen2.5-coder-32b"}, headers={
        "x-gateway-served-model": "qwen2.5-coder-32b", "x-gateway-route-reason": "classifier",
        "x-gateway-task": "code", "x-gateway-complexity": "simple"})  # fmt: skip
    litellm = Side(status=200, body={"model": "gpt-4o-mini"})
    plain = Side(status=200, body={"model": "gpt-4o-mini"}, headers={"x-gateway-served-model": "gpt-4o-mini"})
    text = table([Row(code, litellm, gateway), Row(Probe("chat", {}), litellm, plain)])
    assert f"  {code.name}: L gpt-4o-mini, G qwen2.5-coder-32b (classifier: code, simple)" in text
    assert "  chat: L gpt-4o-mini, G gpt-4o-mini" in text
