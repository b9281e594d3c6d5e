"""The schema, written out for people and editors: docs/configuration.md's reference and a JSON Schema.

Both are generated from the pydantic models of `extproc.config.schema` by
`scripts/make_config_reference.py` (a test runs it with `--check`), so the
documentation lists exactly the settings the service accepts.
"""

from __future__ import annotations

from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.json_schema import models_json_schema

from extproc.config.problems import describe, unwrap
from extproc.config.schema import EndpointSettings, LaneRouteSettings, ModelRouteSettings, VirtualHostSettings
from extproc.config.schema.base import Section

# Each place envoy.yaml carries `llm_gateway` settings: its title, where it is, its model.
LEVELS: tuple[tuple[str, str, type[Section]], ...] = (
    ("Virtual host", "`route_config.virtual_hosts[].metadata.filter_metadata.llm_gateway`", VirtualHostSettings),
    ("Model route", "`virtual_hosts[].routes[].metadata.filter_metadata.llm_gateway`", ModelRouteSettings),
    ("Lane route", "the same, on a fail-open lane's route", LaneRouteSettings),
    (
        "Endpoint",
        "`clusters[].load_assignment.endpoints[].lb_endpoints[].metadata.filter_metadata.llm_gateway`",
        EndpointSettings,
    ),
)
SCHEMA_ID = "https://github.com/llm-gateway/llm-gateway/envoy/llm-gateway.schema.json"


def reference_markdown() -> str:
    """Every setting, one table per section, each section once, in the order a reader meets them."""
    places = _places()
    titles = {section: paths[0] for section, paths in places.items()}
    out: list[str] = []
    printed: list[type[Section]] = []
    for title, where, level in LEVELS:
        out += [f"### {title}", "", f"{level.__doc__ or ''} Where: {where}.", "", *_table(level, titles)]
        for section, paths in places.items():
            if section in printed or not paths[0].endswith(_suffix(level)):
                continue
            printed.append(section)
            out += [f"#### {paths[0]}", "", section.__doc__ or "", ""]
            if len(paths) > 1:
                out += [f"Also at: {', '.join(paths[1:])}.", ""]
            wider = next((p for p in printed if p is not section and issubclass(p, section)), None)
            if wider is None:
                out += _table(section, titles)
            else:
                extra = [name for name in wider.model_fields if name not in section.model_fields]
                out += [f"The fields of {titles[wider]} above, but not {', '.join(f'`{n}`' for n in extra)}.", ""]
    return "\n".join(out).rstrip() + "\n"


def _suffix(level: type[Section]) -> str:
    """How a section's title names its level: `cache` (virtual host), `cache` (model route)..."""
    return f" ({next(title for title, _, candidate in LEVELS if candidate is level).lower()})"


def _places() -> dict[type[Section], list[str]]:
    """Every section model (the levels aside), with each path that reaches it, in the order met."""
    places: dict[type[Section], list[str]] = {}
    for _, _, level in LEVELS:
        queue: list[tuple[str, type[Section]]] = [("", level)]
        while queue:
            path, model = queue.pop(0)
            for name, field in model.model_fields.items():
                section = _section_of(field.annotation)
                if section is None:
                    continue
                key = f"{path}.{name}" if path else name
                key += ".NAME" if get_origin(unwrap(field.annotation)) is dict else ""
                first = section not in places
                places.setdefault(section, []).append(f"`{key}`{_suffix(level)}")
                if first:
                    queue.append((key, section))
    return places


def _table(model: type[Section], titles: dict[type[Section], str]) -> list[str]:
    rows = ["| key | value | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        section = _section_of(field.annotation)
        takes = describe(field.annotation, tuple(field.metadata))
        if section is not None:
            takes += f": see {titles[section]}"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{name}` | {takes} | {_default(field)} | {description} |")
    return [*rows, ""]


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "–"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return ", ".join(f"`{v}`" for v in value) if value else "none"
    if isinstance(value, dict):
        return "none" if not value else str(value)
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`" if value != "" else "empty"


def _section_of(annotation: Any) -> type[Section] | None:
    """The section model a field holds (directly, optionally, or as a mapping's values), if any."""
    plain = unwrap(annotation)
    if get_origin(plain) is dict:
        plain = get_args(plain)[1]
    return plain if isinstance(plain, type) and issubclass(plain, Section) else None


def editor_schema() -> dict[str, Any]:
    """A JSON Schema of an envoy.yaml for YAML editors: Envoy's own fields pass, `llm_gateway` settings are checked."""
    _, definitions = models_json_schema(
        [(level, "validation") for _, _, level in LEVELS], ref_template="#/$defs/{model}"
    )
    defs = dict(definitions["$defs"])

    def gateway(ref: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": {"filter_metadata": {"type": "object", "properties": {"llm_gateway": ref}}}}

    def array_of(ref: str) -> dict[str, Any]:
        return {"type": "array", "items": {"$ref": f"#/$defs/{ref}"}}

    defs["EnvoyVirtualHost"] = {
        "type": "object",
        "properties": {
            "metadata": gateway({"$ref": "#/$defs/VirtualHostSettings"}),
            "routes": array_of("EnvoyRoute"),
        },
    }
    defs["EnvoyRoute"] = {
        "type": "object",
        "properties": {
            "metadata": gateway(
                {"anyOf": [{"$ref": "#/$defs/ModelRouteSettings"}, {"$ref": "#/$defs/LaneRouteSettings"}]}
            )
        },
    }
    hcm = {"type": "object", "properties": {"route_config": {"type": "object", "properties": {"virtual_hosts": array_of("EnvoyVirtualHost")}}}}
    network_filter = {"type": "object", "properties": {"typed_config": hcm}}
    defs["EnvoyListener"] = {
        "type": "object",
        "properties": {
            "filter_chains": {
                "type": "array",
                "items": {"type": "object", "properties": {"filters": {"type": "array", "items": network_filter}}},
            }
        },
    }
    lb_endpoint = {"type": "object", "properties": {"metadata": gateway({"$ref": "#/$defs/EndpointSettings"})}}
    locality = {"type": "object", "properties": {"lb_endpoints": {"type": "array", "items": lb_endpoint}}}
    defs["EnvoyCluster"] = {
        "type": "object",
        "properties": {
            "load_assignment": {
                "type": "object",
                "properties": {"endpoints": {"type": "array", "items": locality}},
            }
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "llm-gateway envoy.yaml",
        "description": "Envoy's bootstrap with the gateway's `llm_gateway` metadata checked "
        "(generated by scripts/make_config_reference.py; see docs/configuration.md).",
        "type": "object",
        "properties": {
            "static_resources": {
                "type": "object",
                "properties": {"listeners": array_of("EnvoyListener"), "clusters": array_of("EnvoyCluster")},
            }
        },
        "$defs": dict(sorted(defs.items())),
    }
