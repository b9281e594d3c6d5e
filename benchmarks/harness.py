"""Side-by-side throughput and latency: bare Envoy and the gateway, one invocation.

    .venv/bin/python -m benchmarks.harness [--duration 10] [--connections 16] [--rate 100]

Every variant runs against the same fastest-possible upstream (an Envoy
answering with a canned chat completion, `benchmarks/upstream.yaml`), one
after the other, in one run: the machines are shared and noisy, so only
ratios measured together mean anything. Load comes from `wrk` (closed loop,
fixed concurrency) and from an open-loop client at a fixed rate.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG, iter_routes
from extproc.ops.envoy_config import FAKE_PROVIDER_KEY_ENV, render
from extproc.ops.launcher import Child, Stack, StackOptions, envoy_binary, free_port, terminate
from extproc.ops.litellm_proxy import LITELLM, litellm_proxy
from extproc.tenancy.keys import FileKeyStore, RedisKeyStore, generate_key, new_record
from extproc.tenancy.settings import STORE_PATH_ENV, tenancy_metadata

HERE = Path(__file__).resolve().parent
BODY = '{"model":"%s","messages":[{"role":"user","content":"Say hello"}],"max_tokens":16}'
# Every variant sends the same key header: the gateway checks it, the others ignore it.
BENCH_KEY = generate_key()
AUTH = {"Authorization": f"Bearer {BENCH_KEY}"}
# Limits high enough never to refuse: the row measures their cost, not their effect.
NEVER_REFUSING = {
    "per_tenant": {"requests_per_minute": 10**9, "tokens_per_minute": 10**12},
    "per_key": {"requests_per_minute": 10**9, "tokens_per_minute": 10**12},
    "budget": {"usd_per_day": 10**9, "usd_per_month": 10**9},
}
# The gateway's routes measured: OpenAI prepared once at the router, OpenAI
# prepared per attempt, and Anthropic translated per attempt.
GATEWAY_ROUTES = [
    ("router-prepared (fast)", "fast"),
    ("per-attempt filter (smart)", "smart"),
    ("translated to Anthropic (claude)", "claude"),
]
STREAM_BODY = '{"model":"%s","messages":[{"role":"user","content":"Say hello"}],"max_tokens":16,"stream":true}'


@dataclass
class Result:
    """One variant's figures."""

    name: str
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    rate_p50_ms: float | None = None
    rate_p99_ms: float | None = None
    # Streaming: time to the first body byte at the fixed rate.
    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per variant")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=int, default=100, help="requests per second of the fixed-rate run")
    parser.add_argument("--rate-seconds", type=int, default=10)
    parser.add_argument("--workers", default="1,2", help="service processes to try, comma-separated")
    parser.add_argument("--envoy-concurrency", type=int, default=None, help="Envoy worker threads (default: one per core)")
    parser.add_argument("--unix-sockets", action="store_true", help="Envoy reaches the service over Unix sockets")
    parser.add_argument("--skip-limits", action="store_true", help="skip the row with limits in a shared Redis")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (scripts/install.sh test does)")
    results = run(args)
    print(table(results))


