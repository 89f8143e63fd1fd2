"""Explain a mismatch in words, with deepdiff, for reports only.

deepdiff costs about a millisecond or more per 1 KB pair even when the documents are equal,
so it never runs per request: the report explains a bounded sample of stored mismatches
(:data:`MAX_EXPLAINED`), off the proxy's event loop.

>>> from shadow.rules import Rules, compile_rules
>>> explain(b'{"a": 1, "b": 2}', b'{"a": 1, "b": 3}', compile_rules(Rules()))
["Value of root['b'] changed from 2 to 3."]
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from shadow.normalise import normalise
from shadow.rules import CompiledRules

__all__ = ["MAX_EXPLAINED", "MAX_LINES", "explain"]

MAX_EXPLAINED = 20  # mismatches a report explains, at most
MAX_LINES = 12  # lines of explanation per mismatch


class _DropMaxDiffsNotice(logging.Filter):
    """deepdiff logs a warning each time ``max_diffs`` stops it; here that bound is the
    point (a report explains a few lines per mismatch), so the notice is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "max number of diffs" not in record.getMessage()


logging.getLogger("deepdiff.diff").addFilter(_DropMaxDiffsNotice())


def explain(
    legacy: bytes | None, new: bytes | None, rules: CompiledRules, *, max_lines: int = MAX_LINES
) -> list[str]:
    """Sentences describing how two JSON bodies differ after the rules (empty if equal).

    Bodies that are not JSON are not explained (the difference's own values say enough).
    """
    try:
        a: Any = orjson.loads(legacy or b"null")
        b: Any = orjson.loads(new or b"null")
    except orjson.JSONDecodeError:
        return []
    a, b = normalise(a, rules), normalise(b, rules)
    if a == b:
        return []
    from deepdiff import DeepDiff  # ~0.3 s to import (numpy): paid only to explain a mismatch

    text = DeepDiff(a, b, verbose_level=1, max_diffs=max_lines * 4).pretty()
    lines = [line for line in str(text).splitlines() if line.strip()]
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"... and {len(lines) - max_lines} more"]
    return lines
