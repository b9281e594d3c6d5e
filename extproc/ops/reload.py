"""Reloading the gateway `llm-gateway up` runs: when envoy.yaml changes, or when `llm-gateway reload` asks.

A change is applied only if it passes `llm-gateway check` (Envoy's own
validation included); otherwise it is refused, every problem is logged, and
the configuration already running keeps serving. An applied change reaches
Envoy through its watched files (xds_files.py) and each service process
through SIGHUP (ext_proc/reload.py); neither drops a request in flight. Each
attempt is counted once in `llm_gateway_config_reloads_total{result}`.

`up` records the outcome of each attempt in a small state file next to its
key file (`var/llm-gateway-up.json`): `llm-gateway reload` reads `up`'s pid
from it, signals it, and waits there for the verdict.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from extproc.ops.checks import check_config
from extproc.ops.launcher import LaunchError, Stack
from extproc.ops.xds_files import XdsRejected
from extproc.telemetry import metrics

log = logging.getLogger(__name__)

STATE_FILE = Path("var") / "llm-gateway-up.json"
# Envoy's files (xds_files.py), as people call what they hold.
_PARTS = {"cds": "clusters", "rds": "routes", "lds": "listeners"}
# How long `llm-gateway reload` waits for up's verdict (a check runs Envoy's validation).
VERDICT_TIMEOUT_S = 120.0


@dataclass
class Verdict:
    """The outcome of one reload attempt."""

    result: str  # applied | refused
    sha256: str
    reason: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.time)


class StackReloader:
    """Watches the envoy.yaml `up` runs and applies each change that passes the check."""

    def __init__(self, stack: Stack, config_path: Path, state_path: Path = STATE_FILE) -> None:
        self._stack = stack
        self._path = config_path
        self._state_path = state_path
        self._seen = self._digest()
        self.loaded = self._seen or ""
        self.attempts = 0
        # The launcher's counters join the service processes' in the directory /metrics reads.
        metrics.configure(str(stack.run_dir / "metrics"))
        self._write_state(None)

    def poll(self) -> Verdict | None:
        """Reload when the file's content changed since it was last looked at."""
        digest = self._digest()
        if digest is None or digest == self._seen:
            return None
        self._seen = digest
        return self.reload(f"{self._path} changed")

    def reload(self, reason: str) -> Verdict:
        """Check the file as it is now and apply it, or refuse it and keep what runs."""
        text = self._path.read_bytes()
        digest = hashlib.sha256(text).hexdigest()
        self._seen = digest
        report = check_config(self._path)
        verdict = Verdict("refused", digest, reason, report.problems, report.warnings)
        if report.ok:
            try:
                verdict.changed, needs_restart = self._stack.reload(text)
                verdict.result = "applied"
                if needs_restart:
                    verdict.warnings.append(
                        "the change also touches what only a restart applies (admin, overload_manager, "
                        "layered_runtime, node, tracing outside the listener): restart `up` for that part"
                    )
            except (XdsRejected, LaunchError) as exc:
                verdict.problems = [str(exc)]
        metrics.record_config_reload(result=verdict.result)
        self.attempts += 1
        if verdict.result == "applied":
            self.loaded = digest
            log.info("reloaded %s (%s; sha256 %s): %s", self._path, reason, digest[:12], ", ".join(verdict.changed) or "services only")
        else:
            log.error(
                "reload of %s refused (%s); the configuration loaded before (sha256 %s) keeps serving:\n  %s",
                self._path, reason, self.loaded[:12], "\n  ".join(verdict.problems),
            )  # fmt: skip
        for warning in verdict.warnings:
            log.warning("%s", warning)
        self._write_state(verdict)
        return verdict

    def close(self) -> None:
        """Remove the state file (`up` is stopping)."""
        self._state_path.unlink(missing_ok=True)

    def _digest(self) -> str | None:
        try:
            return hashlib.sha256(self._path.read_bytes()).hexdigest()
        except OSError:
            return None

    def _write_state(self, verdict: Verdict | None) -> None:
        state = {"pid": os.getpid(), "config": str(self._path.resolve()), "loaded": self.loaded, "attempts": self.attempts,
                 "last": asdict(verdict) if verdict else None}  # fmt: skip
        self._state_path.parent.mkdir(parents=True, exist_ok=True)
        staging = self._state_path.with_suffix(".next")
        staging.write_text(json.dumps(state, indent=2))
        os.replace(staging, self._state_path)


def request_reload(state_path: Path = STATE_FILE, timeout: float = VERDICT_TIMEOUT_S) -> int:
    """`llm-gateway reload`: ask the `up` running from this folder to reload, and print its verdict."""
    try:
        state = json.loads(state_path.read_text())
        pid, before = int(state["pid"]), int(state["attempts"])
    except (OSError, ValueError, KeyError, TypeError):
        print(f"problem: no running `llm-gateway up` found ({state_path} is missing or unreadable); run this "
              "command from the folder `up` was started in, or pass --state", file=sys.stderr)  # fmt: skip
        return 1
    if not _is_up(pid):
        print(f"problem: `llm-gateway up` (pid {pid}, in {state_path}) is not running", file=sys.stderr)
        return 1
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            state = json.loads(state_path.read_text())
        except (OSError, ValueError):
            continue
        if int(state.get("attempts", 0)) > before and state.get("last"):
            return _print_verdict(state["last"], state.get("config", ""))
    print(f"problem: `llm-gateway up` (pid {pid}) gave no verdict in {timeout:.0f} s; see its output", file=sys.stderr)
    return 1


def _print_verdict(last: dict[str, Any], config: str) -> int:
    for warning in last.get("warnings") or []:
        print(f"warning: {warning}")
    if last.get("result") == "applied":
        names = sorted({_PARTS.get(str(name).split("_")[0], str(name)) for name in last.get("changed") or []})
        envoy = f"Envoy took the new {' and '.join(names)}" if names else "Envoy's part is unchanged"
        print(f"reloaded {config} (sha256 {str(last.get('sha256'))[:12]}): {envoy}; the service processes reloaded")
        return 0
    for problem in last.get("problems") or []:
        print(f"problem: {problem}")
    print(f"refused: {config} was not applied; the configuration already running keeps serving.")
    return 1


def _is_up(pid: int) -> bool:
    """True when `pid` is an `llm-gateway up` process (not another process that took a reused pid)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"up" in words and any(b"extproc" in w or b"llm-gateway" in w for w in words)
