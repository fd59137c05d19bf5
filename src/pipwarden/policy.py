"""Findings -> verdict. Thresholds and per-check severity overrides come from the config."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pipwarden.models import Finding, Severity, Verdict


@dataclass(frozen=True)
class VulnIgnore:
    """A vulnerability ID (or alias) accepted on purpose, with why and until when."""

    id: str
    reason: str
    expires: date

    def active(self, today: date) -> bool:
        return today <= self.expires

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "reason": self.reason, "expires": self.expires.isoformat()}


@dataclass(frozen=True)
class Policy:
    """Block at ``fail_on`` and above, warn at ``warn_on`` and above, pass otherwise."""

    fail_on: Severity = Severity.HIGH
    warn_on: Severity = Severity.MEDIUM
    severity_overrides: Mapping[str, Severity] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()
    # Vulnerability IDs accepted with a reason and an expiry; expired ones stop applying.
    ignore_vulns: tuple[VulnIgnore, ...] = ()
    # Packages not vetted at all (normalised name -> reason).
    exclude: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.warn_on > self.fail_on:
            object.__setattr__(self, "warn_on", self.fail_on)

    def apply(self, findings: Iterable[Finding]) -> list[Finding]:
        """Drop disabled checks and apply severity overrides."""
        out: list[Finding] = []
        for f in findings:
            if f.id in self.disabled:
                continue
            override = self.severity_overrides.get(f.id)
            out.append(f if override is None or override == f.severity else f.replace(severity=override))
        return out

    def vuln_ignore(self, ids: Iterable[str]) -> VulnIgnore | None:
        """The ignore entry naming any of ``ids`` (a vulnerability's ID and aliases), active or not."""
        wanted = {i.upper() for i in ids}
        return next((ig for ig in self.ignore_vulns if ig.id.upper() in wanted), None)

    def verdict(self, findings: Iterable[Finding]) -> Verdict:
        worst = max((f.severity for f in findings), default=None)
        if worst is None:
            return Verdict.PASS
        if worst >= self.fail_on:
            return Verdict.BLOCK
        if worst >= self.warn_on:
            return Verdict.WARN
        return Verdict.PASS

    def describe(self) -> dict[str, Any]:
        return {
            "fail_on": self.fail_on.label,
            "warn_on": self.warn_on.label,
            "severity_overrides": {k: v.label for k, v in sorted(self.severity_overrides.items())},
            "disabled": sorted(self.disabled),
            "ignore_vulns": [ig.to_json() for ig in self.ignore_vulns],
            "exclude": dict(sorted(self.exclude.items())),
        }
