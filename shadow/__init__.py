"""Shadow traffic and response diffs: run both sides, compare, learn noise, redact.

The pure core (no I/O)::

    from shadow import Rules, compare, compile_rules
    verdict = compare(legacy_response, new_response, compile_rules(Rules(ignore=("$.at",))))

See docs/shadow.md.
"""

from __future__ import annotations

from shadow.compare import BODY_COMPARATORS, BodyComparator, compare, compare_headers
from shadow.corpus import CorpusEntry, from_json, read_corpus, to_json, write_corpus
from shadow.encoding import UndecodableBody, decode_body
from shadow.exchange import (
    SAFE_METHODS,
    CapturedRequest,
    CapturedResponse,
    Exchange,
    Headers,
    Side,
)
from shadow.explain import explain
from shadow.jsondiff import diff_json
from shadow.noise import (
    FieldCounts,
    NoiseThresholds,
    RouteNoise,
    Suggestion,
    classify,
    field_status,
)
from shadow.normalise import KeyedList, normalise
from shadow.paths import PathPattern, PathSyntaxError, generalise, parse_path, render_path
from shadow.redact import REDACTED, Redactor
from shadow.rules import (
    CompiledRules,
    HeaderRules,
    MaskRule,
    RedactRules,
    Rules,
    ToleranceRule,
    UnorderedRule,
    compile_rules,
    merge_rules,
    route_rules,
)
from shadow.verdict import Difference, Severity, Verdict

__all__ = [
    "BODY_COMPARATORS",
    "REDACTED",
    "SAFE_METHODS",
    "BodyComparator",
    "CapturedRequest",
    "CapturedResponse",
    "CompiledRules",
    "CorpusEntry",
    "Difference",
    "Exchange",
    "FieldCounts",
    "HeaderRules",
    "Headers",
    "KeyedList",
    "MaskRule",
    "NoiseThresholds",
    "PathPattern",
    "PathSyntaxError",
    "RedactRules",
    "Redactor",
    "RouteNoise",
    "Rules",
    "Severity",
    "Side",
    "Suggestion",
    "ToleranceRule",
    "UndecodableBody",
    "UnorderedRule",
    "Verdict",
    "classify",
    "compare",
    "compare_headers",
    "compile_rules",
    "decode_body",
    "diff_json",
    "explain",
    "field_status",
    "from_json",
    "generalise",
    "merge_rules",
    "normalise",
    "parse_path",
    "read_corpus",
    "render_path",
    "route_rules",
    "to_json",
    "write_corpus",
]
