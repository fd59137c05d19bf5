"""Typosquat detection against the most-downloaded projects.

A name is compared with the popular names through *keys*: each popular name is indexed
under a handful of normalised forms, and a candidate is looked up under the same forms.
Nothing is compared pairwise against all 15,000 names, so checking one name costs a few
dozen dictionary lookups.

* ``skeleton`` — PEP 503 name, separators removed, look-alikes folded (``1``→``l``,
  ``0``→``o``, ``rn``→``m``, ``vv``→``w``, ``cl``→``d``) and runs of one character collapsed:
  separator changes, look-alike substitutions and repeated characters.
* ``sound`` — the skeleton with homophones folded (``ph``→``f``, ``c``/``q``/``ck``→``k``,
  ``z``→``s``, ``y``→``i``, ``ou``→``o`` …).
* ``core`` — the name without ``py``/``python`` prefixes or suffixes (``pyrequests``,
  ``requests-python``).
* ``words`` — the ``-``-separated words, sorted (``dateutil-python``).
* deletion neighbourhoods of the skeleton — every skeleton with one character deleted,
  which finds all names one edit apart (insertion, deletion, substitution, adjacent swap)
  with exact lookups; a match is then confirmed with the optimal string alignment distance.

A popular project is never reported as a typosquat of another unless its downloads are at
least ``POPULAR_RATIO`` times lower (three orders of magnitude): ``pyaml`` and ``pyyaml`` are
both real projects.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipwarden.errors import PipwardenError

DATA_FILE = "top-pypi-packages.json"
# A popular candidate is only a squat when the target has this many times its downloads.
POPULAR_RATIO = 1000
# Targets ranked at or above this get high severity when imitated.
HIGH_RANK = 1000
# Skeletons shorter than this are not compared by edit distance (too many honest neighbours).
MIN_EDIT_LEN = 5
MIN_CORE_LEN = 4
# Long names are also compared at two edits, against the DIST2_TOP most downloaded projects.
MIN_DIST2_LEN = 8
DIST2_TOP = 1000

_SEPARATORS = re.compile(r"[-_.]+")
_LOOKALIKES = (("1", "l"), ("0", "o"), ("rn", "m"), ("vv", "w"), ("cl", "d"))
_HOMOPHONES = (
    ("ph", "f"), ("ck", "k"), ("qu", "kw"), ("q", "k"), ("c", "k"), ("x", "ks"), ("z", "s"),
    ("y", "i"), ("ou", "o"), ("ee", "i"), ("ea", "i"), ("oo", "u"), ("wh", "w"),
)
_PREFIXES = ("python-", "python", "py-", "py")
_SUFFIXES = ("-python", "python", "-py", "py", "3")
_KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")


def normalise(name: str) -> str:
    """PEP 503 normalised name."""
    return _SEPARATORS.sub("-", name).lower()


def _collapse(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


def fold(name: str) -> str:
    """The PEP 503 name without separators, look-alikes folded (``1``→``l``, ``rn``→``m`` …)."""
    s = normalise(name).replace("-", "")
    for a, b in _LOOKALIKES:
        s = s.replace(a, b)
    return s


def skeleton(name: str) -> str:
    """:func:`fold` with runs of one character collapsed (``reqquests`` → ``requests``)."""
    return _collapse(fold(name))


def sound(name: str) -> str:
    s = skeleton(name)
    for a, b in _HOMOPHONES:
        s = s.replace(a, b)
    return _collapse(s)


def core(name: str) -> str:
    """The name without py/python prefixes and suffixes, separators removed."""
    s = normalise(name)
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if s.startswith(p) and len(s) - len(p) >= MIN_CORE_LEN:
                s = s[len(p) :].lstrip("-")
                changed = True
                break
        for suf in _SUFFIXES:
            if s.endswith(suf) and len(s) - len(suf) >= MIN_CORE_LEN:
                s = s[: -len(suf)].rstrip("-")
                changed = True
                break
    return s.replace("-", "")


def words(name: str) -> str | None:
    parts = [p for p in normalise(name).split("-") if p]
    if len(parts) < 2:
        return None
    return "-".join(sorted(parts))


def _deletes(s: str) -> Iterator[str]:
    yield s
    seen: set[str] = set()
    for i in range(len(s)):
        d = s[:i] + s[i + 1 :]
        if d not in seen:
            seen.add(d)
            yield d


def _deletes2(s: str) -> set[str]:
    """``s`` with zero, one or two characters deleted."""
    out = {s}
    n = len(s)
    for i in range(n):
        d = s[:i] + s[i + 1 :]
        out.add(d)
        for j in range(i, n - 1):
            out.add(d[:j] + d[j + 1 :])
    return out


def osa_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent swaps), capped at ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if min(cur) >= limit:
            return limit
        prev2, prev = prev, cur
    return min(prev[-1], limit)


def _keyboard_neighbours() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r, row in enumerate(_KEYBOARD_ROWS):
        for c, ch in enumerate(row):
            near = out.setdefault(ch, set())
            for dr in (-1, 0, 1):
                rr = r + dr
                if not 0 <= rr < len(_KEYBOARD_ROWS):
                    continue
                for dc in (-1, 0, 1):
                    cc = c + dc
                    if (dr or dc) and 0 <= cc < len(_KEYBOARD_ROWS[rr]):
                        near.add(_KEYBOARD_ROWS[rr][cc])
    return out


_NEAR = _keyboard_neighbours()


def describe_edit(name: str, target: str) -> str:
    """How ``name`` differs from ``target`` in words ("adjacent swap 'eu'/'ue'")."""
    a, b = normalise(name), normalise(target)
    if a.replace("-", "") == b.replace("-", ""):
        return "separator change"
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            i = diff[0]
            return f"adjacent characters swapped ({b[i:i + 2]!r} → {a[i:i + 2]!r})"
        if len(diff) == 1:
            i = diff[0]
            x, y = b[i], a[i]
            for la, lb in _LOOKALIKES:
                if {x, y} <= set(la + lb) and len(la) == 1:
                    return f"look-alike substitution ({x!r} → {y!r})"
            if y in _NEAR.get(x, ()):
                return f"keyboard-neighbour substitution ({x!r} → {y!r})"
            return f"one character substituted ({x!r} → {y!r})"
    if len(a) == len(b) + 1:
        for i in range(len(a)):
            if a[:i] + a[i + 1 :] == b:
                ch = a[i]
                if (i > 0 and a[i - 1] == ch) or (i + 1 < len(a) and a[i + 1] == ch):
                    return f"repeated character ({ch!r})"
                return f"extra character ({ch!r})"
    if len(a) + 1 == len(b):
        for i in range(len(b)):
            if b[:i] + b[i + 1 :] == a:
                return f"dropped character ({b[i]!r})"
    if skeleton(a) == skeleton(b):
        for la, lb in _LOOKALIKES:
            if (la in a and lb in b) or (lb in a and la in b):
                return f"look-alike characters ({lb!r} ↔ {la!r})"
        return "repeated characters or separators"
    if sound(a) == sound(b):
        return "sounds alike"
    if words(a) and words(a) == words(b):
        return "words reordered"
    if core(a) == core(b):
        return "'py'/'python' prefix or suffix added or dropped"
    if osa_distance(fold(a), fold(b)) <= 1:
        return "one edit apart (ignoring separators and look-alikes)"
    if osa_distance(fold(a), fold(b), limit=3) <= 2:
        return "two edits apart"
    return "similar name"


@dataclass(frozen=True, slots=True)
class Squat:
    """``name`` looks like an imitation of the popular project ``target``."""

    name: str
    target: str
    technique: str
    target_downloads: int
    target_rank: int
    name_downloads: int | None

    @property
    def evidence(self) -> str:
        own = f"{self.name_downloads:,}" if self.name_downloads is not None else "not among the popular projects"
        return (
            f"{self.name} ~ {self.target} ({self.technique}); {self.target} is #{self.target_rank} "
            f"with {self.target_downloads:,} downloads/month, {self.name}: {own}"
        )


def _version_suffix_difference(a: str, b: str) -> bool:
    """``boto3``/``boto2``, ``pyqt5``/``pyqt6``, ``python3-openid``: names that differ only in the
    trailing digits of their words are versions of one another, not typos (``asn2crypto`` is a typo)."""
    def strip(s: str) -> list[str]:
        return [w.rstrip("0123456789") for w in normalise(s).split("-")]

    return a != b and strip(a) == strip(b)


class _KeyStore:
    """Typosquat lookup keys in a read-only SQLite file: key -> popular names."""

    TABLES = frozenset({"exact", "near", "near2"})

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._db.execute("SELECT 1 FROM exact LIMIT 1")
        self._lock = threading.Lock()

    def get(self, table: str, keys: Iterable[str]) -> list[str]:
        if table not in self.TABLES:
            raise ValueError(table)
        wanted = list(dict.fromkeys(keys))
        out: list[str] = []
        with self._lock:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT name FROM {table} WHERE key IN ({marks})"  # noqa: S608 - table from TABLES
                out.extend(r[0] for r in self._db.execute(query, chunk))
        return out


class PopularIndex:
    """The popular project names, indexed for typosquat lookups."""

    def __init__(self, rows: Iterable[tuple[str, int]], *, source: str = "", last_update: str = "",
                 store_dir: Path | None = None) -> None:
        self.source = source
        self.last_update = last_update
        # Where the SQLite key store lives (None: keys only ever built in memory).
        self.store_dir = store_dir
        self._store: _KeyStore | None = None
        self._downloads: dict[str, int] = {}
        self._rank: dict[str, int] = {}
        for name, count in rows:
            n = normalise(name)
            if n in self._downloads:
                continue
            self._downloads[n] = int(count)
        for i, n in enumerate(sorted(self._downloads, key=lambda k: -self._downloads[k]), start=1):
            self._rank[n] = i
        self._exact: dict[str, list[str]] = {}
        self._near: dict[str, list[str]] = {}
        self._near2: dict[str, list[str]] = {}
        self._fold: dict[str, str] = {}
        self._built = False
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """The lookup keys, on the first typosquat query: download and rank lookups (the
        star-jacking and shadowing checks) do not need them. Keys live in a SQLite file in the
        cache, built once per list and pipwarden version: a short run (one file) queries it
        instead of spending a third of a second building 300,000 keys in memory."""
        with self._lock:
            if self._built:
                return
            store = self._store_path()
            if store is not None and store.is_file():
                try:
                    self._store = _KeyStore(store)
                except sqlite3.Error:
                    self._store = None
            if self._store is None:
                self._build_keys()
                if store is not None:
                    self._write_store(store)
            self._built = True

    def _store_path(self) -> Path | None:
        if not self.store_dir:
            return None
        from pipwarden.analysis_cache import code_fingerprint

        digest = hashlib.sha256(code_fingerprint().encode())
        for n in sorted(self._downloads):
            digest.update(f"{n}:{self._downloads[n]}\n".encode())
        return Path(self.store_dir) / "typosquat" / f"{digest.hexdigest()[:24]}.sqlite"

    def _write_store(self, path: Path) -> None:
        """Write the in-memory keys as a SQLite file (atomically; a failure only costs speed)."""
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.unlink(missing_ok=True)
            with contextlib.closing(sqlite3.connect(tmp)) as db:
                for table, data in (("exact", self._exact), ("near", self._near), ("near2", self._near2)):
                    db.execute(f"CREATE TABLE {table} (key TEXT NOT NULL, name TEXT NOT NULL)")
                    db.executemany(f"INSERT INTO {table} VALUES (?, ?)",  # noqa: S608 - fixed table names
                                   ((k, n) for k, names in data.items() for n in names))
                    db.execute(f"CREATE INDEX {table}_key ON {table} (key)")
                db.commit()
            tmp.replace(path)
        except (OSError, sqlite3.Error):
            tmp.unlink(missing_ok=True)

    def _get(self, table: str, keys: Iterable[str]) -> list[str]:
        if self._store is not None:
            return self._store.get(table, keys)
        data = {"exact": self._exact, "near": self._near, "near2": self._near2}[table]
        return [n for k in keys for n in data.get(k, ())]

    def _folded(self, name: str) -> str:
        fd = self._fold.get(name)
        return fd if fd is not None else fold(name)

    def _build_keys(self) -> None:
        for n in self._downloads:
            self._add_exact(n)
            fd = self._fold[n] = fold(n)
            if len(fd) >= MIN_EDIT_LEN:
                for d in _deletes(fd):
                    self._near.setdefault(d, []).append(n)
            if len(fd) >= MIN_DIST2_LEN and self._rank[n] <= DIST2_TOP:
                for d in _deletes2(fd):
                    self._near2.setdefault(d, []).append(n)

    def _add_exact(self, n: str) -> None:
        for key in self._keys(n):
            self._exact.setdefault(key, []).append(n)

    @staticmethod
    def _keys(n: str) -> Iterator[str]:
        sk = skeleton(n)
        yield "s:" + sk
        if len(sk) >= MIN_CORE_LEN:
            yield "h:" + sound(n)
        c = core(n)
        if len(c) >= MIN_CORE_LEN:
            yield "c:" + c
        w = words(n)
        if w:
            yield "w:" + w

    def __len__(self) -> int:
        return len(self._downloads)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalise(name) in self._downloads

    def names(self) -> list[str]:
        return sorted(self._downloads, key=lambda k: self._rank[k])

    def downloads(self, name: str) -> int | None:
        return self._downloads.get(normalise(name))

    def rank(self, name: str) -> int | None:
        return self._rank.get(normalise(name))

    def candidates(self, name: str) -> set[str]:
        """Popular names that ``name`` could imitate (itself excluded), before the popularity rule."""
        if not self._built:
            self.prepare()
        n = normalise(name)
        found: set[str] = set(self._get("exact", self._keys(n)))
        fd = fold(n)
        if len(fd) >= MIN_EDIT_LEN - 1:
            for t in self._get("near", set(_deletes(fd))):
                if t in found:
                    continue
                if osa_distance(fd, self._folded(t)) <= 1 and not _version_suffix_difference(n, t):
                    found.add(t)
        if len(fd) >= MIN_DIST2_LEN:
            for t in self._get("near2", set(_deletes2(fd))):
                ft = self._folded(t)
                # Typos land inside a word: two edits that change how the name begins or ends
                # (``tabulator``, ``pytest-async``) are other words, not typos.
                if (t not in found and fd[:2] == ft[:2] and fd[-2:] == ft[-2:]
                        and osa_distance(fd, ft, limit=3) <= 2):
                    found.add(t)
        found.discard(n)
        return {t for t in found if not _version_suffix_difference(n, t) or skeleton(n) == skeleton(t)}

    def match(self, name: str) -> Squat | None:
        """The most popular project ``name`` imitates, or None. Popular names imitating a project
        less than ``POPULAR_RATIO`` times more downloaded are not squats."""
        n = normalise(name)
        own = self._downloads.get(n)
        best: str | None = None
        for t in self.candidates(n):
            td = self._downloads[t]
            if own is not None and td < own * POPULAR_RATIO:
                continue
            if best is None or td > self._downloads[best]:
                best = t
        if best is None:
            return None
        return Squat(
            name=n,
            target=best,
            technique=describe_edit(n, best),
            target_downloads=self._downloads[best],
            target_rank=self._rank[best],
            name_downloads=own,
        )


def parse_rows(doc: Any) -> list[tuple[str, int]]:
    """Rows of a top-packages document (``{"rows": [{"project", "download_count"}]}``)."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rows"), list):
        raise PipwardenError("popular-projects data: expected an object with a 'rows' list")
    rows: list[tuple[str, int]] = []
    for row in doc["rows"]:
        if not isinstance(row, Mapping):
            continue
        project, count = row.get("project"), row.get("download_count")
        if isinstance(project, str) and project and isinstance(count, int) and count >= 0:
            rows.append((project, count))
    if not rows:
        raise PipwardenError("popular-projects data: no usable rows (need 'project' and 'download_count')")
    return rows


