"""Can this deployment answer? Provider keys present, shared stores reachable, the service SERVING.

A container platform restarts what crashes; a service that crashes on a
missing key or an unreachable Redis only loops without saying why. So the
service keeps running and degrades as designed (a missing key is a 503 on
that model, an unreachable store a cache bypass), `serve --preflight` logs
each problem once at start, and `llm-gateway healthcheck` (the image's health
check) stays red with the same sentences while any of them holds.

Addresses are shown without their passwords; keys are never shown, only
where they should come from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from extproc.cache.policy import load_cache_policies
from extproc.config.catalog import CatalogError, load_catalog
from extproc.ext_proc.health import serving_problem
from extproc.tenancy.settings import SettingsError, load_settings

# A store that does not answer within this long counts as unreachable.
STORE_TIMEOUT_S = 2.0


def problems(config: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    """Every reason the deployment `config` describes cannot answer, as sentences; empty when none."""
    environ = dict(os.environ if environ is None else environ)
    found = _missing_keys(config, environ)
    try:
        settings = load_settings(config)
        cache = load_cache_policies(config)
    except SettingsError as exc:
        return [*found, f"The configuration's tenancy or cache settings are wrong: {exc}."]
    if settings.store == "redis":
        found += _redis_problems(settings.redis_url or "")
    if cache.any_semantic and cache.semantic_store == "pgvector":
        found += _postgres_problems(cache.postgres_url or "")
    return found


def service_problems(target: str, timeout: float = STORE_TIMEOUT_S) -> list[str]:
    """Why the ext_proc service at `target` is not SERVING; empty when it is."""
    problem = serving_problem(target, timeout)
    return [problem] if problem is not None else []


def without_password(url: str) -> str:
    """`url` with any password removed, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user + '@' if user else ''}{host}{':' + str(parts.port) if parts.port else ''}"
    return urlunsplit(parts._replace(netloc=netloc))


def _missing_keys(config: dict[str, Any], environ: dict[str, str]) -> list[str]:
    try:
        catalog = load_catalog(config)
    except CatalogError as exc:
        return [f"The model routes are wrong: {exc}."]
    found: dict[str, str] = {}
    for route in catalog.routes.values():
        for endpoint in route.endpoints:
            if endpoint.api_key_env and not environ.get(endpoint.api_key_env, "").strip():
                found.setdefault(
                    f"env:{endpoint.api_key_env}",
                    f"Provider key missing: environment variable {endpoint.api_key_env} is not set "
                    f"(needed by model {route.name!r}, cluster {endpoint.cluster}); its calls fail with 503 until it is.",
                )
            elif endpoint.api_key_file and not _readable(endpoint.api_key_file):
                found.setdefault(
                    f"file:{endpoint.api_key_file}",
                    f"Provider key missing: key file {endpoint.api_key_file} cannot be read "
                    f"(needed by model {route.name!r}, cluster {endpoint.cluster}).",
                )
    return list(found.values())


def _readable(path: str) -> bool:
    try:
        return bool(Path(path).read_text().strip())
    except OSError:
        return False


def _redis_problems(url: str) -> list[str]:
    import redis  # noqa: PLC0415 - only deployments with a shared store need it

    client = redis.Redis.from_url(url, socket_timeout=STORE_TIMEOUT_S, socket_connect_timeout=STORE_TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError as exc:
        return [f"Redis at {without_password(url)} cannot be reached: {_first_sentence(exc)}. Keys, limits and the exact cache are unavailable."]
    finally:
        client.close()
    return []


def _postgres_problems(url: str) -> list[str]:
    import psycopg  # noqa: PLC0415 - only deployments with a pgvector index need it

    try:
        with psycopg.connect(url, connect_timeout=int(STORE_TIMEOUT_S), autocommit=True) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return [f"PostgreSQL at {without_password(url)} cannot be reached: {_first_sentence(exc)}. The semantic cache is unavailable."]
    return []


def _first_sentence(exc: Exception) -> str:
    """The gist of a client library's error: its first line, up to the first full stop (Redis's
    protected-mode refusal runs to a page)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    head = lines[0].partition(". ")[0].rstrip(".") if lines else ""
    return head[:300] or type(exc).__name__
