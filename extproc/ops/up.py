"""`llm-gateway up`: run the gateway in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

from extproc.app import build_stores
from extproc.cache.policy import load_cache_policies
from extproc.config.envoy_yaml import read_config
from extproc.ops.launcher import LaunchError, Stack, StackOptions
from extproc.redaction.policy import load_privacy
from extproc.telemetry.tracing import with_tracing
from extproc.tenancy.keys import FileKeyStore, generate_key, new_record
from extproc.tenancy.settings import Settings, load_settings

log = logging.getLogger(__name__)

_RESTART_BACKOFF_S = 1.0


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
) -> int:
    """Start everything, print how to call it, restart crashed service processes, stop on a signal."""
    try:
        config = read_config(config_path)
        settings = load_settings(config)
        load_privacy(config)
        load_cache_policies(config)
        if otlp_endpoint:
            with_tracing(config, otlp_endpoint, trace_sampling_percent)
    except (OSError, ValueError) as exc:  # the services would refuse it too: say so before starting anything
        log.error("could not read %s: %s (llm-gateway check says more)", config_path, exc)
        return 1
    options = StackOptions(
        config_path=Path(config_path),
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
    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    stack = Stack(options)
    try:
        stack.start()
    except LaunchError as exc:
        log.error("could not start the gateway: %s", exc)
        return 1
    print(_banner(stack, _demo_key(settings)), flush=True)
    _warn_about_per_process_limits(settings, workers)
    try:
        while not stop_requested:
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
        stack.stop()
    return 0


def _warn_about_per_process_limits(settings: Settings, workers: int) -> None:
    """With an in-process store each service process has its own buckets: say so when there are several."""
    if workers > 1 and settings.store == "memory" and settings.limits_anything:
        log.warning(
            "store.kind is memory: each of the %d service processes keeps its own buckets and spend, so a tenant "
            "gets up to %d times its limits. Use store.kind: sqlite (one host, the shipped default) or redis "
            "(several hosts), or --workers 1, for exact limits.",
            workers,
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


def _banner(stack: Stack, demo_key: str | None) -> str:
    fake = (
        f"  fake provider  http://127.0.0.1:{stack.fake_provider_port} (no provider key set)\n"
        if stack.fake_provider_port
        else ""
    )
    if demo_key:
        keys = f"  API key        {demo_key}\n                 (tenant demo; shown only now. More: llm-gateway keys create --tenant NAME)\n"
        key, py_key = demo_key, f'"{demo_key}"'
    else:
        keys = "  API keys       llm-gateway keys create --tenant NAME (then export LLM_GATEWAY_KEY=...)\n"
        key, py_key = "$LLM_GATEWAY_KEY", 'os.environ["LLM_GATEWAY_KEY"]'
    return f"""
llm-gateway is up.
  base URL       {stack.base_url}
  Envoy admin    {stack.admin_url}
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
