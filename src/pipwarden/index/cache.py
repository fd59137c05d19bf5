"""On-disk cache: index metadata with a short TTL and ETag revalidation; artifacts by sha256.

Layout under the root::

    meta/<ab>/<sha256 of url + accept>      one JSON header line, then the response body
    artifacts/sha256/<ab>/<digest>          the artifact's bytes, stored under their own digest

Every entry is written to a temporary file in its final directory, flushed to disk, then moved
into place with ``os.replace``; an artifact is moved only once its digest matched. A crash at any
point leaves either no entry or a complete one (and at worst a ``.tmp-*`` file that is swept later).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pipwarden.errors import IntegrityError

DEFAULT_TTL = 600.0
_TEMP_PREFIX = ".tmp-"
_STALE_TEMP_AGE = 3600.0
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """$PIPWARDEN_CACHE_DIR, else the per-user cache directory of this OS."""
    env = os.environ.get("PIPWARDEN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("pipwarden", appauthor=False))


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """An HTTP response as the cache keeps it (200, and 404/410 as remembered absence)."""

    url: str  # the URL asked for
    final_url: str  # the URL that answered, after redirects (relative links resolve against it)
    status: int
    content_type: str
    etag: str | None
    body: bytes
    stored_at: float

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.stored_at


@dataclass(frozen=True, slots=True)
class MetaStamp:
    """What a cached response is, without its body: enough to name a result computed from it."""

    url: str
    final_url: str
    status: int
    content_type: str
    sha256: str  # of the body
    stored_at: float

    def token(self) -> str:
        return f"{self.status}:{self.sha256}:{self.stored_at!r}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomically(target: Path, chunks: Iterator[bytes] | list[bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


class ArtifactWriter:
    """A file being downloaded into the cache; see ``Cache.artifact_writer``."""

    def __init__(self, handle: IO[bytes], expected: str) -> None:
        self._handle = handle
        self._hash = hashlib.sha256()
        self.expected = expected
        self.size = 0

    def reset(self) -> None:
        """Start over (a retried download)."""
        self._handle.seek(0)
        self._handle.truncate()
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._handle.write(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class Cache:
    """The pipwarden cache under ``root``. Safe to share between threads and processes."""

    def __init__(self, root: Path, *, ttl: float = DEFAULT_TTL) -> None:
        self.root = Path(root)
        self.ttl = ttl

    # -- metadata ------------------------------------------------------------------------

    def _meta_path(self, url: str, accept: str) -> Path:
        key = hashlib.sha256(f"{url}\0{accept}".encode()).hexdigest()
        return self.root / "meta" / key[:2] / key

    def get_meta(self, url: str, accept: str) -> CachedResponse | None:
        """The stored response for (url, accept), fresh or stale; None when absent or unreadable."""
        path = self._meta_path(url, accept)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        header, sep, body = raw.partition(b"\n")
        if not sep:
            return None
        try:
            head = json.loads(header)
            entry = CachedResponse(
                url=str(head["url"]),
                final_url=str(head["final_url"]),
                status=int(head["status"]),
                content_type=str(head["content_type"]),
                etag=None if head.get("etag") is None else str(head["etag"]),
                body=body,
                stored_at=float(head["stored_at"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        if entry.url != url or len(body) != head.get("size", len(body)):
            return None
        return entry

    def get_stamp(self, url: str, accept: str) -> MetaStamp | None:
        """The header of a *fresh* stored response for (url, accept), its body left unread; None when
        absent, stale, unreadable, or written before headers carried the body's digest."""
        try:
            with self._meta_path(url, accept).open("rb") as fh:
                head = json.loads(fh.readline())
            stamp = MetaStamp(
                url=str(head["url"]), final_url=str(head["final_url"]), status=int(head["status"]),
                content_type=str(head["content_type"]), sha256=str(head["sha256"]), stored_at=float(head["stored_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if stamp.url != url or not self._fresh(stamp.stored_at):
            return None
        return stamp

    def is_fresh(self, entry: CachedResponse) -> bool:
        return self._fresh(entry.stored_at)

    def _fresh(self, stored_at: float) -> bool:
        return 0 <= time.time() - stored_at < self.ttl

    def put_meta(self, entry: CachedResponse, accept: str) -> None:
        header = {
            "url": entry.url,
            "final_url": entry.final_url,
            "status": entry.status,
            "content_type": entry.content_type,
            "etag": entry.etag,
            "stored_at": entry.stored_at,
            "size": len(entry.body),
            "sha256": hashlib.sha256(entry.body).hexdigest(),
        }
        line = json.dumps(header, separators=(",", ":")).encode() + b"\n"
        with contextlib.suppress(OSError):
            _write_atomically(self._meta_path(entry.url, accept), [line, entry.body])

    def _parsed_path(self, key: str) -> Path:
        return self.root / "pages" / key[:2] / f"{key}.json"

    def get_parsed(self, key: str) -> Any | None:
        """A parsed form of a response body stored under ``key`` (a digest of the body), or None."""
        try:
            return json.loads(self._parsed_path(key).read_bytes())
        except (OSError, ValueError):
            return None

    def put_parsed(self, key: str, doc: Any) -> None:
        with contextlib.suppress(OSError, TypeError, ValueError):
            _write_atomically(self._parsed_path(key), [json.dumps(doc, separators=(",", ":")).encode()])

    def refresh_meta(self, entry: CachedResponse, accept: str) -> CachedResponse:
        """Mark a revalidated (304) entry fresh again; returns the refreshed entry."""
        fresh = CachedResponse(
            url=entry.url,
            final_url=entry.final_url,
            status=entry.status,
            content_type=entry.content_type,
            etag=entry.etag,
            body=entry.body,
            stored_at=time.time(),
        )
        self.put_meta(fresh, accept)
        return fresh

    # -- artifacts -----------------------------------------------------------------------

    def artifact_path(self, sha256: str) -> Path:
        digest = sha256.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / "artifacts" / "sha256" / digest[:2] / digest

    def get_artifact(self, sha256: str, *, verify: bool = True) -> Path | None:
        """The cached file with this digest, or None. With ``verify`` the bytes are re-hashed and a
        damaged entry is removed (and None returned)."""
        try:
            path = self.artifact_path(sha256)
        except ValueError:
            return None
        if not path.is_file():
            return None
        if verify:
            h = hashlib.sha256()
            try:
                with path.open("rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        h.update(chunk)
            except OSError:
                return None
            if h.hexdigest() != sha256.lower():
                with contextlib.suppress(OSError):
                    path.unlink()
                return None
        return path

    @contextlib.contextmanager
    def artifact_writer(self, sha256: str, filename: str = "") -> Iterator[ArtifactWriter]:
        """Write an artifact expected to have digest ``sha256``.

        Bytes go to a temporary file beside the final entry. On a clean exit the digest is
        checked: a mismatch raises IntegrityError and stores nothing; a match is flushed to disk
        and moved into place. Any exception inside the block discards the temporary file.
        """
        target = self.artifact_path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._sweep(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                writer = ArtifactWriter(fh, sha256.lower())
                yield writer
                fh.flush()
                os.fsync(fh.fileno())
            if writer.sha256 != writer.expected:
                raise IntegrityError(
                    f"{filename or 'download'}: sha256 mismatch: the index published {writer.expected}, "
                    f"the downloaded bytes hash to {writer.sha256}",
                    filename=filename,
                    expected=writer.expected,
                    actual=writer.sha256,
                )
            Path(tmp).replace(target)
            _fsync_dir(target.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise

    def put_bytes(self, data: bytes) -> Path:
        """Store bytes whose digest is computed here (e.g. a verified PEP 658 file)."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.artifact_path(digest)
        if not target.is_file():
            _write_atomically(target, [data])
        return target

    @staticmethod
    def _sweep(directory: Path) -> None:
        """Remove temporary files left by crashed writers (older than an hour)."""
        cutoff = time.time() - _STALE_TEMP_AGE
        try:
            with os.scandir(directory) as it:
                for item in it:
                    if item.name.startswith(_TEMP_PREFIX):
                        with contextlib.suppress(OSError):
                            if item.stat().st_mtime < cutoff:
                                Path(item.path).unlink()
        except OSError:
            return
