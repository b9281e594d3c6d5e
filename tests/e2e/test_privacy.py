"""Privacy end to end: real Envoy, the service, the fake provider (which records what it got) and the
real SDKs. Planted values never reach the provider on a masking route; restore mode hands them back;
the output policy masks or stops completions, streamed ones included; logs count, never quote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from extproc.config.envoy_yaml import iter_routes
from extproc.ops.launcher import Stack
from extproc.tenancy.settings import tenancy_metadata
from tests.e2e.conftest import access_log_entry, fake_requests, shipped_config, start_stack
from tests.support.sdk_clients import ADMIN_AUTH, AUTH, anthropic_client, openai_client

pytestmark = pytest.mark.e2e

EMAIL = "dana.ortiz@globex-mail.com"
CARD = "4539 1488 0343 6467"
SSN = "219-09-9999"
OPENAI_KEY = "sk-proj-T3stKeyAbCdEfGhIjKlMnOpQrStUvWx0123456789"
AWS_KEY = "AKIAZ7X3Q2W4E5R6T7Y8"
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"
PLANTED = [EMAIL, CARD, SSN, OPENAI_KEY, AWS_KEY, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"]
PROMPT = (
    f"Customer {EMAIL} paid with {CARD} (SSN {SSN}). Our config has OPENAI_API_KEY={OPENAI_KEY} "
    f"and {AWS_KEY}, and this key:\n{PRIVATE_KEY}\nSummarise."
)


def _route_privacy(config: dict[str, Any], model: str, privacy: dict[str, Any]) -> None:
    for route in iter_routes(config):
        meta = ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway") or {}
        if meta.get("model") == model:
            meta["privacy"] = privacy


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shipped policy (mask prompts, mask cards, SSNs and secrets in answers) plus routes that
    restore (gpt-4o), let prompts through and check answers (gemini: mask, reliable: block), block
    requests (llama), and log text (claude)."""
    config = shipped_config()
    tenancy_metadata(config)["auth"]["mode"] = "api_keys"
    _route_privacy(config, "gpt-4o", {"request": {"mode": "restore"}, "response": {"mode": "off"}})
    everything = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "SECRET"]
    _route_privacy(config, "gemini-2.5-flash", {"request": {"mode": "off"}, "response": {"mode": "mask", "entities": everything}})
    _route_privacy(config, "reliable", {"request": {"mode": "off"}, "response": {"mode": "block"}})
    _route_privacy(config, "llama-3.1-8b", {"request": {"mode": "block"}})
    _route_privacy(config, "claude-haiku-4-5", {"log_text": True})
    started = start_stack(tmp_path_factory.mktemp("privacy"), config)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture()
def client(stack: Stack) -> openai.OpenAI:
    return openai_client(f"http://127.0.0.1:{stack.port}/v1")


def _provider_saw(stack: Stack, since: int) -> str:
    """Everything the provider received after the first `since` requests, as one text."""
    return json.dumps(fake_requests(stack)[since:])


def _count(stack: Stack) -> int:
    return len(fake_requests(stack))


def test_no_planted_value_reaches_the_provider_on_a_masking_route(stack: Stack, client: openai.OpenAI) -> None:
    before = _count(stack)
    answer = client.chat.completions.create(model="fast", messages=[{"role": "user", "content": PROMPT}])
    seen = _provider_saw(stack, before)
    assert seen and all(value not in seen for value in PLANTED), seen
    assert "<EMAIL_ADDRESS_1>" in seen and "<SECRET_1>" in seen and "<CREDIT_CARD_1>" in seen
    # The fake model echoes the prompt: the caller sees the placeholders, not its values.
    text = answer.choices[0].message.content or ""
    assert "<EMAIL_ADDRESS_1>" in text and EMAIL not in text


def test_an_anthropic_client_is_masked_on_a_translated_route_too(stack: Stack) -> None:
    before = _count(stack)
    claude = anthropic_client(f"http://127.0.0.1:{stack.port}")
    message = claude.messages.create(
        model="claude", max_tokens=200, system=f"The customer is {EMAIL}.", messages=[{"role": "user", "content": PROMPT}]
    )
    seen = _provider_saw(stack, before)
    assert '"system"' in seen and all(value not in seen for value in PLANTED), seen
    assert message.content[0].type == "text" and EMAIL not in message.content[0].text


