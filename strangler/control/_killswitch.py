"""The global kill switch: every route back to legacy at once, audited.

Engaging it records who and why, then flips every declared route that is not on legacy to
legacy (one audit-log entry each; every running proxy follows within a poll interval).
While it is engaged no flip may send more traffic to new, forced or not. Releasing it
changes no route: people step routes forward again, through the readiness gates::

    >>> engage_kill_switch(cfg, store, reason="incident 42: orders double-charged")  # doctest: +SKIP
    KillSwitchResult(state=KillSwitchState(engaged=True, ...), flips=(Flip(...), ...))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strangler._errors import InvalidFlip
from strangler.config import Config
from strangler.records import KillSwitchState
from strangler.store import Flip, Store, default_actor
from strangler.store.killswitch import kill_switch_state, set_kill_switch

__all__ = [
    "KillSwitchResult",
    "engage_kill_switch",
    "kill_switch_state",
    "release_kill_switch",
]

KILL_SWITCH = "kill switch"
"""The name refusals and errors use for the switch (it is not a route)."""


@dataclass(frozen=True, slots=True)
class KillSwitchResult:
    """The switch's new position and the flips engaging it caused."""

    state: KillSwitchState
    flips: tuple[Flip, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**self.state.to_json(), "flips": [f.to_json() for f in self.flips]}


def _reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise InvalidFlip(
            KILL_SWITCH, "a reason is required (--reason '...'); the audit log keeps it"
        )
    return reason.strip()


def engage_kill_switch(
    config: Config, store: Store, *, reason: str, actor: str | None = None
) -> KillSwitchResult:
    """Engage the switch and send every declared route that is not on legacy to legacy."""
    why = _reason(reason)
    who = actor or default_actor()
    # The switch first: from here on, forward flips are refused while routes go back.
    state = set_kill_switch(store, engaged=True, reason=why, actor=who)
    live = store.live_states()
    flips: list[Flip] = []
    for rc in config.routes:
        st = live.get(rc.key)
        mode = st.mode if st else rc.mode
        if mode == "legacy":
            continue
        flips.append(
            store.flip(
                rc.key,
                initial_mode=rc.mode,
                initial_percent=rc.percent if rc.mode == "canary" else None,
                to_mode="legacy",
                to_percent=None,
                reason=f"kill switch: {why}",
                actor=who,
            )
        )
    return KillSwitchResult(state, tuple(flips))


def release_kill_switch(store: Store, *, reason: str, actor: str | None = None) -> KillSwitchResult:
    """Release the switch; routes stay where they are until people flip them forward."""
    state = set_kill_switch(
        store, engaged=False, reason=_reason(reason), actor=actor or default_actor()
    )
    return KillSwitchResult(state)
