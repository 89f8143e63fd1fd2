"""``discover``: read sources into one template tree and say which endpoints are declared."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from strangler._errors import ConfigError
from strangler.config import Config
from strangler.discovery._sources import (
    FORMATS,
    JsonKeys,
    ReadOptions,
    ReadStats,
    detect,
    read_requests,
)
from strangler.discovery._templates import DiscoveredRoute, TemplateTree
from strangler.routing import RouteTable

__all__ = ["Discovery", "declared_by", "discover", "routes_yaml"]


@dataclass(frozen=True, slots=True)
class Discovery:
    """What ``discover`` found: endpoints (most requested first), per-file statistics,
    requests over the tree's bound, and which endpoints a config already declares."""

    routes: tuple[DiscoveredRoute, ...]
    files: dict[str, ReadStats]
    total: int
    other: int
    declared: dict[str, str] = field(default_factory=dict)  # discovered route -> config key

    @property
    def undeclared(self) -> tuple[DiscoveredRoute, ...]:
        return tuple(r for r in self.routes if r.route not in self.declared)

    def to_json(self) -> dict[str, Any]:
        return {
            "total_requests": self.total,
            "other_requests": self.other,
            "files": {
                name: {
                    "lines": s.lines,
                    "requests": s.requests,
                    "not_found": s.not_found,
                    "unreadable": s.unreadable,
                    "example_unreadable": s.example or None,
                }
                for name, s in self.files.items()
            },
            "routes": [
                {
                    "route": r.route,
                    "requests": r.count,
                    "share": round(r.share, 6),
                    "declared_as": self.declared.get(r.route),
                }
                for r in self.routes
            ],
        }


def discover(
    paths: Sequence[Path],
    *,
    fmt: str = "auto",
    config: Config | None = None,
    max_templates: int = 50_000,
    include_404: bool = False,
    keys: JsonKeys | None = None,
    on_file: Callable[[Path, str], None] | None = None,
    progress: Callable[[Path, int, int], None] | None = None,
) -> Discovery:
    """Read every file of ``paths`` (``fmt``: one of :data:`FORMATS` or ``auto``); requests
    answered 404 are left out (counted per file) unless ``include_404``; ``keys`` says where
    JSON lines keep the method, target and status; ``progress(path, bytes_read, size)`` is
    called as a log is read."""
    if fmt != "auto" and fmt not in FORMATS:
        raise ConfigError("--format", fmt, f"auto or one of {', '.join(FORMATS)}")
    tree = TemplateTree(max_nodes=max_templates)
    files: dict[str, ReadStats] = {}
    for path in paths:
        if not path.is_file():
            raise ConfigError("FILE", str(path), "a readable file")
        kind = detect(path) if fmt == "auto" else fmt
        if on_file is not None:
            on_file(path, kind)
        stats = files[str(path)] = ReadStats()
        try:
            options = ReadOptions(
                include_404,
                keys or JsonKeys(),
                None if progress is None else _progress_of(progress, path),
            )
            tree.add_many(read_requests(path, kind, stats, options))
        except (ValueError, AttributeError, yaml.YAMLError) as exc:
            raise ConfigError("FILE", str(path), f"{kind} ({exc})") from None
        except OSError as exc:
            raise ConfigError("FILE", str(path), f"a readable file ({exc.strerror})") from None
    routes = tuple(tree.entries())
    declared = declared_by(routes, config) if config is not None else {}
    return Discovery(routes, files, tree.total, tree.other, declared)


def _progress_of(progress: Callable[[Path, int, int], None], path: Path) -> Callable[[int], None]:
    size = path.stat().st_size
    return lambda done: progress(path, done, size)


def declared_by(routes: Sequence[DiscoveredRoute], config: Config) -> dict[str, str]:
    """``{discovered route: key of the declared route that serves it}`` (matched as the
    proxy matches requests, each parameter standing for a sample value)."""
    table = RouteTable.build(config)
    out = {}
    for r in routes:
        sample = "/".join("x1" if s.startswith("{") else s for s in r.path.split("/"))
        found = [table.match(m, sample or "/") for m in r.methods]
        keys = {f.route.key for f in found if f is not None}
        if len(keys) == 1 and all(found):
            out[r.route] = keys.pop()
    return out


def routes_yaml(routes: Sequence[DiscoveredRoute]) -> str:
    """Route entries to paste under ``routes:`` (mode ``legacy``: nothing changes until a
    flip), each with its traffic in a comment."""
    lines = ["routes:"]
    for r in routes:
        share = f"{r.share:.2%}" if r.count else "declared in OpenAPI, no traffic seen"
        lines.append(f"  # {r.count:,} requests, {share}")
        lines.append(f"  - route: {json.dumps(r.route)}")  # JSON strings are YAML
        lines.append("    mode: legacy")
    return "\n".join(lines) + "\n"
