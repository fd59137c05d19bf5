"""The local vulnerability database: an OSV ``all.zip`` indexed into SQLite.

One row per advisory and one per (normalised package name, advisory) pair, so a lookup
is a single indexed query per package. The database records where the snapshot came from,
its sha256 and its date (the newest ``modified`` among its records), so every report can
say which snapshot it used.

The file is built next to its final place and moved in atomically: a reader never sees a
half-built database, and a failed build leaves the previous one in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from pipwarden.errors import PipwardenError
from pipwarden.vulndb.osv import Advisory, Affected, Event, Range, RecordError, parse_record

SCHEMA_VERSION = "1"
DB_FILENAME = "osv-pypi.sqlite3"
# A record larger than this is not a real OSV record; refuse it rather than read it.
MAX_RECORD_BYTES = 8 << 20


class VulnDBError(PipwardenError):
    """The vulnerability database cannot be downloaded, built or read."""


class NoDatabaseError(VulnDBError):
    """There is no local vulnerability database yet."""


def default_db_path(cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_dir()) / "vulndb" / DB_FILENAME


def default_cache_dir() -> Path:
    """The cache directory the rest of pipwarden uses (PIPWARDEN_CACHE_DIR overrides)."""
    env = os.environ.get("PIPWARDEN_CACHE_DIR")
    if env:
        return Path(env)
    try:
        from pipwarden.index.cache import default_cache_dir as index_cache_dir
    except ImportError:
        import platformdirs

        return Path(platformdirs.user_cache_dir("pipwarden"))
    return Path(index_cache_dir())


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a database was built from."""

    date: str  # newest ``modified`` of its records (ISO 8601)
    sha256: str  # of the zip it was built from
    source: str  # URL or path of the zip
    built: str  # when the index was built (ISO 8601, UTC)
    records: int
    withdrawn: int
    path: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": "osv-pypi",
            "date": self.date,
            "sha256": self.sha256,
            "source": self.source,
            "built": self.built,
            "records": self.records,
            "withdrawn": self.withdrawn,
        }

    def describe(self) -> str:
        return f"OSV PyPI snapshot {self.date} (sha256 {self.sha256[:12]}…, {self.records} records)"


