"""An installed environment, read from its ``*.dist-info/METADATA`` files — nothing is imported.

For the interpreter running pipwarden the paths are known; for another one (``--python``)
pipwarden asks that interpreter for its ``sys.path`` and site directories, run with ``-I -S``
(no environment variables, no user site, no ``site`` module and so no ``.pth`` hooks), and then
reads the metadata files itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from email.parser import BytesHeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PepRequirement
from packaging.utils import canonicalize_name

from pipwarden.errors import SourceError
from pipwarden.models import PackageRef, Skipped
from pipwarden.sources.base import Source, TargetPython
from pipwarden.vulndb.match import Requirement

MAX_METADATA = 4 << 20


def active_python() -> str:
    """The interpreter of the active virtual environment, else the one running pipwarden."""
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        for candidate in (Path(venv) / "bin" / "python", Path(venv) / "Scripts" / "python.exe"):
            if candidate.is_file():
                return str(candidate)
    return sys.executable


class EnvironmentSource(Source):
    kind = "environment"

    def __init__(self, python: str | None = None) -> None:
        exe = python or active_python()
        same = Path(exe).absolute() == Path(sys.executable).absolute()
        target = TargetPython.current() if same else TargetPython.of(exe)
        super().__init__(Path(exe), target)

    def describe(self) -> str:
        return f"environment of {self.path}"

    def _dirs(self) -> list[Path]:
        t = self.target
        # site directories first (where pip installs), then the rest of sys.path
        candidates = list(t.site_paths)
        if t.executable == sys.executable:
            candidates += [p for p in t.sys_path if p.endswith(("site-packages", "dist-packages"))]
        out: list[Path] = []
        for c in candidates:
            p = Path(c)
            if p.is_dir() and p not in out:
                out.append(p)
        if not out:
            raise SourceError(f"{self.path}: no site-packages directory found for this interpreter")
        return out

    def packages(self) -> Iterator[PackageRef | Skipped]:
        seen: set[str] = set()
        for directory in self._dirs():
            try:
                entries = sorted(directory.iterdir())
            except OSError as e:
                raise SourceError(f"{directory}: cannot list: {e.strerror or e}") from e
            for entry in entries:
                if entry.name.endswith(".dist-info"):
                    meta = entry / "METADATA"
                elif entry.name.endswith(".egg-info"):
                    meta = entry / "PKG-INFO" if entry.is_dir() else entry
                else:
                    continue
                item = self._read(meta, entry)
                if item is None:
                    continue
                if item.name in seen:
                    continue  # shadowed by an earlier path entry, as importlib.metadata would
                seen.add(item.name)
                yield item

    def _read(self, meta: Path, entry: Path) -> PackageRef | Skipped | None:
        try:
            with meta.open("rb") as fh:
                data = fh.read(MAX_METADATA)
        except OSError:
            guess = entry.name.split("-", 1)[0]
            return Skipped(canonicalize_name(guess), f"{entry}: no readable metadata", str(entry))
        msg = BytesHeaderParser().parsebytes(data)
        name, version = msg.get("Name"), msg.get("Version")
        if not name or not version:
            guess = entry.name.split("-", 1)[0]
            return Skipped(canonicalize_name(guess), f"{meta}: metadata has no name or version", str(meta))
        norm = canonicalize_name(str(name))
        if (entry / "direct_url.json").is_file() and _editable(entry / "direct_url.json"):
            return Skipped(norm, f"editable install of a local checkout ({entry.name})", str(entry))
        for dep in msg.get_all("Requires-Dist") or []:
            try:
                req = PepRequirement(str(dep))
            except InvalidRequirement:
                continue
            if req.marker and not self.target.evaluate(str(req.marker)):
                continue
            if req.specifier:
                self.requirements.append(Requirement(canonicalize_name(req.name), str(req.specifier),
                                                     f"{norm} {version}"))
        return PackageRef(norm, str(version), f"=={version}", origin=str(entry))


def _editable(path: Path) -> bool:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(isinstance(data, dict) and (data.get("dir_info") or {}).get("editable"))
