"""The files in a run directory: one snapshot per worker, and the sum of the gone ones.

- ``<pid>.json``: a worker's registry, the collected families as JSON (rewritten every
  second, by ``os.replace`` of a temporary file);
- ``<pid>-<random>.json``: an earlier worker's snapshot, set aside when its pid came back;
- ``retired.json``: the sum of every gone worker's last snapshot, which snapshot files it
  absorbed (by inode, modification time and size: a file renamed aside is still known, a
  new file on a reused inode is not mistaken for it), and each gone pid's answers. The leader folds dead workers' files in
  here, so a worker that crashes and restarts a thousand times leaves one file to read,
  not a thousand.

The JSON is our own (not the Prometheus text): ``orjson.loads`` of a worker's snapshot takes
a few ms, prometheus_client's text parser tens of ms.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.core import Metric
from prometheus_client.samples import Sample

__all__ = [
    "RETIRED_NAME",
    "SNAPSHOT_SUFFIX",
    "Retired",
    "alive",
    "decode_families",
    "encode_families",
    "identity",
    "pid_of",
    "replace_file",
]

SNAPSHOT_SUFFIX = ".json"
RETIRED_NAME = "retired.json"


def _plain(families: list[Metric] | tuple[Metric, ...]) -> list[Any]:
    return [
        [
            f.name,
            f.type,
            f.documentation,
            f.unit,
            # a string only for an infinite or NaN value (JSON has none)
            [
                [s.name, s.labels, s.value if math.isfinite(s.value) else str(s.value)]
                for s in f.samples
            ],
        ]
        for f in families
    ]


def _families(plain: list[Any]) -> tuple[Metric, ...]:
    families: list[Metric] = []
    for name, kind, documentation, unit, samples in plain:
        family = Metric(name, documentation, kind, unit)
        family.samples = [
            Sample(n, labels, v if type(v) is float else float(v)) for n, labels, v in samples
        ]
        families.append(family)
    return tuple(families)


def encode_families(families: list[Metric]) -> bytes:
    """A worker's snapshot file's bytes."""
    return orjson.dumps(_plain(families))


def decode_families(data: bytes) -> tuple[Metric, ...]:
    """The families of a snapshot file (ValueError or TypeError if it is not one)."""
    return _families(orjson.loads(data))


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def identity(st: os.stat_result) -> tuple[int, int, int]:
    """Which file this is, whatever its name: inode, modification time (ns) and size."""
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def pid_of(name: str) -> tuple[int | None, bool]:
    """The pid a snapshot file was written by, and whether that pid still writes it."""
    stem = name.removesuffix(SNAPSHOT_SUFFIX)
    pid, dash, _ = stem.partition("-")
    if not pid.isdigit():
        return None, False
    return int(pid), not dash


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True  # no /proc here: existing is all we can tell
    # a dead worker stays a zombie until uvicorn's supervisor reaps it (up to a second)
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X")


@dataclass(frozen=True, slots=True)
class Retired:
    """The sum of the gone workers: ``families``, the snapshot files it ``absorbed``
    (:func:`identity` of each), and the answers each gone pid counted (``gone``)."""

    families: tuple[Metric, ...] = ()
    absorbed: frozenset[tuple[int, int, int]] = frozenset()
    gone: tuple[tuple[int | None, int], ...] = field(default=())

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "absorbed": sorted(self.absorbed),
                "gone": list(self.gone),
                "families": _plain(self.families),
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> Retired:
        plain = orjson.loads(data)
        return cls(
            _families(plain["families"]),
            frozenset((int(ino), int(mtime), int(size)) for ino, mtime, size in plain["absorbed"]),
            tuple((None if pid is None else int(pid), int(n)) for pid, n in plain["gone"]),
        )
