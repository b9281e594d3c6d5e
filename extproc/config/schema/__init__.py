"""The schema of every `llm_gateway` setting in envoy.yaml, one pydantic model per place and section.

Written once: the service validates envoy.yaml with it at start, `llm-gateway
check` and `reload` report with it, and docs/configuration.md's reference and
envoy/llm-gateway.schema.json are generated from it. levels.py says which model
reads which place, and how to add a setting.
"""

from extproc.config.schema.base import Section
from extproc.config.schema.levels import (
    EndpointSettings,
    FallbackListRouteSettings,
    LaneRouteSettings,
    ModelRouteSettings,
    VirtualHostSettings,
)

__all__ = [
    "EndpointSettings",
    "FallbackListRouteSettings",
    "LaneRouteSettings", "ModelRouteSettings", "Section", "VirtualHostSettings"]
