"""pip's configuration as pip itself would see it, with the file and line of every setting.

pip reads, in this order (later wins): the global files, the user files (skipped when
``PIP_CONFIG_FILE`` names an existing file), the site file (``<sys.prefix>/pip.conf``), the
file named by ``PIP_CONFIG_FILE``, and finally ``PIP_<OPTION>`` environment variables.
``PIP_CONFIG_FILE=/dev/null`` (``os.devnull``) skips every file. Within the files, the
``[install]`` section overrides ``[global]``. This module reproduces that without importing
pip, so it works for any target interpreter's prefix.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Kind = Literal["global", "user", "site", "env-file", "env-var", "requirements"]

# Options whose value is a whitespace-separated list.
LIST_OPTIONS = frozenset({"extra-index-url", "trusted-host", "find-links"})
_BASENAME = "pip.ini" if sys.platform == "win32" else "pip.conf"


@dataclass(frozen=True, slots=True)
class Setting:
    """One option as written somewhere: a config file line, an environment variable or a requirements line."""

    key: str  # normalised: lower case, dashes, no leading "--"
    value: str
    kind: Kind
    source: str  # file path, or "PIP_INDEX_URL" for an environment variable
    section: str = "global"
    line: int | None = None
    text: str | None = None  # the line as written (secrets are masked by callers before display)

    @property
    def where(self) -> str:
        if self.kind == "env-var":
            return f"environment variable {self.source}"
        return f"{self.source}:{self.line}" if self.line else self.source

    def values(self) -> list[str]:
        if self.key in LIST_OPTIONS:
            return self.value.split()
        return [self.value.strip()]


@dataclass(frozen=True, slots=True)
class ConfigFile:
    kind: Kind
    path: Path
    exists: bool
    error: str | None = None


@dataclass(frozen=True)
class PipConfig:
    """Every setting pip would read for ``pip install``, in load order."""

    settings: tuple[Setting, ...]
    files: tuple[ConfigFile, ...]
    skipped_files: bool = False  # PIP_CONFIG_FILE=os.devnull
    env: Mapping[str, str] = field(default_factory=dict)

    def effective(self, key: str) -> Setting | None:
        """The setting that wins for ``pip install``: env var > [install] > [global], later file > earlier."""
        best: Setting | None = None
        best_rank = -1
        for s in self.settings:
            if s.key != key or s.kind == "requirements":
                continue
            rank = 2 if s.kind == "env-var" else 1 if s.section == "install" else 0
            if rank >= best_rank:
                best, best_rank = s, rank
        return best

    def all(self, key: str) -> list[Setting]:
        return [s for s in self.settings if s.key == key]

    def effective_values(self, key: str) -> list[Setting]:
        """For list options pip uses only the winning setting's list; this returns it (or [])."""
        s = self.effective(key)
        return [s] if s is not None else []

    def flag(self, key: str) -> bool:
        s = self.effective(key)
        return s is not None and to_bool(s.value)


def to_bool(value: str) -> bool:
    """pip's strtobool for config values (also counts verbosity-style integers)."""
    v = value.strip().lower()
    if v in ("y", "yes", "t", "true", "on", "1"):
        return True
    if v.isdigit():
        return int(v) > 0
    return False


def normalize_key(name: str) -> str:
    name = name.strip().lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


