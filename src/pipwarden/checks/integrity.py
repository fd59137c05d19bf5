"""Integrity and archive-structure checks (PW0xx): is this file what it says it is?"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from collections.abc import Iterable, Iterator
from email.parser import BytesHeaderParser

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipwarden.archive import Member
from pipwarden.checks.base import ArtifactCheck, ArtifactContext, register
from pipwarden.index.models import parse_filename
from pipwarden.models import Finding, Severity

_SIGNATURE_FILES = ("RECORD.jws", "RECORD.p7s")


@register
class DigestMismatch(ArtifactCheck):
    """The downloaded bytes do not match the sha256 the index (or the lock) published.

    Either the index, a mirror or a proxy served different bytes than were published, or
    the lock file was written for other bytes. pip with ``--require-hashes`` would refuse
    the file. Nothing else about such a file can be trusted, so it blocks.
    """

    id = "PW001"
    severity = Severity.CRITICAL
    title = "file digest does not match the published digest"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        actual = ctx.artifact.sha256
        if actual is None:
            return
        if ctx.index_file is not None and ctx.index_file.sha256 and ctx.index_file.sha256 != actual:
            yield self.mismatch(ctx.artifact.filename, ctx.index_file.sha256, actual, "the index")
        pinned = [h.split(":", 1)[-1] for h in ctx.package.hashes if h.startswith("sha256:")]
        if pinned and actual not in pinned:
            where = ctx.package.origin or "the lock"
            yield self.mismatch(ctx.artifact.filename, ", ".join(pinned), actual, where)

    def mismatch(self, filename: str, expected: str, actual: str, where: str) -> Finding:
        return self.finding(
            f"sha256 of {filename} is {actual}, but {where} published {expected}",
            evidence=f"expected {expected} got {actual}",
            artifact=filename,
        )


def _record_digest(data: bytes, algo: str) -> str | None:
    try:
        h = hashlib.new(algo, data)
    except ValueError:
        return None
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()


def _dist_info(ctx: ArtifactContext) -> str | None:
    for m in ctx.archive.members:
        top = m.name.split("/", 1)[0]
        if top.endswith(".dist-info") and m.name == f"{top}/RECORD":
            return top
    return None


def _parse_record(text: str) -> Iterator[tuple[int, str, str, str]]:
    import csv

    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not row[0]:
            continue
        yield lineno, row[0], row[1] if len(row) > 1 else "", row[2] if len(row) > 2 else ""


@register
class RecordHashMismatch(ArtifactCheck):
    """A file inside the wheel does not match the hash its ``RECORD`` lists.

    The wheel was modified after it was built (or RECORD was forged carelessly). pip
    checks RECORD only partially; pipwarden checks every entry.
    """

    id = "PW002"
    severity = Severity.HIGH
    title = "wheel file differs from its RECORD hash"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        yield from _record_findings(ctx, self)


@register
class FileNotInRecord(ArtifactCheck):
    """A file in the wheel is not listed in ``RECORD``.

    Files outside RECORD are installed but invisible to uninstall and to integrity tools:
    a common way to smuggle a payload into an otherwise genuine wheel.
    """

    id = "PW003"
    severity = Severity.MEDIUM
    title = "wheel file not listed in RECORD"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        yield from _record_findings(ctx, self)


@register
class RecordEntryMissing(ArtifactCheck):
    """``RECORD`` lists a file the wheel does not contain, or the wheel has no RECORD at all."""

    id = "PW004"
    severity = Severity.LOW
    title = "RECORD entry without file, or no RECORD"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        yield from _record_findings(ctx, self)


def _record_findings(ctx: ArtifactContext, check: ArtifactCheck) -> Iterator[Finding]:
    if ctx.artifact.kind != "wheel":
        return
    fn = ctx.artifact.filename
    di = _dist_info(ctx)
    if di is None:
        if check.id == "PW004":
            yield check.finding("the wheel has no .dist-info/RECORD", severity=Severity.MEDIUM, artifact=fn)
        return
    record_name = f"{di}/RECORD"
    record = ctx.archive.get(record_name)
    text = record.text() if record else None
    if text is None:
        return
    files = {m.name: m for m in ctx.archive.files() if "!/" not in m.name}
    listed: set[str] = set()
    for lineno, path, digest, _size in _parse_record(text):
        listed.add(path)
        member = files.get(path)
        if member is None:
            if check.id == "PW004" and path not in files:
                yield check.finding(f"RECORD lists {path}, which the wheel does not contain",
                                    file=record_name, line=lineno, evidence=path, artifact=fn)
            continue
        if check.id != "PW002" or not digest or member.data is None:
            continue
        algo, _, expected = digest.partition("=")
        actual = _record_digest(member.data, algo)
        if actual is not None and actual != expected:
            yield check.finding(
                f"{path} has {algo}={actual} but RECORD says {algo}={expected}",
                file=path, line=None, evidence=f"RECORD line {lineno}: {digest}", artifact=fn,
            )
    if check.id == "PW003":
        for path in sorted(files):
            if path in listed or path == record_name or (path.startswith(f"{di}/") and path.endswith(
                _SIGNATURE_FILES
            )):
                continue
            yield check.finding(f"{path} is in the wheel but not in RECORD", file=path, evidence=path, artifact=fn)


def _metadata_member(ctx: ArtifactContext) -> Member | None:
    if ctx.artifact.kind == "wheel":
        di = _dist_info(ctx)
        if di:
            return ctx.archive.get(f"{di}/METADATA")
        for m in ctx.archive.members:
            if m.name.count("/") == 1 and m.name.endswith(".dist-info/METADATA"):
                return m
        return None
    root = ctx.archive.root
    return ctx.archive.get(f"{root}PKG-INFO")


def read_metadata(data: bytes) -> dict[str, list[str]]:
    """Core metadata headers, multi-valued. Never raises."""
    msg = BytesHeaderParser().parsebytes(data)
    out: dict[str, list[str]] = {}
    for key, value in msg.items():
        out.setdefault(key.lower(), []).append(str(value))
    return out


def _sdist_stem(filename: str) -> str | None:
    low = filename.lower()
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip", ".tar"):
        if low.endswith(suffix):
            return filename[: -len(suffix)]
    return None


def _norm(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


@register
class NameVersionMismatch(ArtifactCheck):
    """The archive's filename and the name or version in its own metadata disagree.

    A wheel named ``foo-1.0-….whl`` whose METADATA says ``bar 2.0`` is not what it claims:
    the name you vetted is not the name some installers give it (pip refuses such a file).
    Reported at medium severity for wheels. An sdist's filename is only a hint (legacy names
    like ``pkg-2.0-dev-9429.tar.gz`` split ambiguously), so sdists are compared as
    ``name-version`` strings and a disagreement is low: pip refuses to install the file.
    """

    id = "PW005"
    severity = Severity.MEDIUM
    title = "filename and metadata disagree on name or version"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        fn = ctx.artifact.filename
        parsed = parse_filename(fn)
        member = _metadata_member(ctx)
        if parsed is None or member is None or member.data is None:
            return
        meta = read_metadata(member.data)
        name = (meta.get("name") or [""])[0].strip()
        version = (meta.get("version") or [""])[0].strip()
        if ctx.artifact.kind == "sdist":
            stem = _sdist_stem(fn)
            if name and version and stem is not None and _norm(stem) != _norm(f"{name}-{version}"):
                yield self.finding(f"{fn} does not match its metadata's {name} {version} (pip refuses such a file)",
                                   file=member.name, evidence=f"Name: {name}, Version: {version}", artifact=fn,
                                   severity=Severity.LOW)
            return
        if name and canonicalize_name(name) != parsed[0]:
            yield self.finding(f"{fn} is named {parsed[0]} but its metadata says {name}",
                               file=member.name, evidence=f"Name: {name}", artifact=fn)
        if version:
            try:
                same = Version(version) == parsed[1]
            except InvalidVersion:
                same = False
            if not same:
                yield self.finding(f"{fn} is version {parsed[1]} but its metadata says {version}",
                                   file=member.name, evidence=f"Version: {version}", artifact=fn)


@register
class CoreMetadataMismatch(ArtifactCheck):
    """The PEP 658 ``.metadata`` file the index serves differs from the wheel's own METADATA.

    Resolvers (pip, uv) decide dependencies from the index's ``.metadata`` file without
    downloading the wheel; if it differs from what the wheel installs, what was resolved
    is not what gets installed.
    """

    id = "PW006"
    severity = Severity.HIGH
    title = "index .metadata differs from the wheel's METADATA"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        if ctx.index_metadata is None or ctx.artifact.kind != "wheel":
            return
        member = _metadata_member(ctx)
        if member is None or member.data is None:
            return
        if member.data.replace(b"\r\n", b"\n").strip() != ctx.index_metadata.replace(b"\r\n", b"\n").strip():
            ours = read_metadata(member.data)
            theirs = read_metadata(ctx.index_metadata)
            diff = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
            yield self.finding(
                "the index's .metadata file and the wheel's METADATA differ"
                + (f" in: {', '.join(diff[:8])}" if diff else " (byte content)"),
                file=member.name,
                evidence=", ".join(diff[:8]) or None,
                artifact=ctx.artifact.filename,
            )


_DRIVE = re.compile(r"^[A-Za-z]:")
NESTED_NOTE = " (inside a bundled archive, which installers do not extract: test data, usually)"


def nested(path: str) -> bool:
    """A member of an archive inside the archive (``outer.tar!/inner``)."""
    return "!/" in path


def escapes(path: str) -> bool:
    """True when a member path would land outside the extraction directory."""
    inner = path.split("!/")[-1]
    if inner.startswith("/") or _DRIVE.match(inner):
        return True
    return any(part == ".." for part in inner.split("/"))


@register
class PathTraversal(ArtifactCheck):
    """An archive member has an absolute path or climbs out with ``..``.

    Extracted naively, such a member writes anywhere on disk (zip-slip). No legitimate
    wheel or sdist needs it. Inside an archive bundled in the package (test fixtures of
    archive libraries), which no installer extracts, it is reported at low severity.
    """

    id = "PW010"
    severity = Severity.HIGH
    title = "archive member escapes the archive (absolute path or ..)"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        for m in ctx.archive.members:
            if escapes(m.name):
                inner = nested(m.name)
                yield self.finding(
                    f"member {m.name!r} would be written outside the target directory" + (NESTED_NOTE if inner else ""),
                    file=m.name, evidence=m.name, artifact=ctx.artifact.filename,
                    severity=Severity.LOW if inner else None,
                )


@register
class LinkMember(ArtifactCheck):
    """An archive member is a symbolic or hard link.

    Links pointing outside the archive let an extraction overwrite or read arbitrary files.
    Links inside the archive are unusual in packages but harmless: those are reported at
    low severity.
    """

    id = "PW011"
    severity = Severity.HIGH
    title = "archive contains a link"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        for m in ctx.archive.members:
            if m.kind not in ("symlink", "hardlink"):
                continue
            target = m.linkname or ""
            if m.kind == "symlink":
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(m.name), target))
                outside = target.startswith("/") or resolved.startswith("..") or bool(_DRIVE.match(target))
            else:
                outside = escapes(target)
            inner = nested(m.name)
            sev = Severity.HIGH if outside and not inner else Severity.LOW
            where = "outside the archive" if outside else "inside the archive"
            yield self.finding(f"{m.kind} {m.name!r} points {where} to {target!r}" + (NESTED_NOTE if inner else ""),
                               file=m.name, evidence=f"{m.name} -> {target}", severity=sev,
                               artifact=ctx.artifact.filename)


@register
class SpecialMember(ArtifactCheck):
    """An archive member is a device node or FIFO: never part of a Python package.
    Inside a bundled archive (test fixtures of archive libraries) it is reported at low severity."""

    id = "PW012"
    severity = Severity.HIGH
    title = "archive contains a device or FIFO"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        for m in ctx.archive.members:
            if m.kind in ("device", "fifo"):
                inner = nested(m.name)
                yield self.finding(f"{m.kind} member {m.name!r}" + (NESTED_NOTE if inner else ""), file=m.name,
                                   evidence=m.name, artifact=ctx.artifact.filename,
                                   severity=Severity.LOW if inner else None)


def _problems(ctx: ArtifactContext, kinds: tuple[str, ...]) -> Iterator[tuple[str | None, str, str]]:
    for p in ctx.archive.problems:
        if p.kind in kinds:
            yield p.member, p.kind, p.detail


@register
class ArchiveLimitsExceeded(ArtifactCheck):
    """Reading the archive hit a safety limit: too many members, too large, or a compression
    ratio typical of a decompression bomb. The rest of the archive was not analysed."""

    id = "PW013"
    severity = Severity.HIGH
    title = "archive exceeds safety limits (decompression bomb?)"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        for member, kind, detail in _problems(ctx, ("too-many-members", "too-large", "compression-ratio")):
            yield self.finding(f"{kind}: {detail}; analysis stopped", file=member, evidence=detail,
                               artifact=ctx.artifact.filename)


@register
class DuplicateMember(ArtifactCheck):
    """The same path appears twice in a zip archive (every wheel is one). Different tools pick
    different copies, so what was reviewed may not be what is installed. In a tar (sdists) every
    tool extracts the last copy: reported at low severity."""

    id = "PW014"
    severity = Severity.MEDIUM
    title = "archive contains the same path twice"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        # In a zip (every wheel) readers disagree on which copy wins; in a tar the last copy
        # is the one extracted by every tool, so a duplicate there is untidy, not ambiguous.
        sev = Severity.LOW if ctx.archive.format == "tar" else None
        for member, _kind, detail in _problems(ctx, ("duplicate-member",)):
            yield self.finding(f"{member}: {detail}", file=member, evidence=member, artifact=ctx.artifact.filename,
                               severity=sev)


@register
class CorruptMember(ArtifactCheck):
    """A member could not be decompressed (bad CRC, unsupported method) or a nested archive
    is unreadable, so it could not be analysed."""

    id = "PW015"
    severity = Severity.MEDIUM
    title = "archive member unreadable"
    category = "integrity"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        for member, _kind, detail in _problems(ctx, ("corrupt-member", "nesting-too-deep")):
            yield self.finding(f"{member}: {detail}", file=member, evidence=detail, artifact=ctx.artifact.filename)
