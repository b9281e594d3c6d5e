"""The image installs exactly what the tests ran with: deploy/constraints.txt pins every runtime
dependency at its installed version, and the Dockerfile, compose.yaml and .env.example agree
on the base image."""

from __future__ import annotations

import importlib.metadata as metadata
import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]


def _installed_closure() -> dict[str, str]:
    """Every distribution pyproject.toml's runtime dependencies pull in here, with its installed version."""
    roots = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found: dict[str, str] = {}
    todo = [(Requirement(r), "") for r in roots]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({**default_environment(), "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        wanted_extras = sorted(requirement.extras)
        key = name + "".join(f"[{e}]" for e in wanted_extras)
        if key in found:
            continue
        distribution = metadata.distribution(requirement.name)
        found[key] = distribution.version
        for spec in distribution.requires or []:
            child = Requirement(spec)
            for chosen in ["", *wanted_extras]:
                todo.append((child, chosen))
    return {name.split("[")[0]: version for name, version in found.items()}


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "deploy" / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate():
            continue  # for another Python (Debian 12's 3.11.2, say)
        [specifier] = requirement.specifier
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def test_every_runtime_dependency_is_pinned_at_the_version_the_tests_ran_with() -> None:
    installed, pinned = _installed_closure(), _pins()
    # A venv comes with its own setuptools (ensurepip's); the image pins the one its build uses.
    installed.pop("setuptools", None)
    pinned.pop("setuptools", None)
    wrong = sorted(f"{name}=={version}" for name, version in installed.items() if pinned.get(name) != version)
    extra = sorted(set(pinned) - set(installed))
    assert not wrong and not extra, (
        "deploy/constraints.txt is out of step with the installed dependencies:\n"
        f"  set these lines: {', '.join(wrong) or 'none'}\n  remove: {', '.join(extra) or 'none'}"
    )


def test_dockerfile_compose_and_env_example_name_the_same_base_image() -> None:
    dockerfile = re.search(r"^ARG BASE_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    compose = re.search(r"BASE_IMAGE: \$\{LLM_GATEWAY_BASE_IMAGE:-(\S+)\}", (ROOT / "compose" / "compose.yaml").read_text())
    example = re.search(r"^LLM_GATEWAY_BASE_IMAGE=(\S+)$", (ROOT / "compose" / ".env.example").read_text(), re.M)
    assert dockerfile and compose and example
    assert dockerfile[1] == compose[1] == example[1]
