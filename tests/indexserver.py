"""A real package index on 127.0.0.1 for tests: simple API (HTML + JSON), JSON API, Integrity API.

It serves artifacts the tests build in a temporary directory (tests/builders.py). Nothing here
runs them: metadata is read from the archive as text.

    with LocalIndex() as index:
        index.add(make_wheel(tmp_path, "demo", "1.0"))
        index.url   # "http://127.0.0.1:PORT/simple/"
        index.root  # "http://127.0.0.1:PORT/"

Routes:

- ``/simple/`` project list; ``/simple/<name>/`` a project page, PEP 691 JSON when the Accept header
  asks for it (and ``simple_json``), else PEP 503 HTML. Non-normalised names redirect (301).
- ``/packages/<filename>`` the bytes; ``/packages/<filename>.metadata`` the PEP 658 metadata.
- ``/pypi/<name>/json`` and ``/pypi/<name>/<version>/json`` the JSON API (404 when ``json_api=False``).
- ``/integrity/<name>/<version>/<filename>/provenance`` the PEP 740 provenance (404 when none).

Fault injection: ``slow`` (path -> seconds before answering), ``fail_next`` (path -> number of 503
answers first), ``truncate`` (path -> bytes sent before the connection is dropped mid-body, with the
full Content-Length announced), ``stall`` (path -> (bytes, seconds): send that many bytes, pause, then
the rest), ``overrides`` (path -> (status, headers, body) served as is).
Every request is logged in ``requests`` as (method, path, headers).
"""

from __future__ import annotations

import email.parser
import hashlib
import html
import json
import tarfile
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipwarden.index.models import parse_filename

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
API_VERSION = "1.4"
DEFAULT_UPLOAD_TIME = datetime(2023, 1, 1, tzinfo=UTC)


@dataclass
class Entry:
    """One registered artifact."""

    path: Path
    filename: str
    project: str  # normalised
    display_name: str
    version: str
    data: bytes
    yanked: bool | str
    upload_time: datetime
    requires_python: str | None
    bad_digest: bool
    metadata: bytes | None  # PEP 658 file, None when not served
    info_metadata: bytes | None  # the archive's own METADATA / PKG-INFO, for the JSON API
    provenance: dict[str, Any] | None

    @property
    def sha256(self) -> str:
        """The digest the index publishes (wrong on purpose when bad_digest)."""
        real = hashlib.sha256(self.data).hexdigest()
        if self.bad_digest:
            return hashlib.sha256(b"not " + self.data).hexdigest()
        return real

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()

    @property
    def blake2b_256(self) -> str:
        return hashlib.blake2b(self.data, digest_size=32).hexdigest()

    @property
    def is_yanked(self) -> bool:
        return self.yanked is not False

    @property
    def yanked_reason(self) -> str | None:
        return self.yanked if isinstance(self.yanked, str) and self.yanked else None

    @property
    def packagetype(self) -> str:
        return "bdist_wheel" if self.filename.endswith(".whl") else "sdist"


@dataclass
class Project:
    name: str  # normalised
    display_name: str
    entries: list[Entry] = field(default_factory=list)
    status: str | None = None
    status_reason: str | None = None
    ownership: dict[str, Any] | None = None
    vulnerabilities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _read_archive_metadata(path: Path, data: bytes) -> bytes | None:
    """The METADATA (wheel) or PKG-INFO (sdist) file, read as bytes. Nothing is executed."""
    import io

    name = path.name
    try:
        if name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for member in zf.namelist():
                    parts = member.split("/")
                    if name.endswith(".whl") and len(parts) == 2 and parts[0].endswith(".dist-info"):
                        if parts[1] == "METADATA":
                            return zf.read(member)
                    elif len(parts) == 2 and parts[1] == "PKG-INFO":
                        return zf.read(member)
            return None
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            for info in tf.getmembers():
                parts = info.name.split("/")
                if len(parts) == 2 and parts[1] == "PKG-INFO" and info.isfile():
                    fh = tf.extractfile(info)
                    return fh.read() if fh else None
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError):
        return None
    return None


