"""`/v1/gateway/prompts` through the router processor: any key reads, admin keys write, a tenant sees its own
prompts and the global ones and never another tenant's (the API's own rules are tests/unit/prompts/test_api.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from extproc.app import Gateway, build_gateway
from extproc.decisions import Changes, Reply
from extproc.prompts.settings import PromptSettings
from extproc.redaction.policy import PrivacyPolicies
from extproc.router.processor import RouterProcessor
from extproc.tenancy.keys import FileKeyStore, new_record
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials
from tests.support.gateway_config import gateway_config

KEYS = {"admin": ("sk-admin-0123456789", "ops", True), "acme": ("sk-acme-0123456789", "acme", False),
        "rival": ("sk-rival-0123456789", "rival", False)}  # fmt: skip
DOCUMENT = {"messages": [{"role": "user", "content": "Summarise {{ text }}"}], "model": "fast"}


@pytest.fixture()
def gateway(tmp_path: Path) -> Gateway:
    keys_file = tmp_path / "keys.json"
    for key, tenant, admin in KEYS.values():
        asyncio.run(FileKeyStore(keys_file).add(new_record(key, tenant, admin=admin)))
    return build_gateway(
        gateway_config(), credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}),
        settings=Settings(auth_mode="api_keys", keys_file=str(keys_file)), privacy=PrivacyPolicies(), prompts=PromptSettings(),
    )  # fmt: skip


async def call(gateway: Gateway, who: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """One request as Envoy hands it over: a body-less request ends at its headers."""
    processor = RouterProcessor(gateway)
    headers = {":method": method, ":path": path, "authorization": f"Bearer {KEYS[who][0]}", "x-request-id": "r1"}
    result = await processor.request_headers(headers, end_of_stream=body is None)
    if body is not None:
        assert result == Changes()  # the answer waits for the body
        result = await processor.request_body(orjson.dumps(body))
    assert isinstance(result, Reply) and result.headers["content-type"] == "application/json", result
    assert result.headers["x-gateway-request-id"] == "r1"
    return result.status, orjson.loads(result.body)


async def test_an_admin_pushes_and_any_key_pulls_by_label(gateway: Gateway) -> None:
    status, pushed = await call(gateway, "admin", "POST", "/v1/gateway/prompts/sum/versions",
                                {"prompt": DOCUMENT, "labels": ["production"]})  # fmt: skip
    assert status == 201 and pushed["version"] == 1 and pushed["created_by"] is not None
    status, pulled = await call(gateway, "acme", "GET", "/v1/gateway/prompts/sum?label=production")
    assert status == 200 and pulled["prompt"]["messages"] == DOCUMENT["messages"] and pulled["tenant"] is None
    status, listed = await call(gateway, "rival", "GET", "/v1/gateway/prompts")
    assert status == 200 and [item["name"] for item in listed["data"]] == ["sum"]


async def test_a_label_moves_and_the_next_request_expands_the_new_version(gateway: Gateway) -> None:
    await call(gateway, "admin", "POST", "/v1/gateway/prompts/sum/versions", {"prompt": DOCUMENT, "labels": ["production"]})
    second = {**DOCUMENT, "messages": [{"role": "user", "content": "In one line: {{ text }}"}]}
    status, _ = await call(gateway, "admin", "POST", "/v1/gateway/prompts/sum/versions", {"prompt": second})
    assert status == 201
    status, moved = await call(gateway, "admin", "PUT", "/v1/gateway/prompts/sum/labels/production", {"version": 2})
    assert status == 200 and (moved["version"], moved["previous_version"]) == (2, 1)
    processor = RouterProcessor(gateway)
    await processor.request_headers({":method": "POST", ":path": "/v1/chat/completions", "authorization": f"Bearer {KEYS['acme'][0]}"}, False)
    await processor.request_body(orjson.dumps({"prompt": {"name": "sum", "variables": {"text": "x"}}}))
    assert processor.ctx.prompt_version == 2 and processor.ctx.body is not None
    assert processor.ctx.body["messages"] == [{"role": "user", "content": "In one line: x"}]


async def test_writes_need_an_admin_key(gateway: Gateway) -> None:
    status, body = await call(gateway, "acme", "POST", "/v1/gateway/prompts/sum/versions?tenant=acme", {"prompt": DOCUMENT})
    assert status == 403 and body["error"]["code"] == "admin_key_required"
    status, body = await call(gateway, "acme", "PUT", "/v1/gateway/prompts/sum/labels/production", {"version": 1})
    assert status == 403 and body["error"]["code"] == "admin_key_required"


async def test_a_tenant_never_sees_nor_uses_another_tenants_prompt(gateway: Gateway) -> None:
    status, _ = await call(gateway, "admin", "POST", "/v1/gateway/prompts/secret/versions?tenant=acme",
                           {"prompt": DOCUMENT, "labels": ["production"]})  # fmt: skip
    assert status == 201
    assert (await call(gateway, "acme", "GET", "/v1/gateway/prompts/secret"))[0] == 200
    status, body = await call(gateway, "rival", "GET", "/v1/gateway/prompts/secret")
    assert status == 404 and body["error"]["code"] == "prompt_not_found"
    status, body = await call(gateway, "rival", "GET", "/v1/gateway/prompts/secret?tenant=acme")
    assert status == 403 and body["error"]["code"] == "tenant_forbidden"
    assert (await call(gateway, "rival", "GET", "/v1/gateway/prompts"))[1]["data"] == []
    processor = RouterProcessor(gateway)
    await processor.request_headers({":method": "POST", ":path": "/v1/chat/completions", "authorization": f"Bearer {KEYS['rival'][0]}"}, False)
    used = await processor.request_body(orjson.dumps({"prompt": {"name": "secret", "variables": {"text": "x"}}}))
    assert isinstance(used, Reply) and used.status == 404 and b"prompt_not_found" in used.body


async def test_a_push_without_a_body_or_with_a_broken_one_is_a_400_and_stores_nothing(gateway: Gateway) -> None:
    status, body = await call(gateway, "admin", "POST", "/v1/gateway/prompts/sum/versions")
    assert status == 400 and body["error"]["code"] == "invalid_request"
    broken = {"prompt": {"messages": [{"role": "system", "content": "hi"}, {"role": "user", "content": "{{ oops"}]}}
    status, body = await call(gateway, "admin", "POST", "/v1/gateway/prompts/sum/versions", broken)
    assert status == 400 and body["error"]["code"] == "prompt_invalid"
    assert "messages[1].content: template syntax error" in body["error"]["message"]
    assert (await call(gateway, "admin", "GET", "/v1/gateway/prompts"))[1]["data"] == []


async def test_unknown_paths_and_methods_under_the_prefix_are_404_and_405(gateway: Gateway) -> None:
    assert (await call(gateway, "acme", "GET", "/v1/gateway/prompts/a/b/c"))[0] == 404
    status, body = await call(gateway, "acme", "DELETE", "/v1/gateway/prompts/sum")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"


async def test_a_request_without_a_key_is_401_before_the_api_sees_it(gateway: Gateway) -> None:
    processor = RouterProcessor(gateway)
    reply = await processor.request_headers({":method": "GET", ":path": "/v1/gateway/prompts"}, end_of_stream=True)
    assert isinstance(reply, Reply) and reply.status == 401
