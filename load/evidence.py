"""Store the load gate's verdicts as evidence that the route's readiness reads."""

from __future__ import annotations

from typing import Any

from load.gate import GateResult
from load.results import TargetResult
from strangler.config import Config
from strangler.store import Evidence, Store

__all__ = ["record_gate"]

KIND = "load"


def record_gate(
    config: Config,
    gate: GateResult,
    legacy: TargetResult,
    new: TargetResult,
    *,
    run: dict[str, Any] | None = None,
) -> list[Evidence]:
    """One evidence row (kind ``load``) per route of the config the gate judged.

    Routes the config does not declare (the catch-all) are judged and reported but not
    stored: readiness is per declared route.
    """
    declared = {r.key for r in config.routes}
    store = Store(config.store)
    try:
        store.ensure_schema()
        rows = []
        for verdict in gate.verdicts:
            if verdict.route not in declared:
                continue
            summary = {
                **verdict.summary(),
                "legacy_host": legacy.host,
                "new_host": new.host,
                "seconds": {"legacy": legacy.seconds, "new": new.seconds},
                **(run or {}),
            }
            rows.append(
                store.record_evidence(
                    KIND,
                    route=verdict.route,
                    passed=verdict.passed,
                    summary=summary,
                    subject=f"{legacy.host} vs {new.host}",
                )
            )
        return rows
    finally:
        store.close()
