"""Learned noise: tell nondeterminism of legacy itself from real differences of new.

For a sample of safe requests the runner calls the primary side twice. Two things follow:

1. **Per request**, a field that differs between the two primary answers is noise *for that
   request* (a timestamp, a random order). Fields are generalised paths: array positions
   are merged (``$.tags[*]``), because a shuffle moves values between positions. A field that
   differs against new while the two primary answers agreed on it is **always reported**: a
   field noisy on some requests cannot hide a wrong value on others.
2. **Per route and field**, :class:`RouteNoise` counts how often the field differs
   primary-vs-primary (among noise-sampled requests) and primary-vs-new (among compared
   requests). On a request without a second primary answer (one that agreed with the first
   is what decides, see 1: a wrong value on a request where legacy agreed with itself is
   always reported), a difference is noise only when the field is known noisy *in that way* (the same kind: a timestamp that becomes
   null is not the noise of a timestamp): it differs primary-vs-primary, and primary-vs-new
   is not clearly more often. "Clearly" is Diffy's thresholds (relative > 20% and absolute
   > 0.03% of the route's requests) *and* a two-proportion z-test (z > 3), so that a field
   legacy varies on half of its calls is not called real by the chance of 25 samples. A
   field legacy never varies is never noise: one wrong value is reported.

Rules are never widened silently: :meth:`RouteNoise.suggestions` proposes ignore, mask or
unordered rules for pure-noise fields, for a person to add to the config.

>>> from shadow.verdict import Difference, Verdict
>>> stats = RouteNoise()
>>> v = Verdict.of([Difference("$.at", "value", 1, 2, "$.at"), Difference("$.n", "value", 1, 2, "$.n")])
>>> second = Verdict.of([Difference("$.at", "value", 1, 3, "$.at")])
>>> out = classify(v, second, stats)
>>> out.outcome, [d.path for d in out.differences], [d.path for d in out.noise]
('mismatch', ['$.n'], ['$.at'])
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from shadow.rules import MASK_SHAPES
from shadow.verdict import Difference, Verdict

__all__ = [
    "FieldCounts",
    "NoiseThresholds",
    "RouteNoise",
    "Suggestion",
    "classify",
    "field_status",
    "rules_block",
]

FieldStatus = Literal["noise", "real", "unconfirmed"]


@dataclass(frozen=True, slots=True)
class NoiseThresholds:
    """When a field counts as really different (see the module docstring)."""

    relative: float = 0.20
    absolute: float = 0.0003
    min_samples: int = 20  # noise-sampled requests needed before a field can be called noise
    z: float = 3.0  # how surely new must differ more often than legacy from itself (z-score)


@dataclass(slots=True)
class FieldCounts:
    """How often one field differed: primary-vs-primary and primary-vs-new."""

    legacy_legacy: int = 0
    legacy_new: int = 0
    example: Any = None
    # How legacy differs from itself here (``value``, ``missing``, ``added``, ``type``...).
    # Empty means not known (counts seeded from the store): any kind then counts as noise.
    kinds: set[str] = field(default_factory=set)

    def explains(self, kind: str) -> bool:
        """Whether a difference of ``kind`` is the way legacy is known to differ here."""
        return not self.kinds or kind in self.kinds


def field_status(
    counts: FieldCounts, *, samples: int, compared: int, thresholds: NoiseThresholds
) -> FieldStatus:
    """``noise``, ``real`` or ``unconfirmed`` for one field.

    A field is ``unconfirmed`` until the route has ``min_samples`` noise samples (legacy
    called twice on the same request): before that nothing says whether legacy differs from
    itself there, so it is neither called real nor noise.

    >>> field_status(FieldCounts(50, 52), samples=100, compared=100, thresholds=NoiseThresholds())
    'noise'
    >>> field_status(FieldCounts(5, 60), samples=100, compared=100, thresholds=NoiseThresholds())
    'real'
    """
    if compared <= 0 or samples < thresholds.min_samples:
        return "unconfirmed"
    rate_new = counts.legacy_new / compared
    rate_noise = counts.legacy_legacy / samples
    if rate_noise == 0:
        return "real" if rate_new else "unconfirmed"
    excess = rate_new - rate_noise
    if rate_new > 0 and excess / rate_new > thresholds.relative and excess > thresholds.absolute:
        # more often against new: real unless chance explains it (two-proportion z-test)
        pooled = (counts.legacy_new + counts.legacy_legacy) / (compared + samples)
        spread = math.sqrt(pooled * (1 - pooled) * (1 / compared + 1 / samples))
        if spread == 0 or excess / spread > thresholds.z:
            return "real"
    return "noise"


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A rule the report proposes for a pure-noise field (never applied automatically).

    ``kind`` is the key under a route's ``rules:`` (``ignore``, ``unordered``, ``masks``, or
    ``headers`` for a header to ignore) and ``value`` its entry; :func:`rules_block` merges a
    route's suggestions into one ``rules:`` mapping that ``strangler check`` accepts.
    """

    field: str
    rule: str  # this rule alone, as YAML under `rules:` (e.g. 'ignore: ["$.at"]')
    legacy_legacy_rate: float
    legacy_new_rate: float
    kind: str = "ignore"
    value: Any = None


