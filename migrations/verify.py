"""Prove that the new table holds exactly the mapping of the legacy rows.

    >>> result = verify(mapping, dbs, store)                  # doctest: +SKIP
    >>> result.clean, result.missing, result.extra, result.different
    (True, (), (), ())

1. Counts on both sides.
2. A mapping declared in SQL (``columns=``) is summed by the databases: per key range,
   ``(count, sum of row hashes)`` over the rows in the new schema's canonical text, the legacy
   side through the column expressions (:mod:`migrations.checksum`); a range whose sums differ
   is halved until it holds at most ``LEAF_ROWS`` legacy rows, then compared as in 3.
   ``result.details["checksums"]`` names the hash used.
3. Otherwise key ranges of ``chunk`` legacy rows: the legacy rows pass through the mapping's
   transform, the target rows of the same range (by ``target_key``) are read, and the two are
   compared as raw values, then in the new schema's representation
   (:mod:`migrations.canonical`), down to rows: missing (expected, not in the target), extra
   (in the target, not produced by any legacy row) and different (with the differing columns).
4. Differences are re-read after ``recheck_delay`` seconds; rows that changed meanwhile and
   now agree are not reported (they were moving, not wrong).
5. ``repair=True`` re-copies exactly the legacy keys involved and deletes the extra rows, then
   checks those keys again: the result lists what was found (and repaired) and is ``clean``
   when nothing is left.

The verdict is stored (``verifications``) and recorded as ``data`` evidence for each route of
the mapping; a sampled run (``sample=N``) is stored but never counts as a clean proof.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import except_, func, select

from strangler.store import Store

from .canonical import canonicalizers
from .checksum import ChecksumPlan, RangeSum
from .keys import Key, in_range, key_in
from .mapping import Databases, Mapping
from .records import JobLog
from .upsert import delete_rows, upsert_rows
from .verdict import ABSENT, RowDiff, Verification

__all__ = ["RowDiff", "Verification", "verify"]


class _Sides:
    """Reads one key range from both sides, in the target's representation."""

    def __init__(self, mapping: Mapping, dbs: Databases) -> None:
        self.m = mapping
        self.dbs = dbs
        self.canon = canonicalizers(mapping.target)
        self.pk = mapping.target_pk
        self.compare: tuple[str, ...] | None = None
        if mapping.columns is not None:
            self.compare = tuple(
                c.name for c in mapping.target.columns if c.name in mapping.columns
            )
        self.legacy_dialect = dbs.legacy.dialect.name
        self.new_dialect = dbs.new.dialect.name

    def _columns(self, sample_row: dict[str, Any]) -> tuple[str, ...]:
        if self.compare is None:
            # Verify compares the columns the transform writes (defaults are the new app's).
            self.compare = tuple(c.name for c in self.m.target.columns if c.name in sample_row)
        return self.compare

    def expected(self, legacy_rows: Iterable[Any]) -> dict[Key, tuple[Any, ...]]:
        """Target primary key -> compared values, as the transform produces them (raw)."""
        out: dict[Key, tuple[Any, ...]] = {}
        pk = self.pk
        for row in legacy_rows:
            for new in self.m.run_transform(row):
                cols = self.compare or self._columns(new)
                out[tuple([new.get(c) for c in pk])] = tuple([new.get(c, ABSENT) for c in cols])
        return out

    def canonical(self, side: dict[Key, tuple[Any, ...]]) -> dict[Key, tuple[Any, ...]]:
        """The same rows in the new schema's representation (only for mismatching ranges)."""
        pkf = [self.canon[c] for c in self.pk]
        colf = [self.canon[c] for c in self.compare or self.m.target.columns.keys()]
        return {
            tuple(f(v) for f, v in zip(pkf, k, strict=True)): tuple(
                v if v is ABSENT else f(v) for f, v in zip(colf, row, strict=True)
            )
            for k, row in side.items()
        }

    def found(self, lo: Key | None, hi: Key | None) -> dict[Key, tuple[Any, ...]]:
        cols = self.compare or tuple(c.name for c in self.m.target.columns)
        t = self.m.target
        q = select(*(t.c[c] for c in self.pk), *(t.c[c] for c in cols)).where(
            in_range(self.m.target_key_columns(), lo, hi, self.new_dialect)
        )
        return self._fetch_found(q, cols)

    def found_rows(self, target_pks: Sequence[Key]) -> set[Key]:
        """Which of these target primary keys exist."""
        cols = [self.m.target.c[c] for c in self.pk]
        with self.dbs.new.connect() as conn:
            rows = conn.execute(select(*cols).where(key_in(cols, target_pks)))
            return {tuple(self.canon[c](v) for c, v in zip(self.pk, r, strict=True)) for r in rows}

    def found_for(self, legacy_keys: Sequence[Key]) -> dict[Key, tuple[Any, ...]]:
        cols = self.compare or tuple(c.name for c in self.m.target.columns)
        t = self.m.target
        out: dict[Key, tuple[Any, ...]] = {}
        for i in range(0, len(legacy_keys), 500):
            q = select(*(t.c[c] for c in self.pk), *(t.c[c] for c in cols)).where(
                key_in(self.m.target_key_columns(), legacy_keys[i : i + 500])
            )
            out.update(self._fetch_found(q, cols))
        return out

    def _fetch_found(self, q: Any, cols: tuple[str, ...]) -> dict[Key, tuple[Any, ...]]:
        n = len(self.pk)
        with self.dbs.new.connect() as conn:
            return {tuple(row[:n]): tuple(row[n:]) for row in conn.execute(q).all()}

    def legacy_range(self, lo: Key | None, limit: int) -> list[Any]:
        cols = self.m.key_columns()
        q = (
            select(*self.m.selected())
            .where(in_range(cols, lo, None, self.legacy_dialect))
            .order_by(*cols)
            .limit(limit)
        )
        with self.dbs.legacy.connect() as conn:
            return self.m.read(conn, q)

    def legacy_between(self, lo: Key | None, hi: Key | None) -> list[Any]:
        """The legacy rows with keys in ``(lo, hi]``."""
        q = select(*self.m.selected()).where(
            in_range(self.m.key_columns(), lo, hi, self.legacy_dialect)
        )
        with self.dbs.legacy.connect() as conn:
            return self.m.read(conn, q)

    def legacy_cuts(
        self, lo: Key | None, hi: Key | None, step: int, most: int | None = None
    ) -> list[Key]:
        """Every ``step``-th legacy key in ``(lo, hi]`` (the bounds of ranges of ``step`` rows)."""
        cols = self.m.key_columns()
        cuts: list[Key] = []
        with self.dbs.legacy.connect() as conn:
            while step > 0 and (most is None or len(cuts) < most):
                q = (
                    select(*cols)
                    .select_from(self.m.source_from)
                    .where(in_range(cols, lo, hi, self.legacy_dialect))
                    .order_by(*cols)
                    .offset(step - 1)
                    .limit(1)
                )
                row = conn.execute(q).first()
                if row is None:
                    return cuts
                lo = tuple(row)
                cuts.append(lo)
        return cuts

    def legacy_for(self, keys: Sequence[Key]) -> list[Any]:
        out: list[Any] = []
        with self.dbs.legacy.connect() as conn:
            for i in range(0, len(keys), 500):
                q = select(*self.m.selected()).where(
                    key_in(self.m.key_columns(), keys[i : i + 500])
                )
                out.extend(self.m.read(conn, q))
        return out

    def legacy_key_of(self, target_pk: Key, row: tuple[Any, ...] | None) -> Key | None:
        """The legacy key a target row belongs to, from its ``target_key`` columns."""
        names = list(self.pk) + list(self.compare or ())
        values = list(target_pk) + list(row or ())
        by_name = dict(zip(names, values, strict=False))
        try:
            return tuple(by_name[c] for c in self.m.target_keys)
        except KeyError:
            return None


