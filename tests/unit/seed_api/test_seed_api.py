"""The LLM Proxy seed's API mapping (docs/seed-api.md): its bodies to the canonical chat body,
the gateway's answers back to its shapes, and its 400s for wrong types, names and values."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from extproc.config.catalog import load_catalog
from extproc.cost.usage import Usage
from extproc.seed_api import (
    TASK_TYPES,
    ConfiguredModel,
    ModelChoices,
    SeedApiError,
    dry_run_response,
    estimate_response,
    is_seed_body,
    parse_cost_estimate,
    parse_query,
    query_response,
    status_response,
)
from extproc.seed_api.errors import from_openai_error
from tests.support.gateway_config import gateway_config

MODELS = ModelChoices(
    [
        ConfiguredModel("gpt-4o-mini", "openai", "gpt-4o-mini", ("fast",)),
        ConfiguredModel("gpt-4o", "openai", "gpt-4o-2024-08-06", ("smart",)),
        ConfiguredModel("claude-haiku-4-5", "anthropic", "claude-haiku-4-5-20251001"),
        ConfiguredModel("flash", "gemini", "gemini-2.5-flash"),
    ]
)
ANSWER = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25,
              "prompt_tokens_details": {"cached_tokens": 16}, "completion_tokens_details": {"reasoning_tokens": 2}},
}  # fmt: skip
ESTIMATE = {
    "object": "gateway.cost_estimate", "model": "gpt-4o", "prompt_tokens": 12, "max_cost_usd": 0.00103,
    "endpoints": [
        {"model": "gpt-4o-2024-08-06", "provider": "openai", "prompt_tokens": 12, "max_completion_tokens": 100,
         "prompt_cost_usd": 0.00003, "max_cost_usd": 0.00103},
        {"model": "gpt-4o-mini", "provider": "openai", "prompt_tokens": 12, "max_completion_tokens": 100,
         "prompt_cost_usd": 0.0000018, "max_cost_usd": 0.0000618},
    ],
}  # fmt: skip


def _refused(body: Any, parse: Any = parse_query) -> SeedApiError:
    with pytest.raises(SeedApiError) as caught:
        parse(body, MODELS)
    return caught.value


def test_a_minimal_query_asks_routing_with_one_user_message() -> None:
    query = parse_query(b'{"query": "What is the capital of France?"}', MODELS)
    assert query.chat_body() == {"model": "auto", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    assert (query.dry_run, query.max_cost_usd, query.request_id, query.tenant) == (False, None, None, None)


def test_every_optional_field_reaches_the_canonical_body() -> None:
    query = parse_query(
        {"query": "Summarise this.", "model": "openai", "model_version": "gpt-4o-2024-08-06",
         "task_type": "summarization", "max_cost_usd": 0.05, "dry_run": True, "request_id": "seed-42",
         "tenant": "acme", "max_tokens": 200},
        MODELS,
    )  # fmt: skip
    assert query.chat_body() == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Summarise this."}],
        "max_tokens": 200,
        "x_gateway": {"dry_run": True, "max_cost_usd": 0.05, "task": "summarization"},
    }
    assert (query.provider, query.model_version, query.request_id, query.tenant) == (
        "openai", "gpt-4o-2024-08-06", "seed-42", "acme",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("model", "version", "expected"),
    [
        ("openai", None, "gpt-4o-mini"),  # the provider's first configured model
        ("OpenAI", "gpt-4o", "gpt-4o"),  # a version by model name
        ("openai", "smart", "gpt-4o"),  # ... by alias
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),  # ... by the provider's own model name
        ("claude", None, "claude-haiku-4-5"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("gemini", None, "flash"),
        ("google", None, "flash"),
        ("fast", None, "gpt-4o-mini"),  # a configured alias, as on the chat API
        ("gpt-4o", "gpt-4o-2024-08-06", "gpt-4o"),
        ("auto", None, "auto"),
        (None, "gemini-2.5-flash", "flash"),  # a version alone: whichever provider has it
    ],
)
def test_provider_names_and_versions_pick_a_configured_model(model: str | None, version: str | None, expected: str) -> None:
    body = {"query": "hi", **({"model": model} if model else {}), **({"model_version": version} if version else {})}
    assert parse_query(body, MODELS).model == expected


def test_the_shipped_catalog_maps_each_seed_provider() -> None:
    choices = ModelChoices.from_catalog(load_catalog(gateway_config()))
    assert choices.resolve("openai", None) == ("gpt-4o-mini", "openai")
    assert choices.resolve("claude", None) == ("claude-haiku-4-5", "claude")
    assert choices.resolve("gemini", None) == ("gemini-2.5-flash", "gemini")
    assert choices.resolve("openai", "gpt-4o") == ("gpt-4o", "openai")
    with pytest.raises(SeedApiError) as caught:
        choices.resolve("mistral", None)
    assert caught.value.code == "provider_not_configured"  # the shipped envoy.yaml has no Mistral endpoint
    assert "text-embedding" not in str(caught.value.message)  # embeddings models are not chat choices


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "query", "missing_field"),
        ({"query": None}, "query", "missing_field"),
        ({"query": 42}, "query", "invalid_type"),
        ({"query": ["a"]}, "query", "invalid_type"),
        ({"query": "   "}, "query", "invalid_value"),
        ({"query": "hi", "model": 3}, "model", "invalid_type"),
        ({"query": "hi", "model": ""}, "model", "invalid_type"),
        ({"query": "hi", "model_version": False}, "model_version", "invalid_type"),
        ({"query": "hi", "task_type": "poetry"}, "task_type", "unknown_task_type"),
        ({"query": "hi", "task_type": 1}, "task_type", "invalid_type"),
        ({"query": "hi", "max_cost_usd": "0.05"}, "max_cost_usd", "invalid_type"),
        ({"query": "hi", "max_cost_usd": True}, "max_cost_usd", "invalid_type"),
        ({"query": "hi", "max_cost_usd": 0}, "max_cost_usd", "invalid_value"),
        ({"query": "hi", "max_cost_usd": -1.5}, "max_cost_usd", "invalid_value"),
        ({"query": "hi", "dry_run": "yes"}, "dry_run", "invalid_type"),
        ({"query": "hi", "dry_run": 1}, "dry_run", "invalid_type"),
        ({"query": "hi", "request_id": 7}, "request_id", "invalid_type"),
        ({"query": "hi", "request_id": "has space"}, "request_id", "invalid_value"),
        ({"query": "hi", "request_id": "x" * 129}, "request_id", "invalid_value"),
        ({"query": "hi", "tenant": {"name": "acme"}}, "tenant", "invalid_type"),
        ({"query": "hi", "tenant": "../acme"}, "tenant", "invalid_value"),
        ({"query": "hi", "max_tokens": 1.5}, "max_tokens", "invalid_type"),
        ({"query": "hi", "max_tokens": 0}, "max_tokens", "invalid_value"),
        ({"query": "hi", "model": "cohere"}, "model", "unknown_model"),
        ({"query": "hi", "model": "openai", "model_version": "gpt-5"}, "model_version", "unknown_model_version"),
        ({"query": "hi", "model": "fast", "model_version": "gpt-4o"}, "model_version", "unknown_model_version"),
        ({"query": "hi", "model": "mistral"}, "model", "provider_not_configured"),
    ],
)
def test_wrong_bodies_get_a_400_naming_the_field(body: dict[str, Any], field: str, code: str) -> None:
    error = _refused(body)
    assert (error.status, error.field, error.code) == (400, field, code)
    payload = error.payload()
    assert payload["status"] == "error" and payload["error"]["type"] == "invalid_request"
    assert payload["error"]["field"] == field and payload["error"]["code"] == code and payload["error"]["message"]


@pytest.mark.parametrize(("body", "code"), [(b"{not json", "invalid_json"), (b"[1, 2]", "invalid_type"), ("text", "invalid_type")])
def test_a_body_that_is_not_an_object_is_a_400(body: Any, code: str) -> None:
    assert _refused(body).code == code


def test_an_error_carries_the_bodys_request_id() -> None:
    assert _refused({"query": 1, "request_id": "seed-7"}).payload()["request_id"] == "seed-7"


def test_unknown_fields_are_ignored_as_the_seed_did() -> None:
    assert parse_query({"query": "hi", "temperature": 0.2, "stream": False}, MODELS).chat_body()["model"] == "auto"


def test_every_task_type_of_the_seed_and_the_routing_ones_is_accepted() -> None:
    assert {"text_generation", "summarization", "sentiment_analysis", "question_answering"} <= set(TASK_TYPES)
    for task in TASK_TYPES:
        assert parse_query({"query": "hi", "task_type": task}, MODELS).chat_body()["x_gateway"] == {"task": task}


def test_a_tenant_other_than_the_keys_is_a_403() -> None:
    query = parse_query({"query": "hi", "tenant": "other", "request_id": "r1"}, MODELS)
    with pytest.raises(SeedApiError) as caught:
        query.check_tenant("acme")
    assert caught.value.status == 403 and caught.value.code == "tenant_mismatch"
    assert caught.value.payload()["error"]["type"] == "permission_error"
    assert "acme" not in caught.value.message  # the key's tenant is not told to the body's author
    parse_query({"query": "hi", "tenant": "acme"}, MODELS).check_tenant("acme")
    parse_query({"query": "hi"}, MODELS).check_tenant("acme")


def test_the_answer_has_num_tokens_the_breakdown_and_the_cost() -> None:
    query = parse_query({"query": "Capital of France?", "model": "openai", "request_id": "seed-1",
                         "task_type": "question_answering"}, MODELS)  # fmt: skip
    answer = query_response(query, ANSWER, cost_usd=0.0000042, provider="openai", gateway_request_id="gw-9",
                            cache="miss", estimated_max_cost_usd=0.00002)  # fmt: skip
    assert answer["status"] == "success" and answer["response"] == "Paris."
    assert (answer["request_id"], answer["gateway_request_id"]) == ("seed-1", "gw-9")
    assert (answer["model"], answer["model_version"], answer["provider"]) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai")
    assert answer["num_tokens"] == 25
    assert answer["token_usage"] == {"prompt_tokens": 20, "cached_tokens": 16, "uncached_prompt_tokens": 4,
                                     "completion_tokens": 5, "reasoning_tokens": 2, "total_tokens": 25}  # fmt: skip
    assert answer["cost"] == {"total_usd": 0.0000042, "estimated_max_usd": 0.00002, "currency": "USD"}
    assert (answer["task_type"], answer["finish_reason"], answer["cache"], answer["dry_run"]) == (
        "question_answering", "stop", "miss", False,
    )  # fmt: skip
    orjson.dumps(answer)  # plain JSON


def test_an_auto_query_reports_the_model_routing_chose_and_an_estimated_usage() -> None:
    query = parse_query({"query": "hi"}, MODELS)
    bare = {**ANSWER, "usage": None}
    answer = query_response(query, bare, cost_usd=None, usage=Usage(7, 3), routed_model="gpt-4o-mini")
    assert answer["model"] == "gpt-4o-mini" and answer["request_id"] is None
    assert answer["num_tokens"] == 10 and answer["token_usage"]["reasoning_tokens"] is None
    assert answer["cost"]["total_usd"] is None


def test_a_dry_run_answers_the_estimate_and_spends_nothing() -> None:
    query = parse_query({"query": "hi", "model": "smart", "dry_run": True, "request_id": "d1"}, MODELS)
    answer = dry_run_response(query, ESTIMATE)
    assert answer["status"] == "dry_run" and answer["response"] is None and answer["dry_run"] is True
    assert answer["num_tokens"] == 12
    assert answer["token_usage"]["completion_tokens"] == 100 and answer["token_usage"]["total_tokens"] == 112
    assert answer["cost"] == {"total_usd": 0.0, "estimated_max_usd": 0.00103, "currency": "USD"}
    assert answer["model_version"] == "gpt-4o-2024-08-06"  # the dearest endpoint, whose bound the total is


def test_the_seeds_cost_estimate_body_maps_expected_response_tokens() -> None:
    body = {"query": "Translate: bonjour", "model": "openai", "model_version": "gpt-4o", "expected_response_tokens": 100}
    assert is_seed_body(body) and not is_seed_body({"model": "x", "messages": []}) and not is_seed_body([1])
    query = parse_cost_estimate(body, MODELS)
    assert query.dry_run is True
    assert query.chat_body() == {"model": "gpt-4o", "messages": [{"role": "user", "content": "Translate: bonjour"}],
                                 "max_tokens": 100, "x_gateway": {"dry_run": True}}  # fmt: skip
    answer = estimate_response(query, ESTIMATE)
    assert answer["num_tokens"] == 12 and answer["expected_response_tokens"] == 100
    assert answer["cost_estimate"] == {"prompt_usd": 0.00003, "response_usd": 0.001, "total_usd": 0.00103, "currency": "USD"}
    assert len(answer["endpoints"]) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [({"query": "hi", "expected_response_tokens": "100"}, "expected_response_tokens"),
     ({"query": "hi", "expected_response_tokens": -1}, "expected_response_tokens"),
     ({"model": "openai"}, "query")],
)  # fmt: skip
def test_a_wrong_cost_estimate_body_is_a_400(body: dict[str, Any], field: str) -> None:
    error = _refused(body, parse_cost_estimate)
    assert error.status == 400 and error.field == field


def test_an_unbounded_estimate_has_no_total() -> None:
    query = parse_cost_estimate({"query": "hi"}, MODELS)
    unbounded = {**ESTIMATE, "max_cost_usd": None,
                 "endpoints": [{**ESTIMATE["endpoints"][0], "max_cost_usd": None, "max_completion_tokens": None}]}  # fmt: skip
    answer = estimate_response(query, unbounded)
    assert answer["cost_estimate"]["total_usd"] is None and answer["cost_estimate"]["response_usd"] is None


def test_status_turns_a_provider_red_when_its_endpoints_are_down() -> None:
    assert status_response({"openai": (2, 2), "anthropic": (1, 1)})["status"] == "ok"
    status = status_response({"openai": (2, 2), "anthropic": (0, 1), "gemini": (1, 2)})
    assert status["status"] == "degraded"
    assert status["providers"]["anthropic"] == {"status": "down", "healthy_endpoints": 0, "endpoints": 1}
    assert status["providers"]["gemini"]["status"] == "degraded"
    assert status_response({"openai": (0, 1)})["status"] == "down"
    assert status_response({})["status"] == "down"


def test_the_gateways_own_errors_take_the_seeds_shape() -> None:
    openai = {"error": {"message": "Invalid API key.", "type": "authentication_error", "param": None,
                        "code": "invalid_api_key"}}  # fmt: skip
    assert from_openai_error(401, openai, "r1") == {
        "status": "error",
        "error": {"type": "authentication_error", "code": "invalid_api_key", "message": "Invalid API key.", "field": None},
        "request_id": "r1",
    }
    assert from_openai_error(429, {"error": {"message": "Slow down.", "code": "rate_limited"}})["error"]["type"] == "rate_limit_error"
    assert from_openai_error(502, b"upstream garbage")["error"]["code"] == "gateway_error"
