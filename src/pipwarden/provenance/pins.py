"""Publisher pinning: trust on first use, made explicit.

Where pins come from, strongest first:

1. the command line: ``--expect-publisher [NAME=]github:OWNER/REPO``;
2. a lock: ``pylock.toml`` ``[[packages]] attestation-identities`` (PEP 751: PEP 740 publisher
   tables), or in a requirements file a comment block pipwarden writes and reads back::

       # pipwarden: attestation-identity requests github:psf/requests
       # pipwarden: attestation-identity sampleproject github:pypa/sampleproject

3. the cache: the identity pipwarden verified the first time it saw a project
   (``<cache dir>/provenance/publishers/<name>.json``).

A release signed by another identity than its pin, or without the attestation its pin says it
should have, is a high-severity finding (PW401, PW402). The cache pin is never overwritten by a
different identity: the alarm stays until a person pins the new one (command line or lock).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from pipwarden.errors import UsageError
from pipwarden.provenance.identity import PublisherIdentity

REQUIREMENTS_MARKER = "# pipwarden: attestation-identity"
_REQ_LINE = re.compile(r"^\s*#\s*pipwarden:\s*attestation-identity\s+(\S+)\s+(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Pin:
    """The identity a project is expected to publish with, and where that expectation comes from."""

    identity: PublisherIdentity
    source: str  # "command line", "pylock.toml", "cache (first verified on 1.2.0)"
    version: str | None = None
    explicit: bool = False  # from the command line or a lock, not learned


# -- the cache ---------------------------------------------------------------------------


class PinStore:
    """Learned publisher identities per project, one small JSON file each, written atomically."""

    _lock = threading.Lock()

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> PinStore:
        """The store under ``options["cache_dir"]`` (else the default cache dir); disabled with
        ``options["use_cache"] = False``."""
        if options.get("use_cache", True) is False:
            return cls(None)
        base = options.get("cache_dir")
        if base is None:
            from pipwarden.index.cache import default_cache_dir

            base = default_cache_dir()
        return cls(Path(base) / "provenance" / "publishers")

    def path(self, project: str) -> Path | None:
        """The project's file in the store (None when the store is disabled)."""
        return self._path(project)

    def _path(self, project: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{canonicalize_name(project)}.json"

    def get(self, project: str) -> Pin | None:
        path = self._path(project)
        if path is None:
            return None
        try:
            data = json.loads(path.read_bytes())
            identity = PublisherIdentity.parse(str(data["identity"]))
            version = data.get("version")
        except (OSError, ValueError, KeyError, TypeError, UsageError):
            return None
        where = f"cache (first verified on {version})" if version else "cache"
        return Pin(identity, where, str(version) if version else None)

    def versions(self, project: str) -> dict[str, str]:
        """Every version verified so far, with the identity it was verified from."""
        path = self._path(project)
        if path is None:
            return {}
        try:
            data = json.loads(path.read_bytes())
            seen = data.get("versions", {})
            return {str(k): str(v) for k, v in seen.items()} if isinstance(seen, dict) else {}
        except (OSError, ValueError, AttributeError):
            return {}

    def record(self, project: str, version: str | None, identity: PublisherIdentity, *, replace: bool = False) -> None:
        """Remember a verified identity. A different identity replaces the pin only with ``replace``
        (an explicit pin said so); otherwise only the version history grows."""
        path = self._path(project)
        if path is None:
            return
        with self._lock:
            current = self.get(project)
            versions = self.versions(project)
            if version:
                versions[version] = str(identity)
            if current is None or (replace and not current.identity.same_publisher(identity)):
                pinned, first = identity, version
            else:
                pinned, first = current.identity, current.version
            doc = {
                "project": canonicalize_name(project),
                "identity": str(pinned),
                "publisher": pinned.to_publisher(),
                "version": first,
                "versions": versions,
            }
            try:
                old = json.loads(path.read_bytes())
                if isinstance(old, dict) and {k: v for k, v in old.items() if k != "updated"} == doc:
                    return  # nothing learned: the file (and what results were computed from) stays as it is
            except (OSError, ValueError):
                pass
            doc["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pin-", suffix=".tmp")
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(doc, fh, indent=2, sort_keys=True)
                Path(tmp).replace(path)
            except OSError:
                # A read-only cache does not stop a scan: pins are then only as good as the lock.
                return


# -- command line ------------------------------------------------------------------------


def parse_expect_publisher(values: Iterable[str]) -> dict[str, list[PublisherIdentity]]:
    """``--expect-publisher`` values: ``github:OWNER/REPO`` (every package of the run, key ``*``)
    or ``NAME=github:OWNER/REPO``. Raises UsageError on a malformed value."""
    out: dict[str, list[PublisherIdentity]] = {}
    for value in values:
        name, sep, ident = value.partition("=")
        if sep and ":" not in name:
            key = str(canonicalize_name(name.strip()))
        else:
            key, ident = "*", value
        out.setdefault(key, []).append(PublisherIdentity.parse(ident))
    return out


# -- requirements files -------------------------------------------------------------------


def parse_requirements_identities(text: str) -> dict[str, list[PublisherIdentity]]:
    """The ``# pipwarden: attestation-identity NAME KIND:WHO`` lines of a requirements file.

    Malformed pin lines raise UsageError naming the line: a pin that silently does nothing
    is worse than none.
    """
    out: dict[str, list[PublisherIdentity]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if "attestation-identity" not in line or not line.lstrip().startswith("#"):
            continue
        m = _REQ_LINE.match(line)
        if not m:
            if re.match(r"^\s*#\s*pipwarden:\s*attestation-identity\b", line):
                raise UsageError(f"line {lineno}: expected '{REQUIREMENTS_MARKER} NAME KIND:WHO', got {line.strip()!r}")
            continue
        try:
            identity = PublisherIdentity.parse(m.group(2))
        except UsageError as e:
            raise UsageError(f"line {lineno}: {e}") from e
        out.setdefault(str(canonicalize_name(m.group(1))), []).append(identity)
    return out


def emit_requirements_identities(identities: Mapping[str, Iterable[PublisherIdentity]]) -> str:
    """The comment block for a requirements file, sorted, one line per identity ("" when none)."""
    lines = []
    for name in sorted(identities, key=lambda n: canonicalize_name(n)):
        seen: set[tuple[str, str]] = set()
        for identity in identities[name]:
            if identity.key in seen:
                continue
            seen.add(identity.key)
            lines.append(f"{REQUIREMENTS_MARKER} {canonicalize_name(name)} {identity}")
    return "\n".join(lines) + ("\n" if lines else "")


# -- pylock.toml ---------------------------------------------------------------------------


def pylock_identities(lock: Mapping[str, Any]) -> dict[str, list[PublisherIdentity]]:
    """``attestation-identities`` of every ``[[packages]]`` entry of a parsed ``pylock.toml``.
    Entries of kinds pipwarden does not know are skipped (PEP 751 lets tools add their own)."""
    out: dict[str, list[PublisherIdentity]] = {}
    packages = lock.get("packages", [])
    if not isinstance(packages, list):
        return out
    for pkg in packages:
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            continue
        tables = pkg.get("attestation-identities", [])
        if not isinstance(tables, list):
            continue
        for table in tables:
            if not isinstance(table, dict):
                continue
            try:
                identity = PublisherIdentity.from_publisher(table)
            except ValueError:
                continue
            out.setdefault(str(canonicalize_name(pkg["name"])), []).append(identity)
    return out


def pylock_identity_tables(identities: Iterable[PublisherIdentity]) -> list[dict[str, str]]:
    """The ``attestation-identities`` array for one ``[[packages]]`` entry of ``pylock.toml``."""
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for identity in identities:
        if identity.key not in seen:
            seen.add(identity.key)
            out.append(identity.to_publisher())
    return out


def read_lock_identities(path: Path) -> dict[str, list[PublisherIdentity]]:
    """Pins from a lock file: ``pylock*.toml`` or a requirements file."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from e
    if path.suffix == ".toml":
        import tomllib

        try:
            return pylock_identities(tomllib.loads(raw.decode("utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UsageError(f"{path}: invalid TOML: {e}") from e
    try:
        return parse_requirements_identities(raw.decode("utf-8"))
    except UsageError as e:
        raise UsageError(f"{path}: {e}") from e
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text: {e}") from e
