"""Presidio recognizers for the entities the gateway redacts, tuned to run offline and fast.

Presidio's own pattern recognizers do e-mail, payment card (Luhn), IBAN
(mod-97), IP address and US SSN. Three things are changed, each for a reason:

- E-mail: Presidio validates the domain with `tldextract`, whose default
  fetches the public-suffix list from the internet on first use. The gateway
  must work offline, so the same check runs on tldextract's bundled snapshot.
- Phone: Presidio's `PhoneRecognizer` runs libphonenumber's matcher once per
  region over the whole text (3.5 s for a 64 KB prompt here). The same
  libphonenumber validation on phone-shaped candidates found by one regex
  gives the same answers in milliseconds.
- Payment card: Presidio's pattern misses Mastercard's 2221-2720 range.

Presidio has no recognizers for credentials; `SECRET` is a set of patterns
for provider API keys, cloud keys, bearer tokens and PEM private keys.
"""

from __future__ import annotations

import logging
from functools import cache, lru_cache

import phonenumbers
import regex
import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    UsSsnRecognizer,
)

from extproc.redaction.entities import DENY_LIST

# Presidio logs an INFO line for every recognizer it builds: a screenful per service process
# at start-up, in front of `up`'s banner. Its warnings stay.
logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)


# Case matters in credentials (`AKIA...` is a key id, `akia...` is not).
_CASE_SENSITIVE = regex.DOTALL | regex.MULTILINE

