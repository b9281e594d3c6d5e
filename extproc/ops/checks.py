"""`llm-gateway check`: is this envoy.yaml something the gateway can run?

Each finding is a sentence an operator can act on, not a stack trace.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from extproc.cache.policy import load_cache_policies
from extproc.config.catalog import Catalog, CatalogError, load_catalog
from extproc.config.envoy_yaml import gateway_section, iter_routes
from extproc.config.validation import ConfigError, config_problems
from extproc.ops.envoy_config import EXTPROC_CLUSTER, FAKE_PROVIDER_KEY_ENV
from extproc.ops.launcher import LaunchError, envoy_binary
from extproc.prompts.settings import load_prompt_settings
from extproc.redaction.policy import load_privacy
from extproc.routing.policy import load_routing, unreachable
from extproc.tenancy.settings import load_settings


@dataclass
class Report:
    """What `check` found: problems stop the gateway, warnings only explain."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing prevents the gateway from running."""
        return not self.problems


def check_config(path: str | Path, run_envoy: bool = True, environ: dict[str, str] | None = None) -> Report:
    """Check envoy.yaml at `path`: YAML, the ext_proc wiring, the models, credentials, Envoy's own validation."""
    report = Report()
    environ = dict(os.environ if environ is None else environ)
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except OSError as exc:
        report.problems.append(f"Cannot read {path}: {exc.strerror}.")
        return report
    except yaml.YAMLError as exc:
        report.problems.append(f"{path} is not valid YAML: {exc}.")
        return report
    if not isinstance(config, dict) or "static_resources" not in config:
        report.problems.append(f"{path} is not an Envoy bootstrap: it has no `static_resources` section.")
        return report
    _check_wiring(config, report)
    # Every misspelt key, wrong value and misplaced section at once; what follows reads the settings.
    report.problems += [f"{problem}." for problem in config_problems(config)]
    if report.ok:
        try:
            catalog = load_catalog(config)
        except ConfigError as exc:
            report.problems.append(f"Model routes: {exc}.")
            catalog = None
        if catalog is not None:
            _check_models(catalog, report, environ)
            _check_chains(config, catalog, report)
        _check_tenancy(config, catalog, report)
        if catalog is not None:
            _check_routing(config, catalog, report)
        _check_privacy(config, report)
        _check_cache(config, report)
        _check_prompts(config, report)
    if run_envoy:
        _check_envoy(path, report)
    return report


def _check_tenancy(config: dict[str, Any], catalog: Catalog | None, report: Report) -> None:
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        report.problems.append(f"Tenancy settings (virtual host `llm_gateway` metadata): {exc}.")
        return
    if settings.auth_mode == "none":
        report.warnings.append("auth.mode is none: anyone who reaches the listener can use every model. Use it for local demos only.")
    if catalog is not None:
        unknown = sorted(set(settings.model_rates) - set(catalog.routes))
        if unknown:
            report.problems.append(f"Limits name models that have no route: {', '.join(unknown)}.")
        for tenant, policy in sorted(settings.tenants.items()):
            missing = sorted(m for m in policy.models or () if catalog.resolve(m) is None and catalog.resolve_virtual(m) is None)
            if missing:
                report.problems.append(f"Tenant {tenant!r} may use models that do not exist: {', '.join(missing)}.")


def _check_routing(config: dict[str, Any], catalog: Catalog, report: Report) -> None:
    """Routing policies: a missing model or split weights that do not add up stop the gateway; a rule
    that can never match is explained."""
    try:
        policies = load_routing(config, catalog)
    except ConfigError as exc:
        report.problems.append(f"Routing policy: {exc}.")
        return
    for policy in policies.by_model.values():
        report.warnings.extend(f"Routing policy: {finding}." for finding in unreachable(policy))


def _check_privacy(config: dict[str, Any], report: Report) -> None:
    try:
        privacy = load_privacy(config)
    except ConfigError as exc:
        report.problems.append(f"Privacy policy: {exc}.")
        return
    if privacy.default.request.mode == "off":
        report.warnings.append(
            "privacy.request.mode is off: prompts reach providers with any e-mail, card number or key in them."
        )


def _check_cache(config: dict[str, Any], report: Report) -> None:
    try:
        load_cache_policies(config)
    except ConfigError as exc:
        report.problems.append(f"Cache policy: {exc}.")


def _check_prompts(config: dict[str, Any], report: Report) -> None:
    try:
        settings = load_settings(config)
    except ConfigError:
        return  # _check_tenancy said what is wrong
    try:
        load_prompt_settings(config, settings)
    except ConfigError as exc:
        report.problems.append(f"Prompt registry: {exc}.")