def config_file_locations(prefix: str | None = None, env: Mapping[str, str] | None = None) -> dict[str, list[Path]]:
    """pip's config file locations for this OS: global, user and site (for ``prefix``)."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path("~").expanduser())
    if sys.platform == "win32":
        program_data = env.get("PROGRAMDATA", r"C:\ProgramData")
        globals_ = [Path(program_data) / "pip" / _BASENAME]
        appdata = env.get("APPDATA") or str(home / "AppData" / "Roaming")
        users = [home / "pip" / _BASENAME, Path(appdata) / "pip" / _BASENAME]
    elif sys.platform == "darwin":
        globals_ = [Path("/Library/Application Support/pip") / _BASENAME]
        new = home / "Library" / "Application Support" / "pip"
        if not new.is_dir():
            new = home / ".config" / "pip"
        users = [home / ".pip" / _BASENAME, new / _BASENAME]
    else:
        xdg_dirs = env.get("XDG_CONFIG_DIRS") or "/etc/xdg"
        globals_ = [Path(d) / "pip" / _BASENAME for d in xdg_dirs.split(os.pathsep) if d]
        globals_.append(Path("/etc") / _BASENAME)
        xdg_home = env.get("XDG_CONFIG_HOME") or str(home / ".config")
        users = [home / ".pip" / _BASENAME, Path(xdg_home) / "pip" / _BASENAME]
    site = [Path(prefix or sys.prefix) / _BASENAME]
    return {"global": globals_, "user": users, "site": site}


_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]")
_KEY = re.compile(r"^(?P<key>[^\s=:;#][^=:]*?)\s*[=:]")


def _line_numbers(text: str) -> dict[tuple[str, str], tuple[int, str]]:
    """(section, normalised key) -> (line number, line text) of the last place it is set."""
    out: dict[tuple[str, str], tuple[int, str]] = {}
    section = ""
    for no, line in enumerate(text.splitlines(), 1):
        m = _SECTION.match(line)
        if m:
            section = m.group("name").strip()
            continue
        k = _KEY.match(line)  # keys start at column 0; indented lines continue a value
        if k and not line[:1].isspace():
            out[(section, normalize_key(k.group("key")))] = (no, line.rstrip())
    return out


def read_file(path: Path, kind: Kind) -> tuple[list[Setting], ConfigFile]:
    """Settings from one pip config file (all sections), or an error pip would also hit."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return [], ConfigFile(kind, path, path.exists(), error=e.strerror or str(e))
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return [], ConfigFile(kind, path, True, error=first)
    lines = _line_numbers(text)
    settings: list[Setting] = []
    for section in parser.sections():
        for name, value in parser.items(section):
            key = normalize_key(name)
            no, line = lines.get((section, key), (None, None))
            settings.append(Setting(key, value or "", kind, str(path), section, no, line))
    return settings, ConfigFile(kind, path, True)


def env_settings(env: Mapping[str, str]) -> Iterator[Setting]:
    for var, value in sorted(env.items()):
        if not var.startswith("PIP_") or var == "PIP_CONFIG_FILE":
            continue
        key = normalize_key(var[4:])
        yield Setting(key, value, "env-var", var, "env", None, f"{var}={value}")


def load(prefix: str | None = None, env: Mapping[str, str] | None = None) -> PipConfig:
    """pip's configuration for ``pip install`` run by the interpreter whose ``sys.prefix`` is ``prefix``."""
    env = dict(os.environ if env is None else env)
    locations = config_file_locations(prefix, env)
    env_file = env.get("PIP_CONFIG_FILE")
    files: list[ConfigFile] = []
    settings: list[Setting] = []
    skipped = env_file is not None and env_file == os.devnull
    if not skipped:
        ordered: list[tuple[Kind, Path]] = [("global", p) for p in locations["global"]]
        if not (env_file and Path(env_file).exists()):
            ordered += [("user", p) for p in locations["user"]]
        ordered += [("site", p) for p in locations["site"]]
        if env_file:
            ordered.append(("env-file", Path(env_file)))
        for kind, path in ordered:
            if not path.is_file():
                files.append(ConfigFile(kind, path, False))
                continue
            found, info = read_file(path, kind)
            files.append(info)
            settings.extend(found)
    settings.extend(env_settings(env))
    return PipConfig(tuple(settings), tuple(files), skipped, env)


_OPTION_LINE = re.compile(
    r"^\s*(?P<opt>--?(?:index-url|extra-index-url|trusted-host|find-links|i|f))(?:\s*=\s*|\s+)(?P<value>\S+)"
)


def requirements_options(path: Path, _seen: frozenset[Path] = frozenset()) -> list[Setting]:
    """Index and TLS options written inside a requirements file (and the files it includes with -r).

    Only option lines are read here; requirement lines are the audit sources' job.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out: list[Setting] = []
    seen = _seen | {path.resolve()}
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.split(" #", 1)[0].strip()
        m = _OPTION_LINE.match(stripped)
        if m:
            opt = m.group("opt").lstrip("-")
            key = {"i": "index-url", "f": "find-links"}.get(opt, opt)
            out.append(Setting(key, m.group("value"), "requirements", str(path), "requirements", no, line.rstrip()))
            continue
        inc = re.match(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+)(\S+)", stripped)
        if inc:
            child = (path.parent / inc.group(1)).resolve()
            if child not in seen and child.is_file():
                out.extend(requirements_options(child, seen))
    return out
