"""pipwarden audit end to end: sources → vulnerability DB → scan pipeline → reports, via the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.builders import make_wheel
from tests.indexserver import LocalIndex
from tests.test_vulndb import rec, write_zip

RECORDS = [
    rec("PYSEC-2099-1", "vulnpkg", ranges=[[{"introduced": "0"}, {"fixed": "1.1"}]], aliases=["CVE-2099-1"],
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]),
    rec("GHSA-2099-aaaa-bbbb", "vulnpkg", ranges=[[{"introduced": "0"}, {"fixed": "1.0.1"}]], aliases=["CVE-2099-1"]),
    rec("PYSEC-2099-2", "vulnpkg", ranges=[[{"introduced": "1.1"}, {"fixed": "1.2"}]]),
    rec("MAL-2099-7", "evilpkg", ranges=[[{"introduced": "0"}]]),
    rec("PYSEC-2099-3", "lowpkg", versions=["1.0"], database_specific={"severity": "LOW"}),
]


def pw(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipwarden", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**os.environ, **(env or {})})


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "all.zip").parent.mkdir(exist_ok=True)
    write_zip(tmp_path / "all.zip", RECORDS)
    proj = tmp_path / "proj"
    proj.mkdir()
    r = pw("db", "update", "--file", str(tmp_path / "all.zip"), cwd=proj)
    assert r.returncode == 0, r.stderr
    return proj


def as_json(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(r.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (exit {r.returncode}): {r.stdout[:500]} {r.stderr[:500]}") from None
    return data


def pkg(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in report["packages"] if p["name"] == name)


def test_no_scan_vulnerabilities_malware_fix_and_exit_codes(project: Path) -> None:
    (project / "requirements.txt").write_text("vulnpkg==1.0\nevilpkg==0.1\nsafepkg==2.0\nflask<1 ; python_version<'3'\n"
                                              "-c constraints.txt\n")
    (project / "constraints.txt").write_text("vulnpkg<1.1\n")
    r = pw("audit", "--no-scan", "-f", "json", cwd=project)
    report = as_json(r)
    assert r.returncode == 1, r.stderr
    vp = pkg(report, "vulnpkg")
    assert vp["verdict"] == "block"
    (v,) = vp["vulnerabilities"]  # PYSEC and GHSA share CVE-2099-1: one vulnerability
    assert v["id"] == "PYSEC-2099-1" and set(v["aliases"]) == {"CVE-2099-1", "GHSA-2099-aaaa-bbbb"}
    assert v["fix_versions"] == ["1.0.1", "1.1"] and v["severity"] == "critical"
    assert [f["id"] for f in vp["findings"]] == ["PW300"]
    assert vp["findings"][0]["file"] == "requirements.txt" and vp["findings"][0]["line"] == 1
    # 1.1 is inside PYSEC-2099-2; 1.2 is the smallest clean version, and the constraint file forbids it
    assert vp["fix"]["version"] == "1.2"
    assert vp["fix"]["conflicts"] == [f"constraint {Path('constraints.txt')}:1 requires vulnpkg<1.1"]
    ev = pkg(report, "evilpkg")
    assert ev["verdict"] == "block" and ev["findings"][0]["id"] == "PW301"
    assert ev["findings"][0]["severity"] == "critical"
    assert pkg(report, "safepkg")["verdict"] == "pass"
    assert "flask" not in {p["name"] for p in report["packages"]}  # marker false on this interpreter
    assert report["meta"]["vulnerability_db"]["name"] == "osv-pypi"
    assert len(report["meta"]["vulnerability_db"]["sha256"]) == 64
    # the table names the snapshot and the fix
    r = pw("audit", "--no-scan", cwd=project)
    assert r.returncode == 1
    assert "vulnpkg 1.0 → 1.2" in r.stdout and "OSV PyPI snapshot" in r.stdout


def test_ignores_with_expiry_excludes_and_thresholds(project: Path) -> None:
    (project / "requirements.txt").write_text("vulnpkg==1.0\nlowpkg==1.0\nevilpkg==0.1\n")
    (project / "pipwarden.toml").write_text(
        '[[ignore-vulns]]\nid = "CVE-2099-1"\nreason = "not reachable"\nexpires = 2999-01-01\n\n'
        '[[ignore-vulns]]\nid = "PYSEC-2099-3"\nreason = "old decision"\nexpires = 2000-01-01\n\n'
        '[[exclude]]\nname = "EvilPkg"\nreason = "vendored fork, vetted in-house"\n'
    )
    r = pw("audit", "--no-scan", "-f", "json", cwd=project)
    report = as_json(r)
    vp = pkg(report, "vulnpkg")
    assert vp["verdict"] == "pass" and vp["findings"] == []
    assert vp["vulnerabilities"][0]["ignored"]["reason"] == "not reachable"
    low = pkg(report, "lowpkg")
    assert low["vulnerabilities"][0]["ignore_expired"]["expires"] == "2000-01-01"
    assert "ignore expired 2000-01-01" in low["findings"][0]["message"]
    assert low["findings"][0]["severity"] == "low" and low["verdict"] == "pass"
    assert report["meta"]["expired_ignores"] == [{"id": "PYSEC-2099-3", "reason": "old decision",
                                                  "expires": "2000-01-01"}]
    assert report["meta"]["excluded"][0]["name"] == "evilpkg"
    assert "evilpkg" not in {p["name"] for p in report["packages"]}
    assert r.returncode == 0
    r = pw("audit", "--no-scan", "--fail-on", "low", cwd=project)
    assert r.returncode == 1 and "ignore for PYSEC-2099-3 expired on 2000-01-01" in r.stdout


def test_incomplete_audit_exits_3_and_strict_fails(project: Path) -> None:
    (project / "requirements.txt").write_text("safepkg==2.0\n-e ./somewhere\n")
    r = pw("audit", "--no-scan", cwd=project)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "skipped somewhere" in r.stdout
    r = pw("audit", "--no-scan", "--strict", cwd=project)
    assert r.returncode == 1


def test_offline_without_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("x==1\n")
    r = pw("audit", "--no-scan", "--offline", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("pipwarden: error: no vulnerability database") and r.stderr.count("\n") == 1


def test_bad_source_is_exit_2(tmp_path: Path) -> None:
    r = pw("audit", str(tmp_path / "missing.txt"), cwd=tmp_path)
    assert r.returncode == 2 and "no such file" in r.stderr


@pytest.fixture()
def index(tmp_path: Path, local_index: LocalIndex) -> LocalIndex:
    d = tmp_path / "dists"
    d.mkdir()
    for v in ("1.0", "1.1", "1.2"):
        local_index.add(make_wheel(d, "vulnpkg", v))
    local_index.add(make_wheel(d, "safepkg", "2.0", requires=("vulnpkg<1.2",)))
    local_index.add(make_wheel(d, "safepkg", "2.1"))
    local_index.add(make_wheel(d, "evilpkg", "0.1", files={"evilpkg/__init__.py": (
        "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n")}))
    return local_index


def test_full_audit_through_the_scan_pipeline(project: Path, index: LocalIndex) -> None:
    (project / "requirements.txt").write_text("vulnpkg==1.0\nsafepkg==2.0\nevilpkg==0.1\n")
    r = pw("audit", "-f", "json", "--index-url", index.url, cwd=project)
    report = as_json(r)
    assert r.returncode == 1, r.stderr
    vp = pkg(report, "vulnpkg")
    assert vp["artifacts"][0]["filename"] == "vulnpkg-1.0-py3-none-any.whl"
    assert vp["vulnerabilities"][0]["id"] == "PYSEC-2099-1"
    # the index lists 1.1 (vulnerable to PYSEC-2099-2) and 1.2: the fix is 1.2, and safepkg 2.0 requires <1.2
    assert vp["fix"]["version"] == "1.2"
    assert vp["fix"]["conflicts"] == ["safepkg 2.0 requires vulnpkg<1.2"]
    ev = pkg(report, "evilpkg")
    assert {"PW301"} <= {f["id"] for f in ev["findings"]}
    assert len({f["id"] for f in ev["findings"]}) > 1  # the code scan found the decode-and-exec as well
    assert report["meta"]["mode"] == "full"


def test_unpinned_requirement_resolved_today_and_reported(project: Path, index: LocalIndex) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "me"\nversion = "0"\ndependencies = ["vulnpkg>=1.0,<1.2"]\n')
    r = pw("audit", "--no-scan", "-f", "json", "--index-url", index.url, cwd=project)
    report = as_json(r)
    vp = pkg(report, "vulnpkg")
    assert vp["version"] == "1.1"  # newest matching release today
    assert {f["id"] for f in vp["findings"]} == {"PW300", "PW302"}
    unpinned = next(f for f in vp["findings"] if f["id"] == "PW302")
    assert "today that resolves to 1.1" in unpinned["message"] and unpinned["line"] == 4
    # the project's own range is the line being upgraded, so it is not reported as a conflict
    assert vp["fix"]["version"] == "1.2"
    assert vp["fix"]["conflicts"] == []


def test_index_json_api_fallback_without_database(tmp_path: Path, index: LocalIndex) -> None:
    index.set_vulnerabilities("vulnpkg", "1.0", [{"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"],
                                                  "details": "bad", "fixed_in": ["1.1"], "link": "x"}])
    (tmp_path / "requirements.txt").write_text("vulnpkg==1.0\nsafepkg==2.1\n")
    r = pw("audit", "--no-scan", "-f", "json", "--index-url", index.url, cwd=tmp_path)
    report = as_json(r)
    assert r.returncode == 1, r.stderr
    assert "JSON API" in r.stderr and "pipwarden db update" in r.stderr
    assert report["meta"]["vulnerability_db"]["name"] == "index-json-api"
    vp = pkg(report, "vulnpkg")
    assert [(v["id"], v["fix_versions"]) for v in vp["vulnerabilities"]] == [("PYSEC-2099-1", ["1.1"])]
    assert pkg(report, "safepkg")["verdict"] == "pass"


def test_lock_hash_mismatch_blocks(project: Path, index: LocalIndex) -> None:
    (project / "requirements.txt").write_text(f"safepkg==2.1 --hash=sha256:{'0' * 64}\n")
    r = pw("audit", "-f", "json", "--index-url", index.url, cwd=project)
    report = as_json(r)
    sp = pkg(report, "safepkg")
    assert sp["verdict"] == "block" and "PW001" in {f["id"] for f in sp["findings"]}
    assert sp["hashes"] == [f"sha256:{'0' * 64}"]
