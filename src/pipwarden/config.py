"""``[tool.pipwarden]`` in pyproject.toml, or a top-level table in pipwarden.toml.

Looked up from the current directory upwards; ``--config FILE`` names one explicitly.
Example::

    [tool.pipwarden]
    fail-on = "high"          # block at this severity and above
    warn-on = "medium"        # warn at this severity and above
    min-age = 7               # days a release must have been public (trust cooldown)
    disable = ["PW203"]       # checks not run
    require-provenance = ["requests"]

    [tool.pipwarden.severity] # per-check severity overrides
    PW201 = "low"

    [[tool.pipwarden.ignore-vulns]]   # accepted vulnerabilities (audit); expired ones apply again
    id = "PYSEC-2023-1"
    reason = "not reachable: we never parse untrusted input with it"
    expires = 2026-06-30

    [[tool.pipwarden.exclude]]        # packages not vetted at all (audit reports them as excluded)
    name = "our-internal-lib"
    reason = "built and vetted in-house"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipwarden.errors import ConfigError
from pipwarden.models import Severity
from pipwarden.policy import Policy, VulnIgnore


@dataclass(frozen=True)
class Settings:
    policy: Policy = field(default_factory=Policy)
    min_age_days: float = 7.0
    require_provenance: frozenset[str] = frozenset()
    # The whole table, for features that read keys of their own.
    table: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None


def find_config(start: Path) -> tuple[Path, Mapping[str, Any]] | None:
    """The nearest pipwarden.toml, or pyproject.toml with a [tool.pipwarden] table."""
    for directory in (start, *start.parents):
        own = directory / "pipwarden.toml"
        if own.is_file():
            data = _load(own)
            return own, data.get("tool", {}).get("pipwarden", data)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            data = _load(pyproject)
            table = data.get("tool", {}).get("pipwarden")
            if isinstance(table, dict):
                return pyproject, table
    return None


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e


def _severity(path: Path | None, key: str, value: object) -> Severity:
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {key} must be a severity name, not {value!r}")
    try:
        return Severity.parse(value)
    except ValueError as e:
        raise ConfigError(f"{path}: {key}: {e}") from e


def _str_list(path: Path | None, key: str, value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key} must be a list of strings")
    return frozenset(value)


def settings_from_table(table: Mapping[str, Any], path: Path | None = None) -> Settings:
    fail_on = _severity(path, "fail-on", table["fail-on"]) if "fail-on" in table else Severity.HIGH
    warn_on = _severity(path, "warn-on", table["warn-on"]) if "warn-on" in table else Severity.MEDIUM
    overrides_raw = table.get("severity", {})
    if not isinstance(overrides_raw, dict):
        raise ConfigError(f"{path}: [severity] must be a table of CHECK-ID = \"severity\"")
    overrides = {k.upper(): _severity(path, f"severity.{k}", v) for k, v in overrides_raw.items()}
    disabled = frozenset(x.upper() for x in _str_list(path, "disable", table.get("disable", [])))
    min_age = table.get("min-age", 7)
    if not isinstance(min_age, int | float) or isinstance(min_age, bool) or min_age < 0:
        raise ConfigError(f"{path}: min-age must be a number of days >= 0")
    require = _str_list(path, "require-provenance", table.get("require-provenance", []))
    ignores, exclude = _ignores(path, table), _excludes(path, table)
    return Settings(
        policy=Policy(fail_on=fail_on, warn_on=warn_on, severity_overrides=overrides, disabled=disabled,
                      ignore_vulns=ignores, exclude=exclude),
        min_age_days=float(min_age),
        require_provenance=require,
        table=dict(table),
        path=path,
    )


def _entries(path: Path | None, key: str, table: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = table.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise ConfigError(f"{path}: {key} must be an array of tables ([[tool.pipwarden.{key}]])")
    return raw


def _text(path: Path | None, key: str, entry: Mapping[str, Any], field_name: str) -> str:
    value = entry.get(field_name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: every {key} entry needs a non-empty {field_name!r} ({dict(entry)!r})")
    return value.strip()


def _ignores(path: Path | None, table: Mapping[str, Any]) -> tuple[VulnIgnore, ...]:
    import datetime as dt

    out = []
    for entry in _entries(path, "ignore-vulns", table):
        vid = _text(path, "ignore-vulns", entry, "id")
        reason = _text(path, "ignore-vulns", entry, "reason")
        raw = entry.get("expires")
        if isinstance(raw, dt.datetime):
            expires = raw.date()
        elif isinstance(raw, dt.date):
            expires = raw
        elif isinstance(raw, str):
            try:
                expires = dt.date.fromisoformat(raw.strip())
            except ValueError as e:
                raise ConfigError(f"{path}: ignore-vulns {vid}: expires {raw!r} is not a date (YYYY-MM-DD)") from e
        else:
            raise ConfigError(f"{path}: ignore-vulns {vid}: an 'expires' date (YYYY-MM-DD) is required")
        out.append(VulnIgnore(vid, reason, expires))
    return tuple(out)


def _excludes(path: Path | None, table: Mapping[str, Any]) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    return {
        canonicalize_name(_text(path, "exclude", e, "name")): _text(path, "exclude", e, "reason")
        for e in _entries(path, "exclude", table)
    }


def load_settings(explicit: Path | None = None, start: Path | None = None) -> Settings:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist")
        data = _load(explicit)
        table = data.get("tool", {}).get("pipwarden", data if explicit.name == "pipwarden.toml" else {})
        return settings_from_table(table, explicit)
    found = find_config(start or Path.cwd())
    if found is None:
        return Settings()
    return settings_from_table(found[1], found[0])
