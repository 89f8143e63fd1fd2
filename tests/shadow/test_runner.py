"""Shadow traffic end to end: a real proxy, real legacy/new servers, a real SQLite store."""

from __future__ import annotations

import gzip
import itertools
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from strangler.rollback_monitor import read_counters
from tests.conftest import free_port
from tests.shadow.apps import Call, json_answer
from tests.shadow.conftest import Shadowed

Make = Callable[..., Shadowed]
ROUTE = "GET /orders/{id}"


def order(call: Call) -> tuple[int, list[tuple[str, str]], bytes]:
    return json_answer({"id": call.path.rsplit("/", 1)[-1], "total": 10, "items": [1, 2]})


def test_matching_answers_are_counted_as_matches_and_marked(shadowed: Make) -> None:
    env = shadowed([{"route": ROUTE, "mode": "shadow"}], shadow={"noise_sample": 0})
    env.legacy.handlers["/orders/1"] = lambda c: json_answer({"id": 1}, server="flask")
    env.new.handlers["/orders/1"] = lambda c: json_answer({"id": 1}, server="starlette")
    with env.client() as c:
        for _ in range(5):
            resp = c.get("/orders/1")
            assert resp.json() == {"id": 1}
    env.settle(5)
    totals = env.totals(ROUTE)
    assert (totals["requests"], totals["compared"], totals["matched"]) == (5, 5, 5)
    assert env.new.count("GET", "/orders/1") == 5
    assert all(c.headers.get("x-strangler-shadow") == "1" for c in env.new.calls)
    assert not any("x-strangler-shadow" in c.headers for c in env.legacy.calls)


def test_the_noise_call_replays_the_original_request_without_the_marker(shadowed: Make) -> None:
    env = shadowed([{"route": ROUTE, "mode": "shadow"}], shadow={"noise_sample": 1.0})
    # a legacy endpoint that echoes the request's headers: the marker would be noise
    env.legacy.handlers["/orders/1"] = lambda c: json_answer({"headers": sorted(c.headers)})
    env.new.handlers["/orders/1"] = lambda c: json_answer({"headers": "whatever"})
    with env.client() as c:
        for _ in range(3):
            c.get("/orders/1", headers={"x-trace": "abc"})
    env.settle(3)
    legacy_calls = [c for c in env.legacy.calls if c.path == "/orders/1"]
    assert len(legacy_calls) == 6  # the client's request and the noise call, three times
    first, again = legacy_calls[0].headers, legacy_calls[1].headers
    assert "x-strangler-shadow" not in again
    assert again.get("x-trace") == first.get("x-trace") == "abc"
    assert sorted(again) == sorted(first)


def test_each_kind_of_difference_is_recorded_with_its_severity(shadowed: Make) -> None:
    env = shadowed(
        [{"route": ROUTE, "mode": "shadow"}, {"route": "GET /gone", "mode": "shadow"}],
        shadow={"noise_sample": 0},
    )
    legacy = {"id": 1, "name": "a", "count": 1, "tags": ["x"], "meta": {"v": 1}}
    new = {"id": 1, "name": "b", "count": "1", "tags": ["x"], "extra": True}
    env.legacy.handlers["/orders/1"] = lambda c: json_answer(legacy, cache_control="no-store")
    env.new.handlers["/orders/1"] = lambda c: json_answer(new, cache_control="public")
    env.legacy.handlers["/gone"] = lambda c: json_answer({})
    env.new.handlers["/gone"] = lambda c: json_answer({}, 500)
    with env.client() as c:
        assert c.get("/orders/1").json() == legacy
        assert c.get("/gone").status_code == 200
    env.settle(2)
    fields = env.fields(ROUTE)
    got = {name: (row.severity, row.mismatches) for name, row in fields.items()}
    assert got == {
        "$.name": ("value", 1),
        "$.count": ("schema", 1),
        "$.meta": ("schema", 1),
        "$.extra": ("added", 1),
        "header:cache-control": ("value", 1),
    }
    assert env.totals(ROUTE)["mismatch_schema"] == 1
    assert env.totals("GET /gone")["mismatch_status"] == 1
    # The rollback monitor reads the same verdicts from the proxy's own metrics.
    metric = "strangler_shadow_verdicts_total"
    labels = {"route": "GET /gone", "outcome": "mismatch", "severity": "status"}
    assert env.proxy.metrics.value(metric, **labels) == 1
    assert read_counters(env.proxy.metrics.registry)["GET /gone"].mismatched == 1
    (sample,) = env.exchanges(ROUTE)
    kinds = {d["path"]: d["kind"] for d in sample.differences}
    assert kinds == {
        "header:cache-control": "header",
        "$.name": "value",
        "$.count": "type",
        "$.meta": "missing",
        "$.extra": "added",
    }
    assert sample.severity == "schema"


