"""`llm-gateway eval run SUITE.yaml`: run a suite through a gateway, report, compare with a baseline, repeat.

Exit status: 0 when every case passed (with `--baseline`: when no pass rate
fell by more than `--margin`), 1 when a case failed (with `--baseline`: on a
regression), 2 when the suite, the prompts, the baseline or an output cannot
be used. `--every 1h` runs until stopped (SIGINT or SIGTERM), one run per
interval; a cron job or a Kubernetes CronJob that runs the command once is
the alternative (docs/prompts-and-evals.md).
"""

from __future__ import annotations

import argparse

from extproc.prompts.cli import add_gateway_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `eval` subcommands."""
    add_gateway_arguments(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="send every case of a suite through the gateway and score the answers")
    run.add_argument("suite", help="the suite file (YAML), e.g. evals/golden.yaml")
    run.add_argument("--json", metavar="FILE", help="write the run as JSON (- for stdout; the table then goes to stderr)")
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML (one test case per eval case) for CI")
    run.add_argument("--metrics-file", metavar="FILE", help="write Prometheus gauges of the run (node_exporter textfile)")
    run.add_argument("--pushgateway", metavar="URL", help="push Prometheus gauges of the run to a Pushgateway")
    run.add_argument("--baseline", metavar="FILE", help="an earlier run's --json: exit 1 only on a regression beyond --margin")
    run.add_argument("--margin", type=float, default=0.0, help="pass-rate points a group may lose (0.05 = 5) (default 0)")
    run.add_argument("--prompts", metavar="DIR", help="expand prompt references from the prompt files in DIR, not the gateway")
    run.add_argument("--only", action="append", metavar="CASE", help="run only this case (repeatable)")
    run.add_argument("--concurrency", type=int, default=4, help="cases in flight at once (default 4)")
    run.add_argument("--every", metavar="INTERVAL", help="run again every INTERVAL (30m, 1h, 1d) until stopped")
    run.add_argument("--quiet", action="store_true", help="no table; only problems and the summary line")


def run(args: argparse.Namespace) -> int:
    """Carry out `eval run` (see the module docstring for the exit status)."""
    from extproc.evals.command import run_command  # noqa: PLC0415 - keeps `llm-gateway --help` and `serve` start-up light

    return run_command(args)
