"""The output guard: mask or block a completion, restore placeholders, and do both on a stream
whose values arrive split across chunks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extproc.redaction.detector import Detector
from extproc.redaction.entities import ENTITIES
from extproc.redaction.output import OutputGuard
from extproc.redaction.placeholders import Placeholders

DETECTOR = Detector(ENTITIES)
CARD = "4111 1111 1111 1111"
TEXT = f"Sure. The card on file is {CARD} and the owner is bob@example.com, as requested."


def streamed(guard: OutputGuard, pieces: list[str]) -> str:
    stream = guard.stream()
    return "".join(stream.feed(piece) for piece in pieces) + stream.flush()


def cut_every(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_a_buffered_answer_is_masked_with_typed_placeholders() -> None:
    guard = OutputGuard(DETECTOR, block=False, restore=None)
    text, blocked = guard.whole(TEXT)
    assert not blocked
    assert text == "Sure. The card on file is <CREDIT_CARD> and the owner is <EMAIL_ADDRESS>, as requested."
    assert guard.counts == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1}


def test_a_blocked_buffered_answer_is_emptied_and_names_what_it_held() -> None:
    guard = OutputGuard(DETECTOR, block=True, restore=None)
    assert guard.whole(TEXT) == ("", True)
    assert guard.blocked == ["CREDIT_CARD", "EMAIL_ADDRESS"]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16, 64])
def test_a_stream_cut_anywhere_is_masked_as_the_whole_text_is(size: int) -> None:
    whole, _ = OutputGuard(DETECTOR, block=False, restore=None).whole(TEXT)
    assert streamed(OutputGuard(DETECTOR, block=False, restore=None), cut_every(TEXT, size)) == whole


@pytest.mark.parametrize("size", [1, 4, 9])
def test_a_blocked_stream_stops_before_the_first_finding_and_sends_nothing_of_it(size: int) -> None:
    guard = OutputGuard(DETECTOR, block=True, restore=None)
    stream = guard.stream()
    out = "".join(stream.feed(piece) for piece in cut_every(TEXT, size)) + stream.flush()
    assert stream.stopped and "CREDIT_CARD" in guard.blocked
    assert "4111" not in out and "1111" not in out
    assert TEXT.startswith(out) and out.rstrip().endswith("on file is")


def test_a_stream_runs_a_word_behind_the_model() -> None:
    stream = OutputGuard(DETECTOR, block=False, restore=None).stream()
    assert stream.feed("Hello the") == "Hello "
    assert stream.feed("re, how are") == "there, how "
    assert stream.flush() == "are"


def test_digit_groups_are_held_until_the_number_is_complete() -> None:
    stream = OutputGuard(DETECTOR, block=False, restore=None).stream()
    assert stream.feed("Call +1 212 736") == "Call "
    assert stream.feed(" 5000 now") == "<PHONE_NUMBER> "
    assert stream.flush() == "now"


def test_a_deny_list_phrase_is_held_until_it_can_be_seen_whole() -> None:
    guard = OutputGuard(Detector((), deny_list=("Project Falcon",)), block=False, restore=None, deny_list=("Project Falcon",))
    stream = guard.stream()
    out = stream.feed("About Project") + stream.feed(" Falcon and more") + stream.flush()
    assert out == "About <DENY_LIST> and more"


def test_a_token_whose_context_went_out_earlier_is_still_caught() -> None:
    stream = OutputGuard(DETECTOR, block=False, restore=None).stream()
    out = stream.feed("Authorization: Bearer ") + stream.feed("e8kD.5vySJqw08hHs5Y") + stream.feed("15l7wXPdC5pChMnK rest")
    out += stream.flush()
    assert out == "Authorization: Bearer <SECRET> rest"


def test_a_private_key_arriving_over_many_chunks_never_leaks_a_line() -> None:
    body = "\n".join(["MIIEpAIBAAKCAQEA7xZt" * 3] * 10)
    key = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    out = streamed(OutputGuard(DETECTOR, block=False, restore=None), cut_every(f"Here it is:\n{key}\nDone.", 7))
    assert out == "Here it is:\n<SECRET>\nDone."


def test_restore_puts_the_callers_values_back_even_when_placeholders_are_split() -> None:
    placeholders = Placeholders()
    masked = placeholders.mask("mail bob@example.com", DETECTOR.find("mail bob@example.com"))
    assert masked == "mail <EMAIL_ADDRESS_1>"
    guard = OutputGuard(None, block=False, restore=placeholders)
    answer = "I will write to <EMAIL_ADDRESS_1> today, then again to <EMAIL_ADDRESS_1>."
    assert streamed(guard, cut_every(answer, 3)) == answer.replace("<EMAIL_ADDRESS_1>", "bob@example.com")
    assert guard.whole(answer)[0] == answer.replace("<EMAIL_ADDRESS_1>", "bob@example.com")


def test_the_output_policy_masks_what_the_model_made_before_restore_hands_back_the_callers() -> None:
    placeholders = Placeholders()
    placeholders.mask("bob@example.com", DETECTOR.find("bob@example.com"))
    guard = OutputGuard(DETECTOR, block=False, restore=placeholders)
    text, _ = guard.whole("Reply to <EMAIL_ADDRESS_1>, not to eve@evil.example.org.")
    assert text == "Reply to bob@example.com, not to <EMAIL_ADDRESS>."


def test_a_placeholder_from_another_request_is_left_as_it_is() -> None:
    guard = OutputGuard(None, block=False, restore=Placeholders())
    assert guard.whole("<EMAIL_ADDRESS_7> stays")[0] == "<EMAIL_ADDRESS_7> stays"


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(TEXT) - 1), max_size=12, unique=True))
def test_any_cutting_of_a_stream_gives_the_buffered_result(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(TEXT)]
    pieces = [TEXT[a:b] for a, b in zip(bounds, bounds[1:])]
    whole, _ = OutputGuard(DETECTOR, block=False, restore=None).whole(TEXT)
    assert streamed(OutputGuard(DETECTOR, block=False, restore=None), pieces) == whole
