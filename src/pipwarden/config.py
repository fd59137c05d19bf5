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
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipwarden.errors import ConfigError
from pipwarden.models import Severity
from pipwarden.policy import Policy


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
    return Settings(
        policy=Policy(fail_on=fail_on, warn_on=warn_on, severity_overrides=overrides, disabled=disabled),
        min_age_days=float(min_age),
        require_provenance=require,
        table=dict(table),
        path=path,
    )


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
