"""Terminal and JSON rendering of PW5xx findings (doctor, verify, lock, install)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pipwarden.models import Finding, Severity

_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def why(finding: Finding) -> str:
    """The first paragraph of the check's documentation: why the finding matters."""
    from pipwarden.checks.base import get_check

    cls = get_check(finding.id)
    if cls is None:
        return ""
    doc = cls.doc().split("\n\n", 1)
    return " ".join(doc[0].split())


def where(finding: Finding) -> str:
    if not finding.file:
        return ""
    return f"{finding.file}:{finding.line}" if finding.line else finding.file


def finding_json(finding: Finding) -> dict[str, Any]:
    out = finding.to_json()
    out["category"] = finding.category
    out["why"] = why(finding)
    return out


def print_findings(findings: Sequence[Finding], *, header: str | None = None, show_why: bool = True) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    if header:
        console.print(header)
    for f in findings:
        style = _STYLE.get(f.severity, "")
        console.print(f"[{style}]{f.severity.label.upper():8}[/] [bold]{f.id}[/] {escape(f.title)}")
        loc = where(f)
        if loc:
            console.print(f"         at    {escape(loc)}")
        if f.evidence:
            console.print(f"         line  {escape(f.evidence)}")
        console.print(f"         found {escape(f.message)}")
        if show_why:
            reason = why(f)
            if reason:
                console.print(f"         why   {escape(reason)}", style="dim")


def worst(findings: Iterable[Finding]) -> Severity | None:
    return max((f.severity for f in findings), default=None)
