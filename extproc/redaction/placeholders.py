"""Typed placeholders: what a masked value becomes, and the way back for restore mode."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from itertools import accumulate

from extproc.redaction.detector import Finding

# `<EMAIL_ADDRESS_1>`: typed so the model still knows what stood there, numbered so that
# two different values stay different and each can be put back.
PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*)_(\d+)>")
# The longest a placeholder gets; a stream holds back a `<` this close to its end.
MAX_PLACEHOLDER = 32


class Placeholders:
    """The placeholders of one request: the same value always gets the same one."""

    def __init__(self, numbered: bool = True) -> None:
        self._numbered = numbered
        self._by_value: dict[tuple[str, str], str] = {}
        self._per_entity: Counter[str] = Counter()
        # Placeholder -> the original value.
        self.originals: dict[str, str] = {}
        # Values masked, by entity (every occurrence counts).
        self.counts: Counter[str] = Counter()

    def mask(self, text: str, findings: list[Finding]) -> str:
        """`text` with every finding replaced by its placeholder."""
        if not findings:
            return text
        out: list[str] = []
        at = 0
        for finding in findings:
            out.append(text[at : finding.start])
            out.append(self._placeholder(finding.entity, text[finding.start : finding.end]))
            at = finding.end
        out.append(text[at:])
        return "".join(out)

    def mask_pieces(self, pieces: list[str], findings: list[Finding]) -> list[str]:
        """One text cut in `pieces` (adjacent text parts), each finding of the joined text replaced
        by its placeholder in the piece where it starts, and cut from the pieces it reaches into."""
        if len(pieces) == 1:
            return [self.mask(pieces[0], findings)]
        text = "".join(pieces)
        ends = list(accumulate(len(piece) for piece in pieces))
        out: list[list[str]] = [[] for _ in pieces]

        def copy(start: int, end: int) -> None:
            part = bisect_right(ends, start)
            while start < end:
                stop = min(end, ends[part])
                out[part].append(text[start:stop])
                start, part = stop, part + 1

        at = 0
        for finding in findings:
            copy(at, finding.start)
            out[bisect_right(ends, finding.start)].append(self._placeholder(finding.entity, text[finding.start : finding.end]))
            at = finding.end
        copy(at, len(text))
        return ["".join(parts) for parts in out]

    def take(self, other: Placeholders) -> None:
        """Become `other` (the same request's placeholders, filled in another process)."""
        self._by_value, self._per_entity = other._by_value, other._per_entity
        self.originals, self.counts = other.originals, other.counts

    def restore(self, text: str) -> str:
        """`text` with every placeholder of this request put back to its original value."""
        if not self.originals or "<" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: self.originals.get(m.group(0), m.group(0)), text)

    def _placeholder(self, entity: str, value: str) -> str:
        self.counts[entity] += 1
        if not self._numbered:
            return f"<{entity}>"
        key = (entity, value)
        placeholder = self._by_value.get(key)
        if placeholder is None:
            self._per_entity[entity] += 1
            placeholder = f"<{entity}_{self._per_entity[entity]}>"
            self._by_value[key] = placeholder
            self.originals[placeholder] = value
        return placeholder
