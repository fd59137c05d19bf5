"""Run the checks over one archive: member checks (memoised by content) and artifact checks.

This is the CPU-bound heart of a scan and has no network: it takes an already-read
:class:`~pipwarden.archive.Archive` and returns findings.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Mapping

from pipwarden.archive import Archive, Member
from pipwarden.checks.base import (
    ArtifactContext,
    MemberCheck,
    MemberContext,
    Role,
    artifact_checks,
    member_checks,
    run_check,
)
from pipwarden.index.models import IndexFile
from pipwarden.models import Artifact, Finding, PackageRef, Severity

# A member larger than this is not parsed as Python (generated tables, vendored blobs).
MAX_ANALYSED_SOURCE = 4 << 20
# setup.py always runs at install time: one padded or carrying a payload past the limit above is still read.
MAX_ANALYSED_SETUP = 16 << 20


def member_role(path: str, artifact_kind: str) -> Role:
    """What a member is to the installer: setup.py runs at install time, .py files on import,
    .pth files at every interpreter start."""
    inner = path.rsplit("!/", 1)[-1]
    base = inner.rsplit("/", 1)[-1]
    low = base.lower()
    if low.endswith(".pth"):
        return "pth"
    if artifact_kind == "sdist" and inner == "setup.py":
        return "setup"
    if artifact_kind == "sdist" and inner in ("pyproject.toml", "setup.cfg"):
        return "build-config"
    if low.endswith((".py", ".pyw")):
        return "module"
    return "other"


_LOCAL_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+(\.?[\w.]+)[ \t]+import|import[ \t]+([\w., \t]+))", re.MULTILINE)


def never_imported(path: str, artifact_kind: str, siblings: Mapping[str, Member]) -> bool:
    from pipwarden.checks.code.shared import never_imported as _never

    return _never(path, artifact_kind, siblings)


def install_time_modules(siblings: Mapping[str, Member]) -> frozenset[str]:
    """Paths (sdist root stripped) of modules that run when the package is built: local modules
    setup.py imports, and an in-tree build backend (``backend-path`` in pyproject.toml).

    They get the role "setup", so the install-time checks look at them as they look at setup.py.
    """
    from pipwarden.checks.code.hooks import in_tree_backend_modules

    out: set[str] = set()
    setup = siblings.get("setup.py")
    if setup is not None and setup.data is not None:
        for m in _LOCAL_IMPORT.finditer(setup.data):
            names = [m.group(1).decode("latin-1")] if m.group(1) else [
                n.strip().split(" ")[0] for n in m.group(2).decode("latin-1").split(",")]
            for name in names:
                rel = name.lstrip(".").replace(".", "/")
                if not rel:
                    continue
                for cand in (f"{rel}.py", f"{rel}/__init__.py", f"src/{rel}.py", f"src/{rel}/__init__.py"):
                    if cand in siblings:
                        out.add(cand)
    pyproject = siblings.get("pyproject.toml")
    if pyproject is not None and pyproject.data is not None and b"backend-path" in pyproject.data:
        out.update(p for p in in_tree_backend_modules(pyproject.data) if p in siblings)
    return frozenset(out)


_REL_IMPORT = re.compile(rb"^from[ \t]+([\w.]*\.[\w.]+)[ \t]+import[ \t]+\(?([\w, \t]+)\)?", re.MULTILINE)
_TOP_CALL = re.compile(rb"^([A-Za-z_]\w*)[ \t]*\(", re.MULTILINE)
ENTRIES_KEY = "_pipwarden_import_entries"


def import_entries(siblings: Mapping[str, Member]) -> dict[str, frozenset[str]]:
    """Functions of a package module that its ``__init__.py`` imports and calls at module level
    (``from .installer import install`` or ``from pkg.installer import install``, then
    ``install()``): they run whenever the package is imported. Module path -> function names;
    one pass over each ``__init__.py``."""
    out: dict[str, set[str]] = {}
    for path, member in siblings.items():
        data = member.data
        if not path.endswith("__init__.py") or data is None or b"from " not in data:
            continue
        calls = {m.group(1).decode("latin-1") for m in _TOP_CALL.finditer(data)}
        if not calls:
            continue
        folder = path[: -len("__init__.py")]
        package = folder.rstrip("/").rsplit("/", 1)[-1]
        for m in _REL_IMPORT.finditer(data):
            module = m.group(1).decode("latin-1")
            if module.startswith("."):
                module = module[1:]
            elif module.startswith(package + "."):
                module = module[len(package) + 1:]  # from pkg.installer import install, in pkg/__init__.py
            else:
                continue
            if not module or module.startswith("."):
                continue
            called: set[str] = set()
            for item in m.group(2).decode("latin-1").split(","):
                parts = item.split()
                if not parts:
                    continue
                alias = parts[2] if len(parts) == 3 and parts[1] == "as" else parts[0]
                if alias in calls:
                    called.add(parts[0])
            if not called:
                continue
            rel = folder + module.replace(".", "/")
            for target in (f"{rel}.py", f"{rel}/__init__.py"):
                if target in siblings:
                    out.setdefault(target, set()).update(called)
    return {k: frozenset(v) for k, v in out.items()}


class MemberMemo:
    """Findings of member checks by (sha256, role): identical files are analysed once,
    across artifacts, versions and packages of one run. Thread-safe."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], tuple[Finding, ...]] = {}
        self._lock = threading.Lock()
        self.hits = 0

    def get(self, key: tuple[str, str]) -> tuple[Finding, ...] | None:
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self.hits += 1
            return found

    def put(self, key: tuple[str, str], findings: tuple[Finding, ...]) -> None:
        with self._lock:
            self._data[key] = findings


