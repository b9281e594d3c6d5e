"""A Docker engine of the test's own, and images built without a registry.

No container registry can be reached here, so nothing is pulled: the base image is a
minimal Debian made by mmdebstrap from this machine's own apt sources and imported, and
Python packages come from a wheelhouse downloaded on the host (the package index is
reachable, the registries are not). dockerd runs with its data root in a temporary
directory and is stopped by its PID; removing that directory removes every image,
container and volume it held, and the default bridge it made goes too. Its NAT rules stay
in the host's iptables, as any dockerd's do.
`scripts/install.sh test` installs docker.io, mmdebstrap and the compose v2 plugin.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "local/debian:bookworm"
# Everything the test images need, so that no image build needs the network: Python for
# the gateway, Envoy and pgserver; Debian's redis-server for the Redis image.
BASE_PACKAGES = ["python3", "python3-venv", "ca-certificates", "redis-server"]
_APT_SOURCES = [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]
_START_TIMEOUT_S = 60.0


@dataclass
class Engine:
    """A running dockerd: the environment that points the docker CLI at it, and its directory."""

    root: Path
    env: dict[str, str]

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a docker CLI command against this engine; its output, and an error with it on failure."""
        result = subprocess.run(
            ["docker", *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result


def _missing_tools() -> list[str]:
    missing = [tool for tool in ("dockerd", "docker", "mmdebstrap") if shutil.which(tool) is None]
    if "docker" not in missing:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            missing.append("the docker compose v2 plugin")
    return missing


@contextmanager
def docker_engine() -> Iterator[Engine]:
    """Start dockerd in a new temporary directory; skip (saying why) when it cannot run; stop it by PID."""
    missing = _missing_tools()
    if missing:
        pytest.skip(f"no container runtime: {', '.join(missing)} not installed (scripts/install.sh test installs them)")
    if os.geteuid() != 0:
        pytest.skip("no container runtime: dockerd needs root here, and the tests run as an ordinary user")
    # dockerd makes the default bridge (image builds run on it) and leaves it when it stops.
    had_bridge = Path("/sys/class/net/docker0").exists()
    # Short paths: containerd's sockets live under the exec root and Unix socket paths are limited.
    root = Path(tempfile.mkdtemp(prefix="llmgw-docker-", dir="/tmp"))
    socket = root / "docker.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"), "--pidfile",
         str(root / "dockerd.pid"), "--host", f"unix://{socket}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket}", "DOCKER_CONFIG": str(root / "cli")}
    for name in [n for n in env if n.startswith("COMPOSE_")]:
        del env[name]
    engine = Engine(root, env)
    try:
        _wait_until_answers(engine, process)
        yield engine
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if not had_bridge and Path("/sys/class/net/docker0").exists():
            subprocess.run(["ip", "link", "delete", "docker0"], check=False, capture_output=True)
        _remove(root)


def _wait_until_answers(engine: Engine, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            tail = (engine.root / "dockerd.log").read_text(errors="replace").strip().splitlines()[-5:]
            pytest.skip("no container runtime: dockerd exited while starting: " + " | ".join(tail))
        if engine.run("info", "--format", "{{.ServerVersion}}", check=False, timeout=10).returncode == 0:
            return
        if time.monotonic() > deadline:
            pytest.skip(f"no container runtime: dockerd did not answer within {_START_TIMEOUT_S:.0f} s")
        time.sleep(0.2)


def _remove(root: Path) -> None:
    """Remove the engine's directory; overlay mounts a crashed dockerd left behind are unmounted first."""
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        leftovers = [line.split()[1] for line in mounts if line.split()[1].startswith(str(root))]
    for mount in sorted(leftovers, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def build_base_image(engine: Engine) -> str:
    """A minimal Debian with BASE_PACKAGES, from this machine's apt sources, imported as BASE_IMAGE."""
    sources = next((str(path) for path in _APT_SOURCES if path.exists()), "http://deb.debian.org/debian")
    log = engine.root / "mmdebstrap.log"
    command = (
        f"mmdebstrap --variant=minbase --include={','.join(BASE_PACKAGES)} bookworm - {sources} 2>{log}"
        f" | docker import - {BASE_IMAGE}"
    )
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], env=engine.env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-10:] if log.exists() else []
        raise AssertionError(f"building the base image failed: {result.stderr}\n" + "\n".join(tail))
    return BASE_IMAGE


def download_wheelhouse(target: Path, extra: list[str]) -> Path:
    """Wheels for every pinned runtime dependency (deploy/constraints.txt, markers dropped so that
    Debian's Python 3.11.2 finds what it needs too; setuptools among them builds the package), and `extra`."""
    target.mkdir(parents=True, exist_ok=True)
    pins = []
    for line in (REPO / "deploy" / "constraints.txt").read_text().splitlines():
        requirement = line.split(";")[0].strip()
        if requirement and not requirement.startswith("#"):
            pins.append(requirement)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
               "--dest", str(target), *pins, *extra]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"downloading the wheelhouse failed:\n{result.stderr[-3000:]}")
    return target