def _negotiate(accept: str | None, allow_json: bool) -> str:
    """Pick the simple-API content type for an Accept header (PEP 691).

    Each offer takes the q of the most specific media range that matches it. Ties go to an exact
    match, then to JSON over HTML; a bare wildcard (``*/*``, as generic HTTP clients send) gets
    ``text/html``, as a legacy index would answer.
    """
    offers = ([JSON_V1] if allow_json else []) + [HTML_V1, "text/html"]
    if not accept:
        return "text/html"
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        q = 1.0
        for param in pieces[1:]:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        media = media.replace(".latest+", ".v1+")
        ranges.append((media, q))
    best: tuple[float, int, int, str] | None = None
    for rank, offer in enumerate(offers):
        match: tuple[int, float] | None = None  # (specificity, q)
        for media, q in ranges:
            if media == offer:
                spec = 2
            elif media.endswith("/*") and offer.startswith(media[:-1]):
                spec = 1
            elif media == "*/*":
                spec = 0
            else:
                continue
            if match is None or spec > match[0]:
                match = (spec, q)
        if match is None or match[1] <= 0:
            continue
        exact = 1 if match[0] == 2 else 0
        preference = -rank if exact else rank  # wildcard-only matches prefer text/html
        cand = (match[1], exact, preference, offer)
        if best is None or cand[:3] > best[:3]:
            best = cand
    return best[3] if best else "text/html"


