"""pipwarden lock against the local index: uv resolution with builds forbidden, every file hashed, vetting."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from pipwarden.install.resolve import parse_compiled, sdist_only_names, static_metadata
from tests.builders import make_sdist, make_wheel, sha256_of
from tests.indexserver import LocalIndex

SETUP_WITH_MARKER = (
    "import pathlib\n"
    "pathlib.Path(%(marker)r).write_text('setup.py ran')\n"
    "from setuptools import setup\n"
    "setup(name='gamma', version='1.0', install_requires=['beta'])\n"
)


def lock(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipwarden", "lock", "-q", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def index(local_index: LocalIndex, tmp_path: Path) -> LocalIndex:
    art = tmp_path / "art"
    art.mkdir()
    local_index.add(make_wheel(art, "alpha", "1.0", requires=("beta>=1",)))
    local_index.add(make_wheel(art, "alpha", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64", requires=("beta>=1",)))
    local_index.add(make_sdist(art, "alpha", "1.0"))
    local_index.add(make_wheel(art, "beta", "1.0"))
    local_index.add(make_wheel(art, "beta", "2.0"), yanked="bad")
    return local_index


def test_lock_records_every_file_and_verifies(index: LocalIndex, tmp_path: Path) -> None:
    req_in = tmp_path / "requirements.in"
    req_in.write_text("alpha\n")
    out = tmp_path / "requirements.txt"
    proc = lock(str(req_in), "-o", str(out), "-i", index.url)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    alpha = [e for e in index.projects["alpha"].entries]
    for e in alpha:
        assert f"--hash=sha256:{e.sha256}" in text  # every file: both wheels and the sdist
    assert "beta==1.0" in text and "beta==2.0" not in text  # the yanked release is not chosen
    assert "policy fail_on=high" in text and "builds forbidden" in text
    assert "vulnerability database: none" in text
    # The lock verifies cleanly against the index, and pip --require-hashes would accept its shape.
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "verify", str(out), "-i", index.url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lock_accepts_a_path_relative_to_the_working_directory(index: LocalIndex, tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "requirements.in").write_text("beta\n")
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "lock", "-q", "project/requirements.in", "-i", index.url],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "beta==1.0" in proc.stdout


def test_lock_names_the_database_snapshot_in_pylock(index: LocalIndex, tmp_path: Path) -> None:
    from pipwarden.vulndb.store import build_database, default_db_path

    osv = tmp_path / "osv.zip"
    with zipfile.ZipFile(osv, "w") as zf:
        zf.writestr("PYSEC-0000-1.json", json.dumps({
            "id": "PYSEC-0000-1", "modified": "2024-05-05T00:00:00Z", "summary": "old beta is bad",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "beta"}, "versions": ["0.1"]}]}))
    snap = build_database(osv, default_db_path())
    req_in = tmp_path / "requirements.in"
    req_in.write_text("alpha\n")
    out = tmp_path / "pylock.toml"
    proc = lock(str(req_in), "-o", str(out), "-i", index.url)
    assert proc.returncode == 0, proc.stderr
    doc = tomllib.loads(out.read_text())
    assert doc["lock-version"] == "1.0"
    vet = doc["tool"]["pipwarden"]
    assert vet["vulnerability-database"]["sha256"] == snap.sha256
    assert vet["policy"]["fail_on"] == "high"
    names = {p["name"]: p for p in doc["packages"]}
    assert set(names) == {"alpha", "beta"}
    assert len(names["alpha"]["wheels"]) == 2 and "sdist" in names["alpha"]
    assert names["beta"]["tool"]["pipwarden"]["verdict"] == "pass"


def test_sdist_only_dependency_is_refused_and_never_built(local_index: LocalIndex, tmp_path: Path) -> None:
    art = tmp_path / "art"
    art.mkdir()
    marker = tmp_path / "MARKER"
    local_index.add(make_wheel(art, "beta", "1.0"))
    local_index.add(make_sdist(art, "gamma", "1.0", setup_py=SETUP_WITH_MARKER % {"marker": str(marker)}))
    req_in = tmp_path / "requirements.in"
    req_in.write_text("gamma\n")
    out = tmp_path / "requirements.txt"
    proc = lock(str(req_in), "-o", str(out), "-i", local_index.url, "--no-vet")
    assert proc.returncode == 2
    assert "gamma" in proc.stderr and "--allow-sdist gamma" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
    # Allowed, but its dependencies exist only in setup.py: refused rather than built.
    proc = lock(str(req_in), "-o", str(out), "-i", local_index.url, "--no-vet", "--allow-sdist", "gamma")
    assert proc.returncode == 2 and "setup.py" in proc.stderr
    assert not marker.exists()
    assert not out.exists()


def test_allowed_sdist_with_static_metadata(local_index: LocalIndex, tmp_path: Path) -> None:
    art = tmp_path / "art"
    art.mkdir()
    marker = tmp_path / "MARKER"
    local_index.add(make_wheel(art, "beta", "1.0"))
    pkg_info = "Metadata-Version: 2.2\nName: gamma\nVersion: 1.0\nRequires-Dist: beta>=1\n"
    sdist = make_sdist(art, "gamma", "1.0", setup_py=SETUP_WITH_MARKER % {"marker": str(marker)}, pkg_info=pkg_info)
    local_index.add(sdist)
    req_in = tmp_path / "requirements.in"
    req_in.write_text("gamma\n")
    out = tmp_path / "requirements.txt"
    proc = lock(str(req_in), "-o", str(out), "-i", local_index.url, "--no-vet", "--allow-sdist", "gamma")
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert f"gamma==1.0 \\\n    --hash=sha256:{sha256_of(sdist)}" in text
    assert "beta==1.0" in text  # found through the static Requires-Dist, not by running setup.py
    assert "NOT VETTED" in text
    assert not marker.exists()


def test_blocked_package_is_not_written_unless_forced(local_index: LocalIndex, tmp_path: Path) -> None:
    art = tmp_path / "art"
    art.mkdir()
    local_index.add(make_wheel(art, "beta", "1.0"))
    local_index.add(make_wheel(art, "evil", "1.0", requires=("beta",)), bad_digest=True)
    req_in = tmp_path / "requirements.in"
    req_in.write_text("evil\n")
    out = tmp_path / "requirements.txt"
    proc = lock(str(req_in), "-o", str(out), "-i", local_index.url)
    assert proc.returncode == 1
    assert not out.exists()
    assert "NOT written" in proc.stderr and "evil==1.0" in proc.stderr
    proc = lock(str(req_in), "-o", str(out), "-i", local_index.url, "--force")
    assert proc.returncode == 1
    text = out.read_text()
    assert "written with --force" in text
    evil_block = text.split("evil==1.0", 1)[1]
    assert "# pipwarden: BLOCK" in evil_block


def test_lock_to_stdout_and_usage_errors(index: LocalIndex, tmp_path: Path) -> None:
    req_in = tmp_path / "requirements.in"
    req_in.write_text("alpha\n")
    proc = lock(str(req_in), "-i", index.url, "--no-vet")
    assert proc.returncode == 0 and proc.stdout.startswith("# This file was generated by pipwarden")
    proc = lock(str(tmp_path / "missing.in"), "-i", index.url)
    assert proc.returncode == 2 and "no such file" in proc.stderr
    req_in.write_text("does-not-exist-anywhere\n")
    proc = lock(str(req_in), "-i", index.url, "--no-vet")
    assert proc.returncode == 2 and "uv could not resolve" in proc.stderr


# -- units -------------------------------------------------------------------------------


def test_parse_compiled_and_error_names() -> None:
    out = "alpha==1.0 \\\n    --hash=sha256:ab\n    # via x\nbeta===2.0 ; sys_platform == 'win32'\n-e ./local\n"
    pins = parse_compiled(out)
    assert [(p.name, p.version, p.marker) for p in pins] == [("alpha", "1.0", None),
                                                             ("beta", "2.0", 'sys_platform == "win32"')]
    err = ("Because gamma==1.0 has no usable wheels and only gamma==1.0 is available...\n"
           "hint: Wheels are required for `Delta_Pkg` because building from source is disabled")
    assert sdist_only_names(err) == ["gamma", "delta-pkg"]


def test_static_metadata_sources(tmp_path: Path) -> None:
    egg = make_sdist(tmp_path, "eggy", "1.0", files={
        "eggy.egg-info/requires.txt": "six\n\n[socks]\nPySocks\n\n[:python_version < \"3.8\"]\nimportlib-metadata\n",
    })
    meta = static_metadata(egg.read_bytes(), egg.name)
    assert meta is not None and meta.requires_dist == (
        "six", 'PySocks ; extra == "socks"', 'importlib-metadata ; (python_version < "3.8")')
    proj = make_sdist(tmp_path, "proj", "1.0", files={
        "pyproject.toml": "[project]\nname='proj'\nversion='1.0'\ndependencies=['httpx>=0.27']\n"})
    meta = static_metadata(proj.read_bytes(), proj.name)
    assert meta is not None and meta.requires_dist == ("httpx>=0.27",) and meta.source.startswith("pyproject")
    dyn = make_sdist(tmp_path, "dyn", "1.0", files={
        "pyproject.toml": "[project]\nname='dyn'\nversion='1.0'\ndynamic=['dependencies']\n"})
    assert static_metadata(dyn.read_bytes(), dyn.name) is None
