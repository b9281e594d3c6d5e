"""The gateway's prompt API as plain functions: (method, path, query, identity, body) -> (status, JSON).

    GET  /v1/gateway/prompts                        the prompts the caller sees
    GET  /v1/gateway/prompts/{name}                 the version `?label=` (default production) or `?version=` points at
    GET  /v1/gateway/prompts/{name}/versions        every version, with its labels
    GET  /v1/gateway/prompts/{name}/versions/{n}    one version
    POST /v1/gateway/prompts/{name}/versions        push {"prompt": {...}, "labels": [...]}: 201, or 200 if unchanged
    PUT  /v1/gateway/prompts/{name}/labels/{label}  {"version": n}: point a label at a version

Reads answer any key: a tenant sees its own prompts and the global ones (its
own shadow global ones of the same name). `?tenant=NAME` reads one tenant's
namespace only (its own, or any with an admin key); `?global=true` the global
one only. Writes need an admin key and go to the global namespace, or to
`?tenant=NAME`'s. Reads go to the store, not to the resolver's short cache,
so a client sees its own push at once.

Errors are the gateway's OpenAI error JSON with a code (`prompt_not_found`,
`prompt_invalid`, `admin_key_required`, ...). The endpoint layer wraps this
module: it authenticates (any key may call), passes the decoded query, and
answers the status and JSON it returns.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from extproc.errors import GatewayError
from extproc.prompts.files import validate_document
from extproc.prompts.model import DEFAULT_LABEL, GLOBAL, LATEST, PromptHead, PromptInvalid, PromptVersion, check_label, namespace_label
from extproc.prompts.resolver import PromptResolver, answer_or_503
from extproc.prompts.store import PromptStore
from extproc.prompts.template import CompiledPrompt, compile_prompt
from extproc.tenancy.auth import Identity

PREFIX = "/v1/gateway/prompts"
_TENANT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ROUTES: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"^$"), {"GET": "list"}),
    (re.compile(r"^/(?P<name>[^/]+)$"), {"GET": "get"}),
    (re.compile(r"^/(?P<name>[^/]+)/versions$"), {"GET": "versions", "POST": "push"}),
    (re.compile(r"^/(?P<name>[^/]+)/versions/(?P<number>[^/]+)$"), {"GET": "version"}),
    (re.compile(r"^/(?P<name>[^/]+)/labels/(?P<label>[^/]+)$"), {"PUT": "label"}),
]


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One call to the prompt API, as the endpoint layer decoded it."""

    method: str
    path: str
    identity: Identity
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def param(self, key: str) -> str | None:
        """A query parameter, or None."""
        return self.query.get(key)


