"""SARIF 2.1.0 for GitHub code scanning: one result per finding, located at the line of the
requirement or lock entry it concerns (the member inside the artifact is named in the message)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipwarden import __version__
from pipwarden.models import Finding, PackageResult, Report, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub ranks security results by "security-severity" (0-10).
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "3.0", Severity.INFO: "0.0"}
LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
         Severity.LOW: "note", Severity.INFO: "note"}


def _uri(path: str) -> str:
    """A repository-relative URI when the file is under the current directory, else as given."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.as_uri()
    return p.as_posix()


def _split_origin(origin: str | None, line: int | None) -> tuple[str | None, int | None]:
    if not origin:
        return None, line
    head, sep, tail = origin.rpartition(":")
    if sep and tail.isdigit():
        return head, int(tail)
    return origin, line


def _location(p: PackageResult, f: Finding, fallback: str) -> dict[str, Any]:
    file, line = _split_origin(p.origin, p.line)
    if f.file and f.line and f.artifact is None:
        file, line = f.file, f.line
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(file or fallback)},
            "region": {"startLine": max(1, line or 1)},
        }
    }


def _rule(check_id: str, f: Finding) -> dict[str, Any]:
    from pipwarden.checks.base import get_check

    cls = get_check(check_id)
    doc = cls.doc() if cls is not None else f.title
    default = cls.severity if cls is not None else f.severity
    return {
        "id": check_id,
        "name": cls.__name__ if cls is not None else check_id,
        "shortDescription": {"text": f.title},
        "fullDescription": {"text": doc.split("\n\n", 1)[0]},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": LEVEL[default]},
        "properties": {"tags": ["security", f.category], "security-severity": SECURITY_SEVERITY[default]},
    }


def report_sarif(report: Report) -> dict[str, Any]:
    source = str(report.meta.get("source_file") or "requirements.txt")
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for p in report.packages:
        for f in p.findings:
            if f.id not in rules:
                rules[f.id] = _rule(f.id, f)
            where = " › ".join(x for x in (f.artifact, f.file if f.artifact else None) if x)
            if where and f.line and f.artifact:
                where += f":{f.line}"
            text = f"{p.name} {p.version or ''}: {f.message}".replace("  ", " ")
            if where:
                text += f" (in {where})"
            loc = _location(p, f, source)
            fp = hashlib.sha256(f"{p.name}|{p.version}|{f.id}|{f.message}|{where}".encode()).hexdigest()
            results.append({
                "ruleId": f.id,
                "ruleIndex": list(rules).index(f.id),
                "level": LEVEL[f.severity],
                "message": {"text": text},
                "locations": [loc],
                "partialFingerprints": {"pipwarden/v1": fp[:32]},
                "properties": {"package": p.name, "version": p.version, "severity": f.severity.label,
                               "security-severity": SECURITY_SEVERITY[f.severity],
                               **({"evidence": f.evidence} if f.evidence else {})},
            })
    notifications = [
        {"level": "warning", "message": {"text": f"skipped {s.name}: {s.reason}"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(_split_origin(s.origin, s.line)[0]
                                                                                   or source)},
                                             "region": {"startLine": max(1, s.line or 1)}}}]}
        for s in report.skipped
    ] + [
        {"level": "error", "message": {"text": f"{p.name}: {p.error}"}} for p in report.packages if p.error
    ]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "pipwarden", "version": __version__, "semanticVersion": __version__,
                            "rules": list(rules.values())}},
        "results": results,
        "invocations": [{"executionSuccessful": not any(p.error for p in report.packages),
                         "toolExecutionNotifications": notifications}],
        "properties": {k: v for k, v in report.meta.items() if k in ("vulnerability_db", "source", "index", "mode")},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


class SarifReporter:
    name = "sarif"

    def render(self, report: Report) -> str:
        return json.dumps(report_sarif(report), indent=2, default=str) + "\n"
