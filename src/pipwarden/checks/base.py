"""The check framework: one class per check, a stable ID, a severity, a title, a docstring.

Three scopes, from the narrowest:

* ``MemberCheck`` looks at one file inside an archive (``setup.py``, a module, a ``.pth``).
  Results are memoised by the member's sha256 and role, so identical files across
  artifacts and versions are analysed once.
* ``ArtifactCheck`` looks at one whole archive (its member list, RECORD, metadata, digest).
* ``PackageCheck`` looks at a package as the index presents it (release history, names,
  repository claims) together with all its scanned artifacts.

A check never raises for bad input: it reports. The class docstring is the check's
documentation page (``pipwarden rules``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pipwarden.models import Artifact, Finding, PackageRef, Severity

if TYPE_CHECKING:
    from pipwarden.archive import Archive, Member
    from pipwarden.index.client import IndexClient
    from pipwarden.index.models import IndexFile, ProjectPage, ReleaseInfo

Scope = Literal["member", "artifact", "package", "environment"]
Role = Literal["setup", "module", "pth", "build-config", "other"]

# Modules that define checks; imported on first use of the registry so ``--help`` stays fast.
CHECK_MODULES: list[str] = [
    "pipwarden.checks.integrity",
    "pipwarden.checks.code",
    "pipwarden.checks.code.execution",
    "pipwarden.checks.code.exfiltration",
    "pipwarden.checks.code.evasion",
    "pipwarden.checks.code.hooks",
    "pipwarden.checks.vulns",
    "pipwarden.checks.config",
    "pipwarden.checks.provenance",
    "pipwarden.checks.trust.names",
    "pipwarden.checks.trust.history",
    "pipwarden.checks.trust.maintainers",
    "pipwarden.checks.trust.metadata",
    "pipwarden.checks.trust.installs",
]


class Check(ABC):
    """Base of every check. Subclasses set the class attributes and implement ``run``."""

    id: ClassVar[str]
    severity: ClassVar[Severity]
    title: ClassVar[str]
    category: ClassVar[str] = "code"
    scope: ClassVar[Scope] = "artifact"

    def finding(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        evidence: str | None = None,
        severity: Severity | None = None,
        artifact: str | None = None,
    ) -> Finding:
        return Finding(
            id=self.id,
            severity=self.severity if severity is None else severity,
            title=self.title,
            message=message,
            category=self.category,
            artifact=artifact,
            file=file,
            line=line,
            evidence=_clip(evidence),
        )

    @classmethod
    def doc(cls) -> str:
        return inspect.getdoc(cls) or cls.title


def line_of(text: str, lineno: int | None) -> str | None:
    """Line ``lineno`` (1-based) of ``text``, stripped: the evidence a finding quotes."""
    if not lineno:
        return None
    lines = text.splitlines()
    if 0 < lineno <= len(lines):
        return lines[lineno - 1].strip()
    return None


def _clip(text: str | None, limit: int = 300) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class MemberCheck(Check):
    scope: ClassVar[Scope] = "member"
    # Which roles this check wants to see; others are skipped without calling run().
    roles: ClassVar[frozenset[str]] = frozenset({"setup", "module"})

    @abstractmethod
    def run(self, ctx: MemberContext) -> Iterable[Finding]: ...


class ArtifactCheck(Check):
    scope: ClassVar[Scope] = "artifact"

    @abstractmethod
    def run(self, ctx: ArtifactContext) -> Iterable[Finding]: ...


class PackageCheck(Check):
    scope: ClassVar[Scope] = "package"

    @abstractmethod
    def run(self, ctx: PackageContext) -> Iterable[Finding]: ...


@dataclass
class MemberContext:
    """One file inside an archive, with lazily decoded text and parsed AST."""

    path: str  # path inside the archive, sdist root stripped
    data: bytes
    role: Role
    artifact_kind: str
    # Other members of the same archive by path (root stripped), for checks that follow imports.
    siblings: Mapping[str, Member] = field(default_factory=dict)

    @cached_property
    def text(self) -> str:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            return self.data.decode("latin-1")

    @cached_property
    def tree(self) -> ast.Module | None:
        """The module's AST, or None when it is not valid Python (Python 2 code, binary data)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ast.parse(self.data, filename=self.path)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None

    def line_text(self, lineno: int | None) -> str | None:
        return line_of(self.text, lineno)


@dataclass
class ArtifactContext:
    package: PackageRef
    artifact: Artifact
    archive: Archive
    # What the index says about this file, when it came from an index.
    index_file: IndexFile | None = None
    # The PEP 658 metadata file the index serves for it, when fetched.
    index_metadata: bytes | None = None
    # Extra JSON sections for this artifact in the report (e.g. "provenance"), filled by checks.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PackageContext:
    package: PackageRef
    name: str
    version: str | None
    artifacts: list[ArtifactContext]
    project: ProjectPage | None = None
    release: ReleaseInfo | None = None
    index: IndexClient | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    # Extra JSON sections for this package in the report (e.g. "vulnerabilities"), filled by checks.
    extra: dict[str, Any] = field(default_factory=dict)
    # Derived data that several checks share (computed once per package, never reported).
    memo: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, type[Check]] = {}
_LOADED = False
_LOCK = threading.Lock()


def register(cls: type[Check]) -> type[Check]:
    """Class decorator: add a check to the registry. IDs are unique and stable."""
    existing = _REGISTRY.get(cls.id)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise RuntimeError(f"duplicate check id {cls.id}: {existing.__qualname__} and {cls.__qualname__}")
    _REGISTRY[cls.id] = cls
    return cls


def _load() -> None:
    global _LOADED
    with _LOCK:
        if _LOADED:
            return
        for mod in CHECK_MODULES:
            importlib.import_module(mod)
        _LOADED = True


def all_checks() -> list[type[Check]]:
    _load()
    return sorted(_REGISTRY.values(), key=lambda c: c.id)


def get_check(check_id: str) -> type[Check] | None:
    _load()
    return _REGISTRY.get(check_id)


def run_check(check: MemberCheck | ArtifactCheck | PackageCheck, ctx: Any, where: str = "") -> list[Finding]:
    """The findings of one check. A defect in a check (any exception) becomes a CheckError that names
    the check and the input, so one package is reported as an error instead of the run crashing."""
    from pipwarden.errors import CheckError

    try:
        return list(check.run(ctx))
    except Exception as e:  # any defect in a check becomes a reported error, never a traceback
        detail = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        on = f" on {where}" if where else ""
        raise CheckError(f"internal error in check {check.id}{on} ({detail}); please report this") from e


def member_checks() -> list[type[MemberCheck]]:
    return [c for c in all_checks() if issubclass(c, MemberCheck)]


def artifact_checks() -> list[type[ArtifactCheck]]:
    return [c for c in all_checks() if issubclass(c, ArtifactCheck)]


def package_checks() -> list[type[PackageCheck]]:
    return [c for c in all_checks() if issubclass(c, PackageCheck)]
