"""What an index tells about a project, as frozen values.

``ProjectPage`` comes from the simple API (PEP 503 HTML or PEP 691 JSON);
``ReleaseInfo`` from the JSON API (``<root>/pypi/<name>/<version>/json``) when the index
has one. Both keep what later checks need and nothing index-specific.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from pipwarden.models import Artifact, ArtifactKind, artifact_kind


@lru_cache(maxsize=1 << 16)
def parse_filename(filename: str) -> tuple[str, Version] | None:
    """(normalised name, version) from a wheel or sdist filename, or None when it is neither.

    Memoised: trust checks ask for the versions of every file of a project, many times over."""
    try:
        if filename.endswith(".whl"):
            wname, wversion, _build, _tags = parse_wheel_filename(filename)
            return str(wname), wversion
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return str(name), version
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        pass
    # Older sdists: .tar.bz2, .tar.xz, .tgz and names packaging rejects: split at the last '-'.
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".tar"):
        if filename.lower().endswith(suffix):
            stem = filename[: -len(suffix)]
            if "-" in stem:
                sname, _, sver = stem.rpartition("-")
                try:
                    return str(canonicalize_name(sname)), Version(sver)
                except InvalidVersion:
                    return None
    return None


@dataclass(frozen=True, slots=True)
class IndexFile:
    """One file as listed on a project's simple page."""

    filename: str
    url: str  # absolute, resolved against the response URL
    hashes: Mapping[str, str] = field(default_factory=dict)
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    upload_time: datetime | None = None
    size: int | None = None
    # PEP 658 / 714: True, or the hashes of the .metadata file, when the index serves one.
    core_metadata: bool | Mapping[str, str] = False
    # PEP 740: URL of the file's provenance document, when given.
    provenance: str | None = None

    @property
    def kind(self) -> ArtifactKind:
        return artifact_kind(self.filename)

    @property
    def version(self) -> Version | None:
        parsed = parse_filename(self.filename)
        return parsed[1] if parsed else None

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")

    def to_artifact(self) -> Artifact:
        return Artifact(filename=self.filename, sha256=self.sha256, size=self.size, url=self.url)


@dataclass(frozen=True, slots=True)
class ProjectPage:
    """A project's simple-API page."""

    name: str  # normalised
    url: str
    files: tuple[IndexFile, ...]
    # PEP 700 "versions" (JSON only); empty when the index does not say.
    versions: tuple[str, ...] = ()
    # PEP 792 project status: active, archived, quarantined, deprecated; None when not served.
    status: str | None = None
    status_reason: str | None = None

    def files_for(self, version: Version) -> list[IndexFile]:
        return [f for f in self.files if f.version == version]

    def all_versions(self) -> list[Version]:
        seen: set[Version] = set()
        for f in self.files:
            v = f.version
            if v is not None:
                seen.add(v)
        for text in self.versions:
            try:
                seen.add(Version(text))
            except InvalidVersion:
                continue
        return sorted(seen)


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    """The JSON API's view of one release (or of the project's latest, when version is None)."""

    name: str
    version: str | None
    # The ``info`` object as the index served it (summary, project_urls, requires_dist, ...).
    info: Mapping[str, Any] = field(default_factory=dict)
    # Upload time, yanked state and digests of this release's files, by filename.
    files: Mapping[str, IndexFile] = field(default_factory=dict)
    # Every release's files, by version string (only present on the project-level document).
    releases: Mapping[str, tuple[IndexFile, ...]] = field(default_factory=dict)
    vulnerabilities: tuple[Mapping[str, Any], ...] = ()
    # PEP 753-era ``ownership`` block (organization, roles) when the index gives it.
    ownership: Mapping[str, Any] | None = None
