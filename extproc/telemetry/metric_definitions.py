"""Every metric the gateway exports, declared in one place (names, help, labels, buckets).

`metrics.py` records into them (docs/configuration.md lists them for operators).

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
    llm_gateway_routing_requests_total{policy, reason, model, task, complexity}  counter: answers per routing decision
    llm_gateway_routing_cost_usd_total{policy, reason, model}             counter: USD per routing decision
    llm_gateway_redactions_total, llm_gateway_cache_*                     counters: privacy policy and cache outcomes
    llm_gateway_prompt_requests_total{prompt, version}                    counter: requests expanded from a prompt version
    llm_gateway_prompt_errors_total{code}                                 counter: requests whose prompt could not be used
    llm_gateway_config_reloads_total{result}                              counter: reloads, applied|refused
    llm_gateway_config_info{sha256}, llm_gateway_config_loaded_timestamp_seconds   gauges: what each process runs

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
- prompt, version: the prompt a request named and the version it was expanded
  to. Admins create them, so configuration does not bound them: each process
  records at most `metrics.MAX_PROMPT_SERIES` pairs and counts any further
  pair as prompt="other", version="other".
- code: the error code of a prompt that could not be used (`prompt_not_found`,
  `prompt_variables_invalid`, ...): a fixed set.
- policy, reason: the virtual model whose routing policy chose (`auto`) and why: a
  rule's name, `<rule>/<arm>` for a split, `classifier`, `task_type`, `conversation`
  or `default` (names from envoy.yaml); task and complexity: what the classifier
  table used (the classifier's fixed labels), empty when it did not run. A client's
  `models` fallback list counts under policy `models` and reason `fallback_list`.

None and empty values become "unknown". Request ids, prompts, keys or anything
else per request never go into a label: every label value must come from a set
bounded by configuration (models, providers, tenants, statuses, reasons).
Requests answered by a provider count in `llm_gateway_requests_total`, those the
gateway answered itself (bad input, unknown model, cost limit) in
`llm_gateway_rejections_total`; all requests are the sum of the two. The
`gen_ai_client_token_usage` histogram holds provider-reported usage only (the
semantic conventions forbid offline counts unless asked for); estimated usage
counts in `llm_gateway_tokens_total` and in `llm_gateway_usage_estimated_total`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Bucket boundaries the GenAI semantic conventions recommend.
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
# The semantic conventions' advice for time to first token.
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# The semantic conventions' advice for time per output token.
_TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
# The gateway's own processing time per request: tenths of a millisecond up.
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)


class Metrics:
    """Metrics is every metric the gateway exports: the one place they are defined."""

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
        self.prompt_requests = Counter(
            "llm_gateway_prompt_requests_total",
            "Requests expanded from a prompt, by prompt name and version (bounded: see metrics.MAX_PROMPT_SERIES).",
            ("prompt", "version"),
            registry=registry,
        )
        self.prompt_errors = Counter(
            "llm_gateway_prompt_errors_total",
            "Requests whose prompt could not be used, by error code (prompt_not_found, prompt_variables_invalid, ...).",
            ("code",),
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
        self.routing_requests = Counter(
            "llm_gateway_routing_requests_total",
            "Answers to requests a routing policy (a virtual model) or a client's fallback list routed, by policy,"
            " reason (rule, split arm, classifier...), chosen model, and the task and complexity the classifier used.",
            ("policy", "reason", "model", "task", "complexity"),
            registry=registry,
        )
        self.routing_cost = Counter(
            "llm_gateway_routing_cost_usd_total",
            "Cost in USD of the answers a routing policy or a fallback list routed, by policy, reason and chosen model.",
            ("policy", "reason", "model"),
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
        self.config_reloads = Counter(
            "llm_gateway_config_reloads_total",
            "Attempts to reload envoy.yaml, by result: applied, or refused (the old configuration keeps serving)."
            " Counted once per attempt by `llm-gateway up`, or by each service process reloaded on its own.",
            ("result",),
            registry=registry,
        )
        # Per live process (multiprocess mode adds `pid`): which configuration each one runs.
        self.config_info = Gauge(
            "llm_gateway_config_info",
            "1 for the configuration a service process runs, by the SHA-256 of its envoy.yaml.",
            ("sha256",),
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.config_loaded = Gauge(
            "llm_gateway_config_loaded_timestamp_seconds",
            "When a service process loaded the configuration it runs (Unix time).",
            registry=registry,
            multiprocess_mode="liveall",
        )