def _diff(
    expected: dict[Key, tuple[Any, ...]],
    found: dict[Key, tuple[Any, ...]],
    cols: tuple[str, ...],
) -> tuple[list[Key], list[Key], list[RowDiff]]:
    missing = [k for k in expected if k not in found]
    extra = [k for k in found if k not in expected]
    different: list[RowDiff] = []
    for k, want in expected.items():
        have = found.get(k)
        if have is not None and have != want:
            cells = {
                c: (a, b)
                for c, a, b in zip(cols, want, have, strict=True)
                if a is not ABSENT and a != b
            }
            if cells:
                different.append(RowDiff(k, cells))
    return missing, extra, different


def _check_keys(
    sides: _Sides, legacy_keys: Sequence[Key]
) -> tuple[list[Key], list[Key], list[RowDiff]]:
    expected = sides.canonical(sides.expected(sides.legacy_for(legacy_keys)))
    found = sides.canonical(sides.found_for(legacy_keys))
    return _diff(expected, found, sides.compare or ())


def _counts(mapping: Mapping, dbs: Databases) -> tuple[int, int]:
    with dbs.legacy.connect() as conn:
        legacy = int(conn.scalar(select(func.count()).select_from(mapping.source_from)) or 0)
    with dbs.new.connect() as conn:
        new = int(conn.scalar(select(func.count()).select_from(mapping.target)) or 0)
    return legacy, new


