"""Where requests are discovered from: access logs, HAR files, OpenAPI documents.

Each reader yields ``(method, path, count)`` and counts the lines it could not read in a
:class:`ReadStats` (never a traceback for a bad line). Formats:

- ``combined``: nginx / Apache common and combined formats
  (``... "GET /orgs/acme?x=1 HTTP/1.1" 200 ...``): the request line between the first two
  double quotes; split, not a regular expression, for speed;
- ``w3c``: IIS W3C extended logs, whose ``#Fields:`` line names the columns
  (``cs-method``, ``cs-uri-stem``);
- ``jsonl``: one JSON object per line with ``method`` and ``path`` (or ``uri``, ``url``,
  ``request_uri``, ``request.uri``: :class:`JsonKeys`, which the CLI lets you name), or a
  ``request`` request line (``"GET /x HTTP/1.1"``);
- ``har``: a browser's HAR export (``log.entries[].request``);
- ``openapi``: an OpenAPI 3 document, JSON or YAML: its paths are templates already
  (``{param}`` kept as written) and carry no traffic.

``detect`` picks the format from the file's first bytes (and ``openapi``/``har`` from the
document's keys).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

__all__ = ["FORMATS", "JsonKeys", "ReadOptions", "ReadStats", "detect", "read_requests"]

FORMATS = ("combined", "w3c", "jsonl", "har", "openapi")
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
_EVERY = 1 << 16  # lines between two progress reports


@dataclass(frozen=True, slots=True)
class JsonKeys:
    """Where a JSON log line keeps the method, the target and the status: keys tried in
    order, dotted for nested objects (``request.uri`` reads ``{"request": {"uri": ...}}``,
    Caddy's shape)."""

    method: tuple[str, ...] = ("method", "cs-method", "request_method", "request.method")
    path: tuple[str, ...] = (
        "path",
        "uri",
        "url",
        "request_uri",
        "cs-uri-stem",
        "request.uri",
        "request.path",
        "request.url",
    )
    status: tuple[str, ...] = ("status", "status_code", "response.status", "sc-status")


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read: keep requests answered 404 or not, the keys of JSON lines, and
    ``progress(bytes_read)``, called every 65,536 lines of a log."""

    include_404: bool = False
    keys: JsonKeys = field(default_factory=JsonKeys)
    progress: Callable[[int], None] | None = None


@dataclass(slots=True)
class ReadStats:
    """What a reader saw: lines read, requests kept, lines it could not read (and one)."""

    lines: int = 0
    requests: int = 0
    not_found: int = 0  # requests answered 404, left out (scanners' probes are no endpoint)
    unreadable: int = 0
    example: str = ""  # the first unreadable line, cut short
    templates_declared: bool = False  # an OpenAPI document: paths are templates already

    def bad(self, line: str) -> None:
        self.unreadable += 1
        if not self.example:
            self.example = line.strip()[:120]


def detect(path: Path) -> str:
    """The format of ``path`` from its name and first bytes (see the module docstring)."""
    name = path.name.lower()
    if name.endswith(".har"):
        return "har"
    with path.open("rb") as f:
        head = f.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()  # a byte order mark
    text = head.decode("utf-8", "replace")
    if text.startswith("#"):
        return "w3c"
    if name.endswith((".yaml", ".yml")) or text.startswith(("openapi", "swagger", "---")):
        return "openapi"
    if text.startswith("{"):
        first = text.split("\n", 1)[0]
        if '"openapi"' in text or '"swagger"' in text:
            return "openapi"
        if '"log"' in text and '"entries"' in text:
            return "har"
        return "jsonl" if first.rstrip().endswith("}") else "openapi"
    return "combined"


def read_requests(
    path: Path, fmt: str, stats: ReadStats, options: ReadOptions | None = None
) -> Iterator[tuple[str, str, int]]:
    """``(method, path, count)`` from ``path`` read as ``fmt``; requests answered 404 are
    counted in ``stats.not_found`` and left out unless ``options.include_404``."""
    options = options or ReadOptions()
    if fmt == "har":
        yield from _har(_load_json(path), stats, options.include_404)
    elif fmt == "openapi":
        yield from _openapi(_load_document(path), stats)
    else:
        # utf-8-sig: a byte order mark (Windows tools write one) is not part of line 1
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as f:
            reader = {"combined": _combined, "w3c": _w3c, "jsonl": _jsonl}[fmt]
            yield from reader(f, stats, options)


def _reporter(f: IO[str], options: ReadOptions) -> Callable[[], None] | None:
    """``report()``: the bytes read so far to ``options.progress``."""
    progress, fd = options.progress, f.fileno()
    if progress is None:
        return None
    return lambda: progress(os.lseek(fd, 0, os.SEEK_CUR))


def _request_line(text: str) -> tuple[str, str] | None:
    parts = text.split(" ")
    if len(parts) < 2 or parts[0] not in _METHODS or not parts[1].startswith(("/", "http")):
        return None
    target = parts[1]
    if not target.startswith("/"):
        target = urlsplit(target).path or "/"
    return parts[0], target


def _combined(f: IO[str], stats: ReadStats, options: ReadOptions) -> Iterator[tuple[str, str, int]]:
    counts: dict[tuple[str, str], int] = {}
    methods = _METHODS
    include_404, report = options.include_404, _reporter(f, options)
    lines = not_found = 0
    for line in f:
        lines += 1
        if report is not None and not lines % _EVERY:
            report()
        # inlined (this loop is the hot path on a 1 GB log): the request line between the
        # first two double quotes, as "METHOD TARGET PROTOCOL", then the status
        parts = line.split('"', 2)
        request = parts[1].split(" ", 2) if len(parts) == 3 else ()
        if len(request) < 2 or request[0] not in methods:
            stats.bad(line)
            continue
        if not include_404 and parts[2].startswith(" 404 "):
            not_found += 1
            continue
        target = request[1]
        if not target.startswith("/"):
            found = _request_line(f"{request[0]} {target}")
            if found is None:
                stats.bad(line)
                continue
            target = found[1]
        key = (request[0], target)
        counts[key] = counts.get(key, 0) + 1
        if len(counts) >= 100_000:  # bounded: hand over what was gathered
            stats.lines = lines
            yield from _flush(counts, stats)
    stats.lines = lines
    stats.not_found += not_found
    yield from _flush(counts, stats)


def _flush(counts: dict[tuple[str, str], int], stats: ReadStats) -> Iterator[tuple[str, str, int]]:
    for (method, target), count in counts.items():
        stats.requests += count
        yield method, target, count
    counts.clear()


def _w3c(f: IO[str], stats: ReadStats, options: ReadOptions) -> Iterator[tuple[str, str, int]]:
    at: tuple[int, int, int | None] | None = None  # method, target, status columns
    counts: dict[tuple[str, str], int] = {}
    include_404, report = options.include_404, _reporter(f, options)
    for line in f:
        stats.lines += 1
        if report is not None and not stats.lines % _EVERY:
            report()
        if line.startswith("#"):
            if line.startswith("#Fields:"):
                at = _w3c_columns(line[8:].split())
            continue
        values = line.split()
        if at is None or len(values) <= max(i for i in at if i is not None):
            stats.bad(line)
            continue
        method, target = values[at[0]], values[at[1]]
        status = values[at[2]] if at[2] is not None else ""
        if method not in _METHODS or not target.startswith("/"):
            stats.bad(line)
            continue
        if not include_404 and status == "404":
            stats.not_found += 1
            continue
        target = target.split("?", 1)[0]  # cs-uri carries the query
        key = (method, target)
        counts[key] = counts.get(key, 0) + 1
        if len(counts) >= 100_000:
            yield from _flush(counts, stats)
    yield from _flush(counts, stats)


def _w3c_columns(names: list[str]) -> tuple[int, int, int | None] | None:
    """Where the method, the target (``cs-uri-stem``, else ``cs-uri``) and the status are."""
    stem = "cs-uri-stem" if "cs-uri-stem" in names else "cs-uri"
    if "cs-method" not in names or stem not in names:
        return None
    status = names.index("sc-status") if "sc-status" in names else None
    return names.index("cs-method"), names.index(stem), status


def _jsonl(f: IO[str], stats: ReadStats, options: ReadOptions) -> Iterator[tuple[str, str, int]]:
    counts: dict[tuple[str, str], int] = {}
    keys, report = options.keys, _reporter(f, options)
    for line in f:
        if not line.strip():
            continue
        stats.lines += 1
        if report is not None and not stats.lines % _EVERY:
            report()
        found = None
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            found = _from_record(record, keys)
        if found is None:
            stats.bad(line)
            continue
        assert isinstance(record, dict)  # found: a record was read
        if not options.include_404 and str(_pick(record, keys.status)) == "404":
            stats.not_found += 1
            continue
        counts[found] = counts.get(found, 0) + 1
        if len(counts) >= 100_000:
            yield from _flush(counts, stats)
    yield from _flush(counts, stats)


def _pick(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The first of ``keys`` (dotted for nested objects) that holds a plain value."""
    for key in keys:
        value: Any = record
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and not isinstance(value, dict | list):
            return value
    return None


def _from_record(record: dict[str, Any], keys: JsonKeys) -> tuple[str, str] | None:
    method, target = _pick(record, keys.method), _pick(record, keys.path)
    request = record.get("request")
    if method is None and target is None and isinstance(request, str):
        return _request_line(request)  # nginx's "$request": "GET /x HTTP/1.1"
    if not isinstance(method, str) or not isinstance(target, str):
        return None
    method = method.upper()
    if method not in _METHODS:
        return None
    return _request_line(f"{method} {target}")


def _load_json(path: Path) -> Any:
    with path.open("r", encoding="utf-8", errors="replace") as f:
        return json.load(f)


def _load_document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)


