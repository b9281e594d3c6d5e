"""`llm-gateway up`: run the gateway in the foreground until Ctrl-C or SIGTERM.

Safe local defaults: the configuration passes `llm-gateway check` first (its
warnings, such as a provider key that is not set, are printed; a problem stops
it), the listener binds 127.0.0.1 unless `--listen` says otherwise, a port
something else holds is refused before anything starts, and the temporary
folder of the run is removed on the way out. While it runs, a change to
envoy.yaml (or `llm-gateway reload`) is checked and applied without a restart
(ops/reload.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from pathlib import Path

from extproc.app import build_stores
from extproc.cache.policy import CachePolicies, load_cache_policies
from extproc.config.catalog import Catalog, load_catalog
from extproc.config.envoy_yaml import read_config
from extproc.ops.checks import check_config
from extproc.ops.envoy_config import FAKE_PROVIDER_KEY_ENV
from extproc.ops.launcher import LaunchError, Stack, StackOptions
from extproc.ops.reload import StackReloader
from extproc.telemetry.tracing import with_tracing
from extproc.tenancy.keys import FileKeyStore, generate_key, new_record
from extproc.tenancy.settings import Settings, load_settings

log = logging.getLogger(__name__)

_RESTART_BACKOFF_S = 1.0
# How often `up` looks at envoy.yaml for a change.
_WATCH_INTERVAL_S = 1.0


def run_up(
    config_path: str | Path,
    port: int,
    admin_port: int,
    workers: int,
    service_port: int,
    unix_sockets: bool,
    fake_provider_port: int,
    fake_provider: bool | None,
    otlp_endpoint: str | None = None,
    trace_sampling_percent: float = 100.0,
    listen_host: str = "127.0.0.1",
) -> int:
    """Check the configuration, start everything, print how to call it, restart crashed service
    processes, stop on a signal."""
    try:
        if otlp_endpoint:
            with_tracing(read_config(config_path), otlp_endpoint, trace_sampling_percent)
    except (OSError, ValueError) as exc:
        log.error("could not use %s: %s", config_path, exc)
        return 1
    report = check_config(config_path)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not report.ok:
        for problem in report.problems:
            print(f"problem: {problem}", file=sys.stderr)
        print(f"llm-gateway up: not starting; {len(report.problems)} problem(s) in {config_path}.", file=sys.stderr)
        return 1
    config = read_config(config_path)
    settings, catalog = load_settings(config), load_catalog(config)
    options = StackOptions(
        config_path=Path(config_path),
        listen_host=listen_host,
        port=port,
        admin_port=admin_port,
        workers=workers,
        service_port=service_port,
        unix_sockets=unix_sockets,
        fake_provider_port=fake_provider_port,
        fake_provider=fake_provider,
        otlp_endpoint=otlp_endpoint,
        trace_sampling_percent=trace_sampling_percent,
    )
    stop_requested = reload_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    def request_reload(signum: int, _frame: object) -> None:  # `llm-gateway reload`
        nonlocal reload_requested
        reload_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGHUP, request_reload)
    stack = Stack(options)
    try:
        stack.start()
    except LaunchError as exc:
        log.error("could not start the gateway: %s", exc)
        return 1
    reloader = StackReloader(stack, Path(config_path))
    print(_banner(stack, _demo_key(settings), catalog), flush=True)
    _warn_about_per_process_state(settings, load_cache_policies(config), workers)
    next_look = time.monotonic() + _WATCH_INTERVAL_S
    try:
        while not stop_requested:
            if reload_requested:
                reload_requested = False
                reloader.reload("llm-gateway reload")
            elif time.monotonic() >= next_look:
                next_look = time.monotonic() + _WATCH_INTERVAL_S
                reloader.poll()
            exited = stack.poll()
            if exited is None:
                time.sleep(0.2)
            elif exited.startswith("service-"):
                index = int(exited.split("-", 1)[1])
                log.warning("%s exited; restarting it", exited)
                time.sleep(_RESTART_BACKOFF_S)
                stack.start_service(index)
            else:
                log.error("%s exited; stopping the gateway", exited)
                return 1
    finally:
        reloader.close()
        stack.stop()
    return 0


def _warn_about_per_process_state(settings: Settings, cache: CachePolicies, workers: int) -> None:
    """With in-process stores each service process has its own buckets or cache: say so when there are several."""
    if workers > 1 and settings.store == "memory" and settings.limits_anything:
        log.warning(
            "store.kind is memory: each of the %d service processes keeps its own buckets and spend, so a tenant "
            "gets up to %d times its limits. Use store.kind: sqlite (one host, the shipped default) or redis "
            "(several hosts), or --workers 1, for exact limits.",
            workers,
            workers,
        )
    if workers > 1 and settings.store == "memory" and cache.any_active:
        log.warning(
            "store.kind is memory: the response cache lives in each of the %d service processes, so a repeated "
            "request is a hit only once the process it reaches has seen it. Use store.kind: sqlite (one host) or "
            "redis, or --workers 1, for one cache.",
            workers,
        )


def _demo_key(settings: Settings) -> str | None:
    """A first key for tenant `demo` when the key file has no active key yet (shown only now), else None."""
    store, _ = build_stores(settings)
    if not isinstance(store, FileKeyStore):
        return None
    if any(record.active for record in asyncio.run(store.records())):
        return None
    key = generate_key()
    asyncio.run(store.add(new_record(key, "demo", "created by llm-gateway up")))
    return key


def _fake_provider_models(catalog: Catalog) -> list[str]:
    """The models some of whose endpoints the fake provider serves (they name its key variable)."""
    return sorted(
        route.name for route in catalog.routes.values() if any(e.api_key_env == FAKE_PROVIDER_KEY_ENV for e in route.endpoints)
    )


def _banner(stack: Stack, demo_key: str | None, catalog: Catalog) -> str:
    fake = (
        f"  fake provider  http://127.0.0.1:{stack.fake_provider_port}\n"
        f"                 (started because the endpoints of {', '.join(_fake_provider_models(catalog))} name\n"
        f"                 {FAKE_PROVIDER_KEY_ENV}, which is not set: it answers them, with a key made for this run)\n"
        if stack.fake_provider_port
        else ""
    )
    listen = stack.options.listen_host
    reach = "this host only" if listen in ("127.0.0.1", "::1", "localhost") else "other hosts too"
    where = f"  listening      {listen}:{stack.port} ({reach}; --listen HOST:PORT to change)\n"
    if demo_key:
        keys = f"  API key        {demo_key}\n                 (tenant demo; shown only now. More: llm-gateway keys create --tenant NAME)\n"
        key, py_key = demo_key, f'"{demo_key}"'
    else:
        keys = "  API keys       llm-gateway keys create --tenant NAME (then export LLM_GATEWAY_KEY=...)\n"
        key, py_key = "$LLM_GATEWAY_KEY", 'os.environ["LLM_GATEWAY_KEY"]'
    return f"""
llm-gateway is up.
  base URL       {stack.base_url}
{where}  Envoy admin    {stack.admin_url}
  ext_proc       {", ".join(s.uds or f"127.0.0.1:{s.port}" for s in stack.services)}
{keys}{fake}
Try it:
  curl -s {stack.base_url}/chat/completions -H 'Content-Type: application/json' \\
    -H "Authorization: Bearer {key}" \\
    -d '{{"model": "fast", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  python -c 'import os; from openai import OpenAI; c = OpenAI(base_url="{stack.base_url}", api_key={py_key}); \\
print(c.chat.completions.create(model="fast", messages=[{{"role": "user", "content": "Hello!"}}]).choices[0].message.content)'

Ctrl-C stops everything.
"""
