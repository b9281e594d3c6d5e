"""The ext_proc service's own faults: a replica killed or drained under load, a hung process."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.e2e.conftest import shipped_config, start_stack, wait_until
from tests.support.sdk_clients import AUTH

CHAT = "/v1/chat/completions"
# Each answer takes 50 ms at the provider, so every client always has a request in flight.
BODY = {"model": "fast", "max_tokens": 8, "messages": [{"role": "user", "content": "steady"}]}
SLOW = {"x-fake-latency-ms": "50"}
CLIENTS = 6


def _load(port: int, stop: threading.Event, outcomes: list[tuple[float, int]]) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=AUTH) as client:
        while not stop.is_set():
            status = client.post(CHAT, json=BODY, headers=SLOW).status_code
            outcomes.append((time.monotonic(), status))


def _under_load(port: int, seconds: float, during: object) -> list[tuple[float, int]]:
    stop = threading.Event()
    outcomes: list[tuple[float, int]] = []
    threads = [threading.Thread(target=_load, args=(port, stop, outcomes)) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    during()  # type: ignore[operator]
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_replica_killed_under_load_costs_at_most_its_requests_in_flight(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, workers=2)
    try:
        killed_at: list[float] = []

        def kill() -> None:
            killed_at.append(time.monotonic())
            stack.kill_service(1)

        outcomes = _under_load(stack.port, 3.0, kill)
        statuses = Counter(status for _, status in outcomes)
        failed = [(t, s) for t, s in outcomes if s != 200]
        assert statuses[200] > 50, statuses
        # At most one request per client was on the dead replica when it died.
        assert len(failed) <= CLIENTS, statuses
        assert all(s == 503 for _, s in failed), statuses
        # The survivor serves everything after the kill.
        assert all(t < killed_at[0] + 1.0 for t, _ in failed), (killed_at, failed)
    finally:
        stack.stop()


def test_a_replica_stopped_gracefully_under_load_costs_nothing(tmp_path: Path) -> None:
    """SIGTERM: the replica finishes its streams while new ones open on the other (a rolling restart)."""
    stack = start_stack(tmp_path, workers=2)
    try:
        outcomes = _under_load(stack.port, 3.0, lambda: stack.stop_service(1))
        statuses = Counter(status for _, status in outcomes)
        assert statuses[200] > 50 and set(statuses) == {200}, statuses
    finally:
        stack.stop()


def test_a_hung_service_is_answered_503_after_the_message_timeout_and_recovers(tmp_path: Path) -> None:
    """A frozen process (SIGSTOP: a GC pause, a deadlock) costs its requests the message timeout, not forever."""
    config = shipped_config()
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    for http_filter in hcm["http_filters"]:
        if http_filter["name"] == "envoy.filters.http.ext_proc":
            http_filter["typed_config"]["message_timeout"] = "1s"
    stack = start_stack(tmp_path, config, workers=1)
    pid = stack.children()["service-0"]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30, headers=AUTH) as client:
            assert client.post(CHAT, json=BODY).status_code == 200
            os.kill(pid, signal.SIGSTOP)
            started = time.monotonic()
            hung = client.post(CHAT, json=BODY)
            waited = time.monotonic() - started
            os.kill(pid, signal.SIGCONT)
            assert hung.status_code in (503, 504), hung.text
            assert hung.json()["error"]["code"] == "gateway_unavailable"
            assert 0.9 <= waited < 10  # the 1 s message timeout, not the 10 s default nor forever
            wait_until(lambda: client.post(CHAT, json=BODY).status_code == 200, timeout=20)
    finally:
        os.kill(pid, signal.SIGCONT)
        stack.stop()
