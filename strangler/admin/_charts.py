"""The dashboard's progress chart, drawn with plotly (its JS is served by the admin side).

The figure is built here as JSON; the page hands it to ``Plotly.newPlot``. The number of
routes in each mode over time comes from the flip audit log (replayed from the config's
initial modes); the share of traffic served by new comes from the traffic aggregates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import plotly.graph_objects as go

from strangler.config import MODES
from strangler.records import TrafficPoint
from strangler.store import Flip

__all__ = ["mode_history", "progress_figure"]

_COLOURS = {
    "legacy": "#9e9e9e",
    "shadow": "#64b5f6",
    "canary": "#ffb74d",
    "new": "#66bb6a",
    "retired": "#2e7d32",
}


def mode_history(
    initial: Mapping[str, str], flips: Sequence[Flip], now: datetime
) -> list[tuple[datetime, dict[str, int]]]:
    """Routes per mode after each flip (oldest first), ending with ``now``.

    ``initial`` maps each declared route to its mode in the config file; flips of routes
    that are not declared are skipped.
    """
    modes = dict(initial)
    ordered = sorted(flips, key=lambda f: (f.at, f.id))
    points: list[tuple[datetime, dict[str, int]]] = []

    def counts() -> dict[str, int]:
        return {m: sum(1 for v in modes.values() if v == m) for m in MODES}

    if ordered:
        points.append((ordered[0].at, counts()))
    for flip in ordered:
        if flip.route in modes:
            modes[flip.route] = flip.to_mode
            points.append((flip.at, counts()))
    points.append((now, counts()))
    return points


def progress_figure(
    history: Sequence[tuple[datetime, Mapping[str, int]]], trend: Sequence[TrafficPoint]
) -> str:
    """The progress chart as plotly JSON: routes by mode (stacked), share served by new."""
    fig = go.Figure()
    times = [t for t, _ in history]
    for mode in MODES:
        fig.add_trace(
            go.Scatter(
                x=times,
                y=[c.get(mode, 0) for _, c in history],
                name=f"routes in {mode}",
                # a young migration (no flip yet) has one point: markers make it visible
                # (only for modes that hold routes: an empty one would sit on the stack)
                mode="lines+markers"
                if len(times) < 3 and any(c.get(mode) for _, c in history)
                else "lines",
                line={"shape": "hv", "width": 0.5, "color": _COLOURS[mode]},
                stackgroup="modes",
            )
        )
    shares = [(p.start, p.share_new) for p in trend if p.share_new is not None]
    if shares:
        fig.add_trace(
            go.Scatter(
                x=[t for t, _ in shares],
                y=[round(s * 100, 2) for _, s in shares],
                name="% of traffic served by new",
                mode="lines+markers",
                line={"color": "#1b5e20", "width": 3},
                yaxis="y2",
            )
        )
    # The migration's own time range: from its first flip or first recorded traffic to now.
    starts = times[:1] + [p.start for p in trend[:1]]
    if starts and times:
        fig.update_xaxes(range=[min(starts).isoformat(), times[-1].isoformat()])
    fig.update_layout(
        height=320,
        margin={"l": 40, "r": 40, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.2},  # below the dates, not over them
        yaxis={"title": "routes", "rangemode": "tozero"},
        # plotly syncs an overlaying axis' ticks to the left one's grid (95, 79.2, ...)
        # unless told otherwise: quarters of 100 %
        yaxis2={
            "title": "% served by new",
            "overlaying": "y",
            "side": "right",
            "range": [0, 100],
            "tickmode": "linear",
            "dtick": 25,
            "showgrid": False,
        },
    )
    return str(fig.to_json())
