"""Helpers shared by the trust checks: options, clocks, upload history, archive metadata."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from packaging.version import InvalidVersion, Version

from pipwarden.checks.base import ArtifactContext, PackageContext
from pipwarden.index.models import IndexFile


def now(ctx: PackageContext) -> datetime:
    """The scan's clock (``options["now"]``, for testable ages), timezone-aware."""
    value = ctx.options.get("now")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def option_float(ctx: PackageContext, key: str, default: float) -> float:
    value = ctx.options.get(key, default)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default


def min_age_days(ctx: PackageContext) -> float:
    return option_float(ctx, "min_age_days", 7.0)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def all_files(ctx: PackageContext) -> Iterator[tuple[Version, IndexFile]]:
    """Every file the index lists for the project, from the simple page and the JSON API."""
    seen: set[str] = set()
    if ctx.project is not None:
        for f in ctx.project.files:
            v = f.version
            if v is not None and f.filename not in seen:
                seen.add(f.filename)
                yield v, f
    if ctx.release is not None:
        for text, files in ctx.release.releases.items():
            v = _version(text)
            if v is None:
                continue
            for f in files:
                if f.filename not in seen:
                    seen.add(f.filename)
                    yield v, f
        rv = _version(ctx.release.version or "")
        if rv is not None:
            for f in ctx.release.files.values():
                if f.filename not in seen:
                    seen.add(f.filename)
                    yield rv, f


def _merge(a: IndexFile, b: IndexFile) -> IndexFile:
    """The simple page's file, with the JSON API's upload time / yanked reason filled in."""
    from dataclasses import replace

    changes: dict[str, Any] = {}
    if a.upload_time is None and b.upload_time is not None:
        changes["upload_time"] = b.upload_time
    if a.yanked_reason is None and b.yanked_reason:
        changes["yanked_reason"] = b.yanked_reason
    if not a.yanked and b.yanked:
        changes["yanked"] = True
    return replace(a, **changes) if changes else a


def merged_files(ctx: PackageContext) -> dict[str, tuple[Version, IndexFile]]:
    """filename -> (version, file), the JSON API's facts merged into the simple page's.
    Computed once per package: most trust checks start from it."""
    cached: dict[str, tuple[Version, IndexFile]] | None = ctx.memo.get("trust.merged_files")
    if cached is None:
        cached = ctx.memo["trust.merged_files"] = _merged_files(ctx)
    return cached


def _merged_files(ctx: PackageContext) -> dict[str, tuple[Version, IndexFile]]:
    out: dict[str, tuple[Version, IndexFile]] = {}
    extra: dict[str, IndexFile] = {}
    if ctx.release is not None:
        for files in ctx.release.releases.values():
            for f in files:
                extra[f.filename] = f
        for f in ctx.release.files.values():
            extra[f.filename] = f
    for v, f in all_files(ctx):
        other = extra.get(f.filename)
        out[f.filename] = (v, _merge(f, other) if other is not None and other is not f else f)
    return out


def release_files(ctx: PackageContext, version: Version | None = None) -> list[IndexFile]:
    """The files of one release (the scanned one by default)."""
    if version is None:
        version = _version(ctx.version or "")
        if version is None:
            return []
    return [f for v, f in merged_files(ctx).values() if v == version]


def upload_history(ctx: PackageContext) -> dict[Version, list[datetime]]:
    """Upload times by version (only files whose upload time the index gives)."""
    out: dict[Version, list[datetime]] = {}
    for v, f in merged_files(ctx).values():
        if f.upload_time is not None:
            out.setdefault(v, []).append(_aware(f.upload_time))
    for times in out.values():
        times.sort()
    return out


def known_versions(ctx: PackageContext) -> set[Version]:
    versions = {v for v, _f in merged_files(ctx).values()}
    if ctx.project is not None:
        versions.update(ctx.project.all_versions())
    return versions


def archive_metadata(actx: ArtifactContext) -> tuple[str, dict[str, list[str]], str] | None:
    """(member name, headers, description body) of an artifact's core metadata
    (wheel METADATA, sdist PKG-INFO)."""
    from email.parser import BytesParser

    member = None
    if actx.artifact.kind == "wheel":
        for m in actx.archive.members:
            if m.name.count("/") == 1 and m.name.endswith(".dist-info/METADATA"):
                member = m
                break
    else:
        root = actx.archive.root
        member = actx.archive.get(f"{root}PKG-INFO")
    if member is None or member.data is None:
        return None
    msg = BytesParser().parsebytes(member.data)
    headers: dict[str, list[str]] = {}
    for key, value in msg.items():
        headers.setdefault(key.lower(), []).append(str(value))
    payload = msg.get_payload()
    body = payload if isinstance(payload, str) else ""
    if not body.strip():
        body = (headers.get("description") or [""])[0]
    return member.name, headers, body


def info_str(ctx: PackageContext, key: str) -> str:
    if ctx.release is None:
        return ""
    value = ctx.release.info.get(key)
    return value if isinstance(value, str) else ""


def release_matches(ctx: PackageContext) -> bool:
    """True when ``ctx.release`` describes the scanned version (not just the latest)."""
    if ctx.release is None or ctx.version is None or ctx.release.version is None:
        return False
    a, b = _version(ctx.release.version), _version(ctx.version)
    return a is not None and a == b


def days(delta_seconds: float) -> str:
    d = delta_seconds / 86400
    if d < 2:
        return f"{delta_seconds / 3600:.0f} hours"
    return f"{d:.0f} days"
