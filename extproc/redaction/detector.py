"""Find sensitive values in a text: Presidio recognizers, overlaps resolved, spans returned."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import regex

from extproc.redaction import normalize
from extproc.redaction.entities import DENY_LIST

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer

# Presidio scores below this are its "very weak" patterns (any 9 digits as an SSN, say),
# which its context words would lift; the gateway reads no context, so it drops them.
MIN_SCORE = 0.3

# When two findings overlap, the more specific entity wins: a dotted quad is an IP address
# before it is a phone number, an SSN is not a phone, a key is a secret whatever else it
# holds, and 16 digits inside an IBAN (its mod-97 checked) pass Luhn by chance one time in ten.
PRECEDENCE = ("SECRET", DENY_LIST, "IBAN_CODE", "CREDIT_CARD", "EMAIL_ADDRESS", "US_SSN", "IP_ADDRESS", "PHONE_NUMBER")

# A cheap test that a text may hold an entity at all (substrings, or one stdlib `re` pass):
# most prompts hold none, and Presidio's patterns (the IPv6 one above all) are slow to find nothing.
TRIGGERS: dict[str, re.Pattern[str] | tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("@",),
    "PHONE_NUMBER": re.compile(r"\d(?:[ .()-]{0,2}\d){6}"),
    "CREDIT_CARD": re.compile(r"\d(?:[ -]?\d){12}"),
    "IBAN_CODE": re.compile(r"[A-Za-z]{2}\d{2}"),
    "IP_ADDRESS": re.compile(r"\d\.\d{1,3}\.\d|[0-9A-Fa-f]:[0-9A-Fa-f]{0,4}:|::"),
    "US_SSN": re.compile(r"\d{3}[- .]\d{2}[- .]\d{4}"),
    "SECRET": ("sk-", "AKIA", "ASIA", "ABIA", "ACCA", "_", "xox", "AIza", "eyJ", "PRIVATE KEY", "earer", "EARER", "ecret", "ECRET"),
}


# For these, Presidio's pattern runs only on windows around each anchor (this many characters
# either side, widened to whitespace), not on the whole text: its e-mail and IPv6 patterns cost
# 27 and 17 ms on 64 KB, and a value never reaches further than this from its `@` or its
# colons and dots. (Phone candidates are too many and too short: windows cost more than they save.)
WINDOWED = {
    "EMAIL_ADDRESS": (re.compile("@"), 256),
    # An IPv4 address's first three parts (not any decimal number), or two colons of an IPv6 one.
    "IP_ADDRESS": (re.compile(r"\d\.\d{1,3}\.\d|[0-9A-Fa-f]?:[0-9A-Fa-f]{0,4}:"), 64),
}
_SPACE = re.compile(r"\s")


# Touches every recognizer once (e-mail's suffix list, phone's metadata, the regex caches).
WARM_UP_TEXT = "warm-up: a@example.com +1 212 736 5000 4111 1111 1111 1111 GB82WEST12345698765432 10.0.0.1 sk-x"


@dataclass(frozen=True, slots=True)
class Finding:
    """One sensitive value: where it is in the text and what it is."""

    start: int
    end: int
    entity: str


class Detector:
    """The recognizers of a policy's entities (and deny list), run over one text at a time."""

    def __init__(self, entities: tuple[str, ...], deny_list: tuple[str, ...] = ()) -> None:
        # Here, not at the top: importing Presidio loads spaCy (over a second), which only
        # a gateway with a privacy policy should pay for.
        from extproc.redaction.recognizers import deny_list_recognizer, recognizer_for  # noqa: PLC0415

        self.entities = entities
        recognizers = [(entity, TRIGGERS.get(entity), recognizer_for(entity)) for entity in entities]
        if deny_list:
            recognizers.append((DENY_LIST, None, deny_list_recognizer(deny_list)))
        self._recognizers = [(entity, trigger, _matcher(recognizer)) for entity, trigger, recognizer in recognizers]
        normalize.warm_up()

    def find(self, text: str) -> list[Finding]:
        """Every finding in `text`, in order, none overlapping.

        Detection reads the text with look-alike characters folded and invisible ones removed
        (see `normalize`); the spans are the original text's.
        """
        if not text:
            return []
        view = normalize.View(text)
        findings = self._find(view.text)
        if not view.changed:
            return findings
        spans = []
        for finding in findings:
            start, end = view.span(finding.start, finding.end)
            if spans and start < spans[-1].end:  # two findings from one original character (a ligature)
                start = spans[-1].end
            if end > start:
                spans.append(Finding(start, end, finding.entity))
        return spans

    def _find(self, text: str) -> list[Finding]:
        candidates = []
        for entity, trigger, matcher in self._recognizers:
            if trigger is not None and not _may_hold(text, trigger):
                continue
            rank = PRECEDENCE.index(entity)
            for offset, piece in _pieces(text, entity):
                for start, end in matcher(piece):
                    candidates.append((rank, start - end, offset + start, offset + end, entity))
        return _resolve_overlaps(candidates, len(text))


