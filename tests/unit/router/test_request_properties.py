"""Property-based tests of request handling, in process (no Envoy, no provider).

Whatever a client sends to a forwarded endpoint, the router processor either
forwards it (`Changes`) or answers it (`Reply`): a 4xx in the client's error
format (OpenAI's error JSON, or Anthropic's on /v1/messages), or the cost
estimate a dry run asks for. It never raises: in the real service an exception
becomes a 500 (or, worse, a dropped stream). For forwarded requests the
provider translation that comes next (router-prepared clusters run it here;
per-attempt clusters run it in the upstream filter) must refuse bad input with
a `GatewayError`, never crash.

Hypothesis runs derandomized (the same examples every run) so that CI cannot
flake; the examples that once found bugs are pinned as plain unit tests below.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from extproc.app import Gateway, build_gateway
from extproc.decisions import Changes, Reply
from extproc.errors import GatewayError
from extproc.formats.validation import MAX_JSON_DEPTH
from extproc.redaction.policy import PrivacyPolicies
from extproc.router.processor import RouterProcessor
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials
from extproc.upstream.provider_request import for_endpoint
from tests.support.anthropic_errors import ANTHROPIC_ERROR_TYPES
from tests.support.gateway_config import gateway_config

# These tests are about requests, not keys: the explicit no-auth mode, no limits.
NO_AUTH = Settings(auth_mode="none")
# These tests are about other stages: no privacy policy rewrites their prompts or answers.
NO_PRIVACY = PrivacyPolicies()

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
EMBEDDINGS = "/v1/embeddings"
ESTIMATE = "/v1/gateway/cost-estimate"
KEY = "sk-property-test-key-0123456789"

ANTHROPIC_TYPES = ANTHROPIC_ERROR_TYPES | {"conflict_error"}  # passed through from a provider

# CI runs the same 300 examples every time. PROPERTY_EXAMPLES=5000 hunts longer, with fresh
# random examples on each run (pin what it finds as a plain test below).
HUNT = "PROPERTY_EXAMPLES" in os.environ
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "300")),
    deadline=None,
    derandomize=not HUNT,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    config = gateway_config()
    return build_gateway(config, credentials=Credentials({"FAKE_PROVIDER_API_KEY": KEY}), settings=NO_AUTH, privacy=NO_PRIVACY)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


# --- strategies --------------------------------------------------------------------

# Text that includes lone surrogates (escaped as \ud800 by json.dumps, which orjson refuses).
any_text = st.text(alphabet=st.characters(codec=None), max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits too
    | st.floats(allow_nan=True, allow_infinity=True)  # NaN and Infinity make invalid JSON
    | any_text
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)
# Deeply nested values: at, around and beyond the gateway's depth limit and orjson's own limits.
deep_values = st.builds(
    lambda depth, as_object: Deep(depth, as_object),
    st.sampled_from([MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 254, 255, 600, 1030]),
    st.booleans(),
)


def _nest(depth: int, as_object: bool) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value} if as_object else [value]
    return value


@dataclass(frozen=True)
class Deep:
    """A value nested `depth` levels deep, written out by `_encode` (json.dumps would recurse too far)."""

    depth: int
    as_object: bool

    @property
    def marker(self) -> str:
        return f"__deep_{self.depth}_{int(self.as_object)}__"

    @property
    def text(self) -> str:
        if self.as_object:
            return '{"a":' * self.depth + '"x"' + "}" * self.depth
        return "[" * self.depth + '"x"' + "]" * self.depth


# Valid requests of each endpoint, then up to three mutations: a field (or a nested one)
# replaced by any JSON value, a deeply nested value, or removed.
CHAT_MODELS = ["fast", "smart", "claude", "gemini", "default", "gpt-4o", "gpt-4o-mini"]
OTHER_MODELS = ["embed", "text-embedding-3-small", "nope", "", " ", "fast\r\nx-injected: 1", "FAST"]
words = st.text(max_size=12)
nonempty_words = st.text(min_size=1, max_size=12)
DELETE = object()

chat_part = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": words}),
    st.fixed_dictionaries(
        {
            "type": st.just("image_url"),
            "image_url": st.fixed_dictionaries(
                {"url": st.sampled_from(["data:image/png;base64,iVBORw0KGgo=", "http://example.com/a.png"])}
            ),
        }
    ),
)
chat_message = st.one_of(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "developer", "user", "assistant"]),
            "content": st.one_of(words, st.lists(chat_part, min_size=1, max_size=2)),
        }
    ),
    st.just({"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
    st.just({"role": "tool", "tool_call_id": "c1", "content": "42"}),
)
chat_tool = st.builds(
    lambda name: {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}},
    st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
)
valid_chat = st.builds(
    lambda base, stream: {**base, **stream},
    st.fixed_dictionaries(
        {"model": st.sampled_from(CHAT_MODELS), "messages": st.lists(chat_message, min_size=1, max_size=3)},
        optional={
            "max_tokens": st.integers(min_value=1, max_value=10**6),
            "max_completion_tokens": st.integers(min_value=1, max_value=10**5),
            "temperature": st.floats(min_value=0, max_value=2),
            "top_p": st.floats(min_value=0, max_value=1),
            "n": st.integers(min_value=1, max_value=3),
            "stop": st.one_of(words, st.lists(words, max_size=2)),
            "tools": st.lists(chat_tool, min_size=1, max_size=2),
            "tool_choice": st.sampled_from(["auto", "none", "required"]),
            "response_format": st.sampled_from([{"type": "json_object"}, {"type": "text"}]),
            "user": words,
            "seed": st.integers(min_value=0, max_value=2**31),
            "x_gateway": st.fixed_dictionaries({}, optional={"max_cost_usd": st.floats(min_value=0, max_value=10)}),
        },
    ),
    st.sampled_from([{}, {"stream": False}, {"stream": True}, {"stream": True, "stream_options": {"include_usage": True}}]),
)
CHAT_PATHS = [
    ("model",), ("messages",), ("stream",), ("stream_options",), ("max_tokens",), ("max_completion_tokens",),
    ("n",), ("temperature",), ("top_p",), ("stop",), ("tools",), ("tool_choice",), ("user",), ("x_gateway",),
    ("unknown_field",), ("messages", 0), ("messages", 0, "role"), ("messages", 0, "content"),
    ("messages", 0, "content", 0), ("messages", 0, "content", 0, "type"), ("messages", -1, "tool_calls"),
    ("tools", 0, "function"), ("tools", 0, "function", "parameters"), ("x_gateway", "max_cost_usd"),
    ("x_gateway", "dry_run"),
]

anthropic_block = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": nonempty_words}),
    st.just({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}),
    st.just({"type": "image", "source": {"type": "url", "url": "http://example.com/a.png"}}),
    st.fixed_dictionaries({"type": st.just("document"), "source": st.fixed_dictionaries({"type": st.just("text"), "media_type": st.just("text/plain"), "data": nonempty_words})}),
)
anthropic_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant"]), "content": st.one_of(nonempty_words, st.lists(anthropic_block, min_size=1, max_size=2))}
)
valid_anthropic = st.fixed_dictionaries(
    {
        "model": st.sampled_from(CHAT_MODELS),
        "max_tokens": st.integers(min_value=1, max_value=10**5),
        "messages": st.lists(anthropic_message, min_size=1, max_size=3),
    },
    optional={
        "system": st.one_of(words, st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": words}), max_size=2)),
        "temperature": st.floats(min_value=0, max_value=1),
        "top_p": st.floats(min_value=0, max_value=1),
        "top_k": st.integers(min_value=0, max_value=100),
        "stop_sequences": st.lists(nonempty_words, max_size=2),
        "stream": st.booleans(),
        "metadata": st.fixed_dictionaries({"user_id": words}),
        "tools": st.just([{"name": "get_weather", "description": "d", "input_schema": {"type": "object", "properties": {}}}]),
        "tool_choice": st.sampled_from([{"type": "auto"}, {"type": "any"}, {"type": "none"}, {"type": "tool", "name": "get_weather"}]),
        "thinking": st.just({"type": "disabled"}),
        "service_tier": st.just("auto"),
        "x_gateway": st.fixed_dictionaries({}, optional={"max_cost_usd": st.floats(min_value=0, max_value=10)}),
    },
)
ANTHROPIC_PATHS = [
    ("model",), ("max_tokens",), ("messages",), ("system",), ("temperature",), ("top_k",), ("stop_sequences",),
    ("stream",), ("metadata",), ("metadata", "user_id"), ("tools",), ("tools", 0, "input_schema"), ("tool_choice",),
    ("tool_choice", "type"), ("thinking",), ("thinking", "budget_tokens"), ("x_gateway",), ("unknown_field",),
    ("messages", 0), ("messages", 0, "role"), ("messages", 0, "content"), ("messages", 0, "content", 0),
    ("messages", 0, "content", 0, "type"), ("messages", 0, "content", 0, "source"),
    ("messages", 0, "content", 0, "source", "type"),
]

valid_embeddings = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["embed", "text-embedding-3-small"]),
        "input": st.one_of(
            nonempty_words,
            st.lists(nonempty_words, min_size=1, max_size=3),
            st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=4),
            st.lists(st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=3), min_size=1, max_size=2),
        ),
    },
    optional={
        "encoding_format": st.sampled_from(["float", "base64"]),
        "dimensions": st.integers(min_value=1, max_value=1536),
        "user": words,
        "x_gateway": st.fixed_dictionaries({}, optional={"max_cost_usd": st.floats(min_value=0, max_value=10)}),
    },
)
EMBEDDINGS_PATHS = [
    ("model",), ("input",), ("input", 0), ("encoding_format",), ("dimensions",), ("user",), ("stream",),
    ("x_gateway",), ("unknown_field",),
]

replacements = st.one_of(json_values, json_values, deep_values, st.sampled_from(OTHER_MODELS), st.just(DELETE))


def _mutate(body: dict[str, Any], mutations: list[tuple[tuple[Any, ...], Any]]) -> dict[str, Any]:
    """`body` with each (path, value) applied; a path into something that is not there is skipped."""
    body = copy.deepcopy(body)
    for path, value in mutations:
        holder: Any = body
        for step in path[:-1]:
            try:
                holder = holder[step]
            except (KeyError, IndexError, TypeError):
                holder = None
                break
        last = path[-1]
        if isinstance(holder, dict) or (isinstance(holder, list) and isinstance(last, int) and -len(holder) <= last < len(holder)):
            if value is DELETE:
                if isinstance(holder, dict):
                    holder.pop(last, None)
                else:
                    del holder[last]
            elif isinstance(holder, dict) or isinstance(last, int):
                holder[last] = value
    return body


def mutated(valid: st.SearchStrategy[dict[str, Any]], paths: list[tuple[Any, ...]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(_mutate, valid, st.lists(st.tuples(st.sampled_from(paths), replacements), max_size=3))


BODIES = {
    CHAT: mutated(valid_chat, CHAT_PATHS),
    ESTIMATE: mutated(valid_chat, CHAT_PATHS),
    MESSAGES: mutated(valid_anthropic, ANTHROPIC_PATHS),
    EMBEDDINGS: mutated(valid_embeddings, EMBEDDINGS_PATHS),
}


def _encode(body: Any) -> bytes:
    """JSON text as a client could send it: big integers, NaN, lone surrogates, deep nesting included."""
    deep: list[Deep] = []

    def marker(value: Any) -> str:
        if not isinstance(value, Deep):
            raise TypeError(type(value).__name__)
        deep.append(value)
        return value.marker

    text = json.dumps(body, allow_nan=True, default=marker)
    for value in deep:
        text = text.replace(json.dumps(value.marker), value.text)
    return text.encode()


# --- the property ---------------------------------------------------------------------


async def _handle(gateway: Gateway, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[Reply | Changes, RouterProcessor]:
    processor = RouterProcessor(gateway)
    first = await processor.request_headers(
        {":method": "POST", ":path": path, "content-type": "application/json", "x-request-id": "prop", **(headers or {})},
        end_of_stream=False,
    )
    if isinstance(first, Reply):
        return first, processor
    assert first == Changes()
    return await processor.request_body(body), processor


def assert_handled(gateway: Gateway, loop: asyncio.AbstractEventLoop, path: str, body: bytes, headers: dict[str, str] | None = None) -> Reply | Changes:
    """The property: forwarded, or a well-formed answer in the client's format; never an exception."""
    result, processor = loop.run_until_complete(_handle(gateway, path, body, headers))
    if currently_in_test_context():  # what was drawn, for --hypothesis-show-statistics
        event(f"{type(result).__name__} {getattr(result, 'status', '')} {_reason(result)}".strip())
    if isinstance(result, Reply):
        assert result.headers["content-type"] == "application/json", result
        assert result.headers.get("x-gateway-request-id") == "prop", result
        payload = orjson.loads(result.body)
        if result.status == 200:  # a dry run (or the cost-estimate endpoint) answers the estimate
            assert payload["object"] == "gateway.cost_estimate", payload
            assert isinstance(payload["endpoints"], list) and payload["endpoints"]
        else:
            assert 400 <= result.status < 500, (result.status, payload)
            assert_error_format(path, payload)
        return result
    assert isinstance(result, Changes), result
    assert path != ESTIMATE, "the cost-estimate endpoint never calls a provider"
    assert result.set_headers.get("x-gateway-model"), "a forwarded request names its route"
    if result.body is not None:
        assert result.set_headers["content-length"] == str(len(result.body))
        sent = orjson.loads(result.body)
        assert isinstance(sent, dict) and "x_gateway" not in sent
    _assert_translation_refuses_cleanly(gateway, processor)
    return result