def test_restore_gives_the_caller_its_values_while_the_provider_sees_placeholders(
    stack: Stack, client: openai.OpenAI
) -> None:
    before = _count(stack)
    answer = client.chat.completions.create(model="smart", messages=[{"role": "user", "content": f"Write to {EMAIL} now"}])
    assert EMAIL not in _provider_saw(stack, before)
    assert answer.choices[0].message.content == f"Fake reply to: Write to {EMAIL} now"

    before = _count(stack)
    chunks = client.chat.completions.create(
        model="smart", stream=True, messages=[{"role": "user", "content": f"Card {CARD} and mail {EMAIL} please"}]
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Fake reply to: Card {CARD} and mail {EMAIL} please"
    assert CARD not in _provider_saw(stack, before)


def test_the_output_policy_masks_a_completion_buffered_and_streamed(stack: Stack, client: openai.OpenAI) -> None:
    prompt = f"Repeat {CARD} and {SSN} and {EMAIL}"
    before = _count(stack)
    answer = client.chat.completions.create(model="gemini", messages=[{"role": "user", "content": prompt}])
    assert CARD in _provider_saw(stack, before)  # this route lets prompts through
    assert answer.choices[0].message.content == "Fake reply to: Repeat <CREDIT_CARD> and <US_SSN> and <EMAIL_ADDRESS>"

    chunks = list(client.chat.completions.create(model="gemini", stream=True, messages=[{"role": "user", "content": prompt}]))
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(pieces) == "Fake reply to: Repeat <CREDIT_CARD> and <US_SSN> and <EMAIL_ADDRESS>"
    assert sum(1 for p in pieces if p) > 3  # still a stream, not one buffered piece


def test_the_output_policy_stops_a_stream_with_content_filter(stack: Stack, client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model="reliable", stream=True, messages=[{"role": "user", "content": f"My card is {CARD}, thanks a lot for everything"}]
    ))  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Fake reply to: My card is") and "4539" not in text and "thanks" not in text
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["content_filter"]

    answer = client.chat.completions.create(model="reliable", messages=[{"role": "user", "content": f"My SSN is {SSN}"}])
    assert answer.choices[0].finish_reason == "content_filter" and not answer.choices[0].message.content


def test_a_blocking_route_refuses_with_a_clear_error_and_calls_no_provider(stack: Stack, client: openai.OpenAI) -> None:
    before = _count(stack)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="local", messages=[{"role": "user", "content": PROMPT}])
    error = raised.value.body
    assert raised.value.status_code == 400 and error["code"] == "sensitive_data"
    assert "SECRET" in error["message"] and EMAIL not in error["message"]
    assert _count(stack) == before
    ok = client.chat.completions.create(model="local", messages=[{"role": "user", "content": "no secrets here"}])
    assert ok.choices[0].message.content == "Fake reply to: no secrets here"


def test_logs_count_redactions_and_quote_text_only_where_a_route_opts_in(stack: Stack) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", headers=AUTH, timeout=30) as http:
        quiet = http.post("/v1/chat/completions", json={"model": "fast", "messages": [{"role": "user", "content": PROMPT}]})
        verbose = http.post("/v1/chat/completions", json={"model": "claude", "messages": [{"role": "user", "content": PROMPT}]})
        metrics = http.get("/metrics", headers=ADMIN_AUTH).text
    assert quiet.status_code == verbose.status_code == 200
    line = access_log_entry(stack, quiet.headers["x-gateway-request-id"])
    assert line["redactions"] == {"EMAIL_ADDRESS": 1, "CREDIT_CARD": 1, "US_SSN": 1, "SECRET": 3}
    assert line["prompt_text"] is None and line["completion_text"] is None
    logged = access_log_entry(stack, verbose.headers["x-gateway-request-id"])
    assert "<EMAIL_ADDRESS_1>" in logged["prompt_text"] and "Fake reply to" in logged["completion_text"]
    # The gateway's own logs (Envoy's and the service's; the fake provider plays a third party).
    ours = "".join(p.read_text() for p in stack.run_dir.glob("*.log") if not p.name.startswith("fake-provider"))
    assert ours and all(value not in ours for value in PLANTED)
    assert 'llm_gateway_redactions_total{action="mask",direction="request",entity="SECRET",route="gpt-4o-mini"}' in metrics


def test_an_anthropic_stream_is_masked_and_a_blocked_one_ends_as_a_refusal(stack: Stack) -> None:
    claude = anthropic_client(f"http://127.0.0.1:{stack.port}")
    prompt = f"Repeat {CARD} and {EMAIL} please"
    with claude.messages.stream(model="gemini", max_tokens=200, messages=[{"role": "user", "content": prompt}]) as events:
        text = "".join(events.text_stream)
    assert text == "Fake reply to: Repeat <CREDIT_CARD> and <EMAIL_ADDRESS> please"
    with claude.messages.stream(model="reliable", max_tokens=200, messages=[{"role": "user", "content": prompt}]) as events:
        text = "".join(events.text_stream)
        final = events.get_final_message()
    assert text.startswith("Fake reply to: Repeat") and "4539" not in text
    assert final.stop_reason == "refusal"
