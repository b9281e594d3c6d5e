"""Envoy request attributes, as plain Python values.

Envoy sends metadata attributes (`xds.upstream_host_metadata`,
`xds.route_metadata`) as protobuf text format inside a string value. They are
parsed into `envoy.config.core.v3.Metadata` and reduced to the `llm_gateway`
namespace. The same few strings repeat for every request, so parses are
memoised.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from envoy.config.core.v3 import base_pb2
from google.protobuf import json_format, text_format

from extproc.catalog import METADATA_NAMESPACE


@lru_cache(maxsize=1024)
def gateway_metadata(text: str) -> dict[str, Any]:
    """The `llm_gateway` namespace of a text-format Metadata attribute ({} if absent)."""
    if not text:
        return {}
    metadata = base_pb2.Metadata()
    try:
        text_format.Parse(text, metadata)
    except text_format.ParseError:
        return {}
    if METADATA_NAMESPACE not in metadata.filter_metadata:
        return {}
    return json_format.MessageToDict(metadata.filter_metadata[METADATA_NAMESPACE])
