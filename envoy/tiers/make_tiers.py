#!/usr/bin/env python3
"""Write the demo tiers, envoy/tiers/<tier>.yaml, from the shipped envoy/envoy.yaml.

Each tier is envoy/envoy.yaml with a few changes to the `llm_gateway`
metadata (limits, budget, cache, which model the `default` alias picks,
the routing policy of a virtual model such as `auto`), stated as data below. Run it after editing envoy/envoy.yaml or a tier:

    python envoy/tiers/make_tiers.py           # rewrite envoy/tiers/*.yaml
    python envoy/tiers/make_tiers.py --check   # exit 1 if they are out of date

Every tier runs as is: `llm-gateway up --config envoy/tiers/free.yaml`.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import yaml

from extproc.config.envoy_yaml import iter_virtual_hosts

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "envoy" / "envoy.yaml"
TIERS_DIR = ROOT / "envoy" / "tiers"

# Put above the `cache:` key of the `llm` virtual host's metadata.
CACHE_NOTE = [
    "The tier's response cache (see envoy/envoy.yaml and docs/configuration.md, \"Cache\").",
]

# Per tier: what the file says it is, the gateway-wide settings to replace in
# the `llm` virtual host's metadata, the per-model limits (None removes them),
# and which model each alias moves to.
TIERS: dict[str, dict[str, Any]] = {
    "free": {
        "description": (
            "Free tier: cache-heavy (exact-match answers kept for an hour), the\n"
            "small model first (`default` is gpt-4o-mini, and `auto` sends a request\n"
            "to gpt-4o only when the classifier is sure it is complex), tight token\n"
            "limits and budget, and a tighter still per-tenant limit on gpt-4o."
        ),
        "vhost": {
            "cache": {"mode": "exact", "ttl_seconds": 3600},
            "limits": {
                "per_tenant": {"requests_per_minute": 60, "tokens_per_minute": 40000},
                "per_key": {"requests_per_minute": 30, "tokens_per_minute": 20000},
                "budget": {"usd_per_day": 1, "usd_per_month": 10},
            },
        },
        "model_limits": {
            "gpt-4o": {"requests_per_minute": 10, "tokens_per_minute": 10000},
        },
        "aliases": {"default": "gpt-4o-mini"},
        # Routing by complexity, small model first: unsure means small here (the shipped policy's
        # default is the large model); code still goes to the code model.
        "routing": {
            "auto": {
                "default": "gpt-4o-mini",
                "rules": [
                    {"name": "tools", "when": {"tools": True}, "model": "gpt-4o-mini"},
                    {"name": "classifier", "classify": {"min_confidence": 0.9, "table": [
                        {"task": "code", "model": "qwen2.5-coder"},
                        {"complexity": "complex", "model": "gpt-4o"},
                    ]}},
                ],
                "conversation": {"header": "x-conversation-id", "ttl_seconds": 900},
            },
        },
    },
    "premium": {
        "description": (
            "Premium tier: the large model first (`default` is gpt-4o), no cache,\n"
            "high limits and budget, and no per-model limits."
        ),
        "vhost": {
            "cache": {"mode": "off"},
            "limits": {
                "per_tenant": {"requests_per_minute": 10000, "tokens_per_minute": 10000000},
                "per_key": {"requests_per_minute": 5000, "tokens_per_minute": 5000000},
                "budget": {"usd_per_day": 500, "usd_per_month": 10000},
            },
        },
        "model_limits": {"gpt-4o": None},
        "aliases": {"default": "gpt-4o"},
        "routing": {},
    },
}


class TierError(RuntimeError):
    """envoy/envoy.yaml no longer has what a tier changes."""


def _llm_host(config: dict[str, Any]) -> dict[str, Any]:
    for host in iter_virtual_hosts(config):
        if host.get("name") == "llm":
            return host
    raise TierError("envoy/envoy.yaml has no virtual host named `llm`")


def _model_routes(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The `llm_gateway` metadata of each model route (virtual models included), by model name."""
    models = {}
    for route in _llm_host(config).get("routes", []):
        meta = ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway") or {}
        if "model" in meta:
            models[str(meta["model"])] = meta
    return models


def build(tier: str, source: dict[str, Any]) -> dict[str, Any]:
    """The tier's bootstrap: a changed deep copy of `source`."""
    spec = TIERS[tier]
    config = copy.deepcopy(source)
    host_meta = _llm_host(config)["metadata"]["filter_metadata"]["llm_gateway"]
    host_meta.update(copy.deepcopy(spec["vhost"]))
    models = _model_routes(config)
    for model, limits in spec["model_limits"].items():
        if model not in models:
            raise TierError(f"tier {tier}: envoy/envoy.yaml has no route for model {model!r}")
        if limits is None:
            models[model].pop("limits", None)
        else:
            models[model]["limits"] = dict(limits)
    for alias, model in spec["aliases"].items():
        if model not in models:
            raise TierError(f"tier {tier}: envoy/envoy.yaml has no route for model {model!r}")
        for meta in models.values():
            if alias in (meta.get("aliases") or []):
                meta["aliases"] = [a for a in meta["aliases"] if a != alias]
        models[model]["aliases"] = [*(models[model].get("aliases") or []), alias]
    for model, policy in spec["routing"].items():
        if "routing" not in models.get(model, {}):
            raise TierError(f"tier {tier}: envoy/envoy.yaml has no virtual model {model!r} with a routing policy")
        models[model]["routing"] = copy.deepcopy(policy)
    return config


def render(tier: str, source: dict[str, Any]) -> str:
    """The text of envoy/tiers/<tier>.yaml."""
    description = "".join(f"# {line}\n" for line in TIERS[tier]["description"].splitlines())
    header = (
        "# Generated by envoy/tiers/make_tiers.py from envoy/envoy.yaml; edit those, not this file.\n"
        "#\n"
        f"{description}"
        "#\n"
        f"# Run it: llm-gateway up --config envoy/tiers/{tier}.yaml\n"
        "\n"
    )
    return header + _note_cache(yaml.safe_dump(build(tier, source), sort_keys=False))


def _note_cache(text: str) -> str:
    """`text` with CACHE_NOTE as a comment above the (only) `cache:` mapping key."""
    lines = text.splitlines(keepends=True)
    found = [i for i, line in enumerate(lines) if line.strip() == "cache:"]
    if len(found) != 1:
        raise TierError(f"expected one `cache:` mapping in the output, found {len(found)}")
    line = lines[found[0]]
    indent = line[: len(line) - len(line.lstrip())]
    lines[found[0]:found[0]] = [f"{indent}# {note}\n" for note in CACHE_NOTE]
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a tier file differs from what would be written")
    args = parser.parse_args(argv)
    source = yaml.safe_load(SOURCE.read_text())
    stale = []
    for tier in TIERS:
        path = TIERS_DIR / f"{tier}.yaml"
        text = render(tier, source)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.relative_to(ROOT))
        else:
            TIERS_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        names = ", ".join(str(p) for p in stale)
        print(f"{names} out of date with envoy/envoy.yaml; run: python envoy/tiers/make_tiers.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
