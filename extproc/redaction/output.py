"""The output policy and restore mode on a completion, whole or streamed.

The text a model produced first meets the output policy (mask or block what
it should not say), then the request's placeholders are put back (restore
mode). Both work on a stream too: each choice's text is held back by the
words that may still become a value (see `GuardedStream`), so that a value
split across chunks is seen whole before any of it leaves.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from extproc.redaction.detector import Detector, Finding
from extproc.redaction.placeholders import MAX_PLACEHOLDER, Placeholders


class OutputGuard:
    """The output policy (a detector, mask or block) and the request's placeholders, for one answer."""

    def __init__(
        self,
        detector: Detector | None,
        block: bool,
        restore: Placeholders | None,
        deny_list: tuple[str, ...] = (),
    ) -> None:
        self._detector = detector
        self._block = block
        self._restore = restore
        self._masks = Placeholders(numbered=False)
        # A stream holds back at least this many words: a deny-list phrase must be seen whole.
        self.phrase_words = max((len(p.split()) for p in deny_list), default=1)
        # Set when the policy blocked the answer: the entities that made it.
        self.blocked: list[str] = []
        # A streamed answer's filter of each choice, by choice index; the choices it stopped.
        self._choices: dict[int, GuardedStream] = {}
        self._stopped: set[int] = set()

    def answer(self, answer: dict[str, Any]) -> bool:
        """A buffered canonical answer's texts through the guard, in place; True when any changed."""
        changed = False
        for choice in answer.get("choices") or ():
            message = choice.get("message") if isinstance(choice, dict) else None
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                continue
            text, blocked = self.whole(message["content"])
            if blocked:
                choice["finish_reason"] = "content_filter"
            if text != message["content"]:
                message["content"] = text
                changed = True
        return changed

    def chunk(self, chunk: dict[str, Any]) -> None:
        """A canonical stream chunk's choices through the guard, in place: held back, masked or stopped, restored."""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                continue
            index = choice.get("index", 0)
            stream = self._choices.get(index)
            if stream is None:
                stream = self._choices[index] = self.stream()
            text = delta.get("content")
            out = stream.feed(text) if isinstance(text, str) else ""
            if choice.get("finish_reason"):
                out += stream.flush()
            if isinstance(text, str) or out:
                delta["content"] = out
            if stream.stopped:
                # Blocked: the choice ends here for the client, as OpenAI ends a filtered one; the
                # model's later words are dropped, and so is its own finish reason.
                choice["finish_reason"] = None if index in self._stopped else "content_filter"
                self._stopped.add(index)

    @property
    def counts(self) -> Counter[str]:
        """What the output policy masked (or found, when it blocked), by entity."""
        return self._masks.counts

    def whole(self, text: str) -> tuple[str, bool]:
        """A buffered completion's text as the caller may see it, and whether the policy blocked it ("")."""
        findings = self._detector.find(text) if self._detector is not None else []
        if findings and self._block:
            self._note_block(findings)
            return "", True
        return self._finish(self._masks.mask(text, findings)), False

    def masked(self, text: str) -> str:
        """`text` with the output policy's findings masked and nothing restored (for a log line)."""
        if self._detector is None:
            return text
        return Placeholders(numbered=False).mask(text, self._detector.find(text))

    def stream(self) -> GuardedStream:
        """A filter for the text of one streamed choice."""
        return GuardedStream(self)

    def _finish(self, text: str) -> str:
        return self._restore.restore(text) if self._restore is not None else text

    def _note_block(self, findings: list[Finding]) -> None:
        for finding in findings:
            self._masks.counts[finding.entity] += 1
        self.blocked = sorted({*self.blocked, *(f.entity for f in findings)})


# Text already sent that detection still reads, so that a value whose context went out before it
# (`Authorization: Bearer ` before a token) is still recognised.
CONTEXT_CHARS = 128
# A token (no whitespace) is held back whole up to this length; past it, all but its last
# LONG_TOKEN_TAIL characters go (a base64 blob must not hold a stream forever).
MAX_HELD_TOKEN = 4096
LONG_TOKEN_TAIL = 256
_TOKEN = re.compile(r"\S+")
# A word that may be one group of a value written with spaces: it holds a digit ("(212)",
# "736-5000", "Tel:+33"), or it is all capitals (an IBAN's "WEST", a PEM header's "PRIVATE").
_PART_OF_A_VALUE = re.compile(r"\S*\d\S*|[A-Z0-9-]+")


class GuardedStream:
    """One choice's streamed text: pieces in, the part that is safe to send out.

    What is held back is the text that may still become (part of) a finding:
    the word being written, the digit groups and capital groups before it (a
    card or a phone number written with spaces), as many words as the longest
    deny-list phrase, any finding that reaches the end, and an unfinished
    placeholder. Everything before goes out at once, so the stream runs about
    a word behind the model.
    """

    def __init__(self, guard: OutputGuard) -> None:
        self._guard = guard
        self._pending = ""
        self._sent_tail = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """The text that may go out now (possibly ""), the rest held back."""
        if self.stopped:
            return ""
        self._pending += text
        return self._release(final=False)

    def flush(self) -> str:
        """At the choice's end: all that was held back."""
        if self.stopped:
            return ""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        guard = self._guard
        pending = self._pending
        findings = self._findings(pending)
        cut = len(pending) if final else self._cut(pending, findings)
        released = [f for f in findings if f.end <= cut]
        if released and guard._block:
            # The answer stops before the first finding: nothing of it leaves.
            guard._note_block(released)
            self.stopped = True
            out = pending[: released[0].start]
            self._pending = ""
            return guard._finish(out)
        out = guard._masks.mask(pending[:cut], released)
        self._pending = pending[cut:]
        self._sent_tail = (self._sent_tail + pending[:cut])[-CONTEXT_CHARS:]
        return guard._finish(out)

    def _findings(self, pending: str) -> list[Finding]:
        """Findings in `pending`, read with the tail of what was sent before it; one that began in
        the sent text (too late to take back) is cut to its part still here."""
        detector = self._guard._detector
        if detector is None:
            return []
        shift = len(self._sent_tail)
        found = []
        for finding in detector.find(self._sent_tail + pending):
            if finding.end > shift:
                found.append(Finding(max(finding.start - shift, 0), finding.end - shift, finding.entity))
        return found

    def _cut(self, pending: str, findings: list[Finding]) -> int:
        """How much of `pending` may go now (see the class docstring)."""
        words = [m.span() for m in _TOKEN.finditer(pending)]
        if not words:
            return len(pending)
        if len(words) == 1 and words[0][0] == 0 and len(pending) >= MAX_HELD_TOKEN:
            return len(pending) - LONG_TOKEN_TAIL
        held = complete = 0
        chain = True  # every word held so far may be a group of one value
        for start, end in reversed(words):
            writing = end == len(pending)  # only the last word can still grow
            part = bool(_PART_OF_A_VALUE.fullmatch(pending, start, end))
            if not writing and complete >= self._guard.phrase_words - 1 and not (chain and part):
                break
            chain = chain and part
            complete += not writing
            held += 1
        cut = words[-held][0] if held else len(pending)
        for finding in findings:
            if finding.start < cut < finding.end or (finding.end == len(pending) and finding.start < cut):
                cut = finding.start
        opening = pending.rfind("<", max(0, cut - MAX_PLACEHOLDER), cut)
        if opening >= 0 and ">" not in pending[opening:cut]:
            cut = opening
        return cut
