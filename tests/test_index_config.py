"""Which index pipwarden talks to (pip's configuration) and which URLs it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipwarden.errors import UsageError
from pipwarden.index import config
from pipwarden.index.config import check_index_url, configured_index_url, redact_url, split_credentials
from tests.builders import make_wheel
from tests.indexserver import LocalIndex


def write_conf(path: Path, **sections: str) -> Path:
    path.write_text("".join(f"[{name}]\nindex-url = {url}\n" for name, url in sections.items()))
    return path


def test_env_var_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "PIP_CONFIG_FILE", str(write_conf(tmp_path / "pip.conf", **{"global": "https://conf.example/simple"}))
    )
    monkeypatch.setenv("PIP_INDEX_URL", "https://env.example/simple/")
    assert configured_index_url() == "https://env.example/simple/"


def test_config_file_global(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "PIP_CONFIG_FILE", str(write_conf(tmp_path / "pip.conf", **{"global": "https://conf.example/simple"}))
    )
    assert configured_index_url() == "https://conf.example/simple"


def test_install_section_beats_global(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    conf = write_conf(
        tmp_path / "pip.conf", **{"global": "https://g.example/simple", "install": "https://i.example/simple"}
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert configured_index_url() == "https://i.example/simple"


def test_fallback_reader_without_pip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """When pip cannot be imported the files are read with configparser, in pip's order."""
    monkeypatch.setitem(sys.modules, "pip._internal.configuration", None)
    conf = write_conf(tmp_path / "pip.conf", **{"global": "https://g.example/simple", "download": "https://d.example/"})
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert config._from_pip_configuration() is None
    assert configured_index_url() == "https://g.example/simple"
    # with PIP_CONFIG_FILE existing, the user's files are not read (as pip does)
    files = config.config_files()
    assert files[-1] == conf and Path.home() / ".pip" / "pip.conf" not in files
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    assert config.config_files() == []


def test_pip_default_when_nothing_configured() -> None:
    from pip._internal.models.index import PyPI

    assert configured_index_url() == PyPI.simple_url


def test_no_pip_and_nothing_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pip._internal.configuration", None)
    monkeypatch.setitem(sys.modules, "pip._internal.models.index", None)
    with pytest.raises(UsageError, match="pass --index-url URL"):
        configured_index_url()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://mirror.example/simple", "https://mirror.example/simple/"),
        ("HTTPS://mirror.example/simple/", "https://mirror.example/simple/"),
        ("http://127.0.0.1:8080/simple", "http://127.0.0.1:8080/simple/"),
        ("http://localhost/simple/", "http://localhost/simple/"),
        ("http://[::1]:9/simple/", "http://[::1]:9/simple/"),
        ("https://u:p@mirror.example/simple", "https://u:p@mirror.example/simple/"),
    ],
)
def test_check_index_url_accepts(url: str, expected: str) -> None:
    assert check_index_url(url, allow_insecure=False) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://mirror.example/simple/", "only http(s) indexes are supported"),
        ("file:///srv/simple/", "only http(s) indexes are supported"),
        ("https:///simple/", "no host"),
        ("https://mirror.example:99999/simple/", "invalid index URL"),
        (
            "http://mirror.example/simple/",
            "refusing plain-http index http://mirror.example/simple/: use https or pass --allow-insecure-index",
        ),
        ("http://10.0.0.8/simple/", "refusing plain-http index"),
    ],
)
def test_check_index_url_refuses(url: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        check_index_url(url, allow_insecure=False)
    assert message in str(info.value)


def test_insecure_allowed_on_request_and_credentials_hidden() -> None:
    assert check_index_url("http://10.0.0.8/simple", allow_insecure=True) == "http://10.0.0.8/simple/"
    with pytest.raises(UsageError) as info:
        check_index_url("http://bob:hunter2@10.0.0.8/simple/", allow_insecure=False)
    assert "hunter2" not in str(info.value) and "bob" not in str(info.value)
    assert redact_url("https://bob:hunter2@host.example/s/") == "https://***@host.example/s/"
    assert split_credentials("https://bob:hun%40ter2@host.example/s/") == (
        "https://host.example/s/",
        ("bob", "hun@ter2"),
    )


# -- end to end: the CLI picks the index from pip's configuration, and caches what it downloads


def pipwarden(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipwarden", *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


@pytest.fixture
def demo_index(local_index: LocalIndex, tmp_path: Path) -> LocalIndex:
    local_index.add(make_wheel(tmp_path, "demo", "1.0", {"demo/__init__.py": "X = 1\n"}))
    return local_index


def test_cli_uses_pip_config_file(demo_index: LocalIndex, tmp_path: Path) -> None:
    import os

    conf = write_conf(tmp_path / "pip.conf", **{"global": demo_index.url})
    env = {**os.environ, "PIP_CONFIG_FILE": str(conf)}
    proc = pipwarden("scan", "demo", "--format", "json", "-q", env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["packages"][0]["name"] == "demo" and report["packages"][0]["verdict"] == "pass"
    assert "/simple/demo/" in demo_index.paths()


def test_cli_refuses_plain_http_from_env(demo_index: LocalIndex) -> None:
    import os

    env = {**os.environ, "PIP_INDEX_URL": "http://mirror.example/simple/"}
    proc = pipwarden("scan", "demo", env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("use https or pass --allow-insecure-index")
    assert proc.stderr.count("\n") == 1


def test_cli_cache_reused_across_runs(demo_index: LocalIndex, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    wheel_path = "/packages/demo-1.0-py3-none-any.whl"
    for _ in range(2):
        proc = pipwarden("scan", "demo", "-q", "--index-url", demo_index.url, "--cache-dir", str(cache))
        assert proc.returncode == 0, proc.stderr
    assert demo_index.paths().count(wheel_path) == 1
    assert demo_index.paths().count("/simple/demo/") == 1  # fresh within the TTL
    assert any((cache / "artifacts" / "sha256").rglob("*"))
    proc = pipwarden("scan", "demo", "-q", "--index-url", demo_index.url, "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert demo_index.paths().count(wheel_path) == 2
