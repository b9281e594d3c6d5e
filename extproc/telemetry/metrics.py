"""Prometheus metrics: running totals of tokens, cost and requests, summed across service processes.

The service records each answer with `record_answer` and each request it
answered itself with `record_rejection`; operators read the totals at
`GET /metrics`, answered by the service through Envoy (`render`) or on the
service's own port (`start_http_server`).

Metrics (Prometheus names; the `gen_ai_*` ones are the OpenTelemetry GenAI
client metrics `gen_ai.client.token.usage` and `gen_ai.client.operation.duration`
as an OpenTelemetry-to-Prometheus exporter would name them):

    llm_gateway_requests_total{route, status, stream}             counter: answers
    llm_gateway_tokens_total{model, provider, tenant, type}       counter: tokens, type=prompt|completion|cached
    llm_gateway_cost_usd_total{model, provider, tenant}           counter: USD
    llm_gateway_usage_estimated_total{model, provider}            counter: answers whose usage the gateway estimated
    llm_gateway_rejections_total{reason, status}                  counter: requests the gateway answered itself
    gen_ai_client_token_usage{gen_ai_operation_name, gen_ai_provider_name,
        gen_ai_request_model, gen_ai_response_model, gen_ai_token_type}   histogram: tokens per answer, input|output
    gen_ai_client_operation_duration_seconds{gen_ai_operation_name, gen_ai_provider_name,
        gen_ai_request_model, gen_ai_response_model, error_type}          histogram: seconds per answer
    gen_ai_server_time_to_first_token_seconds{gen_ai_*}                   histogram: streams, to the first bytes
    gen_ai_server_time_per_output_token_seconds{gen_ai_*}                 histogram: streams, per token after the first
    llm_gateway_upstream_latency_seconds{model, provider}                 histogram: provider, to its headers (Envoy's measure)
    llm_gateway_overhead_seconds{route}                                   histogram: the service's own time per request
    llm_gateway_fallbacks_total{route, provider}                          counter: answers served by a later attempt
    llm_gateway_redactions_total, llm_gateway_cache_*                     counters: privacy policy and cache outcomes

Rate-limit and budget refusals are `llm_gateway_rejections_total` with
reason `rate_limit_exceeded` or `budget_exceeded` (status 429). Envoy's own
statistics (connections, per-cluster upstream requests, retries, local rate
limit) are at its admin `/stats/prometheus`; `GET /metrics` through the
gateway appends them when the service knows the admin address.

Label values, as the processor should pass them:

- route: the catalog route that served the request, i.e. the public model name
  with aliases resolved (`ctx.route.name`).
- model: the model the gateway asked the provider for (`endpoint.upstream_model`);
  it is also `gen_ai_request_model`. Prices are per provider model, so cost is too.
- response_model: the model the provider says answered (`usage.model`).
- provider: LiteLLM's provider prefix (`endpoint.provider`); `gen_ai_provider_name`
  carries the semantic-convention spelling of the same provider (`gemini` ->
  `gcp.gemini`, `bedrock` -> `aws.bedrock`, ...).
- tenant: the tenant id (`ctx.tenant`), bounded by configuration.
- status: the HTTP status the client got; stream: `true` or `false`.
- type=cached counts the prompt tokens served from the provider's cache; they
  are included in type=prompt too, as providers report them.
- error_type: the status for answers of 400 and above, empty below, "unknown"
  without a status.

None and empty values become "unknown". Request ids, prompts, keys or anything
else per request never go into a label: every label value must come from a set
bounded by configuration (models, providers, tenants, statuses, reasons).
Requests answered by a provider count in `llm_gateway_requests_total`, those the
gateway answered itself (bad input, unknown model, cost limit) in
`llm_gateway_rejections_total`; all requests are the sum of the two. The
`gen_ai_client_token_usage` histogram holds provider-reported usage only (the
semantic conventions forbid offline counts unless asked for); estimated usage
counts in `llm_gateway_tokens_total` and in `llm_gateway_usage_estimated_total`.

Several processes. With a directory configured, every process writes its values
to its own files there (prometheus-client's multiprocess mode: `counter_<pid>.db`,
`histogram_<pid>.db`) and `render` in any process sums every file. Constraints:

- `configure(directory)` runs once per process at start-up, before anything is
  recorded. It sets PROMETHEUS_MULTIPROC_DIR in this process's environment and
  switches prometheus-client's value class, which the library otherwise picks
  from that variable when it is first imported; it affects every metric created
  afterwards in the process, ours or a library's. Without a call, the first
  record or render configures from PROMETHEUS_MULTIPROC_DIR if it is set.
- All processes of one gateway share one directory, and it must be empty when
  the first of them starts: files left by an earlier run would be summed in.
  `prepare_directory` empties it; never while a process writes there.
- Files of processes that have exited stay, so that their totals stay in the
  sums (counters must not go down). `mark_process_dead(pid)` is the launcher's
  hook when a service process exits; it removes what a dead process must not
  contribute (live gauges, none today).
- Neither mode exposes `_created` series or exemplars (multiprocess mode has
  none); the exposition is the classic Prometheus text format (version 0.0.4).
"""

