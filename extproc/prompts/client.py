"""The `prompts` subcommands' work: HTTP calls to the gateway's prompt API, and what they print."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from extproc.prompts.diff import diff_prompts
from extproc.prompts.files import load_prompt_file, to_yaml, validate_document
from extproc.prompts.model import PromptInvalid, PromptTemplate

API = "/v1/gateway/prompts"


class CliProblem(Exception):
    """Something the command cannot do, said in words a user can act on."""


def run_action(args: argparse.Namespace) -> int:
    """Carry out one `prompts` subcommand; 1 with a `problem:` line when it cannot."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    headers = {"authorization": f"Bearer {args.key}"} if args.key else {}
    try:
        with httpx.Client(base_url=args.gateway, headers=headers, timeout=args.timeout) as client:
            return _ACTIONS[args.action](_Api(client, args.gateway, _scope(args)), args)
    except (CliProblem, PromptInvalid) as exc:
        for line in exc.problems if isinstance(exc, PromptInvalid) else [str(exc)]:
            print(f"problem: {line}", file=sys.stderr)
        return 1


class _Api:
    """The prompt API over HTTP; an error answer becomes a CliProblem with the gateway's message."""

    def __init__(self, client: httpx.Client, base: str, scope: dict[str, str]) -> None:
        self._client, self._base, self._scope = client, base, scope

    def call(self, method: str, path: str, body: Any = None, **query: str) -> dict[str, Any]:
        try:
            response = self._client.request(
                method, API + path, params={**self._scope, **query},
                content=None if body is None else orjson.dumps(body),
                headers={"content-type": "application/json"} if body is not None else None,
            )  # fmt: skip
        except httpx.HTTPError as exc:
            raise CliProblem(f"cannot reach the gateway at {self._base}: {type(exc).__name__}: {exc}") from None
        try:
            payload = response.json()
        except ValueError:
            raise CliProblem(f"the gateway answered {response.status_code} without JSON: {response.text[:200]!r}") from None
        if response.is_error:
            error = payload.get("error", {}) if isinstance(payload, dict) else {}
            message = error.get("message") if isinstance(error, dict) else None
            raise CliProblem(f"{message or response.text[:200]} ({response.status_code} {error.get('code') or ''})".strip())
        return payload


def _scope(args: argparse.Namespace) -> dict[str, str]:
    if args.tenant:
        return {"tenant": args.tenant}
    return {"global": "true"} if args.global_ else {}


def _push(api: _Api, args: argparse.Namespace) -> int:
    templates = _load_all(args.files)  # every file checked before anything is sent
    for template in templates:
        answer = api.call("POST", f"/{template.name}/versions", {"prompt": template.to_document(), "labels": args.label})
        state = "new version" if answer.get("created") else "unchanged, still version"
        labels = ", ".join(answer.get("labels", []))
        print(f"{template.name}: {state} {answer['version']} ({_where(answer)}; labels: {labels})")
    return 0


def _list(api: _Api, args: argparse.Namespace) -> int:
    answer = api.call("GET", "")
    if args.json:
        print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"{'NAME':<32} {'NAMESPACE':<20} {'LATEST':>6}  LABELS")
    for prompt in answer["data"]:
        labels = ", ".join(f"{label}={version}" for label, version in prompt["labels"].items())
        shadowed = "  (shadowed by the tenant's own)" if prompt.get("shadowed") else ""
        print(f"{prompt['name']:<32} {_where(prompt):<20} {prompt['latest_version']:>6}  {labels}{shadowed}")
    return 0


def _show(api: _Api, args: argparse.Namespace) -> int:
    answer = api.call("GET", f"/{args.name}", **_which(args.version, args.label))
    if args.json:
        print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"# {answer['name']} version {answer['version']} ({_where(answer)}), labels: {', '.join(answer['labels'])}")
    print(f"# {answer['digest']}, pushed {_when(answer['created_at'])} by {answer.get('created_by') or '-'}")
    sys.stdout.write(to_yaml(_template(answer)))
    return 0


def _versions(api: _Api, args: argparse.Namespace) -> int:
    answer = api.call("GET", f"/{args.name}/versions")
    print(f"{'VERSION':>7}  {'PUSHED (UTC)':<19}  {'BY':<18} {'DIGEST':<20} LABELS")
    for version in answer["data"]:
        by = version.get("created_by") or "-"
        print(f"{version['version']:>7}  {_when(version['created_at']):<19}  {by:<18} {version['digest'][:19]:<20} "
              f"{', '.join(version['labels'])}")  # fmt: skip
    return 0


def _label(api: _Api, args: argparse.Namespace) -> int:
    answer = api.call("PUT", f"/{args.name}/labels/{args.label}", {"version": args.version})
    before = f" (was {answer['previous_version']})" if answer.get("previous_version") else ""
    print(f"{answer['name']}: {answer['label']} -> version {answer['version']}{before} ({_where(answer)})")
    return 0


def _diff(api: _Api, args: argparse.Namespace) -> int:
    old = api.call("GET", f"/{args.name}", **_reference(args.old))
    new = api.call("GET", f"/{args.name}", **_reference(args.new))
    text = diff_prompts(_template(old), _template(new), f"{args.name}@{old['version']}", f"{args.name}@{new['version']}")
    sys.stdout.write(text or f"{args.name}: versions {old['version']} and {new['version']} are the same\n")
    return 0


_ACTIONS = {"push": _push, "list": _list, "show": _show, "versions": _versions, "label": _label, "diff": _diff}


def _load_all(paths: list[str]) -> list[PromptTemplate]:
    problems: list[str] = []
    templates: list[PromptTemplate] = []
    for path in paths:
        try:
            templates.append(load_prompt_file(path))
        except PromptInvalid as exc:
            problems.extend(exc.problems)
    if problems:
        raise PromptInvalid([*problems, "nothing was pushed"])
    return templates


def _which(version: int | None, label: str | None) -> dict[str, str]:
    if version is not None:
        return {"version": str(version)}
    return {"label": label} if label else {}


def _reference(text: str) -> dict[str, str]:
    return {"version": text} if text.isdigit() else {"label": text}


def _template(answer: dict[str, Any]) -> PromptTemplate:
    return validate_document(answer["prompt"])


def _where(answer: dict[str, Any]) -> str:
    return "global" if answer.get("tenant") is None else f"tenant {answer['tenant']}"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
