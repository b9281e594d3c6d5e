"""Every text of a canonical (OpenAI-format) request that the provider will read.

A walk over the whole body rather than a list of known fields: every string
is text unless its key says it is not (`NOT_TEXT`: model, roles, types, ids,
a tool's or function's name, a thinking block's signature), or it is a part
the gateway cannot read (`MEDIA`: images, audio, files; token arrays for
embeddings), which the walk lists instead. So message contents, tool
results and tool-call arguments are read, and so are an assistant's
`refusal`, `reasoning_content` and thinking blocks (an Anthropic request's
`thinking` blocks, canonical by now), `prediction.content`, `user`, a
message's `name`, `stop` sequences, tool descriptions and parameter
schemas, `response_format` schemas, `metadata`, and any field a provider
adds. Inside free-form objects (`metadata`, JSON schemas) keys are read
too: a property name is text the model reads.

Adjacent text parts of one message are one text for detection (a provider
reads them as one), so a value split across two parts is found; its
placeholder goes where it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Keys whose string values are names, enums, ids or opaque tokens, never text a model reads.
NOT_TEXT = frozenset({"model", "role", "type", "id", "tool_call_id", "signature", "data", "logit_bias"})
# Content parts the gateway cannot read, by type: the key holding their payload.
MEDIA = {"image_url": "image_url", "input_audio": "input_audio", "file": "file", "image": "source", "audio": "audio"}
# In a media part's payload, what is not text (a file's name is).
MEDIA_DATA = frozenset({"url", "data", "file_data", "file_id"})
# Objects whose keys are the caller's own (a property name in a schema reads as text).
FREE_FORM = frozenset({"metadata", "parameters", "schema", "input_schema", "json_schema"})


@dataclass(slots=True)
class Slot:
    """Where one string of the request lives: `holder[key]`, or the key itself (`is_key`)."""

    holder: Any
    key: Any
    is_key: bool = False

    def get(self) -> str:
        """The string now there."""
        return str(self.key) if self.is_key else self.holder[self.key]


@dataclass(slots=True)
class TextUnit:
    """One text as detection reads it: one string, or the adjacent text parts of a message, joined."""

    slots: list[Slot]
    pieces: list[str] = field(default_factory=list)
    # The content list holding the parts, when the unit is a run of text parts.
    parts: list[Any] | None = None

    @property
    def text(self) -> str:
        """The text detection reads."""
        return self.pieces[0] if len(self.pieces) == 1 else "".join(self.pieces)


@dataclass(slots=True)
class RequestTexts:
    """A request's texts, in the order of the body, and the parts that cannot be read."""

    units: list[TextUnit]
    media: list[str]

    def size(self) -> int:
        """The texts' size in UTF-8 bytes."""
        return sum(_utf8_size(piece) for unit in self.units for piece in unit.pieces)


_TEXT = frozenset({"text"})
# A unit's strings, as written back: None drops a key (and its value) from its object.
Pieces = Sequence[str | None]


def request_texts(body: Any, kind: str) -> RequestTexts:
    """The texts of a canonical chat or embeddings request."""
    found = RequestTexts([], [])
    if isinstance(body, dict):
        _walk_object(body, found, "")
        if kind == "embeddings":
            _note_token_arrays(body.get("input"), found)
    return found


def replace(units: list[TextUnit], new_pieces: list[Pieces | None]) -> bool:
    """Write each unit's new pieces (None: unchanged) back into the request; True when any changed.

    A text part emptied by a value that began in the part before it is removed. A key is renamed
    in place (its object keeps its order); a key whose new text is None is removed with its value.
    """
    changed = False
    renames: dict[int, tuple[dict[Any, Any], dict[Any, str | None]]] = {}
    emptied: dict[int, tuple[list[Any], set[int]]] = {}
    for unit, pieces in zip(units, new_pieces):
        if pieces is None:
            continue
        for index, (slot, old, new) in enumerate(zip(unit.slots, unit.pieces, pieces)):
            if new == old:
                continue
            changed = True
            if slot.is_key:
                renames.setdefault(id(slot.holder), (slot.holder, {}))[1][slot.key] = new
            elif new == "" and index > 0 and unit.parts is not None:
                emptied.setdefault(id(unit.parts), (unit.parts, set()))[1].add(id(slot.holder))
            else:
                slot.holder[slot.key] = new
    for holder, names in renames.values():
        items = list(holder.items())
        holder.clear()
        for key, value in items:
            new_key = names.get(key, key)
            if new_key is not None:
                holder[new_key] = value
    for parts, gone in emptied.values():
        parts[:] = [part for part in parts if id(part) not in gone]
    return changed


