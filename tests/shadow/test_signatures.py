"""Early verdicts corrected once noise is learned, and only those."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shadow.signatures import MAX_SIGNATURES, Signatures, reclassify
from shadow.verdict import Difference, Verdict
from strangler.report import build_report
from strangler.store.traffic import window_stats
from tests.shadow.apps import Answer, Call, json_answer
from tests.shadow.conftest import Shadowed


def _mismatch(*diffs: tuple[str, str], undecided: tuple[str, ...] = ()) -> Verdict:
    found = tuple(Difference(path, kind, 1, 2, path) for path, kind in diffs)
    return Verdict("mismatch", found, undecided=frozenset(undecided))


def _learned(sigs: Signatures, **kinds: str) -> None:
    sigs.learn_kinds(Difference(path, kind, 1, 3, path) for path, kind in kinds.items())


def test_only_undecided_differences_now_learned_as_noise_of_that_kind_become_noise() -> None:
    sigs = Signatures()
    for _ in range(3):  # early: the coin differed before learning decided it
        sigs.add(_mismatch(("$.coin", "value"), undecided=("$.coin",)))
    sigs.add(_mismatch(("$.coin", "type"), undecided=("$.coin",)))  # became a number: real
    sigs.add(_mismatch(("$.coin", "value"), ("$.total", "value"), undecided=("$.coin",)))
    sigs.add(_mismatch(("$.new", "value"), undecided=("$.new",)))  # still undecided
    _learned(sigs, **{"$.coin": "value"})
    status = {"$.coin": "noise", "$.total": "real", "$.new": "unconfirmed"}.get
    out = reclassify(sigs.to_json(), status)
    assert out.noise == 3
    assert out.removed == {"value": 3}
    assert out.by_field == {"$.coin": 3}
    assert out.unconfirmed == 1  # the $.new one: counted apart, not as noise


def test_stored_documents_merge_and_stay_bounded() -> None:
    a, b = Signatures(), Signatures()
    for i in range(MAX_SIGNATURES + 10):
        a.add(_mismatch((f"$.f{i}", "value"), undecided=(f"$.f{i}",)))
    b.merge_json(a.to_json())
    b.merge_json(a.to_json())
    stored = b.to_json()["mismatches"]
    assert len(stored) == MAX_SIGNATURES + 1  # the rest under "*"
    assert sum(count for count, _ in stored.values()) == 2 * (MAX_SIGNATURES + 10)
    # the overflow is never turned into noise, whatever is learned
    _learned(b, **{f"$.f{i}": "value" for i in range(MAX_SIGNATURES + 10)})
    out = reclassify(b.to_json(), lambda name: "noise")
    assert out.noise == 2 * MAX_SIGNATURES


def test_writes_compared_before_learning_count_as_noise_once_learned(
    shadowed: Callable[..., Shadowed],
) -> None:
    """Writes are never noise-sampled: compared before the route's reads have taught that
    `$.at` is a timestamp, they are unconfirmed mismatches. Once learned, the report's match
    rate and the parity readiness judges count them as what they were: noise."""
    route = "* /items"
    env = shadowed([{"route": route, "mode": "shadow", "shadow": {"writes": "allow"}}])

    def stamped(c: Call) -> Answer:
        return json_answer({"id": 7, "at": time.time_ns()})

    env.legacy.handlers["/items"] = stamped
    env.new.handlers["/items"] = stamped
    with env.client() as c:
        for _ in range(10):
            c.post("/items", json={"name": "x"})
        env.settle(10)
        early = build_report(env.store, None, route=route)
        assert early.routes[0].unconfirmed == 10  # shown as undecided, not as real
        for _ in range(30):
            c.get("/items")
    env.settle(40)
    (r,) = build_report(env.store, None, route=route).routes
    assert (r.compared, r.mismatched, r.unconfirmed) == (40, 0, 0)
    assert r.match_rate == 1.0
    (at,) = [f for f in r.fields if f.field == "$.at"]
    assert (at.status, at.mismatches, at.noise) == ("noise", 0, 40)
    now = datetime.now(UTC)
    assert window_stats(env.store, now - timedelta(hours=1), now)[route].parity == 1.0
