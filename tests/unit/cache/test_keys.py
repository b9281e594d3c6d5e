"""The exact cache key: the same request asks the same key; anything that changes the answer changes it."""

from __future__ import annotations

from typing import Any

import pytest

from extproc.cache.keys import exact_key

BASE: dict[str, Any] = {"model": "fast", "messages": [{"role": "user", "content": "Say hello"}], "temperature": 0}


def key(tenant: str = "acme", route: str = "gpt-4o-mini", **changes: Any) -> str:
    return exact_key(tenant, route, {**BASE, **changes})


def test_delivery_and_billing_fields_do_not_change_the_key() -> None:
    assert key() == key(model="gpt-4o-mini") == key(stream=True, stream_options={"include_usage": True}) == key(user="u1")


def test_text_parts_and_trailing_space_are_normalised() -> None:
    assert key() == key(messages=[{"role": "user", "content": [{"type": "text", "text": "Say "}, {"type": "text", "text": "hello"}]}])
    assert key() == key(messages=[{"role": "user", "content": "Say hello  \n"}])


@pytest.mark.parametrize(
    "changes",
    [
        {"messages": [{"role": "user", "content": "Say hello!"}]},
        {"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hello"}]},
        {"temperature": 0.2},
        {"seed": 7},
        {"max_tokens": 5},
        {"response_format": {"type": "json_object"}},
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
        {"stop": ["\n"]},
        {"n": 2},
    ],
)
def test_what_changes_the_answer_changes_the_key(changes: dict[str, Any]) -> None:
    assert key(**changes) != key()


def test_tenant_and_route_are_part_of_the_key() -> None:
    assert key(tenant="globex") != key()
    assert key(route="gpt-4o") != key()
