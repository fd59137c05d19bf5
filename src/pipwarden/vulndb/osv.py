"""OSV records for the PyPI ecosystem, and whether a version is affected.

Matching follows the OSV schema (https://ossf.github.io/osv-schema/) exactly:

* an ``affected`` entry applies when its package is in the ``PyPI`` ecosystem and its
  PEP 503-normalised name equals the package's;
* a version is affected when it is listed in ``versions`` *or* falls in one of the
  ``ECOSYSTEM`` ranges (``GIT`` and ``SEMVER`` ranges say nothing about PyPI versions);
* a range's events are sorted in PEP 440 order (``"0"`` first) and walked as the schema's
  reference algorithm does: ``introduced`` opens, ``fixed`` closes at that version,
  ``last_affected`` closes after it, and ``limit`` events cap the whole range. Pre-, post- and
  dev-releases are ordinary points on that line (``2.0rc1`` is inside ``introduced 1.0,
  fixed 2.0``), which is why ranges are never translated into a ``SpecifierSet``;
* records carrying ``withdrawn`` are ignored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipwarden.models import Severity

ECOSYSTEM = "PyPI"
# ``introduced: "0"`` means "since the first version"; it sorts before every real version.
_ZERO = "0"
_V0 = Version("0")


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # introduced | fixed | last_affected | limit
    version: str


@dataclass(frozen=True, slots=True)
class Range:
    type: str
    events: tuple[Event, ...]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "events": [{e.kind: e.version} for e in self.events]}


@dataclass(frozen=True, slots=True)
class Affected:
    """One ``affected`` entry: a package, the explicit versions and the ranges."""

    name: str  # PEP 503 normalised
    versions: tuple[str, ...] = ()
    ranges: tuple[Range, ...] = ()

    def contains(self, version: str | Version) -> bool:
        return affects(self, version)

    def fixed_versions(self) -> list[str]:
        """The ``fixed`` events of the ECOSYSTEM ranges: the releases that carry a fix."""
        out: list[str] = []
        for r in self.ranges:
            if r.type != "ECOSYSTEM":
                continue
            out.extend(e.version for e in r.events if e.kind == "fixed" and e.version not in out)
        return out


@dataclass(frozen=True, slots=True)
class Advisory:
    """The part of an OSV record pipwarden keeps."""

    id: str
    modified: str = ""
    published: str | None = None
    aliases: tuple[str, ...] = ()
    summary: str = ""
    severity: tuple[Mapping[str, str], ...] = ()
    # GHSA-style textual severity (``database_specific.severity``), when given.
    severity_label: str | None = None
    withdrawn: str | None = None
    affected: tuple[Affected, ...] = ()
    url: str | None = None
    related: tuple[str, ...] = field(default=())

    @property
    def is_malware(self) -> bool:
        return self.id.startswith("MAL-")

    def affected_for(self, name: str) -> list[Affected]:
        norm = canonicalize_name(name)
        return [a for a in self.affected if a.name == norm]

    def level(self) -> Severity | None:
        """The advisory's severity as a pipwarden Severity, or None when the record gives none."""
        return advisory_level(self.severity, self.severity_label)


class RecordError(ValueError):
    """An OSV record that cannot be understood (missing id, wrong types)."""


@functools.lru_cache(maxsize=1 << 16)
def parse_version(text: str) -> Version | None:
    """PEP 440 parse, memoised: advisories list the same versions over and over."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _event_key(e: Event) -> tuple[int, Version]:
    if e.version == _ZERO:
        return (0, _V0)
    v = parse_version(e.version)
    if v is None:
        raise InvalidVersion(e.version)
    return (1, v)


def range_affects(r: Range, version: Version) -> bool:
    """The OSV reference evaluation of one ECOSYSTEM range for one version.

    Raises InvalidVersion when an event holds a version PEP 440 cannot order.
    """
    events = sorted(r.events, key=_event_key)
    limits = [e for e in events if e.kind == "limit"]
    if limits and not any(e.version == "*" or version < _event_key(e)[1] for e in limits):
        return False
    affected = False
    for e in events:
        if e.kind == "introduced":
            if e.version == _ZERO or version >= _event_key(e)[1]:
                affected = True
        elif e.kind == "fixed":
            if version >= _event_key(e)[1]:
                affected = False
        elif e.kind == "last_affected" and version > _event_key(e)[1]:
            affected = False
    return affected


def affects(entry: Affected, version: str | Version) -> bool:
    """True when ``version`` of ``entry``'s package is affected.

    A version listed in ``versions`` is affected whatever the ranges say. A range whose events
    cannot be ordered under PEP 440 is skipped (the ``versions`` list still applies).
    """
    text = str(version)
    parsed = version if isinstance(version, Version) else parse_version(text)
    for listed in entry.versions:
        if listed == text:
            return True
        if parsed is not None:
            lv = parse_version(listed)
            if lv is not None and lv == parsed:
                return True
    if parsed is None:
        return False
    for r in entry.ranges:
        if r.type != "ECOSYSTEM":
            continue
        try:
            if range_affects(r, parsed):
                return True
        except InvalidVersion:
            continue
    return False


_CVSS_PREFIX = re.compile(r"^CVSS:(3\.[01]|4\.0)/")


def advisory_level(severity: Sequence[Mapping[str, str]], label: str | None) -> Severity | None:
    """CVSS base score (v3 or v4 vector) → severity band; else the database's own label."""
    for entry in severity:
        score = str(entry.get("score", ""))
        kind = entry.get("type", "")
        if kind not in ("CVSS_V3", "CVSS_V4") or not _CVSS_PREFIX.match(score):
            continue
        from cvss import CVSS3, CVSS4  # type: ignore[import-untyped]
        from cvss.exceptions import CVSSError  # type: ignore[import-untyped]

        try:
            base = float(CVSS3(score).base_score if kind == "CVSS_V3" else CVSS4(score).base_score)
        except (CVSSError, ValueError, KeyError, IndexError, ArithmeticError):
            continue
        if base >= 9.0:
            return Severity.CRITICAL
        if base >= 7.0:
            return Severity.HIGH
        if base >= 4.0:
            return Severity.MEDIUM
        if base > 0:
            return Severity.LOW
        return Severity.INFO
    if label:
        text = label.strip().upper()
        mapped = {"MODERATE": "MEDIUM"}.get(text, text)
        try:
            return Severity.parse(mapped)
        except ValueError:
            return None
    return None


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value if isinstance(v, str | int | float))


