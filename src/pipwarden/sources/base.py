"""The Source seam: where a package list comes from. ``packages()`` yields what to vet
(``PackageRef``) and what cannot be vetted (``Skipped``, with the reason), in file order."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName

from pipwarden.errors import SourceError
from pipwarden.models import PackageRef, Skipped
from pipwarden.vulndb.match import Requirement

# PEP 508 marker environment, computed by the target interpreter itself (stdlib only).
_MARKER_SCRIPT = r"""
import json, os, platform, sys, sysconfig
impl = sys.implementation
v = impl.version
iv = "{0.major}.{0.minor}.{0.micro}".format(v)
if v.releaselevel != "final":
    iv += v.releaselevel[0] + str(v.serial)
env = {
    "implementation_name": impl.name,
    "implementation_version": iv,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
# Without the site module a virtual environment is not applied: find its pyvenv.cfg ourselves.
venv, system = None, True
here = os.path.dirname(os.path.abspath(sys.executable))
for d in (here, os.path.dirname(here)):
    cfg = os.path.join(d, "pyvenv.cfg")
    if os.path.isfile(cfg):
        venv = d
        with open(cfg, encoding="utf-8") as fh:
            text = fh.read().replace(" ", "").lower()
        system = "include-system-site-packages=true" in text
        break
keys = ("purelib", "platlib")
paths = []
if venv:
    paths += [sysconfig.get_path(k, vars={"base": venv, "platbase": venv}) for k in keys]
if system:
    paths += [sysconfig.get_path(k) for k in keys]
print(json.dumps({"env": env, "sys_path": sys.path, "paths": paths, "prefix": venv or sys.prefix}))
"""


@dataclass(frozen=True)
class TargetPython:
    """The interpreter the audited packages are for: its marker environment and sys.path."""

    executable: str
    environment: Mapping[str, str]
    sys_path: tuple[str, ...] = ()
    site_paths: tuple[str, ...] = ()

    @classmethod
    def current(cls) -> TargetPython:
        import sysconfig

        from packaging.markers import default_environment

        site = tuple(dict.fromkeys(p for k in ("purelib", "platlib") if (p := sysconfig.get_path(k))))
        env = {k: str(v) for k, v in default_environment().items()}
        return cls(sys.executable, env, tuple(sys.path), site)

    @classmethod
    def of(cls, python: str | Path) -> TargetPython:
        """Ask another interpreter for its marker environment and paths. This runs the
        interpreter with isolation flags (-I: no environment variables, no user site, no cwd
        on the path; -S: no site module, so no .pth files) — never any package code."""
        exe = str(python)
        try:
            out = subprocess.run([exe, "-I", "-S", "-c", _MARKER_SCRIPT], capture_output=True, text=True,
                                 timeout=30, check=True).stdout
            data = json.loads(out)
        except FileNotFoundError as e:
            raise SourceError(f"--python {exe}: no such interpreter") from e
        except PermissionError as e:
            raise SourceError(f"--python {exe}: not executable") from e
        except subprocess.CalledProcessError as e:
            raise SourceError(f"--python {exe}: the interpreter failed ({(e.stderr or '').strip()[:200]})") from e
        except subprocess.TimeoutExpired as e:
            raise SourceError(f"--python {exe}: the interpreter did not answer within 30 s") from e
        except (json.JSONDecodeError, OSError) as e:
            raise SourceError(f"--python {exe}: not a Python 3 interpreter ({e})") from e
        site = tuple(dict.fromkeys(p for p in data["paths"] if p))
        return cls(exe, data["env"], tuple(data["sys_path"]), site)

    def evaluate(self, marker: str | None, extras: frozenset[str] = frozenset()) -> bool:
        """Does this marker hold on the target? Unknown markers are treated as true (audit more, not less)."""
        if not marker:
            return True
        try:
            m = Marker(marker)
        except InvalidMarker:
            return True
        env = dict(self.environment)
        try:
            if not extras:
                return m.evaluate({**env, "extra": ""})
            return any(m.evaluate({**env, "extra": e}) for e in extras)
        except (UndefinedComparison, UndefinedEnvironmentName):
            return True


class Source(ABC):
    """A package list. ``requirements`` collects what the project declares about versions
    (constraints, ranges, dependency edges) so fix suggestions can be checked against them."""

    kind: str = "source"

    def __init__(self, path: Path, target: TargetPython | None = None) -> None:
        self.path = path
        self._target = target
        self.requirements: list[Requirement] = []

    @property
    def target(self) -> TargetPython:
        if self._target is None:
            self._target = TargetPython.current()
        return self._target

    @abstractmethod
    def packages(self) -> Iterator[PackageRef | Skipped]: ...

    def describe(self) -> str:
        return f"{self.kind} {self.path}"

    def read_text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise SourceError(f"{self.path}: no such file") from e
        except UnicodeDecodeError as e:
            raise SourceError(f"{self.path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
        except OSError as e:
            raise SourceError(f"{self.path}: cannot read: {e.strerror or e}") from e


@dataclass
class LineFinder:
    """Line numbers for entries of TOML/JSON files (tomllib and json don't keep positions):
    the n-th occurrence of a pattern, in file order."""

    text: str
    _used: dict[str, int] = field(default_factory=dict)

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def find(self, pattern: str, after: int = 0) -> int | None:
        """1-based line of the first match of regex ``pattern`` at or after line ``after``
        not returned before for the same pattern."""
        rx = re.compile(pattern)
        start = max(after, self._used.get(pattern, 0))
        for i in range(start, len(self.lines)):
            if rx.search(self.lines[i]):
                self._used[pattern] = i + 1
                return i + 1
        return None


def origin(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)
