"""Which index to talk to, and whether it is safe to.

The index is the one pip is configured with: ``PIP_INDEX_URL``, else ``index-url`` from pip's
configuration files (the ``install`` section over ``global``, then ``download``), else pip's own
default, imported from pip defensively. No registry host name is written here.
"""

from __future__ import annotations

import configparser
import ipaddress
import os
import sys
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

from pipwarden.errors import UsageError

# Sections of pip.conf looked at, highest priority first (pip install reads [install] over [global]).
_SECTIONS = ("install", "global", "download")


def redact_url(url: str) -> str:
    """The URL with any user:password replaced by '***', for messages and reports."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(URL without user:password, (user, password) or None)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    from urllib.parse import unquote

    return urlunsplit(parts._replace(netloc=host)), (unquote(user), unquote(password))


def configured_index_url() -> str:
    """The index pip would use: PIP_INDEX_URL, pip's configuration, else pip's default.

    Raises UsageError when none can be found (pip is not installed and nothing is configured).
    """
    env = os.environ.get("PIP_INDEX_URL", "").strip()
    if env:
        return env.split()[0]
    url = _from_pip_configuration()
    if url is None:
        url = _from_config_files()
    if url is None:
        url = _pip_default()
    if not url:
        raise UsageError(
            "no package index configured (PIP_INDEX_URL, pip.conf) and pip is not available: pass --index-url URL"
        )
    return url


def _pick(values: dict[str, str]) -> str | None:
    for section in _SECTIONS:
        value = values.get(f"{section}.index-url", "").strip()
        if value:
            return value.split()[0]
    return None


def _from_pip_configuration() -> str | None:
    """index-url through pip's own configuration loader (handles every platform's file locations)."""
    try:
        from pip._internal.configuration import Configuration
        from pip._internal.exceptions import ConfigurationError
    except ImportError:
        return None
    try:
        conf = Configuration(isolated=False)
        conf.load()
        values = {str(k): str(v) for k, v in conf.items() if not str(k).startswith(":env:")}
    except (ConfigurationError, AttributeError, TypeError, ValueError, OSError, UnicodeDecodeError):
        return None
    return _pick(values)


def config_files() -> list[Path]:
    """pip's configuration files in increasing priority, as pip reads them (PIP_CONFIG_FILE last).

    An empty list when PIP_CONFIG_FILE is os.devnull (pip then reads no file at all).
    """
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files: list[Path] = []
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files += [Path(d) / "pip" / "pip.conf" for d in reversed(xdg_dirs.split(os.pathsep)) if d]
    files.append(Path("/etc/pip.conf"))
    if not (env_file and Path(env_file).exists()):
        home = Path.home()
        files.append(home / ".pip" / "pip.conf")
        xdg_home = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        files.append(Path(xdg_home) / "pip" / "pip.conf")
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            appdata = os.environ.get("APPDATA")
            if appdata:
                files.append(Path(appdata) / "pip" / "pip.ini")
            files.append(home / "pip" / "pip.ini")
    files.append(Path(sys.prefix) / ("pip.ini" if sys.platform == "win32" else "pip.conf"))
    if env_file:
        files.append(Path(env_file))
    return files


def _from_config_files() -> str | None:
    """index-url read from pip's configuration files with configparser (when pip is not importable)."""
    values: dict[str, str] = {}
    for path in config_files():
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in parser.sections():
            for key, value in parser.items(section):
                values[f"{section.lower()}.{key.lower().replace('_', '-')}"] = value
    return _pick(values)


def _pip_default() -> str | None:
    try:
        from pip._internal.models.index import PyPI
    except ImportError:
        return None
    url = getattr(PyPI, "simple_url", None)
    return url if isinstance(url, str) and url else None


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_insecure(url: str) -> bool:
    """True for plain http to a host that is not this machine."""
    parts = urlsplit(url)
    return parts.scheme.lower() == "http" and not _is_loopback(parts.hostname or "")


def check_index_url(url: str, allow_insecure: bool) -> str:
    """Validate and normalise an index URL (adds the trailing slash). Raises UsageError.

    Only http(s) is accepted; plain http is refused for a host other than loopback unless
    ``allow_insecure``. Credentials in the URL are kept (basic auth) but never shown in messages.
    """
    text = url.strip()
    shown = redact_url(text)
    try:
        parts: SplitResult = urlsplit(text)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as e:
        raise UsageError(f"invalid index URL {shown!r}: {e}") from e
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UsageError(f"invalid index URL {shown!r}: only http(s) indexes are supported")
    if not parts.hostname:
        raise UsageError(f"invalid index URL {shown!r}: no host")
    if scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
        raise UsageError(f"refusing plain-http index {shown}: use https or pass --allow-insecure-index")
    del port
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))