from __future__ import annotations

import asyncio
import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess, values
from prometheus_client.metrics_core import Metric

__all__ = [
    "CONTENT_TYPE",
    "MULTIPROC_DIR_ENV",
    "UNKNOWN",
    "MetricsServer",
    "configure",
    "mark_process_dead",
    "prepare_directory",
    "record_answer",
    "record_cache",
    "record_cache_exploration",
    "record_cache_hit",
    "record_cache_risk",
    "record_overhead",
    "record_redactions",
    "record_rejection",
    "render",
    "semconv_provider",
    "start_http_server",
]

# MULTIPROC_DIR_ENV is the variable prometheus-client reads for its multiprocess directory.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# CONTENT_TYPE is the classic Prometheus text format, which every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# UNKNOWN is the label value for None and empty values.
UNKNOWN = "unknown"

# Bucket boundaries the GenAI semantic conventions recommend.
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
# The semantic conventions' advice for time to first token.
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# The semantic conventions' advice for time per output token.
_TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
# The gateway's own processing time per request: tenths of a millisecond up.
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
# LiteLLM provider prefixes whose `gen_ai.provider.name` is spelled differently.
_SEMCONV_PROVIDERS = {
    "azure": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "bedrock": "aws.bedrock",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "vertex_ai": "gcp.vertex_ai",
    "watsonx": "ibm.watsonx.ai",
    "xai": "x_ai",
}
# A label value longer than this is cut: a provider's model string is not ours to trust.
_MAX_LABEL_CHARS = 128
# Cached label sets per process before the cache starts over (a safety net, not a limit).
_CACHE_LIMIT = 10_000


def semconv_provider(provider: str) -> str:
    """The `gen_ai.provider.name` spelling of a LiteLLM provider prefix (`gemini` -> `gcp.gemini`)."""
    return _SEMCONV_PROVIDERS.get(provider, provider)


