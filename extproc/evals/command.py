"""`eval run`'s work: load the suite, prompts and baseline, run once or every interval, write the outputs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

import orjson

from extproc.evals.base import SuiteError
from extproc.evals.baseline import Comparison, compare, load_baseline
from extproc.evals.metrics import push, write_textfile
from extproc.evals.report import summary, table, write_junit
from extproc.evals.results import ERROR, FAILED, SuiteResult
from extproc.evals.runner import Runner
from extproc.evals.suite import Suite, load_suite
from extproc.prompts.files import load_prompt_dir
from extproc.prompts.model import PromptInvalid

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def run_command(args: argparse.Namespace) -> int:
    """Carry out `eval run`: load, run once or on a schedule, report; the exit status."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    try:
        suite = load_suite(args.suite)
        prompts = load_prompt_dir(args.prompts) if args.prompts else None
        baseline = load_baseline(args.baseline) if args.baseline else None
        interval = parse_interval(args.every) if args.every else None
        if args.margin < 0 or args.margin > 1:
            raise ValueError("--margin is a share of cases between 0 and 1 (0.05: five points)")
    except (SuiteError, PromptInvalid) as exc:
        for problem in exc.problems:
            print(f"problem: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE
    except ValueError as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    runner = Runner(args.gateway, args.key, args.concurrency, args.timeout, prompts)
    only = set(args.only) if args.only else None
    if only is not None and (unknown := only - {case.id for case in suite.cases}):
        print(f"problem: no case {', '.join(sorted(unknown))} in {args.suite}", file=sys.stderr)
        return EXIT_UNUSABLE
    if interval is None:
        return _once(runner, suite, only, baseline, args)
    return _repeat(runner, suite, only, baseline, args, interval)


def parse_interval(text: str) -> float:
    """Seconds in an interval such as 90s, 30m, 1h, 1d; ValueError otherwise."""
    match = _INTERVAL.match(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"--every {text!r}: write a number and a unit, e.g. 30m, 1h, 1d")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def _once(runner: Runner, suite: Suite, only: set[str] | None, baseline: SuiteResult | None, args: argparse.Namespace) -> int:
    result = asyncio.run(runner.run(suite, only))
    comparison = compare(baseline, result, args.margin) if baseline is not None else None
    if not _report(result, comparison, args):
        return EXIT_UNUSABLE
    if comparison is not None:
        return EXIT_FAILED if comparison.regressed else EXIT_OK
    counts = result.counts()
    return EXIT_FAILED if counts[FAILED] or counts[ERROR] else EXIT_OK


def _repeat(
    runner: Runner, suite: Suite, only: set[str] | None, baseline: SuiteResult | None, args: argparse.Namespace,
    interval: float,
) -> int:  # fmt: skip
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            started = time.monotonic()
            try:
                status = _once(runner, suite, only, baseline, args)
                log.info("eval run of %s finished with status %d; next in %.0fs", suite.name, status, interval)
            except Exception:  # one bad run (a network hiccup, a full disk) must not end the schedule
                log.exception("eval run of %s failed; next in %.0fs", suite.name, interval)
            time.sleep(max(interval - (time.monotonic() - started), 0))
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report(result: SuiteResult, comparison: Comparison | None, args: argparse.Namespace) -> bool:
    """Print and write every output asked for; False when one could not be written."""
    terminal = sys.stderr if args.json == "-" else sys.stdout
    terminal.write(summary(result) if args.quiet else table(result))
    if comparison is not None:
        terminal.write(comparison.describe())
    regression = comparison.regressed if comparison is not None else None
    outputs: list[tuple[str, Callable[[], None]]] = []
    if args.json:
        outputs.append(("--json", lambda: _write_json(result, args.json)))
    if args.junit:
        outputs.append(("--junit", lambda: write_junit(result, args.junit)))
    if args.metrics_file:
        outputs.append(("--metrics-file", lambda: write_textfile(result, args.metrics_file, regression)))
    if args.pushgateway:
        outputs.append(("--pushgateway", lambda: push(result, args.pushgateway, regression)))
    ok = True
    for flag, write in outputs:
        try:
            write()
        except OSError as exc:  # files, and the Pushgateway's URLError
            print(f"problem: {flag}: {exc}", file=sys.stderr)
            ok = False
    return ok


def _write_json(result: SuiteResult, target: str) -> None:
    data = orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2) + b"\n"
    if target == "-":
        sys.stdout.write(data.decode())
    else:
        with open(target, "wb") as handle:
            handle.write(data)
