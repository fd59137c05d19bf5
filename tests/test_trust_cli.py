"""Trust signals end to end: `pipwarden scan` against a local index, and `pipwarden data`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.builders import make_sdist, make_wheel, metadata_text
from tests.indexserver import LocalIndex

FIXTURES = Path(__file__).parent / "fixtures" / "provenance"


def pipwarden(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipwarden", *args], capture_output=True, text=True,
                          timeout=120, check=False, cwd=cwd)


def scan_json(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    proc = pipwarden("scan", "--format", "json", "-q", *args, cwd=cwd)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def findings(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [pkg] = report["packages"]
    return {f["id"]: f for f in pkg["findings"]}


def test_typosquat_starjacking_and_dependency_confusion(local_index: LocalIndex, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    old = metadata_text("requestz", "1.0", extra="Home-page: https://github.com/psf/requests")
    local_index.add(make_wheel(tmp_path, "requestz", "1.0", metadata=old), upload_time=now - timedelta(days=400))
    meta = metadata_text("requestz", "999.0.0", extra="Project-URL: Source, https://github.com/psf/requests\n"
                                                      "Author-email: someone@gmial.com")
    local_index.add(make_wheel(tmp_path, "requestz", "999.0.0", {"requests/__init__.py": "x = 1\n"}, metadata=meta),
                    upload_time=now - timedelta(hours=5))
    code, report = scan_json("requestz", "--index-url", local_index.url)
    assert code == 1
    got = findings(report)
    assert {"PW201", "PW203", "PW210", "PW213", "PW232", "PW251"} <= set(got)
    assert got["PW201"]["severity"] == "high" and "requests" in got["PW201"]["evidence"]
    assert got["PW203"]["evidence"].endswith("https://github.com/psf/requests")
    assert got["PW251"]["file"] == "requests/__init__.py" and got["PW251"]["artifact"].endswith(".whl")
    assert "999.0.0" in got["PW213"]["message"] and "1.0" in got["PW213"]["message"]
    assert "PW204" not in got  # the repository claim did not change between releases
    # the cooldown is settable: --min-age 0 drops PW210
    _code, report = scan_json("requestz", "--index-url", local_index.url, "--min-age", "0")
    assert "PW210" not in findings(report)


def test_benign_project_has_no_trust_findings_above_low(local_index: LocalIndex, tmp_path: Path) -> None:
    meta = metadata_text("quiet-widget", "2.0", requires=("packaging>=20",),
                         extra="Project-URL: Source, https://github.com/alice/quiet-widget\n"
                               "Author-email: a@example.org")
    local_index.add(make_sdist(tmp_path, "quiet-widget", "1.0"),
                    upload_time=datetime(2024, 1, 1, tzinfo=UTC))
    local_index.add(make_wheel(tmp_path, "quiet-widget", "2.0", requires=("packaging>=20",), metadata=meta),
                    upload_time=datetime(2025, 1, 1, tzinfo=UTC))
    code, report = scan_json("quiet-widget", "--index-url", local_index.url)
    trust = [f for f in report["packages"][0]["findings"] if f["id"].startswith("PW2")]
    assert code == 0 and report["packages"][0]["verdict"] == "pass"
    assert all(f["severity"] in ("low", "info") for f in trust), trust


def test_severity_override_from_config(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.add(make_wheel(tmp_path, "reqeusts", "1.0"), upload_time=datetime(2024, 1, 1, tzinfo=UTC))
    code, report = scan_json("reqeusts", "--index-url", local_index.url)
    assert code == 1 and findings(report)["PW201"]["severity"] == "high"
    (tmp_path / "pipwarden.toml").write_text('[severity]\nPW201 = "low"\n')
    code, report = scan_json("reqeusts", "--index-url", local_index.url, cwd=tmp_path)
    assert findings(report)["PW201"]["severity"] == "low"
    assert code == 0


def test_lifecycle_yanked_and_quarantined(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.add(make_wheel(tmp_path, "shaky-thing", "1.0"), yanked="broken metadata",
                    upload_time=datetime(2024, 1, 1, tzinfo=UTC))
    _code, report = scan_json("shaky-thing==1.0", "--index-url", local_index.url)
    got = findings(report)
    assert "broken metadata" in got["PW220"]["message"]
    local_index.set_project_status("shaky-thing", "quarantined", "under review")
    code, report = scan_json("shaky-thing==1.0", "--index-url", local_index.url, "--no-cache")
    got = findings(report)
    assert got["PW221"]["severity"] == "critical" and "under review" in got["PW221"]["message"]
    assert code == 1 and report["packages"][0]["verdict"] == "block"


def test_ownership_change_between_scans(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "owned-thing", "1.0")
    before = {"organization": None, "roles": [{"role": "Owner", "user": "alice"}]}
    after = {"organization": None, "roles": [{"role": "Owner", "user": "mallory"}]}
    # Two index servers (two URLs, so no cached index answer is reused); the ownership memory is per project.
    for ownership, expect_change in ((before, False), (after, True)):
        with LocalIndex() as index:
            index.add(wheel, upload_time=datetime(2024, 1, 1, tzinfo=UTC))
            index.set_ownership("owned-thing", ownership)
            _code, report = scan_json("owned-thing", "--index-url", index.url)
        assert ("PW230" in findings(report)) is expect_change
    f = findings(report)["PW230"]
    assert f["severity"] == "medium" and "alice" in f["message"] and "mallory" in f["message"]
    stored = Path(os.environ["PIPWARDEN_CACHE_DIR"]) / "trust" / "ownership" / "owned-thing.json"
    assert "mallory" in stored.read_text()


def test_offline_wheel_shadowing_module_and_command(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "colourfulz", "1.0", {"colorama/__init__.py": "", "colourfulz/__init__.py": "",
                                                        "colourfulz-1.0.data/scripts/sudo": "#!/bin/sh\n"},
                       extra_dist_info={"entry_points.txt": "[console_scripts]\npytest = colourfulz:main\n"})
    code, report = scan_json(str(wheel), "--offline")
    [pkg] = report["packages"]
    assert code == 1
    got = findings(report)
    assert got["PW251"]["file"] == "colorama/__init__.py"
    pw252 = sorted((f["evidence"], f["severity"], f["line"]) for f in pkg["findings"] if f["id"] == "PW252")
    assert pw252 == [("colourfulz-1.0.data/scripts/sudo", "high", None), ("pytest = colourfulz:main", "medium", 2)]


def test_data_update_status_and_reset(tmp_path: Path) -> None:
    rows = [{"project": f"zzproject{i:03d}", "download_count": 10_000_000 - i} for i in range(150)]
    rows.append({"project": "zzfoobarlibrary", "download_count": 99_000_000})
    src = tmp_path / "top.json"
    src.write_text(json.dumps({"last_update": "2030-01-01", "rows": rows}))
    wheel = make_wheel(tmp_path, "zzfoobarlibrarx", "1.0")

    _code, before = scan_json(str(wheel), "--offline")
    assert "PW201" not in findings(before)

    proc = pipwarden("data", "update", "--from", str(src))
    assert proc.returncode == 0, proc.stderr
    assert "151 projects" in proc.stdout
    status = pipwarden("data", "status")
    assert status.returncode == 0 and "151 projects" in status.stdout and "2030-01-01" in status.stdout

    _code, after = scan_json(str(wheel), "--offline")
    assert "zzfoobarlibrary" in findings(after)["PW201"]["message"]

    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": []}')
    proc = pipwarden("data", "update", "--from", str(bad))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = pipwarden("data", "update", "--from", str(tmp_path / "missing.json"))
    assert proc.returncode == 2 and "no such file" in proc.stderr

    assert pipwarden("data", "reset").returncode == 0
    status = pipwarden("data", "status")
    assert "shipped" in status.stdout and "15000 projects" in status.stdout


def test_claim_confirmed_by_trusted_publisher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real PEP 740 attestation (tests/fixtures/provenance): the sdist claims the repository
    its verified GitHub publisher built it in, and PW205 says so."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("PIPWARDEN_SIGSTORE_OFFLINE", "1")
    sdist = FIXTURES / "pypi_attestations-0.0.19.tar.gz"
    code, report = scan_json(str(sdist), "--offline", "--provenance", f"{sdist}.provenance")
    got = findings(report)
    assert code == 0
    assert got["PW205"]["severity"] == "info"
    assert "github.com/trailofbits/pypi-attestations" in got["PW205"]["message"]
    _code, report = scan_json(str(sdist), "--offline")
    assert "PW205" not in findings(report)
