"""``pipwarden verify --env``: does an installed environment still hold what was installed?

For every ``*.dist-info/RECORD`` in the environment's site-packages, each listed file is hashed
and compared with the recorded digest (changed after install → PW540, gone → PW541). Files in
site-packages that no RECORD (nor a legacy ``installed-files.txt``) claims are reported (PW542),
and every ``.pth`` file's executable lines are listed (PW543). Only files are read: nothing in
the environment is imported or run.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipwarden.checks.config import (
    InstalledFileMissing,
    InstalledFileModified,
    NoRecord,
    PthExecutes,
    UnrecordedFile,
)
from pipwarden.install.pyenv import PythonEnv
from pipwarden.models import Finding, Severity

Progress = Callable[[str], None]
_CHUNK = 1 << 20


@dataclass
class EnvReport:
    env: PythonEnv
    findings: list[Finding] = field(default_factory=list)
    distributions: int = 0
    files_checked: int = 0
    pth_files: list[tuple[str, list[tuple[int, str]]]] = field(default_factory=list)


def _record_digest(path: Path, algo: str) -> str | None:
    try:
        h = hashlib.new(algo)
    except ValueError:
        return None
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()


def _norm(path: Path) -> str:
    return os.path.normcase(os.path.normpath(path))


def _record_rows(record: Path) -> Iterator[tuple[int, list[str]]]:
    text = record.read_text(encoding="utf-8", errors="replace")
    for no, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if row and row[0]:
            yield no, row


def pth_exec_lines(data: bytes) -> list[tuple[int, str]]:
    """The lines of a .pth file that ``site`` executes: those starting with ``import`` + space or tab."""
    out: list[tuple[int, str]] = []
    for no, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if raw.startswith(("import ", "import\t")):
            out.append((no, raw.strip()))
    return out


def check_environment(env: PythonEnv, progress: Progress | None = None) -> EnvReport:
    say = progress or (lambda _m: None)
    report = EnvReport(env)
    owned: set[str] = set()
    modified: set[str] = set()
    modified_rule, missing_rule, norecord_rule = InstalledFileModified(), InstalledFileMissing(), NoRecord()
    for sp in env.existing_site_packages():
        for info in sorted(sp.glob("*.dist-info")):
            record = info / "RECORD"
            report.distributions += 1
            say(info.name)
            if not record.is_file():
                report.findings.append(norecord_rule.finding(
                    f"{info.name} has no RECORD: its files cannot be verified", file=str(info)))
                continue
            owned.add(_norm(record))
            try:
                rows = list(_record_rows(record))
            except OSError as e:
                report.findings.append(norecord_rule.finding(f"{record} cannot be read: {e.strerror or e}",
                                                             file=str(record)))
                continue
            for no, row in rows:
                target = sp / row[0]
                key = _norm(target)
                owned.add(key)
                digest = row[1] if len(row) > 1 else ""
                if not digest or "=" not in digest:
                    continue
                algo, _, expected = digest.partition("=")
                if not target.is_file():
                    report.findings.append(missing_rule.finding(
                        f"{row[0]} of {info.name} is listed in its RECORD but missing",
                        file=str(record), line=no, evidence=",".join(row)))
                    continue
                try:
                    actual = _record_digest(target, algo)
                except OSError as e:
                    report.findings.append(missing_rule.finding(
                        f"{target} cannot be read: {e.strerror or e}", file=str(record), line=no))
                    continue
                report.files_checked += 1
                if actual is not None and actual != expected:
                    modified.add(key)
                    report.findings.append(modified_rule.finding(
                        f"{target} of {info.name} was changed after install: RECORD has {algo}={expected}, "
                        f"the file has {algo}={actual}; reinstall with 'pip install --force-reinstall --no-deps "
                        f"{info.name.removesuffix('.dist-info').replace('-', '==', 1)}'",
                        file=str(target), evidence=f"{record}:{no}: {','.join(row)}"))
        for info in sorted(sp.glob("*.egg-info")):
            report.distributions += 1
            listed = info / "installed-files.txt" if info.is_dir() else None
            if listed is not None and listed.is_file():
                for line in listed.read_text(encoding="utf-8", errors="replace").splitlines():
                    if line.strip():
                        owned.add(_norm(info / line.strip()))
            if info.is_dir():
                for f in info.rglob("*"):
                    owned.add(_norm(f))
            else:
                owned.add(_norm(info))
            report.findings.append(norecord_rule.finding(
                f"{info.name} is a legacy (egg-info) install without RECORD hashes: its files cannot be verified",
                file=str(info)))
    _unowned_and_pth(env, report, owned, modified)
    return report


def _unowned_and_pth(env: PythonEnv, report: EnvReport, owned: set[str], modified: set[str]) -> None:
    unrecorded, pth_rule = UnrecordedFile(), PthExecutes()
    for sp in env.existing_site_packages():
        for root, dirs, files in os.walk(sp):
            dirs.sort()
            base = Path(root)
            for name in sorted(files):
                path = base / name
                key = _norm(path)
                if key in owned:
                    continue
                if base.name == "__pycache__" and name.endswith(".pyc"):
                    # Python writes these on import; they belong to the module next to the cache dir.
                    source = base.parent / (name.split(".", 1)[0] + ".py")
                    if _norm(source) in owned:
                        continue
                if path.is_symlink() and not path.exists():
                    continue
                rel = path.relative_to(sp)
                severity = Severity.MEDIUM if name.endswith((".py", ".pth", ".so", ".pyd")) else None
                report.findings.append(unrecorded.finding(
                    f"{rel} in {sp} belongs to no installed distribution", file=str(path), severity=severity))
        for pth in sorted(sp.glob("*.pth")):
            try:
                lines = pth_exec_lines(pth.read_bytes())
            except OSError:
                continue
            report.pth_files.append((str(pth), lines))
            key = _norm(pth)
            suspicious = key not in owned or key in modified
            why = ("owned by no distribution" if key not in owned else
                   "changed after install" if key in modified else "installed by a distribution")
            for no, text in lines:
                report.findings.append(pth_rule.finding(
                    f"{pth.name} ({why}) runs code at every start of {env.executable}: {text}",
                    file=str(pth), line=no, evidence=text,
                    severity=Severity.HIGH if suspicious else None))
