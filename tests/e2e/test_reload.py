"""Reloading a running `llm-gateway up`: a change applies without a restart, a stream in flight finishes
intact, and a broken change is refused while the old configuration keeps answering."""

from __future__ import annotations

import asyncio
import copy
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG, gateway_section, iter_routes, static_resources
from extproc.ops.launcher import free_port
from extproc.tenancy.keys import FileKeyStore, new_record
from extproc.tenancy.settings import tenancy_metadata
from tests.support.sdk_clients import ADMIN_AUTH, TEST_ADMIN_KEY, TEST_API_KEY, openai_client

pytestmark = pytest.mark.e2e

PROMPT = "tell me a long story about a lighthouse keeper and the sea and the storm that came at night"


def _route(config: dict[str, Any], model: str) -> dict[str, Any]:
    return next(r for r in iter_routes(config) if (gateway_section(r) or {}).get("model") == model)


def _write(path: Path, config: dict[str, Any]) -> None:
    """As an editor that saves safely does: a whole new file renamed over the old one."""
    staging = path.with_suffix(".saving")
    staging.write_text(yaml.safe_dump(config, sort_keys=False))
    os.replace(staging, path)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """`llm-gateway up` on a copy of the shipped envoy.yaml, two service processes, in its own folder."""
    folder = tmp_path_factory.mktemp("up")
    asyncio.run(FileKeyStore(folder / "var" / "keys.json").add(new_record(TEST_API_KEY, "test", "tests")))
    asyncio.run(FileKeyStore(folder / "var" / "keys.json").add(new_record(TEST_ADMIN_KEY, "ops", "tests", admin=True)))
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    path = folder / "envoy.yaml"
    _write(path, config)
    port = free_port()
    tmpdir = Path(tempfile.mkdtemp(prefix="c16-"))  # short: Unix socket paths are at most 107 bytes
    env = {k: v for k, v in os.environ.items() if k != "FAKE_PROVIDER_API_KEY"} | {"TMPDIR": str(tmpdir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "extproc", "up", "--config", str(path), "--port", str(port),
         "--admin-port", str(free_port()), "--fake-provider-port", str(free_port()), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=folder,
    )  # fmt: skip
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if "Ctrl-C stops everything" in line or process.poll() is not None:
            break
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        assert "llm-gateway is up" in "".join(banner), "".join(banner)
        yield folder, port, config
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0, "".join(output)
        reader.join(10)
        process.stdout.close()
    assert not (folder / "var" / "llm-gateway-up.json").exists()
    tmpdir.rmdir()  # up removed its run folder


def _reload(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "extproc", "reload"], cwd=folder, capture_output=True, text=True,
                          timeout=180, check=False)  # fmt: skip


def _metric(port: int, name: str) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=ADMIN_AUTH, timeout=10).text
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name)}


def test_a_change_applies_while_a_stream_started_before_it_finishes_intact(running: tuple[Path, int, dict[str, Any]]) -> None:
    folder, port, config = running
    client = openai_client(f"http://127.0.0.1:{port}/v1")
    chunks: list[Any] = []
    first = threading.Event()

    def stream() -> None:
        for chunk in client.chat.completions.create(
            model="fast", stream=True, stream_options={"include_usage": True}, messages=[{"role": "user", "content": PROMPT}],
            extra_headers={"x-fake-chunk-delay-ms": "150"},
        ):  # fmt: skip
            chunks.append(chunk)
            first.set()

    streaming = threading.Thread(target=stream)
    streaming.start()
    assert first.wait(60)
    # The change: an alias, a limit on that model, and a new model with a cluster of its own.
    changed = copy.deepcopy(config)
    meta = gateway_section(_route(changed, "gpt-4o"))
    assert meta is not None
    meta["aliases"] = ["smart", "clever"]
    meta["limits"] = {"requests_per_minute": 2}
    copy_route = copy.deepcopy(_route(changed, "gpt-4o-mini"))
    copy_route["match"]["headers"][0]["string_match"]["exact"] = "mini-copy"
    copy_route["route"]["cluster"] = "mini_copy"
    copy_route["metadata"]["filter_metadata"]["llm_gateway"] = {"model": "mini-copy"}
    routes = changed["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    routes.insert(0, copy_route)
    cluster = copy.deepcopy(next(c for c in static_resources(changed)["clusters"] if c["name"] == "fake_openai_gpt_4o_mini"))
    cluster["name"] = "mini_copy"
    static_resources(changed)["clusters"].append(cluster)
    _write(folder / "envoy.yaml", changed)  # `up` notices the change by itself
    deadline = time.monotonic() + 90
    while True:
        try:
            reply = client.chat.completions.with_raw_response.create(model="clever", messages=[{"role": "user", "content": "hi"}])
            break
        except openai.NotFoundError:
            assert time.monotonic() < deadline, "the new alias never arrived"
            time.sleep(0.5)
    assert reply.headers["x-gateway-served-model"] == "gpt-4o"
    # The new limit: two a minute on gpt-4o (the reply above was the first).
    client.chat.completions.create(model="smart", messages=[{"role": "user", "content": "two"}])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="clever", messages=[{"role": "user", "content": "three"}])
    # The new model, through Envoy's new route and cluster, on the connections the client already had.
    assert client.chat.completions.create(model="mini-copy", messages=[{"role": "user", "content": "new"}]).choices
    streaming.join(120)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Fake reply to: {PROMPT}"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    config.clear()
    config.update(changed)


def test_a_broken_change_is_refused_and_the_old_configuration_keeps_answering(
    running: tuple[Path, int, dict[str, Any]],
) -> None:
    folder, port, config = running
    broken = copy.deepcopy(config)
    tenancy_metadata(broken)["tenant"] = {"acme": {}}
    mini = gateway_section(_route(broken, "gpt-4o-mini"))
    assert mini is not None
    mini["modle"] = mini.pop("model")
    before = _metric(port, "llm_gateway_config_reloads_total")
    _write(folder / "envoy.yaml", broken)
    done = _reload(folder)  # by hand (`up` finds the change by itself too: either way it is refused)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "does not know tenant (did you mean tenants?)" in done.stdout
    assert "lacks model" in done.stdout and "refused:" in done.stdout
    client = openai_client(f"http://127.0.0.1:{port}/v1")
    for model in ("fast", "mini-copy"):  # what ran before still answers
        assert client.chat.completions.create(model=model, messages=[{"role": "user", "content": "still"}]).choices
    after = _metric(port, "llm_gateway_config_reloads_total")
    refused = 'llm_gateway_config_reloads_total{result="refused"}'
    assert after[refused] >= before.get(refused, 0) + 1
    assert after['llm_gateway_config_reloads_total{result="applied"}'] >= 1
    # Each service process says which configuration it runs: both run the one applied before.
    loaded = _metric(port, "llm_gateway_config_info")
    running_hashes = {re.search(r'sha256="(\w+)"', k).group(1) for k, v in loaded.items() if v == 1}  # type: ignore[union-attr]
    assert len([v for v in loaded.values() if v == 1]) == 2 and len(running_hashes) == 1
