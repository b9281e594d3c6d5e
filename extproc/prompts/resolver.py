"""From a request's `prompt` field to the messages and defaults the request is served with.

    "prompt": {"name": "support-reply", "label": "staging" | "version": 3, "variables": {...}}

- **Which prompt.** The caller's tenant namespace first, then the global one:
  a tenant's prompt shadows a global prompt of the same name entirely (its
  versions and labels; the global one is not consulted even when the label or
  version asked for exists only there). Another tenant's prompts are never
  visible.
- **Which version.** `version` N, or `label` (default `production`; `latest`
  is the highest version). Not both.
- **Messages.** The prompt's rendered messages come first, then the request's
  own `messages`, if any: without messages the prompt is the whole
  conversation ("instead of"); with them it is a preamble, such as a system
  message and examples ("before").
- **Defaults.** The prompt's model, parameters and response format apply only
  where the request sets none: the request always wins.

Lookups are cached per process: versions for good (they never change), a
prompt's head (latest version and labels) for `head_ttl_seconds` (1 s by
default). So a label moved on any replica is used by every replica within
that bound; a push or label move through this process's API is seen at once.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from extproc.errors import GatewayError, StoreUnavailable
from extproc.prompts.model import DEFAULT_LABEL, GLOBAL, LATEST, PromptHead, PromptVersion, namespace_label
from extproc.prompts.store import PromptStore
from extproc.prompts.template import CompiledPrompt, RenderError, RenderTooLarge, compile_prompt, render_messages

# The largest rendered prompt, when the caller does not give its own budget (the body limit is 4 MiB).
DEFAULT_MAX_RENDERED_BYTES = 1 << 20
DEFAULT_HEAD_TTL_S = 1.0
_CACHED_VERSIONS = 1024
log = logging.getLogger(__name__)
_REFERENCE_FIELDS = frozenset({"name", "version", "label", "variables"})


@dataclass(frozen=True, slots=True)
class PromptReference:
    """What a request's `prompt` field asks for."""

    name: str
    version: int | None = None
    label: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """A prompt expanded for one request: its messages, its defaults, and which version it was."""

    name: str
    version: int
    # None: the global namespace; else the tenant whose prompt it is.
    tenant: str | None
    # The label the request named (None when it named a version).
    label: str | None
    messages: list[dict[str, Any]]
    model: str | None
    params: Mapping[str, Any]
    response_format: Mapping[str, Any] | None

    def apply(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The request body with the prompt expanded: `prompt` removed, messages first, defaults where unset."""
        expanded = {key: value for key, value in body.items() if key != "prompt"}
        own = body.get("messages")
        expanded["messages"] = [*self.messages, *(own if isinstance(own, list) else [])]
        if self.model and not expanded.get("model"):
            expanded["model"] = self.model
        for key, value in self.params.items():
            expanded.setdefault(key, value)
        if self.response_format is not None:
            expanded.setdefault("response_format", dict(self.response_format))
        return expanded


def parse_reference(value: Any) -> PromptReference:
    """A PromptReference from a request's `prompt` value; GatewayError 400 `prompt_reference_invalid` naming the fix."""
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise _invalid("`prompt` must be an object: {\"name\": ..., \"version\" or \"label\": ..., \"variables\": {...}}")
    unknown = sorted(set(value) - _REFERENCE_FIELDS)
    if unknown:
        raise _invalid(f"`prompt` has unknown field(s) {', '.join(unknown)}; it takes name, version or label, variables")
    name, version, label = value.get("name"), value.get("version"), value.get("label")
    if not isinstance(name, str) or not name:
        raise _invalid("`prompt.name` must be the prompt's name (a string)")
    if version is not None and label is not None:
        raise _invalid("`prompt` takes a `version` or a `label`, not both")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise _invalid("`prompt.version` must be a version number (1, 2, ...)")
    if label is not None and (not isinstance(label, str) or not label):
        raise _invalid("`prompt.label` must be a label such as \"production\" or \"staging\"")
    variables = value.get("variables", {})
    if not isinstance(variables, dict):
        raise GatewayError(400, "`prompt.variables` must be an object of name: value.", code="prompt_variables_invalid",
                           param="prompt.variables")  # fmt: skip
    return PromptReference(name, version, label if version is None else None, variables)


class PromptResolver:
    """Finds prompt versions for a tenant and renders them, caching what it may (see the module docstring)."""

    def __init__(
        self,
        store: PromptStore,
        head_ttl_seconds: float = DEFAULT_HEAD_TTL_S,
        max_rendered_bytes: int = DEFAULT_MAX_RENDERED_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._ttl = head_ttl_seconds
        self._max_bytes = max_rendered_bytes
        self._clock = clock
        self._heads: dict[tuple[str, str], tuple[float, PromptHead | None]] = {}
        self._versions: OrderedDict[tuple[str, str, int], tuple[PromptVersion, CompiledPrompt]] = OrderedDict()

    async def resolve(self, tenant: str, reference: Any, max_bytes: int | None = None) -> RenderedPrompt:
        """The prompt a request's `prompt` field names, rendered for `tenant`; GatewayError 400/404/503.

        `max_bytes` bounds the rendered messages (e.g. what the body limit leaves after the request's own body).
        """
        ref = reference if isinstance(reference, PromptReference) else parse_reference(reference)
        label = ref.label if ref.version is None else None
        version, compiled = await self.find(tenant, ref.name, version=ref.version, label=label or DEFAULT_LABEL)
        limit = self._max_bytes if max_bytes is None else min(max_bytes, self._max_bytes)
        try:
            messages = render_messages(compiled, ref.variables, limit)
        except RenderTooLarge as exc:
            raise GatewayError(400, f"Prompt {ref.name!r} version {version.number}: {exc} (the request's size limit).",
                               code="prompt_too_large", param="prompt.variables") from None  # fmt: skip
        except RenderError as exc:
            raise GatewayError(400, f"Prompt {ref.name!r} version {version.number}: {exc}.",
                               code="prompt_variables_invalid", param="prompt.variables") from None  # fmt: skip
        template = version.template
        return RenderedPrompt(
            name=ref.name, version=version.number, tenant=namespace_label(version.namespace),
            label=None if ref.version is not None else (label or DEFAULT_LABEL), messages=messages,
            model=template.model, params=template.params, response_format=template.response_format,
        )  # fmt: skip

    async def find(
        self, tenant: str | None, name: str, *, version: int | None = None, label: str = DEFAULT_LABEL
    ) -> tuple[PromptVersion, CompiledPrompt]:
        """A version visible to `tenant` (None: the global namespace only); GatewayError 404 naming what is missing."""
        head = await self.visible_head(tenant, name)
        if head is None:
            where = "" if tenant is None else f" for tenant {tenant!r} or globally"
            raise GatewayError(404, f"No prompt named {name!r}{where}. List them with GET /v1/gateway/prompts.",
                               code="prompt_not_found", param="prompt.name")  # fmt: skip
        return await self.pick(head, version=version, label=label)

    async def pick(
        self, head: PromptHead, *, version: int | None = None, label: str = DEFAULT_LABEL
    ) -> tuple[PromptVersion, CompiledPrompt]:
        """Version `version` of the prompt `head` describes, else the one `label` points at; GatewayError 404."""
        name = head.name
        number = version if version is not None else head.version_for(label)
        if number is None:
            labels = ", ".join(sorted([*head.labels, LATEST]))
            raise GatewayError(404, f"Prompt {name!r} has no label {label!r} (its labels: {labels}). Point one at a "
                               f"version: llm-gateway prompts label {name} VERSION {label}.",
                               code="prompt_label_not_found", param="prompt.label")  # fmt: skip
        found = await self.version(head.namespace, name, number) if number <= head.latest else None
        if found is None:
            raise GatewayError(404, f"Prompt {name!r} has no version {number} (its versions: 1 to {head.latest}).",
                               code="prompt_version_not_found", param="prompt.version")  # fmt: skip
        return found

    async def visible_head(self, tenant: str | None, name: str, fresh: bool = False) -> PromptHead | None:
        """The head `tenant` sees for `name`: its own prompt if it has one, else the global one."""
        if tenant is not None:
            own = await self.head(tenant, name, fresh)
            if own is not None:
                return own
        return await self.head(GLOBAL, name, fresh)

    async def head(self, namespace: str, name: str, fresh: bool = False) -> PromptHead | None:
        """A prompt's head in one namespace, cached for the head TTL unless `fresh`; GatewayError 503 when the store fails."""
        key = (namespace, name)
        now = self._clock()
        cached = self._heads.get(key)
        if cached is not None and cached[0] > now and not fresh:
            return cached[1]
        head = await answer_or_503(self.store.head(namespace, name))
        if len(self._heads) > 10 * _CACHED_VERSIONS:
            self._heads.clear()  # many names asked for: start over rather than grow
        self._heads[key] = (now + self._ttl, head)
        return head

    async def version(self, namespace: str, name: str, number: int) -> tuple[PromptVersion, CompiledPrompt] | None:
        """A version with its compiled templates, cached for good (versions never change)."""
        key = (namespace, name, number)
        cached = self._versions.get(key)
        if cached is not None:
            self._versions.move_to_end(key)
            return cached
        found = await answer_or_503(self.store.version(namespace, name, number))
        if found is None:
            return None
        entry = (found, compile_prompt(found.template))
        self._versions[key] = entry
        if len(self._versions) > _CACHED_VERSIONS:
            self._versions.popitem(last=False)
        return entry

    def forget(self, namespace: str, name: str) -> None:
        """Drop a cached head after this process changed it (a push or a label move)."""
        self._heads.pop((namespace, name), None)


async def answer_or_503(call: Any) -> Any:
    """Await a store call; its StoreUnavailable becomes GatewayError 503 `prompts_unavailable` (and a log line)."""
    try:
        return await call
    except StoreUnavailable as exc:
        log.error("prompt store unavailable: %s", exc)
        raise GatewayError(503, "The gateway cannot read prompts right now (its prompt store does not answer); "
                           "retry shortly.", code="prompts_unavailable") from None  # fmt: skip


def _invalid(message: str) -> GatewayError:
    return GatewayError(400, message, code="prompt_reference_invalid", param="prompt")
