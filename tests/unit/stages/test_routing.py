"""The routing stage through the router processor (no Envoy): virtual models, explicit choices, bad routing fields."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from extproc.app import Gateway, build_gateway
from extproc.config.fallback_list import FALLBACK_MODEL
from extproc.decisions import Changes, Reply
from extproc.ops.envoy_config import render
from extproc.redaction.policy import PrivacyPolicies, load_privacy
from extproc.router.processor import RouterProcessor
from extproc.stages.routing import COMPLEXITY_HEADER, ROUTE_REASON_HEADER, TASK_HEADER
from extproc.tenancy.settings import Settings, TenantPolicy
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import GATEWAY_SECTION, gateway_config, with_virtual_model

CODE = "Write a Python function that merges two sorted lists, with type hints and pytest unit tests."
GREETING = "hi there, how are you?"
DESIGN = (
    "Analyse the economic and social trade-offs of a four-day work week for a mid-sized manufacturing company, "
    "compare evidence from pilots in three countries, and recommend a rollout strategy with its risks."
)
# Alone, confidently simple (the small model); as the next turn of a complex conversation, not.
FOLLOW_UP = "yes please"


NO_AUTH = Settings(auth_mode="none")
NO_PRIVACY = PrivacyPolicies()


def _gateway(settings: Settings = NO_AUTH, privacy: PrivacyPolicies = NO_PRIVACY) -> Gateway:
    # With a policy like the demo's `auto`, and as `up` runs it: the fallback-list route and clusters.
    config = render(with_virtual_model(gateway_config()))
    return build_gateway(config, credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}), settings=settings,
                         privacy=privacy)  # fmt: skip


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return _gateway()


async def _route(gateway: Gateway, body: dict[str, Any], path: str = "/v1/chat/completions",
                 **headers: str) -> tuple[RouterProcessor, Reply | Changes]:  # fmt: skip
    processor = RouterProcessor(gateway)
    await processor.request_headers({":method": "POST", ":path": path, "content-type": "application/json", **headers}, False)
    return processor, await processor.request_body(orjson.dumps(body))


def _chat(content: str, model: str = "auto", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def _model(result: Reply | Changes) -> str:
    assert isinstance(result, Changes), result
    return result.set_headers["x-gateway-model"]


@pytest.mark.parametrize(
    ("content", "model", "task", "complexity"),
    [(CODE, "qwen2.5-coder", "code", None), (GREETING, "gpt-4o-mini", None, "simple"), (DESIGN, "gpt-4o", None, "complex")],
)
async def test_auto_routes_by_the_classifier_and_says_why(
    gateway: Gateway, content: str, model: str, task: str | None, complexity: str | None
) -> None:
    processor, result = await _route(gateway, _chat(content))
    assert _model(result) == model
    headers = processor.ctx.client_headers
    assert headers[ROUTE_REASON_HEADER] == "classifier"
    assert headers[TASK_HEADER] == task or task is None
    assert headers[COMPLEXITY_HEADER] == complexity or complexity is None
    assert any(d.startswith(f"policy:auto->{model}(classifier)") for d in processor.ctx.decisions)


async def test_a_tools_rule_wins_over_the_classifier(gateway: Gateway) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
    processor, result = await _route(gateway, _chat(GREETING, tools=tools))
    assert _model(result) == "gpt-4o"
    assert processor.ctx.client_headers[ROUTE_REASON_HEADER] == "tools"
    assert TASK_HEADER not in processor.ctx.client_headers  # the classifier did not run


async def test_task_type_overrides_the_classifier_and_never_reaches_the_provider(gateway: Gateway) -> None:
    processor, result = await _route(gateway, _chat("Tell me about the weather in spring.", task_type="code"))
    assert _model(result) == "qwen2.5-coder"
    assert processor.ctx.client_headers[ROUTE_REASON_HEADER] == "task_type"
    assert processor.ctx.client_headers[TASK_HEADER] == "code"
    assert isinstance(result, Changes) and result.body is not None and b"task_type" not in result.body


async def test_a_concrete_model_beats_the_policy_even_with_a_task_type(gateway: Gateway) -> None:
    processor, result = await _route(gateway, _chat(CODE, model="gpt-4o-mini", task_type="code"))
    assert _model(result) == "gpt-4o-mini"
    assert ROUTE_REASON_HEADER not in processor.ctx.client_headers


@pytest.mark.parametrize("task_type", ["poetry", 3, ""])
async def test_an_unknown_task_type_is_a_400_naming_the_values(gateway: Gateway, task_type: Any) -> None:
    _, result = await _route(gateway, _chat(GREETING, task_type=task_type))
    assert isinstance(result, Reply) and result.status == 400
    error = orjson.loads(result.body)["error"]
    assert error["code"] == "unknown_task_type" and error["param"] == "task_type" and "summarization" in error["message"]


async def test_an_unknown_task_type_on_messages_is_a_400_in_anthropics_format(gateway: Gateway) -> None:
    body = {"model": "auto", "max_tokens": 50, "messages": [{"role": "user", "content": GREETING}], "task_type": "poetry"}
    _, result = await _route(gateway, body, path="/v1/messages")
    assert isinstance(result, Reply) and result.status == 400
    payload = orjson.loads(result.body)
    assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
    assert "task_type" in payload["error"]["message"]


async def test_messages_get_the_same_routing(gateway: Gateway) -> None:
    body = {"model": "auto", "max_tokens": 50, "messages": [{"role": "user", "content": CODE}], "task_type": "code"}
    processor, result = await _route(gateway, body, path="/v1/messages")
    assert _model(result) == "qwen2.5-coder"
    assert processor.ctx.client_headers[ROUTE_REASON_HEADER] == "task_type"


async def test_a_follow_up_in_a_complex_conversation_stays_on_the_large_model(gateway: Gateway) -> None:
    _, first = await _route(gateway, _chat(DESIGN), **{"x-conversation-id": "thread-1"})
    assert _model(first) == "gpt-4o"
    processor, kept = await _route(gateway, _chat(FOLLOW_UP), **{"x-conversation-id": "thread-1"})
    assert _model(kept) == "gpt-4o"
    assert processor.ctx.client_headers[ROUTE_REASON_HEADER] == "conversation"
    assert processor.ctx.client_headers[COMPLEXITY_HEADER] == "complex"
    # The same short turn in another thread is simple.
    _, other = await _route(gateway, _chat(FOLLOW_UP), **{"x-conversation-id": "thread-2"})
    assert _model(other) == "gpt-4o-mini"


async def test_without_a_thread_id_the_conversation_is_named_by_its_opening(gateway: Gateway) -> None:
    _, first = await _route(gateway, _chat(DESIGN))
    assert _model(first) == "gpt-4o"
    history = {"model": "auto", "messages": [
        {"role": "user", "content": DESIGN}, {"role": "assistant", "content": "Here is an analysis ..."},
        {"role": "user", "content": FOLLOW_UP}]}  # fmt: skip
    _, kept = await _route(gateway, history)
    assert _model(kept) == "gpt-4o"


async def test_a_tenant_gets_only_the_models_it_may_use() -> None:
    gateway = _gateway(Settings(auth_mode="none", tenants={"anonymous": TenantPolicy(models=frozenset({"auto", "fast"}))}))
    assert _model((await _route(gateway, _chat(GREETING)))[1]) == "gpt-4o-mini"
    assert _model((await _route(gateway, _chat(GREETING, model="gpt-4o-mini")))[1]) == "gpt-4o-mini"  # alias allowed
    _, refused = await _route(gateway, _chat(GREETING, model="gpt-4o"))
    assert isinstance(refused, Reply) and refused.status == 403
    error = orjson.loads(refused.body)["error"]
    assert error["code"] == "model_not_allowed" and "auto, fast" in error["message"]


async def test_models_list_names_the_virtual_model(gateway: Gateway) -> None:
    processor = RouterProcessor(gateway)
    reply = await processor.request_headers({":method": "GET", ":path": "/v1/models"}, True)
    assert isinstance(reply, Reply)
    ids = {entry["id"]: entry for entry in orjson.loads(reply.body)["data"]}
    assert ids["auto"]["owned_by"] == "llm-gateway" and ids["router"]["alias_of"] == "auto"


# --- a client's fallback list ---------------------------------------------------


async def test_a_fallback_list_goes_to_the_route_envoy_walks_in_the_clients_order(gateway: Gateway) -> None:
    body = _chat(GREETING, model="fast", models=["claude", "gpt-4o-mini", "gpt-4o"])
    processor, result = await _route(gateway, body)
    assert isinstance(result, Changes)
    assert result.set_headers["x-gateway-model"] == FALLBACK_MODEL
    assert result.set_headers["x-envoy-max-retries"] == "2"
    assert result.lb_metadata == {"position_0": "gpt-4o-mini", "position_1": "claude-haiku-4-5",
                                  "position_2": "gpt-4o", "position_3": "-", "position_4": "-"}  # fmt: skip
    assert processor.ctx.client_headers[ROUTE_REASON_HEADER] == "fallback_list"
    assert result.body is not None and b'"models"' not in result.body  # the provider never sees the list


async def test_a_list_of_one_model_is_an_ordinary_request(gateway: Gateway) -> None:
    processor, result = await _route(gateway, _chat(GREETING, model="gpt-4o", models=["gpt-4o"]))
    assert _model(result) == "gpt-4o" and processor.ctx.routing is None


@pytest.mark.parametrize(
    ("model", "models", "code", "says"),
    [
        ("gpt-4o", ["a", "b", "c", "d", "e"], "too_many_models", "names 6 models; a fallback list may have at most 5"),
        ("gpt-4o", ["gpt-5"], "model_not_found", "'gpt-5' in `models` cannot be tried: it does not exist"),
        ("gpt-4o", ["embed"], "wrong_model_kind", "serves embeddings"),
        ("auto", ["gpt-4o"], "invalid_request", "not the routing policy 'auto'"),
        ("gpt-4o", ["auto"], "model_not_found", "a routing policy cannot be part of a list"),
        ("gpt-4o", "gpt-4o-mini", "invalid_request", "must be a list of model names"),
    ],
)
async def test_a_bad_fallback_list_is_a_400_naming_models(
    gateway: Gateway, model: str, models: Any, code: str, says: str
) -> None:
    _, result = await _route(gateway, _chat(GREETING, model=model, models=models))
    assert isinstance(result, Reply) and result.status == 400
    error = orjson.loads(result.body)["error"]
    assert (error["code"], error["param"]) == (code, "models") and says in error["message"]


async def test_a_list_naming_a_model_the_tenant_may_not_use_is_a_400() -> None:
    gateway = _gateway(Settings(auth_mode="none", tenants={"anonymous": TenantPolicy(models=frozenset({"gpt-4o-mini", "claude"}))}))
    assert isinstance((await _route(gateway, _chat(GREETING, model="gpt-4o-mini", models=["claude-haiku-4-5"])))[1], Changes)
    _, result = await _route(gateway, _chat(GREETING, model="gpt-4o-mini", models=["claude", "gpt-4o"]))
    assert isinstance(result, Reply) and result.status == 400
    error = orjson.loads(result.body)["error"]
    assert error["code"] == "model_not_allowed" and error["param"] == "models" and "'gpt-4o'" in error["message"]


async def test_a_list_whose_models_have_different_privacy_policies_is_refused() -> None:
    masking = gateway_config(gateway={**GATEWAY_SECTION, "privacy": {"request": {"mode": "mask"}}})
    gateway = _gateway(privacy=load_privacy(masking))  # llama-3.1-8b sends prompts as they are; gpt-4o masks
    _, result = await _route(gateway, _chat(GREETING, model="llama-3.1-8b", models=["gpt-4o"]))
    assert isinstance(result, Reply) and result.status == 400
    error = orjson.loads(result.body)["error"]
    assert error["code"] == "fallback_policies_differ" and "gpt-4o differ from llama-3.1-8b" in error["message"]


async def test_a_fallback_list_on_messages_is_refused_in_anthropics_format(gateway: Gateway) -> None:
    body = {"model": "claude", "max_tokens": 50, "messages": [{"role": "user", "content": GREETING}], "models": "x"}
    _, result = await _route(gateway, body, path="/v1/messages")
    assert isinstance(result, Reply) and result.status == 400
    payload = orjson.loads(result.body)
    assert payload["type"] == "error" and "`models` must be a list" in payload["error"]["message"]


async def test_without_the_generated_route_a_list_is_refused_saying_why() -> None:
    gateway = build_gateway(with_virtual_model(gateway_config()), credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}),
                            settings=Settings(auth_mode="none"), privacy=PrivacyPolicies())  # fmt: skip
    _, result = await _route(gateway, _chat(GREETING, model="gpt-4o", models=["gpt-4o-mini"]))
    assert isinstance(result, Reply) and result.status == 400
    assert orjson.loads(result.body)["error"]["code"] == "fallback_lists_unavailable"