def parse_record(data: Mapping[str, Any]) -> Advisory:
    """An OSV JSON object → Advisory, keeping only PyPI ``affected`` entries."""
    rid = data.get("id")
    if not isinstance(rid, str) or not rid:
        raise RecordError("record has no id")
    affected: list[Affected] = []
    for a in data.get("affected") or ():
        if not isinstance(a, Mapping):
            continue
        pkg = a.get("package")
        if not isinstance(pkg, Mapping) or not isinstance(pkg.get("name"), str):
            continue
        eco = str(pkg.get("ecosystem", ""))
        if eco.split(":", 1)[0] != ECOSYSTEM:
            continue
        ranges: list[Range] = []
        for r in a.get("ranges") or ():
            if not isinstance(r, Mapping):
                continue
            events: list[Event] = []
            for ev in r.get("events") or ():
                if not isinstance(ev, Mapping):
                    continue
                for kind in ("introduced", "fixed", "last_affected", "limit"):
                    if kind in ev and isinstance(ev[kind], str):
                        events.append(Event(kind, ev[kind]))
            ranges.append(Range(str(r.get("type", "")), tuple(events)))
        affected.append(Affected(canonicalize_name(pkg["name"]), _strs(a.get("versions")), tuple(ranges)))
    summary = data.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        details = data.get("details")
        summary = details.strip().split("\n", 1)[0] if isinstance(details, str) else ""
        if len(summary) > 200:
            summary = summary[:199] + "…"
    sev = tuple(
        {"type": str(s.get("type", "")), "score": str(s.get("score", ""))}
        for s in data.get("severity") or ()
        if isinstance(s, Mapping)
    )
    dbs = data.get("database_specific")
    label = dbs.get("severity") if isinstance(dbs, Mapping) and isinstance(dbs.get("severity"), str) else None
    url = None
    for ref in data.get("references") or ():
        if isinstance(ref, Mapping) and ref.get("type") == "ADVISORY" and isinstance(ref.get("url"), str):
            url = ref["url"]
            break
    withdrawn = data.get("withdrawn")
    return Advisory(
        id=rid,
        modified=str(data.get("modified") or ""),
        published=str(data["published"]) if data.get("published") else None,
        aliases=tuple(a for a in _strs(data.get("aliases")) if a != rid),
        summary=summary.strip(),
        severity=sev,
        severity_label=label,
        withdrawn=str(withdrawn) if withdrawn else None,
        affected=tuple(affected),
        url=url,
        related=_strs(data.get("related")),
    )


def merge_aliases(advisories: Iterable[Advisory]) -> list[list[Advisory]]:
    """Group advisories that name each other (by id or alias) — one group is one finding."""
    items = list(advisories)
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, adv in enumerate(items):
        for key in (adv.id, *adv.aliases):
            j = owner.setdefault(key, i)
            if j != i:
                parent[find(i)] = find(j)
    groups: dict[int, list[Advisory]] = {}
    for i, adv in enumerate(items):
        groups.setdefault(find(i), []).append(adv)
    return [sorted(g, key=_primary_key) for g in groups.values()]


_PREFERENCE = ("MAL-", "PYSEC-", "GHSA-")


def _primary_key(adv: Advisory) -> tuple[int, str]:
    for rank, prefix in enumerate(_PREFERENCE):
        if adv.id.startswith(prefix):
            return (rank, adv.id)
    return (len(_PREFERENCE), adv.id)
