"""Cost control before the call: the estimate endpoint, dry runs and a per-request maximum."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from extproc.app import Gateway, build_gateway
from extproc.decisions import Changes, Reply
from extproc.redaction.policy import PrivacyPolicies
from extproc.router.processor import RouterProcessor
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import gateway_config

# These tests are about requests, not keys: the explicit no-auth mode, no limits.
NO_AUTH = Settings(auth_mode="none")
# These tests are about other stages: no privacy policy rewrites their prompts or answers.
NO_PRIVACY = PrivacyPolicies()

USER = [{"role": "user", "content": "Tell me about lighthouses."}]


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    config = gateway_config()
    return build_gateway(config, credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}), settings=NO_AUTH, privacy=NO_PRIVACY)


async def _send(gateway: Gateway, body: Any, path: str = "/v1/chat/completions", **headers: str) -> Reply | Changes:
    processor = RouterProcessor(gateway)
    first = await processor.request_headers(
        {":method": "POST", ":path": path, "content-type": "application/json", **headers}, end_of_stream=False
    )
    assert first == Changes()
    return await processor.request_body(orjson.dumps(body))


def _litellm_bound(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    import litellm

    a, b = litellm.cost_per_token(model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    return a + b


async def test_estimate_endpoint_prices_prompt_and_completion_limit_without_calling_upstream(gateway: Gateway) -> None:
    import litellm

    reply = await _send(gateway, {"model": "fast", "messages": USER, "max_tokens": 100}, "/v1/gateway/cost-estimate")
    assert isinstance(reply, Reply) and reply.status == 200
    estimate = orjson.loads(reply.body)
    prompt = litellm.token_counter(model="openai/gpt-4o-mini", messages=USER)
    assert estimate["model"] == "gpt-4o-mini" and estimate["prompt_tokens"] == prompt
    [endpoint] = estimate["endpoints"]
    assert endpoint["max_completion_tokens"] == 100
    assert estimate["max_cost_usd"] == pytest.approx(_litellm_bound("openai/gpt-4o-mini", prompt, 100))
    assert float(reply.headers["x-gateway-estimated-max-cost-usd"]) == pytest.approx(estimate["max_cost_usd"])


async def test_without_max_tokens_the_bound_is_the_models_output_limit_times_n(gateway: Gateway) -> None:
    import litellm

    reply = await _send(gateway, {"model": "fast", "messages": USER, "n": 2}, "/v1/gateway/cost-estimate")
    assert isinstance(reply, Reply)
    [endpoint] = orjson.loads(reply.body)["endpoints"]
    assert endpoint["max_completion_tokens"] == 2 * litellm.get_model_info("openai/gpt-4o-mini")["max_output_tokens"]


async def test_dry_run_header_answers_the_estimate_on_the_normal_endpoint(gateway: Gateway) -> None:
    reply = await _send(gateway, {"model": "claude", "messages": USER, "max_tokens": 50}, **{"llm-gateway-dry-run": "true"})
    assert isinstance(reply, Reply) and reply.status == 200
    estimate = orjson.loads(reply.body)
    assert estimate["object"] == "gateway.cost_estimate" and estimate["model"] == "claude-haiku-4-5"
    assert estimate["endpoints"][0]["provider"] == "anthropic"


async def test_dry_run_body_field_works_too(gateway: Gateway) -> None:
    body = {"model": "fast", "messages": USER, "max_tokens": 5, "x_gateway": {"dry_run": True}}
    reply = await _send(gateway, body)
    assert isinstance(reply, Reply) and orjson.loads(reply.body)["object"] == "gateway.cost_estimate"


async def test_request_over_its_maximum_cost_is_refused_with_the_figures(gateway: Gateway) -> None:
    reply = await _send(gateway, {"model": "fast", "messages": USER}, **{"llm-gateway-max-cost-usd": "0.0001"})
    assert isinstance(reply, Reply) and reply.status == 400
    error = orjson.loads(reply.body)["error"]
    assert error["code"] == "cost_limit_exceeded"
    assert "0.0001 USD" in error["message"] and "max_tokens" in error["message"]


async def test_request_under_its_maximum_cost_goes_on_without_the_extension_field(gateway: Gateway) -> None:
    body = {"model": "fast", "messages": USER, "max_tokens": 10, "x_gateway": {"max_cost_usd": 0.01}}
    changes = await _send(gateway, body)
    assert isinstance(changes, Changes) and changes.body is not None
    assert "x_gateway" not in orjson.loads(changes.body)


@pytest.mark.parametrize("value", ["cheap", "-1", "nan", "inf"])
async def test_an_unreadable_maximum_is_400_naming_the_header(gateway: Gateway, value: str) -> None:
    reply = await _send(gateway, {"model": "fast", "messages": USER}, **{"llm-gateway-max-cost-usd": value})
    assert isinstance(reply, Reply) and reply.status == 400
    assert orjson.loads(reply.body)["error"]["param"] == "llm-gateway-max-cost-usd"


async def test_x_gateway_must_be_an_object(gateway: Gateway) -> None:
    reply = await _send(gateway, {"model": "fast", "messages": USER, "x_gateway": "dry"})
    assert isinstance(reply, Reply) and reply.status == 400
    assert orjson.loads(reply.body)["error"]["param"] == "x_gateway"


async def test_anthropic_clients_get_the_cost_error_in_anthropic_format(gateway: Gateway) -> None:
    body = {"model": "claude", "max_tokens": 4000, "messages": USER}
    reply = await _send(gateway, body, "/v1/messages", **{"llm-gateway-max-cost-usd": "0.000001"})
    assert isinstance(reply, Reply) and reply.status == 400
    payload = orjson.loads(reply.body)
    assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
    assert "1e-06 USD" in payload["error"]["message"]
