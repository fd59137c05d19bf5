"""pyproject.toml: ``[project]`` dependencies, optional dependencies, PEP 735 dependency groups.

Pinned requirements (``==``) are audited at that version. Ranges are audited at the release
that would be chosen today (the scan pipeline resolves them against the index) and reported
as unpinned (PW302). Every group and extra is audited; markers are evaluated for the target
interpreter (for an optional dependency, with that extra set).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PepRequirement
from packaging.utils import canonicalize_name

from pipwarden.archive import is_archive_name
from pipwarden.errors import SourceError
from pipwarden.index.models import parse_filename
from pipwarden.models import PackageRef, Skipped
from pipwarden.sources.base import LineFinder, Source, origin
from pipwarden.sources.requirements import _local_path, _pinned_version
from pipwarden.vulndb.match import Requirement


def load_toml(source: Source) -> dict[str, Any]:
    try:
        return tomllib.loads(source.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SourceError(f"{source.path}: invalid TOML: {e}") from e


class PyprojectSource(Source):
    kind = "pyproject"

    def packages(self) -> Iterator[PackageRef | Skipped]:
        text = self.read_text()
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise SourceError(f"{self.path}: invalid TOML: {e}") from e
        lines = LineFinder(text)
        entries: list[tuple[str, frozenset[str], str]] = []  # (requirement, extras for markers, where)
        project = data.get("project", {})
        if not isinstance(project, dict):
            raise SourceError(f"{self.path}: [project] must be a table")
        for text_req in _str_list(self.path, "project.dependencies", project.get("dependencies", [])):
            entries.append((text_req, frozenset(), "dependencies"))
        optional = project.get("optional-dependencies", {})
        if not isinstance(optional, dict):
            raise SourceError(f"{self.path}: [project.optional-dependencies] must be a table")
        for extra, reqs in optional.items():
            for text_req in _str_list(self.path, f"optional-dependencies.{extra}", reqs):
                entries.append((text_req, frozenset({canonicalize_name(extra)}), f"extra {extra}"))
        groups = data.get("dependency-groups", {})
        if not isinstance(groups, dict):
            raise SourceError(f"{self.path}: [dependency-groups] must be a table")
        for group, items in groups.items():
            if not isinstance(items, list):
                raise SourceError(f"{self.path}: dependency-groups.{group} must be a list")
            for item in items:
                if isinstance(item, str):
                    entries.append((item, frozenset(), f"group {group}"))
                elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
                    if item["include-group"] not in groups:
                        raise SourceError(f"{self.path}: dependency-groups.{group} includes unknown group "
                                          f"{item['include-group']!r}")
                else:
                    raise SourceError(f"{self.path}: dependency-groups.{group}: unexpected entry {item!r}")
        seen: set[tuple[str, str, str | None]] = set()
        for req_text, extras, _section in entries:
            line = lines.find(r"[\"']" + re.escape(req_text) + r"[\"']")
            where = origin(self.path, line)
            try:
                req = PepRequirement(req_text)
            except InvalidRequirement as err:
                why = str(err).splitlines()[0]
                yield Skipped(req_text, f"cannot parse requirement {req_text!r}: {why}", where, line)
                continue
            name = canonicalize_name(req.name)
            marker = str(req.marker) if req.marker else None
            if not self.target.evaluate(marker, extras):
                continue
            spec = str(req.specifier)
            key = (name, spec if not req.url else req.url, marker)
            if key in seen:
                continue
            seen.add(key)
            if req.url:
                local = _local_path(req.url, self.path.parent)
                if local is not None and local.is_file() and is_archive_name(local.name):
                    parsed = parse_filename(local.name)
                    yield PackageRef(name, str(parsed[1]) if parsed else None, path=local, origin=where, line=line)
                else:
                    yield Skipped(name, f"direct reference {req.url}: not a release pipwarden can scan", where, line)
                continue
            self.requirements.append(Requirement(name, spec, f"the project ({where})"))
            version = _pinned_version(spec)
            yield PackageRef(name=name, version=version, specifier=spec, origin=where, line=line, marker=marker)


def _str_list(path: Path, key: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(f"{path}: {key} must be a list of requirement strings")
    return value
