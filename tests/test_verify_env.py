"""pipwarden verify --env: installed files against their RECORD, unowned files, .pth files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipwarden.envcheck import check_environment, pth_exec_lines
from pipwarden.install.pyenv import describe
from tests.builders import make_wheel


def make_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    return where / "bin" / "python"


def pip_install_wheel(python: Path, wheel: Path) -> None:
    """Install a wheel with this interpreter's pip into another environment: a wheel install runs no package code."""
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--no-cache-dir", str(wheel)],
        check=True, capture_output=True, text=True,
    )


@pytest.fixture
def installed(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh venv with one wheel installed; returns (python, site-packages)."""
    wheel = make_wheel(tmp_path, "demo-pkg", "1.0", {
        "demo_pkg/__init__.py": "VALUE = 1\n",
        "demo_pkg/util.py": "def f():\n    return 2\n",
        "demo_pkg-setup.pth": "import os; os.environ.setdefault('DEMO', '1')\n/some/path\n",
    })
    python = make_venv(tmp_path / "venv")
    pip_install_wheel(python, wheel)
    sp = next((tmp_path / "venv" / "lib").glob("python3*/site-packages"))
    assert (sp / "demo_pkg" / "util.py").is_file()
    return python, sp


def verify_env(python: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "verify", "--env", "--python", str(python),
                           "-f", "json", *extra], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def by_id(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in doc["findings"]:
        out.setdefault(f["id"], []).append(f)
    return out


def test_fresh_install_is_clean_and_pth_is_listed(installed: tuple[Path, Path]) -> None:
    python, _sp = installed
    code, doc = verify_env(python)
    found = by_id(doc)
    assert code == 0
    assert "PW540" not in found and "PW542" not in found
    assert doc["files_checked"] >= 4
    # The package's own .pth line is listed, at low severity (installed intact by its distribution).
    pth = found["PW543"]
    assert [(f["line"], f["severity"]) for f in pth] == [(1, "low")]
    assert pth[0]["evidence"].startswith("import os")


def test_edited_file_is_caught(installed: tuple[Path, Path]) -> None:
    python, sp = installed
    target = sp / "demo_pkg" / "util.py"
    target.write_text("def f():\n    import os; os.system('id')\n")
    code, doc = verify_env(python)
    found = by_id(doc)
    assert code == 1
    assert [f["file"] for f in found["PW540"]] == [str(target)]
    assert "RECORD" in found["PW540"][0]["evidence"]


def test_edited_pth_unowned_files_and_missing_files(installed: tuple[Path, Path]) -> None:
    python, sp = installed
    (sp / "demo_pkg-setup.pth").write_text("import os; os.system('curl evil')\n")
    (sp / "sneaky.pth").write_text("# nothing\nimport sneaky_hook\n")
    (sp / "sneaky_hook.py").write_text("print('hi')\n")
    (sp / "demo_pkg" / "__init__.py").unlink()
    _code, doc = verify_env(python)
    found = by_id(doc)
    unowned = {Path(f["file"]).name: f["severity"] for f in found["PW542"]}
    assert unowned == {"sneaky.pth": "medium", "sneaky_hook.py": "medium"}
    pth = {(Path(f["file"]).name, f["line"]): f["severity"] for f in found["PW543"]}
    assert pth == {("demo_pkg-setup.pth", 1): "high", ("sneaky.pth", 2): "high"}
    assert any(f["file"].endswith("demo_pkg-setup.pth") for f in found["PW540"])
    assert [f["evidence"].split(",")[0] for f in found["PW541"]] == ["demo_pkg/__init__.py"]


def test_table_output(installed: tuple[Path, Path]) -> None:
    python, sp = installed
    (sp / "demo_pkg" / "util.py").write_text("x = 1\n")
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "verify", "--env", "--python", str(python)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "PW540" in proc.stdout and "util.py" in proc.stdout


def test_library_reads_without_running_pth(installed: tuple[Path, Path], tmp_path: Path) -> None:
    python, sp = installed
    marker = tmp_path / "pth-ran"
    (sp / "zz_marker.pth").write_text(f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n")
    report = check_environment(describe(str(python)))
    assert not marker.exists()  # describing the interpreter ran it with -S: no .pth processed
    assert any(f.id == "PW543" and f.file and f.file.endswith("zz_marker.pth") for f in report.findings)


def test_pth_exec_lines() -> None:
    data = b"/a/path\nimport x\nimport\ty\n  import z\nimportlib\n"
    assert pth_exec_lines(data) == [(2, "import x"), (3, "import\ty")]


def test_flags_must_be_consistent(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "verify"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--env" in proc.stderr
