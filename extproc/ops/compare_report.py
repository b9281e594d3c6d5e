"""What `llm-gateway compare` prints: a table for a terminal, or JSON for a program."""

from __future__ import annotations

import statistics
import textwrap
from typing import Any

from extproc.ops.compare import Row, Side, cache_view, pii_view

# A header value longer than this is cut in the table (JSON keeps it whole).
MAX_HEADER_VALUE = 60
# Columns of the table; the last one (what differs) wraps within NOTES_WIDTH.
COLUMNS = (("request", 20), ("status L / G", 13), ("tokens L / G", 15), ("USD L / G", 23), ("ms L / G", 13))
NOTES_WIDTH = 60


def table(rows: list[Row]) -> str:
    """The comparison as plain text: one line per request (more when what differs wraps), then the
    headers of note, then a summary. L is LiteLLM, G the gateway; `-field` is LiteLLM's only, `+field` the gateway's."""
    header = "  ".join(name.ljust(width) for name, width in COLUMNS) + "  what differs"
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = [
            row.probe.name, f"{_status(row.litellm)} / {_status(row.gateway)}",
            f"{_tokens(row.litellm)} / {_tokens(row.gateway)}", f"{_usd(row.litellm.cost_usd)} / {_usd(row.gateway.cost_usd)}",
            f"{row.litellm.latency_ms:.0f} / {row.gateway.latency_ms:.0f}",
        ]  # fmt: skip
        notes = textwrap.wrap("; ".join(row.differences()) or "same", NOTES_WIDTH) or ["same"]
        lead = "  ".join(cell.ljust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True))
        lines.append(f"{lead}  {notes[0]}")
        lines += [" " * (len(lead) + 2) + more for more in notes[1:]]
    lines += ["", "Routed to (L: the model that answered; G: the model that served, and why a policy chose it):"]
    lines += [f"  {row.probe.name}: L {answered_by(row.litellm)}, G {routing(row.gateway)}" for row in rows]
    lines += ["", "Headers of note (L: LiteLLM, G: gateway):"]
    for row in rows:
        lines.append(f"  {row.probe.name}")
        for mark, side in (("L", row.litellm), ("G", row.gateway)):
            shown = ", ".join(f"{name}: {_cut(value)}" for name, value in side.headers.items()) or "none"
            lines += textwrap.wrap(shown, 110, initial_indent=f"    {mark}  ", subsequent_indent="       ")
    return "\n".join([*lines, "", summary(rows)])


def summary(rows: list[Row]) -> str:
    """One paragraph: failures first, then agreement, costs and latency over the pairs both answered."""
    failed = [r for r in rows if r.failed]
    answered = [r for r in rows if r.litellm.status == 200 and r.gateway.status == 200]
    same = [r for r in rows if not r.failed and not r.differences()]
    costs = [r for r in answered if r.litellm.cost_usd is not None and r.gateway.cost_usd is not None]
    gap = max((abs((r.litellm.cost_usd or 0) - (r.gateway.cost_usd or 0)) for r in costs), default=0.0)
    parts = []
    if failed:
        parts.append(f"{len(failed)} of {len(rows)} requests FAILED on a side ({', '.join(r.probe.name for r in failed)}): "
                     "this comparison is not a fair one")  # fmt: skip
    parts.append(f"{len(same)} of {len(rows)} requests answered alike")
    parts.append(f"{sum(1 for r in answered if r.shape_differences)} of {len(answered)} answered pairs differ in shape")
    policy = [r.probe.name for r in rows if any(d.startswith(("policy:", "cache:")) for d in r.differences())]
    if policy:
        parts.append(f"policies differ on {', '.join(policy)}")
    parts.append(f"costs compared on {len(costs)}, largest gap {gap:.8f} USD" if costs else "no costs to compare")
    if answered:
        parts.append(f"median latency LiteLLM {statistics.median(r.litellm.latency_ms for r in answered):.1f} ms, "
                     f"gateway {statistics.median(r.gateway.latency_ms for r in answered):.1f} ms")  # fmt: skip
    else:
        parts.append("no latency to compare (no request was answered by both)")
    return "Summary: " + "; ".join(parts) + "."


def as_json(rows: list[Row]) -> dict[str, Any]:
    """Every row, both sides whole (headers uncut), what differs, and the summary."""
    return {
        "rows": [
            {"request": row.probe.name, "path": row.probe.path, "same": not row.failed and not row.differences(),
             "failed": row.failed, "differences": row.differences(),
             "litellm": _side(row.litellm, row), "gateway": _side(row.gateway, row)}
            for row in rows
        ],  # fmt: skip
        "failed": sum(1 for row in rows if row.failed),
        "summary": summary(rows),
    }


def _side(side: Side, row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": side.status or None, "error": side.error, "latency_ms": round(side.latency_ms, 1),
        "prompt_tokens": side.prompt_tokens, "completion_tokens": side.completion_tokens, "cost_usd": side.cost_usd,
        "headers": side.headers,
    }  # fmt: skip
    if row.probe.watch == "pii":
        out["personal_data"] = pii_view(side)
    if row.probe.watch == "cache":
        out["cache"] = cache_view(side)
    return out


def answered_by(side: Side) -> str:
    """The model an answer says it came from."""
    model = side.body.get("model") if isinstance(side.body, dict) else None
    return str(model) if model else "–"


def routing(side: Side) -> str:
    """The gateway's routing: the model that served, and why a policy chose it (with the classifier's labels)."""
    served = side.headers.get("x-gateway-served-model") or answered_by(side)
    reason = side.headers.get("x-gateway-route-reason")
    if not reason:
        return served
    labels = [side.headers[h] for h in ("x-gateway-task", "x-gateway-complexity") if side.headers.get(h)]
    return f"{served} ({reason}{': ' + ', '.join(labels) if labels else ''})"


def _cut(value: str) -> str:
    return value if len(value) <= MAX_HEADER_VALUE else value[: MAX_HEADER_VALUE - 3] + "..."


def _status(side: Side) -> str:
    return "err" if side.error else str(side.status)  # what the error was is in "what differs"


def _tokens(side: Side) -> str:
    return f"{side.prompt_tokens}+{side.completion_tokens}" if side.prompt_tokens is not None else "–"


def _usd(value: float | None) -> str:
    return f"{value:.8f}".rstrip("0").rstrip(".") if value is not None else "–"
