"""Results of analysing one downloaded artifact, cached by its content.

Reading and analysing an archive is the expensive, deterministic part of a scan: the same
bytes, analysed by the same code with the same inputs, give the same findings. Warm
``audit``, ``lock`` and ``install`` runs reuse them instead of re-parsing every module.

The key covers everything the analysis reads: the artifact's sha256 and filename, what
the index published for it (digest, PEP 658 metadata), the hashes a lock pinned, the
package name, the archive limits, and a fingerprint of pipwarden's own code (version plus
the size and mtime of every module), so a changed check never serves stale results.
Package-level checks (trust, vulnerabilities, provenance) depend on time and on the index's
current state: :class:`PackageResultCache` keeps their results only as long as the index
responses they read are fresh.

Entries are JSON, never pickle: the cache directory is data, not code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipwarden import __version__
from pipwarden.archive import Archive, ArchiveLimits, Member, Problem
from pipwarden.checks.base import ArtifactContext
from pipwarden.index.models import IndexFile
from pipwarden.models import Artifact, Finding, PackageRef, Severity

FORMAT = 1


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """pipwarden's version and the size and mtime of each of its modules and bundled data files."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256(f"{__version__}/{FORMAT}".encode())
    for path in sorted([*root.rglob("*.py"), *(root / "data").glob("*")]):
        try:
            st = path.stat()
        except OSError:
            continue
        h.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def cache_key(
    artifact: Artifact, ref: PackageRef, index_file: IndexFile | None, index_metadata: bytes | None,
    limits: ArchiveLimits,
) -> str:
    inputs = {
        "sha256": artifact.sha256,
        "filename": artifact.filename,
        "package": ref.name,
        "pinned": sorted(ref.hashes),
        "index_sha256": index_file.sha256 if index_file else None,
        "index_metadata": hashlib.sha256(index_metadata).hexdigest() if index_metadata is not None else None,
        "limits": asdict(limits),
        "code": code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _finding_to_json(f: Finding) -> dict[str, Any]:
    out = f.to_json()
    out["category"] = f.category
    return out


def _finding_from_json(d: dict[str, Any]) -> Finding:
    return Finding(
        id=d["id"], severity=Severity.parse(d["severity"]), title=d["title"], message=d["message"],
        category=d["category"], artifact=d["artifact"], file=d["file"], line=d["line"], evidence=d["evidence"],
    )


def _member_to_json(m: Member) -> list[Any]:
    data = base64.b64encode(m.data).decode() if m.data is not None else None
    return [m.name, m.kind, m.size, m.sha256, data, m.linkname, m.mode, m.compressed_size]


def _member_from_json(row: list[Any]) -> Member:
    name, kind, size, sha, data, linkname, mode, compressed = row
    return Member(name, kind, size, sha, base64.b64decode(data) if data is not None else None, linkname, mode,
                  compressed)


class AnalysisCache:
    """``<cache root>/analysis/<ab>/<key>.json``, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root / "analysis"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str, artifact: Artifact, ref: PackageRef, index_file: IndexFile | None,
            index_metadata: bytes | None) -> tuple[ArtifactContext, list[Finding]] | None:
        path = self._path(key)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != FORMAT:
                return None
            arch = doc["archive"]
            archive = Archive(
                filename=arch["filename"], format=arch["format"],
                members=tuple(_member_from_json(r) for r in arch["members"]),
                problems=tuple(Problem(*p) for p in arch["problems"]),
                compressed_size=arch["compressed_size"],
            )
            findings = [_finding_from_json(f) for f in doc["findings"]]
            extra = dict(doc.get("extra") or {})
        except (OSError, ValueError, KeyError, TypeError):
            return None
        ctx = ArtifactContext(package=ref, artifact=artifact, archive=archive, index_file=index_file,
                              index_metadata=index_metadata, extra=extra)
        return ctx, findings

    def put(self, key: str, ctx: ArtifactContext, findings: list[Finding]) -> None:
        a = ctx.archive
        doc = {
            "format": FORMAT,
            "archive": {
                "filename": a.filename, "format": a.format, "compressed_size": a.compressed_size,
                "members": [_member_to_json(m) for m in a.members],
                "problems": [[p.kind, p.member, p.detail] for p in a.problems],
            },
            "findings": [_finding_to_json(f) for f in findings],
            "extra": ctx.extra,
        }
        try:
            body = json.dumps(doc, separators=(",", ":"), default=str)
        except (TypeError, ValueError):
            return
        _write_json(self._path(key), body)


# -- whole-package results ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CachedPackage:
    """A package's findings before the policy is applied, and the sections checks added."""

    name: str
    version: str
    artifacts: tuple[Artifact, ...]
    findings: tuple[Finding, ...]
    extra: dict[str, Any]
    artifact_extra: dict[str, dict[str, Any]]
    release_token: str = ""  # the stamp of the release document the checks read


def package_key(parts: dict[str, Any]) -> str:
    """A digest of everything a package's checks read other than the index's responses (which the
    entry's ``token`` names): the request, the options, the database snapshot and pipwarden's code."""
    doc = {"format": FORMAT, "code": code_fingerprint(), **parts}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=_stable).encode()).hexdigest()


def _stable(value: object) -> object:
    # Sets in a stable order (string hashing differs between processes); other values by repr.
    if isinstance(value, set | frozenset):
        return sorted(repr(v) for v in value)
    return repr(value)


class PackageResultCache:
    """``<cache root>/results/<ab>/<key>.json``: one package's findings, reused while the index
    responses they were computed from are the ones still fresh in the metadata cache.

    Package checks read the index's project page and release document and the time, so an entry
    records ``token``, the stamps (digest and fetch time) of those responses; a lookup must present
    the same token. When a page is fetched or revalidated again (its TTL ran out), the token changes
    and the checks run anew — results are never older than the index metadata pipwarden would
    otherwise have used."""

    def __init__(self, root: Path) -> None:
        self.root = root / "results"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str, token: str) -> CachedPackage | None:
        try:
            doc = json.loads(self._path(key).read_bytes())
            if doc.get("token") != token:
                return None
            return CachedPackage(
                name=str(doc["name"]), version=str(doc["version"]),
                artifacts=tuple(Artifact(a["filename"], a["sha256"], a["size"], url=a["url"])
                                for a in doc["artifacts"]),
                findings=tuple(_finding_from_json(f) for f in doc["findings"]),
                extra=dict(doc["extra"]), artifact_extra={k: dict(v) for k, v in doc["artifact_extra"].items()},
                release_token=str(doc["release_token"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, token: str, package: CachedPackage) -> None:
        doc = {
            "token": token, "name": package.name, "version": package.version,
            "artifacts": [{"filename": a.filename, "sha256": a.sha256, "size": a.size, "url": a.url}
                          for a in package.artifacts],
            "findings": [_finding_to_json(f) for f in package.findings],
            "extra": package.extra, "artifact_extra": package.artifact_extra, "release_token": package.release_token,
        }
        try:
            body = json.dumps(doc, separators=(",", ":"))  # no default=: a section that isn't JSON isn't cached
        except (TypeError, ValueError):
            return
        _write_json(self._path(key), body)


def _write_json(path: Path, body: str) -> None:
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        tmp.replace(path)
    except OSError:
        # A cache that cannot be written only costs speed.
        if tmp is not None:
            tmp.unlink(missing_ok=True)