_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE advisory (
    id TEXT PRIMARY KEY,
    modified TEXT NOT NULL,
    published TEXT,
    aliases TEXT NOT NULL,
    summary TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_label TEXT,
    url TEXT
);
CREATE TABLE affected (
    name TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    versions TEXT NOT NULL,
    ranges TEXT NOT NULL
);
"""
_INDEXES = "CREATE INDEX affected_name ON affected (name);"


def _iter_zip_records(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise VulnDBError(f"{path}: not a readable OSV zip export ({e})") from e
    with zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            if info.file_size > MAX_RECORD_BYTES:
                continue
            try:
                yield info.filename, zf.read(info)
            except (OSError, zipfile.BadZipFile, RuntimeError, ValueError) as e:
                raise VulnDBError(f"{path}: cannot read {info.filename} ({e})") from e


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_database(zip_path: Path, db_path: Path, *, source: str | None = None) -> Snapshot:
    """Index an OSV export zip into a SQLite file at ``db_path`` (replaced atomically)."""
    digest = sha256_file(zip_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".osv-", suffix=".tmp", dir=db_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        snap = _build_into(zip_path, tmp, digest, source or str(zip_path))
        tmp.replace(db_path)
    finally:
        tmp.unlink(missing_ok=True)
    return _with_path(snap, db_path)


def _with_path(snap: Snapshot, path: Path) -> Snapshot:
    return Snapshot(snap.date, snap.sha256, snap.source, snap.built, snap.records, snap.withdrawn, str(path))


def _build_into(zip_path: Path, tmp: Path, digest: str, source: str) -> Snapshot:
    con = sqlite3.connect(tmp)
    try:
        con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _DDL)
        newest = ""
        records = withdrawn = 0
        adv_rows: list[tuple[Any, ...]] = []
        aff_rows: list[tuple[str, str, str, str]] = []
        for _filename, raw in _iter_zip_records(zip_path):
            try:
                data = json.loads(raw)
                if not isinstance(data, dict):
                    raise RecordError("not a JSON object")
                adv = parse_record(data)
            except (ValueError, RecordError):
                # A malformed record in a bulk export is skipped, not fatal.
                continue
            newest = max(newest, adv.modified)
            if adv.withdrawn:
                withdrawn += 1
                continue
            if not adv.affected:
                continue
            records += 1
            adv_rows.append(
                (
                    adv.id,
                    adv.modified,
                    adv.published,
                    json.dumps(adv.aliases),
                    adv.summary,
                    json.dumps(adv.severity),
                    adv.severity_label,
                    adv.url,
                )
            )
            for a in adv.affected:
                aff_rows.append(
                    (a.name, adv.id, json.dumps(a.versions), json.dumps([r.to_json() for r in a.ranges]))
                )
        if records == 0 and withdrawn == 0:
            raise VulnDBError(f"{zip_path}: no OSV records for PyPI in this file")
        con.executemany("INSERT OR REPLACE INTO advisory VALUES (?,?,?,?,?,?,?,?)", adv_rows)
        con.executemany("INSERT INTO affected VALUES (?,?,?,?)", aff_rows)
        con.executescript(_INDEXES)
        built = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        snap = Snapshot(newest, digest, source, built, records, withdrawn)
        meta = {**{k: str(v) for k, v in snap.to_json().items()}, "schema": SCHEMA_VERSION}
        con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        con.commit()
    except sqlite3.Error as e:
        raise VulnDBError(f"cannot build the vulnerability database: {e}") from e
    finally:
        con.close()
    return snap


@dataclass(frozen=True, slots=True)
class Match:
    """One advisory that affects one version of one package."""

    advisory: Advisory
    fix_versions: tuple[str, ...]


class VulnDB:
    """Read-only access to a built database. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise NoDatabaseError(
                f"no vulnerability database at {path}; "
                "run 'pipwarden db update' (or 'pipwarden db update --file all.zip')"
            )
        self._local = threading.local()
        self._cache: dict[str, list[Advisory]] = {}
        self._cache_lock = threading.Lock()
        self.snapshot = self._read_snapshot()

    @classmethod
    def open_default(cls, cache_dir: Path | None = None) -> VulnDB:
        return cls(default_db_path(cache_dir))

    def _con(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            except sqlite3.Error as e:
                raise VulnDBError(f"cannot open the vulnerability database {self.path}: {e}") from e
            self._local.con = con
        return con

    def _read_snapshot(self) -> Snapshot:
        try:
            rows = dict(self._con().execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as e:
            raise VulnDBError(f"{self.path} is not a pipwarden vulnerability database ({e}); rebuild it") from e
        if rows.get("schema") != SCHEMA_VERSION:
            raise VulnDBError(f"{self.path} was built by another pipwarden version; run 'pipwarden db update'")
        return Snapshot(
            date=rows.get("date", ""),
            sha256=rows.get("sha256", ""),
            source=rows.get("source", ""),
            built=rows.get("built", ""),
            records=int(rows.get("records", "0")),
            withdrawn=int(rows.get("withdrawn", "0")),
            path=str(self.path),
        )

    def advisories_for(self, name: str) -> list[Advisory]:
        """Every advisory naming this package, each with only its entries for this package."""
        norm = canonicalize_name(name)
        with self._cache_lock:
            hit = self._cache.get(norm)
        if hit is not None:
            return hit
        try:
            rows = (
                self._con()
                .execute(
                    "SELECT a.id, a.modified, a.published, a.aliases, a.summary, a.severity, a.severity_label,"
                    " a.url, f.versions, f.ranges FROM affected f JOIN advisory a ON a.id = f.advisory_id"
                    " WHERE f.name = ? ORDER BY a.id",
                    (norm,),
                )
                .fetchall()
            )
        except sqlite3.Error as e:
            raise VulnDBError(f"cannot read the vulnerability database {self.path}: {e}") from e
        by_id: dict[str, tuple[tuple[Any, ...], list[Affected]]] = {}
        for row in rows:
            entry = Affected(norm, tuple(json.loads(row[8])), _ranges(json.loads(row[9])))
            by_id.setdefault(row[0], (row, []))[1].append(entry)
        out = [
            Advisory(
                id=row[0],
                modified=row[1],
                published=row[2],
                aliases=tuple(json.loads(row[3])),
                summary=row[4],
                severity=tuple(json.loads(row[5])),
                severity_label=row[6],
                url=row[7],
                affected=tuple(entries),
            )
            for row, entries in by_id.values()
        ]
        with self._cache_lock:
            self._cache[norm] = out
        return out

    def matches(self, name: str, version: str | Version) -> list[Match]:
        """Advisories that affect ``name`` at ``version``, with each one's fix versions."""
        out: list[Match] = []
        for adv in self.advisories_for(name):
            hit = [a for a in adv.affected if a.contains(version)]
            if hit:
                fixes: list[str] = []
                for a in hit:
                    fixes.extend(v for v in a.fixed_versions() if v not in fixes)
                out.append(Match(adv, tuple(fixes)))
        return out

    def close(self) -> None:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None


def _ranges(data: Iterable[Mapping[str, Any]]) -> tuple[Range, ...]:
    out: list[Range] = []
    for r in data:
        events = tuple(Event(k, v) for ev in r.get("events", ()) for k, v in ev.items())
        out.append(Range(str(r.get("type", "")), events))
    return tuple(out)