def verify(
    mapping: Mapping,
    dbs: Databases,
    store: Store | None = None,
    *,
    sample: int | None = None,
    repair: bool = False,
    chunk: int = 10_000,
    recheck_delay: float = 0.5,
) -> Verification:
    """Compare the target with the mapping of the legacy rows (see the module docstring)."""
    started = time.monotonic()
    sides = _Sides(mapping, dbs)
    plan = None
    if sample is None and not (dbs.one_database and sides.legacy_dialect == "sqlite"):
        plan = ChecksumPlan.for_mapping(mapping, sides.legacy_dialect, sides.new_dialect)
    if plan is None or not plan.integer_key:
        legacy_count, new_count = _counts(mapping, dbs)
    if sample is None and not repair and _identical_in_database(mapping, dbs):
        result = Verification(
            mapping=mapping.name,
            clean=True,
            legacy_rows=legacy_count,
            new_rows=new_count,
            ranges=1,
            seconds=time.monotonic() - started,
            details={"in_database": True},
        )
        if store is not None:
            _record(store, mapping, result)
        return result
    findings = _Findings(mapping, sides)
    if plan is not None:
        ranges, mismatched, counted = _by_checksums(plan, sides, findings, chunk)
        if counted is not None:
            legacy_count, new_count = counted
        details = {"checksums": plan.family, "ranges_bisected": findings.leaves}
    else:
        ranges, mismatched = _by_rows(mapping, sides, findings, chunk, sample, legacy_count)
        details = {}
    missing, extra, different = findings.missing, findings.extra, findings.different
    suspects, unmapped = findings.suspects, findings.unmapped
    rechecked = 0
    if missing or extra or different:
        time.sleep(recheck_delay)
        before = len(missing) + len(extra) + len(different)
        missing, extra, different = _check_keys(sides, sorted(suspects, key=_sort_key))
        extra += unmapped
        rechecked = before - (len(missing) + len(extra) + len(different))
    repaired = False
    clean = not (missing or extra or different)
    if repair and not clean:
        _repair(mapping, dbs, sides, sorted(suspects, key=_sort_key), extra)
        repaired = True
        m, e, d = _check_keys(sides, sorted(suspects, key=_sort_key))
        e += [k for k in unmapped if k in sides.found_rows(unmapped)]
        # The report keeps what was found (and repaired); clean says whether anything is left.
        clean = not (m or e or d)
    result = Verification(
        mapping=mapping.name,
        clean=clean,
        legacy_rows=legacy_count,
        new_rows=new_count,
        missing=tuple(missing),
        extra=tuple(extra),
        different=tuple(different),
        ranges=ranges,
        mismatched_ranges=mismatched,
        rechecked=max(0, rechecked),
        repaired=repaired,
        sample=sample,
        seconds=time.monotonic() - started,
        details=details,
    )
    if store is not None:
        _record(store, mapping, result)
    return result


class _Findings:
    """Missing, extra and different rows found so far, and the legacy keys to re-check."""

    def __init__(self, mapping: Mapping, sides: _Sides) -> None:
        self.m = mapping
        self.sides = sides
        self.missing: list[Key] = []
        self.extra: list[Key] = []
        self.different: list[RowDiff] = []
        self.suspects: set[Key] = set()
        self.unmapped: list[Key] = []  # extra rows whose target_key is not compared
        self.leaves = 0

    def compare(self, rows: list[Any], lo: Key | None, hi: Key | None) -> bool:
        """Compare one key range row by row (legacy ``rows`` are the range's rows)."""
        sides = self.sides
        expected = sides.expected(rows)
        found = sides.found(lo, hi)
        # Fast path: equal raw values close the range; the canonical form decides otherwise.
        if expected == found or (
            (expected := sides.canonical(expected)) == (found := sides.canonical(found))
        ):
            return True
        m, e, d = _diff(expected, found, sides.compare or ())
        origin = _origins(self.m, rows, sides)
        self.suspects.update(origin[k] for k in m)
        self.suspects.update(origin[x.key] for x in d)
        for k in e:
            lk = sides.legacy_key_of(k, found[k])
            if lk is not None:
                self.suspects.add(lk)
            else:
                self.unmapped.append(k)
        self.missing += m
        self.extra += e
        self.different += d
        return False