class _Metrics:
    """_Metrics is every metric the gateway exports: the one place they are defined."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "llm_gateway_requests_total",
            "Answers from providers, by catalog route, HTTP status and streaming.",
            ("route", "status", "stream"),
            registry=registry,
        )
        self.tokens = Counter(
            "llm_gateway_tokens_total",
            "Tokens, by provider model, provider, tenant and type (cached tokens are also prompt tokens).",
            ("model", "provider", "tenant", "type"),
            registry=registry,
        )
        self.cost = Counter(
            "llm_gateway_cost_usd_total",
            "Cost in USD, by provider model, provider and tenant.",
            ("model", "provider", "tenant"),
            registry=registry,
        )
        self.estimated = Counter(
            "llm_gateway_usage_estimated_total",
            "Answers whose usage the provider did not report and the gateway estimated.",
            ("model", "provider"),
            registry=registry,
        )
        self.rejections = Counter(
            "llm_gateway_rejections_total",
            "Requests the gateway answered itself, by reason and HTTP status.",
            ("reason", "status"),
            registry=registry,
        )
        self.redactions = Counter(
            "llm_gateway_redactions_total",
            "Sensitive values the privacy policy acted on, by route, direction (request, response),"
            " entity and action (mask, block).",
            ("route", "direction", "entity", "action"),
            registry=registry,
        )
        self.cache = Counter(
            "llm_gateway_cache_requests_total",
            "Requests the cache looked at, by route, tenant and outcome (hit, miss, bypass).",
            ("route", "tenant", "outcome"),
            registry=registry,
        )
        self.cache_saved_tokens = Counter(
            "llm_gateway_cache_saved_tokens_total",
            "Prompt and completion tokens that cache hits did not spend, by route and tenant.",
            ("route", "tenant"),
            registry=registry,
        )
        self.cache_saved_usd = Counter(
            "llm_gateway_cache_saved_usd_total",
            "What cache hits would have cost at the provider, in USD, by route and tenant.",
            ("route", "tenant"),
            registry=registry,
        )
        self.cache_explorations = Counter(
            "llm_gateway_cache_explorations_total",
            "Would-be semantic hits sent to the provider to learn whether the cached answer was right, by"
            " route, tenant and outcome (right, wrong, unlabelled: the fresh answer could not be compared).",
            ("route", "tenant", "outcome"),
            registry=registry,
        )
        self.cache_exploration_usd = Counter(
            "llm_gateway_cache_exploration_usd_total",
            "What explored requests cost at the provider, in USD, by route and tenant.",
            ("route", "tenant"),
            registry=registry,
        )
        self.cache_expected_errors = Counter(
            "llm_gateway_cache_expected_errors_total",
            "Learned semantic hits' chances of being wrong, summed: the wrong answers the cache expects to"
            " have served, by route and tenant.",
            ("route", "tenant"),
            registry=registry,
        )
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Number of input and output tokens used, as providers reported them.",
            ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model",
             "gen_ai_token_type"),
            registry=registry,
            buckets=_TOKEN_BUCKETS,
        )  # fmt: skip
        self.fallbacks = Counter(
            "llm_gateway_fallbacks_total",
            "Answers served by a retry or a fallback (an attempt after the first), by route and the provider that served.",
            ("route", "provider"),
            registry=registry,
        )
        self.time_to_first_token = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from the request's arrival to the first streamed bytes the client gets.",
            ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model"),
            registry=registry,
            buckets=_TTFT_BUCKETS,
        )
        self.time_per_output_token = Histogram(
            "gen_ai_server_time_per_output_token_seconds",
            "Time per output token after the first, for streamed answers.",
            ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model"),
            registry=registry,
            buckets=_TPOT_BUCKETS,
        )
        self.upstream_latency = Histogram(
            "llm_gateway_upstream_latency_seconds",
            "Time from the request to the provider until its response headers, as Envoy measured it"
            " (x-envoy-upstream-service-time), by provider model and provider.",
            ("model", "provider"),
            registry=registry,
            buckets=_DURATION_BUCKETS,
        )
        self.overhead = Histogram(
            "llm_gateway_overhead_seconds",
            "Time the service spent on one request's ext_proc messages, all phases summed: the gateway's"
            " own processing, without the provider or the waits between messages. By catalog route.",
            ("route",),
            registry=registry,
            buckets=_OVERHEAD_BUCKETS,
        )
        self.duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration.",
            ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model",
             "error_type"),
            registry=registry,
            buckets=_DURATION_BUCKETS,
        )  # fmt: skip


class _WithoutCreated:
    """_WithoutCreated collects a registry without its `_created` series.

    Multiprocess mode has none, and the classic text format would make each
    one a series of its own: both modes expose the same series this way.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        """collect yields the registry's families (built afresh on each call) minus `_created` samples."""
        for family in self._registry.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


