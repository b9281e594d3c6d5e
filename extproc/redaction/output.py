"""The output policy and restore mode on a completion, whole or streamed.

The text a model produced first meets the output policy (mask or block what
it should not say), then the request's placeholders are put back (restore
mode). Both work on a stream too: each choice's text is held back by a few
dozen characters, so that a value split across chunks is seen whole before
any of it leaves, and a finding still arriving at the end is never cut.
"""

from __future__ import annotations

from collections import Counter

from .detector import Detector, Finding
from .placeholders import MAX_PLACEHOLDER, Placeholders


class OutputGuard:
    """The output policy (a detector, mask or block) and the request's placeholders, for one answer."""

    def __init__(
        self,
        detector: Detector | None,
        block: bool,
        restore: Placeholders | None,
        holdback_chars: int = 64,
    ) -> None:
        self._detector = detector
        self._block = block
        self._restore = restore
        self._masks = Placeholders(numbered=False)
        self.holdback_chars = holdback_chars
        # Set when the policy blocked the answer: the entities that made it.
        self.blocked: list[str] = []

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

    def stream(self) -> "GuardedStream":
        """A filter for the text of one streamed choice."""
        return GuardedStream(self)

    def _finish(self, text: str) -> str:
        return self._restore.restore(text) if self._restore is not None else text

    def _note_block(self, findings: list[Finding]) -> None:
        for finding in findings:
            self._masks.counts[finding.entity] += 1
        self.blocked = sorted({*self.blocked, *(f.entity for f in findings)})


class GuardedStream:
    """One choice's streamed text: pieces in, the part that is safe to send out."""

    def __init__(self, guard: OutputGuard) -> None:
        self._guard = guard
        self._pending = ""
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
        findings = guard._detector.find(pending) if guard._detector is not None else []
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
        return guard._finish(out)

    def _cut(self, pending: str, findings: list[Finding]) -> int:
        """How much of `pending` may go: all but the hold-back, never inside a finding, a word or a placeholder."""
        cut = len(pending) - self._guard.holdback_chars
        if cut <= 0:
            return 0
        for finding in findings:
            if finding.start < cut < finding.end or (finding.end == len(pending) and finding.start < cut):
                cut = finding.start
        space = max(pending.rfind(" ", 0, cut + 1), pending.rfind("\n", 0, cut + 1))
        cut = space + 1 if space >= 0 else cut
        opening = pending.rfind("<", max(0, cut - MAX_PLACEHOLDER), cut)
        if opening >= 0 and ">" not in pending[opening:cut]:
            cut = opening
        return cut
