"""The resolver: which version a request gets, how it expands, the errors it answers, and how long it caches."""

from __future__ import annotations

from typing import Any

import pytest

from extproc.errors import GatewayError, StoreUnavailable
from extproc.prompts.files import validate_document
from extproc.prompts.model import GLOBAL
from extproc.prompts.resolver import PromptResolver, RenderedPrompt, parse_reference
from extproc.prompts.store import MemoryPromptStore


def doc(content: str, name: str = "support", **fields: Any) -> Any:
    return validate_document({"name": name, "messages": [{"role": "system", "content": content}], **fields})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
async def setup() -> tuple[PromptResolver, MemoryPromptStore, Clock]:
    store = MemoryPromptStore()
    clock = Clock()
    await store.add_version(GLOBAL, doc("Global v1 for {{ who }}", model="fast", params={"temperature": 0.1}), None,
                            ["production"])  # fmt: skip
    await store.add_version(GLOBAL, doc("Global v2 for {{ who }}"), None, ["staging"])
    return PromptResolver(store, head_ttl_seconds=1.0, clock=clock), store, clock


async def test_the_production_label_is_the_default(setup: tuple[PromptResolver, MemoryPromptStore, Clock]) -> None:
    resolver, _, _ = setup
    rendered = await resolver.resolve("acme", {"name": "support", "variables": {"who": "Ann"}})
    assert (rendered.name, rendered.version, rendered.tenant, rendered.label) == ("support", 1, None, "production")
    assert rendered.messages == [{"role": "system", "content": "Global v1 for Ann"}]
    staging = await resolver.resolve("acme", {"name": "support", "label": "staging", "variables": {"who": "Ann"}})
    assert staging.version == 2 and staging.messages[0]["content"] == "Global v2 for Ann"
    pinned = await resolver.resolve("acme", {"name": "support", "version": 2, "variables": {"who": "Ann"}})
    assert pinned.version == 2 and pinned.label is None
    latest = await resolver.resolve("acme", {"name": "support", "label": "latest", "variables": {"who": "Ann"}})
    assert latest.version == 2


async def test_a_tenants_prompt_shadows_the_global_one_entirely(setup: tuple[PromptResolver, MemoryPromptStore, Clock]) -> None:
    resolver, store, _ = setup
    await store.add_version("acme", doc("Acme's own for {{ who }}"), None, ["production"])
    mine = await resolver.resolve("acme", {"name": "support", "variables": {"who": "Ann"}})
    assert (mine.tenant, mine.messages[0]["content"]) == ("acme", "Acme's own for Ann")
    theirs = await resolver.resolve("globex", {"name": "support", "variables": {"who": "Bo"}})
    assert theirs.tenant is None and theirs.messages[0]["content"] == "Global v1 for Bo"
    with pytest.raises(GatewayError) as raised:  # the global prompt has `staging`; acme's shadows it
        await resolver.resolve("acme", {"name": "support", "label": "staging", "variables": {"who": "Ann"}})
    assert raised.value.code == "prompt_label_not_found"


async def test_another_tenants_prompt_is_not_found(setup: tuple[PromptResolver, MemoryPromptStore, Clock]) -> None:
    resolver, store, _ = setup
    await store.add_version("acme", doc("secret", name="acme-only"), None, ["production"])
    with pytest.raises(GatewayError) as raised:
        await resolver.resolve("globex", {"name": "acme-only"})
    assert (raised.value.status, raised.value.code) == (404, "prompt_not_found")


@pytest.mark.parametrize(
    ("reference", "status", "code", "words"),
    [
        ({"name": "nope"}, 404, "prompt_not_found", "No prompt named 'nope'"),
        ({"name": "support", "version": 9, "variables": {"who": "x"}}, 404, "prompt_version_not_found", "no version 9"),
        ({"name": "support", "label": "canary"}, 404, "prompt_label_not_found", "prompts label support VERSION canary"),
        ({"name": "support"}, 400, "prompt_variables_invalid", "missing variable 'who'"),
        ({"name": "support", "variables": {"who": "x", "tone": "y"}}, 400, "prompt_variables_invalid", "unexpected variable 'tone'"),
        ({"name": "support", "variables": ["who"]}, 400, "prompt_variables_invalid", "must be an object"),
        ({"name": "support", "version": 1, "label": "staging"}, 400, "prompt_reference_invalid", "not both"),
        ({"name": "support", "version": "2"}, 400, "prompt_reference_invalid", "version number"),
        ({"name": "support", "version": True}, 400, "prompt_reference_invalid", "version number"),
        ({"name": "support", "vars": {}}, 400, "prompt_reference_invalid", "unknown field(s) vars"),
        ({"version": 1}, 400, "prompt_reference_invalid", "prompt.name"),
        (["support"], 400, "prompt_reference_invalid", "must be an object"),
    ],
)
async def test_bad_references_are_clear_errors(
    setup: tuple[PromptResolver, MemoryPromptStore, Clock], reference: Any, status: int, code: str, words: str
) -> None:
    resolver, _, _ = setup
    with pytest.raises(GatewayError) as raised:
        await resolver.resolve("acme", reference)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert words in raised.value.message


