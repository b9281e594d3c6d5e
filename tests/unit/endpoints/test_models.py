"""`GET /v1/models` and the endpoint registry that picks a spec by method and path."""

from __future__ import annotations

import orjson
import pytest

from extproc.config.catalog import Catalog, Endpoint, ModelRoute
from extproc.endpoints import Registry, default_registry
from extproc.endpoints.chat_completions import ChatCompletions
from extproc.endpoints.models import ModelsList, listing
from extproc.tenancy.limits import MemoryLimits
from extproc.tenancy.settings import Settings


def _catalog() -> Catalog:
    mini = ModelRoute(
        name="gpt-4o-mini",
        cluster="c1",
        aliases=("fast",),
        endpoints=(Endpoint(cluster="c1", address="h:1", priority=0, model="openai/gpt-4o-mini", provider="openai"),),
    )
    local = ModelRoute(name="llama", cluster="c2")
    return Catalog({"gpt-4o-mini": mini, "llama": local})


def test_models_list_names_every_model_and_alias() -> None:
    answer = orjson.loads(listing(_catalog()))
    assert answer["object"] == "list"
    assert [m["id"] for m in answer["data"]] == ["gpt-4o-mini", "llama", "fast"]
    assert all(m["object"] == "model" and isinstance(m["created"], int) for m in answer["data"])


def test_aliases_say_which_model_they_stand_for_and_who_owns_it() -> None:
    by_id = {m["id"]: m for m in orjson.loads(listing(_catalog()))["data"]}
    assert by_id["fast"]["alias_of"] == "gpt-4o-mini"
    assert by_id["fast"]["owned_by"] == by_id["gpt-4o-mini"]["owned_by"] == "openai"
    assert "alias_of" not in by_id["gpt-4o-mini"]
    assert by_id["llama"]["owned_by"] == "unknown"  # a route whose cluster has no endpoints


def test_models_list_is_stable_between_calls() -> None:
    assert listing(_catalog()) == listing(_catalog())


def test_empty_catalog_lists_nothing() -> None:
    assert orjson.loads(listing(Catalog())) == {"object": "list", "data": []}


# --- Registry -------------------------------------------------------------------

REGISTRY = default_registry(_catalog(), Settings(), MemoryLimits(), cache=None, envoy_admin_url=None)


def test_chat_completions_is_forwarded_not_local() -> None:
    assert isinstance(REGISTRY.forwarded("POST", "/v1/chat/completions"), ChatCompletions)
    assert REGISTRY.local("POST", "/v1/chat/completions") is None


def test_models_is_answered_locally_not_forwarded() -> None:
    assert isinstance(REGISTRY.local("GET", "/v1/models"), ModelsList)
    assert REGISTRY.forwarded("GET", "/v1/models") is None


@pytest.mark.parametrize("path", ["/v1/chat/completions?api-version=2024", "/v1/chat/completions?"])
def test_query_string_is_ignored(path: str) -> None:
    assert isinstance(REGISTRY.forwarded("POST", path), ChatCompletions)
    assert REGISTRY.knows_path(path)


def test_models_with_query_string_is_still_local() -> None:
    assert isinstance(REGISTRY.local("GET", "/v1/models?limit=1"), ModelsList)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/chat/completions"), ("POST", "/v1/models"), ("POST", "/v1/chat/completions/"), ("GET", "/v1/embeddings")],
)
def test_other_methods_and_paths_find_nothing(method: str, path: str) -> None:
    assert REGISTRY.forwarded(method, path) is None and REGISTRY.local(method, path) is None


@pytest.mark.parametrize(
    ("path", "known"),
    [
        ("/v1/chat/completions", True),
        ("/v1/models", True),
        ("/v1/models?x=1", True),
        ("/v1/embeddings", True),
        ("/v1/messages", True),
        ("/v1/completions", False),
        ("/v1/model", False),
        ("/", False),
    ],
)
def test_knows_path_tells_405_from_404(path: str, known: bool) -> None:
    assert REGISTRY.knows_path(path) is known


def test_an_empty_registry_knows_nothing() -> None:
    empty = Registry(forwarded=[], local=[])
    assert empty.forwarded("POST", "/v1/chat/completions") is None and not empty.knows_path("/v1/models")
