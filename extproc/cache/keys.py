"""The exact cache's key: who asks, on which route, for exactly what output."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

# Request fields that do not change what the model writes (how it is delivered, who is billed).
OUTPUT_NEUTRAL = frozenset({"model", "stream", "stream_options", "user", "metadata", "store", "service_tier"})


def exact_key(tenant: str, route: str, body: dict[str, Any]) -> str:
    """A digest of the tenant, the route (aliases share it) and every output-changing field of the
    canonical request, with messages normalised (text parts joined, trailing space dropped)."""
    fields = {k: v for k, v in body.items() if k not in OUTPUT_NEUTRAL}
    fields["messages"] = [normalised_message(m) for m in body.get("messages") or ()]
    material = orjson.dumps({"v": 1, "tenant": tenant, "route": route, "request": fields}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(material).hexdigest()


def normalised_message(message: Any) -> Any:
    """A message with text parts joined into one string and trailing space dropped."""
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        content = "".join(str(p.get("text", "")) for p in content)
    if isinstance(content, str):
        content = content.rstrip()
    return {**message, "content": content}
