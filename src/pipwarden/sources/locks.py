"""Lock files: pylock.toml (PEP 751), uv.lock, poetry.lock, Pipfile.lock — pins with hashes.

Every entry is audited at its locked version, with the lock's sha256 hashes carried along so
the scan compares the files it downloads against them (PW001). Entries that are not index
releases (VCS, directories, editables) are reported as skipped; the project's own entry in a
uv.lock (editable or virtual source ``.``) is the project itself and not listed.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from packaging.utils import canonicalize_name

from pipwarden.archive import is_archive_name
from pipwarden.errors import SourceError
from pipwarden.index.models import parse_filename
from pipwarden.models import PackageRef, Skipped
from pipwarden.sources.base import LineFinder, Source, origin
from pipwarden.sources.requirements import _local_path
from pipwarden.vulndb.match import Requirement


def _sha256s(hashes: Iterable[object]) -> tuple[str, ...]:
    out: list[str] = []
    for h in hashes:
        if isinstance(h, str) and h.lower().startswith("sha256:"):
            value = "sha256:" + h.split(":", 1)[1].lower()
            if value not in out:
                out.append(value)
    return tuple(out)


class _TomlLock(Source):
    table = "package"

    def _load(self) -> tuple[dict[str, Any], LineFinder]:
        text = self.read_text()
        try:
            return tomllib.loads(text), LineFinder(text)
        except tomllib.TOMLDecodeError as e:
            raise SourceError(f"{self.path}: invalid TOML: {e}") from e

    def _entries(self, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        entries = data.get(self.table, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise SourceError(f"{self.path}: [[{self.table}]] must be an array of tables")
        for e in entries:
            if not isinstance(e.get("name"), str):
                raise SourceError(f"{self.path}: a [[{self.table}]] entry has no name")
        return entries

    def _line(self, lines: LineFinder, name: str) -> int | None:
        head = lines.find(rf"^\[\[{re.escape(self.table)}\]\]\s*$")
        return lines.find(rf'^name\s*=\s*["\']{re.escape(name)}["\']', after=(head or 1) - 1) or head


class PylockSource(_TomlLock):
    """PEP 751 ``pylock.toml``: ``[[packages]]`` with ``version``, ``marker``, ``wheels``/``sdist`` hashes."""

    kind = "pylock"
    table = "packages"

    def packages(self) -> Iterator[PackageRef | Skipped]:
        data, lines = self._load()
        if "lock-version" not in data:
            raise SourceError(f"{self.path}: not a PEP 751 lock file (no lock-version)")
        for e in self._entries(data):
            name = canonicalize_name(e["name"])
            line = self._line(lines, e["name"])
            where = origin(self.path, line)
            marker = e.get("marker") if isinstance(e.get("marker"), str) else None
            if not self.target.evaluate(marker):
                continue
            hashes: list[object] = []
            files = [*(e.get("wheels") or []), *([e["sdist"]] if isinstance(e.get("sdist"), dict) else [])]
            for f in files:
                if isinstance(f, dict) and isinstance(f.get("hashes"), dict):
                    hashes.extend(f"{k}:{v}" for k, v in f["hashes"].items())
            for kind in ("vcs", "directory"):
                if isinstance(e.get(kind), dict):
                    yield Skipped(name, f"{kind} entry ({e[kind].get('url') or e[kind].get('path')}): "
                                  "not a release pipwarden can scan", where, line)
                    break
            else:
                archive = e.get("archive")
                if isinstance(archive, dict):
                    local = _local_path(str(archive.get("path") or archive.get("url") or ""), self.path.parent)
                    if local is not None and local.is_file() and is_archive_name(local.name):
                        yield PackageRef(name, e.get("version"), path=local, origin=where, line=line,
                                         hashes=_sha256s(f"{k}:{v}" for k, v in (archive.get("hashes") or {}).items()))
                    else:
                        yield Skipped(name, f"archive entry {archive.get('url') or archive.get('path')}: "
                                      "not a local file pipwarden can scan", where, line)
                    continue
                version = e.get("version")
                if not isinstance(version, str):
                    yield Skipped(name, "no version in the lock entry", where, line)
                    continue
                yield PackageRef(name, version, f"=={version}", origin=where, line=line, hashes=_sha256s(hashes),
                                 marker=marker)
            for dep in e.get("dependencies") or ():
                if isinstance(dep, dict) and isinstance(dep.get("name"), str) and isinstance(dep.get("version"), str):
                    self.requirements.append(Requirement(canonicalize_name(dep["name"]), f"=={dep['version']}",
                                                         f"{name} {e.get('version')}"))


class UvLockSource(_TomlLock):
    """uv's ``uv.lock``: ``[[package]]`` with ``source``, ``sdist``/``wheels`` hashes."""

    kind = "uv.lock"

    def packages(self) -> Iterator[PackageRef | Skipped]:
        data, lines = self._load()
        for e in self._entries(data):
            name = canonicalize_name(e["name"])
            line = self._line(lines, e["name"])
            where = origin(self.path, line)
            source: dict[str, Any] = e["source"] if isinstance(e.get("source"), dict) else {}
            if source.get("editable") == "." or source.get("virtual") == ".":
                continue  # the project itself
            kind = next((k for k in ("git", "editable", "virtual", "directory", "url", "path") if k in source), None)
            if kind is not None:
                target = str(source[kind])
                local = _local_path(target, self.path.parent) if kind in ("path", "url") else None
                if local is not None and local.is_file() and is_archive_name(local.name):
                    yield PackageRef(name, e.get("version"), path=local, origin=where, line=line)
                else:
                    yield Skipped(name, f"{kind} source {target}: not a release pipwarden can scan", where, line)
                continue
            version = e.get("version")
            if not isinstance(version, str):
                yield Skipped(name, "no version in the lock entry", where, line)
                continue
            hashes: list[object] = []
            for f in [*(e.get("wheels") or []), *([e["sdist"]] if isinstance(e.get("sdist"), dict) else [])]:
                if isinstance(f, dict):
                    hashes.append(f.get("hash"))
            yield PackageRef(name, version, f"=={version}", origin=where, line=line, hashes=_sha256s(hashes))


