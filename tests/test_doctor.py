"""pipwarden doctor: one written pip configuration per finding, checked through the CLI and the library."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pipwarden.install import pipconf
from pipwarden.install.pyenv import describe


@pytest.fixture
def pip_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No PIP_* variable from the developer's shell; HOME and XDG dirs in tmp; returns the config path."""
    for var in list(os.environ):
        if var.startswith("PIP_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg-dirs"))
    conf = tmp_path / "pip.conf"
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    return conf


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh virtual environment without pip (fast to make)."""
    where = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    return str(where / "bin" / "python")


def doctor(*args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "doctor", "-f", "json", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def ids(doc: dict[str, Any], conf: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in doc["findings"]:
        if conf is None or f["file"] in (str(conf), None) or str(f["file"]).startswith("$"):
            out.setdefault(f["id"], []).append(f)
    return out


def test_plain_http_trusted_host_credentials_and_tls(pip_env: Path, venv_python: str) -> None:
    pip_env.write_text(
        "[global]\n"
        "index-url = http://user:s3cret@mirror.example.com/simple\n"
        "trusted-host = mirror.example.com\n"
        "cert = /nonexistent/ca.pem\n"
    )
    code, doc = doctor("--python", venv_python)
    found = ids(doc, pip_env)
    assert code == 1
    assert found["PW500"][0]["line"] == 2 and "https://mirror.example.com/simple" in found["PW500"][0]["message"]
    assert found["PW501"][0]["line"] == 3 and found["PW501"][0]["severity"] == "high"
    assert found["PW504"][0]["line"] == 2
    assert found["PW506"][0]["line"] == 4
    # The password never appears in the output.
    assert "s3cret" not in json.dumps(doc)
    assert all(f["why"] for f in doc["findings"])


def test_loopback_http_and_https_are_not_reported(pip_env: Path, venv_python: str) -> None:
    pip_env.write_text("[global]\nindex-url = http://127.0.0.1:8080/simple\nfind-links = https://example.com/links\n")
    _code, doc = doctor("--python", venv_python)
    assert "PW500" not in ids(doc, pip_env)
    assert "PW504" not in ids(doc, pip_env)


def test_extra_index_url_in_install_section(pip_env: Path, venv_python: str) -> None:
    pip_env.write_text("[global]\ntimeout = 10\n\n[install]\nextra-index-url =\n    https://private.example.com/simple\n")
    code, doc = doctor("--python", venv_python)
    found = ids(doc, pip_env)
    assert found["PW502"][0]["line"] == 5 and found["PW502"][0]["severity"] == "medium"
    assert code == 0  # medium is below the default threshold
    code, _ = doctor("--python", venv_python, "--fail-on", "medium")
    assert code == 1


def test_environment_variables_win_and_are_reported(pip_env: Path, venv_python: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pip_env.write_text("[global]\ntrusted-host = a.example.com\n")
    monkeypatch.setenv("PIP_INDEX_URL", "https://u:Zq9tokenXy@idx.example.com/simple")
    monkeypatch.setenv("PIP_TRUSTED_HOST", "b.example.com")
    _code, doc = doctor("--python", venv_python)
    found = ids(doc)
    # pip uses the variable's list, not the file's: only b is trusted.
    assert [f["file"] for f in found["PW501"]] == ["$PIP_TRUSTED_HOST"]
    assert found["PW504"][0]["file"] == "$PIP_INDEX_URL"
    assert "Zq9tokenXy" not in json.dumps(doc)


def test_require_hashes_and_virtualenv(pip_env: Path, venv_python: str) -> None:
    pip_env.write_text("[global]\nrequire-virtualenv = true\n")
    _code, doc = doctor("--python", venv_python)
    assert "PW503" in ids(doc)
    assert "PW505" not in ids(doc)
    pip_env.write_text("[install]\nrequire-hashes = true\n")
    _code, doc = doctor("--python", venv_python)
    assert "PW503" not in ids(doc)
    assert doc["python"]["virtualenv"] is True


def test_outside_virtualenv(pip_env: Path) -> None:
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists():
        pytest.skip("no base interpreter next to this one")
    pip_env.write_text("[install]\nrequire-hashes = true\nbreak-system-packages = true\n")
    _code, doc = doctor("--python", str(base))
    found = ids(doc)
    assert doc["python"]["virtualenv"] is False
    messages = [f["message"] for f in found["PW505"]]
    assert any("python -m venv .venv" in m for m in messages)
    assert any("break-system-packages" in m for m in messages)


def test_unreadable_config(pip_env: Path, venv_python: str) -> None:
    pip_env.write_text("[global]\nindex-url = https://a.example.com/simple\nindex-url = https://b.example.com/simple\n")
    _code, doc = doctor("--python", venv_python)
    assert "PW508" in ids(doc)


def test_clean_configuration_exits_zero(pip_env: Path, venv_python: str) -> None:
    pip_env.write_text("[global]\nrequire-virtualenv = true\nindex-url = https://idx.example.com/simple\n"
                       "[install]\nrequire-hashes = true\n")
    code, doc = doctor("--python", venv_python)
    mine = [f for f in doc["findings"] if f["file"] == str(pip_env)]
    assert mine == []
    assert code == 0
    assert doc["pip"] is None  # a venv made --without-pip


def _osv_zip(path: Path, records: list[dict[str, Any]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for r in records:
            zf.writestr(f"{r['id']}.json", json.dumps(r))
    return path


def _pip_record(rid: str, events: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "id": rid, "modified": "2024-01-01T00:00:00Z", "summary": f"{rid} in pip",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "pip"},
                      "ranges": [{"type": "ECOSYSTEM", "events": events}]}],
        "database_specific": {"severity": "HIGH"},
    }


def test_vulnerable_pip(pip_env: Path, tmp_path: Path) -> None:
    from pipwarden.vulndb.store import build_database

    version = importlib.metadata.version("pip")
    pip_env.write_text("[install]\nrequire-hashes = true\n")
    hit = build_database(_osv_zip(tmp_path / "a.zip", [_pip_record("PYSEC-TEST-1", [{"introduced": "0"},
                                                                                  {"fixed": "999"}])]),
                         tmp_path / "a.sqlite3")
    _code, doc = doctor("--db", hit.path)
    pw507 = ids(doc)["PW507"]
    assert "PYSEC-TEST-1" in pw507[0]["message"] and "999" in pw507[0]["message"]
    assert pw507[0]["severity"] == "high"
    assert doc["pip"] == version
    miss = build_database(_osv_zip(tmp_path / "b.zip", [_pip_record("PYSEC-TEST-2", [{"introduced": "0"},
                                                                                   {"fixed": version}])]),
                          tmp_path / "b.sqlite3")
    _code, doc = doctor("--db", miss.path)
    assert "PW507" not in ids(doc)


def test_no_database_is_a_note_not_a_finding(pip_env: Path, tmp_path: Path) -> None:
    pip_env.write_text("[install]\nrequire-hashes = true\n")
    _code, doc = doctor("--db", str(tmp_path / "missing.sqlite3"))
    assert "PW507" not in ids(doc)
    assert any("vulnerability database" in n for n in doc["notes"])


def test_table_output_names_the_line(pip_env: Path, venv_python: str) -> None:
    pip_env.write_text("[global]\ntrusted-host = mirror.example.com\n")
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "doctor", "--python", venv_python],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert f"{pip_env}:2" in proc.stdout and "PW501" in proc.stdout


def test_bad_python_is_a_usage_error(pip_env: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "doctor", "--python", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "no Python interpreter" in proc.stderr and "Traceback" not in proc.stderr


# -- pip configuration loading, as a unit ------------------------------------------------


def test_devnull_skips_every_file(tmp_path: Path) -> None:
    cfg = pipconf.load(str(tmp_path), {"PIP_CONFIG_FILE": os.devnull, "PIP_REQUIRE_HASHES": "1"})
    assert cfg.skipped_files and cfg.files == ()
    assert cfg.flag("require-hashes")


def test_precedence_install_over_global_and_user_skipped(tmp_path: Path) -> None:
    user = tmp_path / "xdg" / "pip"
    user.mkdir(parents=True)
    (user / "pip.conf").write_text("[global]\nindex-url = https://user.example.com/simple\n")
    env_file = tmp_path / "env.conf"
    env_file.write_text("[global]\nindex-url = https://g.example.com/simple\n[install]\nindex-url = https://i.example.com/simple\n")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    # Without PIP_CONFIG_FILE the user file is read.
    cfg = pipconf.load(str(tmp_path), env)
    eff = cfg.effective("index-url")
    assert eff is not None and eff.value == "https://user.example.com/simple"
    # With it, the user file is skipped and [install] wins over [global].
    cfg = pipconf.load(str(tmp_path), {**env, "PIP_CONFIG_FILE": str(env_file)})
    eff = cfg.effective("index-url")
    assert eff is not None and (eff.value, eff.line, eff.section) == ("https://i.example.com/simple", 4, "install")
    assert not any(s.source == str(user / "pip.conf") for s in cfg.settings)
    # The site file (in the target's prefix) is read too.
    (tmp_path / "pip.conf").write_text("[global]\ntrusted-host = site.example.com\n")
    cfg = pipconf.load(str(tmp_path), {**env, "PIP_CONFIG_FILE": str(env_file)})
    th = cfg.effective("trusted-host")
    assert th is not None and th.kind == "site"


def test_requirements_file_options(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("--trusted-host evil.example.com\nrequests==2.0\n")
    (tmp_path / "req.txt").write_text("-r base.txt\n--extra-index-url=http://x.example.com/simple  # comment\nidna\n")
    found = pipconf.requirements_options(tmp_path / "req.txt")
    assert {(s.key, s.value, Path(s.source).name, s.line) for s in found} == {
        ("extra-index-url", "http://x.example.com/simple", "req.txt", 2),
        ("trusted-host", "evil.example.com", "base.txt", 1),
    }


def test_describe_reads_without_site(venv_python: str) -> None:
    env = describe(venv_python)
    assert env.is_venv
    assert any(p.name == "site-packages" for p in env.site_packages)


def test_dependency_confusion_names(pip_env: Path, venv_python: str, tmp_path: Path) -> None:
    from tests.builders import make_wheel
    from tests.indexserver import LocalIndex

    art = tmp_path / "art"
    art.mkdir()
    with LocalIndex() as public, LocalIndex() as private:
        public.add(make_wheel(art, "corp-tool", "99.0"))  # someone registered the private name publicly
        public.add(make_wheel(art, "requests-lite", "1.0"))
        private.add(make_wheel(art, "corp-tool", "1.0"))
        private.add(make_wheel(art, "corp-secret", "1.0"))
        pip_env.write_text(f"[global]\nindex-url = {public.url}\nextra-index-url = {private.url}\n")
        req = tmp_path / "requirements.txt"
        req.write_text("requests-lite==1.0\ncorp-tool==1.0\ncorp-secret==1.0\n")
        _code, doc = doctor("--python", venv_python, "-r", str(req))
        conf = [f for f in doc["findings"] if f["id"] == "PW502"]
        names = [f for f in conf if f["severity"] == "high"]
        assert [(f["evidence"].split(":")[0], f["line"]) for f in names] == [("corp-tool", 2)]
        assert any(f["line"] == 3 and f["file"] == str(pip_env) for f in conf)  # the extra-index-url line
        assert len(doc["indexes"]) == 2
