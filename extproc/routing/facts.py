"""What a routing rule may look at in a request, read once from the canonical (OpenAI) body.

Everything here is O(1) per message: lengths of strings, not their contents, so a 4 MiB body
costs what a short one does. The prompt's tokens are estimated as characters / 4 (the usual
rule of thumb for English; a rule's bound is a coarse size, not a price).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from extproc.routing.policy import When

# Characters per token of the estimate.
CHARS_PER_TOKEN = 4
# Content part types that carry an image, in the canonical format and in the Responses API's.
_IMAGE_PARTS = ("image_url", "input_image", "image")
_JSON_FORMATS = ("json_object", "json_schema")


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """The request as routing rules see it."""

    prompt_tokens: int = 0
    tools: bool = False
    images: bool = False
    json: bool = False
    # The task the client named (`task_type`), if it named one.
    task: str | None = None
    tenant: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # The body's `user` field, if a string.
    user: str | None = None
    # The API key's id, when keys are required: the caller when the body names no user.
    key_id: str | None = None


def read_facts(
    body: Mapping[str, Any], task: str | None, tenant: str, headers: Mapping[str, str], key_id: str | None
) -> RequestFacts:
    """The facts of one canonical chat body."""
    messages = body.get("messages")
    chars, images = 0, False
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") in _IMAGE_PARTS:
                    images = True
                text = part.get("text")
                chars += len(text) if isinstance(text, str) else 0
    response_format = body.get("response_format")
    metadata = body.get("metadata")
    user = body.get("user")
    return RequestFacts(
        prompt_tokens=chars // CHARS_PER_TOKEN,
        tools=bool(body.get("tools") or body.get("functions")),
        images=images,
        json=isinstance(response_format, dict) and response_format.get("type") in _JSON_FORMATS,
        task=task,
        tenant=tenant,
        headers=headers,
        metadata=metadata if isinstance(metadata, dict) else {},
        user=user if isinstance(user, str) and user else None,
        key_id=key_id,
    )


def holds(when: When, facts: RequestFacts) -> bool:
    """True when every condition `when` sets holds for the request."""
    if when.min_prompt_tokens is not None and facts.prompt_tokens < when.min_prompt_tokens:
        return False
    if when.max_prompt_tokens is not None and facts.prompt_tokens > when.max_prompt_tokens:
        return False
    for wanted, actual in ((when.tools, facts.tools), (when.images, facts.images), (when.json, facts.json)):
        if wanted is not None and wanted != actual:
            return False
    if when.tasks is not None and facts.task not in when.tasks:
        return False
    if when.tenants is not None and facts.tenant not in when.tenants:
        return False
    if when.header is not None and not _matches(facts.headers.get(when.header[0]), when.header[1]):
        return False
    if when.metadata is not None:
        value = facts.metadata.get(when.metadata[0])
        if not _matches(value if isinstance(value, str) else None, when.metadata[1]):
            return False
    return True


def _matches(value: str | None, accepted: frozenset[str] | None) -> bool:
    return value is not None and (accepted is None or value in accepted)
