"""CycloneDX 1.5 JSON SBOM: every audited package as a component (purl, hashes, verdict),
the dependency graph where known, and the known vulnerabilities affecting them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pipwarden import __version__
from pipwarden.models import PackageResult, Report


def purl(p: PackageResult) -> str:
    name = canonicalize_name(p.name)
    return f"pkg:pypi/{name}@{p.version}" if p.version else f"pkg:pypi/{name}"


def _hashes(p: PackageResult) -> list[dict[str, str]]:
    seen: list[str] = []
    for a in p.artifacts:
        if a.sha256 and a.sha256 not in seen:
            seen.append(a.sha256)
    for h in p.extra.get("hashes", ()):
        algo, _, digest = str(h).partition(":")
        if algo == "sha256" and digest not in seen:
            seen.append(digest)
    return [{"alg": "SHA-256", "content": h} for h in seen]


def _source_url(vid: str) -> dict[str, str]:
    if vid.startswith("GHSA-"):
        return {"name": "GitHub Advisories", "url": f"https://github.com/advisories/{vid}"}
    if vid.startswith("CVE-"):
        return {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{vid}"}
    return {"name": "OSV", "url": f"https://osv.dev/vulnerability/{vid}"}


def report_cyclonedx(report: Report) -> dict[str, Any]:
    components = []
    by_name: dict[str, str] = {}
    for p in report.packages:
        ref = purl(p)
        by_name[canonicalize_name(p.name)] = ref
        comp: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": p.name, "purl": ref}
        if p.version:
            comp["version"] = p.version
        hashes = _hashes(p)
        if hashes:
            comp["hashes"] = hashes
        props = [{"name": "pipwarden:verdict", "value": p.verdict.value}]
        props += [{"name": "pipwarden:finding", "value": f"{f.id} {f.severity.label}: {f.title}"} for f in p.findings]
        if p.origin:
            props.append({"name": "pipwarden:origin", "value": p.origin})
        comp["properties"] = props
        components.append(comp)
    dependencies = []
    for p in report.packages:
        deps = []
        for text in p.extra.get("requires_dist", ()):
            try:
                name = canonicalize_name(Requirement(text).name)
            except InvalidRequirement:
                continue
            if name in by_name and by_name[name] not in deps:
                deps.append(by_name[name])
        dependencies.append({"ref": purl(p), "dependsOn": deps})
    vulns: dict[str, dict[str, Any]] = {}
    for p in report.packages:
        fix = p.extra.get("fix") if isinstance(p.extra.get("fix"), dict) else {}
        for v in p.extra.get("vulnerabilities", ()):
            entry = vulns.get(v["id"])
            if entry is None:
                entry = {
                    "bom-ref": f"vuln:{v['id']}",
                    "id": v["id"],
                    "source": _source_url(v["id"]),
                    "references": [{"id": a, "source": _source_url(a)} for a in v.get("aliases", ())],
                    "ratings": [{"severity": v["severity"] or "unknown", "method": "other"}],
                    "description": v.get("summary", ""),
                    "affects": [],
                }
                if v.get("fix_versions"):
                    entry["recommendation"] = f"upgrade to a fixed version: {', '.join(v['fix_versions'])}"
                if fix and fix.get("version") and v["id"] in fix.get("clears", ()):
                    entry["recommendation"] = f"upgrade {p.name} to {fix['version']}"
                if v.get("malware"):
                    entry["cwes"] = [506]  # embedded malicious code
                ig = v.get("ignored")
                if ig:
                    entry["analysis"] = {"state": "in_triage",
                                         "detail": f"accepted until {ig['expires']}: {ig['reason']}"}
                vulns[v["id"]] = entry
            entry["affects"].append({"ref": purl(p)})
    meta_props = []
    db = report.meta.get("vulnerability_db")
    if isinstance(db, dict):
        meta_props += [{"name": f"pipwarden:vulnerability-db:{k}", "value": str(val)} for k, val in db.items()
                       if val is not None]
    if report.meta.get("source"):
        meta_props.append({"name": "pipwarden:source", "value": str(report.meta["source"])})
    meta_props += [{"name": "pipwarden:skipped", "value": f"{s.name}: {s.reason}"} for s in report.skipped]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "pipwarden", "version": __version__}]},
            "properties": meta_props,
        },
        "components": components,
        "dependencies": dependencies,
        "vulnerabilities": list(vulns.values()),
    }


class CycloneDXReporter:
    name = "cyclonedx"

    def render(self, report: Report) -> str:
        return json.dumps(report_cyclonedx(report), indent=2, default=str) + "\n"
