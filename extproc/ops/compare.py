"""`llm-gateway compare`: one request set sent to a LiteLLM proxy and to the gateway, side by side.

Before anything, each side is asked for its models with its key: an
unreachable side or a refused key is said up front, and nothing is compared.
Then, for each request: both statuses, how the answers' shapes differ (fields
one has and the other lacks, or of another type), usage, cost (LiteLLM's
`x-litellm-response-cost` against `x-gateway-cost-usd`, or the stream's
`x_gateway.cost_usd`), latency, the response headers of note (which model
served, retries and fallbacks, cache, rate limits), and what each side did
with a prompt holding an e-mail address and with a repeated request (policy
differences: masking, caching). A pair is "same" only when both sides answered
alike; a side that failed makes the command exit non-zero. Both sides are
called over HTTP exactly as a client would call them, one after the other.
With `--router auto`, probes that exercise routing (code, a greeting, an
analysis) go to the gateway's virtual model while LiteLLM gets them with
`--model`; which model each side routed to, and why (the gateway's
`x-gateway-route-reason`, task and complexity), is printed too.
"""

from __future__ import annotations

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
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
# The personal data the PII request carries, and the shape of a placeholder that replaced it.
PII_VALUE = "jane.doe@example.com"
PLACEHOLDER_PREFIX = "<EMAIL_ADDRESS"


@dataclass(frozen=True)
class Probe:
    """One request of the set."""

    name: str
    body: dict[str, Any] | bytes
    path: str = CHAT
    # What the row looks at besides status and shape: "pii" (was the value masked?) or "cache" (was it a hit?).
    watch: str = ""
    # The model the gateway is asked for instead of the body's (a virtual model such as `auto`).
    gateway_model: str | None = None

    def body_for(self, gateway: bool) -> dict[str, Any] | bytes:
        """The body one side gets."""
        if gateway and self.gateway_model and isinstance(self.body, dict):
            return {**self.body, "model": self.gateway_model}
        return self.body

    @property
    def stream(self) -> bool:
        """True for a streamed request."""
        return isinstance(self.body, dict) and self.body.get("stream") is True


def default_probes(model: str, embeddings_model: str | None = None) -> list[Probe]:
    """A set covering what users notice: plain, multi-turn, stream, tools, JSON mode, personal data, a repeat
    (the second of two identical requests, which a cache would answer), and two bad requests."""
    user = [{"role": "user", "content": "Name three colours."}]
    chat = {"model": model, "messages": user, "max_tokens": 64, "temperature": 0}
    probes = [
        Probe("chat", chat),
        Probe("system + multi-turn", {"model": model, "max_tokens": 64, "messages": [
            {"role": "system", "content": "Be brief."}, *user,
            {"role": "assistant", "content": "Red, green, blue."}, {"role": "user", "content": "Two more?"}]}),
        Probe("stream with usage", {"model": model, "messages": user, "max_tokens": 64, "stream": True,
                                    "stream_options": {"include_usage": True}}),
        Probe("tools", {"model": model, "messages": [{"role": "user", "content": "Weather in Paris?"}],
                        "tools": [WEATHER_TOOL], "max_tokens": 64}),
        Probe("json mode", {"model": model, "messages": user, "max_tokens": 64,
                            "response_format": {"type": "json_object"}}),
        Probe("personal data", {"model": model, "max_tokens": 64, "messages": [
            {"role": "user", "content": f"Repeat this address back exactly: {PII_VALUE}"}]}, watch="pii"),
        Probe("repeat (cache)", chat, watch="cache"),
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
    # The transport failure (no answer at all), if any.
    error: str | None = None
    # Response headers of note (NOTABLE_PREFIXES), by name.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True when this side gave no answer, or a server error (5xx)."""
        return self.error is not None or self.status >= 500

    def text(self) -> str:
        """The answer's text (a stream's content joined), for the policy checks."""
        body = self.body
        if isinstance(body, dict):
            if isinstance(body.get("content"), str):
                return str(body["content"])
            choices = body.get("choices") or [{}]
            message = choices[0].get("message") if isinstance(choices[0], dict) else None
            return str((message or {}).get("content") or "")
        return ""


@dataclass
class Row:
    """One probe, both sides, and what differs."""

    probe: Probe
    litellm: Side
    gateway: Side
    shape_differences: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when either side failed: such a row is never "same"."""
        return self.litellm.failed or self.gateway.failed

    def differences(self) -> list[str]:
        """Everything that differs, in words; empty when the two answered alike."""
        out = []
        for name, side in (("LiteLLM", self.litellm), ("gateway", self.gateway)):
            if side.error is not None:
                out.append(f"{name} gave no answer ({side.error})")
            elif side.status >= 500:
                out.append(f"{name} failed ({side.status})")
        if self.litellm.status != self.gateway.status and not self.failed:
            out.append(f"status {self.litellm.status} vs {self.gateway.status}")
        if self.probe.watch == "pii" and pii_view(self.litellm) != pii_view(self.gateway):
            out.append(f"policy: the provider got the address {pii_view(self.litellm)} from LiteLLM, "
                       f"{pii_view(self.gateway)} from the gateway")  # fmt: skip
        if self.probe.watch == "cache" and cache_view(self.litellm) != cache_view(self.gateway):
            out.append(f"cache: LiteLLM {cache_view(self.litellm)}, gateway {cache_view(self.gateway)}")
        return out + self.shape_differences


def pii_view(side: Side) -> str:
    """What the answer to the PII request says the provider got: the address `as is`, `masked`, or `unclear`."""
    text = side.text()
    return "as is" if PII_VALUE in text else "masked" if PLACEHOLDER_PREFIX in text else "unclear"


def cache_view(side: Side) -> str:
    """`hit` when a side says its cache answered (the gateway's x-gateway-cache, LiteLLM's cache key header)."""
    if side.headers.get("x-gateway-cache") == "hit" or "x-litellm-cache-key" in side.headers:
        return "hit"
    return "miss"


def preflight(client: httpx.Client, key: str | None, name: str) -> str | None:
    """Why `name` cannot be compared (unreachable, or its key refused), or None when it answers."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        response = client.get("/v1/models", headers=headers)
    except httpx.HTTPError as exc:
        return f"{name} at {client.base_url} is unreachable ({type(exc).__name__}: {exc or 'no answer'})"
    if response.status_code in (401, 403):
        why = "no key was given" if not key else "its key was refused"
        return f"{name} at {client.base_url} answers {response.status_code}: {why} ({_message(response)})"
    return None


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


def _message(response: httpx.Response) -> str:
    body = _json(response.content)
    error = body.get("error") if isinstance(body, dict) else None
    message = (error.get("message") if isinstance(error, dict) else error) or body
    return str(message)[:200]


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null"
    )