def _har(doc: Any, stats: ReadStats, include_404: bool) -> Iterator[tuple[str, str, int]]:
    entries = doc.get("log", {}).get("entries", []) if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ValueError("a HAR file: no log.entries")
    for entry in entries:
        stats.lines += 1
        request = entry.get("request") if isinstance(entry, dict) else None
        method = str(request.get("method", "")).upper() if isinstance(request, dict) else ""
        url = request.get("url") if isinstance(request, dict) else None
        if method not in _METHODS or not isinstance(url, str):
            stats.bad(json.dumps(entry)[:120])
            continue
        response = entry.get("response")
        if not include_404 and isinstance(response, dict) and response.get("status") == 404:
            stats.not_found += 1
            continue
        stats.requests += 1
        yield method, urlsplit(url).path or "/", 1


def _openapi(doc: Any, stats: ReadStats) -> Iterator[tuple[str, str, int]]:
    paths = doc.get("paths") if isinstance(doc, dict) else None
    if not isinstance(paths, dict):
        raise ValueError("an OpenAPI document: no 'paths'")
    stats.templates_declared = True
    for template, operations in paths.items():
        if not isinstance(operations, dict):
            stats.bad(str(template))
            continue
        for method in operations:
            stats.lines += 1
            if str(method).upper() in _METHODS:
                yield str(method).upper(), str(template), 0
