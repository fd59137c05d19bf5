"""Metadata consistency: what the index says vs what the archive says (PW240–PW242)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipwarden.checks.base import PackageCheck, PackageContext, register
from pipwarden.checks.trust._common import archive_metadata, info_str, release_matches
from pipwarden.models import Finding, Severity


def _canonical_requirement(text: str) -> str:
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return " ".join(text.split())
    req.name = canonicalize_name(req.name)
    return str(req)


def _metadata_version(headers: dict[str, list[str]]) -> Version | None:
    try:
        return Version((headers.get("metadata-version") or [""])[0].strip())
    except InvalidVersion:
        return None


@register
class RequiresDistMismatch(PackageCheck):
    """The dependencies the index lists (JSON API ``requires_dist``) differ from the ones in
    the archive's own metadata.

    Resolvers and people read dependencies from the index; the installer installs what the
    file says. A wheel that quietly adds a dependency is a way to pull in a second, malicious
    package. Compared for wheels, and for sdists whose PKG-INFO is authoritative (metadata
    2.2+ without ``Dynamic: Requires-Dist``). An index that lists no dependencies at all is
    not compared: its metadata often comes from an older sdist that did not record them.
    """

    id = "PW240"
    severity = Severity.MEDIUM
    title = "index dependencies differ from the archive's"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        if ctx.release is None or not release_matches(ctx):
            return
        listed = ctx.release.info.get("requires_dist")
        if not isinstance(listed, list) or not listed:
            return
        index_reqs = {_canonical_requirement(r) for r in listed if isinstance(r, str)}
        for actx in ctx.artifacts:
            got = archive_metadata(actx)
            if got is None:
                continue
            member, headers, _body = got
            if actx.artifact.kind != "wheel":
                mv = _metadata_version(headers)
                dynamic = {d.strip().lower() for d in headers.get("dynamic", [])}
                if mv is None or mv < Version("2.2") or "requires-dist" in dynamic:
                    continue
            own = {_canonical_requirement(r) for r in headers.get("requires-dist", [])}
            added, missing = sorted(own - index_reqs), sorted(index_reqs - own)
            if not added and not missing:
                continue
            parts = []
            if added:
                parts.append("only in the archive: " + "; ".join(added))
            if missing:
                parts.append("only on the index: " + "; ".join(missing))
            yield self.finding(
                f"{actx.artifact.filename} declares other dependencies than the index shows ({'; '.join(parts)})",
                file=member,
                evidence=" | ".join(parts),
                artifact=actx.artifact.filename,
                severity=self.severity if added else Severity.LOW,
            )


@register
class IndexMetadataMismatch(PackageCheck):
    """The name or version the index's JSON API gives for the release differs from the one in
    the archive's own metadata: the file is not the release the index describes."""

    id = "PW241"
    severity = Severity.HIGH
    title = "index name or version differs from the archive's"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        if ctx.release is None or not release_matches(ctx):
            return
        index_name = info_str(ctx, "name")
        index_version = info_str(ctx, "version")
        for actx in ctx.artifacts:
            got = archive_metadata(actx)
            if got is None:
                continue
            member, headers, _body = got
            name = (headers.get("name") or [""])[0].strip()
            version = (headers.get("version") or [""])[0].strip()
            if index_name and name and canonicalize_name(name) != canonicalize_name(index_name):
                yield self.finding(f"the index calls the release {index_name}, {actx.artifact.filename} says {name}",
                                   file=member, evidence=f"Name: {name}", artifact=actx.artifact.filename)
            if index_version and version:
                try:
                    same = Version(version) == Version(index_version)
                except InvalidVersion:
                    same = version == index_version
                if not same:
                    yield self.finding(
                        f"the index says version {index_version}, {actx.artifact.filename} says {version}",
                        file=member, evidence=f"Version: {version}", artifact=actx.artifact.filename)


_PLACEHOLDERS = re.compile(
    r"^\s*(unknown|none|null|n/?a|todo|tbd|test|testing|description|summary|readme|"
    r"long description|add a (short )?description here!?|my (first )?(python )?package|"
    r"a small example package|a python package|package|hello|hello world|lorem ipsum.*|\.+|-+)\s*$",
    re.IGNORECASE,
)
# Trust signals a placeholder description amplifies: (check id, minimum severity).
_AMPLIFIED = ("PW201", "PW203", "PW210", "PW211", "PW213", "PW231", "PW232", "PW251", "PW252")


def _signals(cid: str, ctx: PackageContext) -> bool:
    """Whether check ``cid`` finds something of medium severity or more in this package."""
    from pipwarden.checks.base import ArtifactCheck, get_check

    cls = get_check(cid)
    if cls is None:
        return False
    check = cls()
    if isinstance(check, PackageCheck):
        found = list(check.run(ctx))
    elif isinstance(check, ArtifactCheck):
        found = [f for a in ctx.artifacts for f in check.run(a)]
    else:
        return False
    return any(f.severity >= Severity.MEDIUM for f in found)


def placeholder(text: str, name: str) -> bool:
    t = text.strip()
    if len(t) < 12:
        return True
    return bool(_PLACEHOLDERS.match(t)) or canonicalize_name(t) == canonicalize_name(name)


@register
class PlaceholderDescription(PackageCheck):
    """The project has an empty or placeholder description (``UNKNOWN``, ``test``, its own name)
    *and* another trust signal of medium severity or more (typosquat, star-jacking, a brand-new
    project or release, a version jump, a throwaway e-mail, a shadowing module or command).

    An empty description alone means nothing — many honest small packages have none — so this
    is only reported as an amplifier, listing the signals it amplifies.
    """

    id = "PW242"
    severity = Severity.LOW
    title = "empty or placeholder description, with other risk signals"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        texts: list[tuple[str, str]] = []
        if ctx.release is not None:
            texts.append(("description", info_str(ctx, "description")))
            texts.append(("summary", info_str(ctx, "summary")))
        else:
            for actx in ctx.artifacts:
                got = archive_metadata(actx)
                if got is not None:
                    texts.append(("description", got[2]))
                    texts.append(("summary", (got[1].get("summary") or [""])[0]))
                    break
        if not texts or not all(placeholder(t, ctx.name) for _w, t in texts):
            return
        signals = [cid for cid in _AMPLIFIED if _signals(cid, ctx)]
        if not signals:
            return
        shown = "; ".join(f"{w}: {t.strip()[:40]!r}" for w, t in texts)
        yield self.finding(
            f"{ctx.name} has no real description ({shown}) and other risk signals: {', '.join(signals)}",
            evidence=shown,
        )
