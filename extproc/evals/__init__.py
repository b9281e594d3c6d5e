"""Eval suites run through the gateway: `llm-gateway eval run SUITE.yaml`.

- `suite`: the YAML suite (cases, scorers, judge model), checked before anything is sent.
- `scorers`: exact, contains, regex, JSON schema, number, headers, status; `judge`: LLM-as-judge.
- `runner`: an HTTP client of the gateway that sends each case and scores the answer.
- `results`, `report`, `metrics`, `baseline`: pass rates, the table and JUnit XML, Prometheus
  gauges, and the comparison with an earlier run.
- `cli`: the command, once or `--every` interval.

See docs/prompts-and-evals.md and docs/runbooks/eval-regression.md.
"""