def _strip_root(archive: Archive, member: Member, root: str) -> str:
    name = member.name
    if root and name.startswith(root):
        return name[len(root) :]
    return name


def member_findings(
    archive: Archive,
    artifact_kind: str,
    checks: Iterable[MemberCheck] | None = None,
    memo: MemberMemo | None = None,
) -> list[Finding]:
    """Findings of every member check on every analysable member of ``archive``."""
    active = list(checks) if checks is not None else [c() for c in member_checks()]
    root = archive.root if artifact_kind == "sdist" else ""
    siblings: dict[str, Member] = {_strip_root(archive, m, root): m for m in archive.files()}
    install_time = install_time_modules(siblings) if artifact_kind == "sdist" else frozenset()
    entries = import_entries(siblings)
    # What member checks read of the rest of the archive, beyond the member itself: setup.py's checks
    # follow the scripts and modules it runs (so its memo entry is this archive's own), and the
    # obfuscator check asks whether a PyArmor runtime is shipped beside the module.
    whole = hashlib.sha256("".join(sorted(m.sha256 or m.name for m in siblings.values())).encode()).hexdigest()
    runtime = "/armor-rt" if any("pytransform" in n or "pyarmor_runtime" in n for n in siblings) else ""
    out: list[Finding] = []
    for member in archive.files():
        if member.data is None or (member.size > MAX_ANALYSED_SOURCE and not (
                member.size <= MAX_ANALYSED_SETUP and _strip_root(archive, member, root) == "setup.py")):
            continue
        path = _strip_root(archive, member, root)
        role = member_role(path, artifact_kind)
        if role == "module" and path in install_time:
            role = "setup"
        wanted = [c for c in active if role in c.roles]
        if not wanted:
            continue
        dormant = role == "module" and never_imported(path, artifact_kind, siblings)
        entry = entries.get(path, frozenset()) if role == "module" else frozenset()
        context = f"/archive:{whole}" if role == "setup" else runtime
        key = (member.sha256 or "", role + ("/dormant" if dormant else "") + (
            "/entry:" + ",".join(sorted(entry)) if entry else "") + context)
        cached = memo.get(key) if memo is not None and member.sha256 else None
        if cached is None:
            ctx = MemberContext(path=path, data=member.data, role=role, artifact_kind=artifact_kind,
                                siblings=siblings)
            if entry:
                ctx.__dict__[ENTRIES_KEY] = entry
            found: list[Finding] = []
            for check in wanted:
                found.extend(run_check(check, ctx, f"{archive.filename}:{member.name}"))
            if dormant:
                found = [_dormant(f) for f in found]
            cached = tuple(found)
            if memo is not None and member.sha256:
                memo.put(key, cached)
        out.extend(f.replace(file=member.name, artifact=archive.filename) for f in cached)
    return out


def _dormant(f: Finding) -> Finding:
    """A code finding in a file nobody imports (see ``never_imported``) is capped at low."""
    if f.category != "code" or not f.id.startswith("PW1") or f.severity <= Severity.LOW:
        return f
    return f.replace(severity=Severity.LOW, message=f.message + " [file is not imported by the package: capped at low]")


def analyze_archive(
    archive: Archive,
    artifact: Artifact,
    package: PackageRef,
    *,
    index_file: IndexFile | None = None,
    index_metadata: bytes | None = None,
    memo: MemberMemo | None = None,
    disabled: frozenset[str] = frozenset(),
) -> tuple[ArtifactContext, list[Finding]]:
    """All artifact and member findings for one archive."""
    ctx = ArtifactContext(package=package, artifact=artifact, archive=archive, index_file=index_file,
                          index_metadata=index_metadata)
    findings: list[Finding] = []
    for cls in artifact_checks():
        if cls.id in disabled:
            continue
        check = cls()
        findings.extend(f if f.artifact else f.replace(artifact=artifact.filename)
                        for f in run_check(check, ctx, artifact.filename))
    members = [c() for c in member_checks() if c.id not in disabled]
    findings.extend(member_findings(archive, artifact.kind, members, memo))
    return ctx, findings


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """Drop exact repeats (the same finding from two identical artifacts keeps both: artifact differs)."""
    seen: set[tuple[object, ...]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.id, f.artifact, f.file, f.line, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.severity, f.id, f.artifact or "", f.file or "", f.line or 0))


__all__ = ["MemberMemo", "analyze_archive", "by_severity", "dedupe", "member_findings", "member_role"]