async def test_a_render_past_the_budget_is_refused(setup: tuple[PromptResolver, MemoryPromptStore, Clock]) -> None:
    resolver, _, _ = setup
    with pytest.raises(GatewayError) as raised:
        await resolver.resolve("acme", {"name": "support", "variables": {"who": "x" * 5000}}, max_bytes=4096)
    assert (raised.value.status, raised.value.code) == (400, "prompt_too_large")
    small = PromptResolver(resolver.store, max_rendered_bytes=100)  # the resolver's own bound holds too
    with pytest.raises(GatewayError, match="100 bytes"):
        await small.resolve("acme", {"name": "support", "variables": {"who": "x" * 200}}, max_bytes=10_000)


def test_a_string_reference_is_a_name() -> None:
    assert parse_reference("support").name == "support"


def test_the_prompt_goes_first_and_the_request_wins_on_defaults() -> None:
    rendered = RenderedPrompt(
        name="support", version=3, tenant=None, label="production",
        messages=[{"role": "system", "content": "Be kind."}], model="fast",
        params={"temperature": 0.1, "max_tokens": 100}, response_format={"type": "json_object"},
    )  # fmt: skip
    only_prompt = rendered.apply({"prompt": {"name": "support"}})
    assert only_prompt == {"messages": [{"role": "system", "content": "Be kind."}], "model": "fast", "temperature": 0.1,
                           "max_tokens": 100, "response_format": {"type": "json_object"}}  # fmt: skip
    body = {"prompt": {}, "model": "smart", "temperature": 0.9, "messages": [{"role": "user", "content": "Hi"}]}
    expanded = rendered.apply(body)
    assert expanded["messages"] == [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]
    assert (expanded["model"], expanded["temperature"], expanded["max_tokens"]) == ("smart", 0.9, 100)
    assert "prompt" not in expanded and body["messages"] == [{"role": "user", "content": "Hi"}]  # the input is untouched


async def test_a_moved_label_is_seen_once_the_head_cache_expires(setup: tuple[PromptResolver, MemoryPromptStore, Clock]) -> None:
    resolver, store, clock = setup
    ask = {"name": "support", "variables": {"who": "Ann"}}
    assert (await resolver.resolve("acme", ask)).version == 1
    await store.set_label(GLOBAL, "support", "production", 2)  # moved by another replica
    assert (await resolver.resolve("acme", ask)).version == 1  # within the bound: the cached head
    clock.now += 1.01
    assert (await resolver.resolve("acme", ask)).version == 2


async def test_forget_makes_this_processs_own_change_visible_at_once(setup: tuple[PromptResolver, MemoryPromptStore, Clock]) -> None:
    resolver, store, _ = setup
    ask = {"name": "support", "variables": {"who": "Ann"}}
    assert (await resolver.resolve("acme", ask)).version == 1
    await store.set_label(GLOBAL, "support", "production", 2)
    resolver.forget(GLOBAL, "support")
    assert (await resolver.resolve("acme", ask)).version == 2


async def test_warm_lookups_do_not_touch_the_store(setup: tuple[PromptResolver, MemoryPromptStore, Clock]) -> None:
    resolver, store, _ = setup
    calls: list[str] = []
    for method in ("head", "version"):
        original = getattr(store, method)

        async def counted(*args: Any, _original: Any = original, _method: str = method) -> Any:
            calls.append(_method)
            return await _original(*args)

        setattr(store, method, counted)
    for _ in range(5):
        await resolver.resolve("acme", {"name": "support", "variables": {"who": "Ann"}})
    assert sorted(calls) == ["head", "head", "version"]  # acme's (none) and the global head, one version


class BrokenStore(MemoryPromptStore):
    async def head(self, namespace: str, name: str) -> Any:
        raise StoreUnavailable("redis prompts: ConnectionError")


async def test_a_store_that_fails_is_a_503() -> None:
    with pytest.raises(GatewayError) as raised:
        await PromptResolver(BrokenStore()).resolve("acme", {"name": "support"})
    assert (raised.value.status, raised.value.code) == (503, "prompts_unavailable")
