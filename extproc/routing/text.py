"""The text the classifier reads from an OpenAI-format `messages` list, bounded in size.

The label is about the last user turn, so that turn is read in full up to a head and a tail
(an instruction sits before or after a pasted document, rarely in its middle); the system prompt
and the few turns before it are read as short context. A long turn is also split into its
instruction (its first and last short paragraphs, or the words before a colon that introduces
the paste) and the pasted material, so that a 2,000-word article does not drown the ten words
that say what to do with it. Everything here costs time proportional to the bounded text, not
to the request, except the lengths, which are O(1) per message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# The last user turn: its first HEAD_CHARS and last TAIL_CHARS characters.
HEAD_CHARS = 1200
TAIL_CHARS = 800
# Each context message (system prompt, earlier turns): its first CONTEXT_CHARS characters.
CONTEXT_CHARS = 300
# Earlier turns read as context, counted back from the last user turn.
CONTEXT_TURNS = 3
# Messages looked at, counted back from the end (a long agent history is not walked).
MAX_MESSAGES = 64
# A last turn up to this long is all instruction; a longer one is split (instruction_parts).
SHORT_TURN_CHARS = 400
# A first or last paragraph up to this long is read as instruction; of a longer one, only its
# words up to a colon in its first COLON_WITHIN characters, or else its outer EDGE_CHARS.
INSTRUCTION_PARAGRAPH_CHARS = 300
COLON_WITHIN = 200
EDGE_CHARS = 120
_PARAGRAPH = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True, slots=True)
class RequestText:
    """What the classifier reads of one request."""

    last: str
    # The last turn's instruction: all of a short turn (head), or the head and tail of a long one.
    head: str
    tail: str
    material: str
    context: str
    last_chars: int
    total_chars: int
    user_turns: int
    has_system: bool

    @property
    def instruction(self) -> str:
        """The instruction's head and tail as one text."""
        return f"{self.head}\n{self.tail}" if self.tail else self.head


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
        return "\n".join(text for text in texts if isinstance(text, str))
    return ""


def bounded(text: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """`text`, or its head and tail when it is longer than both."""
    if len(text) <= head + tail:
        return text
    return f"{text[:head]}\n…\n{text[-tail:]}"


def request_text(messages: Sequence[Any]) -> RequestText:
    """The bounded last user turn, its context, and a few counts, from a `messages` list."""
    recent = list(messages[-MAX_MESSAGES:])
    texts = [(_role(message), content_text(_content(message))) for message in recent]
    last_user = max((i for i, (role, _) in enumerate(texts) if role == "user"), default=None)
    if last_user is None:
        # No user turn (a malformed or tool-only request): read the last message.
        last_user = len(texts) - 1
    last = texts[last_user][1] if texts else ""
    system = [text[:CONTEXT_CHARS] for role, text in texts if role in ("system", "developer")]
    earlier = [text[:CONTEXT_CHARS] for role, text in texts[max(0, last_user - CONTEXT_TURNS):last_user]
               if role in ("user", "assistant")]
    bounded_last = bounded(last)
    head, tail, material = instruction_parts(bounded_last)
    return RequestText(
        last=bounded_last,
        head=head,
        tail=tail,
        material=material,
        context="\n".join(system + earlier),
        last_chars=len(last),
        total_chars=sum(len(text) for _, text in texts),
        user_turns=sum(role == "user" for role, _ in texts),
        has_system=bool(system),
    )


def instruction_parts(text: str) -> tuple[str, str, str]:
    """(instruction head, instruction tail, pasted material) of a last user turn: all head when it is short."""
    if len(text) <= SHORT_TURN_CHARS:
        return text, "", ""
    text = text.strip()
    paragraphs = _PARAGRAPH.split(text)
    first, last = paragraphs[0], paragraphs[-1]
    head = first if len(first) <= INSTRUCTION_PARAGRAPH_CHARS and len(paragraphs) > 1 else _head(first)
    tail = last if len(last) <= INSTRUCTION_PARAGRAPH_CHARS and len(paragraphs) > 1 else last[-EDGE_CHARS:]
    return head, tail, text[len(head):len(text) - len(tail)].strip()


def _head(paragraph: str) -> str:
    """The instruction at the start of a long paragraph: up to a colon near its start, else its first words."""
    colon = paragraph.find(":", 0, COLON_WITHIN)
    return paragraph[:colon + 1] if colon > 0 else paragraph[:EDGE_CHARS]


def _role(message: Any) -> str:
    return message.get("role", "") if isinstance(message, dict) else ""


def _content(message: Any) -> Any:
    return message.get("content") if isinstance(message, dict) else None