def handles(path: str) -> bool:
    """True for paths this API answers (the endpoint layer routes them here)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


class PromptApi:
    """The prompt API over a resolver (which holds the store and its caches)."""

    def __init__(self, resolver: PromptResolver) -> None:
        self._resolver = resolver
        self._store: PromptStore = resolver.store
        self._actions: dict[str, Callable[..., Awaitable[tuple[int, dict[str, Any]]]]] = {
            "list": self._list, "get": self._get, "versions": self._versions, "version": self._version,
            "push": self._push, "label": self._label,
        }  # fmt: skip

    async def handle(self, request: ApiRequest) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer to `request`; errors as OpenAI error JSON."""
        try:
            action, match = _route(request.method.upper(), request.path)
            return await self._actions[action](request, **match)
        except GatewayError as exc:
            return exc.status, orjson.loads(exc.body())

    async def _list(self, request: ApiRequest) -> tuple[int, dict[str, Any]]:
        scope = _read_scope(request)
        if scope is not None:
            heads = await self._heads(scope)
            return 200, {"object": "list", "data": [_summary(head, shadowed=False) for head in heads]}
        own = await self._heads(request.identity.tenant)
        own_names = {head.name for head in own}
        shared = await self._heads(GLOBAL)
        data = [_summary(h, shadowed=False) for h in own] + [_summary(h, shadowed=h.name in own_names) for h in shared]
        return 200, {"object": "list", "data": sorted(data, key=lambda item: (item["name"], item["tenant"] is None))}

    async def _get(self, request: ApiRequest, name: str) -> tuple[int, dict[str, Any]]:
        head = await self._head(request, name)
        version_text, label = request.param("version"), request.param("label")
        if version_text is not None and label is not None:
            raise GatewayError(400, "Ask for a `version` or a `label`, not both.", code="invalid_request")
        number = _number(version_text, "version") if version_text is not None else None
        version, compiled = await self._resolver.pick(head, version=number, label=label or DEFAULT_LABEL)
        return 200, _version_payload(version, compiled, head)

    async def _versions(self, request: ApiRequest, name: str) -> tuple[int, dict[str, Any]]:
        head = await self._head(request, name)
        versions = await answer_or_503(self._store.versions(head.namespace, name))
        data = [{"version": v.number, "digest": v.template.digest, "created_at": v.created_at,
                 "created_by": v.created_by, "labels": head.labels_of(v.number)} for v in versions]  # fmt: skip
        return 200, {"object": "list", "name": name, "tenant": namespace_label(head.namespace), "latest": head.latest,
                     "data": data}  # fmt: skip

    async def _version(self, request: ApiRequest, name: str, number: str) -> tuple[int, dict[str, Any]]:
        head = await self._head(request, name)
        version, compiled = await self._resolver.pick(head, version=_number(number, "version"))
        return 200, _version_payload(version, compiled, head)

    async def _push(self, request: ApiRequest, name: str) -> tuple[int, dict[str, Any]]:
        namespace = _write_namespace(request)
        body = _json_object(request.body)
        unknown = sorted(set(body) - {"prompt", "labels"})
        if unknown or not isinstance(body.get("prompt"), dict):
            raise GatewayError(400, 'The body is {"prompt": {...the prompt document...}, "labels": ["staging", ...]}'
                               + (f"; unknown field(s): {', '.join(unknown)}" if unknown else "."),
                               code="invalid_request")  # fmt: skip
        document = {"name": name, **body["prompt"]}
        labels = body.get("labels", [])
        try:
            if document["name"] != name:
                raise PromptInvalid([f"the prompt is named {document['name']!r} but was pushed to {name!r}"])
            if not isinstance(labels, list):
                raise PromptInvalid(["labels must be a list of label names"])
            labels = [check_label(label) for label in labels]
            template = validate_document(document)
        except PromptInvalid as exc:
            raise GatewayError(400, "The prompt is not valid: " + "; ".join(exc.problems), code="prompt_invalid") from None
        version, created = await answer_or_503(
            self._store.add_version(namespace, template, request.identity.key_id, labels)
        )
        self._resolver.forget(namespace, name)
        head = await self._resolver.head(namespace, name, fresh=True)
        if head is None:  # only if the store lost what it just wrote
            raise GatewayError(503, "The prompt store did not keep the version just pushed; retry.", code="prompts_unavailable")
        payload = _version_payload(version, compile_prompt(version.template), head)
        return (201 if created else 200), {**payload, "created": created}

    async def _label(self, request: ApiRequest, name: str, label: str) -> tuple[int, dict[str, Any]]:
        namespace = _write_namespace(request)
        try:
            check_label(label)
        except PromptInvalid as exc:
            raise GatewayError(400, str(exc), code="prompt_label_invalid") from None
        body = _json_object(request.body)
        number = body.get("version")
        if set(body) != {"version"} or isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise GatewayError(400, 'The body is {"version": N}, the version number the label should point at.',
                               code="invalid_request")  # fmt: skip
        previous = await answer_or_503(self._store.set_label(namespace, name, label, number))
        self._resolver.forget(namespace, name)
        if previous is None:
            head = await self._resolver.head(namespace, name, fresh=True)
            if head is None:
                raise _not_found(name, namespace)
            raise GatewayError(404, f"Prompt {name!r} has no version {number} (its versions: 1 to {head.latest}).",
                               code="prompt_version_not_found")  # fmt: skip
        return 200, {"object": "prompt.label", "name": name, "tenant": namespace_label(namespace), "label": label,
                     "version": number, "previous_version": previous or None}  # fmt: skip

    async def _head(self, request: ApiRequest, name: str) -> PromptHead:
        scope = _read_scope(request)
        if scope is None:
            head = await self._resolver.visible_head(request.identity.tenant, name, fresh=True)
        else:
            head = await self._resolver.head(scope, name, fresh=True)
        if head is None:
            raise _not_found(name, scope)
        return head

    async def _heads(self, namespace: str) -> list[PromptHead]:
        return await answer_or_503(self._store.heads(namespace))


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    if not handles(path):
        raise GatewayError(404, f"No prompt API at {path}.", code="not_found")
    rest = path[len(PREFIX):]
    for pattern, actions in _ROUTES:
        match = pattern.match(rest)
        if match is None:
            continue
        if method not in actions:
            allowed = ", ".join(sorted(actions))
            raise GatewayError(405, f"{method} is not allowed on {path}; use {allowed}.", code="method_not_allowed")
        return actions[method], match.groupdict()
    raise GatewayError(404, f"No prompt API at {path}.", code="not_found")


