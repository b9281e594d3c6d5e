"""The comparison itself: shape differences, merged streams, the report's summary."""

from __future__ import annotations

from extproc.ops.compare import (
    Probe,
    Row,
    Side,
    _merge_stream,
    notable_headers,
    report,
    routing_probes,
    shape_differences,
)


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


def test_the_summary_counts_agreement() -> None:
    ok = Side(status=200, body={}, latency_ms=10, prompt_tokens=1, completion_tokens=2, cost_usd=0.001)
    rows = [
        Row(Probe("a", {}), ok, Side(status=200, body={}, latency_ms=5, cost_usd=0.001)),
        Row(Probe("b", {}), Side(status=400), Side(status=404)),
    ]
    text = report(rows)
    assert "| a | 200 / 200 | 1+2 / – | 0.001 / 0.001 | 10 / 5 | same |" in text
    assert text.splitlines()[-1].startswith("Summary: 2 requests; same status 1, same status class 2;")


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
    gateway = Side(status=200, body={}, headers={"x-gateway-served-model": "gpt-4o-mini", "x-gateway-cache": "miss"})
    litellm = Side(status=200, body={}, headers={"x-litellm-model-id": "a" * 80})
    text = report([Row(Probe("a", {}), litellm, gateway)])
    assert f"| a | x-litellm-model-id: {'a' * 45}... | x-gateway-served-model: gpt-4o-mini<br>x-gateway-cache: miss |" in text


def test_routing_and_its_reason_show_side_by_side() -> None:
    [code, *_] = routing_probes("gpt-4o-mini", "auto")
    assert code.body_for(gateway=True)["model"] == "auto" and code.body_for(gateway=False)["model"] == "gpt-4o-mini"
    gateway = Side(status=200, body={"model": "qwen2.5-coder-32b"}, headers={
        "x-gateway-served-model": "qwen2.5-coder-32b", "x-gateway-route-reason": "classifier",
        "x-gateway-task": "code", "x-gateway-complexity": "simple"})  # fmt: skip
    litellm = Side(status=200, body={"model": "gpt-4o-mini"})
    plain = Side(status=200, body={"model": "gpt-4o-mini"}, headers={"x-gateway-served-model": "gpt-4o-mini"})
    text = report([Row(code, litellm, gateway), Row(Probe("chat", {}), litellm, plain)])
    assert "| routed: code | gpt-4o-mini | qwen2.5-coder-32b (classifier: code, simple) |" in text
    assert "| chat | gpt-4o-mini | gpt-4o-mini |" in text
