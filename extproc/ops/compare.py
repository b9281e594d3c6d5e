"""`llm-gateway compare`: one request set sent to a LiteLLM proxy and to the gateway, side by side.

For each request: both statuses, how the answers' shapes differ (fields one
has and the other lacks, or of another type), usage, cost (LiteLLM's
`x-litellm-response-cost` against `x-gateway-cost-usd`, or the stream's
`x_gateway.cost_usd`), latency, and the response headers of note (which
model served, retries and fallbacks, cache, rate limits); which model each side routed to and
why (the gateway's `x-gateway-route-reason`, task and complexity); then a summary. With
`--router auto`, probes that exercise routing (code, a greeting, an analysis) go to the gateway's
virtual model while LiteLLM gets them with `--model`. Both sides are called over HTTP exactly as
a client would call them, one after the other.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

CHAT = "/v1/chat/completions"
# Response headers worth reading side by side: what served, retries, cache, rate limits...
NOTABLE_PREFIXES = ("x-gateway-", "x-litellm-", "x-ratelimit-", "retry-after")
# ...but not per-request ids, the cost (a column of its own) or versions.
NOT_NOTABLE = frozenset({
    "x-gateway-request-id", "x-gateway-cost-usd", "x-litellm-call-id", "x-litellm-response-cost",
    "x-litellm-version", "x-litellm-response-cost-original", "x-litellm-response-cost-discount-amount",
})  # fmt: skip
# A header value longer than this is cut in the report.
MAX_HEADER_VALUE = 48
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@dataclass(frozen=True)
class Probe:
    """One request of the set."""

    name: str
    body: dict[str, Any] | bytes
    path: str = CHAT
    # The model the gateway is asked for instead of the body's (a virtual model such as `auto`).
    gateway_model: str | None = None

    def body_for(self, gateway: bool) -> dict[str, Any] | bytes:
        """The body one side gets."""
        if gateway and self.gateway_model and isinstance(self.body, dict):
            return {**self.body, "model": self.gateway_model}
        return self.body

    @property
    def stream(self) -> bool:
        """True when the probe asks for a stream."""
        return isinstance(self.body, dict) and self.body.get("stream") is True


def default_probes(model: str, embeddings_model: str | None = None) -> list[Probe]:
    """A set covering what users notice: plain, multi-turn, stream, tools, JSON mode, and two bad requests."""
    user = [{"role": "user", "content": "Name three colours."}]
    probes = [
        Probe("chat", {"model": model, "messages": user, "max_tokens": 64}),
        Probe("system + multi-turn", {"model": model, "max_tokens": 64, "messages": [
            {"role": "system", "content": "Be brief."}, *user,
            {"role": "assistant", "content": "Red, green, blue."}, {"role": "user", "content": "Two more?"}]}),
        Probe("stream with usage", {"model": model, "messages": user, "max_tokens": 64, "stream": True,
                                    "stream_options": {"include_usage": True}}),
        Probe("tools", {"model": model, "messages": [{"role": "user", "content": "Weather in Paris?"}],
                        "tools": [WEATHER_TOOL], "max_tokens": 64}),
        Probe("json mode", {"model": model, "messages": user, "max_tokens": 64,
                            "response_format": {"type": "json_object"}}),
        Probe("unknown model", {"model": "no-such-model", "messages": user}),
        Probe("broken json", b'{"model": "' + model.encode() + b'", "messages": ['),
    ]  # fmt: skip
    if embeddings_model:
        probes.append(Probe("embeddings", {"model": embeddings_model, "input": ["one", "two"]}, "/v1/embeddings"))
    return probes


def routing_probes(model: str, router: str) -> list[Probe]:
    """Requests a routing policy tells apart, sent to the gateway's `router` (LiteLLM gets `model`)."""
    asks = {
        "routed: code": "Write a Python function that merges two sorted lists, with pytest tests.",
        "routed: greeting": "hi there, how are you?",
        "routed: analysis": ("Analyse the economic and social trade-offs of a four-day work week for a manufacturer, "
                             "compare evidence from pilots in three countries, and recommend a rollout plan."),
    }  # fmt: skip
    return [
        Probe(name, {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 64}, gateway_model=router)
        for name, text in asks.items()
    ]