class PoetryLockSource(_TomlLock):
    """Poetry's ``poetry.lock``: ``[[package]]`` with ``files`` hashes and dependency ranges."""

    kind = "poetry.lock"

    def packages(self) -> Iterator[PackageRef | Skipped]:
        data, lines = self._load()
        legacy_files = (data.get("metadata") or {}).get("files") or {}
        for e in self._entries(data):
            name = canonicalize_name(e["name"])
            version = e.get("version")
            line = self._line(lines, e["name"])
            where = origin(self.path, line)
            for dep, spec in (e.get("dependencies") or {}).items():
                text = spec if isinstance(spec, str) else spec.get("version") if isinstance(spec, dict) else None
                if isinstance(text, str) and text.strip() not in ("*", ""):
                    self.requirements.append(Requirement(canonicalize_name(dep), _poetry_spec(text),
                                                         f"{name} {version}"))
            source: dict[str, Any] = e["source"] if isinstance(e.get("source"), dict) else {}
            stype = source.get("type")
            if stype in ("git", "directory", "url", "file"):
                url = str(source.get("url", ""))
                local = _local_path(url, self.path.parent) if stype == "file" else None
                if local is not None and local.is_file() and is_archive_name(local.name):
                    yield PackageRef(name, version, path=local, origin=where, line=line)
                else:
                    yield Skipped(name, f"{stype} source {url}: not a release pipwarden can scan", where, line)
                continue
            if not isinstance(version, str):
                yield Skipped(name, "no version in the lock entry", where, line)
                continue
            files = e.get("files") or legacy_files.get(e["name"]) or legacy_files.get(name) or []
            hashes = [f.get("hash") for f in files if isinstance(f, dict)]
            yield PackageRef(name, version, f"=={version}", origin=where, line=line, hashes=_sha256s(hashes))


def _poetry_spec(text: str) -> str:
    """Poetry constraint syntax (``^1.2``, ``~1.2``, ``1.2.*``, ``>=1,<2``) → PEP 440 specifier."""
    out: list[str] = []
    for part in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text.strip()):
        part = part.strip()
        if not part or part == "*":
            continue
        if "||" in part:
            return ""  # alternatives: not expressible as one SpecifierSet; don't claim a conflict
        if part.startswith("^"):
            base = part[1:]
            nums = [int(x) if x.isdigit() else 0 for x in base.split(".")]
            idx = next((i for i, n in enumerate(nums) if n != 0), len(nums) - 1)
            upper = [*nums[:idx], nums[idx] + 1]
            out += [f">={base}", "<" + ".".join(map(str, upper))]
        elif part.startswith("~") and not part.startswith("~="):
            base = part[1:]
            nums = [int(x) if x.isdigit() else 0 for x in base.split(".")]
            upper = [nums[0] + 1] if len(nums) == 1 else [nums[0], nums[1] + 1]
            out += [f">={base}", "<" + ".".join(map(str, upper))]
        elif part[0].isdigit():
            out.append(f"=={part}")
        else:
            out.append(part)
    return ",".join(out)


class PipfileLockSource(Source):
    """Pipenv's ``Pipfile.lock`` (JSON): ``default`` and ``develop`` sections with hashes."""

    kind = "Pipfile.lock"

    def packages(self) -> Iterator[PackageRef | Skipped]:
        text = self.read_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SourceError(f"{self.path}: invalid JSON: {err}") from err
        if not isinstance(data, dict):
            raise SourceError(f"{self.path}: not a Pipfile.lock")
        lines = LineFinder(text)
        for section in ("default", "develop"):
            entries = data.get(section) or {}
            if not isinstance(entries, dict):
                raise SourceError(f"{self.path}: {section} must be an object")
            for raw_name, entry in entries.items():
                if not isinstance(entry, dict):
                    continue
                e: dict[str, Any] = entry
                name = canonicalize_name(raw_name)
                line = lines.find(rf'^\s*"{re.escape(raw_name)}"\s*:\s*\{{')
                where = origin(self.path, line)
                marker = e.get("markers") if isinstance(e.get("markers"), str) else None
                if not self.target.evaluate(marker):
                    continue
                kind = next((k for k in ("editable", "git", "path", "file") if e.get(k)), None)
                if kind is not None:
                    target = str(e.get("path") or e.get("file") or e.get("git") or "")
                    local = _local_path(target, self.path.parent) if kind in ("path", "file") else None
                    if local is not None and local.is_file() and is_archive_name(local.name):
                        parsed = parse_filename(local.name)
                        yield PackageRef(name, str(parsed[1]) if parsed else None, path=local, origin=where, line=line)
                    else:
                        yield Skipped(name, f"{kind} entry {target}: not a release pipwarden can scan", where, line)
                    continue
                spec = e.get("version")
                if not isinstance(spec, str) or not spec.startswith("=="):
                    yield Skipped(name, f"no pinned version in the lock entry ({spec!r})", where, line)
                    continue
                version = spec[2:].lstrip("=").strip()
                yield PackageRef(name, version, f"=={version}", origin=where, line=line,
                                 hashes=_sha256s(e.get("hashes") or ()), marker=marker)
