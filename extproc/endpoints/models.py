"""`GET /v1/models`: the models and aliases envoy.yaml offers, in OpenAI's list shape."""

from __future__ import annotations

from typing import Any

import orjson

from extproc.config.catalog import Catalog
from extproc.context import RequestContext
from extproc.tenancy.auth import Access

# OpenAI's list carries a creation time per model; configuration has none, so
# every entry reports the same fixed epoch rather than a changing clock.
_CREATED = 1700000000


class ModelsList:
    """The model listing endpoint, answered by the gateway itself."""

    method = "GET"
    path = "/v1/models"
    content_type = "application/json"
    access = Access.TENANT

    def __init__(self, catalog: Catalog) -> None:
        self._listing = listing(catalog)  # the catalog never changes while the service runs

    async def answer(self, ctx: RequestContext) -> bytes:
        """The OpenAI `list` object naming every model and alias."""
        return self._listing


def listing(catalog: Catalog) -> bytes:
    """Every model and alias of `catalog` as an OpenAI `list` object."""
    data = []
    for name in catalog.names():
        route = catalog.resolve(name)
        if route is None:  # a virtual model: its routing policy picks a model per request
            virtual = catalog.resolve_virtual(name)
            assert virtual is not None
            entry: dict[str, Any] = {"id": name, "object": "model", "created": _CREATED, "owned_by": "llm-gateway"}
            if name != virtual.name:
                entry["alias_of"] = virtual.name
            data.append(entry)
            continue
        provider = route.endpoints[0].provider if route.endpoints else "unknown"
        entry = {"id": name, "object": "model", "created": _CREATED, "owned_by": provider}
        if name != route.name:
            entry["alias_of"] = route.name
        data.append(entry)
    return orjson.dumps({"object": "list", "data": data})