@dataclass
class Side:
    """What one side answered."""

    status: int = 0
    body: Any = None
    latency_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    error: str | None = None
    # Response headers of note (NOTABLE_PREFIXES), by name.
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Row:
    """One probe, both sides."""

    probe: Probe
    litellm: Side
    gateway: Side
    shape_differences: list[str] = field(default_factory=list)


def call(client: httpx.Client, probe: Probe, headers: dict[str, str], cost_header: str, gateway: bool = False) -> Side:
    """Send one probe (as the gateway side gets it when `gateway`); read status, body (a stream's chunks
    are merged), usage and cost."""
    side = Side()
    body = probe.body_for(gateway)
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    started = time.perf_counter()
    try:
        with client.stream("POST", probe.path, content=content, headers={"content-type": "application/json", **headers}) as response:
            raw = response.read()
        side.latency_ms = (time.perf_counter() - started) * 1000
        side.status = response.status_code
        side.body = _merge_stream(raw) if probe.stream and response.status_code == 200 else _json(raw)
        cost = response.headers.get(cost_header)
        side.cost_usd = float(cost) if cost else None
        side.headers = notable_headers(response.headers)
    except httpx.HTTPError as exc:
        side.error = type(exc).__name__
        return side
    usage = side.body.get("usage") if isinstance(side.body, dict) else None
    if isinstance(usage, dict):
        side.prompt_tokens, side.completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
        # A stream has no cost header: LiteLLM puts `usage.cost` in its usage chunk, the gateway `x_gateway.cost_usd`.
        extension = usage.get("x_gateway") or (side.body.get("x_gateway") if isinstance(side.body, dict) else None)
        if side.cost_usd is None and isinstance(extension, dict) and extension.get("cost_usd") is not None:
            side.cost_usd = float(extension["cost_usd"])
        elif side.cost_usd is None and isinstance(usage.get("cost"), (int, float)):
            side.cost_usd = float(usage["cost"])
    return side


def run(
    litellm: httpx.Client, gateway: httpx.Client, probes: list[Probe], litellm_key: str, gateway_key: str | None
) -> list[Row]:
    """Send every probe to both sides (LiteLLM first) and compare."""
    rows = []
    gateway_headers = {"authorization": f"Bearer {gateway_key}"} if gateway_key else {}
    for probe in probes:
        left = call(litellm, probe, {"authorization": f"Bearer {litellm_key}"}, "x-litellm-response-cost")
        right = call(gateway, probe, gateway_headers, "x-gateway-cost-usd", gateway=True)
        rows.append(Row(probe, left, right, shape_differences(left.body, right.body)))
    return rows


def notable_headers(headers: httpx.Headers | dict[str, str]) -> dict[str, str]:
    """The response headers worth comparing, by lower-case name, sorted."""
    return {
        name.lower(): value
        for name, value in sorted(headers.items())
        if name.lower().startswith(NOTABLE_PREFIXES) and name.lower() not in NOT_NOTABLE
    }


def shape_differences(left: Any, right: Any, path: str = "") -> list[str]:
    """Fields present on one side only, or of another JSON type (values are not compared)."""
    if isinstance(left, dict) and isinstance(right, dict):
        out = []
        for key in sorted(left.keys() | right.keys()):
            where = f"{path}.{key}" if path else key
            if key not in right:
                out.append(f"-{where}")
            elif key not in left:
                out.append(f"+{where}")
            else:
                out += shape_differences(left[key], right[key], where)
        return out
    if isinstance(left, list) and isinstance(right, list):
        return shape_differences(left[0], right[0], f"{path}[0]") if left and right else []
    if _kind(left) != _kind(right) and left is not None and right is not None:
        return [f"~{path} ({_kind(left)} vs {_kind(right)})"]
    return []


