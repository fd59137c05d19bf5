"""The terminal report: one block per package, its verdict, and its findings grouped by kind."""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from pipwarden.models import CATEGORIES, Finding, PackageResult, Report, Severity, Verdict

VERDICT_STYLE = {
    Verdict.PASS: "bold green",
    Verdict.WARN: "bold yellow",
    Verdict.BLOCK: "bold red",
    Verdict.ERROR: "bold magenta",
}
SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _where(f: Finding) -> str:
    parts = [x for x in (f.artifact, f.file) if x]
    where = " › ".join(parts)
    if f.line:
        where += f":{f.line}"
    return where


def _counts(p: PackageResult) -> str:
    if not p.findings:
        return "-"
    order = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO)
    return " ".join(f"{sum(1 for f in p.findings if f.severity is s)}{s.label[0]}" for s in order
                    if any(f.severity is s for f in p.findings))


def summary_table(report: Report) -> Table:
    table = Table(title=None, header_style="bold", expand=False)
    table.add_column("package", overflow="fold")
    table.add_column("version", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("findings", no_wrap=True)
    table.add_column("top finding", overflow="fold")
    for p in report.packages:
        top = p.error or (f"{p.findings[0].id} {p.findings[0].title}" if p.findings else "")
        table.add_row(p.name, p.version or "", Text(p.verdict.value, style=VERDICT_STYLE[p.verdict]), _counts(p), top)
    return table


def package_details(p: PackageResult) -> Group:
    """Every finding of one package, grouped by kind (integrity, code, trust, ...), with its evidence."""
    head = Text()
    head.append(f"{p.name} {p.version or ''}".rstrip(), style="bold")
    head.append(" — ")
    head.append(p.verdict.value.upper(), style=VERDICT_STYLE[p.verdict])
    files = ", ".join(a.filename for a in p.artifacts)
    if files:
        head.append(f"  ({files})", style="dim")
    lines: list[Text] = [head]
    if p.error:
        lines.append(Text(f"  error: {p.error}", style="magenta"))
    provenance = p.extra.get("provenance")
    if isinstance(provenance, dict) and provenance.get("summary"):
        lines.append(Text(f"  provenance: {provenance['summary']}", style="dim"))
    order = {c: i for i, c in enumerate(CATEGORIES)}
    current = None
    for f in sorted(p.findings, key=lambda f: (order.get(f.category, 99), -f.severity, f.id)):
        if f.category != current:
            current = f.category
            lines.append(Text(f"  {current}", style="bold underline"))
        row = Text("    ")
        row.append(f"{f.severity.label:8}", style=SEVERITY_STYLE[f.severity])
        row.append(f" {f.id}  ", style="bold")
        row.append(f.message)
        lines.append(row)
        where = _where(f)
        if where:
            lines.append(Text(f"                    at {where}", style="dim"))
        if f.evidence and f.evidence not in f.message:
            lines.append(Text(f"                    > {f.evidence}", style="dim"))
    return Group(*lines)


def summary_line(report: Report) -> Text:
    n = len(report.packages)
    text = Text(f"{n} package{'s' if n != 1 else ''}: ")
    pieces = []
    for v in (Verdict.BLOCK, Verdict.WARN, Verdict.PASS, Verdict.ERROR):
        c = report.count(v)
        if c:
            pieces.append((f"{c} {v.value}", VERDICT_STYLE[v]))
    for i, (label, style) in enumerate(pieces):
        if i:
            text.append(", ")
        text.append(label, style=style)
    if report.skipped:
        text.append(f", {len(report.skipped)} skipped", style="magenta")
    return text


class TableReporter:
    name = "table"

    def __init__(self, width: int = 120) -> None:
        self.width = width

    def print(self, report: Report, console: Console) -> None:
        if report.packages:
            console.print(summary_table(report))
        for p in report.packages:
            if p.findings or p.error:
                console.print()
                console.print(package_details(p))
        for s in report.skipped:
            console.print(Text(f"skipped {s.name}: {s.reason}", style="magenta"))
        console.print()
        console.print(summary_line(report))

    def render(self, report: Report) -> str:
        buf = io.StringIO()
        self.print(report, Console(file=buf, width=self.width, color_system=None, highlight=False))
        return buf.getvalue()
