"""The `llm-gateway` command: serve, up, reload, check, render, healthcheck, keys, prompts, eval, fake-provider,
import-litellm, compare."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from typing import Any

from extproc import __version__

_MODULE_COMMANDS = (
    ("keys", "create, list and revoke API keys", "extproc.ops.keys_cli"),
    ("cache", "purge a tenant's cached answers (shared store)", "extproc.ops.cache_cli"),
    ("prompts", "push, list, show, label and diff prompt versions (a gateway client)", "extproc.prompts.cli"),
    ("eval", "run an eval suite through the gateway and score the answers", "extproc.evals.cli"),
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `llm-gateway` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:
        # A mistake in envoy.yaml found by any command that reads it (`keys`, `cache`...): each one
        # in words, no traceback. (ConfigError, caught by its `problems`: importing it would slow `--help`.)
        problems = getattr(exc, "problems", None)
        if not isinstance(problems, list):
            raise
        for problem in problems:
            print(f"problem: {problem}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-gateway", description="An LLM gateway built on Envoy.")
    parser.add_argument("--version", action="version", version=f"llm-gateway {__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the ext_proc service (one process)")
    serve.add_argument("--config", default=None, help="envoy.yaml to read models from (default: the shipped one)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9002)
    serve.add_argument("--uds", default=None, help="listen on this Unix socket path instead of TCP")
    serve.add_argument(
        "--metrics-port", type=int, default=None, help="also serve GET /metrics on this port of --host (shared by processes)"
    )
    serve.add_argument(
        "--drain-seconds",
        type=float,
        default=10.0,
        help="on SIGTERM, keep serving up to this long while Envoy's health checks notice the drain (SIGINT: none)",
    )
    serve.add_argument("--keys-file", default=None, help="the API key file, instead of the one envoy.yaml names")
    serve.add_argument("--redis-url", default=None, help="the shared store, instead of the one envoy.yaml names")
    serve.add_argument(
        "--preflight", action="store_true",
        help="at start, log what keeps this deployment from answering (missing provider keys, unreachable stores)",
    )  # fmt: skip
    serve.add_argument(
        "--managed", action="store_true",
        help="reloads (SIGHUP) are decided and counted by `llm-gateway up`, not by this process",
    )  # fmt: skip
    serve.set_defaults(func=_serve)

    health = commands.add_parser("healthcheck", help="exit 0 when the service at --port is SERVING and its deployment can answer")
    health.add_argument("--config", default=None, help="the envoy.yaml the service runs (default: the shipped one)")
    health.add_argument("--host", default="127.0.0.1")
    health.add_argument("--port", type=int, default=9002)
    health.set_defaults(func=_healthcheck)

    render = commands.add_parser("render", help="write a deployable envoy.yaml: services by DNS name, shared stores on")
    render.add_argument("--config", default=None, help="the envoy.yaml to start from (default: the shipped one)")
    render.add_argument("--output", "-o", default="-", help="where to write it (default: stdout)")
    render.add_argument("--listen", metavar="HOST:PORT", help="Envoy's listener, e.g. 0.0.0.0:8080")
    render.add_argument("--admin", metavar="HOST:PORT", help="Envoy's admin interface (keep it off public networks)")
    render.add_argument(
        "--extproc", metavar="HOST:PORT", action="append", default=[],
        help="the ext_proc service, resolved by DNS (every replica behind the name); repeatable",
    )  # fmt: skip
    render.add_argument("--fake-provider", metavar="HOST:PORT", help="where the fake provider's endpoints go")
    render.add_argument("--store", choices=["memory", "redis"], help="keys, limits and exact cache: shared in Redis or per process")
    render.add_argument("--cache", choices=["off", "exact", "semantic"], help="the gateway-wide cache mode")
    render.add_argument("--semantic-store", choices=["memory", "pgvector"], help="where semantic cache entries live")
    render.add_argument("--otlp-endpoint", metavar="HOST:PORT", help="trace to this OTLP/gRPC collector (empty: no tracing)")
    render.add_argument("--check", action="store_true", help="then check the result as `llm-gateway check` does; exit 1 on a problem")
    render.set_defaults(func=_render)

    # Subcommands whose module brings its own arguments (`add_arguments`) and its own `run`.
    for name, help_text, module_name in _MODULE_COMMANDS:
        module = importlib.import_module(module_name)
        command = commands.add_parser(name, help=help_text)
        module.add_arguments(command)
        command.set_defaults(func=module.run)

    up = commands.add_parser("up", help="start Envoy, the service and (without provider keys) the fake provider")
    up.add_argument("--config", default=None, help="envoy.yaml to run (default: the shipped one)")
    up.add_argument("--port", type=int, default=8080, help="the gateway's listener port, on 127.0.0.1")
    up.add_argument(
        "--listen", default=None, metavar="HOST:PORT",
        help="the listener's address instead, e.g. 0.0.0.0:8080 to take requests from other hosts",
    )  # fmt: skip
    up.add_argument("--admin-port", type=int, default=9901, help="Envoy's admin port (loopback only)")
    up.add_argument("--workers", type=int, default=2, help="ext_proc service processes")
    up.add_argument(
        "--tcp", action="store_true", help="reach the service over TCP (--service-port...) instead of Unix sockets"
    )
    up.add_argument("--service-port", type=int, default=9002, help="first service port with --tcp (one per worker)")
    up.add_argument("--fake-provider-port", type=int, default=9000)
    up.add_argument("--no-fake-provider", action="store_true", help="never start the fake provider")
    up.add_argument(
        "--otlp-endpoint", default=None, metavar="HOST:PORT",
        help="trace: Envoy's OpenTelemetry tracer and the services send spans to this OTLP/gRPC collector",
    )  # fmt: skip
    up.add_argument("--trace-sampling", type=float, default=100.0, metavar="PERCENT", help="requests traced, with --otlp-endpoint")
    up.set_defaults(func=_up)

    reload = commands.add_parser(
        "reload", help="apply envoy.yaml's changes to the running `up` now (it also does so when the file changes)"
    )
    reload.add_argument("--state", default=None, help="the state file `up` writes (default: var/llm-gateway-up.json)")
    reload.set_defaults(func=_reload)

    check = commands.add_parser("check", help="validate envoy.yaml and say what is wrong in plain words")
    check.add_argument("--config", default=None, help="envoy.yaml to check (default: the shipped one)")
    check.set_defaults(func=_check)

    from extproc.ops.litellm_cli import add_compare_arguments, add_import_arguments

    imports = commands.add_parser(
        "import-litellm", help="turn a LiteLLM proxy config (model_list, fallbacks) into an envoy.yaml"
    )
    add_import_arguments(imports)
    imports.set_defaults(func=_import_litellm)

    compare = commands.add_parser("compare", help="send one request set to a LiteLLM proxy and to the gateway, side by side")
    add_compare_arguments(compare)
    compare.set_defaults(func=_compare)

    from extproc.fake_provider import add_arguments

    fake = commands.add_parser("fake-provider", help="run the fake LLM provider (OpenAI, Anthropic, Gemini wire formats)")
    add_arguments(fake)
    fake.set_defaults(func=_fake_provider)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from extproc.app import Gateway, build_gateway
    from extproc.config.envoy_yaml import DEFAULT_CONFIG, config_hash, read_config
    from extproc.config.validation import ConfigError
    from extproc.ext_proc.reload import ConfigReloader
    from extproc.ext_proc.server import Current, Listen, serve
    from extproc.telemetry import metrics, tracing
    from extproc.tenancy.settings import load_settings

    _use_uvloop()
    # Before anything is counted: several processes of one gateway share a directory.
    metrics.configure(os.environ.get(metrics.MULTIPROC_DIR_ENV))
    path = Path(args.config or DEFAULT_CONFIG)

    def build(config: dict[str, Any], previous: Gateway | None) -> Gateway:
        settings = load_settings(config).with_overrides(keys_file=args.keys_file, redis_url=args.redis_url)
        return build_gateway(config, settings=settings, previous=previous)

    config = read_config(path)
    if args.preflight:
        from extproc.ops.preflight import problems

        for problem in problems(config):
            logging.getLogger("extproc.ops.preflight").error("%s", problem)
    try:
        current = Current(build(config, None))
    except ConfigError as exc:  # a mistake in envoy.yaml: say each one, no traceback
        for problem in exc.problems:
            logging.getLogger("extproc.config").error("%s", problem)
        return 1
    reloader = ConfigReloader(path, current, build, config_hash(path.read_bytes()), count=not args.managed)
    listen = Listen(host=args.host, port=args.port, uds=args.uds, metrics_port=args.metrics_port)
    tracing.configure(tracing.settings_from_config(config))
    try:
        asyncio.run(serve(current, listen, drain_seconds=args.drain_seconds, on_hangup=reloader.reload))
    finally:
        tracing.shutdown()  # sends the spans still batched
    return 0


def _healthcheck(args: argparse.Namespace) -> int:
    # Runs every few seconds: no extproc.app here, it imports LiteLLM (seconds).
    import yaml

    from extproc.ops.preflight import problems, service_problems

    found = service_problems(f"{args.host}:{args.port}")
    if not found:
        with open(args.config or _shipped_config(), encoding="utf-8") as handle:
            found = problems(yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    for problem in found:
        print(f"unhealthy: {problem}")
    return 1 if found else 0


def _render_command(args: argparse.Namespace) -> str:
    """The render command line that makes this output again (options in a fixed order)."""
    words = ["llm-gateway render"]
    if args.config:
        words.append(f"--config {args.config}")
    for option in ("listen", "admin", "fake_provider", "store", "cache", "semantic_store", "otlp_endpoint"):
        if getattr(args, option):
            words.append(f"--{option.replace('_', '-')} {getattr(args, option)}")
    words += [f"--extproc {address}" for address in args.extproc]
    return " ".join(words)


def _shipped_config() -> str:
    from pathlib import Path

    # As extproc.config.envoy_yaml.DEFAULT_CONFIG, without importing that module (PyYAML).
    return str(Path(__file__).resolve().parents[2] / "envoy" / "envoy.yaml")


def _render(args: argparse.Namespace) -> int:
    import yaml

    from extproc.config.envoy_yaml import DEFAULT_CONFIG, read_config
    from extproc.ops.render import Deployment, HostPort, deployable

    source = args.config or DEFAULT_CONFIG
    try:
        config = read_config(source)
        deployment = Deployment(
            listen=HostPort.parse(args.listen) if args.listen else None,
            admin=HostPort.parse(args.admin) if args.admin else None,
            extproc=tuple(HostPort.parse(a) for a in args.extproc),
            fake_provider=HostPort.parse(args.fake_provider) if args.fake_provider else None,
            store=args.store,
            cache_mode=args.cache,
            semantic_store=args.semantic_store,
            otlp_endpoint=args.otlp_endpoint or None,
        )
        rendered = deployable(config, deployment)
    except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        # A source too broken to rewrite: say what is wrong with it, as `check` would.
        from extproc.ops.checks import check_config

        report = check_config(source, run_envoy=False)
        reasons = report.problems or [exc.strerror if isinstance(exc, OSError) and exc.strerror else repr(exc)]
        for reason in reasons:
            print(f"problem: {source}: {reason}", file=sys.stderr)
        return 1
    text = f"# Generated by `{_render_command(args)}`;\n# edit {source}, not this file.\n" + yaml.safe_dump(
        rendered, sort_keys=False
    )
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(text)
    if not args.check:
        return 0
    args.config = args.output
    return _check(args)


def _up(args: argparse.Namespace) -> int:
    from extproc.config.envoy_yaml import DEFAULT_CONFIG
    from extproc.ops.render import HostPort, RenderError
    from extproc.ops.up import run_up

    try:
        listen = HostPort.parse(args.listen) if args.listen else HostPort("127.0.0.1", args.port)
    except RenderError as exc:
        print(f"problem: --listen: {exc}", file=sys.stderr)
        return 1
    return run_up(
        config_path=args.config or DEFAULT_CONFIG,
        listen_host=listen.host,
        port=listen.port,
        admin_port=args.admin_port,
        workers=args.workers,
        service_port=args.service_port,
        unix_sockets=not args.tcp,
        fake_provider_port=args.fake_provider_port,
        fake_provider=False if args.no_fake_provider else None,
        otlp_endpoint=args.otlp_endpoint,
        trace_sampling_percent=args.trace_sampling,
    )


def _reload(args: argparse.Namespace) -> int:
    from pathlib import Path

    from extproc.ops.reload import STATE_FILE, request_reload

    return request_reload(Path(args.state) if args.state else STATE_FILE)


def _import_litellm(args: argparse.Namespace) -> int:
    from extproc.ops.litellm_cli import run_import

    return run_import(args)


def _compare(args: argparse.Namespace) -> int:
    from extproc.ops.litellm_cli import run_compare

    return run_compare(args)


def _check(args: argparse.Namespace) -> int:
    from extproc.config.envoy_yaml import DEFAULT_CONFIG
    from extproc.ops.checks import check_config

    path = args.config or DEFAULT_CONFIG
    report = check_config(path)
    for problem in report.problems:
        print(f"problem: {problem}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    if report.ok:
        print(f"OK: {path}: {report.summary}")
        return 0
    print(f"{path}: {len(report.problems)} problem(s); the gateway would not run with this configuration.")
    return 1


def _fake_provider(args: argparse.Namespace) -> int:
    from extproc.fake_provider import config_from_args, run

    run(config_from_args(args), args.host, args.port)
    return 0


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a declared dependency
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