def _walk_object(holder: dict[Any, Any], found: RequestTexts, path: str, skip: frozenset[str] = frozenset()) -> None:
    is_message = "role" in holder
    for key, value in holder.items():
        if key in NOT_TEXT or key in skip or (key == "name" and not is_message):
            continue
        if isinstance(value, str):
            _add(found, [Slot(holder, key)])
        elif key in FREE_FORM and isinstance(value, (dict, list)):
            _walk_free(value, found)
        elif key == "content" and isinstance(value, list):
            _walk_parts(value, found, _join(path, key))
        elif isinstance(value, dict):
            _walk_object(value, found, _join(path, key))
        elif isinstance(value, list):
            _walk_list(value, found, _join(path, key))


def _walk_list(items: list[Any], found: RequestTexts, path: str) -> None:
    for index, item in enumerate(items):
        if isinstance(item, str):
            _add(found, [Slot(items, index)])
        elif isinstance(item, dict):
            _walk_object(item, found, f"{path}[{index}]")
        elif isinstance(item, list):
            _walk_list(item, found, f"{path}[{index}]")


def _walk_parts(parts: list[Any], found: RequestTexts, path: str) -> None:
    """A message's content parts: runs of text parts become one unit each; media parts are noted."""
    run: list[Slot] = []
    for index, part in enumerate(parts):
        where = f"{path}[{index}]"
        if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            run.append(Slot(part, "text"))
            _walk_object(part, found, where, skip=_TEXT)
            continue
        if run:
            _add(found, run, parts)
            run = []
        # A part's type is the client's: a list or an object there is no media type (and no dict key).
        media = MEDIA.get(kind) if isinstance(part, dict) and isinstance(kind := part.get("type"), str) else None
        if media is not None:
            found.media.append(f"{where} ({part['type']})")
            _walk_object(part, found, where, skip=frozenset({media}))
            if isinstance(part.get(media), dict):
                _walk_object(part[media], found, f"{where}.{media}", skip=MEDIA_DATA)
        elif isinstance(part, dict):
            _walk_object(part, found, where)
        elif isinstance(part, str):
            _add(found, [Slot(parts, index)])
    if run:
        _add(found, run, parts)


def _walk_free(value: Any, found: RequestTexts) -> None:
    """Every string and every key of a free-form object or list."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                _add(found, [Slot(value, key)])
            elif isinstance(item, (dict, list)):
                _walk_free(item, found)
        for key in list(value):  # after the values: a value is written back under its old key
            if isinstance(key, str):
                _add(found, [Slot(value, key, is_key=True)])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                _add(found, [Slot(value, index)])
            elif isinstance(item, (dict, list)):
                _walk_free(item, found)


def _note_token_arrays(value: Any, found: RequestTexts) -> None:
    """Embeddings input given as token ids: text the gateway cannot read."""
    items = value if isinstance(value, list) else []
    if items and all(isinstance(i, int) for i in items):
        found.media.append("input (token ids)")
        return
    for index, item in enumerate(items):
        if isinstance(item, list):
            found.media.append(f"input[{index}] (token ids)")


def _add(found: RequestTexts, slots: list[Slot], parts: list[Any] | None = None) -> None:
    pieces = [slot.get() for slot in slots]
    if any(pieces):
        found.units.append(TextUnit(slots, pieces, parts if len(slots) > 1 else None))


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
