"""`llm-gateway up`, as the README runs it: healthy, answers the SDK, stops every child on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG
from extproc.ops.launcher import free_port
from extproc.tenancy.settings import tenancy_metadata
from tests.support.sdk_clients import openai_client

pytestmark = pytest.mark.e2e


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def test_up_serves_then_stops_every_child(tmp_path: Path) -> None:
    port, admin, fake = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "FAKE_PROVIDER_API_KEY"}
    process = subprocess.Popen(
        [sys.executable, "-m", "extproc", "up", "--port", str(port), "--admin-port", str(admin),
         "--fake-provider-port", str(fake), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,  # a first start: no key file yet (var/keys.json), so `up` makes a demo key
    )
    try:
        banner = []
        deadline = time.monotonic() + 90
        assert process.stdout is not None
        children: list[int] = []
        for line in process.stdout:
            banner.append(line)
            if "Ctrl-C stops everything" in line or time.monotonic() > deadline:
                break
        text = "".join(banner)
        assert f"http://127.0.0.1:{port}/v1" in text, text
        assert "fake provider" in text and "curl" in text and "OpenAI(" in text
        children = _children_of(process.pid)
        assert len(children) == 4  # Envoy, two service processes, the fake provider
        key = re.search(r"API key\s+(sk-gw-\S+)", text)
        assert key is not None, text
        assert f"Bearer {key.group(1)}" in text  # the curl example works as printed
        assert key.group(1) not in (tmp_path / "var" / "keys.json").read_text()  # stored hashed
        client = openai_client(f"http://127.0.0.1:{port}/v1", key.group(1))
        reply = client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "up?"}])
        assert reply.choices[0].message.content == "Fake reply to: up?"
        with pytest.raises(openai.AuthenticationError):
            openai_client(f"http://127.0.0.1:{port}/v1", "sk-gw-guess").chat.completions.create(
                model="fast", messages=[{"role": "user", "content": "up?"}]
            )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        process.stdout.close()
    for child in children:
        assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("flags", "words"),
    [(["--otlp-endpoint", "collector-without-port"], "host:port"), (["--otlp-endpoint", "127.0.0.1:4317", "--trace-sampling", "250"], "percentage")],
)
def test_up_refuses_a_bad_tracing_option_before_starting_anything(tmp_path: Path, flags: list[str], words: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "extproc", "up", "--port", str(free_port()), "--admin-port", str(free_port()), *flags],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert words in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def _start_up(tmp_path: Path, port: int, admin: int, *extra: str, tmpdir: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    """`llm-gateway up` in `tmp_path` (its temporary folders in `tmpdir`), and its banner."""
    env = {k: v for k, v in os.environ.items() if k != "FAKE_PROVIDER_API_KEY"}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    process = subprocess.Popen(
        [sys.executable, "-m", "extproc", "up", "--port", str(port), "--admin-port", str(admin),
         "--fake-provider-port", str(free_port()), "--workers", "1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Ctrl-C stops everything" in line or process.poll() is not None:
            break
    return process, "".join(lines)


def test_a_second_up_on_a_busy_port_is_refused_and_the_first_keeps_serving(tmp_path: Path) -> None:
    port, admin = free_port(), free_port()
    (tmp_path / "first").mkdir()
    # Short: the service's Unix sockets go in up's run folder, and a socket's path is at most 107 bytes.
    tmpdir = Path(tempfile.mkdtemp(prefix="c16-"))
    first, banner = _start_up(tmp_path / "first", port, admin, tmpdir=tmpdir)
    try:
        assert "llm-gateway is up" in banner, banner
        # Loopback only, as the banner says, and the fake provider's reason is the real one.
        assert f"listening      127.0.0.1:{port} (this host only" in banner
        assert "started because the endpoints of" in banner and "name\n" in banner and "FAKE_PROVIDER_API_KEY, which is not set" in banner
        listeners = httpx.get(f"http://127.0.0.1:{admin}/listeners", timeout=10).text
        assert f"::127.0.0.1:{port}" in listeners and f"0.0.0.0:{port}" not in listeners
        key = re.search(r"API key\s+(sk-gw-\S+)", banner)
        assert key is not None
        client = openai_client(f"http://127.0.0.1:{port}/v1", key.group(1))

        (tmp_path / "second").mkdir()
        second = subprocess.run(
            [sys.executable, "-m", "extproc", "up", "--port", str(port), "--admin-port", str(free_port()),
             "--fake-provider-port", str(free_port()), "--workers", "1"],
            capture_output=True, text=True, timeout=180, cwd=tmp_path / "second", check=False,
        )  # fmt: skip
        assert second.returncode == 1
        said = second.stdout + second.stderr
        assert f"the gateway's port {port} on 127.0.0.1 is in use" in said and "--port" in said, said
        assert "llm-gateway is up" not in said and "Traceback" not in said
        # Every request still reaches the first gateway (no second Envoy shares the port).
        for _ in range(6):
            reply = client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "still?"}])
            assert reply.choices[0].message.content == "Fake reply to: still?"
    finally:
        first.send_signal(signal.SIGINT)  # Ctrl-C
        assert first.stdout is not None
        rest = first.stdout.read()
        assert first.wait(60) == 0, rest
        first.stdout.close()
    assert list(tmpdir.iterdir()) == []  # its run folder is gone
    tmpdir.rmdir()


def test_up_stops_on_a_configuration_problem_before_starting_anything(tmp_path: Path) -> None:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    tenancy_metadata(config)["cachee"] = tenancy_metadata(config).pop("cache")
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "extproc", "up", "--config", str(path), "--port", str(port), "--admin-port", str(free_port())],
        capture_output=True, text=True, timeout=180, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "problem: virtual host 'llm': llm_gateway does not know cachee (did you mean cache?)" in done.stderr
    assert "not starting; 1 problem(s)" in done.stderr and "Traceback" not in done.stderr
    with socket.socket() as sock:  # nothing was started on the port
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_up_warns_about_a_provider_key_that_is_not_set(tmp_path: Path) -> None:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    cluster = next(c for c in config["static_resources"]["clusters"] if c["name"] == "fake_openai_gpt_4o")
    lb_endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    lb_endpoint["metadata"]["filter_metadata"]["llm_gateway"]["api_key_env"] = "C16_UNSET_OPENAI_KEY"
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(config))
    process, banner = _start_up(tmp_path, free_port(), free_port(), "--config", str(path))
    try:
        assert "warning: Model 'gpt-4o': environment variable C16_UNSET_OPENAI_KEY is not set" in banner, banner
        assert "llm-gateway is up" in banner
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
        assert process.stdout is not None
        process.stdout.close()
