"""Detection over a large text: chunk by chunk, each a bounded piece of work, within a time limit.

Between chunks the scan checks its `Limits` (a deadline, and a flag set when
the request is abandoned), so that no request's detection runs past its
budget or after Envoy has given up on it. A chunk leaves its last `TAIL`
characters to the next one, which re-reads `LOOKBACK` characters before
them: a value near a chunk's end is read whole by the next chunk, with its
label (`Bearer `, `aws_secret_access_key =`) in front of it. A value that
would cross the cut moves the cut to its start; one longer than a chunk (a
PEM key) makes the next chunk twice as long.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from extproc.redaction.detector import Detector, Finding

CHUNK = 65536
TAIL = 4096
LOOKBACK = 256
# How far a chunk's end or a cut looks for whitespace, so as not to split a token.
WIDEN = 1024


class ScanStopped(Exception):
    """The scan stopped before the end of the text: over its deadline, or abandoned."""

    def __init__(self, reason: str, findings: list[Finding], scanned: int) -> None:
        super().__init__(reason)
        self.reason = reason  # "seconds" or "cancelled"
        # The findings before `scanned`, final; nothing at or after it was looked at.
        self.findings = findings
        self.scanned = scanned


class Flag(Protocol):
    """Set when the request is abandoned (a threading.Event, or a flag shared with a worker process)."""

    def is_set(self) -> bool:
        """True once set."""
        ...


@dataclass(slots=True)
class Limits:
    """What one request's detection may still do: until `deadline` (time.monotonic), unless cancelled."""

    deadline: float
    cancelled: Flag = field(default_factory=threading.Event)

    def check(self, findings: list[Finding], scanned: int) -> None:
        """Raise ScanStopped when the work must stop here."""
        if self.cancelled.is_set():
            raise ScanStopped("cancelled", findings, scanned)
        if time.monotonic() > self.deadline:
            raise ScanStopped("seconds", findings, scanned)


def find_all(detector: Detector, text: str, limits: Limits) -> list[Finding]:
    """Every finding in `text`, as `detector.find` would return them, read in chunks; ScanStopped
    says how far it got when the limits stop it."""
    limits.check([], 0)
    if len(text) <= CHUNK:
        return detector.find(text)
    found: list[Finding] = []
    floor = start = 0  # everything before `floor` is settled; the chunk begins at `start`
    size = CHUNK
    while True:
        end = len(text) if start + size >= len(text) else _space_after(text, start + size)
        findings = [Finding(f.start + start, f.end + start, f.entity) for f in detector.find(text[start:end])]
        cut = len(text) if end == len(text) else _space_before(text, end - TAIL, floor)
        crossing = next((f for f in findings if f.start < cut < f.end), None)
        if crossing is not None:
            cut = crossing.start
        if cut <= floor:  # one value from the floor past the chunk's end: read more at once
            size *= 2
            limits.check(found, floor)
            continue
        found.extend(Finding(max(f.start, floor), f.end, f.entity) for f in findings if floor < f.end <= cut)
        if cut == len(text):
            return found
        floor, size = cut, CHUNK
        back = max(0, cut - LOOKBACK)
        start = _space_before(text, back, max(0, back - WIDEN))
        limits.check(found, floor)


def safe_cut(text: str, limit: int, findings: list[Finding]) -> int:
    """Where to cut `text`, read up to `limit` only, so that no value is cut in two: a whitespace
    TAIL characters before the limit, moved to the start of a finding that crosses it."""
    if limit >= len(text):
        return len(text)
    cut = _space_before(text, max(0, limit - TAIL), 0) if limit > TAIL else 0
    crossing = next((f for f in findings if f.start < cut < f.end), None)
    return crossing.start if crossing is not None else cut


def _space_after(text: str, position: int) -> int:
    """The first whitespace at or after `position` (within WIDEN), else `position`."""
    for index in range(position, min(len(text), position + WIDEN)):
        if text[index].isspace():
            return index
    return position


def _space_before(text: str, position: int, low: int) -> int:
    """The last whitespace at or before `position` and after `low` (within WIDEN), else `position`."""
    for index in range(position, max(low, position - WIDEN, -1), -1):
        if text[index].isspace():
            return index
    return position