def _check_wiring(config: dict[str, Any], report: Report) -> None:
    clusters = {c.get("name") for c in (config["static_resources"].get("clusters") or [])}
    if EXTPROC_CLUSTER not in clusters:
        report.problems.append(
            f"There is no `{EXTPROC_CLUSTER}` cluster: Envoy would not know where the ext_proc service listens."
        )
    names = [f.get("name") for f in _http_filters(config)]
    if "envoy.filters.http.ext_proc" not in names:
        report.problems.append("The HTTP connection manager has no ext_proc filter: no request would be checked or routed.")
    elif "envoy.filters.http.router" in names and names.index("envoy.filters.http.ext_proc") > names.index(
        "envoy.filters.http.router"
    ):
        report.problems.append("The ext_proc filter comes after the router filter, so it would never run.")


def _check_models(catalog: Catalog, report: Report, environ: dict[str, str]) -> None:
    if not catalog.routes:
        report.problems.append(
            "No model is defined: add a route with `metadata.filter_metadata.llm_gateway.model` (see docs/configuration.md)."
        )
        return
    for route in catalog.routes.values():
        if not route.endpoints:
            report.problems.append(f"Model {route.name!r} sends to cluster {route.cluster!r}, which has no endpoints.")
        for endpoint in route.endpoints:
            variable = endpoint.api_key_env
            if variable and variable != FAKE_PROVIDER_KEY_ENV and not environ.get(variable):
                report.warnings.append(
                    f"Model {route.name!r}: environment variable {variable} is not set; calls to "
                    f"{endpoint.cluster} will fail with 503 until it is."
                )
            if endpoint.api_key_file and not Path(endpoint.api_key_file).is_file():
                report.warnings.append(f"Model {route.name!r}: key file {endpoint.api_key_file} does not exist.")
    _check_translation(catalog, report)
    aliases = sum(len(r.aliases) for r in catalog.routes.values()) + sum(len(v.aliases) for v in catalog.virtual.values())
    routed = f", {len(catalog.virtual)} routed by policy ({', '.join(sorted(catalog.virtual))})" if catalog.virtual else ""
    report.summary = f"{len(catalog.routes)} models ({', '.join(sorted(catalog.routes))}){routed} and {aliases} aliases."


PREVIOUS_PRIORITIES = "envoy.retry_priorities.previous_priorities"


def _check_chains(config: dict[str, Any], catalog: Catalog, report: Report) -> None:
    """A cluster with several priority levels is a fallback chain only if the route's retries can reach them."""
    for route_config in iter_routes(config):
        meta = gateway_section(route_config) or {}
        route = catalog.routes.get(str(meta.get("model", "")))
        if route is None or len(route.priorities) < 2:
            continue
        levels = len(route.priorities)
        policy = (route_config.get("route") or {}).get("retry_policy")
        if not policy:
            report.warnings.append(
                f"Model {route.name!r} has {levels} priority levels but no `retry_policy`: a failure is never "
                "retried on the next level (only an ejected level is skipped)."
            )
            continue
        if (policy.get("retry_priority") or {}).get("name") != PREVIOUS_PRIORITIES:
            report.warnings.append(
                f"Model {route.name!r}: its `retry_policy` has no `retry_priority: {PREVIOUS_PRIORITIES}`, so "
                "retries stay on the first level while it is healthy."
            )
        retries = int(policy.get("num_retries", 1))
        if retries < levels - 1:
            report.warnings.append(
                f"Model {route.name!r} has {levels} priority levels but `num_retries: {retries}`: the last "
                f"{levels - 1 - retries} level(s) are never tried. Set num_retries to at least {levels - 1}."
            )


def _check_translation(catalog: Catalog, report: Report) -> None:
    """Every endpoint's provider must be one the gateway can translate for (the service refuses to start otherwise)."""
    from extproc.app import build_translators  # noqa: PLC0415 - imports LiteLLM (seconds): only when checking

    try:
        build_translators(catalog)
    except CatalogError as exc:
        report.problems.append(f"Provider endpoints: {exc}.")


def _check_envoy(path: str | Path, report: Report) -> None:
    try:
        binary = envoy_binary()
    except LaunchError as exc:
        report.problems.append(str(exc))
        return
    result = subprocess.run(
        [binary, "--mode", "validate", "-c", str(path), "-l", "critical"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        reason = next((line for line in detail if "error" in line.lower()), detail[-1] if detail else "unknown error")
        report.problems.append(f"Envoy rejects the configuration: {reason.strip()}")


def _http_filters(config: dict[str, Any]) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    for listener in config["static_resources"].get("listeners") or []:
        for chain in listener.get("filter_chains") or []:
            for network_filter in chain.get("filters") or []:
                filters.extend((network_filter.get("typed_config") or {}).get("http_filters") or [])
    return filters
