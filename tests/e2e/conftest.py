"""End-to-end fixtures: real Envoy, real ext_proc service processes, the fake provider.

Everything binds 127.0.0.1 on free ports and is stopped by PID when the
fixture ends (the launcher used by `llm-gateway up` does the work).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from extproc.config.envoy_yaml import DEFAULT_CONFIG
from extproc.ops.launcher import Stack, StackOptions
from extproc.tenancy.keys import FileKeyStore, new_record
from extproc.tenancy.settings import STORE_PATH_ENV, tenancy_metadata
from tests.support.browser import BrowserPage, browser_page
from tests.support.sdk_clients import AUTH, TEST_ADMIN_KEY, TEST_API_KEY

pytestmark = pytest.mark.e2e


def start_stack(tmp: Path, config: dict[str, Any] | None = None, workers: int = 1, **options: Any) -> Stack:
    """Start the gateway on free ports from `config` (default: the shipped envoy.yaml).

    Its key file holds TEST_API_KEY, for tenant `test`, and the admin key TEST_ADMIN_KEY (tenant
    `ops`). Buckets and spend of the embedded (SQLite) store live in `tmp` too.
    """
    keys_file = tmp / "keys.json"
    if not keys_file.exists():
        asyncio.run(FileKeyStore(keys_file).add(new_record(TEST_API_KEY, "test", "tests")))
        asyncio.run(FileKeyStore(keys_file).add(new_record(TEST_ADMIN_KEY, "ops", "tests", admin=True)))
    options["extra_env"] = {STORE_PATH_ENV: str(tmp / "limits.sqlite3"), **options.get("extra_env", {})}
    config_path = DEFAULT_CONFIG
    if config is not None:
        config_path = tmp / "source-envoy.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    options = StackOptions(
        config_path=config_path,
        port=0,
        admin_port=0,
        workers=workers,
        service_port=0,
        fake_provider_port=0,
        run_dir=tmp,
        capture_logs=True,
        envoy_concurrency=1,
        keys_file=keys_file,
        **options,
    )
    return Stack(options).start()


def shipped_config() -> dict[str, Any]:
    """A fresh copy of the shipped envoy.yaml, for tests that adjust it."""
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


# The whole suite shares the session stack and its one tenant, whose limits and budget are exact
# across the two service processes: the shipped ones (1,000,000 tokens a minute per key, $25 a
# day) are less than the suite's traffic (multi-megabyte prompts, thousands of requests).
SUITE_TENANT = {"test": {"per_key": {"requests_per_minute": 1_000_000, "tokens_per_minute": 1_000_000_000},
                         "per_tenant": {"requests_per_minute": 1_000_000, "tokens_per_minute": 1_000_000_000},
                         "budget": {"usd_per_day": 1_000_000, "usd_per_month": 1_000_000}}}  # fmt: skip


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shipped configuration, running with two service processes (tenant `test` unlimited)."""
    config = shipped_config()
    tenancy_metadata(config)["tenants"] = SUITE_TENANT
    stack = start_stack(tmp_path_factory.mktemp("gateway"), config, workers=2)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture()
def http(gateway: Stack) -> Iterator[httpx.Client]:
    """A plain HTTP client on the gateway's listener."""
    with httpx.Client(base_url=f"http://127.0.0.1:{gateway.port}", timeout=30, headers=AUTH) as client:
        yield client


def fake_requests(stack: Stack) -> list[dict[str, Any]]:
    """What the fake provider received, oldest first."""
    response = httpx.get(f"http://127.0.0.1:{stack.fake_provider_port}/_fake/requests", timeout=10)
    response.raise_for_status()
    return response.json()["requests"]


def access_log_entry(stack: Stack, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The JSON access-log line Envoy wrote for `request_id` (Envoy flushes its log asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in stack.log_path("envoy").read_text().splitlines():
            if request_id in line and line.startswith("{"):
                return json.loads(line)
        if time.monotonic() > deadline:
            raise AssertionError(f"no access log line for request {request_id}")
        time.sleep(0.2)


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.2) -> None:
    """Poll `predicate` until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserPage]:
    """A headless Chromium page (Debian's chromium), its screenshots in the test's tmp dir."""
    with browser_page(tmp_path / "screenshots") as session:
        yield session
