"""pipwarden install: nothing installed when blocked; vetted wheels installed into a fresh venv."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import make_wheel, sha256_of
from tests.indexserver import LocalIndex


def make_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    return where / "bin" / "python"


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def snapshot(venv: Path) -> list[str]:
    sp = site_packages(venv)
    return sorted(str(p.relative_to(sp)) for p in sp.rglob("*"))


def install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipwarden", "install", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def index(local_index: LocalIndex, tmp_path: Path) -> LocalIndex:
    art = tmp_path / "art"
    art.mkdir()
    local_index.add(make_wheel(art, "alpha", "1.0", {"alpha/__init__.py": "A = 1\n"}, requires=("beta>=1",)))
    local_index.add(make_wheel(art, "beta", "1.0", {"beta/__init__.py": "B = 1\n"}))
    local_index.add(make_wheel(art, "tampered", "1.0"), bad_digest=True)
    payload = 'import base64; exec(base64.b64decode("aW1wb3J0IG9zOyBvcy5zeXN0ZW0oImlkIik="))\n'
    local_index.add(make_wheel(art, "evil", "1.0", {"evil/__init__.py": "", "evil_hook.pth": payload}))
    return local_index


def lock_text(index: LocalIndex, *names: str) -> str:
    lines = []
    for name in names:
        for e in index.projects[name].entries:
            lines.append(f"{name}=={e.version} --hash=sha256:{sha256_of(e.path)}")
    return "\n".join(lines) + "\n"


def test_install_lock_into_fresh_venv_then_verify_env(index: LocalIndex, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = make_venv(venv)
    lock = tmp_path / "requirements.txt"
    lock.write_text(lock_text(index, "alpha", "beta"))
    proc = install("-r", str(lock), "--python", str(python), "-i", index.url)
    assert proc.returncode == 0, proc.stderr
    sp = site_packages(venv)
    assert (sp / "alpha" / "__init__.py").read_text() == "A = 1\n"
    assert (sp / "beta-1.0.dist-info" / "RECORD").is_file()
    for stage in ("verify the lock", "vet 2 packages", "--require-hashes", "--only-binary :all:"):
        assert stage in proc.stderr
    # What was installed matches its RECORD.
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "verify", "--env", "--python", str(python), "-f",
                           "json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and not [f for f in json.loads(proc.stdout)["findings"] if f["id"] == "PW540"]


def test_install_names_locks_first(index: LocalIndex, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = make_venv(venv)
    proc = install("alpha", "--python", str(python), "-i", index.url)
    assert proc.returncode == 0, proc.stderr
    assert "stage 1/4: lock" in proc.stderr
    sp = site_packages(venv)
    assert (sp / "alpha").is_dir() and (sp / "beta").is_dir()


def test_blocked_install_leaves_env_unchanged(index: LocalIndex, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = make_venv(venv)
    before = snapshot(venv)
    # A tampered lock (one hash altered): blocked at verification.
    lock = tmp_path / "requirements.txt"
    lock.write_text(lock_text(index, "beta") + f"alpha==1.0 --hash=sha256:{'1' * 64}\n")
    proc = install("-r", str(lock), "--python", str(python), "-i", index.url)
    assert proc.returncode == 1
    assert "PW522" in proc.stdout and "nothing installed" in proc.stderr
    assert snapshot(venv) == before
    # The file's bytes don't match what the index publishes: the lock's (real) hash matches no published file.
    lock.write_text(lock_text(index, "beta", "tampered"))
    proc = install("-r", str(lock), "--python", str(python), "-i", index.url)
    assert proc.returncode == 1 and "PW522" in proc.stdout and "tampered" in proc.stdout
    assert snapshot(venv) == before
    # A correctly locked package that the scan blocks (a .pth that decodes and executes): beta is not installed either.
    lock.write_text(lock_text(index, "beta", "evil"))
    proc = install("-r", str(lock), "--python", str(python), "-i", index.url)
    assert proc.returncode == 1
    assert "BLOCKED" in proc.stdout and "evil==1.0" in proc.stdout and "nothing installed" in proc.stderr
    assert snapshot(venv) == before


def test_refuses_non_virtualenv(index: LocalIndex, tmp_path: Path) -> None:
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists():
        pytest.skip("no base interpreter next to this one")
    lock = tmp_path / "requirements.txt"
    lock.write_text(lock_text(index, "beta"))
    proc = install("-r", str(lock), "--python", str(base), "-i", index.url)
    assert proc.returncode == 2
    assert "not a virtual environment" in proc.stderr and "python -m venv .venv" in proc.stderr


def test_usage(tmp_path: Path) -> None:
    proc = install()
    assert proc.returncode == 2 and "NAME... or -r FILE" in proc.stderr
