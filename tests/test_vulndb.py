"""The OSV database: building the SQLite index, matching per the OSV schema, db commands."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pipwarden.models import Severity
from pipwarden.vulndb import VulnDB, VulnDBError
from pipwarden.vulndb.match import Requirement, conflicts, index_advisories, merge, smallest_fix, vulnerabilities
from pipwarden.vulndb.osv import Affected, Event, Range, affects, parse_record
from pipwarden.vulndb.store import build_database

SHARED_ZIP = Path(__file__).parents[1] / ".." / "shared" / "data" / "osv-pypi-advisories.zip"


def rec(rid: str, name: str, *, ranges: list[list[dict[str, str]]] | None = None, versions: list[str] | None = None,
        aliases: list[str] | None = None, modified: str = "2024-01-01T00:00:00Z", **extra: Any) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"ecosystem": "PyPI", "name": name}}
    if ranges is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": ev} for ev in ranges]
    if versions is not None:
        affected["versions"] = versions
    return {"id": rid, "modified": modified, "aliases": aliases or [], "summary": f"{rid} summary",
            "affected": [affected], **extra}


def write_zip(path: Path, records: list[Mapping[str, Any]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for r in records:
            zf.writestr(f"{r['id']}.json", json.dumps(r))
    return path


EDGE_RECORDS = [
    # pre-release inside a range
    rec("PYSEC-0001-1", "Pre_Pkg", ranges=[[{"introduced": "1.0"}, {"fixed": "2.0"}]]),
    # last_affected
    rec("GHSA-aaaa-bbbb-cccc", "last.pkg", ranges=[[{"introduced": "0"}, {"last_affected": "1.5"}]],
        database_specific={"severity": "MODERATE"}),
    # multiple ranges, and multiple introduced/fixed pairs in one range
    rec("PYSEC-0001-2", "multi", ranges=[[{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"},
                                          {"fixed": "2.1"}], [{"introduced": "3.0b1"}, {"fixed": "3.0.2"}]],
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]),
    # withdrawn: ignored
    rec("PYSEC-0001-3", "multi", ranges=[[{"introduced": "0"}]], withdrawn="2024-02-01T00:00:00Z",
        modified="2024-02-01T00:00:00Z"),
    # versions only
    rec("PYSEC-0001-4", "only-versions", versions=["1.0", "1.1"]),
    # known malware
    rec("MAL-2024-1", "evil-pkg", ranges=[[{"introduced": "0"}]], modified="2024-03-05T12:00:00Z"),
    # aliases: PYSEC names GHSA, GHSA names CVE; the CVE-only record names GHSA. One vulnerability.
    rec("PYSEC-0001-5", "aliased", ranges=[[{"introduced": "0"}, {"fixed": "1.1"}]], aliases=["GHSA-xxxx-yyyy-zzzz"]),
    rec("GHSA-xxxx-yyyy-zzzz", "aliased", ranges=[[{"introduced": "0"}, {"fixed": "1.0.1"}]],
        aliases=["CVE-2024-0001"]),
    # limit
    rec("PYSEC-0001-6", "limited", ranges=[[{"introduced": "0"}, {"limit": "2.0"}]]),
    # another advisory on "multi" for the fix search: 2.1 is vulnerable to this one, 2.2 clean
    rec("PYSEC-0001-7", "multi", ranges=[[{"introduced": "2.1"}, {"fixed": "2.2"}]]),
]


@pytest.fixture(scope="module")
def edge_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VulnDB]:
    d = tmp_path_factory.mktemp("vulndb")
    build_database(write_zip(d / "all.zip", EDGE_RECORDS), d / "db.sqlite3")
    db = VulnDB(d / "db.sqlite3")
    yield db
    db.close()


def ids(db: VulnDB, name: str, version: str) -> set[str]:
    return {m.advisory.id for m in db.matches(name, version)}


@pytest.mark.parametrize(
    ("version", "hit"),
    [("0.9", False), ("1.0.dev0", False), ("1.0a1", False), ("1.0", True), ("1.5.post2", True),
     ("2.0rc1", True), ("2.0.dev3", True), ("2.0", False), ("2.0.post1", False), ("10", False)],
)
def test_prerelease_and_postrelease_in_pep440_order(edge_db: VulnDB, version: str, hit: bool) -> None:
    assert (ids(edge_db, "pre-pkg", version) == {"PYSEC-0001-1"}) is hit


@pytest.mark.parametrize(("version", "hit"), [("0.1", True), ("1.5", True), ("1.5.post1", False), ("1.6", False)])
def test_last_affected_is_inclusive(edge_db: VulnDB, version: str, hit: bool) -> None:
    assert bool(ids(edge_db, "last-pkg", version)) is hit


@pytest.mark.parametrize(
    ("version", "hit"),
    [("0.5", False), ("1.1", True), ("1.2", False), ("1.9", False), ("2.0.1", True), ("2.1", False),
     ("3.0a1", False), ("3.0b2", True), ("3.0.1", True), ("3.0.2", False)],
)
def test_multiple_ranges(edge_db: VulnDB, version: str, hit: bool) -> None:
    assert ("PYSEC-0001-2" in ids(edge_db, "multi", version)) is hit


def test_withdrawn_records_are_ignored_and_counted(edge_db: VulnDB) -> None:
    assert "PYSEC-0001-3" not in ids(edge_db, "multi", "0.5")
    assert edge_db.snapshot.withdrawn == 1
    assert edge_db.snapshot.records == len(EDGE_RECORDS) - 1
    # the snapshot date is the newest `modified`, withdrawn records included
    assert edge_db.snapshot.date == "2024-03-05T12:00:00Z"


def test_versions_only_record_matches_exact_versions_pep440_equal(edge_db: VulnDB) -> None:
    assert ids(edge_db, "only-versions", "1.1") == {"PYSEC-0001-4"}
    assert ids(edge_db, "only-versions", "1.1.0") == {"PYSEC-0001-4"}
    assert ids(edge_db, "only-versions", "1.2") == set()
    assert ids(edge_db, "Only_Versions", "1.0") == {"PYSEC-0001-4"}


def test_limit_caps_the_range(edge_db: VulnDB) -> None:
    assert ids(edge_db, "limited", "1.9") == {"PYSEC-0001-6"}
    assert ids(edge_db, "limited", "2.0") == set()


def test_aliases_merge_into_one_vulnerability_with_all_fix_versions(edge_db: VulnDB) -> None:
    vulns = vulnerabilities(edge_db, "aliased", "1.0")
    assert len(vulns) == 1
    v = vulns[0]
    assert v.id == "PYSEC-0001-5"
    assert set(v.aliases) == {"GHSA-xxxx-yyyy-zzzz", "CVE-2024-0001"}
    assert v.fix_versions == ("1.0.1", "1.1")
    # 1.0.1 is past the GHSA range but still inside the PYSEC one
    assert [x.id for x in vulnerabilities(edge_db, "aliased", "1.0.1")] == ["PYSEC-0001-5"]


def test_malware_record(edge_db: VulnDB) -> None:
    (v,) = vulnerabilities(edge_db, "evil_pkg", "0.0.1")
    assert v.malware and v.id == "MAL-2024-1"


def test_severity_from_cvss_and_label(edge_db: VulnDB) -> None:
    (multi,) = vulnerabilities(edge_db, "multi", "1.1")
    assert multi.severity is Severity.CRITICAL  # CVSS 9.8
    (last,) = vulnerabilities(edge_db, "last-pkg", "1.0")
    assert last.severity is Severity.MEDIUM  # GHSA "MODERATE"
    (pre,) = vulnerabilities(edge_db, "pre-pkg", "1.0")
    assert pre.severity is None


def test_smallest_fix_clears_every_advisory(edge_db: VulnDB) -> None:
    vulns = vulnerabilities(edge_db, "multi", "2.0.1")
    # 2.1 fixes PYSEC-0001-2 but is inside PYSEC-0001-7; 2.2 is the first clean release
    assert smallest_fix(edge_db, "multi", "2.0.1", vulns) == "2.2"
    from packaging.version import Version

    available = [Version(v) for v in ("2.0.1", "2.1", "2.3", "3.0b2")]
    assert smallest_fix(edge_db, "multi", "2.0.1", vulns, available) == "2.3"  # 2.2 never released
    pre = vulnerabilities(edge_db, "pre-pkg", "1.5")
    assert smallest_fix(edge_db, "pre-pkg", "1.5", pre) == "2.0"


def test_conflicts_name_the_requirement() -> None:
    reqs = [Requirement("multi", "<2.2", "flask 2.0"), Requirement("multi", ">=1", "the project (requirements.txt:1)"),
            Requirement("other", "<1", "x")]
    assert conflicts("multi", "2.2", reqs) == ["flask 2.0 requires multi<2.2"]
    assert conflicts("multi", "2.1", reqs) == []


def test_range_events_that_pep440_cannot_order_fall_back_to_versions() -> None:
    entry = Affected("x", ("1.0",), (Range("ECOSYSTEM", (Event("introduced", "0"), Event("fixed", "not a version"))),))
    assert affects(entry, "1.0")
    assert not affects(entry, "1.5")
    git = Affected("x", (), (Range("GIT", (Event("introduced", "0"),)),))
    assert not affects(git, "1.0")


def test_parse_record_keeps_only_pypi_entries() -> None:
    adv = parse_record({"id": "X-1", "affected": [
        {"package": {"ecosystem": "npm", "name": "left-pad"}, "versions": ["1.0"]},
        {"package": {"ecosystem": "PyPI", "name": "Zope.Interface"}, "versions": ["1.0"]}]})
    assert [a.name for a in adv.affected] == ["zope-interface"]
    with pytest.raises(ValueError):
        parse_record({"affected": []})


def test_index_json_api_fallback() -> None:
    advs = index_advisories("pkg", "1.0", [
        {"id": "PYSEC-1", "aliases": ["CVE-1"], "fixed_in": ["1.0.1", "1.1"], "details": "bad\nthings"},
        {"id": "PYSEC-2", "withdrawn": "2024-01-01", "fixed_in": []},
    ])
    vulns = merge((a, a.affected[0].fixed_versions()) for a in advs)
    assert [(v.id, v.fix_versions, v.summary) for v in vulns] == [("PYSEC-1", ("1.0.1", "1.1"), "bad")]
    assert advs[0].affected[0].contains("1.0")
    assert not advs[0].affected[0].contains("0.9")


@pytest.mark.skipif(not SHARED_ZIP.is_file(), reason="../shared/data/osv-pypi-advisories.zip absent")
def test_shared_snapshot(tmp_path: Path) -> None:
    snap = build_database(SHARED_ZIP, tmp_path / "db.sqlite3")
    assert snap.records + snap.withdrawn == 2661
    assert snap.date.startswith("2024-10-10")
    db = VulnDB(tmp_path / "db.sqlite3")
    try:
        # PYSEC-2021-335: AccessControl 4.0-4.2 and 5.0-5.1 (fixed 4.3, 5.2)
        assert "PYSEC-2021-335" in ids(db, "AccessControl", "5.1")
        assert "PYSEC-2021-335" in ids(db, "accesscontrol", "4.2")
        assert "PYSEC-2021-335" not in ids(db, "accesscontrol", "4.3")
        assert "PYSEC-2021-335" not in ids(db, "accesscontrol", "5.2")
        v = next(v for v in vulnerabilities(db, "accesscontrol", "5.1") if v.id == "PYSEC-2021-335")
        assert "CVE-2021-32807" in v.aliases
        assert "5.2" in v.fix_versions
    finally:
        db.close()


def test_bad_zip_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "all.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(VulnDBError, match="not a readable OSV zip"):
        build_database(bad, tmp_path / "db.sqlite3")
    assert not (tmp_path / "db.sqlite3").exists()


# --- through the CLI -------------------------------------------------------------------------


def pw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipwarden", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def test_cli_db_update_file_then_status(tmp_path: Path) -> None:
    z = write_zip(tmp_path / "all.zip", EDGE_RECORDS)
    r = pw("db", "status")
    assert r.returncode == 2 and "pipwarden db update" in r.stderr and r.stderr.count("\n") == 1
    r = pw("db", "update", "--file", str(z))
    assert r.returncode == 0, r.stderr
    assert "2024-03-05T12:00:00Z" in r.stdout
    r = pw("db", "status", "--format", "json")
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    import hashlib

    assert status["sha256"] == hashlib.sha256(z.read_bytes()).hexdigest()
    assert status["date"] == "2024-03-05T12:00:00Z"
    assert status["records"] == len(EDGE_RECORDS) - 1


def test_cli_db_update_unreachable_url_is_one_line_exit_2(tmp_path: Path) -> None:
    r = pw("db", "update", "--url", "http://127.0.0.1:9/all.zip")
    assert r.returncode == 2
    assert r.stderr.startswith("pipwarden: error: cannot reach http://127.0.0.1:9/all.zip")
    assert "--file" in r.stderr and r.stderr.count("\n") == 1


class _ZipHandler(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self) -> None:
        if self.path != "/PyPI/all.zip":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args: object) -> None:
        pass


def test_cli_db_update_downloads_from_url(tmp_path: Path) -> None:
    z = write_zip(tmp_path / "all.zip", EDGE_RECORDS)
    _ZipHandler.payload = z.read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ZipHandler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        r = pw("db", "update", "--url", f"{base}/PyPI/all.zip", "--format", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["source"] == f"{base}/PyPI/all.zip"
        r = pw("db", "update", "--url", f"{base}/missing.zip")
        assert r.returncode == 2 and "HTTP 404" in r.stderr
        # the failed update left the previous database in place
        assert pw("db", "status").returncode == 0
    finally:
        server.shutdown()
        server.server_close()
