"""The detector: each entity found whole, look-alikes left alone, overlaps resolved by specificity."""

from __future__ import annotations

import pytest

from extproc.redaction.detector import Detector
from extproc.redaction.entities import ENTITIES

ALL = Detector(ENTITIES)


def found(text: str, detector: Detector = ALL) -> list[tuple[str, str]]:
    return [(f.entity, text[f.start : f.end]) for f in detector.find(text)]


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("write to jane.doe+billing@acme.co.uk today", "EMAIL_ADDRESS", "jane.doe+billing@acme.co.uk"),
        ("call (212) 736-5000 after 5", "PHONE_NUMBER", "(212) 736-5000"),
        ("call +44 20 7946 0958 after 5", "PHONE_NUMBER", "+44 20 7946 0958"),
        ("ruf an: +49 30 901820", "PHONE_NUMBER", "+49 30 901820"),
        ("card 4111 1111 1111 1111 exp 12/28", "CREDIT_CARD", "4111 1111 1111 1111"),
        ("card 5555-5555-5555-4444", "CREDIT_CARD", "5555-5555-5555-4444"),
        ("mastercard 2223000048400011 ok", "CREDIT_CARD", "2223000048400011"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
        ("from 203.0.113.7 again", "IP_ADDRESS", "203.0.113.7"),
        ("from 2001:db8::8a2e:370:7334 again", "IP_ADDRESS", "2001:db8::8a2e:370:7334"),
        ("my SSN is 219-09-9999.", "US_SSN", "219-09-9999"),
        ("key sk-proj-Abc123def456ghi789jkl012mno345 leaked", "SECRET", "sk-proj-Abc123def456ghi789jkl012mno345"),
        ("AKIAIOSFODNN7EXAMPLE is the id", "SECRET", "AKIAIOSFODNN7EXAMPLE"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
            "SECRET",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123", "SECRET", "abcdefghijklmnopqrstuvwxyz0123"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 here", "SECRET", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ],
)
def test_finds_each_entity_whole(text: str, entity: str, value: str) -> None:
    assert found(text) == [(entity, value)]


def test_a_private_key_is_one_finding_from_begin_to_end() -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\nqweRTY12\n-----END RSA PRIVATE KEY-----"
    assert found(f"here:\n{key}\nthanks") == [("SECRET", key)]


def test_an_unterminated_private_key_runs_to_the_end() -> None:
    """A stream still arriving: the key is held as a finding up to the text's end."""
    text = "here:\n-----BEGIN PRIVATE KEY-----\nMIIEpAIBAAKC"
    assert found(text) == [("SECRET", text[6:])]


@pytest.mark.parametrize(
    "text",
    [
        "Order #4532-1189-0043-2218 shipped",  # fails Luhn
        "upgrade to v2.14.3 or 1.2.3-beta",
        "at 2026-11-23T14:05:33Z the job ran",
        "request 3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b failed",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "use sk-learn and the task-runner",
        "the placeholder <EMAIL_ADDRESS_1> stays",
        "SSN-shaped but invalid: 000-12-3456 and 666-45-1234",
        "pi is 3.14159265358979 and e is 2.718281828",
        "ZIP 94105, price $1,299.00, up 12.5%",
    ],
)
def test_look_alikes_are_not_findings(text: str) -> None:
    assert found(text) == []


def test_a_dotted_quad_is_an_ip_address_not_a_phone_number() -> None:
    assert found("host 198.51.100.23 down") == [("IP_ADDRESS", "198.51.100.23")]


def test_only_the_configured_entities_are_looked_for() -> None:
    text = "mail a@example.com, card 4111 1111 1111 1111"
    assert found(text, Detector(("CREDIT_CARD",))) == [("CREDIT_CARD", "4111 1111 1111 1111")]


def test_deny_list_matches_whole_words_in_any_case() -> None:
    detector = Detector((), deny_list=("Project Falcon",))
    assert found("about project falcon's launch", detector) == [("DENY_LIST", "project falcon")]
    assert found("about project falconry", detector) == []


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("call ２１２-７３６-５０００ today", "PHONE_NUMBER", "２１２-７３６-５０００"),  # full-width digits
        ("card ４１１１ １１１１ １１１１ １１１１ ok", "CREDIT_CARD", "４１１１ １１１１ １１１１ １１１１"),
        ("mail bob\u200b@exam\u200dple.com now", "EMAIL_ADDRESS", "bob\u200b@exam\u200dple.com"),  # zero-width
        ("mail ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ now", "EMAIL_ADDRESS", "ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
        ("ssn 219\u2060-09-\ufeff9999 here", "US_SSN", "219\u2060-09-\ufeff9999"),  # word joiner, BOM
        ("call 𝟐𝟏𝟐-𝟕𝟑𝟔-𝟓𝟎𝟎𝟎 today", "PHONE_NUMBER", "𝟐𝟏𝟐-𝟕𝟑𝟔-𝟓𝟎𝟎𝟎"),  # mathematical digits
        ("call ٢١٢-٧٣٦-٥٠٠٠ today", "PHONE_NUMBER", "٢١٢-٧٣٦-٥٠٠٠"),  # Arabic-Indic digits
        ("call 2\u03321\u03322-736-5000 today", "PHONE_NUMBER", "2\u03321\u03322-736-5000"),  # combining marks
    ],
)
def test_look_alike_characters_and_invisible_ones_do_not_hide_a_value(text: str, entity: str, value: str) -> None:
    """Detection reads the text folded (NFKC, digits of any script, no format characters); the span
    is the original text's, so masking it leaves nothing of the value behind."""
    assert found(text) == [(entity, value)]


def test_text_around_folded_characters_keeps_its_offsets() -> None:
    text = "ﬁle ① café\u0301 \u200b then mail a@example.com and ２１２-７３６-５０００"
    assert found(text) == [("EMAIL_ADDRESS", "a@example.com"), ("PHONE_NUMBER", "２１２-７３６-５０００")]