def run(args: argparse.Namespace) -> list[Result]:
    """Run every variant once and return their figures."""
    tmp = Path(tempfile.mkdtemp(prefix="llm-gateway-bench-"))
    upstream_port = free_port()
    upstream = _start_envoy(_upstream_config(upstream_port), tmp / "upstream.yaml", concurrency=1)
    results: list[Result] = []
    try:
        _wait_port(upstream_port)
        source = _benchmark_source(upstream_port)
        bare_port = free_port()
        bare = _start_envoy(_bare_config(source, bare_port), tmp / "bare.yaml", args.envoy_concurrency)
        try:
            _wait_port(bare_port)
            bare_result = _measure("bare Envoy", bare_port, "fast", args)
            _measure_ttft(bare_result, bare_port, "fast", args)
            results.append(bare_result)
        finally:
            _stop(bare)
        results.append(_upstream_alone("canned upstream alone (no proxy)", upstream_port, args))
        results.append(_fake_provider_alone(args))
        keys_file = tmp / "keys.json"
        asyncio.run(FileKeyStore(keys_file).add(new_record(BENCH_KEY, "bench")))
        # Keys checked, no limits, no privacy policy: the data path of issues 2-4.
        source_path = tmp / "gateway-source.yaml"
        source_path.write_text(yaml.safe_dump(_with_tenancy(source, limits={}, privacy={}), sort_keys=False))
        worker_counts = [int(w) for w in args.workers.split(",")]
        for workers in worker_counts:
            with _gateway(source_path, tmp / f"gateway-{workers}", workers, keys_file, args) as stack:
                for label, model in GATEWAY_ROUTES:
                    result = _measure(f"gateway, {workers} proc, {label}", stack.port, model, args)
                    _measure_ttft(result, stack.port, model, args)
                    results.append(result)
        if not args.skip_limits:
            results.append(_with_shared_limits(source, tmp, max(worker_counts), args))
        results.append(_with_privacy(source, tmp, max(worker_counts), keys_file, args))
        results.append(_with_exact_cache(source, tmp, max(worker_counts), keys_file, args))
        results.append(_with_semantic_cache(source, tmp, max(worker_counts), keys_file, args))
        if LITELLM.exists():
            results.append(_litellm_proxy_alone(upstream_port, tmp, args))
    finally:
        _stop(upstream)
    return results


@contextmanager
def _gateway(
    config_path: Path, run_dir: Path, workers: int, keys_file: Path | None, args: argparse.Namespace,
    otlp_endpoint: str | None = None,
) -> Iterator[Stack]:  # fmt: skip
    stack = Stack(
        StackOptions(
            config_path=config_path,
            port=0,
            admin_port=0,
            workers=workers,
            service_port=0,
            fake_provider=False,
            run_dir=run_dir,
            capture_logs=True,
            # The embedded store (limits, the exact cache) in the run's own directory: a host-wide file
            # would carry cache entries from one run, or one row, into the next.
            extra_env={FAKE_PROVIDER_KEY_ENV: "bench-key", STORE_PATH_ENV: str(run_dir / "store.sqlite3")},
            unix_sockets=args.unix_sockets,
            envoy_concurrency=args.envoy_concurrency,
            keys_file=keys_file,
            otlp_endpoint=otlp_endpoint,
        )
    ).start()
    try:
        yield stack
    finally:
        stack.stop()


def _with_shared_limits(source: dict[str, Any], tmp: Path, workers: int, args: argparse.Namespace) -> Result:
    """The `fast` route with keys, stacked limits and budgets in one Redis shared by the processes."""
    from tests.support.redis_server import redis_server  # the test suite's real-Redis launcher

    with redis_server(tmp) as url:
        client = redis.asyncio.Redis.from_url(url, decode_responses=True)

        async def add_key() -> None:
            await RedisKeyStore(client).add(new_record(BENCH_KEY, "bench"))
            await client.aclose()

        asyncio.run(add_key())
        config = _with_tenancy(source, limits=NEVER_REFUSING, store={"kind": "redis", "redis_url": url})
        config_path = tmp / "gateway-limits.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        with _gateway(config_path, tmp / "gateway-limits", workers, None, args) as stack:
            result = _measure(f"gateway, {workers} proc, fast, limits on (Redis shared)", stack.port, "fast", args)
            _measure_ttft(result, stack.port, "fast", args)
    return result