def _reason(result: Reply | Changes) -> str:
    if not isinstance(result, Reply) or result.status == 200:
        return ""
    payload = orjson.loads(result.body)
    error = payload.get("error", {})
    return str(error.get("code") or error.get("type"))


def assert_error_format(path: str, payload: Any) -> None:
    """OpenAI's error JSON everywhere but /v1/messages, which answers Anthropic's."""
    if path == MESSAGES:
        assert payload["type"] == "error" and set(payload) == {"type", "error"}, payload
        error = payload["error"]
        assert error["type"] in ANTHROPIC_TYPES, payload
    else:
        assert set(payload) == {"error"}, payload
        error = payload["error"]
        assert set(error) >= {"message", "type", "param", "code"}, payload
        assert isinstance(error["type"], str) and error["type"]
        assert error["param"] is None or isinstance(error["param"], str)
        assert error["code"] is None or isinstance(error["code"], str)
    assert isinstance(error["message"], str) and error["message"].strip(), payload


def _assert_translation_refuses_cleanly(gateway: Gateway, processor: RouterProcessor) -> None:
    """The request every endpoint of the route would get: prepared, or refused with a GatewayError."""
    ctx = processor.ctx
    route = ctx.route
    assert route is not None and ctx.body is not None
    upstream_path = EMBEDDINGS if ctx.kind == "embeddings" else CHAT
    for endpoint in route.endpoints:
        try:
            prepared = for_endpoint(gateway.translators[endpoint], endpoint, upstream_path, ctx.body, KEY)
        except GatewayError as error:
            assert 400 <= error.status < 600 and error.message
            assert KEY not in error.message
            continue
        assert prepared.headers["content-length"] == str(len(prepared.body))


