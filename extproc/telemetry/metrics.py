"""Prometheus metrics: running totals of tokens, cost and requests, summed across service processes.

The service records each answer with `record_answer` and each request it
answered itself with `record_rejection`; operators read the totals at
`GET /metrics`, answered by the service through Envoy (`render`) or on the
service's own port (`start_http_server`).

The metrics, their labels and the label values to pass are declared and
described in `metric_definitions.py`.

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

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess, values
from prometheus_client.metrics_core import Metric

from extproc.telemetry.metric_definitions import Metrics

__all__ = [
    "CONTENT_TYPE",
    "MULTIPROC_DIR_ENV",
    "UNKNOWN",
    "configure",
    "mark_process_dead",
    "prepare_directory",
    "record_answer",
    "record_cache",
    "record_cache_exploration",
    "record_cache_hit",
    "record_cache_risk",
    "record_overhead",
    "record_prompt",
    "record_prompt_error",
    "record_redactions",
    "record_rejection",
    "render",
    "semconv_provider",
]

# MULTIPROC_DIR_ENV is the variable prometheus-client reads for its multiprocess directory.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# CONTENT_TYPE is the classic Prometheus text format, which every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# UNKNOWN is the label value for None and empty values.
UNKNOWN = "unknown"

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
# The cardinality guard of llm_gateway_prompt_requests_total: the (prompt, version) pairs one process
# records; further pairs count as OTHER (prompt names and versions grow with every push, not with the
# configuration).
MAX_PROMPT_SERIES = 500
OTHER = "other"


def semconv_provider(provider: str) -> str:
    """The `gen_ai.provider.name` spelling of a LiteLLM provider prefix (`gemini` -> `gcp.gemini`)."""
    return _SEMCONV_PROVIDERS.get(provider, provider)


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
        self.metrics = Metrics(registry)
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
        self.prompts: dict[tuple[str, int], Counter] = {}

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


def record_routing(
    *, policy: str, reason: str, model: str | None, task: str | None, complexity: str | None, cost_usd: float | None
) -> None:
    """record_routing counts one answer to a routed request (a virtual model's policy or a fallback list) and its cost.

    Every label comes from configuration or the classifier's fixed labels: bounded.
    """
    state = _state or _default_state()
    m = state.metrics
    m.routing_requests.labels(_label(policy), _label(reason), _label(model), task or "", complexity or "").inc()
    if cost_usd is not None and cost_usd > 0:
        m.routing_cost.labels(_label(policy), _label(reason), _label(model)).inc(cost_usd)


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


def record_prompt(*, prompt: str, version: int) -> None:
    """record_prompt counts one request expanded from `prompt` version `version` (at most MAX_PROMPT_SERIES
    pairs per process; the rest count as OTHER)."""
    state = _state or _default_state()
    child = state.prompts.get((prompt, version))
    if child is None:
        if len(state.prompts) >= MAX_PROMPT_SERIES:
            child = state.metrics.prompt_requests.labels(OTHER, OTHER)
        else:
            child = state.prompts[(prompt, version)] = state.metrics.prompt_requests.labels(_label(prompt), str(version))
    child.inc()


def record_prompt_error(*, code: str) -> None:
    """record_prompt_error counts one request whose prompt could not be used; `code` is the error's code (a fixed set)."""
    state = _state or _default_state()
    state.metrics.prompt_errors.labels(_label(code)).inc()


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


def record_config_reload(*, result: str) -> None:
    """record_config_reload counts one attempt to reload envoy.yaml: `applied` or `refused`."""
    state = _state or _default_state()
    state.metrics.config_reloads.labels(_label(result)).inc()


def record_config_loaded(*, sha256: str, previous: str | None, at: float) -> None:
    """record_config_loaded marks the configuration this process now runs (and the one it ran before as no longer)."""
    state = _state or _default_state()
    if previous and previous != sha256:
        state.metrics.config_info.labels(previous).set(0)
    state.metrics.config_info.labels(sha256).set(1)
    state.metrics.config_loaded.set(at)


def loaded_configs(directory: str) -> dict[str, str]:
    """loaded_configs reads, from a shared directory, the configuration each live process runs: hash by pid."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return {
        sample.labels["pid"]: sample.labels["sha256"]
        for family in registry.collect()
        if family.name == "llm_gateway_config_info"
        for sample in family.samples
        if sample.value == 1 and "pid" in sample.labels
    }


def render() -> tuple[bytes, str]:
    """render returns the exposition body and its content type; in multiprocess mode, summed over every process."""
    state = _state or _default_state()
    return generate_latest(state.exposition), CONTENT_TYPE


def _default_state() -> _State:
    configure(os.environ.get(MULTIPROC_DIR_ENV))
    assert _state is not None
    return _state


def _label(value: object) -> str:
    if value is None:
        return UNKNOWN
    text = str(value)
    return text[:_MAX_LABEL_CHARS] if text else UNKNOWN
