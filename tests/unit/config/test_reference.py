"""The settings reference in docs/configuration.md and the editors' JSON Schema: generated, current, truthful."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import jsonschema
import pytest
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG
from extproc.config.reference import LEVELS, reference_markdown
from extproc.config.schema.base import Section
from extproc.tenancy.settings import tenancy_metadata

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "envoy" / "llm-gateway.schema.json"


def test_the_committed_reference_and_schema_are_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/make_config_reference.py", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def _sections() -> set[type[Section]]:
    found: set[type[Section]] = set()
    stack = [level for _, _, level in LEVELS]
    while stack:
        model = stack.pop()
        if model in found:
            continue
        found.add(model)
        for field in model.model_fields.values():
            for candidate in _section_types(field.annotation):
                stack.append(candidate)
    return found


def _section_types(annotation: object) -> list[type[Section]]:
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return [annotation]
    return [t for arg in get_args(annotation) for t in _section_types(arg)]


def test_every_setting_is_described_and_in_the_reference() -> None:
    text = reference_markdown()
    for model in _sections():
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert f"| `{name}` |" in text


def test_the_editor_schema_accepts_the_shipped_file_and_catches_a_typo() -> None:
    schema = json.loads(SCHEMA.read_text())
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    jsonschema.validate(config, schema)
    tenancy_metadata(config)["tenant"] = {}
    with pytest.raises(jsonschema.ValidationError, match="'tenant' was unexpected"):
        jsonschema.validate(config, schema)


def test_the_shipped_file_points_editors_at_the_schema() -> None:
    assert DEFAULT_CONFIG.read_text().startswith("# yaml-language-server: $schema=llm-gateway.schema.json\n")
