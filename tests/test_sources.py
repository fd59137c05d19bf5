"""Sources: requirements files, pyproject.toml, lock files and environments → PackageRef / Skipped."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pipwarden.errors import SourceError
from pipwarden.models import PackageRef, Skipped
from pipwarden.sources import TargetPython, detect
from pipwarden.sources.environment import EnvironmentSource
from pipwarden.sources.locks import _poetry_spec
from tests.builders import make_wheel


def split(source_items: list[PackageRef | Skipped]) -> tuple[list[PackageRef], list[Skipped]]:
    return ([i for i in source_items if isinstance(i, PackageRef)], [i for i in source_items if isinstance(i, Skipped)])


def test_requirements_nested_constraints_hashes_markers_directs(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "dist").mkdir()
    wheel = make_wheel(tmp_path / "dist", "localpkg", "1.0")
    (tmp_path / "sub" / "more.txt").write_text("six==1.16.0  # a comment\n-r ../requirements.txt\n")
    (tmp_path / "constraints.txt").write_text("urllib3==1.26.5\nflask<3\n")
    (tmp_path / "requirements.txt").write_text(
        "# top\n"
        "-r sub/more.txt\n"
        "-c constraints.txt\n"
        "--index-url http://127.0.0.1:1/simple\n"
        "requests==2.31.0 \\\n"
        "    --hash=sha256:AAAA \\\n"
        "    --hash=sha256:bbbb\n"
        'flask[async]>=2 ; python_version >= "3.8"\n'
        'oldlib==1.0 ; python_version < "3.0"\n'
        "urllib3\n"
        "-e ./localproj\n"
        "git+https://example.invalid/x.git#egg=vcspkg\n"
        f"./dist/{wheel.name}\n"
        "https://example.invalid/remote-1.0.tar.gz\n"
        "bad req here !!\n"
    )
    src = detect(tmp_path)
    refs, skipped = split(list(src.packages()))
    by_name = {r.name: r for r in refs}
    assert list(by_name) == ["six", "requests", "flask", "urllib3", "localpkg"]
    assert by_name["six"].origin == f"{tmp_path / 'sub' / 'more.txt'}:1"
    req = by_name["requests"]
    assert (req.version, req.line, req.hashes) == ("2.31.0", 5, ("sha256:aaaa", "sha256:bbbb"))
    assert by_name["flask"].version is None and by_name["flask"].specifier == ">=2"
    # the constraint file pins the otherwise unpinned urllib3
    assert by_name["urllib3"].version == "1.26.5"
    assert by_name["localpkg"].path == tmp_path / "dist" / wheel.name
    reasons = {s.name: s.reason for s in skipped}
    assert set(reasons) == {"localproj", "vcspkg", "remote", "bad"}
    assert "editable" in reasons["localproj"] and "VCS" in reasons["vcspkg"] and "remote URL" in reasons["remote"]
    assert "\n" not in reasons["bad"]
    assert {s.line for s in skipped} == {11, 12, 14, 15}
    # constraints are kept for fix-conflict checks
    assert any(r.name == "flask" and r.specifier == "<3" and r.by.startswith("constraint") for r in src.requirements)


def test_requirements_markers_follow_the_target_interpreter(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text('a==1 ; python_version < "3.0"\nb==1 ; sys_platform == "win32"\n')
    py2_win = TargetPython("py", {**TargetPython.current().environment, "python_version": "2.7",
                                  "sys_platform": "win32"})
    refs, _ = split(list(detect(tmp_path / "requirements.txt", py2_win).packages()))
    assert [r.name for r in refs] == ["a", "b"]
    refs, _ = split(list(detect(tmp_path / "requirements.txt").packages()))
    assert [r.name for r in refs] == ([] if sys.platform != "win32" else ["b"])


def test_requirements_missing_nested_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r nope.txt\n")
    with pytest.raises(SourceError, match=r"nope\.txt: no such file"):
        list(detect(tmp_path).packages())


def test_pyproject_dependencies_extras_groups(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "me"\nversion = "0"\n'
        'dependencies = [\n  "requests==2.31.0",\n  "click>=8",\n  "oldy==1; python_version < \'3\'",\n]\n'
        '[project.optional-dependencies]\nfast = ["orjson==3.9.0"]\n'
        '[dependency-groups]\ntest = ["pytest>=8", {include-group = "lint"}]\nlint = ["ruff==0.6.0"]\n'
    )
    src = detect(tmp_path)
    assert src.kind == "pyproject"
    refs, skipped = split(list(src.packages()))
    assert skipped == []
    got = {(r.name, r.version, r.specifier, r.line) for r in refs}
    assert got == {("requests", "2.31.0", "==2.31.0", 5), ("click", None, ">=8", 6), ("orjson", "3.9.0", "==3.9.0", 10),
                   ("pytest", None, ">=8", 12), ("ruff", "0.6.0", "==0.6.0", 13)}


def test_directory_prefers_a_lock_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "me"\nversion = "0"\ndependencies = ["six"]\n')
    (tmp_path / "uv.lock").write_text(
        'version = 1\n\n[[package]]\nname = "me"\nversion = "0"\nsource = { editable = "." }\n\n'
        '[[package]]\nname = "six"\nversion = "1.16.0"\nsource = { registry = "http://127.0.0.1/simple" }\n'
        'sdist = { url = "http://127.0.0.1/six-1.16.0.tar.gz", hash = "sha256:AB", size = 1 }\n'
        'wheels = [{ url = "http://127.0.0.1/six-1.16.0-py2.py3-none-any.whl", hash = "sha256:cd", size = 1 }]\n\n'
        '[[package]]\nname = "gitdep"\nversion = "0.1"\nsource = { git = "https://example.invalid/g.git" }\n'
    )
    src = detect(tmp_path)
    assert src.kind == "uv.lock"
    refs, skipped = split(list(src.packages()))
    assert [(r.name, r.version, r.line, r.hashes) for r in refs] == [("six", "1.16.0", 9, ("sha256:cd", "sha256:ab"))]
    assert [(s.name, s.line) for s in skipped] == [("gitdep", 16)]


def test_pylock(tmp_path: Path) -> None:
    (tmp_path / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "test"\n\n'
        '[[packages]]\nname = "attrs"\nversion = "23.1.0"\n'
        'wheels = [{ name = "attrs-23.1.0-py3-none-any.whl", url = "http://127.0.0.1/a.whl", '
        'hashes = { sha256 = "1111" } }]\n\n'
        '[[packages]]\nname = "winonly"\nversion = "1"\nmarker = "sys_platform == \'nonexistent\'"\n\n'
        '[[packages]]\nname = "localdir"\ndirectory = { path = "./lib" }\n'
    )
    refs, skipped = split(list(detect(tmp_path).packages()))
    assert [(r.name, r.version, r.line, r.hashes) for r in refs] == [("attrs", "23.1.0", 5, ("sha256:1111",))]
    assert [(s.name, s.line) for s in skipped] == [("localdir", 15)]


def test_pylock_without_lock_version_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "pylock.toml").write_text('[[packages]]\nname = "x"\n')
    with pytest.raises(SourceError, match="lock-version"):
        list(detect(tmp_path).packages())


def test_poetry_lock(tmp_path: Path) -> None:
    (tmp_path / "poetry.lock").write_text(
        '[[package]]\nname = "Flask"\nversion = "2.0.1"\noptional = false\npython-versions = ">=3.6"\n'
        'files = [\n    {file = "Flask-2.0.1-py3-none-any.whl", hash = "sha256:EF"},\n]\n\n'
        '[package.dependencies]\nwerkzeug = ">=2.0,<2.1"\nclick = {version = "^7.1", markers = "x"}\n\n'
        '[[package]]\nname = "werkzeug"\nversion = "2.0.3"\nfiles = []\n\n'
        '[metadata]\nlock-version = "2.0"\n'
    )
    src = detect(tmp_path)
    refs, _ = split(list(src.packages()))
    assert [(r.name, r.version, r.line, r.hashes) for r in refs] == [
        ("flask", "2.0.1", 2, ("sha256:ef",)), ("werkzeug", "2.0.3", 15, ())]
    assert {(r.name, r.specifier, r.by) for r in src.requirements} == {
        ("werkzeug", ">=2.0,<2.1", "flask 2.0.1"), ("click", ">=7.1,<8", "flask 2.0.1")}


@pytest.mark.parametrize(("poetry", "pep440"), [
    ("^1.2.3", ">=1.2.3,<2"), ("^0.2.3", ">=0.2.3,<0.3"), ("~1.2", ">=1.2,<1.3"),
    ("1.2.3", "==1.2.3"), (">=1,<2", ">=1,<2"), ("1.0 || 2.0", "")])
def test_poetry_constraint_syntax(poetry: str, pep440: str) -> None:
    assert _poetry_spec(poetry) == pep440


def test_pipfile_lock(tmp_path: Path) -> None:
    (tmp_path / "Pipfile.lock").write_text(json.dumps({
        "_meta": {"hash": {"sha256": "x"}},
        "default": {"requests": {"version": "==2.31.0", "hashes": ["sha256:AA", "sha256:bb"]},
                    "mine": {"editable": True, "path": "."}},
        "develop": {"pytest": {"version": "==8.0.0", "hashes": [], "markers": "python_version >= '3.0'"}},
    }, indent=4))
    refs, skipped = split(list(detect(tmp_path).packages()))
    assert [(r.name, r.version, r.hashes, r.line) for r in refs] == [
        ("requests", "2.31.0", ("sha256:aa", "sha256:bb"), 8), ("pytest", "8.0.0", (), 21)]
    assert [s.name for s in skipped] == ["mine"]


def test_unknown_file_and_empty_directory_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("")
    with pytest.raises(SourceError, match="not a file pipwarden can audit"):
        detect(tmp_path / "setup.cfg")
    with pytest.raises(SourceError, match=r"no requirements\.txt"):
        detect(tmp_path)


def _fake_site(tmp_path: Path) -> Path:
    site = tmp_path / "site-packages"
    for name, version, requires in (("Alpha", "1.0", ["beta<2"]), ("beta", "1.5", [])):
        di = site / f"{name}-{version}.dist-info"
        di.mkdir(parents=True)
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        lines += [f"Requires-Dist: {r}" for r in requires]
        (di / "METADATA").write_text("\n".join(lines) + "\n")
    ed = site / "mine-0.1.dist-info"
    ed.mkdir()
    (ed / "METADATA").write_text("Name: mine\nVersion: 0.1\n")
    (ed / "direct_url.json").write_text(json.dumps({"url": "file:///src", "dir_info": {"editable": True}}))
    # something that looks like code and must never be imported
    (site / "alpha").mkdir()
    (site / "alpha" / "__init__.py").write_text("raise SystemExit('imported!')\n")
    return site


def test_environment_reads_dist_info_without_importing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _fake_site(tmp_path)
    target = TargetPython(sys.executable, TargetPython.current().environment, (), (str(site),))
    src = EnvironmentSource.__new__(EnvironmentSource)
    EnvironmentSource.__bases__[0].__init__(src, Path(sys.executable), target)
    refs, skipped = split(list(src.packages()))
    assert [(r.name, r.version) for r in refs] == [("alpha", "1.0"), ("beta", "1.5")]
    assert [s.name for s in skipped] == ["mine"]
    assert [(r.name, r.specifier, r.by) for r in src.requirements] == [("beta", "<2", "alpha 1.0")]


def test_environment_of_another_interpreter(tmp_path: Path) -> None:
    """--python: the interpreter is asked for its paths with -I -S, then the files are read here."""
    src = EnvironmentSource(sys.executable + "")  # same interpreter: no subprocess
    refs, skipped = split(list(src.packages()))
    assert {"packaging", "httpx"} <= {r.name for r in refs}
    # pipwarden itself is installed editable in the dev environment: a local checkout, skipped
    assert any(s.name == "pipwarden" and "editable" in s.reason for s in skipped) or "pipwarden" in {
        r.name for r in refs}
    venv = tmp_path / "venv"
    import venv as venv_mod

    venv_mod.EnvBuilder(with_pip=False).create(venv)
    py = venv / "bin" / "python"
    if not py.exists():
        pytest.skip("no POSIX venv layout")
    other = EnvironmentSource(str(py))
    assert other.target.executable == str(py)
    assert list(other.packages()) == []  # an empty venv holds nothing
    site = Path(other.target.site_paths[0])
    di = site / "gamma-2.0.dist-info"
    di.mkdir()
    (di / "METADATA").write_text("Name: gamma\nVersion: 2.0\n")
    assert [(r.name, r.version) for r in EnvironmentSource(str(py)).packages()] == [("gamma", "2.0")]


def test_missing_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such interpreter"):
        EnvironmentSource(str(tmp_path / "nope" / "python"))
