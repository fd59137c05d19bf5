"""Talking to a package index: simple API, JSON API, Integrity API and downloads.

One ``httpx.Client`` with explicit timeouts, shared by a thread pool for concurrent downloads.
Retries with exponential backoff and jitter on 5xx, 429 and connection/timeout errors. Index
pages go through the metadata cache (TTL + ETag revalidation); artifacts are streamed to a
temporary file beside their cache entry and stored only once their sha256 matched.

Credentials in the index URL are taken out of every URL and sent as basic auth to that host only;
messages never show them.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

import httpx
from packaging.utils import canonicalize_name
from packaging.version import Version

from pipwarden import __version__
from pipwarden.errors import IndexClientError, IntegrityError, NotFoundError, PipwardenError
from pipwarden.index.cache import Cache, CachedResponse, MetaStamp
from pipwarden.index.config import check_index_url, is_insecure, redact_url, split_credentials
from pipwarden.index.models import (
    IndexFile,
    ProjectPage,
    ReleaseInfo,
    file_from_json,
    file_to_json,
    page_from_json,
    page_to_json,
)
from pipwarden.index.simple import ACCEPT_SIMPLE, media_type, parse_json_api, parse_project_page

ACCEPT_JSON = "application/json"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Index pages larger than this are refused (a hostile or broken index must not exhaust memory).
MAX_PAGE_BYTES = 256 * 1024 * 1024
MAX_BACKOFF = 8.0
_CHUNK = 1 << 16
# Hash names the index may give, strongest first, that hashlib computes everywhere.
# Parsed pages of this process, by the digest of what was parsed: a lock's hashing stage and its
# vetting stage ask for the same hundred pages; the second time costs nothing.
_PAGES: dict[str, ProjectPage] = {}
_PAGES_MAX = 512
_PAGES_LOCK = threading.Lock()

_VERIFIABLE = ("sha256", "sha512", "sha384", "blake2b", "sha3_256", "sha224", "sha1", "md5")


class _Response:
    """What the client keeps of an HTTP answer."""

    __slots__ = ("body", "content_type", "etag", "final_url", "status")

    def __init__(self, status: int, final_url: str, content_type: str, etag: str | None, body: bytes) -> None:
        self.status = status
        self.final_url = final_url
        self.content_type = content_type
        self.etag = etag
        self.body = body


class IndexClient:
    """A package index at ``index_url`` (its simple API root, e.g. ``https://host/simple/``)."""

    def __init__(
        self,
        index_url: str,
        *,
        cache: Cache | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        allow_insecure: bool = False,
        max_workers: int = 8,
        backoff: float = 0.5,
    ) -> None:
        checked = check_index_url(index_url, allow_insecure)
        self.index_url, credentials = split_credentials(checked)
        self._auth_host = urlsplit(self.index_url).netloc.lower()
        self._auth = httpx.BasicAuth(*credentials) if credentials else None
        root = self.index_url
        if root.endswith("/simple/"):
            root = root[: -len("simple/")]
        self.root_url = root
        self.cache = cache
        self.timeout = timeout
        self.retries = max(0, retries)
        self.allow_insecure = allow_insecure
        self.max_workers = max(1, max_workers)
        self.backoff = backoff
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            headers={"User-Agent": f"pipwarden/{__version__}"},
            limits=httpx.Limits(max_connections=self.max_workers + 4, max_keepalive_connections=self.max_workers),
            # every request, redirect hops included, is checked before it is sent
            event_hooks={"request": [self._check_request]},
        )
        self._tmpdir: Path | None = None
        self._tmp_lock = threading.Lock()
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._http.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def display_url(self) -> str:
        return redact_url(self.index_url)

    # -- HTTP plumbing -----------------------------------------------------------------------

    def _auth_for(self, url: str) -> httpx.BasicAuth | None:
        if self._auth is not None and urlsplit(url).netloc.lower() == self._auth_host:
            return self._auth
        return None

    def _check_url(self, url: str) -> None:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise IndexClientError(f"refusing non-http URL {redact_url(url)} served by the index")
        if not self.allow_insecure and is_insecure(url):
            raise IndexClientError(
                f"refusing plain-http URL {redact_url(url)}: use https or pass --allow-insecure-index"
            )

    def _check_request(self, request: httpx.Request) -> None:
        self._check_url(str(request.url))

    def _sleep_before_retry(self, attempt: int, retry_after: str | None = None) -> None:
        delay = min(MAX_BACKOFF, self.backoff * (2**attempt))
        delay += random.uniform(0, delay / 2)  # noqa: S311 - jitter, not cryptography
        if retry_after:
            with suppress(ValueError):
                delay = max(delay, min(MAX_BACKOFF, float(retry_after)))
        time.sleep(delay)

    @contextmanager
    def _stream(self, url: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """One GET, streamed, with redirect-target checks. Transport errors propagate (httpx)."""
        with self._http.stream("GET", url, headers=headers, auth=self._auth_for(url) or httpx.USE_CLIENT_DEFAULT) as r:
            yield r

    def _failure(self, url: str, attempts: int, error: Exception) -> IndexClientError:
        shown = redact_url(url)
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if isinstance(error, httpx.TimeoutException):
            return IndexClientError(f"timed out talking to {shown} after {tries} (timeout {self.timeout:g} s)")
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return IndexClientError(f"cannot reach {shown} after {tries}: {redact_url(reason)}")

    def _get(self, url: str, headers: dict[str, str], *, limit: int = MAX_PAGE_BYTES) -> _Response:
        """GET with retries; the body read in full (up to ``limit``). Returns any final status."""
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                with self._stream(url, headers) as r:
                    if r.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                        retry_after = r.headers.get("Retry-After")
                    else:
                        chunks: list[bytes] = []
                        total = 0
                        for chunk in r.iter_bytes(_CHUNK):
                            total += len(chunk)
                            if total > limit:
                                raise IndexClientError(f"response from {redact_url(url)} is larger than {limit} bytes")
                            chunks.append(chunk)
                        if r.status_code in RETRY_STATUSES:
                            raise IndexClientError(
                                f"{redact_url(url)} answered HTTP {r.status_code} after {attempts} attempts"
                            )
                        return _Response(
                            r.status_code,
                            str(r.url),
                            r.headers.get("Content-Type", ""),
                            r.headers.get("ETag"),
                            b"".join(chunks),
                        )
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
                raise IndexClientError(f"cannot fetch {redact_url(url)}: {e}") from e
            except httpx.TransportError as e:
                if attempt + 1 >= attempts:
                    raise self._failure(url, attempts, e) from e
                retry_after = None
            except (httpx.TooManyRedirects, httpx.DecodingError) as e:
                raise IndexClientError(f"cannot fetch {redact_url(url)}: {e}") from e
            self._sleep_before_retry(attempt, retry_after)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_cached(self, url: str, accept: str) -> _Response:
        """GET through the metadata cache: fresh entries are reused, stale ones revalidated."""
        entry: CachedResponse | None = None
        if self.cache is not None:
            entry = self.cache.get_meta(url, accept)
            if entry is not None and self.cache.is_fresh(entry):
                return _Response(entry.status, entry.final_url, entry.content_type, entry.etag, entry.body)
            if entry is not None and entry.status != 200:
                entry = None  # a stale "not found" is asked again from scratch
        headers = {"Accept": accept}
        if entry is not None and entry.etag:
            headers["If-None-Match"] = entry.etag
        response = self._get(url, headers)
        if response.status == 304 and entry is not None and self.cache is not None:
            entry = self.cache.refresh_meta(entry, accept)
            return _Response(200, entry.final_url, entry.content_type, entry.etag, entry.body)
        # "Not found" is remembered for the same short time as a page: warm runs do not ask the
        # Integrity API or the JSON API again for what they lacked a minute ago.
        if response.status in (200, 404, 410) and self.cache is not None:
            self.cache.put_meta(
                CachedResponse(
                    url=url,
                    final_url=response.final_url,
                    status=response.status,
                    content_type=response.content_type,
                    etag=response.etag,
                    body=response.body,
                    stored_at=time.time(),
                ),
                accept,
            )
        return response

    def _status_error(self, url: str, status: int) -> IndexClientError:
        if status in (401, 403, 407):
            return IndexClientError(f"{redact_url(url)} answered HTTP {status}: check the index credentials")
        return IndexClientError(f"{redact_url(url)} answered HTTP {status}")

    # -- simple API ----------------------------------------------------------------------------

    def project_url(self, name: str) -> str:
        return f"{self.index_url}{canonicalize_name(name)}/"

    def project(self, name: str) -> ProjectPage:
        """The project's simple-API page. NotFoundError when the index has no such project."""
        url = self.project_url(name)
        response = self._get_cached(url, ACCEPT_SIMPLE)
        if response.status in (404, 410):
            raise NotFoundError(f"no project named {name} on {self.display_url}")
        if response.status != 200:
            raise self._status_error(url, response.status)
        if self.cache is None:
            return parse_project_page(response.body, response.content_type, response.final_url, name)
        # Large pages (thousands of files) cost more to parse than to load as JSON: keep the
        # parsed page under a digest of exactly what was parsed, and of the parser's version.
        key = self._parsed_key(response.final_url, response.content_type, hashlib.sha256(response.body).hexdigest())
        with _PAGES_LOCK:
            page = _PAGES.get(key)
        if page is not None:
            return page
        stored = self.cache.get_parsed(key)
        page = None
        if isinstance(stored, dict):
            with suppress(KeyError, TypeError, ValueError):
                page = page_from_json(stored)
        if page is None:
            page = parse_project_page(response.body, response.content_type, response.final_url, name)
            self.cache.put_parsed(key, page_to_json(page))
        with _PAGES_LOCK:
            if len(_PAGES) >= _PAGES_MAX:
                _PAGES.clear()
            _PAGES[key] = page
        return page

    @staticmethod
    def _parsed_key(final_url: str, content_type: str, body_sha256: str, *more: str) -> str:
        text = "\0".join((__version__, final_url, content_type, body_sha256, *more))
        return hashlib.sha256(text.encode()).hexdigest()

    def release_files(self, name: str, version: Version) -> list[IndexFile]:
        """The files of one release, as ``project(name).files_for(version)`` gives them. While the
        page is fresh in the cache, they come from a small per-release entry instead of the whole
        parsed page (a warm lock of a hundred packages then reads a hundred small files)."""
        key = self._files_key(name, version)
        if key is not None and self.cache is not None:
            stored = self.cache.get_parsed(key)
            if isinstance(stored, list):
                with suppress(KeyError, TypeError, ValueError):
                    return [file_from_json(d) for d in stored]
        files = self.project(name).files_for(version)
        key = key or self._files_key(name, version)  # the page may have been fetched just now
        if key is not None and self.cache is not None:
            self.cache.put_parsed(key, [file_to_json(f) for f in files])
        return files

    def _files_key(self, name: str, version: Version) -> str | None:
        stamp = self.project_stamp(name)
        if stamp is None or stamp.status != 200:
            return None
        return self._parsed_key(stamp.final_url, stamp.content_type, stamp.sha256, "files", str(version))

    def project_stamp(self, name: str) -> MetaStamp | None:
        """The stamp of the project page fresh in the cache, or None (no cache, absent or stale)."""
        return self.cache.get_stamp(self.project_url(name), ACCEPT_SIMPLE) if self.cache is not None else None

    def release_stamp(self, name: str, version: str) -> MetaStamp | None:
        """The stamp of the release's JSON API response fresh in the cache (a 404 included), or None."""
        if self.cache is None:
            return None
        return self.cache.get_stamp(self.release_url(name, version), ACCEPT_JSON)

    # -- JSON API and Integrity API ----------------------------------------------------------

    def _json_or_none(self, url: str) -> _Response | None:
        response = self._get_cached(url, ACCEPT_JSON)
        if response.status in (401, 407):
            raise self._status_error(url, response.status)
        if response.status != 200:
            return None
        return response

    def release_url(self, name: str, version: str | None = None) -> str:
        norm = canonicalize_name(name)
        return f"{self.root_url}pypi/{norm}/{version}/json" if version else f"{self.root_url}pypi/{norm}/json"

    def release(self, name: str, version: str | None = None) -> ReleaseInfo | None:
        """The JSON API's view of a release (or of the project when version is None).

        None when the index has no JSON API, or not this project or version.
        """
        norm = canonicalize_name(name)
        url = self.release_url(name, version)
        response = self._json_or_none(url)
        if response is None or "json" not in media_type(response.content_type):
            return None
        return parse_json_api(response.body, response.final_url, str(norm), version)

    def get_json(self, url: str) -> Any | None:
        """GET a JSON document (cached, ETag-revalidated); None when the index has none (4xx)."""
        response = self._json_or_none(url)
        if response is None:
            return None
        try:
            return json.loads(response.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise IndexClientError(f"malformed JSON from {redact_url(url)}: {e}") from e

    # -- downloads ---------------------------------------------------------------------------

    def _tempdir(self) -> Path:
        with self._tmp_lock:
            if self._tmpdir is None:
                self._tmpdir = Path(tempfile.mkdtemp(prefix="pipwarden-"))
            return self._tmpdir

    def _download(self, url: str, sink: _Sink, *, filename: str) -> None:
        """Stream ``url`` into ``sink`` (reset before each attempt), with retries."""
        attempts = self.retries + 1
        for attempt in range(attempts):
            sink.reset()
            retry_after: str | None = None
            try:
                with self._stream(url, {"Accept": "*/*"}) as r:
                    if r.status_code == 200:
                        for chunk in r.iter_bytes(_CHUNK):
                            sink.write(chunk)
                        return
                    if r.status_code in (404, 410):
                        raise NotFoundError(f"{filename}: not found on the index ({redact_url(url)})")
                    if r.status_code not in RETRY_STATUSES or attempt + 1 >= attempts:
                        raise self._status_error(url, r.status_code)
                    retry_after = r.headers.get("Retry-After")
            except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects, httpx.DecodingError) as e:
                raise IndexClientError(f"cannot download {filename} from {redact_url(url)}: {e}") from e
            except httpx.TransportError as e:
                if attempt + 1 >= attempts:
                    raise self._failure(url, attempts, e) from e
            self._sleep_before_retry(attempt, retry_after)

    def fetch(self, file: IndexFile) -> Path:
        """Download ``file`` and verify it against the index's digest; a path to its bytes.

        With a cache the file lands in the cache (a hit makes no request); without one, in a
        temporary directory owned by this client. A digest mismatch raises IntegrityError and
        stores nothing.
        """
        expected = file.sha256
        if self.cache is not None and expected:
            hit = self.cache.get_artifact(expected)
            if hit is not None:
                return hit
            with self.cache.artifact_writer(expected, file.filename) as writer:
                self._download(file.url, writer, filename=file.filename)
            return self.cache.artifact_path(expected)
        # No sha256 to key a cache entry on (or no cache): a private temporary file, verified
        # against whatever hash the index did give.
        algo, digest = _strongest(file.hashes)
        fd, tmp = tempfile.mkstemp(prefix=".dl-", suffix="-" + Path(file.filename).name, dir=self._tempdir())
        try:
            with os.fdopen(fd, "w+b") as fh:
                sink = _FileSink(fh, algo or "sha256")
                self._download(file.url, sink, filename=file.filename)
            if algo and sink.hexdigest() != digest:
                raise IntegrityError(
                    f"{file.filename}: {algo} mismatch: the index published {digest}, "
                    f"the downloaded bytes hash to {sink.hexdigest()}",
                    filename=file.filename,
                    expected=digest,
                    actual=sink.hexdigest(),
                )
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Path(tmp)

    def fetch_many(self, files: Sequence[IndexFile]) -> list[Path | PipwardenError]:
        """Download files concurrently (``max_workers`` threads); results in the same order."""

        def one(f: IndexFile) -> Path | PipwardenError:
            try:
                return self.fetch(f)
            except PipwardenError as e:
                return e

        if len(files) <= 1:
            return [one(f) for f in files]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(files)), thread_name_prefix="pw-fetch") as pool:
            return list(pool.map(one, files))

    def core_metadata(self, file: IndexFile) -> bytes | None:
        """The PEP 658 metadata file (``<file url>.metadata``) when the index serves one.

        Verified against the hash the index gives for it (IntegrityError on mismatch).
        """
        if not file.core_metadata:
            return None
        hashes = file.core_metadata if not isinstance(file.core_metadata, bool) else {}
        expected = hashes.get("sha256")
        if self.cache is not None and expected:
            hit = self.cache.get_artifact(expected)
            if hit is not None:
                return hit.read_bytes()
        url = file.url + ".metadata"
        response = self._get(url, {"Accept": "*/*"}, limit=64 * 1024 * 1024)
        if response.status in (404, 410):
            return None
        if response.status != 200:
            raise self._status_error(url, response.status)
        algo, digest = _strongest(hashes)
        if algo:
            actual = hashlib.new(algo, response.body).hexdigest()
            if actual != digest:
                name = file.filename + ".metadata"
                raise IntegrityError(
                    f"{name}: {algo} mismatch: the index published {digest}, the served file hashes to {actual}",
                    filename=name,
                    expected=digest,
                    actual=actual,
                )
            if self.cache is not None and algo == "sha256":
                self.cache.put_bytes(response.body)
        return response.body


class _Sink(Protocol):
    def reset(self) -> None: ...
    def write(self, chunk: bytes) -> None: ...


class _FileSink:
    """A temporary file being downloaded, hashed as it is written."""

    def __init__(self, handle: IO[bytes], algo: str) -> None:
        self._handle = handle
        self._algo = algo
        self._hash = hashlib.new(algo)

    def reset(self) -> None:
        self._handle.seek(0)
        self._handle.truncate()
        self._hash = hashlib.new(self._algo)

    def write(self, chunk: bytes) -> None:
        self._handle.write(chunk)
        self._hash.update(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _strongest(hashes: Mapping[str, str]) -> tuple[str | None, str]:
    """(hashlib name, hex digest) of the strongest verifiable hash given, or (None, "")."""
    if not hashes:
        return None, ""
    for algo in _VERIFIABLE:
        value = hashes.get(algo)
        if isinstance(value, str) and value:
            return algo, value.lower()
    return None, ""
