"""Learned noise: per-request masking, per-field statistics, thresholds, suggestions."""

from __future__ import annotations

from shadow import Difference, Verdict
from shadow.noise import FieldCounts, NoiseThresholds, RouteNoise, classify, field_status


def diff(path: str, legacy: object = 1, new: object = 2, field: str | None = None) -> Difference:
    return Difference(path, "value", legacy, new, field or path)


def test_a_field_that_differs_between_two_legacy_answers_is_noise_for_that_request() -> None:
    stats = RouteNoise()
    verdict = classify(
        Verdict.of([diff("$.at"), diff("$.items[0].ts", field="$.items[*].ts")]),
        Verdict.of([diff("$.at"), diff("$.items[0]", field="$.items[*]")]),
        stats,
    )
    assert verdict.outcome == "noise"
    assert verdict.differences == ()
    assert [d.path for d in verdict.noise] == ["$.at", "$.items[0].ts"]


def test_a_field_noisy_elsewhere_but_stable_on_this_request_is_always_reported() -> None:
    stats = RouteNoise(thresholds=NoiseThresholds(min_samples=1))
    # Teach the model that $.price is very noisy...
    for _ in range(50):
        classify(Verdict.of([diff("$.price")]), Verdict.of([diff("$.price")]), stats)
    assert stats.status("$.price") == "noise"
    # ...yet on a request where both legacy answers agreed, new's different price is real.
    verdict = classify(Verdict.of([diff("$.price", 10, 12)]), Verdict.of([]), stats)
    assert verdict.outcome == "mismatch"
    assert [d.path for d in verdict.differences] == ["$.price"]


def test_without_a_second_answer_the_statistics_decide() -> None:
    stats = RouteNoise(thresholds=NoiseThresholds(min_samples=10))
    for i in range(100):
        second = Verdict.of([diff("$.ts")]) if i % 2 == 0 else None
        classify(Verdict.of([diff("$.ts")]), second, stats)
    assert stats.samples == 50
    assert stats.status("$.ts") == "noise"
    verdict = classify(Verdict.of([diff("$.ts"), diff("$.name")]), None, stats)
    assert [d.path for d in verdict.differences] == ["$.name"]
    assert [d.path for d in verdict.noise] == ["$.ts"]


def test_too_few_noise_samples_never_call_a_field_noise() -> None:
    stats = RouteNoise(thresholds=NoiseThresholds(min_samples=20))
    for _ in range(5):
        classify(Verdict.of([diff("$.ts")]), Verdict.of([diff("$.ts")]), stats)
    assert stats.status("$.ts") == "unconfirmed"
    verdict = classify(Verdict.of([diff("$.ts")]), None, stats)
    assert verdict.outcome == "mismatch"


def test_thresholds_relative_and_absolute() -> None:
    t = NoiseThresholds(relative=0.2, absolute=0.0003, min_samples=10)
    # Differs against legacy half the time, against new half the time: noise.
    assert field_status(FieldCounts(50, 500), samples=100, compared=1000, thresholds=t) == "noise"
    # Against new far more often than against legacy: real.
    assert field_status(FieldCounts(10, 500), samples=100, compared=1000, thresholds=t) == "real"
    # 25% more often relatively, but only 0.01% of requests in absolute terms: noise.
    assert (
        field_status(FieldCounts(8, 10), samples=100_000, compared=100_000, thresholds=t) == "noise"
    )
    # Never seen differing legacy-vs-legacy: real.
    assert field_status(FieldCounts(0, 3), samples=100, compared=1000, thresholds=t) == "real"


def test_suggestions_propose_rules_for_pure_noise_fields_only() -> None:
    stats = RouteNoise(thresholds=NoiseThresholds(min_samples=5))
    for _ in range(20):
        classify(
            Verdict.of(
                [
                    diff("$.id", "123e4567-e89b-12d3-a456-426614174000", "x"),
                    diff("$.at", "2026-01-01T00:00:00Z", "y"),
                    diff("$.tags[0]", "a", "b", field="$.tags[*]"),
                    diff("$.hits", 3, 4),
                    diff("$.total", 3, 4),
                ]
            ),
            Verdict.of(
                [diff("$.id"), diff("$.at"), diff("$.tags[1]", field="$.tags[*]"), diff("$.hits")]
            ),
            stats,
        )
    rules = {s.field: s.rule for s in stats.suggestions()}
    assert rules == {
        "$.id": 'masks: [{path: "$.id", shape: uuid}]',
        "$.at": 'masks: [{path: "$.at", shape: iso-datetime}]',
        "$.tags[*]": 'unordered: ["$.tags"]',
        "$.hits": 'ignore: ["$.hits"]',
    }
    # $.total never differed legacy-vs-legacy: a real difference, never suggested away.
    assert stats.status("$.total") == "real"
    assert "$.hits" not in {s.field for s in stats.suggestions(already_ignored=["$.hits"])}


def test_matches_count_as_compared_requests() -> None:
    stats = RouteNoise()
    classify(Verdict.of([]), None, stats)
    classify(Verdict.not_compared("body over the buffer cap"), None, stats)
    assert stats.compared == 1
