"""One request's detection work, start to end: find its texts, check its budget, scan, mask.

A plain function of the request body, so that it can run on the event loop
(a small request) or in a worker process (a large one, see `pool.py`) alike.

Beyond the budget (`max_scan_bytes` of text, `max_scan_seconds`), the route's
`over_budget` says what happens: `refuse` leaves the body as it was and
reports why; `truncate` masks what was scanned and cuts the rest (the text
being read ends with `TRUNCATED`, later texts become `TRUNCATED`, later
free-form keys are dropped), so nothing unread reaches the provider.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from extproc.redaction.detector import Detector, Finding, detector_for
from extproc.redaction.placeholders import Placeholders
from extproc.redaction.scan import Limits, ScanStopped, find_all, safe_cut
from extproc.redaction.texts import Pieces, TextUnit, replace, request_texts

TRUNCATED = "[...]"


@dataclass(slots=True)
class RequestScan:
    """What the detection of one request found and did."""

    # Values found, by entity (in block mode nothing is changed).
    counts: Counter[str] = field(default_factory=Counter)
    # The body was rewritten (masked, or cut).
    changed: bool = False
    # Why the scan stopped short ("bytes" or "seconds"), or None when it read everything.
    over_budget: str | None = None
    # The texts' size in UTF-8 bytes.
    size: int = 0
    # Parts the gateway cannot read (images, audio, files, token ids), by place in the body.
    media: list[str] = field(default_factory=list)


def scan_request(
    body: Any,
    kind: str,
    detector: Detector,
    placeholders: Placeholders | None,
    limits: Limits,
    max_bytes: int,
    truncate: bool,
) -> RequestScan:
    """Scan `body` in place: mask with `placeholders` (None: only count), within `max_bytes` and `limits`.

    Raises ScanStopped("cancelled") when the request was abandoned; the body is then left as it was.
    """
    texts = request_texts(body, kind)
    result = RequestScan(size=texts.size(), media=texts.media)
    units = texts.units
    readable = [len(unit.text) for unit in units]  # how much of each text may be read
    if result.size > max_bytes:
        result.over_budget = "bytes"
        if not truncate:
            return result
        readable = _within(units, max_bytes)
    findings, read = _scan(detector, units, readable, limits)
    if len(findings) < len(units) or read != readable:
        result.over_budget = result.over_budget or "seconds"
        if not truncate:
            return result
    for found in findings:
        result.counts.update(finding.entity for finding in found)
    new_pieces: list[Pieces | None] = []
    for index, unit in enumerate(units):
        upto = read[index] if index < len(findings) else 0
        if upto < len(unit.text) and unit.slots[0].is_key:  # a key not read to its end goes, with its value
            new_pieces.append([None])
            continue
        pieces = unit.pieces if upto == len(unit.text) else _cut(unit, upto)
        if placeholders is not None and index < len(findings) and findings[index]:
            pieces = placeholders.mask_pieces(pieces, findings[index])
        new_pieces.append(None if pieces is unit.pieces else pieces)
    result.changed = replace(units, new_pieces)
    return result


def _scan(
    detector: Detector, units: list[TextUnit], readable: list[int], limits: Limits
) -> tuple[list[list[Finding]], list[int]]:
    """The findings of each text read, in order, and how far each was read, until the limits stop it."""
    findings: list[list[Finding]] = []
    read = list(readable)
    for index, unit in enumerate(units):
        text = unit.text
        try:
            found = find_all(detector, text if readable[index] == len(text) else text[: readable[index]], limits)
        except ScanStopped as stopped:
            if stopped.reason == "cancelled":
                raise
            findings.append(stopped.findings)
            read[index] = stopped.scanned
            return findings, read
        if readable[index] < len(text):  # the last text within max_bytes: cut where no value is cut
            read[index] = safe_cut(text, readable[index], found)
            found = [f for f in found if f.end <= read[index]]
        findings.append(found)
    return findings, read


def scan_job(
    limits: Limits,
    body: Any,
    kind: str,
    entities: tuple[str, ...],
    placeholders: Placeholders | None,
    max_bytes: int,
    truncate: bool,
) -> tuple[Any, RequestScan, Placeholders | None]:
    """`scan_request` with the process's own detector, as a `ScanPool` job (on the event loop or in a
    worker): the body when it changed (None otherwise), what was found, the placeholders used."""
    try:
        scan = scan_request(body, kind, detector_for(entities), placeholders, limits, max_bytes, truncate)
    except ScanStopped:  # abandoned: nobody reads the answer
        return None, RequestScan(over_budget="cancelled"), placeholders
    return (body if scan.changed else None), scan, placeholders


def _within(units: list[TextUnit], max_bytes: int) -> list[int]:
    """How many characters of each text fit in `max_bytes`, in the body's order."""
    left = max_bytes
    budget = []
    for unit in units:
        text = unit.text
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        if size <= left:
            budget.append(len(text))
            left -= size
        else:
            prefix = text[:left] if text.isascii() else text.encode("utf-8", "surrogatepass")[:left].decode("utf-8", "ignore")
            budget.append(len(prefix))
            left = 0
    return budget


def _cut(unit: TextUnit, at: int) -> list[str]:
    """The unit's pieces with everything from `at` on replaced by one TRUNCATED."""
    pieces: list[str] = []
    start = 0
    for piece in unit.pieces:
        end = start + len(piece)
        if end <= at:
            pieces.append(piece)
        elif start <= at:
            pieces.append(piece[: at - start] + TRUNCATED)
        else:
            pieces.append("")
        start = end
    return pieces
