"""Known vulnerabilities and known malware (PW3xx): what the OSV database says about a release.

These checks run when the caller hands them an advisory source in the package options
(``vulndb``: the local OSV database, or ``vuln_source = "index"``: the index's JSON API
``vulnerabilities`` as a fallback). They also fill the package's ``vulnerabilities`` report
section (``id``, ``aliases``, ``summary``, ``fix_versions``, ``severity``) and, for an audit,
the fix suggestion and the package's declared requirements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from pipwarden.checks.base import PackageCheck, PackageContext, register
from pipwarden.models import Finding, Severity
from pipwarden.policy import VulnIgnore
from pipwarden.vulndb.match import AdvisoryLookup, Vulnerability, index_advisories, smallest_fix, vulnerabilities
from pipwarden.vulndb.osv import Advisory

_CACHE_ATTR = "_pipwarden_vulns"


class _IndexLookup:
    """The index's JSON API ``vulnerabilities`` for one release, looked up like the database."""

    def __init__(self, name: str, version: str, records: Iterable[Mapping[str, Any]]) -> None:
        self._advisories = index_advisories(name, version, records)

    def advisories_for(self, name: str) -> list[Advisory]:
        return self._advisories


def _lookup(ctx: PackageContext) -> AdvisoryLookup | None:
    db = ctx.options.get("vulndb")
    if db is not None:
        lookup: AdvisoryLookup = db
        return lookup
    if ctx.options.get("vuln_source") == "index" and ctx.release is not None and ctx.version:
        return _IndexLookup(ctx.name, ctx.version, ctx.release.vulnerabilities)
    return None


def _available(ctx: PackageContext) -> list[Version]:
    """Releases on the index with at least one file that is not yanked."""
    if ctx.project is None:
        return []
    seen: set[Version] = set()
    for f in ctx.project.files:
        v = f.version
        if v is not None and not f.yanked:
            seen.add(v)
    return sorted(seen)


def _location(ctx: PackageContext) -> tuple[str | None, int | None, str]:
    origin = ctx.package.origin
    file = origin
    if origin and ctx.package.line is not None and origin.endswith(f":{ctx.package.line}"):
        file = origin[: -len(f":{ctx.package.line}")]
    evidence = f"{ctx.name}=={ctx.version}" if ctx.version else str(ctx.package)
    return file, ctx.package.line, evidence


def _ignored(vuln: Vulnerability, ignores: Sequence[VulnIgnore]) -> VulnIgnore | None:
    wanted = {i.upper() for i in vuln.ids}
    return next((ig for ig in ignores if ig.id.upper() in wanted), None)


