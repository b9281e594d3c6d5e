"""`POST /v1/messages`: Anthropic's Messages API, served by any provider.

The request is validated against Anthropic's schema and converted to the
canonical (OpenAI) chat request; from there it is routed and translated for
the serving provider like any chat request, and the answer comes back in
Anthropic's shape (`client_formats.ANTHROPIC`).
"""

from __future__ import annotations

from typing import Any

from extproc.endpoints.base import ParsedRequest
from extproc.endpoints.chat_completions import ChatCompletions
from extproc.formats import ANTHROPIC
from extproc.formats.validation import check_depth
from extproc.translation import anthropic_messages


class Messages:
    """The Anthropic messages endpoint."""

    method = "POST"
    path = "/v1/messages"
    kind = "chat"
    upstream_path = "/v1/chat/completions"
    client_format = ANTHROPIC

    def __init__(self) -> None:
        self._chat = ChatCompletions()

    def to_canonical(self, body: Any) -> Any:
        """Anthropic request to OpenAI chat request (400 in Anthropic's words when invalid)."""
        if isinstance(body, dict):
            check_depth(body)
        return anthropic_messages.to_openai(body)

    def parse(self, body: Any) -> ParsedRequest:
        """Read the converted request like any chat request."""
        parsed = self._chat.parse(body)
        # Anthropic streams always report usage; the client writer adds it.
        parsed.stream_usage = True
        return parsed

    def prepare_upstream(self, body: dict[str, Any], parsed: ParsedRequest) -> bool:
        """Nothing to add: `to_openai` already asks streams for their usage."""
        return False
