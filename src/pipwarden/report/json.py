"""The JSON report, schema ``pipwarden.report/1``: the shape later features and outside tools build on."""

from __future__ import annotations

import json
from typing import Any

from pipwarden import __version__
from pipwarden.models import PackageResult, Report, Verdict

SCHEMA = "pipwarden.report/1"


def package_json(p: PackageResult) -> dict[str, Any]:
    artifacts = []
    for a in p.artifacts:
        obj = a.to_json()
        obj.update(p.artifact_extra.get(a.filename, {}))
        artifacts.append(obj)
    out: dict[str, Any] = {
        "name": p.name,
        "version": p.version,
        "source": p.source,
        "verdict": p.verdict.value,
        "artifacts": artifacts,
        "findings": [f.to_json() for f in p.findings],
        "error": p.error,
    }
    out.update(p.extra)
    return out


def report_json(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "pipwarden", "version": __version__},
        "packages": [package_json(p) for p in report.packages],
        "summary": {v.value: report.count(v) for v in Verdict},
    }
    if report.skipped:
        out["skipped"] = [
            {"name": s.name, "reason": s.reason, "origin": s.origin, "line": s.line} for s in report.skipped
        ]
    if report.meta:
        out["meta"] = dict(report.meta)
    return out


class JsonReporter:
    name = "json"

    def render(self, report: Report) -> str:
        return json.dumps(report_json(report), indent=2, default=str) + "\n"
