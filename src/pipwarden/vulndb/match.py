"""From database matches to what a report says: one entry per vulnerability (aliases merged),
its fix versions, and the smallest upgrade that clears every known advisory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipwarden.models import Severity
from pipwarden.vulndb.osv import Advisory, merge_aliases, parse_version


@dataclass(frozen=True, slots=True)
class Vulnerability:
    """One known vulnerability (or malware record) of one release, all its aliases merged."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    fix_versions: tuple[str, ...]
    severity: Severity | None  # None when the advisory gives none
    malware: bool = False
    url: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "aliases": list(self.aliases),
            "summary": self.summary,
            "fix_versions": list(self.fix_versions),
            "severity": self.severity.label if self.severity is not None else None,
            "malware": self.malware,
            "url": self.url,
        }


class AdvisoryLookup(Protocol):
    """Where advisories come from: the local OSV database, or the index's JSON API."""

    def advisories_for(self, name: str) -> list[Advisory]: ...


def _vkey(text: str) -> tuple[int, Version | str]:
    v = parse_version(text)
    return (1, v) if v is not None else (0, text)


def merge(matches: Iterable[tuple[Advisory, Sequence[str]]]) -> list[Vulnerability]:
    """Advisories (each with its fix versions) → one Vulnerability per alias group."""
    fixes: dict[str, Sequence[str]] = {}
    advisories: list[Advisory] = []
    for adv, fx in matches:
        advisories.append(adv)
        fixes[adv.id] = fx
    out: list[Vulnerability] = []
    for group in merge_aliases(advisories):
        primary = group[0]
        ids = {a.id for a in group}
        aliases = sorted({x for a in group for x in (a.id, *a.aliases)} - {primary.id})
        fix = sorted({v for a in group for v in fixes[a.id]}, key=_vkey)
        levels = [lv for a in group if (lv := a.level()) is not None]
        summary = next((a.summary for a in group if a.summary), "")
        url = next((a.url for a in group if a.url), None)
        out.append(
            Vulnerability(
                id=primary.id,
                aliases=tuple(aliases),
                summary=summary,
                fix_versions=tuple(fix),
                severity=max(levels) if levels else None,
                malware=any(i.startswith("MAL-") for i in ids),
                url=url,
            )
        )
    return sorted(out, key=lambda v: (not v.malware, v.id))


def vulnerabilities(lookup: AdvisoryLookup, name: str, version: str) -> list[Vulnerability]:
    hits: list[tuple[Advisory, Sequence[str]]] = []
    for adv in lookup.advisories_for(name):
        entries = [a for a in adv.affected if a.contains(version)]
        if entries:
            fx: list[str] = []
            for a in entries:
                fx.extend(v for v in a.fixed_versions() if v not in fx)
            hits.append((adv, fx))
    return merge(hits)


def is_clear(lookup: AdvisoryLookup, name: str, version: str | Version) -> bool:
    return not any(a.contains(version) for adv in lookup.advisories_for(name) for a in adv.affected)


def smallest_fix(
    lookup: AdvisoryLookup,
    name: str,
    current: str,
    vulns: Sequence[Vulnerability],
    available: Iterable[Version] = (),
) -> str | None:
    """The smallest version above ``current`` that no known advisory affects.

    Candidates are the releases the index lists (``available``) when known, else every fix
    version the package's advisories name. Pre-releases are only suggested for a pre-release.
    """
    cur = parse_version(current)
    if cur is None:
        return None
    candidates: set[Version] = set(available)
    if not candidates:
        texts = {t for v in vulns for t in v.fix_versions}
        texts.update(t for adv in lookup.advisories_for(name) for a in adv.affected for t in a.fixed_versions())
        candidates = {pv for t in texts if (pv := parse_version(t)) is not None}
    for cand in sorted(c for c in candidates if c > cur):
        if (cand.is_prerelease or cand.is_devrelease) and not cur.is_prerelease:
            continue
        if is_clear(lookup, name, cand):
            return str(cand)
    return None


@dataclass(frozen=True, slots=True)
class Requirement:
    """Someone in the project requires ``name`` within ``specifier`` (used to spot fix conflicts)."""

    name: str  # normalised
    specifier: str
    by: str  # "the project (requirements.txt:3)" or "flask 2.0.1"


def conflicts(name: str, version: str, requirements: Iterable[Requirement]) -> list[str]:
    """Which of the project's other pins and requirements would reject ``name==version``."""
    norm = canonicalize_name(name)
    out: list[str] = []
    for r in requirements:
        if r.name != norm or not r.specifier:
            continue
        try:
            ok = SpecifierSet(r.specifier).contains(version, prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            continue
        if not ok:
            text = f"{r.by} requires {name}{r.specifier}"
            if text not in out:
                out.append(text)
    return out


def index_advisories(name: str, version: str, records: Iterable[Mapping[str, Any]]) -> list[Advisory]:
    """The JSON API's ``vulnerabilities`` list for one release, as advisories.

    Each entry affects exactly the release it was served for (a ``versions`` entry); its
    ``fixed_in`` become ``fixed`` events with no ``introduced``, so they name the fix versions
    without claiming anything about other releases.
    """
    from pipwarden.vulndb.osv import Affected, Event, Range

    out: list[Advisory] = []
    norm = canonicalize_name(name)
    for rec in records:
        rid = rec.get("id")
        if not isinstance(rid, str) or rec.get("withdrawn"):
            continue
        fixed = [str(v) for v in rec.get("fixed_in") or () if isinstance(v, str)]
        events = tuple(Event("fixed", v) for v in fixed)
        summary = rec.get("summary") or rec.get("details") or ""
        aliases = tuple(str(a) for a in rec.get("aliases") or () if isinstance(a, str))
        out.append(
            Advisory(
                id=rid,
                aliases=aliases,
                summary=str(summary).strip().split("\n", 1)[0][:200],
                affected=(Affected(norm, (version,), (Range("ECOSYSTEM", events),)),),
                url=rec.get("link") if isinstance(rec.get("link"), str) else None,
            )
        )
    return out