class LocalIndex:
    """A threaded HTTP package index on 127.0.0.1 (context manager)."""

    def __init__(
        self,
        *,
        json_api: bool = True,
        relative_urls: bool = False,
        simple_json: bool = True,
        html_upload_time: bool = False,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.json_api = json_api
        self.relative_urls = relative_urls
        self.simple_json = simple_json
        self.html_upload_time = html_upload_time
        self.auth = auth
        self.projects: dict[str, Project] = {}
        self.slow: dict[str, float] = {}
        self.fail_next: dict[str, int] = {}
        self.truncate: dict[str, int] = {}
        self.stall: dict[str, tuple[int, float]] = {}
        self.overrides: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalIndex:
        handler = type("Handler", (_Handler,), {"index": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LocalIndex:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "LocalIndex not started"
        return int(self._server.server_address[1])

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def url(self) -> str:
        return self.root + "simple/"

    def paths(self, method: str | None = None) -> list[str]:
        """Paths requested so far (optionally only for one method)."""
        with self._lock:
            return [p for m, p, _h in self.requests if method is None or m == method]

    # -- content ---------------------------------------------------------------------------

    def add(
        self,
        path: Path,
        *,
        yanked: bool | str = False,
        upload_time: datetime | None = None,
        requires_python: str | None = None,
        bad_digest: bool = False,
        metadata: bytes | bool = True,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        """Register an artifact for its project. ``yanked`` may be a reason string ("" = no reason).

        ``metadata``: True serves the wheel's own METADATA as the PEP 658 file (wheels only);
        bytes serve those bytes instead; False serves none. Upload times default to 2023-01-01
        plus one minute per registered file, so test releases are not "brand new".
        """
        path = Path(path)
        parsed = parse_filename(path.name)
        if parsed is None:
            raise ValueError(f"not a wheel or sdist filename: {path.name}")
        name, version = parsed
        data = path.read_bytes()
        own = _read_archive_metadata(path, data)
        display = name
        if own is not None:
            msg = email.parser.BytesParser().parsebytes(own, headersonly=True)
            display = str(msg.get("Name") or name)
        if metadata is True:
            pep658 = own if path.name.endswith(".whl") else None
        elif metadata is False:
            pep658 = None
        else:
            pep658 = metadata
        with self._lock:
            self._counter += 1
            when = upload_time or DEFAULT_UPLOAD_TIME + timedelta(minutes=self._counter)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            project = self.projects.setdefault(name, Project(name=name, display_name=display))
            project.entries = [e for e in project.entries if e.filename != path.name]
            project.entries.append(
                Entry(
                    path=path,
                    filename=path.name,
                    project=name,
                    display_name=display,
                    version=str(version),
                    data=data,
                    yanked=yanked,
                    upload_time=when,
                    requires_python=requires_python,
                    bad_digest=bad_digest,
                    metadata=pep658,
                    info_metadata=own,
                    provenance=provenance,
                )
            )

    def _project(self, name: str) -> Project:
        key = canonicalize_name(name)
        if key not in self.projects:
            self.projects[key] = Project(name=key, display_name=name)
        return self.projects[key]

    def set_project_status(self, name: str, status: str, reason: str | None = None) -> None:
        """PEP 792 project status (active, archived, quarantined, deprecated)."""
        with self._lock:
            project = self._project(name)
            project.status = status
            project.status_reason = reason

    def set_ownership(self, name: str, ownership: dict[str, Any]) -> None:
        with self._lock:
            self._project(name).ownership = ownership

    def set_vulnerabilities(self, name: str, version: str, vulns: list[dict[str, Any]]) -> None:
        with self._lock:
            self._project(name).vulnerabilities[version] = vulns

    def file_url(self, filename: str) -> str:
        """The absolute URL of a registered file."""
        return f"{self.root}packages/{filename}"

    def entry(self, filename: str) -> Entry:
        for project in self.projects.values():
            for e in project.entries:
                if e.filename == filename:
                    return e
        raise KeyError(filename)

    # -- rendering -------------------------------------------------------------------------

    def _href(self, entry: Entry) -> str:
        if self.relative_urls:
            return f"../../packages/{entry.filename}"
        return self.file_url(entry.filename)

    def _provenance_url(self, entry: Entry) -> str | None:
        if entry.provenance is None:
            return None
        return f"{self.root}integrity/{entry.project}/{entry.version}/{entry.filename}/provenance"

    def render_index(self, ctype: str) -> bytes:
        names = sorted(self.projects)
        if ctype == JSON_V1:
            doc = {"meta": {"api-version": API_VERSION}, "projects": [{"name": n} for n in names]}
            return json.dumps(doc).encode()
        links = "\n".join(f'    <a href="{n}/">{html.escape(n)}</a><br />' for n in names)
        return (
            "<!DOCTYPE html>\n<html>\n  <head>\n"
            f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
            "    <title>Simple index</title>\n  </head>\n  <body>\n"
            f"{links}\n  </body>\n</html>\n"
        ).encode()

    def render_project(self, project: Project, ctype: str) -> bytes:
        entries = sorted(project.entries, key=lambda e: (Version(e.version), e.filename))
        if ctype == JSON_V1:
            files = []
            for e in entries:
                core: dict[str, str] | bool = False
                if e.metadata is not None:
                    core = {"sha256": hashlib.sha256(e.metadata).hexdigest()}
                files.append(
                    {
                        "filename": e.filename,
                        "url": self._href(e),
                        "hashes": {"sha256": e.sha256},
                        "requires-python": e.requires_python,
                        "yanked": e.yanked if isinstance(e.yanked, str) and e.yanked else e.is_yanked,
                        "upload-time": _iso(e.upload_time),
                        "size": len(e.data),
                        "core-metadata": core,
                        "dist-info-metadata": core,
                        "provenance": self._provenance_url(e),
                    }
                )
            versions = sorted({e.version for e in entries}, key=Version)
            doc: dict[str, Any] = {
                "meta": {"api-version": API_VERSION},
                "name": project.name,
                "versions": versions,
                "files": files,
            }
            if project.status is not None:
                status: dict[str, str] = {"status": project.status}
                if project.status_reason:
                    status["reason"] = project.status_reason
                doc["project-status"] = status
            return json.dumps(doc).encode()
        lines = []
        for e in entries:
            attrs = [f'href="{html.escape(self._href(e))}#sha256={e.sha256}"']
            if e.requires_python is not None:
                attrs.append(f'data-requires-python="{html.escape(e.requires_python)}"')
            if e.is_yanked:
                attrs.append(f'data-yanked="{html.escape(e.yanked_reason or "")}"')
            if e.metadata is not None:
                digest = hashlib.sha256(e.metadata).hexdigest()
                attrs.append(f'data-dist-info-metadata="sha256={digest}"')
                attrs.append(f'data-core-metadata="sha256={digest}"')
            prov = self._provenance_url(e)
            if prov is not None:
                attrs.append(f'data-provenance="{html.escape(prov)}"')
            if self.html_upload_time:
                attrs.append(f'data-upload-time="{_iso(e.upload_time)}"')
            lines.append(f"    <a {' '.join(attrs)}>{html.escape(e.filename)}</a><br />")
        metas = [f'    <meta name="pypi:repository-version" content="{API_VERSION}">']
        if project.status is not None:
            metas.append(f'    <meta name="pypi:project-status" content="{html.escape(project.status)}">')
            if project.status_reason:
                metas.append(
                    f'    <meta name="pypi:project-status-reason" content="{html.escape(project.status_reason)}">'
                )
        body = "\n".join(lines)
        return (
            "<!DOCTYPE html>\n<html>\n  <head>\n"
            + "\n".join(metas)
            + f"\n    <title>Links for {html.escape(project.name)}</title>\n  </head>\n  <body>\n"
            f"    <h1>Links for {html.escape(project.name)}</h1>\n{body}\n  </body>\n</html>\n"
        ).encode()

    def _json_file(self, e: Entry) -> dict[str, Any]:
        return {
            "comment_text": "",
            "digests": {"md5": e.md5, "sha256": e.sha256, "blake2b_256": e.blake2b_256},
            "downloads": -1,
            "filename": e.filename,
            "has_sig": False,
            "md5_digest": e.md5,
            "packagetype": e.packagetype,
            "python_version": "py3" if e.packagetype == "bdist_wheel" else "source",
            "requires_python": e.requires_python,
            "size": len(e.data),
            "upload_time": e.upload_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "upload_time_iso_8601": _iso(e.upload_time),
            "url": self.file_url(e.filename),
            "yanked": e.is_yanked,
            "yanked_reason": e.yanked_reason,
        }

    def _info(self, project: Project, version: str, entries: list[Entry]) -> dict[str, Any]:
        meta = None
        for e in sorted(entries, key=lambda e: not e.filename.endswith(".whl")):
            if e.info_metadata is not None:
                meta = email.parser.BytesParser().parsebytes(e.info_metadata)
                break
        info: dict[str, Any] = {
            "author": None,
            "author_email": None,
            "classifiers": [],
            "description": "",
            "description_content_type": None,
            "home_page": None,
            "keywords": None,
            "license": None,
            "maintainer": None,
            "maintainer_email": None,
            "name": project.display_name,
            "package_url": f"{self.root}project/{project.name}/",
            "project_url": f"{self.root}project/{project.name}/",
            "project_urls": None,
            "release_url": f"{self.root}project/{project.name}/{version}/",
            "requires_dist": None,
            "requires_python": None,
            "summary": None,
            "version": version,
            "yanked": all(e.is_yanked for e in entries),
            "yanked_reason": next((e.yanked_reason for e in entries if e.yanked_reason), None),
            "ownership": project.ownership,
        }
        if meta is not None:
            simple = {
                "Name": "name",
                "Version": "version",
                "Summary": "summary",
                "Author": "author",
                "Author-email": "author_email",
                "Maintainer": "maintainer",
                "Maintainer-email": "maintainer_email",
                "Home-page": "home_page",
                "License": "license",
                "Keywords": "keywords",
                "Requires-Python": "requires_python",
                "Description-Content-Type": "description_content_type",
            }
            for header, key in simple.items():
                value = meta.get(header)
                if value is not None:
                    info[key] = str(value)
            requires = meta.get_all("Requires-Dist")
            if requires:
                info["requires_dist"] = [str(r) for r in requires]
            classifiers = meta.get_all("Classifier")
            if classifiers:
                info["classifiers"] = [str(c) for c in classifiers]
            urls = meta.get_all("Project-URL")
            if urls:
                pairs = [str(u).split(",", 1) for u in urls]
                info["project_urls"] = {k.strip(): v.strip() for k, v in (p for p in pairs if len(p) == 2)}
            payload = meta.get_payload()
            info["description"] = str(meta.get("Description") or (payload if isinstance(payload, str) else ""))
        return info

    def render_json_api(self, project: Project, version: str | None) -> bytes | None:
        by_version: dict[str, list[Entry]] = {}
        for e in project.entries:
            by_version.setdefault(e.version, []).append(e)
        if not by_version:
            return None
        if version is None:
            target = self._latest(by_version)
        else:
            try:
                wanted = Version(version)
            except InvalidVersion:
                return None
            matches = [v for v in by_version if Version(v) == wanted]
            if not matches:
                return None
            target = matches[0]
        entries = sorted(by_version[target], key=lambda e: e.filename)
        doc: dict[str, Any] = {
            "info": self._info(project, target, entries),
            "last_serial": self._counter,
            "urls": [self._json_file(e) for e in entries],
            "vulnerabilities": project.vulnerabilities.get(target, []),
            "ownership": project.ownership,
        }
        if version is None:
            doc["releases"] = {
                v: [self._json_file(e) for e in sorted(es, key=lambda e: e.filename)]
                for v, es in sorted(by_version.items(), key=lambda kv: Version(kv[0]))
            }
        return json.dumps(doc).encode()

    @staticmethod
    def _latest(by_version: dict[str, list[Entry]]) -> str:
        def key(v: str) -> tuple[bool, bool, Version]:
            parsed = Version(v)
            live = not all(e.is_yanked for e in by_version[v])
            return (live, not parsed.is_prerelease, parsed)

        return max(by_version, key=key)


_Response = tuple[int, bytes, str, dict[str, str], bool]


class _Handler(BaseHTTPRequestHandler):
    index: LocalIndex
    protocol_version = "HTTP/1.1"
    server_version = "pipwarden-test-index/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_GET(self) -> None:
        self._handle(head=False)

    # -- plumbing --------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes = b"",
        ctype: str = "text/plain",
        headers: dict[str, str] | None = None,
        *,
        head: bool = False,
        etag: bool = False,
    ) -> None:
        extra = dict(headers or {})
        if etag and status == 200:
            tag = '"' + hashlib.sha256(ctype.encode() + b"\0" + body).hexdigest()[:32] + '"'
            extra["ETag"] = tag
            extra.setdefault("Cache-Control", "max-age=600, public")
            inm = self.headers.get("If-None-Match")
            if inm and tag in [t.strip() for t in inm.split(",")]:
                status, body = 304, b""
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", ctype)
        for k, v in extra.items():
            self.send_header(k, v)
        if status in (301, 302) or ctype.startswith(("text/html", "application/vnd.pypi.simple")):
            self.send_header("Vary", "Accept")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head or status == 304:
            return
        path = urlsplit(self.path).path
        cut = self.index.truncate.get(path)
        if cut is not None and cut < len(body):
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        pause = self.index.stall.get(path)
        if pause is not None and pause[0] < len(body):
            self.wfile.write(body[: pause[0]])
            self.wfile.flush()
            self.index._stopping.wait(pause[1])
            body = body[pause[0] :]
        self.wfile.write(body)

    def _handle(self, *, head: bool) -> None:
        index = self.index
        path = unquote(urlsplit(self.path).path)
        with index._lock:
            index.requests.append((self.command, path, dict(self.headers.items())))
        try:
            delay = index.slow.get(path)
            if delay:
                index._stopping.wait(delay)
            with index._lock:
                failures = index.fail_next.get(path, 0)
                if failures > 0:
                    index.fail_next[path] = failures - 1
            if failures > 0:
                self._send(503, b"try again later", head=head, headers={"Retry-After": "0"})
                return
            if index.auth is not None and not self._authorised():
                self._send(401, b"unauthorised", head=head, headers={"WWW-Authenticate": 'Basic realm="index"'})
                return
            if path in index.overrides:
                status, headers, body = index.overrides[path]
                ctype = headers.get("Content-Type", "application/octet-stream")
                rest = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                self._send(status, body, ctype, rest, head=head)
                return
            self._route(path, head=head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _authorised(self) -> bool:
        import base64

        assert self.index.auth is not None
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (user, password) == self.index.auth

    def _route(self, path: str, *, head: bool) -> None:
        with self.index._lock:
            response = self._respond(path)
        status, body, ctype, headers, etag = response
        self._send(status, body, ctype, headers, head=head, etag=etag)

    def _respond(self, path: str) -> _Response:
        """Status, body, content type, headers and whether to ETag, for a GET of ``path``."""
        index = self.index
        parts = [p for p in path.split("/") if p]
        accept = self.headers.get("Accept")
        if parts == ["simple"]:
            if not path.endswith("/"):
                return 301, b"", "text/plain", {"Location": "/simple/"}, False
            ctype = _negotiate(accept, index.simple_json)
            return 200, index.render_index(ctype), ctype, {}, True
        if len(parts) == 2 and parts[0] == "simple":
            name = canonicalize_name(parts[1])
            if name != parts[1] or not path.endswith("/"):
                return 301, b"", "text/plain", {"Location": f"/simple/{name}/"}, False
            project = index.projects.get(name)
            if project is None or (not project.entries and project.status is None):
                return 404, b"no such project", "text/plain", {}, False
            ctype = _negotiate(accept, index.simple_json)
            return 200, index.render_project(project, ctype), ctype, {}, True
        if len(parts) == 2 and parts[0] == "packages":
            filename = parts[1]
            want_meta = filename.endswith(".metadata")
            base = filename[: -len(".metadata")] if want_meta else filename
            try:
                entry = index.entry(base)
            except KeyError:
                return 404, b"no such file", "text/plain", {}, False
            if not want_meta:
                return 200, entry.data, "application/octet-stream", {}, False
            if entry.metadata is None:
                return 404, b"no metadata", "text/plain", {}, False
            return 200, entry.metadata, "application/octet-stream", {}, False
        if parts and parts[0] == "pypi" and parts[-1] == "json" and len(parts) in (3, 4):
            if not index.json_api:
                return 404, b"not found", "text/plain", {}, False
            project = index.projects.get(canonicalize_name(parts[1]))
            body = None
            if project is not None:
                body = index.render_json_api(project, parts[2] if len(parts) == 4 else None)
            if body is None:
                return 404, b'{"message": "Not Found"}', "application/json", {}, False
            return 200, body, "application/json", {}, True
        if len(parts) == 5 and parts[0] == "integrity" and parts[4] == "provenance":
            try:
                found: Entry | None = index.entry(parts[3])
            except KeyError:
                found = None
            if found is None or found.provenance is None or found.project != canonicalize_name(parts[1]):
                return 404, b'{"message": "No provenance available"}', "application/json", {}, False
            body = json.dumps(found.provenance).encode()
            return 200, body, "application/vnd.pypi.integrity.v1+json", {}, True
        return 404, b"not found", "text/plain", {}, False
