"""The `llm-gateway` command: serve, up, check, render, healthcheck, keys, prompts, eval, fake-provider, import-litellm, compare."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from extproc import __version__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `llm-gateway` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.func(args) or 0)


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

    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    from extproc.ops.keys_cli import add_arguments as add_keys_arguments

    add_keys_arguments(keys)
    keys.set_defaults(func=_keys)

    cache = commands.add_parser("cache", help="purge a tenant's cached answers (shared store)")
    from extproc.ops.cache_cli import add_arguments as add_cache_arguments

    add_cache_arguments(cache)
    cache.set_defaults(func=_cache)

    prompts = commands.add_parser("prompts", help="push, list, show, label and diff prompt versions (a gateway client)")
    from extproc.prompts.cli import add_arguments as add_prompts_arguments

    add_prompts_arguments(prompts)
    prompts.set_defaults(func=_prompts)

    evals = commands.add_parser("eval", help="run an eval suite through the gateway and score the answers")
    from extproc.evals.cli import add_arguments as add_eval_arguments

    add_eval_arguments(evals)
    evals.set_defaults(func=_eval)

    up = commands.add_parser("up", help="start Envoy, the service and (without provider keys) the fake provider")
    up.add_argument("--config", default=None, help="envoy.yaml to run (default: the shipped one)")
    up.add_argument("--port", type=int, default=8080, help="the gateway's listener port")
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

    check = commands.add_parser("check", help="validate envoy.yaml and say what is wrong in plain words")
    check.add_argument("--config", default=None, help="envoy.yaml to check (default: the shipped one)")
    check.set_defaults(func=_check)

    imports = commands.add_parser(
        "import-litellm", help="turn a LiteLLM proxy config (model_list, fallbacks) into an envoy.yaml"
    )
    imports.add_argument("litellm_config", help="the LiteLLM proxy config.yaml")
    imports.add_argument("--output", "-o", default="-", help="where to write the envoy.yaml (default: stdout)")
    imports.add_argument("--template", default=None, help="envoy.yaml whose listener and filters to keep (default: the shipped one)")
    imports.set_defaults(func=_import_litellm)

    compare = commands.add_parser("compare", help="send one request set to a LiteLLM proxy and to the gateway, side by side")
    compare.add_argument("--litellm", required=True, help="the LiteLLM proxy's base URL, e.g. http://127.0.0.1:4000")
    compare.add_argument("--gateway", default="http://127.0.0.1:8080", help="the gateway's base URL")
    compare.add_argument("--model", required=True, help="a chat model name both serve")
    compare.add_argument("--embeddings-model", default=None, help="an embeddings model name both serve")
    compare.add_argument(
        "--router", default=None, metavar="MODEL",
        help="a virtual model of the gateway (e.g. auto): routing probes go to it, and to --model on LiteLLM",
    )
    compare.add_argument(
        "--litellm-key", default=os.environ.get("LITELLM_MASTER_KEY"), help="LiteLLM's key (default: $LITELLM_MASTER_KEY)"
    )
    compare.add_argument(
        "--gateway-key", default=os.environ.get("LLM_GATEWAY_KEY"), help="the gateway API key (default: LLM_GATEWAY_KEY)"
    )
    compare.set_defaults(func=_compare)

    from extproc.fake_provider import add_arguments

    fake = commands.add_parser("fake-provider", help="run the fake LLM provider (OpenAI, Anthropic, Gemini wire formats)")
    add_arguments(fake)
    fake.set_defaults(func=_fake_provider)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from extproc.app import build_gateway
    from extproc.config.envoy_yaml import DEFAULT_CONFIG, read_config
    from extproc.ext_proc.server import Listen, serve
    from extproc.telemetry import metrics, tracing

    _use_uvloop()
    # Before anything is counted: several processes of one gateway share a directory.
    metrics.configure(os.environ.get(metrics.MULTIPROC_DIR_ENV))
    from extproc.tenancy.settings import load_settings

    config = read_config(args.config or DEFAULT_CONFIG)
    if args.preflight:
        from extproc.ops.preflight import problems

        for problem in problems(config):
            logging.getLogger("extproc.ops.preflight").error("%s", problem)
    from extproc.config.catalog import CatalogError
    from extproc.tenancy.settings import SettingsError

    try:
        settings = load_settings(config).with_overrides(keys_file=args.keys_file, redis_url=args.redis_url)
        gateway = build_gateway(config, settings=settings)
    except (CatalogError, SettingsError) as exc:
        # A configuration the gateway cannot run (a routing rule naming a missing model, say): refuse to start.
        print(f"problem: {exc}; `llm-gateway check --config FILE` lists every problem", file=sys.stderr)
        return 1
    listen = Listen(host=args.host, port=args.port, uds=args.uds, metrics_port=args.metrics_port)
    tracing.configure(tracing.settings_from_config(config))
    try:
        asyncio.run(serve(gateway, listen, drain_seconds=args.drain_seconds))
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
    from extproc.ops.up import run_up

    return run_up(
        config_path=args.config or DEFAULT_CONFIG,
        port=args.port,
        admin_port=args.admin_port,
        workers=args.workers,
        service_port=args.service_port,
        unix_sockets=not args.tcp,
        fake_provider_port=args.fake_provider_port,
        fake_provider=False if args.no_fake_provider else None,
        otlp_endpoint=args.otlp_endpoint,
        trace_sampling_percent=args.trace_sampling,
    )


def _keys(args: argparse.Namespace) -> int:
    from extproc.ops.keys_cli import run

    return run(args)


def _cache(args: argparse.Namespace) -> int:
    from extproc.ops.cache_cli import run

    return run(args)


def _prompts(args: argparse.Namespace) -> int:
    from extproc.prompts.cli import run

    return run(args)


def _eval(args: argparse.Namespace) -> int:
    from extproc.evals.cli import run

    return run(args)


def _import_litellm(args: argparse.Namespace) -> int:
    import yaml

    from extproc.config.envoy_yaml import DEFAULT_CONFIG, read_config
    from extproc.ops.litellm_import import LiteLLMImportError, import_litellm

    try:
        with open(args.litellm_config, encoding="utf-8") as handle:
            source = yaml.safe_load(handle)
        imported = import_litellm(source if isinstance(source, dict) else {}, read_config(args.template or DEFAULT_CONFIG))
    except (OSError, yaml.YAMLError, LiteLLMImportError) as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 1
    text = (
        f"# Generated by `llm-gateway import-litellm {args.litellm_config}`.\n"
        "# Check it with `llm-gateway check --config FILE`; see docs/configuration.md.\n"
        + yaml.safe_dump(imported.config, sort_keys=False)
    )
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    import httpx

    from extproc.ops.compare import default_probes, report, routing_probes, run

    if not args.litellm_key:
        print("problem: LiteLLM needs its key: --litellm-key or LITELLM_MASTER_KEY", file=sys.stderr)
        return 1
    probes = default_probes(args.model, args.embeddings_model)
    if args.router:
        probes += routing_probes(args.model, args.router)
    with httpx.Client(base_url=args.litellm, timeout=120) as litellm, httpx.Client(base_url=args.gateway, timeout=120) as gateway:
        rows = run(litellm, gateway, probes, args.litellm_key, args.gateway_key)
    print(report(rows))
    return 0


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