def package_vulnerabilities(ctx: PackageContext) -> list[tuple[Vulnerability, VulnIgnore | None, bool]]:
    """(vulnerability, matching ignore entry, ignore still active) for this release; computed once
    per context (both PW300 and PW301 read it)."""
    cached: list[tuple[Vulnerability, VulnIgnore | None, bool]] | None = getattr(ctx, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    lookup = _lookup(ctx)
    if lookup is None or not ctx.version:
        return []
    vulns = vulnerabilities(lookup, ctx.name, ctx.version)
    ignores: Sequence[VulnIgnore] = ctx.options.get("vuln_ignores", ())
    today: date = ctx.options.get("today") or date.today()
    out = []
    section = []
    for v in vulns:
        ig = _ignored(v, ignores)
        active = ig is not None and ig.active(today)
        entry = v.to_json()
        if ig is not None:
            entry["ignored" if active else "ignore_expired"] = ig.to_json()
        section.append(entry)
        out.append((v, ig, active))
    ctx.extra["vulnerabilities"] = section
    if ctx.options.get("audit"):
        live = [v for v, _ig, act in out if not act]
        if live:
            fix = smallest_fix(lookup, ctx.name, ctx.version, live, _available(ctx))
            ctx.extra["fix"] = {"version": fix, "clears": [v.id for v in live], "conflicts": []}
    setattr(ctx, _CACHE_ATTR, out)
    return out


def _describe(v: Vulnerability) -> str:
    text = v.id
    if v.aliases:
        text += f" ({', '.join(v.aliases)})"
    if v.summary:
        text += f": {v.summary}"
    return text


@register
class KnownVulnerability(PackageCheck):
    """This release is affected by a published vulnerability (OSV database).

    Matching follows the OSV schema for PyPI: the release is listed in the advisory's
    ``versions``, or lies in one of its ``ECOSYSTEM`` ranges evaluated in PEP 440 order
    (pre- and post-releases included). Advisories that name each other (PYSEC, GHSA, CVE
    aliases) are one finding. The severity is the advisory's own (CVSS base score or the
    database's label) and ``high`` when the advisory gives none. The message names the
    versions that fix it; the audit report adds the smallest upgrade clearing every known
    advisory. Accept a vulnerability on purpose with ``[[tool.pipwarden.ignore-vulns]]``
    (id, reason, expires); an expired ignore applies no more and the finding says so.
    """

    id = "PW300"
    severity = Severity.HIGH
    title = "known vulnerability"
    category = "vulnerability"

    def run(self, ctx: PackageContext) -> Iterator[Finding]:
        file, line, evidence = _location(ctx)
        for v, ig, active in package_vulnerabilities(ctx):
            if v.malware or active:
                continue
            fixed = f"; fixed in {', '.join(v.fix_versions)}" if v.fix_versions else "; no fixed version known"
            note = ""
            if ig is not None:
                note = f" (ignore expired {ig.expires.isoformat()}: {ig.reason})"
            yield self.finding(
                f"{ctx.name} {ctx.version}: {_describe(v)}{fixed}{note}",
                file=file,
                line=line,
                evidence=evidence,
                severity=v.severity if v.severity is not None else self.severity,
            )


@register
class KnownMalware(PackageCheck):
    """This release is a known-malicious package (an OSV ``MAL-`` record).

    The OSV malicious-packages feed records releases that were published to attack the
    people who install them (credential theft, droppers, typosquats). There is no safe
    version of such a release: remove it and treat machines that installed it as compromised.
    """

    id = "PW301"
    severity = Severity.CRITICAL
    title = "known malicious release"
    category = "vulnerability"

    def run(self, ctx: PackageContext) -> Iterator[Finding]:
        file, line, evidence = _location(ctx)
        for v, ig, active in package_vulnerabilities(ctx):
            if not v.malware or active:
                continue
            note = f" (ignore expired {ig.expires.isoformat()}: {ig.reason})" if ig is not None else ""
            yield self.finding(
                f"{ctx.name} {ctx.version} is known malware: {_describe(v)}{note}",
                file=file,
                line=line,
                evidence=evidence,
            )


def _is_pin(specifier: str) -> bool:
    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return False
    items = list(spec)
    return len(items) == 1 and items[0].operator in ("==", "===") and "*" not in items[0].version


@register
class UnpinnedRequirement(PackageCheck):
    """The project does not pin this dependency: what gets installed changes over time.

    Reported by ``pipwarden audit`` for requirements given as a range (``requests>=2``) in
    ``pyproject.toml`` or a requirements file, with the release that would be chosen today —
    the one audited. A lock file (pylock.toml, uv.lock, poetry.lock) or ``==`` pins with
    ``--hash`` make installs reproducible and auditable.
    """

    id = "PW302"
    severity = Severity.LOW
    title = "unpinned requirement"
    category = "vulnerability"

    def run(self, ctx: PackageContext) -> Iterator[Finding]:
        if not ctx.options.get("audit") or ctx.package.path is not None:
            return
        spec = ctx.package.specifier
        if _is_pin(spec):
            return
        file, line, _evidence = _location(ctx)
        shown = f"{ctx.name}{spec}" if spec else ctx.name
        today = f"; today that resolves to {ctx.version}" if ctx.version else ""
        yield self.finding(
            f"{shown} is not pinned{today}",
            file=file,
            line=line,
            evidence=shown,
        )


def requires_dist(ctx: PackageContext) -> list[str]:
    """``Requires-Dist`` of the release, from the wheel's METADATA (or an sdist's PKG-INFO)."""
    from pipwarden.checks.integrity import read_metadata

    for actx in ctx.artifacts:
        for m in actx.archive.files():
            base = m.name.rsplit("/", 1)[-1]
            if m.data is None or base not in ("METADATA", "PKG-INFO") or m.name.count("/") > 1:
                continue
            if base == "METADATA" and ".dist-info/" not in m.name:
                continue
            return read_metadata(m.data).get("requires-dist", [])
    return []


@register
class DeclaredRequirements(PackageCheck):
    """Records the release's declared dependencies for the audit (no finding of its own).

    ``pipwarden audit`` uses them to tell whether a suggested security upgrade would conflict
    with what the project's other packages require, and the CycloneDX report uses them for
    its dependency graph.
    """

    id = "PW399"
    severity = Severity.INFO
    title = "declared requirements (audit bookkeeping)"
    category = "vulnerability"

    def run(self, ctx: PackageContext) -> Iterator[Finding]:
        if ctx.options.get("audit") and ctx.artifacts:
            reqs = requires_dist(ctx)
            if reqs:
                ctx.extra["requires_dist"] = reqs
        return iter(())


# The package checks an audit without a scan runs (no artifacts needed).
AUDIT_CHECKS: tuple[type[PackageCheck], ...] = (KnownVulnerability, KnownMalware, UnpinnedRequirement,
                                                 DeclaredRequirements)
