"""docs/proxy.md's first example runs and prints what the page says it prints."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "proxy.md"


def test_the_proxy_page_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = DOC.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None
    source = code.group(1)
    promised = source.strip().splitlines()[-1].removeprefix("# ")
    try:
        exec(compile(source, str(DOC), "exec"), {"__name__": "docs_example"})
    finally:
        sys.modules.pop("demo_sides", None)
    assert capsys.readouterr().out.strip() == promised
