"""pipwarden verify LOCK: pinned, hashed, every hash a published file, nothing yanked — against the local index."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipwarden.index.models import IndexFile
from pipwarden.install.lockfile import LockHeader, Pin, render_pylock
from tests.builders import make_sdist, make_wheel, sha256_of
from tests.indexserver import LocalIndex


@pytest.fixture
def stack(local_index: LocalIndex, tmp_path: Path) -> dict[str, Path]:
    art = tmp_path / "art"
    art.mkdir()
    files = {
        "alpha-any": make_wheel(art, "alpha", "1.0", requires=("beta>=1",)),
        "alpha-sdist": make_sdist(art, "alpha", "1.0"),
        "beta-1": make_wheel(art, "beta", "1.0"),
        "beta-2": make_wheel(art, "beta", "2.0"),
        "gamma-linux": make_wheel(art, "gamma", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64"),
        "gamma-win": make_wheel(art, "gamma", "1.0", tag="cp311-cp311-win_amd64"),
    }
    for key, path in files.items():
        local_index.add(path, yanked="broken metadata" if key == "beta-2" else False)
    return files


def h(path: Path) -> str:
    return f"--hash=sha256:{sha256_of(path)}"


def verify(lock: Path, index: LocalIndex, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "verify", str(lock), "-i", index.url, "-f", "json",
                           *extra], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def found(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in doc["findings"]:
        out.setdefault(f["id"], []).append(f)
    return out


def test_good_lock_is_clean(stack: dict[str, Path], local_index: LocalIndex, tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        f"alpha==1.0 {h(stack['alpha-any'])} {h(stack['alpha-sdist'])}\n"
        f"beta==1.0 \\\n    {h(stack['beta-1'])}\n"
        f"gamma==1.0 {h(stack['gamma-linux'])} {h(stack['gamma-win'])}\n"
    )
    code, doc = verify(lock, local_index)
    assert doc["findings"] == []
    assert code == 0
    alpha = next(r for r in doc["requirements"] if r["name"] == "alpha")
    assert sorted(alpha["matched_files"]) == sorted([stack["alpha-any"].name, stack["alpha-sdist"].name])


def test_altered_hash_blocks(stack: dict[str, Path], local_index: LocalIndex, tmp_path: Path) -> None:
    bad = "0" * 64
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"alpha==1.0 {h(stack['alpha-any'])} --hash=sha256:{bad}\nbeta==1.0 {h(stack['beta-1'])}\n")
    code, doc = verify(lock, local_index)
    pw522 = found(doc)["PW522"]
    assert code == 1
    assert [(f["line"], f["severity"], f["evidence"]) for f in pw522] == [(1, "critical", f"sha256:{bad}")]
    # A hash of another release's file is just as wrong.
    lock.write_text(f"beta==1.0 {h(stack['beta-2'])}\n")
    code, doc = verify(lock, local_index)
    assert code == 1 and "PW522" in found(doc)


def test_missing_hash_and_unpinned(stack: dict[str, Path], local_index: LocalIndex, tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"# comment\nalpha==1.0\nbeta>=1 {h(stack['beta-1'])}\n")
    code, doc = verify(lock, local_index)
    f = found(doc)
    assert code == 1
    assert [x["line"] for x in f["PW521"]] == [2]
    assert [x["line"] for x in f["PW520"]] == [3]
    assert "--require-hashes" in f["PW520"][0]["message"]


def test_yanked_pin(stack: dict[str, Path], local_index: LocalIndex, tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"beta==2.0 {h(stack['beta-2'])}\n")
    code, doc = verify(lock, local_index)
    pw523 = found(doc)["PW523"]
    assert code == 1
    assert "broken metadata" in pw523[0]["message"]


def test_single_platform_hashes_and_unknown_version(stack: dict[str, Path], local_index: LocalIndex,
                                                    tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"gamma==1.0 {h(stack['gamma-linux'])}\nbeta==9.9 {h(stack['beta-1'])}\nnope==1.0 "
                    f"{h(stack['beta-1'])}\n")
    code, doc = verify(lock, local_index)
    f = found(doc)
    assert f["PW524"][0]["severity"] == "low" and "win_amd64" in f["PW524"][0]["message"]
    assert sorted(x["line"] for x in f["PW525"]) == [2, 3]
    assert code == 1


def test_pylock_round_trip_and_tamper(stack: dict[str, Path], local_index: LocalIndex, tmp_path: Path) -> None:
    def index_file(path: Path) -> IndexFile:
        return IndexFile(path.name, local_index.file_url(path.name), {"sha256": sha256_of(path)},
                         size=path.stat().st_size, upload_time=datetime(2023, 1, 1, tzinfo=UTC))

    pins = [Pin("alpha", "1.0", (index_file(stack["alpha-any"]), index_file(stack["alpha-sdist"])),
                dependencies=("beta",)),
            Pin("beta", "1.0", (index_file(stack["beta-1"]),))]
    header = LockHeader("requirements.in", "pipwarden lock requirements.in", "uv", local_index.url, "pipwarden",
                        {"fail_on": "high"}, {"name": "osv-pypi", "date": "2024-10-10", "sha256": "ab" * 32},
                        datetime(2024, 1, 1, tzinfo=UTC))
    text = render_pylock(pins, header)
    doc = tomllib.loads(text)
    assert doc["lock-version"] == "1.0" and doc["created-by"] == "pipwarden"
    alpha = doc["packages"][0]
    assert alpha["sdist"]["hashes"]["sha256"] == sha256_of(stack["alpha-sdist"])
    assert alpha["dependencies"] == [{"name": "beta", "version": "1.0"}]
    assert doc["tool"]["pipwarden"]["vulnerability-database"]["date"] == "2024-10-10"
    lock = tmp_path / "pylock.toml"
    lock.write_text(text)
    code, result = verify(lock, local_index)
    assert (code, result["findings"], result["format"]) == (0, [], "pylock")
    lock.write_text(text.replace(sha256_of(stack["beta-1"]), "f" * 64))
    code, result = verify(lock, local_index)
    assert code == 1 and [f["id"] for f in result["findings"]] == ["PW522"]


def test_table_output_and_missing_file(stack: dict[str, Path], local_index: LocalIndex, tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("alpha==1.0\n")
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "verify", "-r", str(lock), "-i", local_index.url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "PW521" in proc.stdout and f"{lock}:1" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "verify", str(tmp_path / "nope.txt"), "-i",
                           local_index.url], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no such file" in proc.stderr
