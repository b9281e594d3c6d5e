"""The recent-requests ring buffer: bounded per tenant and in tenants, newest first, one tenant's only."""

from __future__ import annotations

from extproc.telemetry.recent import RecentRequest, RecentRequests


def _request(request_id: str) -> RecentRequest:
    return RecentRequest(
        request_id=request_id, time="2026-12-07T22:00:00.000Z", model="fast", served_model="gpt-4o-mini",
        status=200, prompt_tokens=3, completion_tokens=4, cost_usd=0.001, cache="miss", route_reason=None,
        latency_ms=12.5,
    )  # fmt: skip


def test_a_tenant_sees_its_own_requests_newest_first_and_no_one_elses() -> None:
    recent = RecentRequests()
    recent.record("acme", _request("a1"))
    recent.record("globex", _request("g1"))
    recent.record("acme", _request("a2"))
    assert [r.request_id for r in recent.of("acme")] == ["a2", "a1"]
    assert [r.request_id for r in recent.of("globex")] == ["g1"]
    assert recent.of("initech") == []


def test_each_tenant_keeps_only_its_last_requests() -> None:
    recent = RecentRequests(per_tenant=3)
    for number in range(10):
        recent.record("acme", _request(f"a{number}"))
    assert [r.request_id for r in recent.of("acme")] == ["a9", "a8", "a7"]


def test_the_quietest_tenant_goes_first_when_too_many_are_kept() -> None:
    recent = RecentRequests(max_tenants=2)
    recent.record("first", _request("f1"))
    recent.record("second", _request("s1"))
    recent.record("first", _request("f2"))  # `first` is now the most recently active
    recent.record("third", _request("t1"))
    assert recent.of("second") == []
    assert [r.request_id for r in recent.of("first")] == ["f2", "f1"]
    assert [r.request_id for r in recent.of("third")] == ["t1"]


def test_an_entry_is_the_json_the_playground_reads() -> None:
    assert set(_request("a1").as_dict()) == {
        "request_id", "time", "model", "served_model", "status", "prompt_tokens", "completion_tokens", "cost_usd",
        "cache", "route_reason", "latency_ms",
    }  # fmt: skip
