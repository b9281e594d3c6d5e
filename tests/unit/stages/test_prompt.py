"""The prompt stage through the router processor: a request naming a prompt is expanded before it is
validated and routed, answers say which version served, and every way it can fail is a clear error in
the client's format (no Envoy, no provider: the processor's decisions as plain values)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from extproc.app import Gateway, build_gateway
from extproc.decisions import Changes, Reply
from extproc.ops.launcher import free_port
from extproc.prompts.files import validate_document
from extproc.prompts.model import GLOBAL
from extproc.prompts.settings import PromptSettings
from extproc.redaction.policy import PrivacyPolicies
from extproc.router.processor import RouterProcessor
from extproc.telemetry import metrics
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import gateway_config

CHAT = "/v1/chat/completions"
GREETING = {
    "name": "greet", "model": "fast", "params": {"temperature": 0.2, "max_tokens": 50},
    "variables": {"who": {}, "tone": {"default": "warmly"}},
    "messages": [{"role": "system", "content": "Greet {{ who }} {{ tone }}."}, {"role": "user", "content": "Hello!"}],
}  # fmt: skip


def build(prompts: PromptSettings | None = None) -> Gateway:
    config = gateway_config()
    return build_gateway(config, credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}), settings=Settings(auth_mode="none"),
                         privacy=PrivacyPolicies(), prompts=prompts or PromptSettings())  # fmt: skip


async def push(gateway: Gateway, document: dict[str, Any], labels: tuple[str, ...] = ("production",)) -> int:
    assert gateway.prompts is not None
    version, _ = await gateway.prompts.store.add_version(GLOBAL, validate_document(document), None, labels)
    gateway.prompts.forget(GLOBAL, version.name)
    return version.number


@pytest.fixture()
def gateway() -> Iterator[Gateway]:
    built = build()
    asyncio.run(push(built, GREETING))
    yield built


async def send(gateway: Gateway, body: Any, path: str = CHAT) -> tuple[RouterProcessor, Reply | Changes]:
    processor = RouterProcessor(gateway)
    headers = {":method": "POST", ":path": path, "content-type": "application/json", "x-request-id": "r1"}
    assert await processor.request_headers(headers, end_of_stream=False) == Changes()
    return processor, await processor.request_body(orjson.dumps(body))


def sent(result: Reply | Changes) -> dict[str, Any]:
    assert isinstance(result, Changes) and result.body is not None, result
    return orjson.loads(result.body)


def error(result: Reply | Changes, status: int) -> dict[str, Any]:
    assert isinstance(result, Reply) and result.status == status, result
    return orjson.loads(result.body)


async def test_a_prompt_alone_is_the_whole_request(gateway: Gateway) -> None:
    processor, result = await send(gateway, {"prompt": {"name": "greet", "variables": {"who": "Ann"}}})
    body = sent(result)
    assert body["messages"] == [{"role": "system", "content": "Greet Ann warmly."}, {"role": "user", "content": "Hello!"}]
    assert body["model"] == "gpt-4o-mini"  # the prompt's model, `fast`, routed to its provider model
    assert (body["temperature"], body["max_tokens"]) == (0.2, 50)
    assert "prompt" not in body
    ctx = processor.ctx
    assert ctx.client_headers["x-gateway-prompt"] == "greet" and ctx.client_headers["x-gateway-prompt-version"] == "1"
    assert isinstance(result, Changes) and result.metadata is not None
    assert (result.metadata["prompt"], result.metadata["prompt_version"]) == ("greet", 1)
    assert "prompt:greet@1" in ctx.decisions


async def test_the_requests_own_messages_follow_and_its_own_values_win(gateway: Gateway) -> None:
    body = {"model": "smart", "temperature": 0.9, "messages": [{"role": "user", "content": "and you?"}],
            "prompt": {"name": "greet", "label": "production", "variables": {"who": "Bo", "tone": "briefly"}}}  # fmt: skip
    expanded = sent((await send(gateway, body))[1])
    assert [m["content"] for m in expanded["messages"]] == ["Greet Bo briefly.", "Hello!", "and you?"]
    assert (expanded["model"], expanded["temperature"], expanded["max_tokens"]) == ("smart", 0.9, 50)


async def test_a_version_or_a_label_picks_what_is_expanded(gateway: Gateway) -> None:
    await push(gateway, {**GREETING, "variables": {"who": {}}, "messages": [{"role": "user", "content": "Hi {{ who }}, v2."}]},
               labels=("staging",))  # fmt: skip
    by_label = sent((await send(gateway, {"prompt": {"name": "greet", "label": "staging", "variables": {"who": "A"}}}))[1])
    by_version = sent((await send(gateway, {"prompt": {"name": "greet", "version": 1, "variables": {"who": "A"}}}))[1])
    default = sent((await send(gateway, {"prompt": {"name": "greet", "variables": {"who": "A"}}}))[1])
    assert by_label["messages"] == [{"role": "user", "content": "Hi A, v2."}]
    assert by_version["messages"][0]["content"] == default["messages"][0]["content"] == "Greet A warmly."


@pytest.mark.parametrize(
    ("reference", "status", "code", "words"),
    [
        ({"name": "greet"}, 400, "prompt_variables_invalid", "'who'"),
        ({"name": "greet", "variables": {"who": "A", "mood": "x"}}, 400, "prompt_variables_invalid", "'mood'"),
        ({"name": "greet", "version": 1, "label": "staging"}, 400, "prompt_reference_invalid", "not both"),
        ({"name": "greet", "colour": "red"}, 400, "prompt_reference_invalid", "colour"),
        ("greet-me", 404, "prompt_not_found", "'greet-me'"),
        ({"name": "greet", "version": 7, "variables": {"who": "A"}}, 404, "prompt_version_not_found", "1 to 1"),
        ({"name": "greet", "label": "canary", "variables": {"who": "A"}}, 404, "prompt_label_not_found", "prompts label greet"),
    ],
)
async def test_what_cannot_be_expanded_is_refused_in_openai_format(
    gateway: Gateway, reference: Any, status: int, code: str, words: str
) -> None:
    before = metric("llm_gateway_prompt_errors_total", code=code)
    body = error((await send(gateway, {"prompt": reference, "messages": []}))[1], status)["error"]
    assert body["code"] == code and words in body["message"], body
    assert metric("llm_gateway_prompt_errors_total", code=code) == before + 1


async def test_the_anthropic_messages_endpoint_expands_a_prompt(gateway: Gateway) -> None:
    request = {"model": "claude", "max_tokens": 30, "messages": [], "prompt": {"name": "greet", "variables": {"who": "Cy"}}}
    processor, result = await send(gateway, request, "/v1/messages")
    assert isinstance(result, Changes)
    assert processor.ctx.body is not None and processor.ctx.body["messages"][0] == {"role": "system", "content": "Greet Cy warmly."}
    assert processor.ctx.requested_model == "claude" and processor.ctx.prompt_version == 1  # the request's model wins


async def test_an_anthropic_client_gets_prompt_errors_in_its_own_format(gateway: Gateway) -> None:
    request = {"model": "claude", "max_tokens": 30, "messages": [], "prompt": {"name": "nope"}}
    body = error((await send(gateway, request, "/v1/messages"))[1], 404)
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    assert "No prompt named 'nope'" in body["error"]["message"]


async def test_an_anthropic_request_without_messages_needs_a_prompt(gateway: Gateway) -> None:
    body = error((await send(gateway, {"model": "claude", "max_tokens": 30, "messages": []}, "/v1/messages"))[1], 400)
    assert "`messages` must be a non-empty list" in body["error"]["message"]


async def test_embeddings_cannot_name_a_prompt(gateway: Gateway) -> None:
    body = error((await send(gateway, {"model": "embed", "input": "x", "prompt": {"name": "greet"}}, "/v1/embeddings"))[1], 400)
    assert body["error"]["code"] == "prompt_not_supported"


async def test_a_render_past_what_the_body_limit_leaves_is_refused() -> None:
    gateway = build(PromptSettings(body_limit=4096))
    await push(gateway, GREETING)
    huge = {"prompt": {"name": "greet", "variables": {"who": "x" * 3000}}, "messages": [{"role": "user", "content": "y" * 500}]}
    body = error((await send(gateway, huge))[1], 400)
    assert body["error"]["code"] == "prompt_too_large"
    fits = {"prompt": {"name": "greet", "variables": {"who": "x" * 1000}}}
    assert isinstance((await send(gateway, fits))[1], Changes)


async def test_a_store_that_does_not_answer_is_a_503_and_other_requests_go_on() -> None:
    gateway = build(PromptSettings(store="redis", redis_url=f"redis://127.0.0.1:{free_port()}/0"))  # nobody listens
    body = error((await send(gateway, {"prompt": {"name": "greet"}}))[1], 503)
    assert body["error"]["code"] == "prompts_unavailable"
    assert isinstance((await send(gateway, {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}))[1], Changes)


async def test_each_expansion_counts_under_its_prompt_and_version(gateway: Gateway) -> None:
    before = metric("llm_gateway_prompt_requests_total", prompt="greet", version="1")
    await send(gateway, {"prompt": {"name": "greet", "variables": {"who": "A"}}})
    assert metric("llm_gateway_prompt_requests_total", prompt="greet", version="1") == before + 1


def metric(name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    body, _ = metrics.render()
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0
