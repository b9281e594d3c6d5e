"""The prompt API's request handling: reads for every key, writes for admins, errors with codes, nothing half written."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from extproc.errors import StoreUnavailable
from extproc.prompts.api import ApiRequest, PromptApi, handles
from extproc.prompts.model import GLOBAL
from extproc.prompts.resolver import PromptResolver
from extproc.prompts.store import MemoryPromptStore
from extproc.tenancy.auth import Identity

ADMIN = Identity("ops", "key-admin", admin=True)
ACME = Identity("acme", "key-acme")
GLOBEX = Identity("globex", "key-globex")
BASE = "/v1/gateway/prompts"
SUPPORT = {"description": "Answer a customer.", "model": "fast",
           "messages": [{"role": "system", "content": "Help {{ customer }}."}]}  # fmt: skip


class Api:
    def __init__(self, store: MemoryPromptStore | None = None) -> None:
        self.store = store or MemoryPromptStore()
        self.api = PromptApi(PromptResolver(self.store))

    async def __call__(
        self, method: str, path: str, who: Identity, body: Any = None, **query: str
    ) -> tuple[int, dict[str, Any]]:
        raw = b"" if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
        return await self.api.handle(ApiRequest(method, BASE + path, who, query, raw))

    async def push(self, name: str, prompt: dict[str, Any], labels: list[str] | None = None, **query: str) -> dict[str, Any]:
        status, payload = await self("POST", f"/{name}/versions", ADMIN, {"prompt": prompt, "labels": labels or []}, **query)
        assert status in (200, 201), payload
        return payload


@pytest.fixture()
def api() -> Api:
    return Api()


async def test_push_then_pull_by_label(api: Api) -> None:
    pushed = await api.push("support", SUPPORT, ["production"])
    assert (pushed["version"], pushed["created"], pushed["tenant"], pushed["created_by"]) == (1, True, None, "key-admin")
    assert pushed["variables"] == {"required": ["customer"], "optional": []}
    status, pulled = await api("GET", "/support", ACME)
    assert status == 200 and pulled["version"] == 1 and pulled["labels"] == ["production", "latest"]
    assert pulled["prompt"] == {"name": "support", **SUPPORT}


async def test_push_returns_201_for_a_new_version_and_200_for_the_same_content(api: Api) -> None:
    status, _ = await api("POST", "/support/versions", ADMIN, {"prompt": SUPPORT})
    again_status, again = await api("POST", "/support/versions", ADMIN, {"prompt": SUPPORT, "labels": ["staging"]})
    assert (status, again_status, again["version"], again["created"], again["labels"]) == (201, 200, 1, False, ["staging", "latest"])


async def test_labels_pick_versions_and_move(api: Api) -> None:
    await api.push("support", SUPPORT, ["production"])
    await api.push("support", {**SUPPORT, "model": "smart"}, ["staging"])
    assert (await api("GET", "/support", ACME, label="staging"))[1]["prompt"]["model"] == "smart"
    assert (await api("GET", "/support", ACME, version="1"))[1]["prompt"]["model"] == "fast"
    assert (await api("GET", "/support/versions/2", ACME))[1]["version"] == 2
    status, moved = await api("PUT", "/support/labels/production", ADMIN, {"version": 2})
    assert status == 200 and (moved["version"], moved["previous_version"]) == (2, 1)
    assert (await api("GET", "/support", ACME))[1]["version"] == 2  # seen at once through the API
    status, listing = await api("GET", "/support/versions", ACME)
    assert status == 200 and [(v["version"], v["labels"]) for v in listing["data"]] == [(1, []), (2, ["production", "staging"])]


async def test_tenants_see_their_own_and_the_global_prompts(api: Api) -> None:
    await api.push("support", SUPPORT, ["production"])
    await api.push("support", {**SUPPORT, "description": "Acme's"}, ["production"], tenant="acme")
    await api.push("acme-only", SUPPORT, tenant="acme")
    status, acme = await api("GET", "", ACME)
    assert status == 200
    assert [(p["name"], p["tenant"], p["shadowed"]) for p in acme["data"]] == [
        ("acme-only", "acme", False), ("support", "acme", False), ("support", None, True),
    ]  # fmt: skip
    globex = (await api("GET", "", GLOBEX))[1]
    assert [(p["name"], p["tenant"]) for p in globex["data"]] == [("support", None)]
    assert (await api("GET", "/support", ACME))[1]["prompt"]["description"] == "Acme's"
    assert (await api("GET", "/support", GLOBEX))[1]["prompt"]["description"] == "Answer a customer."
    assert (await api("GET", "/support", ACME, **{"global": "true"}))[1]["tenant"] is None


async def test_a_tenant_cannot_read_another_tenants_prompts(api: Api) -> None:
    await api.push("acme-only", SUPPORT, ["production"], tenant="acme")
    status, error = await api("GET", "/acme-only", GLOBEX)
    assert (status, error["error"]["code"]) == (404, "prompt_not_found")
    status, error = await api("GET", "", GLOBEX, tenant="acme")
    assert (status, error["error"]["code"]) == (403, "tenant_forbidden")
    status, admin_view = await api("GET", "", ADMIN, tenant="acme")
    assert status == 200 and [p["name"] for p in admin_view["data"]] == ["acme-only"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "/support/versions", {"prompt": SUPPORT}), ("PUT", "/support/labels/production", {"version": 1})],
)
async def test_writes_need_an_admin_key(api: Api, method: str, path: str, body: dict[str, Any]) -> None:
    status, error = await api(method, path, ACME, body)
    assert (status, error["error"]["code"], error["error"]["type"]) == (403, "admin_key_required", "permission_error")
    assert await api.store.heads(GLOBAL) == []


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"{not json", "invalid_json", "not valid JSON"),
        ({"messages": []}, "invalid_request", '{"prompt": {'),
        ({"prompt": {**SUPPORT, "messages": [{"role": "bot", "content": "x"}]}}, "prompt_invalid", "messages[0].role"),
        ({"prompt": {**SUPPORT, "name": "other"}}, "prompt_invalid", "named 'other' but was pushed to 'support'"),
        ({"prompt": {**SUPPORT, "messages": [{"role": "user", "content": "{{ x }"}]}}, "prompt_invalid", "syntax error"),
        ({"prompt": SUPPORT, "labels": ["latest"]}, "prompt_invalid", "implicit"),
        ({"prompt": SUPPORT, "labels": "production"}, "prompt_invalid", "list"),
        ({"prompt": {**SUPPORT, "messages": [{"role": "user", "content": "x" * 300_000}]}}, "prompt_invalid", "256 KiB"),
    ],
)
async def test_a_bad_push_is_refused_and_stores_nothing(api: Api, body: Any, code: str, words: str) -> None:
    status, error = await api("POST", "/support/versions", ADMIN, body)
    assert (status, error["error"]["code"]) == (400, code)
    assert words in error["error"]["message"]
    assert await api.store.head(GLOBAL, "support") is None


async def test_a_bad_name_in_the_path_is_refused(api: Api) -> None:
    status, error = await api("POST", "/Not A Name/versions", ADMIN, {"prompt": SUPPORT})
    assert (status, error["error"]["code"]) == (400, "prompt_invalid")


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/support/labels/production", {"version": 5}, 404, "prompt_version_not_found"),
        ("/missing/labels/production", {"version": 1}, 404, "prompt_not_found"),
        ("/support/labels/latest", {"version": 1}, 400, "prompt_label_invalid"),
        ("/support/labels/production", {"version": "1"}, 400, "invalid_request"),
        ("/support/labels/production", {"version": 1, "extra": 1}, 400, "invalid_request"),
    ],
)
async def test_bad_label_moves_are_refused(api: Api, path: str, body: Any, status: int, code: str) -> None:
    await api.push("support", SUPPORT, ["production"])
    got, error = await api("PUT", path, ADMIN, body)
    assert (got, error["error"]["code"]) == (status, code)
    head = await api.store.head(GLOBAL, "support")
    assert head is not None and dict(head.labels) == {"production": 1}


@pytest.mark.parametrize(
    ("method", "path", "query", "status", "code"),
    [
        ("GET", "/missing", {}, 404, "prompt_not_found"),
        ("GET", "/support", {"label": "canary"}, 404, "prompt_label_not_found"),
        ("GET", "/support/versions/7", {}, 404, "prompt_version_not_found"),
        ("GET", "/support/versions/abc", {}, 400, "invalid_request"),
        ("GET", "/support", {"label": "staging", "version": "1"}, 400, "invalid_request"),
        ("GET", "", {"tenant": "acme", "global": "true"}, 400, "invalid_request"),
        ("GET", "", {"tenant": "bad name!"}, 400, "invalid_request"),
        ("DELETE", "/support", {}, 405, "method_not_allowed"),
        ("GET", "/support/versions/1/extra", {}, 404, "not_found"),
    ],
)
async def test_bad_reads_are_clear_errors(api: Api, method: str, path: str, query: dict[str, str], status: int, code: str) -> None:
    await api.push("support", SUPPORT, ["production"])
    got, error = await api(method, path, ACME, **query)
    assert (got, error["error"]["code"]) == (status, code), error


class FailingStore(MemoryPromptStore):
    async def add_version(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("sqlite prompts: OperationalError")


async def test_a_store_that_fails_is_a_503() -> None:
    status, error = await Api(FailingStore())("POST", "/support/versions", ADMIN, {"prompt": SUPPORT})
    assert (status, error["error"]["code"]) == (503, "prompts_unavailable")


def test_the_endpoint_layer_routes_only_the_prompt_paths_here() -> None:
    assert handles(BASE) and handles(BASE + "/x/versions")
    assert not handles("/v1/gateway/promptsx") and not handles("/v1/chat/completions")
