"""`llm-gateway up`, as the README runs it: healthy, answers the SDK, stops every child on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from extproc.ops.launcher import free_port
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