# --- property tests ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [CHAT, MESSAGES, EMBEDDINGS, ESTIMATE])
@PROPERTY_SETTINGS
@given(data=st.data())
def test_schema_shaped_bodies_are_forwarded_or_refused_in_the_clients_format(
    gateway: Gateway, loop: asyncio.AbstractEventLoop, path: str, data: st.DataObject
) -> None:
    body = data.draw(BODIES[path], label="body")
    assert_handled(gateway, loop, path, _encode(body))


@pytest.mark.parametrize("path", [CHAT, MESSAGES, EMBEDDINGS, ESTIMATE])
@PROPERTY_SETTINGS
@given(body=json_values)
def test_any_json_value_is_forwarded_or_refused_in_the_clients_format(
    gateway: Gateway, loop: asyncio.AbstractEventLoop, path: str, body: Any
) -> None:
    result = assert_handled(gateway, loop, path, _encode(body))
    if not isinstance(body, dict):  # arrays, strings, numbers, null: never forwarded
        assert isinstance(result, Reply) and result.status == 400


@pytest.mark.parametrize("path", [CHAT, MESSAGES, EMBEDDINGS, ESTIMATE])
@PROPERTY_SETTINGS
@given(body=st.binary(max_size=200) | st.builds(lambda head, tail: head + tail, st.sampled_from([b'{"model": "fast", "messages": [', b'{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"', b"\xef\xbb\xbf{"]), st.binary(max_size=40)))
def test_random_bytes_are_refused_in_the_clients_format(
    gateway: Gateway, loop: asyncio.AbstractEventLoop, path: str, body: bytes
) -> None:
    result = assert_handled(gateway, loop, path, body)
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        assert isinstance(result, Reply) and result.status == 400
        payload = orjson.loads(result.body)
        if path != MESSAGES:
            assert payload["error"]["code"] == "invalid_json"
    else:
        assert isinstance(decoded, dict) or isinstance(result, Reply)