@cache
def detector_for(entities: tuple[str, ...], deny_list: tuple[str, ...] = ()) -> Detector:
    """The process's detector for these entities and words, built (and run once) on first use."""
    detector = Detector(entities, deny_list)
    detector.find(WARM_UP_TEXT)
    return detector


def warm_up() -> None:
    """Build the detector of every entity now, so that the first request does not pay for it."""
    from extproc.redaction.entities import ENTITIES  # noqa: PLC0415  # entities import Presidio's recognizers

    detector_for(ENTITIES)


def _matcher(recognizer: EntityRecognizer) -> Callable[[str], list[tuple[int, int]]]:
    """The spans a recognizer finds in a text with a score of at least MIN_SCORE.

    For a plain `PatternRecognizer`, its patterns and its validation, as Presidio's `analyze` runs
    them, without the explanation and result objects it builds for each match (half the time on
    a text full of values); nested duplicates are left to the overlap resolution, which keeps the
    longer one as Presidio does. A recognizer with its own `analyze` (IBAN's) runs as it is.
    """
    from presidio_analyzer import EntityRecognizer, PatternRecognizer  # noqa: PLC0415  # loads spaCy: only when redacting

    if type(recognizer).analyze is not PatternRecognizer.analyze:
        entity = recognizer.supported_entities[0]

        def analyze(text: str) -> list[tuple[int, int]]:
            results = recognizer.analyze(text, [entity], None)
            return [(r.start, r.end) for r in results if r.score >= MIN_SCORE and r.end > r.start]

        return analyze
    assert isinstance(recognizer, PatternRecognizer)
    patterns = [
        (regex.compile(p.regex, flags=recognizer.global_regex_flags), p.score) for p in recognizer.patterns
    ]
    validate, invalidate = recognizer.validate_result, recognizer.invalidate_result

    def match(text: str) -> list[tuple[int, int]]:
        spans = []
        for pattern, base_score in patterns:
            for found in pattern.finditer(text):
                start, end = found.span()
                if start == end:
                    continue
                value = text[start:end]
                valid = validate(value)
                score = base_score if valid is None else (EntityRecognizer.MAX_SCORE if valid else 0.0)
                if score >= MIN_SCORE and not invalidate(value):
                    spans.append((start, end))
        return spans

    return match


def _resolve_overlaps(candidates: list[tuple[int, int, int, int, str]], length: int) -> list[Finding]:
    """Keep each candidate, most specific entity first and longest first, unless it overlaps one kept.

    Linear in the text and n log n in the candidates: a byte per character says whether a kept
    finding covers it (checking each candidate against every kept one was quadratic, and 3.5 MB
    of values took minutes).
    """
    candidates.sort()
    covered = bytearray(length)
    kept: list[Finding] = []
    for _, _, start, end, entity in candidates:
        if covered.find(1, start, end) < 0:
            covered[start:end] = b"\x01" * (end - start)
            kept.append(Finding(start, end, entity))
    kept.sort(key=lambda f: f.start)
    return kept


def _may_hold(text: str, trigger: re.Pattern[str] | tuple[str, ...]) -> bool:
    if isinstance(trigger, tuple):
        return any(part in text for part in trigger)
    return trigger.search(text) is not None


def _pieces(text: str, entity: str) -> list[tuple[int, str]]:
    """The parts of `text` to scan for `entity`, with their offsets: windows around its trigger
    matches, merged, each widened to whitespace so that no token is cut; or the whole text."""
    windowed = WINDOWED.get(entity)
    if windowed is None or len(text) < 4096:
        return [(0, text)]
    anchor, reach = windowed
    spans: list[list[int]] = []
    for match in anchor.finditer(text):
        start, end = max(0, match.start() - reach), min(len(text), match.end() + reach)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    pieces = []
    for start, end in spans:
        before = max(text.rfind(" ", 0, start), text.rfind("\n", 0, start))
        start = before + 1 if before >= 0 else 0
        after = _SPACE.search(text, end)
        end = after.start() if after else len(text)
        if pieces and start <= pieces[-1][0] + len(pieces[-1][1]):
            first = pieces.pop()[0]
            start = first
        pieces.append((start, text[start:end]))
    return pieces
