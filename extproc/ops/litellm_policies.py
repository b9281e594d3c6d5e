"""The policies an imported LiteLLM config gets from the gateway's template, said out loud or left out.

`llm-gateway import-litellm` builds on the shipped envoy.yaml, whose gateway
policies LiteLLM's proxy does not apply: masking personal data, per-tenant
and per-key limits and budgets, a per-client-IP rate limit. `template_policies`
names each one the imported file keeps (as a note), so a comparison never
mistakes a policy for a difference of translation; `like_for_like` takes them
out (`--like-for-like`), leaving what LiteLLM's own config asked for.
"""

from __future__ import annotations

from typing import Any

from extproc.config.envoy_yaml import iter_connection_managers
from extproc.config.validation import gateway_settings
from extproc.tenancy.settings import tenancy_metadata

PER_IP_FILTER = "envoy.filters.http.local_ratelimit"
_DONE = {"mask": "masked", "block": "refused (400)", "restore": "masked (and put back in the answer)"}


def template_policies(config: dict[str, Any]) -> list[str]:
    """One sentence per gateway policy `config` applies that LiteLLM's proxy would not."""
    host = gateway_settings(config).virtual_host
    found = []
    if host.auth.mode == "api_keys":
        found.append("gateway API keys on every request (auth.mode: api_keys; make them with `llm-gateway keys create`)")
    request, response = host.privacy.request, host.privacy.response
    if request is not None and request.mode != "off":
        found.append(f"personal data in prompts is {_DONE[request.mode]} before the provider sees it "
                     f"(privacy.request.mode: {request.mode}; {', '.join(request.entities)})")  # fmt: skip
    if response is not None and response.mode != "off":
        found.append(f"answers are checked for {', '.join(response.entities)} (privacy.response.mode: {response.mode})")
    limits = host.limits
    for name, rates in (("tenant", limits.per_tenant), ("key", limits.per_key)):
        if rates.requests_per_minute or rates.tokens_per_minute:
            found.append(f"a per-{name} limit of {_rates(rates.requests_per_minute, rates.tokens_per_minute)} (limits.per_{name})")
    if limits.budget.usd_per_day or limits.budget.usd_per_month:
        found.append(f"a spend budget per tenant of {_budget(limits.budget.usd_per_day, limits.budget.usd_per_month)} (limits.budget)")
    if _per_ip_filter(config):
        found.append(f"a per-client-IP rate limit in Envoy ({PER_IP_FILTER})")
    return found


def like_for_like(config: dict[str, Any], litellm_config: dict[str, Any]) -> list[str]:
    """Take the template's own policies out of `config` (in place); say what was taken out and what stays."""
    removed = template_policies(config)
    meta = tenancy_metadata(config)
    master_key = bool((litellm_config.get("general_settings") or {}).get("master_key"))
    meta["auth"] = {**(meta.get("auth") or {}), "mode": "api_keys" if master_key else "none"}
    meta["privacy"] = {}
    meta["limits"] = {}
    meta["tenants"] = {}
    for hcm in iter_connection_managers(config):
        hcm["http_filters"] = [f for f in hcm.get("http_filters") or [] if f.get("name") != PER_IP_FILTER]
    notes = [f"like for like: left out {policy}." for policy in removed if "API keys" not in policy]
    notes.append(
        "like for like: gateway API keys are "
        + ("kept, as LiteLLM's master_key asks for a key too." if master_key else
           "off (auth.mode: none), as the LiteLLM config has no master_key: keep this gateway on 127.0.0.1.")
    )  # fmt: skip
    notes.append("like for like: kept what the gateway needs to run: the 4 MiB request body cap, the connection cap, "
                 "timeouts and Envoy's retry policy (num_retries from LiteLLM).")  # fmt: skip
    return notes


def _per_ip_filter(config: dict[str, Any]) -> bool:
    return any(f.get("name") == PER_IP_FILTER for hcm in iter_connection_managers(config) for f in hcm.get("http_filters") or [])


def _rates(requests: int | None, tokens: int | None) -> str:
    parts = [f"{requests:,} requests" if requests else "", f"{tokens:,} tokens" if tokens else ""]
    return " and ".join(p for p in parts if p) + " a minute"


def _budget(day: float | None, month: float | None) -> str:
    parts = [f"${day:g} a day" if day else "", f"${month:g} a month" if month else ""]
    return " and ".join(p for p in parts if p)
