"""Routing that reads the request, through real Envoy and the fake provider (two service processes).

`auto` is the shipped virtual model: rules (tools, images, long context), then the classifier's
table (code -> qwen2.5-coder, simple -> gpt-4o-mini, complex -> gpt-4o; unsure -> gpt-4o).
Every answer says why in its headers and in the access-log line. A client's `models` list is
walked by Envoy's retries. A second stack carries a 90/10 split and a tenant's allow-list.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from extproc.config.envoy_yaml import gateway_section, iter_routes
from extproc.ops.launcher import Stack
from extproc.tenancy.settings import tenancy_metadata
from tests.e2e.conftest import (
    SUITE_TENANT,
    access_log_entry,
    shipped_config,
    start_stack,
)
from tests.support.sdk_clients import ADMIN_AUTH, AUTH, anthropic_client, openai_client

CHAT = "/v1/chat/completions"
CODE = "Write a Python function that merges two sorted lists in linear time, with type hints and pytest tests."
GREETING = "hi there, how are you?"
ANALYSIS = (
    "Below are notes from our board meeting. Analyse the economic and social trade-offs of moving our "
    "manufacturing company to a four-day work week: compare the evidence from the pilots in Iceland, the "
    "United Kingdom and Japan, weigh the risks to output, hiring and customer service, model two rollout "
    "scenarios, and recommend one with a justification the board can act on.\n\n"
    + "Notes: output per hour rose in two of three plants; overtime costs fell; two key customers asked for "
    "weekend cover; union representatives support a trial; finance expects a short-term dip in margin. " * 6
)
# Alone, confidently simple; as a turn of a complex conversation, not.
FOLLOW_UP = "yes please"


def _chat(http: httpx.Client, content: str | list[dict[str, Any]], model: str = "auto", headers: dict[str, str] | None = None,
          **extra: Any) -> httpx.Response:  # fmt: skip
    messages = [{"role": "user", "content": content}] if isinstance(content, str) else content
    return http.post(CHAT, json={"model": model, "messages": messages, "max_tokens": 64, **extra}, headers=headers or {})


def _why(response: httpx.Response) -> tuple[str | None, ...]:
    h = response.headers
    return (h.get("x-gateway-served-model"), h.get("x-gateway-route-reason"), h.get("x-gateway-task"), h.get("x-gateway-complexity"))


def test_a_code_prompt_to_auto_is_served_by_the_code_model_and_says_so(gateway: Stack, http: httpx.Client) -> None:
    response = _chat(http, CODE)
    assert response.status_code == 200, response.text
    assert _why(response) == ("qwen2.5-coder-32b", "classifier", "code", "simple")
    line = access_log_entry(gateway, response.headers["x-gateway-request-id"])
    assert (line["requested_model"], line["route"], line["route_reason"], line["task"]) == ("auto", "qwen2.5-coder", "classifier", "code")
    assert line["routing_policy"] == "auto" and line["upstream_cluster"] == "local_vllm_coder"


def test_a_long_analytical_prompt_goes_to_the_large_model(http: httpx.Client) -> None:
    response = _chat(http, ANALYSIS)
    assert response.status_code == 200, response.text
    served, reason, _, complexity = _why(response)
    assert (served, reason, complexity) == ("gpt-4o", "classifier", "complex")


def test_a_greeting_goes_to_the_small_model(http: httpx.Client) -> None:
    assert _why(_chat(http, GREETING))[:2] == ("gpt-4o-mini", "classifier")


def test_task_type_in_the_body_overrides_the_classifier(http: httpx.Client) -> None:
    response = _chat(http, GREETING, task_type="code")
    assert _why(response)[:3] == ("qwen2.5-coder-32b", "task_type", "code")


def test_a_tools_rule_wins_over_the_classifier(http: httpx.Client) -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}]
    response = _chat(http, CODE, tools=tools)
    assert _why(response) == ("gpt-4o", "tools", None, None)


def test_a_short_follow_up_in_a_conversation_that_reached_complex_stays_on_the_large_model(http: httpx.Client) -> None:
    assert _why(_chat(http, FOLLOW_UP))[0] == "gpt-4o-mini"  # on its own: the small model
    thread = {"x-conversation-id": "e2e-board-notes"}
    assert _why(_chat(http, ANALYSIS, headers=thread))[0] == "gpt-4o"
    # Two service processes share the conversation through the SQLite store: every follow-up stays large.
    for _ in range(4):
        served, reason, _, complexity = _why(_chat(http, FOLLOW_UP, headers=thread))
        assert (served, reason, complexity) == ("gpt-4o", "conversation", "complex")
    # The same turn with the whole history and no thread id: named by its opening.
    history = [{"role": "user", "content": ANALYSIS}, {"role": "assistant", "content": "Here is my analysis ..."},
               {"role": "user", "content": FOLLOW_UP}]  # fmt: skip
    _chat(http, ANALYSIS)
    assert _why(_chat(http, history))[0] == "gpt-4o"


def test_a_client_fallback_list_is_walked_when_its_first_model_fails(gateway: Stack, http: httpx.Client) -> None:
    fail_mini = {"x-fake-fault-models": "gpt-4o-mini", "x-fake-status": "503"}
    response = _chat(http, GREETING, model="gpt-4o-mini", models=["claude-haiku-4-5", "gpt-4o"], headers=fail_mini)
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "chat.completion"  # Claude's answer, in the client's format
    assert response.headers["x-gateway-served-model"] == "claude-haiku-4-5"
    assert response.headers["x-gateway-route-reason"] == "fallback_list"
    assert response.headers["x-gateway-attempts"].startswith("openai/gpt-4o-mini;status=503")
    line = access_log_entry(gateway, response.headers["x-gateway-request-id"])
    assert line["route_reason"] == "fallback_list" and float(line["cost_usd"]) > 0
    # Both failing: the third model serves; a stream walks the same way.
    both = {"x-fake-fault-models": "gpt-4o-mini,claude-haiku-4-5", "x-fake-status": "503"}
    walked = _chat(http, GREETING, model="gpt-4o-mini", models=["claude-haiku-4-5", "gpt-4o"], headers=both)
    assert walked.headers["x-gateway-served-model"] == "gpt-4o" and walked.headers["x-gateway-attempt"] == "3"
    client = openai_client(f"http://127.0.0.1:{gateway.port}/v1")
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": GREETING}], stream=True,
        extra_body={"models": ["claude-haiku-4-5"]}, extra_headers=fail_mini,
    )  # fmt: skip
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("Fake reply")
    assert {c.model for c in chunks} == {"claude-haiku-4-5"}


def test_the_anthropic_sdk_gets_the_same_routing_on_messages(gateway: Stack) -> None:
    client = anthropic_client(f"http://127.0.0.1:{gateway.port}")
    code = client.messages.with_raw_response.create(model="auto", max_tokens=64, messages=[{"role": "user", "content": CODE}])
    assert code.headers["x-gateway-served-model"] == "qwen2.5-coder-32b"
    assert code.headers["x-gateway-route-reason"] == "classifier" and code.headers["x-gateway-task"] == "code"
    assert code.parse().content[0].text.startswith("Fake reply")
    greeting = client.messages.with_raw_response.create(model="auto", max_tokens=64, messages=[{"role": "user", "content": GREETING}])
    assert greeting.headers["x-gateway-served-model"] == "gpt-4o-mini"
    forced = client.messages.with_raw_response.create(
        model="auto", max_tokens=64, messages=[{"role": "user", "content": GREETING}], extra_body={"task_type": "code"}
    )
    assert forced.headers["x-gateway-route-reason"] == "task_type"
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="auto", max_tokens=64, messages=[{"role": "user", "content": GREETING}],
                               extra_body={"task_type": "poetry"})  # fmt: skip
    assert caught.value.body["type"] == "error" and "task_type" in caught.value.body["error"]["message"]


def test_bad_routing_fields_are_400s_in_the_openai_format(gateway: Stack) -> None:
    client = openai_client(f"http://127.0.0.1:{gateway.port}/v1")
    user = [{"role": "user", "content": GREETING}]
    with pytest.raises(openai.BadRequestError) as bad_task:
        client.chat.completions.create(model="auto", messages=user, extra_body={"task_type": "poetry"})
    assert bad_task.value.code == "unknown_task_type" and bad_task.value.param == "task_type"
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model="gpt-4o", messages=user,
                                       extra_body={"models": ["gpt-4o-mini", "claude", "gemini", "reliable", "local"]})  # fmt: skip
    assert too_long.value.code == "too_many_models" and too_long.value.param == "models"
    # The gateway keeps serving.
    assert client.chat.completions.create(model="auto", messages=user).choices[0].message.content


def test_routing_decisions_are_counted_per_reason(gateway: Stack, http: httpx.Client) -> None:
    _chat(http, CODE)
    metrics = http.get("/metrics", headers=ADMIN_AUTH).text
    assert 'llm_gateway_routing_requests_total{complexity="simple",model="qwen2.5-coder",policy="auto",reason="classifier",task="code"}' in metrics
    assert 'llm_gateway_routing_cost_usd_total{model="qwen2.5-coder",policy="auto",reason="classifier"}' in metrics


# --- a split and a tenant's allow-list, on a stack of their own -----------------------------------------

SPLIT = {
    "name": "haiku-canary",
    "when": {"header": {"name": "x-experiment", "values": ["canary"]}},
    "split": {"arms": [{"name": "control", "model": "gpt-4o-mini", "weight": 90},
                       {"name": "canary", "model": "claude-haiku-4-5", "weight": 10}]},
}  # fmt: skip


@pytest.fixture(scope="module")
def split_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = shipped_config()
    for route in iter_routes(config):
        meta = gateway_section(route) or {}
        if meta.get("model") == "auto":
            meta["routing"]["rules"].insert(0, copy.deepcopy(SPLIT))
    tenants = copy.deepcopy(SUITE_TENANT)
    tenants["test"]["models"] = ["auto", "gpt-4o-mini", "claude", "gpt-4o"]
    tenancy_metadata(config)["tenants"] = tenants
    stack = start_stack(Path(tmp_path_factory.mktemp("routing-split")), config, workers=2)
    try:
        yield stack
    finally:
        stack.stop()


def test_a_split_is_sticky_per_user_and_named_in_headers_and_log(split_stack: Stack) -> None:
    canary = {"x-experiment": "canary"}
    arms: Counter[str] = Counter()
    with httpx.Client(base_url=f"http://127.0.0.1:{split_stack.port}", headers=AUTH, timeout=30) as http:
        for n in range(60):
            seen = {_chat(http, GREETING, headers=canary, user=f"user-{n}").headers["x-gateway-route-reason"] for _ in range(3)}
            assert len(seen) == 1, f"user-{n} saw {seen}"
            arms[seen.pop()] += 1
        assert set(arms) == {"haiku-canary/control", "haiku-canary/canary"}
        assert arms["haiku-canary/control"] > arms["haiku-canary/canary"]
        response = _chat(http, GREETING, headers=canary, user="user-0")
        line = access_log_entry(split_stack, response.headers["x-gateway-request-id"])
        assert line["split_arm"] == response.headers["x-gateway-route-reason"].split("/")[1]
        served = {"control": "gpt-4o-mini", "canary": "claude-haiku-4-5"}[line["split_arm"]]
        assert response.headers["x-gateway-served-model"] == served


def test_a_tenant_may_use_only_its_models_even_in_a_fallback_list(split_stack: Stack) -> None:
    client = openai_client(f"http://127.0.0.1:{split_stack.port}/v1")
    user = [{"role": "user", "content": GREETING}]
    assert client.chat.completions.create(model="auto", messages=user).choices
    with pytest.raises(openai.BadRequestError) as forbidden:
        client.chat.completions.create(model="gpt-4o-mini", messages=user, extra_body={"models": ["claude", "gemini"]})
    assert forbidden.value.code == "model_not_allowed" and forbidden.value.param == "models"
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model="gemini", messages=user)
    assert refused.value.code == "model_not_allowed"
