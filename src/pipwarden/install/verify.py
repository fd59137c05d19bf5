"""A hash lock against the index: pinned, hashed, every hash a published file, nothing yanked.

This runs before pip does, so what ``pip install --require-hashes`` would reject halfway through
an install is reported up front, and what pip would accept but should not (a hash that matches
no published file, a yanked pin) is reported at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pipwarden.checks.config import (
    HashMatchesNothing,
    MissingHash,
    NotPinned,
    SdistOnly,
    SinglePlatformHashes,
    UnusableLine,
    VersionNotOnIndex,
    YankedPin,
)
from pipwarden.errors import NotFoundError
from pipwarden.index.models import IndexFile
from pipwarden.install.lockfile import Lock, LockEntry
from pipwarden.models import Finding

if TYPE_CHECKING:
    from pipwarden.index.client import IndexClient

Progress = Callable[[str], None]


@dataclass
class EntryResult:
    entry: LockEntry
    findings: list[Finding] = field(default_factory=list)
    # The published files the lock's hashes select (what pip may install).
    files: list[IndexFile] = field(default_factory=list)
    release_files: list[IndexFile] = field(default_factory=list)


@dataclass
class LockVerification:
    lock: Lock
    results: list[EntryResult]
    findings: list[Finding]


def platform_group(f: IndexFile) -> str:
    """'source' for an sdist, 'any' for a pure wheel, else the wheel's platform tags."""
    if f.kind != "wheel":
        return "source"
    try:
        _n, _v, _b, tags = parse_wheel_filename(f.filename)
    except InvalidWheelFilename:
        return f.filename
    platforms = sorted({t.platform for t in tags})
    return "any" if platforms == ["any"] else ",".join(platforms)


def _at(entry: LockEntry, check: NotPinned | MissingHash | HashMatchesNothing | YankedPin | SinglePlatformHashes
        | VersionNotOnIndex | SdistOnly, message: str, evidence: str | None = None) -> Finding:
    return check.finding(message, file=entry.file, line=entry.line,
                         evidence=evidence or f"{entry.name}{entry.specifier}")


def verify_entry(entry: LockEntry, client: IndexClient | None) -> EntryResult:
    result = EntryResult(entry)
    out = result.findings
    if entry.version is None:
        out.append(_at(entry, NotPinned(), f"{entry.name}{entry.specifier or ''} ({entry.where}) is not pinned "
                       "with ==: pip --require-hashes rejects it"))
    if not entry.hashes:
        out.append(_at(entry, MissingHash(), f"{entry.name} ({entry.where}) has no --hash: pip --require-hashes "
                       "rejects the whole file"))
    if entry.version is None or client is None:
        return result
    try:
        page = client.project(entry.name)
    except NotFoundError:
        out.append(_at(entry, VersionNotOnIndex(), f"{entry.name} does not exist on {client.display_url}"))
        return result
    try:
        version = Version(entry.version)
    except InvalidVersion:
        out.append(_at(entry, VersionNotOnIndex(), f"{entry.name}=={entry.version}: not a valid version"))
        return result
    files = page.files_for(version)
    result.release_files = files
    if not files:
        out.append(_at(entry, VersionNotOnIndex(), f"{entry.name} {entry.version} is not on {client.display_url}"))
        return result
    by_digest: dict[str, IndexFile] = {}
    for f in files:
        for algo, digest in f.hashes.items():
            by_digest[f"{algo.lower()}:{digest.lower()}"] = f
    unknown_algo = 0
    for h in entry.hashes:
        algo = h.split(":", 1)[0]
        hit = by_digest.get(h)
        if hit is not None:
            if hit not in result.files:
                result.files.append(hit)
            continue
        if not any(algo in f.hashes for f in files):
            unknown_algo += 1  # the index publishes no digest of that kind: cannot be compared
            continue
        out.append(_at(entry, HashMatchesNothing(),
                       f"{entry.name}=={entry.version}: {h} ({entry.where}) matches none of the "
                       f"{len(files)} files {client.display_url} publishes for this version: the lock or the "
                       "index was tampered with", evidence=h))
    yanked = [f for f in (result.files or files) if f.yanked]
    if yanked:
        reason = next((f.yanked_reason for f in yanked if f.yanked_reason), None)
        out.append(_at(entry, YankedPin(),
                       f"{entry.name}=={entry.version} is yanked on the index"
                       + (f" (reason: {reason})" if reason else "")
                       + f": {', '.join(f.filename for f in yanked)}"))
    if result.files:
        covered = {platform_group(f) for f in result.files}
        available = {platform_group(f) for f in files}
        if "any" not in covered and len(covered) == 1 and len(available) > 1:
            out.append(_at(entry, SinglePlatformHashes(),
                           f"{entry.name}=={entry.version}: the lock's hashes cover only {covered.pop()} files; the "
                           f"release also has {', '.join(sorted(available - covered))}"))
        if all(f.kind == "sdist" for f in result.files):
            out.append(_at(entry, SdistOnly(),
                           f"{entry.name}=={entry.version}: the lock allows only its sdist; installing it runs "
                           "setup.py (pipwarden install installs wheels only)"))
    return result


def verify_lock(lock: Lock, client: IndexClient | None, progress: Progress | None = None,
                workers: int = 8) -> LockVerification:
    say = progress or (lambda _m: None)
    findings: list[Finding] = []
    unusable = UnusableLine()
    for s in lock.skipped:
        findings.append(unusable.finding(f"{s.name} ({s.origin or lock.path}): {s.reason}",
                                         file=(s.origin or str(lock.path)).rsplit(":", 1)[0], line=s.line,
                                         evidence=s.name))
    for ref in lock.local:
        findings.append(unusable.finding(f"{ref.name} ({ref.origin}): a local file, not a release on the index",
                                         file=(ref.origin or str(lock.path)).rsplit(":", 1)[0], line=ref.line,
                                         evidence=str(ref.path)))

    def one(entry: LockEntry) -> EntryResult:
        r = verify_entry(entry, client)
        say(entry.name)
        return r

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, lock.entries))
    for r in results:
        findings.extend(r.findings)
    return LockVerification(lock, results, findings)


def summary(results: Sequence[EntryResult]) -> str:
    hashes = sum(len(r.entry.hashes) for r in results)
    return f"{len(results)} requirements, {hashes} hashes"
