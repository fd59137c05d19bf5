"""Value objects that travel through the pipeline: source -> fetch -> inspect -> decide -> report.

All frozen; a result is built once and never mutated.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ArtifactKind = Literal["wheel", "sdist", "other"]
SourceKind = Literal["index", "file"]

CATEGORIES = ("integrity", "code", "trust", "vulnerability", "provenance", "config")


class Severity(enum.IntEnum):
    """How bad a finding is. Ordered, so policy can compare against thresholds."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None


class Verdict(enum.Enum):
    PASS = "pass"
    WARN = "warn"
    BLOCK = "block"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of evidence: what was seen, where, and the text that matched."""

    id: str
    severity: Severity
    title: str
    message: str
    category: str = "code"
    artifact: str | None = None
    file: str | None = None
    line: int | None = None
    evidence: str | None = None

    def replace(self, **changes: Any) -> Finding:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity.label,
            "title": self.title,
            "message": self.message,
            "artifact": self.artifact,
            "file": self.file,
            "line": self.line,
            "evidence": self.evidence,
        }


def artifact_kind(filename: str) -> ArtifactKind:
    low = filename.lower()
    if low.endswith(".whl"):
        return "wheel"
    if low.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".tar")):
        return "sdist"
    return "other"


@dataclass(frozen=True, slots=True)
class Artifact:
    """One file of a release: a wheel or an sdist, from the index or from disk."""

    filename: str
    sha256: str | None = None
    size: int | None = None
    url: str | None = None
    path: Path | None = None

    @property
    def kind(self) -> ArtifactKind:
        return artifact_kind(self.filename)

    def to_json(self) -> dict[str, Any]:
        return {"filename": self.filename, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True, slots=True)
class PackageRef:
    """A package to vet: a name with a pinned version or a specifier, or a local artifact.

    ``origin`` says where the reference came from (``requirements.txt:12``) so reports
    can point back at it.
    """

    name: str
    version: str | None = None
    specifier: str = ""
    path: Path | None = None
    origin: str | None = None
    line: int | None = None
    hashes: tuple[str, ...] = ()
    marker: str | None = None

    @property
    def source(self) -> SourceKind:
        return "file" if self.path is not None else "index"

    def __str__(self) -> str:
        if self.path is not None:
            return str(self.path)
        if self.version:
            return f"{self.name}=={self.version}"
        return f"{self.name}{self.specifier}"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A package that could not be vetted, and why. Travels as data, never as an exception."""

    name: str
    reason: str
    origin: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class PackageResult:
    """The verdict for one package and everything behind it."""

    name: str
    version: str | None
    source: SourceKind
    verdict: Verdict
    artifacts: tuple[Artifact, ...] = ()
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    # Extra per-package sections added by later stages (vulnerabilities, provenance, ...),
    # each already in its JSON shape.
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Extra JSON sections per artifact filename (e.g. {"x.whl": {"provenance": {...}}}).
    artifact_extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    origin: str | None = None
    line: int | None = None

    def replace(self, **changes: Any) -> PackageResult:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Report:
    packages: tuple[PackageResult, ...]
    skipped: tuple[Skipped, ...] = ()
    # Report-wide facts: database snapshot used, policy, index URL.
    meta: Mapping[str, Any] = field(default_factory=dict)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for p in self.packages if p.verdict is verdict)
