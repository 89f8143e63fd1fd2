"""Which flips are gated, and what a refusal says (pure decisions)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from strangler._errors import FlipRefused
from strangler.rollout import Condition, KillSwitchState, Readiness, decide_flip, sends_more_to_new

NOT_READY = Readiness(
    "GET /a",
    (
        Condition("sample", True, "500 compared requests in the last 1h", ">= 100"),
        Condition("parity", False, "97.00% of 500 compared requests agree", ">= 99.00%"),
    ),
)
READY = Readiness("GET /a", (Condition("sample", True, "500", ">= 100"),))
D = Decimal


@pytest.mark.parametrize(
    ("src", "dst", "more"),
    [
        (("legacy", None), ("shadow", None), False),
        (("shadow", None), ("canary", D(1)), True),
        (("canary", D(5)), ("canary", D(25)), True),
        (("canary", D(25)), ("canary", D(5)), False),
        (("canary", D(50)), ("new", None), True),
        (("new", None), ("retired", None), True),
        (("new", None), ("shadow", None), False),
        (("retired", None), ("legacy", None), False),
    ],
)
def test_which_flips_send_more_traffic_to_new(
    src: tuple[str, Decimal | None], dst: tuple[str, Decimal | None], more: bool
) -> None:
    assert sends_more_to_new(*src, *dst) is more


def _decide(**kw: object) -> tuple[str, ...]:
    args: dict[str, object] = {
        "from_mode": "shadow",
        "from_percent": None,
        "to_mode": "canary",
        "to_percent": D(10),
        "readiness": NOT_READY,
    }
    args.update(kw)
    return decide_flip("GET /a", **args)  # type: ignore[arg-type]


def test_not_ready_route_is_refused_with_each_unmet_condition() -> None:
    with pytest.raises(FlipRefused) as info:
        _decide()
    assert info.value.route == "GET /a"
    assert info.value.blockers == (
        "parity: 97.00% of 500 compared requests agree (needs >= 99.00%)",
    )
    assert "--force --reason" in str(info.value)


def test_ready_route_goes_through() -> None:
    assert _decide(readiness=READY) == ()


def test_stepping_back_is_never_gated() -> None:
    assert _decide(from_mode="new", to_mode="shadow", to_percent=None) == ()


def test_force_overrides_and_returns_the_overridden_blockers() -> None:
    assert _decide(force=True) == (
        "parity: 97.00% of 500 compared requests agree (needs >= 99.00%)",
    )


def test_kill_switch_refuses_forward_flips_even_forced() -> None:
    switch = KillSwitchState(True, datetime(2026, 1, 1, tzinfo=UTC), "ops@h", "incident 42")
    with pytest.raises(FlipRefused) as info:
        _decide(readiness=READY, kill_switch=switch, force=True)
    assert "kill switch on since 2026-01-01 00:00:00 UTC by ops@h: incident 42" in str(info.value)


def test_kill_switch_allows_stepping_back() -> None:
    switch = KillSwitchState(True, None, "ops@h", "incident 42")
    assert (
        _decide(
            from_mode="canary",
            from_percent=D(5),
            to_mode="legacy",
            to_percent=None,
            kill_switch=switch,
        )
        == ()
    )