def test_route_rules_from_the_config_apply(shadowed: Make) -> None:
    rules = {
        "ignore": ["$.items[*].updated_at"],
        "unordered": ["$.tags"],
        "tolerance": [{"path": "$.total", "abs": 0.01}],
        "masks": [{"path": "$.id", "shape": "uuid"}],
        "headers": {"ignore": ["x-trace"]},
    }
    env = shadowed([{"route": ROUTE, "mode": "shadow", "rules": rules}], shadow={"noise_sample": 0})

    def answer(tags: list[str], total: float, trace: str) -> Callable[[Call], object]:
        return lambda c: json_answer(
            {
                "id": str(uuid.uuid4()),
                "tags": tags,
                "total": total,
                "items": [{"sku": "a", "updated_at": time.time(), "idempotency_key": "k"}],
            },
            x_trace=trace,
        )

    env.legacy.handlers["/orders/1"] = answer(["a", "b"], 10.0, "1")  # type: ignore[assignment]
    env.new.handlers["/orders/1"] = answer(["b", "a"], 10.004, "2")  # type: ignore[assignment]
    with env.client() as c:
        c.get("/orders/1")
    env.settle(1)
    assert env.totals(ROUTE)["matched"] == 1


def test_noise_from_timestamps_uuids_and_set_order_is_noise_not_mismatch(shadowed: Make) -> None:
    env = shadowed([{"route": ROUTE, "mode": "shadow"}], shadow={"noise_sample": 1.0})

    def nondeterministic(c: Call) -> tuple[int, list[tuple[str, str]], bytes]:
        tags = ["red", "green", "blue", "cyan", "pink", "gold", "teal", "grey"]
        random.shuffle(tags)
        return json_answer(
            {
                "id": 7,
                "request_id": str(uuid.uuid4()),
                "generated_at": datetime.now(UTC).isoformat(),
                "tags": tags,
                "name": "widget",
            }
        )

    env.legacy.handlers["/orders/7"] = nondeterministic
    env.new.handlers["/orders/7"] = nondeterministic
    n = 30
    with env.client() as c:
        for _ in range(n):
            assert c.get("/orders/7").status_code == 200
    env.settle(n)
    totals = env.totals(ROUTE)
    assert totals["compared"] == n
    assert totals["noise_samples"] == n
    assert totals.get("mismatch_value", 0) == 0
    assert totals["noise"] == n
    fields = env.fields(ROUTE)
    assert fields["$.request_id"].noise == n
    assert fields["$.request_id"].legacy_legacy == n
    assert sum(f.mismatches for f in fields.values()) == 0
    assert env.legacy.count("GET", "/orders/7") == 2 * n  # the client's call + the noise sample


