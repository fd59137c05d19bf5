"""The README's list of checks is the registry's, so it cannot drift from the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_lists_every_check() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- rules:start -->\n") + len("<!-- rules:start -->\n")
    table = text[start : text.index("<!-- rules:end -->")]
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "rules", "--format", "markdown"],
                          capture_output=True, text=True, check=True)
    assert table == proc.stdout, "README check table is stale: regenerate with 'pipwarden rules --format markdown'"


def test_quick_start_has_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    quick = text[text.index("## Quick start") :].split("\n## ", 1)[0]
    assert "pip install . && pipwarden scan requests" in quick
    assert "pip install '.[test]' && python -m pytest -m \"not online\"" in quick
