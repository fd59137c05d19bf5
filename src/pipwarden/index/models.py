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
    canonicalize_name,
    parse_sdist_filename,
)
from packaging.version import InvalidVersion, Version

from pipwarden.models import Artifact, ArtifactKind, artifact_kind


@lru_cache(maxsize=1 << 14)
def _name(text: str) -> str:
    return str(canonicalize_name(text))


@lru_cache(maxsize=1 << 14)
def _version_of(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=1 << 16)
def parse_filename(filename: str) -> tuple[str, Version] | None:
    """(normalised name, version) from a wheel or sdist filename, or None when it is neither.

    Memoised: trust checks ask for the versions of every file of a project, many times over.
    For wheels only the name and version are read (PEP 427: name-version[-build]-py-abi-plat),
    without validating the tags: large projects list tens of thousands of wheels."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) in (5, 6) and parts[0]:
            version = _version_of(parts[1])
            return (_name(parts[0]), version) if version is not None else None
        return None
    try:
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return str(name), version
    except (InvalidSdistFilename, InvalidVersion):
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
    # (name, version) parsed from the filename once: checks ask for versions of every file often.
    parsed: tuple[str, Version] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parsed", parse_filename(self.filename))

    @property
    def kind(self) -> ArtifactKind:
        return artifact_kind(self.filename)

    @property
    def version(self) -> Version | None:
        return self.parsed[1] if self.parsed else None

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

    # Files by version, built once.
    by_version: dict[Version, list[IndexFile]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[Version, list[IndexFile]] = {}
        for f in self.files:
            v = f.version
            if v is not None:
                index.setdefault(v, []).append(f)
        object.__setattr__(self, "by_version", index)

    def files_for(self, version: Version) -> list[IndexFile]:
        return list(self.by_version.get(version, ()))

    def all_versions(self) -> list[Version]:
        seen: set[Version] = set(self.by_version)
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


def file_to_json(f: IndexFile) -> dict[str, Any]:
    return {
        "filename": f.filename, "url": f.url, "hashes": dict(f.hashes), "requires_python": f.requires_python,
        "yanked": f.yanked, "yanked_reason": f.yanked_reason,
        "upload_time": f.upload_time.isoformat() if f.upload_time else None, "size": f.size,
        "core_metadata": f.core_metadata if isinstance(f.core_metadata, bool) else dict(f.core_metadata),
        "provenance": f.provenance,
    }


def file_from_json(d: Mapping[str, Any]) -> IndexFile:
    upload = d.get("upload_time")
    return IndexFile(
        filename=d["filename"], url=d["url"], hashes=dict(d.get("hashes") or {}),
        requires_python=d.get("requires_python"), yanked=bool(d.get("yanked")), yanked_reason=d.get("yanked_reason"),
        upload_time=datetime.fromisoformat(upload) if upload else None, size=d.get("size"),
        core_metadata=d.get("core_metadata") or False, provenance=d.get("provenance"),
    )


def page_to_json(page: ProjectPage) -> dict[str, Any]:
    """A parsed project page as JSON, so warm runs need not parse a large HTML page again."""
    return {
        "name": page.name, "url": page.url, "files": [file_to_json(f) for f in page.files],
        "versions": list(page.versions), "status": page.status, "status_reason": page.status_reason,
    }


def page_from_json(d: Mapping[str, Any]) -> ProjectPage:
    return ProjectPage(
        name=d["name"], url=d["url"], files=tuple(file_from_json(f) for f in d["files"]),
        versions=tuple(d.get("versions") or ()), status=d.get("status"), status_reason=d.get("status_reason"),
    )
