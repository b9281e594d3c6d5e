"""Which texts of a request the provider reads, and so which get redacted."""

from __future__ import annotations

from extproc.redaction.texts import rewrite_request


def shout(text: str) -> str:
    return text.upper()


def test_every_text_a_provider_reads_is_rewritten() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "part"}, {"type": "image_url", "image_url": {"url": "u"}}]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                                                                    "function": {"name": "f", "arguments": "{\"a\": \"args\"}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "result"},
        ],
    }  # fmt: skip
    assert rewrite_request(body, "chat", shout)
    messages = body["messages"]
    assert messages[0]["content"] == "SYS"
    assert messages[1]["content"][0]["text"] == "PART" and messages[1]["content"][1]["image_url"]["url"] == "u"
    assert messages[2]["tool_calls"][0]["function"]["arguments"] == '{"A": "ARGS"}'
    assert messages[2]["tool_calls"][0]["function"]["name"] == "f"
    assert messages[3]["content"] == "RESULT"
    assert body["model"] == "m"


def test_embeddings_input_strings_are_rewritten_and_token_arrays_left_alone() -> None:
    body = {"model": "e", "input": ["one", [1, 2, 3], "two"]}
    assert rewrite_request(body, "embeddings", shout)
    assert body["input"] == ["ONE", [1, 2, 3], "TWO"]
    single = {"model": "e", "input": "text"}
    assert rewrite_request(single, "embeddings", shout) and single["input"] == "TEXT"


def test_nothing_changed_is_reported_as_such() -> None:
    body = {"messages": [{"role": "user", "content": "SAME"}]}
    assert not rewrite_request(body, "chat", shout)
