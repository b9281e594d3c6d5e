"""Which texts of a request the provider reads, and so which get redacted."""

from __future__ import annotations

from typing import Any

from extproc.redaction.texts import replace, request_texts


def texts_of(body: dict[str, Any], kind: str = "chat") -> list[str]:
    return [unit.text for unit in request_texts(body, kind).units]


def shout(body: dict[str, Any], kind: str = "chat") -> bool:
    units = request_texts(body, kind).units
    return replace(units, [[piece.upper() for piece in unit.pieces] for unit in units])


def test_every_string_a_provider_reads_is_a_text_and_names_ids_and_enums_are_not() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "name": "uname", "content": [{"type": "text", "text": "part"}, {"type": "image_url", "image_url": {"url": "https://u", "detail": "low"}}]},
            {"role": "assistant", "content": None, "refusal": "refused", "reasoning_content": "reasoning",
             "thinking_blocks": [{"type": "thinking", "thinking": "thought", "signature": "sig"}, {"type": "redacted_thinking", "data": "opaque"}],
             "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\"a\": \"args\"}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "result"},
        ],
        "prediction": {"type": "content", "content": "predicted"},
        "user": "end-user",
        "stop": ["halt", "cease"],
        "tools": [{"type": "function", "function": {"name": "lookup", "description": "tool description",
                                                     "parameters": {"type": "object", "properties": {"field": {"type": "string", "description": "field description", "enum": ["choice"]}}}}}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"properties": {"prop": {"title": "prop title"}}}}},
        "metadata": {"ticket": "meta value"},
        "logit_bias": {"50256": -100},
    }  # fmt: skip
    found = texts_of(body)
    for text in ("sys", "uname", "part", "refused", "reasoning", "thought", '{"a": "args"}', "result", "predicted",
                 "end-user", "halt", "cease", "tool description", "field description", "choice", "field", "prop title",
                 "prop", "meta value", "ticket", "answer", "low"):  # fmt: skip
        assert text in found, text
    for not_text in ("m", "user", "system", "sig", "opaque", "c", "function", "f", "lookup", "https://u", "50256", "text"):
        assert not_text not in found, not_text


def test_media_parts_are_listed_as_unreadable_and_a_files_name_is_read() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
        {"type": "file", "file": {"filename": "report.pdf", "file_data": "JVBERi0"}},
    ]}]}  # fmt: skip
    texts = request_texts(body, "chat")
    assert texts.media == ["messages[0].content[1] (image_url)", "messages[0].content[2] (input_audio)",
                           "messages[0].content[3] (file)"]  # fmt: skip
    found = [unit.text for unit in texts.units]
    assert "report.pdf" in found and "UklGR" not in found and "JVBERi0" not in found


def test_adjacent_text_parts_are_one_text_and_other_parts_separate_them() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "call 212-736-"}, {"type": "text", "text": "5000"},
        {"type": "image_url", "image_url": {"url": "u"}}, {"type": "text", "text": "after"},
    ]}]}  # fmt: skip
    assert texts_of(body) == ["call 212-736-5000", "after"]


def test_rewriting_writes_back_each_part_and_each_key() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
        "metadata": {"key": "value"},
    }
    assert shout(body)
    assert body["messages"][0]["content"] == [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]
    assert body["metadata"] == {"KEY": "VALUE"} and body["model"] == "m"


def test_a_part_emptied_by_a_value_from_the_part_before_is_removed() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "x 1"}, {"type": "text", "text": "2"}]}]}
    units = request_texts(body, "chat").units
    assert replace(units, [["x <N>", ""]])
    assert body["messages"][0]["content"] == [{"type": "text", "text": "x <N>"}]


def test_embeddings_input_strings_are_texts_and_token_arrays_are_unreadable() -> None:
    body = {"model": "e", "input": ["one", [1, 2, 3], "two"]}
    texts = request_texts(body, "embeddings")
    assert [unit.text for unit in texts.units] == ["one", "two"] and texts.media == ["input[1] (token ids)"]
    assert shout(body, "embeddings") and body["input"] == ["ONE", [1, 2, 3], "TWO"]
    single = {"model": "e", "input": "text"}
    assert shout(single, "embeddings") and single["input"] == "TEXT"
    assert request_texts({"input": [1, 2]}, "embeddings").media == ["input (token ids)"]


def test_nothing_changed_is_reported_as_such() -> None:
    body = {"messages": [{"role": "user", "content": "SAME"}]}
    assert not shout(body)