def _with_privacy(source: dict[str, Any], tmp: Path, workers: int, keys_file: Path, args: argparse.Namespace) -> Result:
    """The `fast` route with the shipped privacy policy: the prompt scanned and masked, the answer
    through the output guard (streams decoded and re-encoded); no limits."""
    config_path = tmp / "gateway-privacy.yaml"
    config_path.write_text(yaml.safe_dump(_with_tenancy(source, limits={}), sort_keys=False))
    with _gateway(config_path, tmp / "gateway-privacy", workers, keys_file, args) as stack:
        result = _measure(f"gateway, {workers} proc, fast, privacy policy on (shipped)", stack.port, "fast", args)
        _measure_ttft(result, stack.port, "fast", args)
    return result


def _with_exact_cache(source: dict[str, Any], tmp: Path, workers: int, keys_file: Path, args: argparse.Namespace) -> Result:
    """The `fast` route answered from the exact cache (each process's LRU): every request after a
    process's first is a hit the service replays, and no provider is called."""
    config_path = tmp / "gateway-cache.yaml"
    config = _with_tenancy(source, limits={}, privacy={}, cache={"mode": "exact", "ttl_seconds": 3600})
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    with _gateway(config_path, tmp / "gateway-cache", workers, keys_file, args) as stack:
        result = _measure(f"gateway, {workers} proc, fast, exact cache hits", stack.port, "fast", args)
        _measure_ttft(result, stack.port, "fast", args)
    return result


# A paraphrase of BODY's prompt: after priming with BODY, every request is a semantic hit (a hit
# stores nothing, so the same text is embedded and searched each time).
PARAPHRASE_BODY = '{"model":"fast","messages":[{"role":"user","content":"Please say hello"}],"max_tokens":16}'


def _with_semantic_cache(source: dict[str, Any], tmp: Path, workers: int, keys_file: Path, args: argparse.Namespace) -> Result:
    """The `fast` route answered by meaning from each process's in-process index: the embedding
    (ONNX Runtime), the search and the guards on every request."""
    config_path = tmp / "gateway-semantic.yaml"
    config = _with_tenancy(source, limits={}, privacy={}, cache={"mode": "semantic", "ttl_seconds": 3600})
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    url_path = "/v1/chat/completions"
    with _gateway(config_path, tmp / "gateway-semantic", workers, keys_file, args) as stack:
        url = f"http://127.0.0.1:{stack.port}{url_path}"
        with httpx.Client(timeout=30, headers=AUTH) as http:
            for _ in range(8 * workers):  # every process stores the original once
                http.post(url, content=BODY % "fast", headers={"content-type": "application/json"})
            probe = http.post(url, content=PARAPHRASE_BODY, headers={"content-type": "application/json"})
        assert probe.headers.get("x-gateway-cache-match") == "semantic", probe.headers
        result = _wrk_with_headers(
            f"gateway, {workers} proc, fast, semantic cache hits", url, "fast", args.duration, args.connections, AUTH,
            PARAPHRASE_BODY,
        )
    print(f"{result.name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms", flush=True)
    return result


def _with_tenancy(source: dict[str, Any], **meta: Any) -> dict[str, Any]:
    """`source` with the `llm` virtual host's tenancy settings replaced by `meta` (and no per-model limits)."""
    config = copy.deepcopy(source)
    tenancy_metadata(config).update(meta)
    for route in iter_routes(config):
        ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway", {}).pop("limits", None)
    return config


def _litellm_proxy_alone(upstream_port: int, tmp: Path, args: argparse.Namespace) -> Result:
    """One LiteLLM proxy instance (its default: one process) on the same canned upstream, same wrk load."""
    config = {"model_list": [{"model_name": "fast", "litellm_params": {
        "model": "openai/gpt-4o-mini", "api_base": f"http://127.0.0.1:{upstream_port}/v1", "api_key": "bench-key"}}]}  # fmt: skip
    with litellm_proxy(config, tmp, {}) as proxy:
        url = f"{proxy.url}/v1/chat/completions"
        result = _wrk_with_headers(
            "LiteLLM proxy (1 instance)", url, "fast", args.duration, args.connections, {"Authorization": f"Bearer {proxy.key}"}
        )
    print(f"{result.name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms", flush=True)
    return result


