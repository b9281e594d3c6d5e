"""The text detection reads: look-alike characters folded, invisible ones removed, offsets kept.

A value written with full-width digits (２１２-７３６-５０００), mathematical
digits, other scripts' digits (٢١٢), or split by zero-width characters
(`bob​@example.com` with a U+200B) reads the same to a model, but not to a
pattern. Detection runs on a view of the text where each character is
folded on its own: NFKC (full-width and compatibility forms), any decimal
digit as its ASCII digit, and format characters (category Cf: zero-width
spaces and joiners, U+2060, U+FEFF, bidi controls) and combining marks
(Mn, Me) removed. Findings come back as spans of the original text, so that
the value is masked there whole, invisible characters included; the rest of
the text is left exactly as the caller wrote it.

Character by character rather than NFKC over the whole text, so that every
view character maps back to one original character.
"""

from __future__ import annotations

import sys
import unicodedata
from bisect import bisect_right
from functools import lru_cache

import regex

_REMOVED = ("Cf", "Mn", "Me")
_UNASSIGNED = ("Cn", "Co", "Cs")
_NON_ASCII = regex.compile(r"[^\x00-\x7f]+")


@lru_cache(maxsize=1)
def _folding() -> dict[int, str]:
    """What each character that changes in the view becomes ("" when removed).

    Built once per process from the Unicode database (about 0.2 s, 7,500 characters).
    """
    table: dict[int, str] = {}
    for code in range(128, sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category in _UNASSIGNED:
            continue
        if category in _REMOVED:
            table[code] = ""
        elif category == "Nd":
            table[code] = str(unicodedata.decimal(char))
        else:
            folded = unicodedata.normalize("NFKC", char)
            if folded != char:
                table[code] = "".join(c for c in folded if unicodedata.category(c) not in _REMOVED)
    return table


def warm_up() -> None:
    """Build the folding table now (at start-up) rather than on the first request that needs it."""
    _folding()


class View:
    """A text as detection reads it, and the way back to the original's offsets."""

    __slots__ = ("text", "_original", "_view", "_length")

    def __init__(self, text: str) -> None:
        self.text = text
        # For each changed character: its offset in the original and where its folding starts in the view.
        self._original: list[int] = []
        self._view: list[int] = []
        self._length: list[int] = []
        if text.isascii():
            return
        table = _folding()
        pieces: list[str] = []
        at = shift = 0
        for run in _NON_ASCII.finditer(text):
            chars = run.group()
            if chars.translate(table) == chars:  # most non-ASCII text (accents, CJK) stays as it is
                continue
            for index, char in enumerate(chars, run.start()):
                folded = table.get(ord(char))
                if folded is None:
                    continue
                pieces.append(text[at:index])
                pieces.append(folded)
                self._original.append(index)
                self._view.append(index + shift)
                self._length.append(len(folded))
                shift += len(folded) - 1
                at = index + 1
        if self._original:
            pieces.append(text[at:])
            self.text = "".join(pieces)

    @property
    def changed(self) -> bool:
        """False when the view is the text itself."""
        return bool(self._original)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the view's `start:end` (every original character it came from)."""
        if not self._original:
            return start, end
        return self._char(start), self._char(end - 1) + 1

    def _char(self, position: int) -> int:
        """The original offset of the character that produced view position `position`."""
        k = bisect_right(self._view, position) - 1
        if k < 0:
            return position
        begins, length = self._view[k], self._length[k]
        if position < begins + length:
            return self._original[k]
        return self._original[k] + 1 + (position - begins - length)
