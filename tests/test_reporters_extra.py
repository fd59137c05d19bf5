"""SARIF 2.1.0, CycloneDX 1.5 and markdown reports of an audit, checked for structure and content."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.test_audit import as_json, project, pw  # noqa: F401  (project is a fixture)

SEVERITY_LEVELS = {"none", "note", "warning", "error"}


def _audit(project: Path, fmt: str) -> tuple[int, str]:  # noqa: F811
    (project / "requirements.txt").write_text("safepkg==2.0\nvulnpkg==1.0\nevilpkg==0.1\n-e ./src\n")
    r = pw("audit", "--no-scan", "-f", fmt, cwd=project)
    assert r.returncode == 1, r.stderr
    return r.returncode, r.stdout


def validate_sarif(doc: dict[str, Any]) -> None:
    """The parts of SARIF 2.1.0 GitHub code scanning requires (and rejects uploads without)."""
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(doc["runs"], list) and len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pipwarden" and isinstance(driver["rules"], list)
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in SEVERITY_LEVELS
        assert 0.0 <= float(rule["properties"]["security-severity"]) <= 10.0
    for res in run["results"]:
        assert res["ruleId"] in rule_ids
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in SEVERITY_LEVELS
        assert res["message"]["text"]
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        uri = phys["artifactLocation"]["uri"]
        assert uri and not uri.startswith("/") and "\\" not in uri  # repository-relative
        assert isinstance(phys["region"]["startLine"], int) and phys["region"]["startLine"] >= 1
        assert all(isinstance(v, str) for v in res["partialFingerprints"].values())


def test_sarif_results_point_at_requirement_lines(project: Path) -> None:  # noqa: F811
    _code, out = _audit(project, "sarif")
    doc = json.loads(out)
    validate_sarif(doc)
    results = doc["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    assert set(by_rule) == {"PW300", "PW301"}
    vuln = by_rule["PW300"]["locations"][0]["physicalLocation"]
    assert vuln["artifactLocation"]["uri"] == "requirements.txt" and vuln["region"]["startLine"] == 2
    mal = by_rule["PW301"]
    assert mal["level"] == "error" and mal["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("skipped src" in n["message"]["text"] for n in notes)
    assert doc["runs"][0]["properties"]["vulnerability_db"]["name"] == "osv-pypi"


def test_cyclonedx_sbom(project: Path) -> None:  # noqa: F811
    _code, out = _audit(project, "cyclonedx")
    bom = json.loads(out)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5"
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", bom["serialNumber"])
    refs = {c["bom-ref"]: c for c in bom["components"]}
    assert set(refs) == {"pkg:pypi/safepkg@2.0", "pkg:pypi/vulnpkg@1.0", "pkg:pypi/evilpkg@0.1"}
    assert all(c["purl"] == c["bom-ref"] and c["type"] == "library" for c in refs.values())
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert set(vulns) == {"PYSEC-2099-1", "MAL-2099-7"}
    v = vulns["PYSEC-2099-1"]
    assert v["affects"] == [{"ref": "pkg:pypi/vulnpkg@1.0"}]
    assert {r["id"] for r in v["references"]} == {"CVE-2099-1", "GHSA-2099-aaaa-bbbb"}
    assert v["ratings"][0]["severity"] == "critical"
    assert "1.2" in v["recommendation"]
    assert vulns["MAL-2099-7"]["cwes"] == [506]
    props = {p["name"]: p["value"] for p in bom["metadata"]["properties"]}
    assert props["pipwarden:vulnerability-db:name"] == "osv-pypi"


def test_cyclonedx_carries_lock_hashes(project: Path) -> None:  # noqa: F811
    digest = "ab" * 32
    (project / "requirements.txt").write_text(f"safepkg==2.0 --hash=sha256:{digest}\n")
    r = pw("audit", "--no-scan", "-f", "cyclonedx", cwd=project)
    assert r.returncode == 0, r.stderr
    (comp,) = json.loads(r.stdout)["components"]
    assert comp["hashes"] == [{"alg": "SHA-256", "content": digest}]


def test_markdown_for_pull_requests(project: Path) -> None:  # noqa: F811
    _code, out = _audit(project, "markdown")
    lines = out.splitlines()
    assert lines[0].startswith("### ⛔ pipwarden audit: 3 packages (2 block, 1 pass)")
    assert "| vulnpkg | 1.0 | ⛔ block | PW300 critical | → `1.2` |" in lines
    assert any(line.startswith("| evilpkg 0.1 | MAL-2099-7 |") and "**malware**" in line for line in lines)
    assert any("`src`" in line and "editable" in line for line in lines)
    assert "safepkg" not in out.split("<details>")[0]  # clean packages stay out of the summary table
    assert "OSV PyPI snapshot" in lines[-1]


def test_output_file_and_json_parity(project: Path) -> None:  # noqa: F811
    (project / "requirements.txt").write_text("vulnpkg==1.0\n")
    out = project / "report.sarif"
    r = pw("audit", "--no-scan", "-f", "sarif", "-o", str(out), cwd=project)
    assert r.returncode == 1 and r.stdout == ""
    validate_sarif(json.loads(out.read_text()))
    report = as_json(pw("audit", "--no-scan", "-f", "json", cwd=project))
    assert report["schema"] == "pipwarden.report/1"
    assert set(report["packages"][0]) >= {"name", "version", "source", "verdict", "artifacts", "findings", "error",
                                          "vulnerabilities"}