_OFFLINE_SUFFIXES = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with its domain check on the bundled public-suffix list, and
    its local part bounded to 64 characters (RFC 5321's limit).

    Presidio's unbounded local part backtracks over every dot or dash of a long token: 4 KB of
    `a-a-a-...@x` took a second, 8 KB five. The look-ahead (an `@` within 64 characters) lets
    the pattern give up at once where no address can start: three times faster on prose.
    """

    PATTERNS = [
        Pattern(
            "Email (Medium)",
            r"\b(?=[^\s@]{1,64}@)((([!#$%&'*+\-/=?^_`{|}~\w])|([!#$%&'*+\-/=?^_`{|}~\w][!#$%&'*+\-/=?^_`{|}~\.\w]{0,62}"
            r"[!#$%&'*+\-/=?^_`{|}~\w]))[@]\w+(?:-+\w+)*(?:\.\w+(?:-+\w+)*)+)\b",
            0.5,
        ),
    ]

    def validate_result(self, pattern_text: str) -> bool:  # noqa: D102
        local, _, domain = pattern_text.rpartition("@")
        # The domain alone: the pattern's local part may take in a URL's `path?user=` before it.
        # A run of asterisks is an address already masked (j.m*****@web.de).
        return "**" not in local and _public_domain(domain)


@lru_cache(maxsize=65536)
def _public_domain(domain: str) -> bool:
    return _OFFLINE_SUFFIXES(domain).fqdn != ""


class FastPhoneRecognizer(PatternRecognizer):
    """Phone numbers: phone-shaped candidates, each validated by libphonenumber.

    A candidate starting with `+` must be a valid international number. Any
    other must be a valid national number: North American in its layout, or
    of a `trunk_regions` country with its trunk 0 and 9 digits or more (the
    way Britons, Germans or the French write their numbers at home), or of a
    `no_trunk_regions` country (Spain, Italy's mobiles). National numbers of
    other shapes are too easily confused with ids and amounts.
    """

    CANDIDATE = (
        r"(?<![\w+/.-])(?<!\d:)"  # not the tail of a longer token (a version, a path, an IP, a time)
        r"(?:\+\d{1,3}[ .-]?)?"  # country code
        r"(?:\(\d{1,5}\)[ .-]?)?"  # area code in brackets
        r"\d{1,5}(?:[ ./-]?\d{1,5}){1,5}"
        r"(?![\w/:]|[.-]\d)"  # nor its head
    )

    def __init__(
        self,
        trunk_regions: tuple[str, ...] = ("GB", "DE", "FR", "IT", "NL", "AU", "IN"),
        no_trunk_regions: tuple[str, ...] = ("ES", "IT"),
    ) -> None:
        self.trunk_regions = trunk_regions
        self.no_trunk_regions = no_trunk_regions
        super().__init__(
            supported_entity="PHONE_NUMBER",
            patterns=[Pattern("phone candidate", self.CANDIDATE, 0.1)],
            global_regex_flags=_CASE_SENSITIVE,
            name="FastPhoneRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool:  # noqa: D102
        return _valid_phone(pattern_text, self.trunk_regions, self.no_trunk_regions)


# A number repeated (a signature in every message of a thread) is validated once.
@lru_cache(maxsize=65536)
def _valid_phone(pattern_text: str, trunk_regions: tuple[str, ...], no_trunk_regions: tuple[str, ...]) -> bool:
    """FastPhoneRecognizer's check of one candidate."""
    digits = _NOT_DIGIT.sub("", pattern_text)
    if not 7 <= len(digits) <= 15 or _DATE_OR_TIME.fullmatch(pattern_text) or pattern_text.count(".") == 1:
        return False  # a date, a time, a decimal number
    if pattern_text.startswith("+"):
        return _valid_number(pattern_text, None)
    if _north_american_layout(pattern_text) and _valid_number(pattern_text, "US"):
        return True
    if digits[0] == "0":
        return len(digits) >= 9 and any(_valid_number(pattern_text, region) for region in trunk_regions)
    return _groups(pattern_text) in _NO_TRUNK_LAYOUTS and any(
        _valid_number(pattern_text, region) for region in no_trunk_regions
    )


_NOT_DIGIT = regex.compile(r"\D+")
_DATE_OR_TIME = regex.compile(
    r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d{1,2}:\d{2}(:\d{2})*([.,]\d+)?"
)


def _groups(text: str) -> list[int]:
    """The lengths of a candidate's digit groups: "(212) 736-5000" is [3, 3, 4]."""
    return [len(g) for g in _NOT_DIGIT.split(text) if g]


def _north_american_layout(text: str) -> bool:
    """Digits grouped as North Americans write a number: 212 736 5000, (212) 736-5000, 1-212-736-5000,
    2127365000 (not 2026-11-0042, an id that happens to have ten digits)."""
    groups = _groups(text)
    return groups in ([10], [11], [3, 3, 4], [1, 3, 3, 4]) and (groups[0] != 11 or text.lstrip("(")[0] == "1")


# How Spaniards (612 345 678, 612 34 56 78) and Italians (335 612 0987) write numbers without a
# trunk 0; not a ZIP+4 (94107-1234) nor an SSN's 3-2-4.
_NO_TRUNK_LAYOUTS = ([9], [3, 3, 3], [3, 2, 2, 2], [10], [3, 3, 4], [3, 7])


# Repeated numbers are common (a signature in every message of a thread), and parsing is the costly part.
@lru_cache(maxsize=65536)
def _valid_number(text: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, region))
    except phonenumbers.NumberParseException:
        return False


class StrictSsnRecognizer(UsSsnRecognizer):
    """Presidio's SSN recognizer, also refusing areas 900-999 (never issued as SSNs: ITINs and tests)."""

    def invalidate_result(self, pattern_text: str) -> bool:  # noqa: D102
        digits = "".join(c for c in pattern_text if c.isdigit())
        return bool(super().invalidate_result(pattern_text)) or digits[:1] == "9"


class StrictIpRecognizer(IpRecognizer):
    """Presidio's IP recognizer, without taking the first four parts of a longer dotted version (1.2.3.4.5)."""

    def __init__(self) -> None:
        patterns = [
            Pattern(p.name, r"(?<![\d.])" + p.regex + r"(?!\.\d)", p.score) if p.name == "IPv4" else p
            for p in IpRecognizer.PATTERNS
        ]
        super().__init__(patterns=patterns)


class PaymentCardRecognizer(CreditCardRecognizer):
    """Presidio's card recognizer (Luhn-validated), plus Mastercard's 2-series."""

    def __init__(self) -> None:
        two_series = Pattern(
            "Mastercard 2-series",
            r"\b2(?:2[2-9]\d|[3-6]\d\d|7[01]\d|720)[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b",
            0.3,
        )
        super().__init__(patterns=[*CreditCardRecognizer.PATTERNS, two_series])


SECRET_PATTERNS = [
    # OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-), this gateway's own keys (sk-gw-).
    Pattern("provider API key", r"\bsk-[A-Za-z0-9][A-Za-z0-9_-]{19,}", 0.9),
    Pattern("AWS access key id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b", 0.9),
    Pattern(
        "AWS secret access key",
        r"(?i:aws_?secret_?(?:access_?)?key[\"']?(?:\s*[:=]\s*|\s+)[\"']?)\K[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
        0.9,
    ),
    Pattern("GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b", 0.9),
    Pattern("Slack token", r"\bxox[abposr]-\d+-[A-Za-z0-9-]{10,}", 0.9),
    Pattern("Google API key", r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", 0.9),
    Pattern("JSON web token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0.9),
    # `\K` keeps the label out of the finding (and is far faster than a look-behind).
    Pattern("bearer token", r"(?i:\bbearer\s+)\K[A-Za-z0-9._~+/-]{20,}=*", 0.9),
    # To the END line or, unterminated (a stream still arriving), to the end of the text.
    Pattern(
        "PEM private key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
        0.9,
    ),
]


def secret_recognizer() -> PatternRecognizer:
    """Credentials: provider and cloud API keys, tokens, private keys."""
    return PatternRecognizer(
        supported_entity="SECRET", patterns=SECRET_PATTERNS, global_regex_flags=_CASE_SENSITIVE, name="SecretRecognizer"
    )


def deny_list_recognizer(terms: tuple[str, ...]) -> PatternRecognizer:
    """Whole words or phrases from a configured list, any case."""
    return PatternRecognizer(supported_entity=DENY_LIST, deny_list=list(terms), name="DenyListRecognizer")


@cache
def recognizer_for(entity: str) -> EntityRecognizer:
    """The one recognizer of an entity (built once per process: they hold compiled patterns)."""
    builders = {
        "EMAIL_ADDRESS": OfflineEmailRecognizer,
        "PHONE_NUMBER": FastPhoneRecognizer,
        "CREDIT_CARD": PaymentCardRecognizer,
        "IBAN_CODE": IbanRecognizer,
        "IP_ADDRESS": StrictIpRecognizer,
        "US_SSN": StrictSsnRecognizer,
        "SECRET": secret_recognizer,
    }
    return builders[entity]()