def test_a_field_noisy_on_some_requests_and_wrong_on_others_is_reported(shadowed: Make) -> None:
    env = shadowed([{"route": "GET /price/{id}", "mode": "shadow"}], shadow={"noise_sample": 1.0})
    counter = itertools.count()

    def legacy(c: Call) -> tuple[int, list[tuple[str, str]], bytes]:
        pid = int(c.path.rsplit("/", 1)[-1])
        # Odd products have a live price (differs between any two calls); even ones are fixed.
        price = 100 + next(counter) if pid % 2 else 50
        return json_answer({"id": pid, "price": price})

    def new(c: Call) -> tuple[int, list[tuple[str, str]], bytes]:
        pid = int(c.path.rsplit("/", 1)[-1])
        price = 100 + next(counter) if pid % 2 else (51 if pid % 4 == 0 else 50)  # wrong on 4k
        return json_answer({"id": pid, "price": price})

    env.legacy.handlers.update({f"/price/{i}": legacy for i in range(40)})
    env.new.handlers.update({f"/price/{i}": new for i in range(40)})
    with env.client() as c:
        for i in range(40):
            c.get(f"/price/{i}")
    env.settle(40)
    price = env.fields("GET /price/{id}")["$.price"]
    assert price.mismatches == 10  # ids 0, 4, ..., 36: both legacy answers agreed, new did not
    assert price.noise == 20  # the odd ids: legacy disagrees with itself
    samples = [e for e in env.exchanges() if e.outcome == "mismatch"]
    assert {e.path for e in samples} == {f"/price/{i}" for i in range(0, 40, 4)}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_are_never_sent_to_new_by_default(shadowed: Make, method: str) -> None:
    env = shadowed([{"route": "* /pay", "mode": "shadow"}])
    env.legacy.handlers["/pay"] = lambda c: json_answer({"paid": True})
    env.new.handlers["/pay"] = lambda c: json_answer({"paid": True})
    with env.client() as c:
        for _ in range(3):
            assert c.request(method, "/pay", json={"amount": 5}).json() == {"paid": True}
    env.settle(3)
    assert env.legacy.count(method, "/pay") == 3
    assert env.new.count(method, "/pay") == 0
    assert env.sandbox.calls == []
    assert env.totals("* /pay")["not_compared"] == {"write skipped": 3}


def test_write_policies_sandbox_and_allow(shadowed: Make) -> None:
    env = shadowed(
        [
            {"route": "POST /sandboxed", "mode": "shadow", "shadow": {"writes": "sandbox"}},
            {"route": "POST /allowed", "mode": "shadow", "shadow": {"writes": "allow"}},
        ]
    )
    for backend in (env.legacy, env.new, env.sandbox):
        backend.handlers["/sandboxed"] = lambda c: json_answer({"ok": 1})
        backend.handlers["/allowed"] = lambda c: json_answer({"ok": 1})
    with env.client() as c:
        c.post("/sandboxed", json={"a": 1})
        c.post("/allowed", json={"a": 1})
    env.settle(2)
    assert env.new.count("POST", "/sandboxed") == 0
    assert env.sandbox.count("POST", "/sandboxed") == 1
    assert env.new.count("POST", "/allowed") == 1
    assert env.sandbox.count("POST", "/allowed") == 0
    # A write is never sent twice to legacy for noise.
    assert env.legacy.count("POST", "/allowed") == 1
    assert env.totals("POST /sandboxed")["matched"] == 1


def test_a_hanging_new_backend_never_holds_the_client(shadowed: Make) -> None:
    env = shadowed(
        [{"route": ROUTE, "mode": "shadow"}],
        shadow={"timeout": 0.3, "noise_sample": 0, "max_in_flight": 2},
    )
    env.legacy.handlers["/orders/1"] = order
    env.new.handlers["/orders/1"] = order
    env.new.hold.add("/orders/1")
    try:
        with env.client() as c:
            for _ in range(6):
                assert c.get("/orders/1").json()["id"] == "1"
        # Every client got legacy's answer while new has not answered a single call.
        assert not env.new.release.is_set()
        env.settle(6)
        dropped = env.totals(ROUTE)["dropped"]
        assert sum(dropped.values()) == 6
        assert dropped.get("timeout", 0) >= 2
        metric = sum(
            env.proxy.metrics.value("strangler_shadow_dropped_total", route=ROUTE, reason=r)
            for r in ("timeout", "in_flight_limit")
        )
        assert metric == 6
    finally:
        env.new.release.set()


