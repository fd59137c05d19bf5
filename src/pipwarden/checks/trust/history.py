"""Release history (PW210–PW215) and lifecycle (PW220–PW223), from index data alone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from packaging.version import InvalidVersion, Version

from pipwarden.checks.base import PackageCheck, PackageContext, register
from pipwarden.checks.trust._common import (
    days,
    known_versions,
    min_age_days,
    now,
    option_float,
    release_files,
    upload_history,
)
from pipwarden.models import Finding, Severity

NEW_PROJECT_DAYS = 30.0
SINGLE_RELEASE_DAYS = 365.0
DORMANT_DAYS = 730.0
LATE_UPLOAD_DAYS = 30.0
MAX_MAJOR_JUMP = 10
# Majors at or above this, on a project's first release or as a jump, are the dependency-
# confusion signature (99.0.0, 999.0.0, 9000.1).
SUSPICIOUS_MAJOR = 99


def _current(ctx: PackageContext) -> Version | None:
    try:
        return Version(ctx.version or "")
    except InvalidVersion:
        return None


def _release_time(ctx: PackageContext, history: dict[Version, list[datetime]]) -> datetime | None:
    v = _current(ctx)
    times = history.get(v) if v is not None else None
    return times[0] if times else None


@register
class ReleaseTooNew(PackageCheck):
    """The release was published less than the cooldown ago (``min-age``, default 7 days).

    Most malicious releases — new packages and hijacked versions of real ones — are found
    and removed within days. Waiting out a short cooldown before installing a new release
    keeps you out of that window. Set ``min-age`` in ``[tool.pipwarden]`` or ``--min-age``.
    """

    id = "PW210"
    severity = Severity.MEDIUM
    title = "release younger than the cooldown"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        history = upload_history(ctx)
        released = _release_time(ctx, history)
        limit = min_age_days(ctx)
        if released is None or limit <= 0:
            return
        age = (now(ctx) - released).total_seconds()
        if age < limit * 86400:
            yield self.finding(
                f"{ctx.name} {ctx.version} was published {days(age)} ago, within the {limit:g}-day cooldown",
                evidence=f"first file uploaded {released.isoformat()}",
            )


@register
class NewProject(PackageCheck):
    """The project's first release is less than 30 days old (``new_project_days``).

    Nearly all malware on package indexes lives in projects created days before; a project
    with no history has no reputation to lose.
    """

    id = "PW211"
    severity = Severity.MEDIUM
    title = "project first published days ago"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        history = upload_history(ctx)
        if not history:
            return
        first = min(t[0] for t in history.values())
        age = (now(ctx) - first).total_seconds()
        if age < option_float(ctx, "new_project_days", NEW_PROJECT_DAYS) * 86400:
            yield self.finding(
                f"{ctx.name}'s first release was published {days(age)} ago",
                evidence=f"first upload {first.isoformat()}",
            )


@register
class SingleRelease(PackageCheck):
    """The project has exactly one release, published less than a year ago
    (``single_release_days``, default 365).

    Not a problem in itself; a reputation signal that weighs together with others (a
    typosquat, a placeholder description). A single release that has been public for years
    is a finished small tool, not a throwaway account's upload, and is not reported.
    """

    id = "PW212"
    severity = Severity.LOW
    title = "project has a single, recent release"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        if ctx.project is None:
            return
        versions = known_versions(ctx)
        if len(versions) != 1:
            return
        history = upload_history(ctx)
        if not history:
            return
        first = min(t[0] for t in history.values())
        age = (now(ctx) - first).total_seconds()
        if age < option_float(ctx, "single_release_days", SINGLE_RELEASE_DAYS) * 86400:
            version = next(iter(versions))
            yield self.finding(f"{ctx.name} has a single release ({version}), published {days(age)} ago",
                               evidence=f"versions: {version}; uploaded {first.date().isoformat()}")


def _calendar(v: Version) -> bool:
    """Calendar versions (2024.1, 20240101) are dates, not jumps."""
    major = v.release[0] if v.release else 0
    return 1990 <= major <= 2100 or 19900101 <= major <= 21001231 or 199001 <= major <= 210012


@register
class VersionJump(PackageCheck):
    """The version skips far ahead: a major of 99 or more on a first release or after small
    ones (``99.0.0``, ``999.0.0``: the dependency-confusion signature — the attacker's version
    must beat any internal one), or a jump of 10 majors or more over the previous release.
    Calendar versions (``2024.1``) are not jumps.
    """

    id = "PW213"
    severity = Severity.HIGH
    title = "version number jumps far ahead"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        v = _current(ctx)
        if v is None or not v.release or _calendar(v):
            return
        older = sorted(x for x in known_versions(ctx) if x < v)
        prev = older[-1] if older else None
        major = v.release[0]
        prev_major = prev.release[0] if prev is not None and prev.release else None
        if major >= SUSPICIOUS_MAJOR and (prev_major is None or prev_major < SUSPICIOUS_MAJOR):
            if prev is None and ctx.project is None and ctx.release is None:
                how = f"version {v}"
            elif prev is None:
                how = f"the first known release is {v}"
            else:
                how = f"{v} follows {prev}"
            yield self.finding(
                f"{ctx.name}: {how} — a version number chosen to beat any other index's "
                "(dependency confusion)",
                evidence=f"version {v}" + (f", previous {prev}" if prev is not None else ""),
            )
            return
        if prev is None or prev_major is None or _calendar(prev):
            return
        jump = major - prev_major
        if jump >= int(option_float(ctx, "max_major_jump", MAX_MAJOR_JUMP)):
            yield self.finding(
                f"{ctx.name} {v} jumps {jump} major versions over {prev}",
                evidence=f"{prev} -> {v}",
                severity=Severity.MEDIUM,
            )


@register
class DormantThenRelease(PackageCheck):
    """A release follows two years or more without any (``dormant_days``).

    Abandoned projects are what account takeovers target: expired maintainer e-mail domains
    are re-registered, old tokens leak. A sudden release of a long-dormant project deserves
    a look at who published it.
    """

    id = "PW214"
    severity = Severity.MEDIUM
    title = "release after a long dormancy"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        history = upload_history(ctx)
        released = _release_time(ctx, history)
        if released is None:
            return
        before = [t for times in history.values() for t in times if t < released]
        if not before:
            return
        last = max(before)
        gap = (released - last).total_seconds()
        if gap >= option_float(ctx, "dormant_days", DORMANT_DAYS) * 86400:
            yield self.finding(
                f"{ctx.name} {ctx.version} was published after {days(gap)} without a release",
                evidence=f"previous upload {last.date().isoformat()}, this release {released.date().isoformat()}",
            )


@register
class LateFileUpload(PackageCheck):
    """A file of this release was uploaded long (30 days or more, ``late_upload_days``) after the
    release's first file.

    Adding a file to an old release is how a stolen token serves a malicious wheel under a
    version everybody already trusts and pins. Projects do add wheels for new Python versions
    later: the finding is medium when the late file is one this scan would install, low otherwise.
    """

    id = "PW215"
    severity = Severity.MEDIUM
    title = "file added to the release long after its other files"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        files = [f for f in release_files(ctx) if f.upload_time is not None]
        if len(files) < 2:
            return
        times = {f.filename: f.upload_time for f in files}
        first = min(t for t in times.values() if t is not None)
        limit = option_float(ctx, "late_upload_days", LATE_UPLOAD_DAYS) * 86400
        scanned = {a.artifact.filename for a in ctx.artifacts}
        for f in files:
            assert f.upload_time is not None
            gap = (f.upload_time - first).total_seconds()
            if gap < limit:
                continue
            ours = f.filename in scanned
            yield self.finding(
                f"{f.filename} was uploaded {days(gap)} after the release's first file"
                + (" and is the file this scan vetted" if ours else ""),
                evidence=f"{f.filename} {f.upload_time.isoformat()}; first file {first.isoformat()}",
                severity=self.severity if ours else Severity.LOW,
                artifact=f.filename,
            )


@register
class YankedRelease(PackageCheck):
    """The release (or a vetted file of it) is yanked, with the reason the maintainers gave.

    pip skips yanked releases unless pinned exactly; a yanked release is usually broken or
    insecure, and malicious uploads are often yanked before they are removed.
    """

    id = "PW220"
    severity = Severity.MEDIUM
    title = "release is yanked"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        files = release_files(ctx)
        scanned = {a.artifact.filename for a in ctx.artifacts}
        yanked = [f for f in files if f.yanked]
        info_yanked = ctx.release is not None and ctx.release.info.get("yanked") is True
        relevant = [f for f in yanked if f.filename in scanned] or (
            yanked if files and len(yanked) == len(files) else []
        )
        if not relevant and not info_yanked:
            return
        reason = next((f.yanked_reason for f in relevant if f.yanked_reason), None)
        if reason is None and ctx.release is not None:
            r = ctx.release.info.get("yanked_reason")
            reason = r if isinstance(r, str) and r else None
        names = ", ".join(f.filename for f in relevant) or f"{ctx.name} {ctx.version}"
        yield self.finding(
            f"{names} yanked" + (f": {reason}" if reason else " (no reason given)"),
            evidence=f"yanked reason: {reason!r}",
        )


@register
class ProjectQuarantined(PackageCheck):
    """The index marks the project *quarantined* (PEP 792): it is suspected of being malicious
    and nothing of it can be installed until the index's administrators decide."""

    id = "PW221"
    severity = Severity.CRITICAL
    title = "project is quarantined by the index"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        if ctx.project is not None and (ctx.project.status or "").lower() == "quarantined":
            reason = ctx.project.status_reason
            yield self.finding(
                f"the index quarantined {ctx.name}" + (f": {reason}" if reason else ""),
                evidence=f"project-status: quarantined{f' ({reason})' if reason else ''}",
            )


@register
class ProjectArchivedOrDeprecated(PackageCheck):
    """The index marks the project *archived* (no further releases, no security fixes) or
    *deprecated* (its maintainers recommend against using it) (PEP 792)."""

    id = "PW222"
    severity = Severity.LOW
    title = "project is archived or deprecated"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        status = (ctx.project.status or "").lower() if ctx.project is not None else ""
        if status in ("archived", "deprecated"):
            assert ctx.project is not None
            reason = ctx.project.status_reason
            yield self.finding(
                f"{ctx.name} is {status}" + (f": {reason}" if reason else ""),
                evidence=f"project-status: {status}{f' ({reason})' if reason else ''}",
            )


@register
class NoFiles(PackageCheck):
    """The project, or the requested release, has no files at all: removed by its owner or by
    the index (often after a malware report), or a name held without content."""

    id = "PW223"
    severity = Severity.MEDIUM
    title = "project or release has no files"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        if ctx.project is None:
            return
        if not ctx.project.files:
            yield self.finding(f"{ctx.name} has no files on the index", evidence=ctx.project.url)
        elif ctx.version is not None and not release_files(ctx) and not ctx.artifacts:
            yield self.finding(f"{ctx.name} {ctx.version} has no files on the index", evidence=ctx.project.url)
