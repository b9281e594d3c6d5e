"""Find sensitive values in a text: Presidio recognizers, overlaps resolved, spans returned."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .entities import DENY_LIST

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
    "IP_ADDRESS": (re.compile(r"\d\.\d|[0-9A-Fa-f]?:[0-9A-Fa-f]{0,4}:"), 64),
}
_SPACE = re.compile(r"\s")


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
        from .recognizers import deny_list_recognizer, recognizer_for

        self.entities = entities
        self._recognizers = [(entity, TRIGGERS.get(entity), recognizer_for(entity)) for entity in entities]
        if deny_list:
            self._recognizers.append((DENY_LIST, None, deny_list_recognizer(deny_list)))

    def find(self, text: str) -> list[Finding]:
        """Every finding in `text`, in order, none overlapping."""
        if not text:
            return []
        candidates = []
        for entity, trigger, recognizer in self._recognizers:
            if trigger is not None and not _may_hold(text, trigger):
                continue
            for offset, piece in _pieces(text, entity):
                for result in recognizer.analyze(piece, [entity], None):
                    if result.score >= MIN_SCORE and result.end > result.start:
                        start, end = offset + result.start, offset + result.end
                        candidates.append((PRECEDENCE.index(entity), start - end, start, end, entity))
        candidates.sort()
        kept: list[Finding] = []
        for _, _, start, end, entity in candidates:
            if all(end <= k.start or start >= k.end for k in kept):
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