# Never suggested: silencing these would switch off a whole comparison.
_NEVER = frozenset({"$", "body", "status", "error", "auth"})


def rules_block(suggestions: Iterable[Suggestion]) -> dict[str, Any]:
    """The suggestions as one ``rules:`` mapping (each key once), ready to paste.

    >>> rules_block([Suggestion("$.at", "", 1, 1, "ignore", "$.at"),
    ...              Suggestion("header:x-id", "", 1, 1, "headers", "x-id")])
    {'ignore': ['$.at'], 'headers': {'ignore': ['x-id']}}
    """
    out: dict[str, Any] = {}
    for s in suggestions:
        if s.kind == "headers":
            out.setdefault("headers", {}).setdefault("ignore", []).append(s.value)
        else:
            out.setdefault(s.kind, []).append(s.value)
    return out


def _masked_by(
    d: Difference, noisy_paths: dict[str, set[str]], noisy_fields: dict[str, set[str]]
) -> bool:
    """Whether legacy differed from itself at ``d``'s place, **in the same way**: a list
    legacy only reorders (value differences at positions) does not hide an element new
    dropped (``missing``), nor a timestamp legacy varies one that new makes null (``type``)."""
    path = d.path
    if d.kind in noisy_paths.get(path, ()) or d.kind in noisy_fields.get(d.field or path, ()):
        return True
    # A difference below a noisy place is noise too: `$.items[2]` covers `$.items[2].at`.
    return any(path.startswith(n) and path[len(n) : len(n) + 1] in (".", "[") for n in noisy_paths)


_SHAPES = [(name, re.compile(regex)) for name, (regex, _) in MASK_SHAPES.items()]


def _suggest_rule(field_path: str, example: Any) -> tuple[str, Any, str]:
    """(kind, value, one-line YAML) of the rule that silences ``field_path``."""
    if field_path.startswith("header:"):
        name = field_path.removeprefix("header:")
        return "headers", name, f'headers: {{ignore: ["{name}"]}}'
    if isinstance(example, str):
        for name, regex in _SHAPES:
            if regex.fullmatch(example):
                mask = {"path": field_path, "shape": name}
                return "masks", mask, f'masks: [{{path: "{field_path}", shape: {name}}}]'
    if field_path.endswith("[*]"):
        return "unordered", field_path[:-3], f'unordered: ["{field_path[:-3]}"]'
    return "ignore", field_path, f'ignore: ["{field_path}"]'


@dataclass(slots=True)
class RouteNoise:
    """Noise statistics of one route (one owner; not thread-safe)."""

    thresholds: NoiseThresholds = NoiseThresholds()
    compared: int = 0
    samples: int = 0
    fields: dict[str, FieldCounts] = field(default_factory=dict)

    @property
    def learning(self) -> bool:
        """Too few noise samples yet to decide a field (every safe request is sampled)."""
        return self.samples < self.thresholds.min_samples

    def _counts(self, name: str) -> FieldCounts:
        counts = self.fields.get(name)
        if counts is None:
            counts = self.fields[name] = FieldCounts()
        return counts

    def observe(self, against_new: Iterable[Difference], second: Verdict | None) -> None:
        """Count one compared request (``second``: primary vs primary, when sampled)."""
        self.compared += 1
        for d in against_new:
            counts = self._counts(d.field or d.path)
            counts.legacy_new += 1
            if counts.example is None:
                counts.example = d.legacy if d.legacy is not None else d.new
        if second is not None and second.outcome != "not_compared":
            self.samples += 1
            seen: dict[str, set[str]] = {}
            for d in second.differences:
                seen.setdefault(d.field or d.path, set()).add(d.kind)
            for name, kinds in seen.items():
                counts = self._counts(name)
                counts.legacy_legacy += 1
                counts.kinds |= kinds

    def status(self, name: str) -> FieldStatus:
        counts = self.fields.get(name)
        if counts is None:
            return "unconfirmed"
        return field_status(
            counts, samples=self.samples, compared=self.compared, thresholds=self.thresholds
        )

    def suggestions(self, already_ignored: Iterable[str] = ()) -> list[Suggestion]:
        """Rules to propose for fields that are pure noise (most frequent first)."""
        skip = set(already_ignored)
        out = []
        for name, counts in self.fields.items():
            if name in skip or name in _NEVER or name.startswith(("status", "error")):
                continue
            if self.status(name) != "noise":
                continue
            kind, value, rule = _suggest_rule(name, counts.example)
            out.append(
                Suggestion(
                    name,
                    rule,
                    counts.legacy_legacy / max(self.samples, 1),
                    counts.legacy_new / max(self.compared, 1),
                    kind,
                    value,
                )
            )
        return sorted(out, key=lambda s: -s.legacy_new_rate)