def test_a_stopped_store_loses_results_but_traffic_is_served(shadowed: Make) -> None:
    down = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=2"
    env = shadowed([{"route": ROUTE, "mode": "shadow"}], store_url=down, shadow={"noise_sample": 0})
    env.legacy.handlers["/orders/1"] = lambda c: json_answer({"v": 1})
    env.new.handlers["/orders/1"] = lambda c: json_answer({"v": 2})
    with env.client() as c:
        for _ in range(5):
            assert c.get("/orders/1").json() == {"v": 1}
    env.settle(5)
    assert env.recorder.store_failures >= 1
    assert env.recorder.lost["store_unavailable"] == 5  # the five sampled mismatches
    lost = env.proxy.metrics.value("strangler_shadow_lost_total", reason="store_unavailable")
    assert lost == 5


def test_bodies_over_the_cap_are_not_compared(shadowed: Make) -> None:
    env = shadowed([{"route": ROUTE, "mode": "shadow"}], shadow={"body_cap": 100})
    env.legacy.handlers["/orders/1"] = lambda c: json_answer({"blob": "x" * 500})
    with env.client() as c:
        assert len(c.get("/orders/1").content) > 500
    env.settle(1)
    assert env.totals(ROUTE)["not_compared"] == {"response body over the cap": 1}
    assert env.new.calls == []


def test_learned_noise_survives_a_restart(shadowed: Make) -> None:
    def stamped(c: Call) -> tuple[int, list[tuple[str, str]], bytes]:
        return json_answer({"id": 1, "ts": time.perf_counter_ns()})

    first = shadowed([{"route": ROUTE, "mode": "shadow"}], shadow={"noise_sample": 1.0})
    first.legacy.handlers["/orders/1"] = stamped
    first.new.handlers["/orders/1"] = stamped
    with first.client() as c:
        for _ in range(25):
            c.get("/orders/1")
    first.settle(25)
    assert first.totals(ROUTE)["noise"] == 25
    # A new process without noise samples knows from the store that $.ts is noise.
    second = shadowed([{"route": ROUTE, "mode": "shadow"}], shadow={"noise_sample": 0})
    second.legacy.handlers["/orders/1"] = stamped
    second.new.handlers["/orders/1"] = stamped
    with second.client() as c:
        for _ in range(5):
            c.get("/orders/1")
    second.settle(5)
    assert second.runner.plan(ROUTE).noise.status("$.ts") == "noise"
    assert second.totals(ROUTE)["noise"] == 25 + 5
    assert second.totals(ROUTE).get("mismatch_value", 0) == 0


def test_reverse_shadowing_still_reads_legacy_to_new(shadowed: Make) -> None:
    env = shadowed(
        [{"route": ROUTE, "mode": "new", "shadow": {"reverse": True, "noise_sample": 0}}]
    )
    env.legacy.handlers["/orders/1"] = lambda c: json_answer({"id": 1})
    env.new.handlers["/orders/1"] = lambda c: json_answer({"id": 1, "extra": True})
    with env.client() as c:
        assert c.get("/orders/1").json() == {"id": 1, "extra": True}  # new serves
    env.settle(1)
    (sample,) = env.exchanges(ROUTE)
    assert (sample.primary_side, sample.candidate_side) == ("new", "legacy")
    assert [(d["path"], d["kind"], d["new"]) for d in sample.differences] == [
        ("$.extra", "added", True)
    ]
    assert env.totals(ROUTE)["mismatch_added"] == 1


