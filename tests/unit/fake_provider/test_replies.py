"""Reply generation, schema examples, fault resolution and the CLI flags (no server)."""

from __future__ import annotations

import argparse
import asyncio
import random
import socket

import httpx
import pytest

from extproc.fake_provider import (
    FakeConfig,
    add_arguments,
    config_from_args,
    create_app,
    faults,
    replies,
    schemas,
    serve,
    tokens,
)
from extproc.fake_provider.replies import Prompt, Tool


def test_reply_follows_the_last_user_text() -> None:
    [choice] = replies.answer(Prompt(message_texts=["a", "b"], last_user_text="b"))
    assert choice.text == "Fake reply to: b" and choice.finish == "stop"
    assert choice.completion_tokens == tokens.count("Fake reply to: b")


def test_earliest_stop_sequence_wins_and_is_reported() -> None:
    [choice] = replies.answer(Prompt(last_user_text="one two three", stop=["three", "two"]))
    assert choice.text == "Fake reply to: one " and choice.stop_sequence == "two"


def test_stop_before_limit_is_stop_limit_before_stop_is_length() -> None:
    prompt = Prompt(last_user_text="alpha beta gamma delta", stop=["beta"], max_tokens=100)
    assert replies.answer(prompt)[0].finish == "stop"
    prompt.max_tokens = 2
    [choice] = replies.answer(prompt)
    assert choice.finish == "length" and choice.stop_sequence is None and choice.completion_tokens == 2


def test_json_mode_with_n_keeps_every_choice_valid_json() -> None:
    import json

    choices = replies.answer(Prompt(last_user_text="q", json_mode=True, n=2))
    assert [json.loads(c.text) for c in choices] == [{"reply": "Fake reply to: q"}, {"reply": "Fake reply to: q [1]"}]


def test_tool_rules() -> None:
    tools = [Tool("first", {"type": "object"}), Tool("second", {"type": "object"})]
    assert replies.answer(Prompt(tools=tools))[0].tool_call.name == "first"  # type: ignore[union-attr]
    assert replies.answer(Prompt(tools=tools, tool_choice="second"))[0].tool_call.name == "second"  # type: ignore[union-attr]
    assert replies.answer(Prompt(tools=tools, tool_choice="none"))[0].tool_call is None
    [after] = replies.answer(Prompt(tools=tools, tool_result="42"))
    assert after.tool_call is None and after.text == "Fake reply to tool result: 42"


def test_schema_examples_follow_refs_types_and_bounds() -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "size": {"type": "integer", "minimum": 5},
            "ratio": {"type": "number", "maximum": 0.5},
            "child": {"$ref": "#/$defs/Child"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "boolean"}]},
            "kind": {"const": "fixed"},
            "code": {"type": "STRING", "minLength": 12},
            "optional": {"type": "string"},
        },
        "required": ["when", "size", "ratio", "child", "maybe", "kind", "code"],
        "$defs": {
            "Child": {
                "type": "object",
                "properties": {"ids": {"type": "array", "items": {"type": "integer"}}},
                "required": ["ids"],
            }
        },
    }
    assert schemas.example(schema) == {
        "when": "2024-01-01T00:00:00Z",
        "size": 5,
        "ratio": 0.5,
        "child": {"ids": [1]},
        "maybe": True,
        "kind": "fixed",
        "code": "fake codexxx",
    }


def test_recursive_schema_terminates() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}, "required": ["next"]}},
    }
    assert isinstance(schemas.example(schema), dict)


def test_pieces_rebuild_the_text_without_splitting_characters() -> None:
    text = "naïve café — 日本語のテキスト 🎉 done"
    pieces = list(tokens.pieces(text, 1))
    assert "".join(pieces) == text
    assert len(pieces) > 5


def test_fault_headers_override_flags() -> None:
    config = FakeConfig(status=503, latency_ms=10, malformed=True, reset_after_chunks=2)
    rng = random.Random(0)
    assert faults.resolve({}, config, rng) == faults.Faults(
        status=503, latency_ms=10, malformed=True, reset_after_chunks=2
    )
    headers = {
        "x-fake-status": "200",
        "x-fake-latency-ms": "0",
        "x-fake-malformed": "0",
        "x-fake-reset-after-chunks": "-1",
    }
    assert faults.resolve(headers, config, rng) is faults.NO_FAULTS
    assert faults.resolve({"x-fake-status": "nonsense"}, config, rng).status == 503


def test_cli_flags_build_the_config() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--host",
            "0.0.0.0",
            "--port",
            "9100",
            "--api-key",
            "k",
            "--status",
            "503",
            "--fail-rate",
            "0.25",
            "--fail-status",
            "502",
            "--seed",
            "3",
            "--latency-ms",
            "5",
            "--ttft-ms",
            "6",
            "--chunk-delay-ms",
            "7",
            "--reset-after-chunks",
            "8",
            "--malformed",
        ]
    )
    assert (args.host, args.port) == ("0.0.0.0", 9100)
    assert config_from_args(args) == FakeConfig(
        required_key="k",
        status=503,
        fail_rate=0.25,
        fail_status=502,
        seed=3,
        latency_ms=5,
        ttft_ms=6,
        chunk_delay_ms=7,
        reset_after_chunks=8,
        malformed=True,
    )
    defaults = parser.parse_args([])
    assert (defaults.host, defaults.port) == ("127.0.0.1", 9000)
    assert config_from_args(defaults) == FakeConfig()


def test_create_app_registers_every_wire() -> None:
    paths = {route.resource.canonical for route in create_app(FakeConfig()).router.routes() if route.resource}
    assert {"/v1/chat/completions", "/v1/embeddings", "/v1/models", "/v1/messages", "/_fake/requests"} <= paths


async def test_serve_runs_until_cancelled() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    task = asyncio.create_task(serve(FakeConfig(), "127.0.0.1", port))
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                response = await client.get(f"http://127.0.0.1:{port}/_fake/health")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("fake provider did not start")
    assert response.json() == {"status": "ok"}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
