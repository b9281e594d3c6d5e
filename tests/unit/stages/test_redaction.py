"""Privacy policies through the router processor: what the provider is sent, what the caller gets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from extproc.app import Gateway, build_gateway
from extproc.decisions import Changes, Reply
from extproc.redaction.policy import Privacy, PrivacyPolicies, RequestPolicy, ResponsePolicy
from extproc.router.processor import RouterProcessor
from extproc.stages.redaction import RedactionStage
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import gateway_config

CONFIG = gateway_config()
EMAIL, CARD = "bob@example.com", "4111 1111 1111 1111"
PROMPT = f"Email {EMAIL} about card {CARD}, key sk-proj-Abc123def456ghi789jkl012mno345."
JSON_200 = {":status": "200", "content-type": "application/json", "x-envoy-upstream-service-time": "3"}
SSE_200 = {":status": "200", "content-type": "text/event-stream", "x-envoy-upstream-service-time": "3"}


def processor(request: str | RequestPolicy = "off", response: str = "off", **privacy: Any) -> RouterProcessor:
    return RouterProcessor(gateway_with(request, response, **privacy))


def gateway_with(request: str | RequestPolicy = "off", response: str = "off", **privacy: Any) -> Gateway:
    policy = request if isinstance(request, RequestPolicy) else RequestPolicy(request)
    policies = PrivacyPolicies(
        default=Privacy(policy, ResponsePolicy(response), **privacy),
        by_model={"llama-3.1-8b": Privacy(RequestPolicy("off"), ResponsePolicy(response))},
    )
    return build_gateway(
        CONFIG, credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}), settings=Settings(auth_mode="none"), privacy=policies
    )


async def send(proc: RouterProcessor, body: dict[str, Any], path: str = "/v1/chat/completions") -> Reply | Changes:
    headers = {":method": "POST", ":path": path, "content-type": "application/json"}
    assert await proc.request_headers(headers, end_of_stream=False) == Changes()
    return await proc.request_body(orjson.dumps(body))


def sent(changes: Reply | Changes) -> str:
    assert isinstance(changes, Changes) and changes.body is not None, changes
    return changes.body.decode()


def completion(text: str) -> bytes:
    return orjson.dumps({
        "id": "c1", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    })  # fmt: skip


def chunk(text: str | None, finish: str | None = None) -> bytes:
    delta = {} if text is None else {"content": text}
    return b"data: " + orjson.dumps({"id": "c1", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + b"\n\n"


async def answer(proc: RouterProcessor, body: bytes) -> dict[str, Any]:
    assert await proc.response_headers(JSON_200, False, {}) == Changes()
    changes = await proc.response_body(body, end_of_stream=True)
    return orjson.loads(changes.body if changes.body is not None else body)


async def stream(proc: RouterProcessor, pieces: list[bytes]) -> list[dict[str, Any]]:
    await proc.response_headers(SSE_200, False, {})
    out = b""
    for index, piece in enumerate(pieces):
        changes = await proc.response_body(piece, end_of_stream=index == len(pieces) - 1)
        out += piece if changes.body is None else changes.body
    return [orjson.loads(line[6:]) for line in out.split(b"\n\n") if line.startswith(b"data: {")]


def streamed_text(events: list[dict[str, Any]]) -> str:
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))


async def test_mask_sends_typed_placeholders_and_never_the_values() -> None:
    proc = processor(request="mask")
    body = sent(await send(proc, {"model": "fast", "messages": [{"role": "user", "content": PROMPT}]}))
    assert EMAIL not in body and "4111" not in body and "sk-proj" not in body
    assert "Email <EMAIL_ADDRESS_1> about card <CREDIT_CARD_1>, key <SECRET_1>." in body
    assert proc.ctx.redactions == {"EMAIL_ADDRESS": 1, "CREDIT_CARD": 1, "SECRET": 1}
    assert "redacted:3" in proc.ctx.decisions


async def test_an_anthropic_request_is_masked_in_its_system_prompt_and_blocks_too() -> None:
    proc = processor(request="mask")
    body = {"model": "fast", "max_tokens": 10, "system": f"Customer: {EMAIL}",
            "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]}  # fmt: skip
    upstream = sent(await send(proc, body, "/v1/messages"))
    assert EMAIL not in upstream and "Customer: <EMAIL_ADDRESS_1>" in upstream


async def test_block_refuses_in_the_clients_format_and_names_types_not_values() -> None:
    reply = await send(processor(request="block"), {"model": "fast", "messages": [{"role": "user", "content": PROMPT}]})
    assert isinstance(reply, Reply) and reply.status == 400
    error = orjson.loads(reply.body)["error"]
    assert error["code"] == "sensitive_data"
    assert "CREDIT_CARD (1)" in error["message"] and "EMAIL_ADDRESS (1)" in error["message"]
    assert EMAIL not in error["message"] and "4111" not in error["message"]
    anthropic = await send(processor(request="block"), {"model": "fast", "max_tokens": 5, "messages": [{"role": "user", "content": PROMPT}]}, "/v1/messages")
    assert isinstance(anthropic, Reply) and anthropic.status == 400
    assert orjson.loads(anthropic.body)["error"]["type"] == "invalid_request_error"


async def test_a_clean_request_passes_block_mode_untouched() -> None:
    changes = await send(processor(request="block"), {"model": "fast", "messages": [{"role": "user", "content": "hi"}]})
    assert isinstance(changes, Changes)


async def test_a_route_that_allows_it_sends_the_prompt_as_it_is() -> None:
    proc = processor(request="mask")
    body = sent(await send(proc, {"model": "local", "messages": [{"role": "user", "content": PROMPT}]}))
    assert EMAIL in body and proc.ctx.redactions == {}


async def test_restore_hands_the_caller_back_its_values_in_a_buffered_answer() -> None:
    proc = processor(request="restore")
    body = sent(await send(proc, {"model": "fast", "messages": [{"role": "user", "content": PROMPT}]}))
    assert EMAIL not in body
    reply = await answer(proc, completion("Done: wrote to <EMAIL_ADDRESS_1> about <CREDIT_CARD_1>."))
    assert reply["choices"][0]["message"]["content"] == f"Done: wrote to {EMAIL} about {CARD}."


async def test_restore_works_on_a_stream_with_placeholders_split_across_chunks() -> None:
    proc = processor(request="restore")
    await send(proc, {"model": "fast", "stream": True, "messages": [{"role": "user", "content": PROMPT}]})
    events = await stream(proc, [chunk("Wrote to <EMAIL_"), chunk("ADDRESS_1"), chunk("> ok."), chunk(None, "stop"), b"data: [DONE]\n\n"])
    assert streamed_text(events) == f"Wrote to {EMAIL} ok."


async def test_output_mask_catches_a_card_split_across_stream_chunks() -> None:
    proc = processor(response="mask")
    await send(proc, {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    pieces = [chunk("Your card is 4111 11"), chunk("11 1111 "), chunk("1111, thanks."), chunk(None, "stop"), b"data: [DONE]\n\n"]
    events = await stream(proc, pieces)
    assert streamed_text(events) == "Your card is <CREDIT_CARD>, thanks."
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert proc.ctx.output_guard is not None and proc.ctx.output_guard.counts == {"CREDIT_CARD": 1}


async def test_output_block_ends_the_stream_with_content_filter() -> None:
    proc = processor(response="block")
    await send(proc, {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    pieces = [chunk("Your card is 4111 11"), chunk("11 1111 1111"), chunk(" and more words"), chunk(None, "stop"), b"data: [DONE]\n\n"]
    events = await stream(proc, pieces)
    text = streamed_text(events)
    assert "4111" not in text and text.startswith("Your card is")
    finishes = [e["choices"][0]["finish_reason"] for e in events if e.get("choices") and e["choices"][0].get("finish_reason")]
    assert finishes and set(finishes) == {"content_filter"}


async def test_output_block_empties_a_buffered_answer_with_content_filter() -> None:
    proc = processor(response="block")
    await send(proc, {"model": "fast", "messages": [{"role": "user", "content": "hi"}]})
    reply = await answer(proc, completion("The SSN is 219-09-9999."))
    choice = reply["choices"][0]
    assert choice["message"]["content"] == "" and choice["finish_reason"] == "content_filter"


async def test_the_log_line_counts_redactions_and_holds_text_only_when_the_route_opts_in() -> None:
    quiet = processor(request="mask", response="mask")
    await send(quiet, {"model": "fast", "messages": [{"role": "user", "content": PROMPT}]})
    meta = (await quiet.response_body(completion("card 5555-5555-5555-4444 ok"), True)).metadata or {}
    assert meta["redactions"] == {"EMAIL_ADDRESS": 1, "CREDIT_CARD": 1, "SECRET": 1}
    assert meta["output_policy"] == {"action": "mask", "entities": {"CREDIT_CARD": 1}}
    assert "prompt_text" not in meta and "completion_text" not in meta
    assert EMAIL not in orjson.dumps(meta).decode()

    verbose = processor(request="mask", response="mask", log_text=True)
    await send(verbose, {"model": "fast", "messages": [{"role": "user", "content": PROMPT}]})
    meta = (await verbose.response_body(completion("card 5555-5555-5555-4444 ok"), True)).metadata or {}
    assert "<EMAIL_ADDRESS_1>" in meta["prompt_text"] and EMAIL not in meta["prompt_text"]
    assert meta["completion_text"] == "card <CREDIT_CARD> ok"


async def test_embeddings_input_is_masked() -> None:
    proc = processor(request="mask")
    body = sent(await send(proc, {"model": "embed", "input": [PROMPT, "clean"]}, "/v1/embeddings"))
    assert EMAIL not in body and "<EMAIL_ADDRESS_1>" in body and "clean" in body


@pytest.mark.parametrize("mode", ["mask", "restore"])
async def test_the_same_value_twice_gets_one_placeholder(mode: str) -> None:
    proc = processor(request=mode)
    body = sent(await send(proc, {"model": "fast", "messages": [
        {"role": "user", "content": f"a {EMAIL}"}, {"role": "assistant", "content": "ok"},
        {"role": "user", "content": f"b {EMAIL} c carol@example.org"}]}))  # fmt: skip
    assert body.count("<EMAIL_ADDRESS_1>") == 2 and body.count("<EMAIL_ADDRESS_2>") == 1


def _user(content: Any) -> dict[str, Any]:
    return {"model": "fast", "messages": [{"role": "user", "content": content}]}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({**_user("hi"), "prediction": {"type": "content", "content": f"draft for {EMAIL}"}}, id="prediction.content"),
        pytest.param({"model": "fast", "messages": [{"role": "user", "content": "hi"},
                      {"role": "assistant", "content": None, "refusal": f"I won't mail {EMAIL}"},
                      {"role": "user", "content": "ok"}]}, id="assistant refusal"),  # fmt: skip
        pytest.param({**_user("hi"), "user": EMAIL}, id="user"),
        pytest.param({"model": "fast", "messages": [{"role": "user", "name": EMAIL, "content": "hi"}]}, id="message name"),
        pytest.param({**_user("hi"), "stop": [f"{EMAIL}", "END"]}, id="stop"),
        pytest.param({**_user("hi"), "tools": [{"type": "function", "function": {
            "name": "lookup", "description": f"Looks up {EMAIL}",
            "parameters": {"type": "object", "properties": {"q": {"type": "string", "description": f"e.g. {EMAIL}"}}}}}]},
            id="tool description and parameters"),  # fmt: skip
        pytest.param({**_user("hi"), "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": {"type": "object", "properties": {EMAIL: {"type": "string", "enum": [EMAIL]}}}}}},
            id="response_format schema"),  # fmt: skip
        pytest.param({**_user("hi"), "metadata": {"customer": EMAIL}}, id="metadata"),
        pytest.param({"model": "fast", "messages": [{"role": "user", "content": "hi"}, {
            "role": "assistant", "content": "ok", "reasoning_content": f"they are {EMAIL}"}, {"role": "user", "content": "go"}]},
            id="reasoning_content"),  # fmt: skip
    ],
)
async def test_every_field_the_provider_reads_is_masked(body: dict[str, Any]) -> None:
    proc = processor(request="mask")
    upstream = sent(await send(proc, body))
    canonical = orjson.dumps(proc.ctx.body).decode()  # what any provider's translation starts from
    assert EMAIL not in upstream and EMAIL not in canonical and "<EMAIL_ADDRESS_1>" in canonical


async def test_an_anthropic_thinking_block_is_masked_after_canonicalisation() -> None:
    body = {"model": "claude-haiku-4-5", "max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": [
        {"role": "user", "content": "who?"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": f"The customer is {EMAIL}.", "signature": "sig"},
                                          {"type": "text", "text": "Dana."}]},
        {"role": "user", "content": "thanks"}]}  # fmt: skip
    upstream = sent(await send(processor(request="mask"), body, "/v1/messages"))
    assert EMAIL not in upstream and "<EMAIL_ADDRESS_1>" in upstream


@pytest.mark.parametrize(
    ("written", "left_over"),
    [
        ("call ２１２-７３６-５０００ now", ["２１２", "５０００", "212-736-5000"]),  # full-width digits
        ("card ４１１１ １１１１ １１１１ １１１１ ok", ["４１１１", "4111"]),
        ("mail bob\u200b@example.com now", ["bob", "example.com"]),  # a zero-width space inside
        ("mail ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ now", ["ｂｏｂ", "ｅｘａｍｐｌｅ"]),
    ],
)
async def test_look_alike_and_invisible_characters_do_not_carry_a_value_past_the_mask(written: str, left_over: list[str]) -> None:
    upstream = orjson.loads(sent(await send(processor(request="mask"), _user(written))))
    text = upstream["messages"][0]["content"]
    assert "<" in text and not any(piece in text for piece in left_over), text


async def test_a_value_split_across_two_text_parts_is_masked_whole() -> None:
    parts = [{"type": "text", "text": "call 212-736-"}, {"type": "text", "text": "5000 tonight"}]
    upstream = orjson.loads(sent(await send(processor(request="mask"), _user(parts))))
    content = upstream["messages"][0]["content"]
    assert content == [{"type": "text", "text": "call <PHONE_NUMBER_1>"}, {"type": "text", "text": " tonight"}]


async def test_a_value_split_across_text_parts_is_refused_in_block_mode() -> None:
    parts = [{"type": "text", "text": "mail bob@exa"}, {"type": "text", "text": "mple.com"}]
    reply = await send(processor(request="block"), _user(parts))
    assert isinstance(reply, Reply) and reply.status == 400 and b"EMAIL_ADDRESS (1)" in reply.body


DENSE = "call 212-736-5000 mail a.b@example.com card 4111 1111 1111 1111 "


@pytest.mark.parametrize(("path", "error_key"), [("/v1/chat/completions", "code"), ("/v1/messages", "type")])
async def test_text_over_max_scan_bytes_is_refused_413_in_the_clients_format(path: str, error_key: str) -> None:
    proc = processor(RequestPolicy("mask", max_scan_bytes=4096))
    reply = await send(proc, {**_user(DENSE * 100), "max_tokens": 5}, path)
    assert isinstance(reply, Reply) and reply.status == 413
    error = orjson.loads(reply.body)["error"]
    assert error[error_key] == ("request_too_large_to_scan" if error_key == "code" else "request_too_large")
    assert "too large to check for sensitive data" in error["message"] and "4,096" in error["message"]
    assert "212-736-5000" not in error["message"]


async def test_a_scan_over_max_scan_seconds_is_refused_413_and_nothing_is_sent() -> None:
    proc = processor(RequestPolicy("mask", max_scan_seconds=0.001))
    reply = await send(proc, _user(DENSE * 5000))  # 320 KB of values: five chunks, each longer than a millisecond
    assert isinstance(reply, Reply) and reply.status == 413
    error = orjson.loads(reply.body)["error"]
    assert error["code"] == "request_too_large_to_scan" and "longer than the 0.001 s" in error["message"]
    assert "scan_over_budget:seconds" in proc.ctx.decisions


async def test_truncate_masks_what_was_read_and_cuts_the_rest() -> None:
    proc = processor(RequestPolicy("mask", max_scan_bytes=8192, over_budget="truncate"))
    body = {"model": "fast", "messages": [{"role": "user", "content": DENSE * 300}, {"role": "user", "content": "later bob@example.com"}]}
    upstream = orjson.loads(sent(await send(proc, body)))
    first, second = (m["content"] for m in upstream["messages"])
    assert first.endswith("[...]") and 4096 < len(first) <= 8192 and "<EMAIL_ADDRESS_1>" in first
    assert "212-736-5000" not in first and "4111" not in first and "example.com" not in first
    assert second == "[...]"


async def test_unscannable_content_is_refused_when_the_route_says_so() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    body = _user([{"type": "text", "text": "what is this?"}, image])
    assert isinstance(await send(processor(RequestPolicy("mask")), body), Changes)
    reply = await send(processor(RequestPolicy("mask", unscannable="refuse")), body)
    assert isinstance(reply, Reply) and reply.status == 400
    error = orjson.loads(reply.body)["error"]
    assert error["code"] == "unscannable_content" and "messages[0].content[1] (image_url)" in error["message"]


async def test_a_large_request_waits_for_a_worker_then_gets_503_when_none_frees_up() -> None:
    busy = gateway_with(RequestPolicy("mask", max_scan_bytes=1 << 30, max_scan_seconds=60))
    pool = next(s for s in busy.stages if isinstance(s, RedactionStage)).pool
    hurried = RouterProcessor(gateway_with(RequestPolicy("mask", max_scan_seconds=0.3)))  # the same process's pool
    hog = asyncio.create_task(send(RouterProcessor(busy), _user(DENSE * 55000)))  # seconds of scanning
    try:
        deadline = time.monotonic() + 60
        while pool.running < pool.processes:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        reply = await send(hurried, _user(DENSE * 300))
        assert isinstance(reply, Reply) and reply.status == 503 and reply.headers["retry-after"] == "2"
        assert orjson.loads(reply.body)["error"]["code"] == "redaction_busy"
    finally:
        hog.cancel()
    while pool.running:  # the cancelled scan stops, and its worker takes the next request
        await asyncio.sleep(0.01)
    assert isinstance(await send(RouterProcessor(gateway_with(RequestPolicy("mask"))), _user(DENSE * 300)), Changes)