@PROPERTY_SETTINGS
@given(
    path=st.sampled_from([CHAT, MESSAGES, EMBEDDINGS, ESTIMATE]),
    headers=st.fixed_dictionaries(
        {},
        optional={
            "content-type": st.one_of(st.sampled_from(["application/json", "text/plain", "", "application/json; charset=utf-8", "multipart/form-data; boundary=x"]), st.text(max_size=30)),
            "llm-gateway-dry-run": st.one_of(st.sampled_from(["true", "1", "no"]), st.text(max_size=8)),
            "llm-gateway-max-cost-usd": st.one_of(st.sampled_from(["0", "0.5", "-1", "nan", "inf", "1e999", "1e-30"]), st.text(max_size=8)),
        },
    ),
)
def test_odd_headers_are_forwarded_or_refused_in_the_clients_format(
    gateway: Gateway, loop: asyncio.AbstractEventLoop, path: str, headers: dict[str, str]
) -> None:
    body = {
        CHAT: {"model": "fast", "messages": [{"role": "user", "content": "hi"}]},
        ESTIMATE: {"model": "smart", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10},
        MESSAGES: {"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        EMBEDDINGS: {"model": "embed", "input": "hi"},
    }[path]
    result = assert_handled(gateway, loop, path, orjson.dumps(body), headers)
    content_type = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    if content_type not in ("application/json", ""):
        assert isinstance(result, Reply) and result.status == 415


# --- pinned examples: bugs these properties found -----------------------------------------


@pytest.mark.parametrize("path", [CHAT, MESSAGES, EMBEDDINGS, ESTIMATE])
@pytest.mark.parametrize("depth", [255, 300, 1000])
def test_body_nested_deeper_than_orjson_encodes_is_a_400_not_a_crash(
    gateway: Gateway, loop: asyncio.AbstractEventLoop, path: str, depth: int
) -> None:
    # Found: decoded fine (orjson reads 1024 levels) but re-encoding it (stream_options added,
    # x_gateway removed, Anthropic translated, embeddings forwarded) raised: a 500.
    body: dict[str, Any] = {
        CHAT: {"model": "smart", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        ESTIMATE: {"model": "smart", "messages": [{"role": "user", "content": "hi"}]},
        MESSAGES: {"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        EMBEDDINGS: {"model": "embed", "input": "hi"},
    }[path]
    body["metadata"] = Deep(depth, as_object=False)
    result = assert_handled(gateway, loop, path, _encode(body))
    assert isinstance(result, Reply) and result.status == 400
    message = orjson.loads(result.body)["error"]["message"]
    assert "`metadata` is nested too deeply" in message and str(MAX_JSON_DEPTH) in message


@pytest.mark.parametrize("path", [CHAT, MESSAGES, EMBEDDINGS])
def test_nesting_up_to_the_limit_is_forwarded(gateway: Gateway, loop: asyncio.AbstractEventLoop, path: str) -> None:
    body: dict[str, Any] = {
        CHAT: {"model": "fast", "messages": [{"role": "user", "content": "hi"}]},
        MESSAGES: {"model": "fast", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        EMBEDDINGS: {"model": "embed", "input": "hi"},
    }[path]
    # The body is level 1, so its field may nest MAX_JSON_DEPTH - 1 levels.
    field = "metadata" if path == MESSAGES else "user"
    body[field] = {"user_id": "u"} if path == MESSAGES else _nest(MAX_JSON_DEPTH - 1, as_object=False)
    if path == MESSAGES:
        # Its canonical form nests one level deeper: tools[i].function.parameters.
        body["tools"] = [{"name": "f", "input_schema": _nest(MAX_JSON_DEPTH - 4, as_object=True)}]
    assert isinstance(assert_handled(gateway, loop, path, orjson.dumps(body)), Changes)
    body[field if path != MESSAGES else "tools"] = (
        _nest(MAX_JSON_DEPTH, as_object=False)
        if path != MESSAGES
        else [{"name": "f", "input_schema": _nest(MAX_JSON_DEPTH - 3, as_object=True)}]
    )
    result = assert_handled(gateway, loop, path, orjson.dumps(body))
    assert isinstance(result, Reply) and result.status == 400


def test_embeddings_refuse_more_than_2048_inputs(gateway: Gateway, loop: asyncio.AbstractEventLoop) -> None:
    # Found: 150 inputs already made a response over Envoy's buffer limit (a text/plain 500);
    # OpenAI refuses more than 2048 inputs, so the gateway says so before anything is spent.
    # (As base64, what the OpenAI SDKs ask for: 2048 vectors as floats may not fit the route's buffer.)
    ok = assert_handled(gateway, loop, EMBEDDINGS, orjson.dumps({"model": "embed", "input": ["a"] * 2048, "encoding_format": "base64"}))
    assert isinstance(ok, Changes)
    refused = assert_handled(gateway, loop, EMBEDDINGS, orjson.dumps({"model": "embed", "input": ["a"] * 2049}))
    assert isinstance(refused, Reply) and refused.status == 400
    error = orjson.loads(refused.body)["error"]
    assert error["param"] == "input" and "2048" in error["message"] and "2049" in error["message"]


@pytest.mark.parametrize("role", [[], ["user"], {"name": "user"}])
def test_a_role_that_is_a_list_or_object_is_a_400_not_a_crash(
    gateway: Gateway, loop: asyncio.AbstractEventLoop, role: Any
) -> None:
    # Found: `role not in frozenset(...)` raised TypeError (unhashable) for these: a 500.
    body = {"model": "fast", "messages": [{"role": role, "content": "hi"}]}
    result = assert_handled(gateway, loop, CHAT, orjson.dumps(body))
    assert isinstance(result, Reply) and result.status == 400
    assert orjson.loads(result.body)["error"]["param"] == "messages[0].role"


# --- the fake provider refuses what the real APIs refuse ---------------------------------------
# (The hostile-input corpus found it answering a 10**12 max_tokens, and spending 50 s building a
# 100-million-dimension embedding, where OpenAI, Anthropic and Gemini answer 400 at once.)


@pytest.fixture(scope="module")
def fake() -> Iterator[Any]:
    from extproc.fake_provider import FakeConfig
    from extproc.fake_provider.testing import running

    with running(FakeConfig()) as server:
        yield server


def _post(fake: Any, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(fake.url + path, json=body, headers=headers, timeout=30)


OPENAI_AUTH = {"authorization": "Bearer sk-test"}
ANTHROPIC_AUTH = {"x-api-key": "sk-test", "anthropic-version": "2023-06-01"}
GEMINI_AUTH = {"x-goog-api-key": "test"}


@pytest.mark.parametrize(
    ("model", "field", "most"),
    [("gpt-4o-mini", "max_tokens", 16384), ("gpt-4o-2024-08-06", "max_completion_tokens", 16384), ("gpt-4.1-mini", "max_tokens", 32768)],
)
def test_fake_openai_refuses_a_completion_limit_above_the_models(fake: Any, model: str, field: str, most: int) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    assert _post(fake, "/v1/chat/completions", {**body, field: most}, OPENAI_AUTH).status_code == 200
    refused = _post(fake, "/v1/chat/completions", {**body, field: most + 1}, OPENAI_AUTH)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == field and f"at most {most}" in error["message"] and error["type"] == "invalid_request_error"
    # Models the fake does not know are not limited.
    assert _post(fake, "/v1/chat/completions", {**body, "model": "my-model", field: 10**12}, OPENAI_AUTH).status_code == 200


def test_fake_anthropic_refuses_max_tokens_above_the_models(fake: Any) -> None:
    body = {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]}
    assert _post(fake, "/v1/messages", {**body, "max_tokens": 64000}, ANTHROPIC_AUTH).status_code == 200
    refused = _post(fake, "/v1/messages", {**body, "max_tokens": 64001}, ANTHROPIC_AUTH)
    assert refused.status_code == 400
    assert refused.json()["type"] == "error" and "64001 > 64000" in refused.json()["error"]["message"]


def test_fake_gemini_refuses_max_output_tokens_above_the_models(fake: Any) -> None:
    path = "/v1beta/models/gemini-2.5-flash:generateContent"
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    assert _post(fake, path, {**body, "generationConfig": {"maxOutputTokens": 65536}}, GEMINI_AUTH).status_code == 200
    refused = _post(fake, path, {**body, "generationConfig": {"maxOutputTokens": 65537}}, GEMINI_AUTH)
    assert refused.status_code == 400
    assert refused.json()["error"]["status"] == "INVALID_ARGUMENT" and "65537" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("model", "most"), [("text-embedding-3-small", 1536), ("text-embedding-3-large", 3072), ("my-embedder", 3072)]
)
def test_fake_openai_refuses_more_embedding_dimensions_than_the_model_has(fake: Any, model: str, most: int) -> None:
    body = {"model": model, "input": "hi"}
    served = _post(fake, "/v1/embeddings", {**body, "dimensions": most}, OPENAI_AUTH)
    assert served.status_code == 200 and len(served.json()["data"][0]["embedding"]) == most
    refused = _post(fake, "/v1/embeddings", {**body, "dimensions": 100_000_000}, OPENAI_AUTH)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "dimensions"
    assert f"<= {most}" in refused.json()["error"]["message"]


def test_fake_openai_refuses_more_than_2048_embedding_inputs(fake: Any) -> None:
    assert _post(fake, "/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a"] * 2048, "dimensions": 8}, OPENAI_AUTH).status_code == 200
    refused = _post(fake, "/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a"] * 2049}, OPENAI_AUTH)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "array_above_max_length"
