"""What a load run measured: per target and route, as plain values (no I/O).

Latencies are milliseconds. ``samples`` is a bounded, uniform reservoir of the latencies of
the successful requests; the percentiles come from locust's full histogram.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Progress", "RouteResult", "TargetResult", "generator_warnings"]

# Reports warn when a run came this close to what the generator can push (bench_loadgen).
CAPACITY_WARNING_SHARE = 0.8
CPU_WARNING_PERCENT = 90.0


@dataclass(frozen=True, slots=True)
class RouteResult:
    """One route's figures against one target."""

    route: str
    requests: int
    failures: int
    rps: float
    p50: float | None
    p95: float | None
    p99: float | None
    mean: float | None = None
    max: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    samples: tuple[float, ...] = ()
    # one (p50, p95, samples) per interleaved block, in running order: the gate pairs them
    blocks: tuple[tuple[float, float, int], ...] = ()

    @property
    def failure_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RouteResult:
        return cls(
            route=str(data["route"]),
            requests=int(data["requests"]),
            failures=int(data["failures"]),
            rps=float(data["rps"]),
            p50=_opt(data.get("p50")),
            p95=_opt(data.get("p95")),
            p99=_opt(data.get("p99")),
            mean=_opt(data.get("mean")),
            max=_opt(data.get("max")),
            statuses={str(k): int(v) for k, v in (data.get("statuses") or {}).items()},
            samples=tuple(float(v) for v in data.get("samples", ())),
            blocks=tuple(
                (float(b[0]), float(b[1]), int(b[2])) for b in data.get("blocks", ()) or ()
            ),
        )

    def to_json(self, *, samples: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "route": self.route,
            "requests": self.requests,
            "failures": self.failures,
            "failure_rate": round(self.failure_rate, 6),
            "rps": round(self.rps, 2),
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "mean": None if self.mean is None else round(self.mean, 3),
            "max": self.max,
            "statuses": dict(self.statuses),
        }
        if samples:
            out["samples"] = list(self.samples)
        return out


@dataclass(frozen=True, slots=True)
class TargetResult:
    """A whole run against one target (legacy, new or proxy)."""

    target: str
    host: str
    seconds: float
    users: int
    routes: tuple[RouteResult, ...]
    cpu_percent: float = 0.0
    workers: dict[str, int] = field(default_factory=dict)
    errors: tuple[dict[str, Any], ...] = ()

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.routes)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.routes)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def route(self, name: str) -> RouteResult | None:
        return next((r for r in self.routes if r.route == name), None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetResult:
        return cls(
            target=str(data["target"]),
            host=str(data["host"]),
            seconds=float(data["seconds"]),
            users=int(data["users"]),
            routes=tuple(RouteResult.from_json(r) for r in data["routes"]),
            cpu_percent=float(data.get("cpu_percent", 0.0)),
            workers={str(k): int(v) for k, v in (data.get("workers") or {}).items()},
            errors=tuple(data.get("errors", ())),
        )

    def to_json(self, *, samples: bool = False) -> dict[str, Any]:
        return {
            "target": self.target,
            "host": self.host,
            "seconds": self.seconds,
            "users": self.users,
            "requests": self.requests,
            "failures": self.failures,
            "rps": round(self.rps, 2),
            "cpu_percent": self.cpu_percent,
            "workers": dict(self.workers),
            "routes": [r.to_json(samples=samples) for r in self.routes],
            "errors": list(self.errors),
        }


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress report while a target is under load."""

    target: str
    elapsed: float
    duration: float
    users: int
    requests: int
    failures: int
    rps: float


def generator_warnings(result: TargetResult, capacity: float | None) -> list[str]:
    """Why the load generator itself may have been the bottleneck of this run.

    >>> r = TargetResult("new", "http://x", 10.0, 5, (), cpu_percent=97.0)
    >>> generator_warnings(r, None)[0].startswith("new: the load generator used 97% of a core")
    True
    """
    warnings = []
    if result.cpu_percent >= CPU_WARNING_PERCENT:
        warnings.append(
            f"{result.target}: the load generator used {result.cpu_percent:.0f}% of a core: "
            "it, not the target, may have been the bottleneck (add workers: --master/--worker)"
        )
    per_process = result.rps / max(1, len(result.workers))
    if capacity and per_process >= CAPACITY_WARNING_SHARE * capacity:
        warnings.append(
            f"{result.target}: {per_process:.0f} req/s per load process is "
            f"{per_process / capacity:.0%} of what one can push on this machine "
            f"({capacity:.0f} req/s, bench/bench_loadgen.py): the generator may have been "
            "the bottleneck"
        )
    return warnings


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)