def table(results: list[Result]) -> str:
    """A markdown table with ratios against the first (bare Envoy) row."""
    base = results[0]
    lines = [
        "| variant | req/s | vs bare | p50 ms | p99 ms | errors | p50 ms @rate | p99 ms @rate | added p50 @rate "
        "| TTFT p50 ms @rate | added TTFT p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.rate_p50_ms is None:
            at_rate = "| – | – | – |"
        else:
            added = r.rate_p50_ms - (base.rate_p50_ms or 0)
            at_rate = f"| {r.rate_p50_ms:.2f} | {r.rate_p99_ms or 0:.2f} | {added:+.2f} |"
        if r.ttft_p50_ms is None:
            ttft = " – | – |"
        else:
            ttft = f" {r.ttft_p50_ms:.2f} | {r.ttft_p50_ms - (base.ttft_p50_ms or 0):+.2f} |"
        lines.append(
            f"| {r.name} | {r.rps:,.0f} | {r.rps / base.rps:.1%} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} {at_rate}{ttft}"
        )
    litellm = next((r for r in results if r.name.startswith("LiteLLM proxy")), None)
    if litellm is not None and litellm.rps > 0:
        lines.append("")
        for r in results:
            if r.name.startswith("gateway"):
                lines.append(f"- {r.name}: {r.rps / litellm.rps:.1f}x the LiteLLM proxy's throughput")
    return "\n".join(lines)


def _measure(name: str, port: int, model: str, args: argparse.Namespace) -> Result:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    result = _wrk(name, url, model, args.duration, args.connections)
    result.rate_p50_ms, result.rate_p99_ms = asyncio.run(_fixed_rate(url, model, args.rate, args.rate_seconds))
    print(f"{name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms @rate {result.rate_p50_ms:.2f} ms", flush=True)
    return result


def _measure_ttft(result: Result, port: int, model: str, args: argparse.Namespace) -> None:
    """Time to the first streamed byte, at the fixed rate (the canned stream answers at once)."""
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    result.ttft_p50_ms, result.ttft_p99_ms = asyncio.run(_fixed_rate(url, model, args.rate, args.rate_seconds, stream=True))
    print(f"{result.name}: stream TTFT p50 {result.ttft_p50_ms:.2f} ms", flush=True)


def _upstream_alone(name: str, port: int, args: argparse.Namespace) -> Result:
    return _wrk(name, f"http://127.0.0.1:{port}/v1/chat/completions", "fast", args.duration, args.connections)


def _fake_provider_alone(args: argparse.Namespace) -> Result:
    """The fake provider must not be what limits a benchmark: measure it alone, same request."""
    from extproc.fake_provider import FakeConfig
    from extproc.fake_provider.testing import running

    with running(FakeConfig()) as server:
        result = _wrk_with_headers(
            "fake provider alone (1 process)",
            f"{server.url}/v1/chat/completions",
            "gpt-4o-mini",
            args.duration,
            args.connections,
            {"Authorization": "Bearer bench"},
        )
    return result


def _wrk(name: str, url: str, model: str, duration: int, connections: int) -> Result:
    return _wrk_with_headers(name, url, model, duration, connections, AUTH)


def _wrk_with_headers(
    name: str, url: str, model: str, duration: int, connections: int, headers: dict[str, str], body: str | None = None
) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        for key, value in headers.items():
            script.write(f'wrk.headers["{key}"] = "{value}"\n')
        script.write(f"wrk.body = '{body or BODY % model}'\n")
    # Warm up (connections, caches), then measure.
    subprocess.run(["wrk", "-t2", f"-c{connections}", "-d2s", "-s", script.name, url], capture_output=True, check=True)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_wrk(name, out)


def parse_wrk(name: str, out: str) -> Result:
    """Throughput, p50, p99 and non-2xx count from `wrk --latency` output."""
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(
        name=name,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_wrk_ms(out, "50%"),
        p99_ms=_wrk_ms(out, "99%"),
        errors=int(errors.group(1)) if errors else 0,
    )


def _wrk_ms(out: str, percentile: str) -> float:
    match = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", out)
    assert match, out
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


async def _fixed_rate(
    url: str,
    model: str,
    rate: int,
    seconds: int,
    stream: bool = False,
    headers: dict[str, str] | None = None,
    body_for: Callable[[int], bytes] | None = None,
) -> tuple[float, float]:
    """Open loop: one request every 1/rate s whatever the answers do; p50 and p99 in ms.

    With `stream`, the request asks for a stream and the time is to its first body byte.
    `headers` replace the benchmark key; `body_for(n)` gives the n-th request's body.
    """
    latencies: list[float] = []
    default_body = ((STREAM_BODY if stream else BODY) % model).encode()
    headers = {"content-type": "application/json", **(AUTH if headers is None else headers),
               **({"x-canned-stream": "1"} if stream else {})}  # fmt: skip
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    sent = 0
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one() -> None:
            nonlocal sent
            sent += 1
            body = body_for(sent) if body_for is not None else default_body
            start = time.perf_counter()
            first: float | None = None
            try:
                async with client.stream("POST", url, content=body, headers=headers) as response:
                    async for _ in response.aiter_raw():
                        if first is None:
                            first = (time.perf_counter() - start) * 1000
            except httpx.HTTPError:
                return  # an overloaded server (LiteLLM at 100/s) resets some: they count as failures, not latencies
            # Streams count to their first byte; buffered answers to their last.
            elapsed = first if stream and first is not None else (time.perf_counter() - start) * 1000
            if response.status_code == 200:
                latencies.append(elapsed)

        for _ in range(rate):  # warm-up second, not recorded
            await one()
        latencies.clear()
        tasks = []
        start = time.perf_counter()
        for i in range(rate * seconds):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    if not latencies:
        return float("nan"), float("nan")
    latencies.sort()
    return statistics.median(latencies), latencies[max(int(len(latencies) * 0.99) - 1, 0)]


def _benchmark_source(upstream_port: int) -> dict[str, Any]:
    """The shipped envoy.yaml, pointed at the canned upstream, with the per-IP bucket out of the way."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config = render(config, fake_provider_port=upstream_port)
    for http_filter in _hcm(config)["http_filters"]:
        if http_filter["name"] == "envoy.filters.http.local_ratelimit":
            http_filter["typed_config"]["descriptors"][0]["token_bucket"] = {
                "max_tokens": 10_000_000, "tokens_per_fill": 10_000_000, "fill_interval": "1s"
            }
    return config


def _bare_config(source: dict[str, Any], port: int) -> dict[str, Any]:
    """The same Envoy without the gateway: no ext_proc filters, model routes without the header match."""
    config = render(copy.deepcopy(source), listener_port=port, admin_port=free_port())
    hcm = _hcm(config)
    hcm["http_filters"] = [f for f in hcm["http_filters"] if f["name"] != "envoy.filters.http.ext_proc"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    routes[0]["match"].pop("headers", None)
    clusters = config["static_resources"]["clusters"]
    config["static_resources"]["clusters"] = [c for c in clusters if c["name"] != "llm_gateway_extproc"]
    for cluster in config["static_resources"]["clusters"]:
        cluster.pop("typed_extension_protocol_options", None)
    return config


def _upstream_config(port: int) -> dict[str, Any]:
    config = yaml.safe_load((HERE / "upstream.yaml").read_text())
    config["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"] = port
    return config


def _hcm(config: dict[str, Any]) -> dict[str, Any]:
    return config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]


def _start_envoy(config: dict[str, Any], path: Path, concurrency: int | None = None) -> subprocess.Popen[bytes]:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    command = [envoy_binary(), "-c", str(path), "--disable-hot-restart", "-l", "error"]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    terminate(Child("envoy", process, None, None))


if __name__ == "__main__":
    main()
