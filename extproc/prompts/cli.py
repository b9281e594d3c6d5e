"""`llm-gateway prompts push|list|show|versions|label|diff`: a client of the gateway's prompt API.

It talks to a running gateway (`--gateway`, or LLM_GATEWAY_URL) with a key
(`--key`, or LLM_GATEWAY_KEY); pushing and labelling need an admin key. Prompt
files are checked here first, all of them, so a push of several files sends
nothing when one is wrong.
"""

from __future__ import annotations

import argparse
import os

GATEWAY_URL_ENV = "LLM_GATEWAY_URL"
GATEWAY_KEY_ENV = "LLM_GATEWAY_KEY"
DEFAULT_GATEWAY_URL = "http://127.0.0.1:8080"


def add_gateway_arguments(parser: argparse.ArgumentParser) -> None:
    """`--gateway` and `--key`, shared with `llm-gateway eval`."""
    parser.add_argument(
        "--gateway", default=os.environ.get(GATEWAY_URL_ENV, DEFAULT_GATEWAY_URL),
        help=f"the gateway's base URL (default: ${GATEWAY_URL_ENV} or {DEFAULT_GATEWAY_URL})",
    )  # fmt: skip
    parser.add_argument("--key", default=os.environ.get(GATEWAY_KEY_ENV), help=f"the gateway key (default: ${GATEWAY_KEY_ENV})")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `prompts` subcommands."""
    add_gateway_arguments(parser)
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--tenant", default=None, help="a tenant's own prompts (writes: admin keys only)")
    scope.add_argument("--global", dest="global_", action="store_true", help="the global prompts only")
    actions = parser.add_subparsers(dest="action", required=True)
    push = actions.add_parser("push", help="push prompt files (YAML) as new versions; unchanged files stay as they are")
    push.add_argument("files", nargs="+", help="prompt files")
    push.add_argument("--label", action="append", default=[], help="point this label at the pushed version (repeatable)")
    listing = actions.add_parser("list", help="the prompts you can use: name, namespace, latest version, labels")
    listing.add_argument("--json", action="store_true", help="print the API's JSON")
    show = actions.add_parser("show", help="a prompt version as a prompt file (default: label production)")
    show.add_argument("name")
    which = show.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, default=None)
    which.add_argument("--label", default=None)
    show.add_argument("--json", action="store_true", help="print the API's JSON")
    versions = actions.add_parser("versions", help="a prompt's versions with their labels")
    versions.add_argument("name")
    label = actions.add_parser("label", help="point a label at a version: label NAME VERSION LABEL")
    label.add_argument("name")
    label.add_argument("version", type=int)
    label.add_argument("label")
    diff = actions.add_parser("diff", help="what changed between two versions: diff NAME A B (numbers or labels)")
    diff.add_argument("name")
    diff.add_argument("old")
    diff.add_argument("new")


def run(args: argparse.Namespace) -> int:
    """Carry out one `prompts` subcommand; 1 with a `problem:` line when it cannot."""
    from extproc.prompts.client import run_action  # noqa: PLC0415 - keeps `llm-gateway --help` and `serve` start-up light

    return run_action(args)