def report(rows: list[Row]) -> str:
    """A markdown table per probe and a summary; `-` marks LiteLLM-only fields, `+` gateway-only."""
    lines = [
        "| request | status LiteLLM / gateway | tokens LiteLLM / gateway | cost USD LiteLLM / gateway "
        "| ms LiteLLM / gateway | shape differences |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lite, gate = row.litellm, row.gateway
        diff = ", ".join(row.shape_differences[:6]) + (" ..." if len(row.shape_differences) > 6 else "")
        lines.append(
            f"| {row.probe.name} | {_status(lite)} / {_status(gate)} | {_tokens(lite)} / {_tokens(gate)} "
            f"| {_usd(lite.cost_usd)} / {_usd(gate.cost_usd)} | {lite.latency_ms:.0f} / {gate.latency_ms:.0f} "
            f"| {diff or 'same'} |"
        )
    same_status = sum(1 for r in rows if r.litellm.status == r.gateway.status)
    same_class = sum(1 for r in rows if r.litellm.status // 100 == r.gateway.status // 100)
    ok = [r for r in rows if r.litellm.status == 200 and r.gateway.status == 200]
    costs = [r for r in ok if r.litellm.cost_usd is not None and r.gateway.cost_usd is not None]
    cost_gap = max((abs(r.litellm.cost_usd - r.gateway.cost_usd) for r in costs), default=0.0)  # type: ignore[operator]
    lite_ms = statistics.median([r.litellm.latency_ms for r in ok]) if ok else 0.0
    gate_ms = statistics.median([r.gateway.latency_ms for r in ok]) if ok else 0.0
    lines += ["", "| request | routed: LiteLLM | gateway (reason) |", "|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.probe.name} | {_answered_by(row.litellm)} | {_routing(row.gateway)} |")
    lines += ["", "| request | headers of note: LiteLLM | gateway |", "|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.probe.name} | {_headers(row.litellm)} | {_headers(row.gateway)} |")
    lines += [
        "",
        f"Summary: {len(rows)} requests; same status {same_status}, same status class {same_class}; "
        f"{sum(1 for r in ok if r.shape_differences)} of {len(ok)} answered pairs differ in shape; "
        f"costs compared on {len(costs)}, largest gap {cost_gap:.8f} USD; "
        f"median latency LiteLLM {lite_ms:.1f} ms, gateway {gate_ms:.1f} ms.",
    ]
    return "\n".join(lines)


def _merge_stream(raw: bytes) -> dict[str, Any]:
    """An OpenAI SSE stream as one object: the first chunk's fields, the content joined, the usage chunk's usage."""
    merged: dict[str, Any] = {}
    content = []
    for line in raw.split(b"\n"):
        if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
            continue
        chunk = _json(line[5:].strip())
        if not isinstance(chunk, dict):
            continue
        for key, value in chunk.items():
            merged.setdefault(key, value)
        for choice in chunk.get("choices") or []:
            content.append(((choice.get("delta") or {}).get("content")) or "")
        if chunk.get("usage"):
            merged["usage"] = chunk["usage"]
    merged["content"] = "".join(content)
    return merged


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")[:200]


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null"
    )


def _headers(side: Side) -> str:
    def cut(value: str) -> str:
        return value if len(value) <= MAX_HEADER_VALUE else value[: MAX_HEADER_VALUE - 3] + "..."

    return "<br>".join(f"{name}: {cut(value)}" for name, value in side.headers.items()) or "–"


def _answered_by(side: Side) -> str:
    """The model an answer says it came from."""
    model = side.body.get("model") if isinstance(side.body, dict) else None
    return str(model) if model else "–"


def _routing(side: Side) -> str:
    """The gateway's routing: the model that served, and why a policy chose it (with the classifier's labels)."""
    served = side.headers.get("x-gateway-served-model") or _answered_by(side)
    reason = side.headers.get("x-gateway-route-reason")
    if not reason:
        return served
    labels = [side.headers[h] for h in ("x-gateway-task", "x-gateway-complexity") if side.headers.get(h)]
    return f"{served} ({reason}{': ' + ', '.join(labels) if labels else ''})"


def _status(side: Side) -> str:
    return side.error or str(side.status)


def _tokens(side: Side) -> str:
    return f"{side.prompt_tokens}+{side.completion_tokens}" if side.prompt_tokens is not None else "–"


def _usd(value: float | None) -> str:
    return f"{value:.8f}".rstrip("0").rstrip(".") if value is not None else "–"