def classify(verdict: Verdict, second: Verdict | None, stats: RouteNoise) -> Verdict:
    """Split a verdict's differences into real ones and noise, and count them in ``stats``.

    ``second`` is the comparison of the primary side with itself (None when this request
    was not sampled for noise).
    """
    if verdict.outcome == "not_compared":
        return verdict
    fields_seen = {d.field or d.path: d for d in verdict.differences}
    stats.observe(fields_seen.values(), second)
    if verdict.outcome != "mismatch":
        return verdict
    real: list[Difference] = []
    noise: list[Difference] = []
    differences, reordered = _as_multisets(verdict.differences, second, stats)
    noise += reordered
    if second is not None and second.outcome != "not_compared":
        paths: dict[str, set[str]] = {}
        fields_: dict[str, set[str]] = {}
        for d in second.differences:
            paths.setdefault(d.path, set()).add(d.kind)
            fields_.setdefault(d.field or d.path, set()).add(d.kind)
        for d in differences:
            # This request's own second call decides: a field noisy on some requests
            # cannot hide a wrong value on a request where legacy agreed with itself.
            (noise if _masked_by(d, paths, fields_) else real).append(d)
    else:
        for d in differences:
            (noise if _learned_noise(d, stats) else real).append(d)
    undecided = frozenset(
        name for name in {d.field or d.path for d in real} if stats.status(name) == "unconfirmed"
    )
    return verdict.with_noise(real, noise, undecided)


def _learned_noise(d: Difference, stats: RouteNoise) -> bool:
    """Whether ``d`` is learned noise: its field is noise, and legacy differs there this way."""
    name = d.field or d.path
    known = stats.fields.get(name)
    return known is not None and known.explains(d.kind) and stats.status(name) == "noise"


def _as_multisets(
    differences: tuple[Difference, ...], second: Verdict | None, stats: RouteNoise
) -> tuple[list[Difference], list[Difference]]:
    """Lists whose order legacy is known to vary are compared as multisets.

    For a list field (``$.tags[*]``) where legacy differs from itself by value at positions
    (it reorders), the positional differences against new are replaced by what really
    differs between the two multisets: each element new lacks (``missing``) or adds
    (``added``). A pure reorder becomes noise. Positions where both agreed hold the same
    elements on both sides, so the differing positions are enough.
    Returns (the differences to classify, the reorders found to be noise).
    """
    reorders = {
        d.field for d in (second.differences if second is not None else ()) if d.kind == "value"
    }
    by_field: dict[str, list[Difference]] = {}
    for d in differences:
        if d.field.endswith("[*]"):
            by_field.setdefault(d.field, []).append(d)
    out: list[Difference] = []
    noise: list[Difference] = []
    rewritten: set[str] = set()
    for name, group in by_field.items():
        known = stats.fields.get(name)
        learned = known is not None and known.legacy_legacy > 0 and "value" in known.kinds
        if not (learned or name in reorders):
            continue
        if any(d.kind not in ("value", "missing", "added") for d in group):
            continue
        lost = _counter(d.legacy for d in group if d.kind in ("value", "missing"))
        gained = _counter(d.new for d in group if d.kind in ("value", "added"))
        if lost is None or gained is None:
            continue
        rewritten.add(name)
        base = name[:-3]
        missing = lost - gained
        added = gained - lost
        if not missing and not added:
            noise.extend(group)  # the same elements in another order
            continue
        # `$.tags[?]`: membership of the list, a field of its own (legacy never changes it)
        member = f"{base}[?]"
        for key, n in missing.items():
            out.extend([Difference(member, "missing", orjson.loads(key), None, member)] * n)
        for key, n in added.items():
            out.extend([Difference(member, "added", None, orjson.loads(key), member)] * n)
    kept = [d for d in differences if d.field not in rewritten]
    return [*kept, *out], noise


def _counter(values: Iterable[Any]) -> Counter[bytes] | None:
    """Elements by their canonical JSON (None when one cannot be written as JSON)."""
    try:
        return Counter(orjson.dumps(v, option=orjson.OPT_SORT_KEYS) for v in values)
    except TypeError:
        return None
