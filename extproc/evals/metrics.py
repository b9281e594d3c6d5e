"""Prometheus gauges for the last run of each suite, written for node_exporter's textfile collector or pushed.

An eval run is a batch job, not a server: nothing stays up for Prometheus to
scrape. So the gauges go where batch jobs' metrics go:

- `--metrics-file DIR/llm_gateway_eval_SUITE.prom`: node_exporter's textfile
  collector (`--collector.textfile.directory=DIR`) exposes it on every scrape;
  the file is replaced atomically, so a scrape never reads half of it. This
  fits `--every` and a cron job on a host with node_exporter.
- `--pushgateway URL`: a Prometheus Pushgateway keeps the last push per
  suite (job `llm_gateway_eval`, label `suite`). This fits a Kubernetes
  CronJob, whose pod is gone before any scrape.

The series (all gauges, labelled by `suite`):

    llm_gateway_eval_pass_ratio                       passed / counted cases
    llm_gateway_eval_model_pass_ratio{model}          per model the cases asked for
    llm_gateway_eval_prompt_pass_ratio{prompt,prompt_version}
    llm_gateway_eval_cases{result}                    passed, failed, error, skipped
    llm_gateway_eval_duration_seconds
    llm_gateway_eval_last_run_timestamp_seconds       alert when it gets old: the schedule stopped
    llm_gateway_eval_baseline_regression              1 when the run regressed against --baseline (only with one)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, push_to_gateway, write_to_textfile
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from extproc.evals.results import SuiteResult

PUSH_JOB = "llm_gateway_eval"


class _RunCollector(Collector):
    """The gauges of one run, built when collected (no process-wide metric state)."""

    def __init__(self, result: SuiteResult, regression: bool | None) -> None:
        self._result = result
        self._regression = regression

    def collect(self) -> Iterator[GaugeMetricFamily]:
        result, suite = self._result, self._result.suite
        ratio = GaugeMetricFamily("llm_gateway_eval_pass_ratio", "Share of the suite's counted cases that passed, last run.",
                                  labels=["suite"])  # fmt: skip
        if result.pass_rate is not None:
            ratio.add_metric([suite], result.pass_rate)
        yield ratio
        per_model = GaugeMetricFamily("llm_gateway_eval_model_pass_ratio", "Share of cases passed per model, last run.",
                                      labels=["suite", "model"])  # fmt: skip
        for model, rate in result.by_model().items():
            if rate is not None:
                per_model.add_metric([suite, model], rate)
        yield per_model
        per_prompt = GaugeMetricFamily("llm_gateway_eval_prompt_pass_ratio",
                                       "Share of cases passed per prompt version, last run.",
                                       labels=["suite", "prompt", "prompt_version"])  # fmt: skip
        for (prompt, version), rate in result.by_prompt_version().items():
            if rate is not None:
                per_prompt.add_metric([suite, prompt, version], rate)
        yield per_prompt
        cases = GaugeMetricFamily("llm_gateway_eval_cases", "Cases by result, last run.", labels=["suite", "result"])
        for status, count in result.counts().items():
            cases.add_metric([suite, status], count)
        yield cases
        duration = GaugeMetricFamily("llm_gateway_eval_duration_seconds", "How long the last run took.", labels=["suite"])
        duration.add_metric([suite], result.duration_s)
        yield duration
        stamp = GaugeMetricFamily("llm_gateway_eval_last_run_timestamp_seconds", "When the last run started (Unix time).",
                                  labels=["suite"])  # fmt: skip
        stamp.add_metric([suite], result.started_at)
        yield stamp
        if self._regression is not None:
            regressed = GaugeMetricFamily("llm_gateway_eval_baseline_regression",
                                          "1 when the last run regressed against its baseline beyond the margin.",
                                          labels=["suite"])  # fmt: skip
            regressed.add_metric([suite], 1.0 if self._regression else 0.0)
            yield regressed


def registry_for(result: SuiteResult, regression: bool | None = None) -> CollectorRegistry:
    """A registry holding only this run's gauges."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RunCollector(result, regression))
    return registry


def write_textfile(result: SuiteResult, path: str | Path, regression: bool | None = None) -> None:
    """Replace `path` (a `.prom` file in node_exporter's textfile directory) with this run's gauges, atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry_for(result, regression))


def push(result: SuiteResult, url: str, regression: bool | None = None, timeout: float = 10.0) -> None:
    """Push this run's gauges to a Pushgateway (job llm_gateway_eval, grouped by suite)."""
    push_to_gateway(url, job=PUSH_JOB, registry=registry_for(result, regression), grouping_key={"suite": result.suite},
                    timeout=timeout)  # fmt: skip