@dataclass(slots=True)
class _AnswerSeries:
    """_AnswerSeries holds the labelled children one kind of answer increments."""

    requests: Counter
    prompt: Counter
    completion: Counter
    cached: Counter
    cost: Counter
    estimated: Counter
    input_usage: Histogram
    output_usage: Histogram
    duration: Histogram
    fallbacks: Counter
    time_to_first_token: Histogram
    time_per_output_token: Histogram
    upstream_latency: Histogram


# (route, model, response_model, provider, tenant, status, stream, operation), as passed.
_AnswerKey = tuple[str | None, str | None, str | None, str | None, str, int | None, bool, str]


class _State:
    """_State is this process's metrics: mode, definitions and cached children."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        registry = CollectorRegistry()
        self.metrics = _Metrics(registry)
        self.exposition: CollectorRegistry | _WithoutCreated
        if directory:
            # Metrics are read back from every process's files, not from this registry.
            self.exposition = CollectorRegistry()
            multiprocess.MultiProcessCollector(self.exposition, path=directory)  # type: ignore[no-untyped-call]
        else:
            self.exposition = _WithoutCreated(registry)
        self.answers: dict[_AnswerKey, _AnswerSeries] = {}
        self.rejections: dict[tuple[str, int], Counter] = {}
        self.overheads: dict[str | None, Histogram] = {}

    def answer_series(self, key: _AnswerKey) -> _AnswerSeries:
        """The children for one kind of answer, created and cached on first use."""
        route, model, response_model, provider, tenant, status, stream, operation = key
        m = self.metrics
        model_l, provider_l, tenant_l = _label(model), _label(provider), _label(tenant)
        gen_ai = (_label(operation), semconv_provider(provider_l), model_l, _label(response_model))
        error_type = "" if status is not None and status < 400 else _label(status)
        series = _AnswerSeries(
            requests=m.requests.labels(_label(route), _label(status), "true" if stream else "false"),
            prompt=m.tokens.labels(model_l, provider_l, tenant_l, "prompt"),
            completion=m.tokens.labels(model_l, provider_l, tenant_l, "completion"),
            cached=m.tokens.labels(model_l, provider_l, tenant_l, "cached"),
            cost=m.cost.labels(model_l, provider_l, tenant_l),
            estimated=m.estimated.labels(model_l, provider_l),
            input_usage=m.token_usage.labels(*gen_ai, "input"),
            output_usage=m.token_usage.labels(*gen_ai, "output"),
            duration=m.duration.labels(*gen_ai, error_type),
            fallbacks=m.fallbacks.labels(_label(route), provider_l),
            time_to_first_token=m.time_to_first_token.labels(*gen_ai),
            time_per_output_token=m.time_per_output_token.labels(*gen_ai),
            upstream_latency=m.upstream_latency.labels(model_l, provider_l),
        )
        if len(self.answers) >= _CACHE_LIMIT:
            self.answers.clear()
        self.answers[key] = series
        return series

    def rejection_counter(self, reason: str, status: int) -> Counter:
        """The child for one rejection reason and status, created and cached on first use."""
        child = self.metrics.rejections.labels(_label(reason), _label(status))
        if len(self.rejections) >= _CACHE_LIMIT:
            self.rejections.clear()
        self.rejections[(reason, status)] = child
        return child


# The process's metrics. Module state because prometheus-client's multiprocess
# mode is itself per process (one value class, one file per pid); set by configure().
_state: _State | None = None


def configure(directory: str | None) -> None:
    """configure chooses this process's mode: a shared directory (several processes) or None (one).

    Call it once at start-up, before anything is recorded. A later call starts
    this process's metrics afresh (tests use it); in multiprocess mode the
    totals already in the directory stay.
    """
    global _state
    if _state is not None and _state.directory:
        # Release this process's files before opening them (or others) again.
        close = getattr(values, "close_all_multiprocess_files", None)
        if close is not None:
            close()
    if directory:
        directory = os.path.abspath(directory)
        os.makedirs(directory, exist_ok=True)
        os.environ[MULTIPROC_DIR_ENV] = directory
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    else:
        os.environ.pop(MULTIPROC_DIR_ENV, None)
        os.environ.pop(MULTIPROC_DIR_ENV.lower(), None)
        values.ValueClass = values.MutexValue
    _state = _State(directory)


def prepare_directory(directory: str) -> None:
    """prepare_directory creates the shared directory, or empties it of an earlier run's files.

    The launcher calls it before starting the first service process, never while one runs.
    """
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(glob.escape(directory), "*.db")):
        os.remove(path)


def mark_process_dead(pid: int, directory: str | None = None) -> None:
    """mark_process_dead tells the shared directory that service process `pid` has exited.

    Its counters and histograms stay in the sums. `directory` defaults to this
    process's configured one, then to PROMETHEUS_MULTIPROC_DIR; without any it does nothing.
    """
    path = directory or (_state.directory if _state is not None else None) or os.environ.get(MULTIPROC_DIR_ENV)
    if path:
        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def record_answer(
    *,
    route: str | None,
    model: str | None,
    provider: str | None,
    tenant: str,
    status: int | None,
    stream: bool,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cached_tokens: int | None,
    cost_usd: float | None,
    usage_estimated: bool,
    duration_s: float | None,
    response_model: str | None = None,
    operation: str = "chat",
    attempt: int | None = None,
    time_to_first_token_s: float | None = None,
    time_per_output_token_s: float | None = None,
    upstream_latency_s: float | None = None,
) -> None:
    """record_answer counts one answer from a provider: request, tokens, cost and duration.

    None means not known: nothing is added for it. `operation` is the GenAI
    operation name (`chat` for chat completions); `attempt` is the upstream
    attempt that served (above 1: a retry or fallback); `time_to_first_token_s`
    and `time_per_output_token_s` are for streams; `upstream_latency_s` is
    Envoy's measure of the provider's time to its response headers.
    """
    state = _state or _default_state()
    key = (route, model, response_model, provider, tenant, status, stream, operation)
    series = state.answers.get(key)
    if series is None:
        series = state.answer_series(key)
    series.requests.inc()
    if prompt_tokens is not None and prompt_tokens >= 0:
        if prompt_tokens:
            series.prompt.inc(prompt_tokens)
        if not usage_estimated:
            series.input_usage.observe(prompt_tokens)
    if completion_tokens is not None and completion_tokens >= 0:
        if completion_tokens:
            series.completion.inc(completion_tokens)
        if not usage_estimated:
            series.output_usage.observe(completion_tokens)
    if cached_tokens is not None and cached_tokens > 0:
        series.cached.inc(cached_tokens)
    if cost_usd is not None and cost_usd > 0:
        series.cost.inc(cost_usd)
    if usage_estimated:
        series.estimated.inc()
    if duration_s is not None and duration_s >= 0:
        series.duration.observe(duration_s)
    if attempt is not None and attempt > 1:
        series.fallbacks.inc()
    if time_to_first_token_s is not None and time_to_first_token_s >= 0:
        series.time_to_first_token.observe(time_to_first_token_s)
    if time_per_output_token_s is not None and time_per_output_token_s >= 0:
        series.time_per_output_token.observe(time_per_output_token_s)
    if upstream_latency_s is not None and upstream_latency_s >= 0:
        series.upstream_latency.observe(upstream_latency_s)


def record_overhead(*, route: str | None, seconds: float) -> None:
    """record_overhead adds the service's own processing time of one request (every request it saw)."""
    state = _state or _default_state()
    child = state.overheads.get(route)
    if child is None:
        if len(state.overheads) >= _CACHE_LIMIT:
            state.overheads.clear()
        child = state.overheads[route] = state.metrics.overhead.labels(_label(route))
    child.observe(seconds)