def _read_scope(request: ApiRequest) -> str | None:
    """The one namespace a read asks for (`?tenant=`, `?global=true`), or None: the caller's view."""
    tenant, everyone = request.param("tenant"), request.param("global") in ("1", "true")
    if tenant and everyone:
        raise GatewayError(400, "Ask for `tenant` or `global`, not both.", code="invalid_request")
    if everyone:
        return GLOBAL
    if tenant:
        _check_tenant(tenant)
        if tenant != request.identity.tenant and not request.identity.admin:
            raise GatewayError(403, "A tenant's key reads only its own prompts and the global ones.", code="tenant_forbidden")
        return tenant
    return None


def _write_namespace(request: ApiRequest) -> str:
    if not request.identity.admin:
        raise GatewayError(403, "Pushing prompts and moving labels needs an admin key "
                           "(`llm-gateway keys create --tenant NAME --admin`).", code="admin_key_required")  # fmt: skip
    if request.param("global") in ("1", "true") and request.param("tenant"):
        raise GatewayError(400, "Write to `tenant` or `global`, not both.", code="invalid_request")
    tenant = request.param("tenant")
    return _check_tenant(tenant) if tenant else GLOBAL


def _check_tenant(tenant: str) -> str:
    if not _TENANT.match(tenant):
        raise GatewayError(400, f"{tenant!r} is not a tenant name (1-64 letters, digits, '-', '_' or '.').",
                           code="invalid_request", param="tenant")  # fmt: skip
    return tenant


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise GatewayError(400, f"The body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(value, dict):
        raise GatewayError(400, "The body must be a JSON object.", code="invalid_request")
    return value


def _number(text: str, what: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise GatewayError(400, f"The {what} must be a version number (1, 2, ...), not {text!r}.", code="invalid_request")
    return int(text)


def _not_found(name: str, namespace: str | None) -> GatewayError:
    where = "" if namespace is None else (" in the global namespace" if namespace == GLOBAL else f" for tenant {namespace!r}")
    return GatewayError(404, f"No prompt named {name!r}{where}.", code="prompt_not_found")


def _summary(head: PromptHead, shadowed: bool) -> dict[str, Any]:
    return {"object": "prompt", "name": head.name, "tenant": namespace_label(head.namespace),
            "latest_version": head.latest, "labels": dict(sorted(head.labels.items())),
            "shadowed": shadowed}  # fmt: skip


def _version_payload(version: PromptVersion, compiled: CompiledPrompt, head: PromptHead) -> dict[str, Any]:
    labels = head.labels_of(version.number) + ([LATEST] if version.number == head.latest else [])
    return {
        "object": "prompt.version", "name": version.name, "tenant": namespace_label(version.namespace),
        "version": version.number, "labels": labels, "latest_version": head.latest,
        "digest": version.template.digest, "created_at": version.created_at, "created_by": version.created_by,
        "variables": {"required": sorted(compiled.required), "optional": sorted(compiled.accepted - compiled.required)},
        "prompt": version.template.to_document(),
    }  # fmt: skip