def test_an_encoded_answer_is_decoded_before_comparing(shadowed: Make) -> None:
    env = shadowed([{"route": ROUTE, "mode": "shadow"}], shadow={"noise_sample": 0})
    body = b'{"id": 1, "name": "' + b"x" * 200 + b'"}'
    env.legacy.handlers["/orders/1"] = lambda c: (
        200,
        [("content-type", "application/json"), ("content-encoding", "gzip")],
        gzip.compress(body),
    )
    env.new.handlers["/orders/1"] = lambda c: (200, [("content-type", "application/json")], body)
    env.legacy.handlers["/orders/2"] = env.legacy.handlers["/orders/1"]
    env.new.handlers["/orders/2"] = lambda c: (
        200,
        [("content-type", "application/json")],
        body.replace(b'"id": 1', b'"id": 2'),
    )
    with env.client() as c:
        assert c.get("/orders/1").json()["id"] == 1  # the client decodes legacy's gzip
        c.get("/orders/2")
    env.settle(2)
    totals = env.totals(ROUTE)
    assert (totals["matched"], totals["mismatch_value"]) == (1, 1)
    # the mismatch is stored (a sampled match may be stored too)
    sample = next(e for e in env.exchanges(ROUTE) if e.outcome == "mismatch")
    assert sample.primary_body.startswith('{"id":1')  # stored decoded (and redacted)


def test_a_canary_gathers_comparisons_by_default(shadowed: Make) -> None:
    env = shadowed(
        [{"route": ROUTE, "mode": "canary", "percent": 50, "sticky": "header:x-user"}],
        shadow={"noise_sample": 0},
    )
    env.legacy.handlers["/orders/1"] = lambda c: json_answer({"id": 1})
    env.new.handlers["/orders/1"] = lambda c: json_answer({"id": 1})
    with env.client() as c:
        for i in range(20):
            assert c.get("/orders/1", headers={"x-user": f"u{i}"}).json() == {"id": 1}
    env.settle(20)
    totals = env.totals(ROUTE)
    assert (totals["compared"], totals["matched"]) == (20, 20)  # every request, both ways
    assert env.legacy.count("GET", "/orders/1") == env.new.count("GET", "/orders/1") == 20


def test_at_the_default_settings_noise_is_learned_from_the_first_request(shadowed: Make) -> None:
    env = shadowed([{"route": ROUTE, "mode": "shadow"}])  # noise_sample 0.1, the default
    clock = iter(range(10_000))
    env.legacy.handlers["/orders/1"] = lambda c: json_answer({"id": 1, "at": next(clock)})
    env.new.handlers["/orders/1"] = lambda c: json_answer({"id": 1, "at": next(clock)})
    with env.client() as c:
        for _ in range(30):
            c.get("/orders/1")
    env.settle(30)
    totals = env.totals(ROUTE)
    assert totals["compared"] == 30
    assert totals["mismatch_value"] == 0  # a timestamp is never cried wolf about
    assert totals["noise"] == 30
    # adaptive: every request sampled until 20 noise samples, then 1 in 10; never a third call
    legacy_calls = env.legacy.count("GET", "/orders/1")
    assert 30 + 20 <= legacy_calls <= 30 + 30


def test_an_element_lost_from_a_list_legacy_only_shuffles_is_reported(shadowed: Make) -> None:
    env = shadowed([{"route": ROUTE, "mode": "shadow"}])  # the default settings
    shuffles = iter(range(10_000))

    def legacy(c: Call) -> tuple[int, list[tuple[str, str]], bytes]:
        tags = ["a", "b", "c", "d"]
        k = next(shuffles) % 4
        return json_answer({"id": 1, "tags": tags[k:] + tags[:k]})

    def new(c: Call) -> tuple[int, list[tuple[str, str]], bytes]:
        k = next(shuffles) % 3
        tags = ["a", "b", "c"]  # "d" is gone
        return json_answer({"id": 1, "tags": tags[k:] + tags[:k]})

    env.legacy.handlers["/orders/1"] = legacy
    env.new.handlers["/orders/1"] = new
    with env.client() as c:
        for _ in range(30):
            c.get("/orders/1")
    env.settle(30)
    fields = env.fields(ROUTE)
    assert "$.tags[?]" in fields  # the list's membership, a field of its own
    assert fields["$.tags[?]"].mismatches == 30  # every request: an element is missing
    rows = env.exchanges(ROUTE)
    kinds = {d["kind"] for row in rows for d in (row.differences or [])}
    assert kinds == {"missing"}  # the reordering itself stays noise
    lost = {d["legacy"] for row in rows for d in (row.differences or [])}
    assert lost == {"d"}  # compared as multisets: the element itself, not a position