def record_rejection(*, reason: str, status: int) -> None:
    """record_rejection counts one request the gateway answered itself (bad input, unknown model, cost limit...).

    `reason` must come from a fixed set, such as the error's code.
    """
    state = _state or _default_state()
    counter = state.rejections.get((reason, status))
    if counter is None:
        counter = state.rejection_counter(reason, status)
    counter.inc()


def record_redactions(*, route: str | None, direction: str, action: str, counts: dict[str, int]) -> None:
    """record_redactions counts the values a privacy policy masked or blocked in one request or answer.

    `counts` maps entity names (a fixed set) to how many were found.
    """
    state = _state or _default_state()
    for entity, count in counts.items():
        state.metrics.redactions.labels(_label(route), direction, entity, action).inc(count)


def record_cache(*, route: str | None, tenant: str, outcome: str) -> None:
    """record_cache counts one request the cache looked at: `outcome` is hit, miss or bypass."""
    state = _state or _default_state()
    state.metrics.cache.labels(_label(route), _label(tenant), outcome).inc()


def record_cache_hit(*, route: str | None, tenant: str, tokens: int, usd: float) -> None:
    """record_cache_hit adds what one hit saved: the stored answer's tokens and cost."""
    state = _state or _default_state()
    state.metrics.cache_saved_tokens.labels(_label(route), _label(tenant)).inc(max(tokens, 0))
    state.metrics.cache_saved_usd.labels(_label(route), _label(tenant)).inc(max(usd, 0.0))