def user_data_path() -> Path:
    """Where ``pipwarden data update`` puts a refreshed list; it wins over the shipped copy."""
    return cache_dir() / "data" / DATA_FILE


def cache_dir() -> Path:
    """pipwarden's cache directory (``$PIPWARDEN_CACHE_DIR`` or the per-user cache directory)."""
    from pipwarden.index.cache import default_cache_dir

    return default_cache_dir()


def load_document(path: Path | None = None) -> tuple[dict[str, Any], str]:
    """The raw popular-projects document and where it came from (user copy, else shipped)."""
    if path is None:
        user = user_data_path()
        if user.is_file():
            path = user
    if path is not None:
        try:
            return json.loads(path.read_text(encoding="utf-8")), str(path)
        except (OSError, ValueError) as e:
            raise PipwardenError(f"cannot read popular-projects data {path}: {e}") from e
    from importlib.resources import files

    res = files("pipwarden") / "data" / DATA_FILE
    try:
        return json.loads(res.read_text(encoding="utf-8")), "shipped"
    except (OSError, ValueError) as e:
        raise PipwardenError(f"cannot read the shipped popular-projects data: {e}") from e


@lru_cache(maxsize=1)
def _load_cached(key: str) -> PopularIndex:
    doc, source = load_document(Path(key) if key else None)
    return PopularIndex(parse_rows(doc), source=source, last_update=str(doc.get("last_update", "")),
                        store_dir=cache_dir())


def popular_index() -> PopularIndex:
    """The popular-projects index (user copy when present, else the shipped one), built once."""
    user = user_data_path()
    return _load_cached(str(user) if user.is_file() else "")


__all__ = [
    "POPULAR_RATIO",
    "PopularIndex",
    "Squat",
    "cache_dir",
    "core",
    "describe_edit",
    "fold",
    "load_document",
    "normalise",
    "osa_distance",
    "parse_rows",
    "popular_index",
    "skeleton",
    "sound",
    "user_data_path",
    "words",
]