def _by_rows(
    mapping: Mapping,
    sides: _Sides,
    findings: _Findings,
    chunk: int,
    sample: int | None,
    legacy_count: int,
) -> tuple[int, int]:
    """Every (or a sample of) key range read on both sides and compared in Python."""
    step = chunk if sample is None else max(1, min(chunk, sample // 10 or 1))
    keep = 1.0 if sample is None else min(1.0, sample / max(1, legacy_count))
    rng = random.Random()
    ranges = mismatched = 0
    lo: Key | None = None
    while True:
        rows = sides.legacy_range(lo, step)
        last = len(rows) < step
        hi = None if last else tuple(rows[-1][k] for k in mapping.keys)
        if keep >= 1.0 or rng.random() < keep:
            ranges += 1
            mismatched += not findings.compare(rows, lo, hi)
        if last:
            return ranges, mismatched
        lo = hi


_Span = tuple[Key | None, Key | None]

LEAF_ROWS = 1_000
"""A mismatching range of at most this many legacy rows is compared row by row."""


def _by_checksums(
    plan: ChecksumPlan, sides: _Sides, findings: _Findings, chunk: int
) -> tuple[int, int, tuple[int, int] | None]:
    """Range checksums on both sides (in parallel); mismatching ranges bisected to rows.

    Returns the number of ranges, of mismatching ones, and the row counts of both sides
    when the checksums gave them (integer keys: one grouped query per side).
    """
    dbs = sides.dbs

    def sums(engine: Any, fn: Any, todo: list[_Span]) -> list[RangeSum]:
        with engine.connect() as conn:
            return [fn(conn, lo, hi) for lo, hi in todo]

    def both(todo: list[_Span]) -> list[tuple[RangeSum, RangeSum]]:
        with ThreadPoolExecutor(2) as pool:
            old = pool.submit(sums, dbs.legacy, plan.legacy, todo)
            new = pool.submit(sums, dbs.new, plan.new, todo)
            return list(zip(old.result(), new.result(), strict=True))

    counts: tuple[int, int] | None = None
    if plan.integer_key:
        todo, counts = _by_buckets(plan, sides, chunk)
        ranges = len(todo)
    else:
        bounds: list[Key | None] = [None, *sides.legacy_cuts(None, None, chunk), None]
        spans = list(itertools.pairwise(bounds))
        todo = list(zip(spans, both(spans), strict=True))
        ranges = len(spans)
    mismatched = 0
    first = True
    while todo:
        bad = [(span, old) for span, (old, new) in todo if old != new]
        if first:
            mismatched, first = len(bad), False
        halves: list[_Span] = []
        for (lo, hi), (count, _) in bad:
            mid = _middle(sides, plan, lo, hi) if count > LEAF_ROWS else None
            if mid is None:
                findings.leaves += 1
                findings.compare(sides.legacy_between(lo, hi), lo, hi)
                continue
            halves += [(lo, mid), (mid, hi)]
        todo = list(zip(halves, both(halves), strict=True)) if halves else []
    return ranges, mismatched, counts


def _middle(sides: _Sides, plan: ChecksumPlan, lo: Key | None, hi: Key | None) -> Key | None:
    """A key cutting ``(lo, hi]`` in two (None: it cannot be cut)."""
    if plan.integer_key and lo is not None and hi is not None:
        mid = lo[0] + (hi[0] - lo[0]) // 2
        return (mid,) if lo[0] < mid < hi[0] else None
    count = 0
    with sides.dbs.legacy.connect() as conn:
        where = in_range(sides.m.key_columns(), lo, hi, sides.legacy_dialect)
        count = int(
            conn.scalar(select(func.count()).select_from(sides.m.source_from).where(where)) or 0
        )
    cut = sides.legacy_cuts(lo, hi, count // 2, 1)
    return cut[0] if cut and cut[0] != hi else None


def _by_buckets(
    plan: ChecksumPlan, sides: _Sides, width: int
) -> tuple[list[tuple[_Span, tuple[RangeSum, RangeSum]]], tuple[int, int]]:
    """Integer keys: the sums of every span of ``width`` key values, one query per side."""
    m, dbs = sides.m, sides.dbs
    with dbs.legacy.connect() as conn:
        key = m.key_columns()[0]
        old_lo = conn.scalar(select(func.min(key)).select_from(m.source_from))
    with dbs.new.connect() as conn:
        key = m.target_key_columns()[0]
        new_lo = conn.scalar(select(func.min(key)))
    lows = [int(v) for v in (old_lo, new_lo) if v is not None]
    if not lows:
        return [], (0, 0)
    start = min(lows)

    def grouped(engine: Any, fn: Any) -> dict[int, RangeSum]:
        with engine.connect() as conn:
            result: dict[int, RangeSum] = fn(conn, start, width)
            return result

    with ThreadPoolExecutor(2) as pool:
        old_f = pool.submit(grouped, dbs.legacy, plan.legacy_buckets)
        new_f = pool.submit(grouped, dbs.new, plan.new_buckets)
        old, new = old_f.result(), new_f.result()
    empty = (0, 0)
    todo: list[tuple[_Span, tuple[RangeSum, RangeSum]]] = [
        (
            ((start + b * width - 1,), (start + (b + 1) * width - 1,)),
            (old.get(b, empty), new.get(b, empty)),
        )
        for b in sorted(old.keys() | new.keys())
    ]
    counts = (sum(n for n, _ in old.values()), sum(n for n, _ in new.values()))
    return todo, counts


def _identical_in_database(mapping: Mapping, dbs: Databases) -> bool:
    """A ``columns=`` mapping within one SQLite database: ``EXCEPT`` both ways finds nothing.

    (SQLite has no hash function; elsewhere the range checksums are faster.)

        Any row found sends the verification down the Python path, which names the differences.
    """
    if not mapping.in_sql or not dbs.one_database or dbs.new.dialect.name != "sqlite":
        return False
    names = list(mapping.columns or {})
    mapped = select(*((mapping.columns or {})[n].label(n) for n in names))
    found = select(*(mapping.target.c[n] for n in names))
    with dbs.new.connect() as conn:
        for query in (except_(mapped, found), except_(found, mapped)):
            if conn.scalar(select(func.count()).select_from(query.subquery())):
                return False
    return True


def _sort_key(key: Key) -> tuple[Any, ...]:
    return tuple((v is None, str(type(v)), v) for v in key)


def _origins(mapping: Mapping, rows: list[Any], sides: _Sides) -> dict[Key, Key]:
    """Target primary key -> the legacy key whose transform produced it, for one range."""
    out: dict[Key, Key] = {}
    for row in rows:
        legacy_key = tuple(row[k] for k in mapping.keys)
        for new in mapping.run_transform(row):
            out[tuple(sides.canon[c](new.get(c)) for c in sides.pk)] = legacy_key
    return out


def _repair(
    mapping: Mapping, dbs: Databases, sides: _Sides, legacy_keys: list[Key], extra: list[Key]
) -> None:
    rows = sides.legacy_for(legacy_keys)
    new_rows = [r for row in rows for r in mapping.run_transform(row)]
    with dbs.new.begin() as conn:
        upsert_rows(conn, mapping.target, new_rows)
        delete_rows(conn, mapping.target, extra)


def _record(store: Store, mapping: Mapping, result: Verification) -> None:
    summary = result.as_json(limit=20)
    counts = summary["counts"]
    JobLog(store).record_verification(
        mapping=mapping.name,
        clean=result.clean,
        legacy_rows=result.legacy_rows,
        new_rows=result.new_rows,
        missing=counts["missing"],
        extra=counts["extra"],
        different=counts["different"],
        repaired=result.repaired,
        seconds=result.seconds,
        details=summary,
    )
    passed = result.clean and result.sample is None
    for route in mapping.routes:
        store.record_evidence(
            "data", route=route, passed=passed, summary=summary, subject=mapping.name
        )