def record_cache_exploration(*, route: str | None, tenant: str, outcome: str, usd: float | None) -> None:
    """record_cache_exploration counts one explored request (`outcome`: right, wrong, unlabelled) and its price."""
    state = _state or _default_state()
    state.metrics.cache_explorations.labels(_label(route), _label(tenant), outcome).inc()
    state.metrics.cache_exploration_usd.labels(_label(route), _label(tenant)).inc(max(usd or 0.0, 0.0))


def record_cache_risk(*, route: str | None, tenant: str, risk: float) -> None:
    """record_cache_risk adds one learned semantic hit's chance of being wrong."""
    state = _state or _default_state()
    state.metrics.cache_expected_errors.labels(_label(route), _label(tenant)).inc(max(risk, 0.0))


def render() -> tuple[bytes, str]:
    """render returns the exposition body and its content type; in multiprocess mode, summed over every process."""
    state = _state or _default_state()
    return generate_latest(state.exposition), CONTENT_TYPE


@dataclass(slots=True)
class MetricsServer:
    """MetricsServer is a running HTTP server that answers `GET /metrics`; `port` is its bound TCP port."""

    host: str
    port: int
    _runner: web.AppRunner

    async def stop(self) -> None:
        """stop closes the listening socket and the open connections."""
        await self._runner.cleanup()


async def start_http_server(host: str, port: int, *, reuse_port: bool = False) -> MetricsServer:
    """start_http_server serves `GET /metrics` on host:port (0: a free port) in the running event loop.

    With `reuse_port`, every service process may listen on the same port; any
    of them answers with the same sums.
    """
    app = web.Application()
    app.router.add_get("/metrics", _metrics_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    except BaseException:
        await runner.cleanup()
        raise
    return MetricsServer(host=host, port=int(runner.addresses[0][1]), _runner=runner)


async def _metrics_handler(request: web.Request) -> web.Response:
    # Reading every process's files takes milliseconds: keep it off the event loop.
    body, content_type = await asyncio.to_thread(render)
    return web.Response(body=body, headers={"Content-Type": content_type})


def _default_state() -> _State:
    configure(os.environ.get(MULTIPROC_DIR_ENV))
    assert _state is not None
    return _state


def _label(value: object) -> str:
    if value is None:
        return UNKNOWN
    text = str(value)
    return text[:_MAX_LABEL_CHARS] if text else UNKNOWN
