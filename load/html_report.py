"""The self-contained HTML load report: tables and plotted latency distributions.

Charts are drawn with plotly; its JavaScript comes from the plotly Python package and is
inlined in the page, so the file opens offline (no CDN at view time). That makes the page
about 5 MB.

    >>> Path("load.html").write_text(to_html(report))   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import jinja2
import markupsafe

from load.report import (
    _GATE_HEADERS,
    _TARGET_HEADERS,
    LoadReport,
    _gate_row,
    _target_rows,
    _why,
)
from load.report import _target_title as target_title

__all__ = ["to_html"]

MAX_POINTS = 400  # per curve; the page stays small enough to open quickly

_COLOURS = {"legacy": "#7a5af8", "new": "#16b364", "proxy": "#f79009"}


def _ecdf(samples: tuple[float, ...]) -> tuple[list[float], list[float]]:
    ordered = sorted(samples)
    n = len(ordered)
    if n <= MAX_POINTS:
        picks = list(range(n))
    else:
        picks = sorted({round(i * (n - 1) / (MAX_POINTS - 1)) for i in range(MAX_POINTS)})
    return [ordered[i] for i in picks], [(i + 1) / n for i in picks]


def _charts(report: LoadReport) -> list[str]:
    import plotly.graph_objects as go
    import plotly.io as pio

    routes = list(dict.fromkeys(r.route for t in report.results for r in t.routes))
    charts = []
    for route in routes:
        fig = go.Figure()
        for result in report.results:
            r = result.route(route)
            if r is None or not r.samples:
                continue
            xs, ys = _ecdf(r.samples)
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    name=f"{result.target} (n={len(r.samples)})",
                    line={"color": _COLOURS.get(result.target), "shape": "hv"},
                )
            )
        fig.update_layout(
            title=route,
            xaxis_title="latency (ms)",
            yaxis_title="share of requests at or under",
            yaxis={"tickformat": ".0%", "range": [0, 1.02]},
            height=360,
            margin={"l": 60, "r": 20, "t": 50, "b": 50},
        )
        charts.append(pio.to_html(fig, include_plotlyjs=False, full_html=False))
    return charts


def to_html(report: LoadReport) -> str:
    """The report as one HTML page that needs no network to view."""
    from plotly.offline import get_plotlyjs

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("load", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    template = env.get_template("load_report.html.j2")
    context: dict[str, Any] = {
        "report": report,
        "gate": report.gate,
        "shares": list(report.scenario.shares().items()),
        "target_headers": _TARGET_HEADERS,
        "targets": [(target_title(t), _target_rows(t)) for t in report.results],
        "gate_headers": _GATE_HEADERS,
        "gate_why": [line for v in report.gate.verdicts for line in _why(v)] if report.gate else [],
        "gate_rows": [(_gate_row(v), v.passed) for v in report.gate.verdicts]
        if report.gate
        else [],
        "charts": _charts(report),
        # inlined as-is: plotly's own bundle, no user data inside
        "plotly_js": markupsafe.Markup(get_plotlyjs()),
    }
    return template.render(context)
