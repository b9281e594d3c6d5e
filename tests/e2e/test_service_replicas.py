"""Several ext_proc service replicas behind one Envoy: losing one under load costs only its requests in flight."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.e2e.conftest import start_stack

CHAT = "/v1/chat/completions"
# Each answer takes 50 ms at the provider, so every client always has a request in flight.
BODY = {"model": "fast", "max_tokens": 8, "messages": [{"role": "user", "content": "steady"}]}
SLOW = {"x-fake-latency-ms": "50"}
CLIENTS = 6


def _load(port: int, stop: threading.Event, outcomes: list[tuple[float, int]]) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
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
