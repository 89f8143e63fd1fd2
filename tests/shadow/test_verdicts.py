"""Verdicts a team can trust at the default settings, with no hand-written rules: every
regression of the noisy pair reported with its field and kind, none of its noise."""

from __future__ import annotations

from pathlib import Path

from tests.shadow.noisy_pair import EXPECTED, run_pair


def test_the_noisy_pair_at_the_defaults_by_50_requests_per_route(tmp_path: Path) -> None:
    (found,) = run_pair(tmp_path, 50)
    for route, expected in EXPECTED.items():
        if expected is not None:
            assert expected in found.reported.get(route, set()), (route, found.reported)
    assert found.false_alarms() == []
    assert found.recall() == 1.0
    # Noise decided late (a field legacy varies on half of its calls) leaves no mismatch
    # behind: the report's match rate and the parity readiness judges agree, at 100 %.
    assert found.match_rates["/n/clean"] == 1.0
    assert found.parity["/n/clean"] == 1.0
    assert found.parity["/r/status"] == found.match_rates["/r/status"] == 0.0
    # learning costs at most one extra legacy call per request
    assert found.requests <= found.legacy_calls <= 2 * found.requests
