"""Parsers for what an index serves: PEP 503 HTML and PEP 691 JSON project pages, the JSON API.

Pure functions from bytes to the frozen values in ``index.models``. Relative URLs are resolved
against the URL that actually answered (after redirects), as mirrors serve ``../../packages/...``.
Malformed input raises IndexClientError with a one-line message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipwarden.errors import IndexClientError
from pipwarden.index.config import redact_url
from pipwarden.index.models import IndexFile, ProjectPage, ReleaseInfo

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
ACCEPT_SIMPLE = f"{JSON_V1}, {HTML_V1};q=0.2, text/html;q=0.01"


def media_type(content_type: str | None) -> str:
    """'text/html; charset=utf-8' -> 'text/html'."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _charset(content_type: str | None) -> str:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 timestamp (PEP 700 'upload-time', JSON API 'upload_time_iso_8601'); naive = UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _check_api_version(version: object, url: str) -> None:
    if version is None:
        return
    major = str(version).split(".", 1)[0].strip()
    if major and major != "1":
        raise IndexClientError(
            f"unsupported simple API version {version} from {redact_url(url)} (this client speaks 1.x)"
        )


def _hashes_from_fragment(url: str) -> tuple[str, dict[str, str]]:
    base, fragment = urldefrag(url)
    hashes: dict[str, str] = {}
    if fragment:
        algo, sep, value = fragment.partition("=")
        if sep and algo and value:
            hashes[algo.lower()] = value.lower()
    return base, hashes


def _core_metadata_attr(value: str | None) -> bool | dict[str, str]:
    """PEP 658/714 attribute: 'true' or 'sha256=<hex>' -> True or the hashes; absent -> False."""
    if value is None:
        return False
    text = value.strip()
    if not text or text.lower() == "false":
        return False
    if text.lower() == "true":
        return True
    algo, sep, digest = text.partition("=")
    if sep and algo and digest:
        return {algo.strip().lower(): digest.strip().lower()}
    return True


class _SimpleHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[tuple[dict[str, str | None], list[str]]] = []
        self.meta: dict[str, str] = {}
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a":
            text: list[str] = []
            self.anchors.append((attributes, text))
            self._current = text
        elif tag == "base" and self.base is None and attributes.get("href"):
            self.base = attributes["href"]
        elif tag == "meta":
            name = attributes.get("name")
            content = attributes.get("content")
            if name and content is not None:
                self.meta[name.lower()] = content

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)


def parse_html_project(body: bytes, url: str, name: str, content_type: str | None = None) -> ProjectPage:
    """A PEP 503 page. ``url`` is the URL that answered (relative links resolve against it)."""
    parser = _SimpleHTML()
    try:
        parser.feed(body.decode(_charset(content_type), errors="replace"))
        parser.close()
    except (LookupError, AssertionError) as e:  # unknown charset; HTMLParser asserts on some garbage
        raise IndexClientError(f"malformed project page from {redact_url(url)}: {e}") from e
    _check_api_version(parser.meta.get("pypi:repository-version"), url)
    base = urljoin(url, parser.base) if parser.base else url
    files: list[IndexFile] = []
    for attrs, text in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        absolute, hashes = _hashes_from_fragment(urljoin(base, href.strip()))
        filename = "".join(text).strip() or urlsplit(absolute).path.rsplit("/", 1)[-1]
        yanked = "data-yanked" in attrs
        reason = attrs.get("data-yanked") or None
        core = _core_metadata_attr(attrs.get("data-core-metadata"))
        if core is False:
            core = _core_metadata_attr(attrs.get("data-dist-info-metadata"))
        provenance = attrs.get("data-provenance")
        files.append(
            IndexFile(
                filename=filename,
                url=absolute,
                hashes=hashes,
                requires_python=(attrs.get("data-requires-python") or "").strip() or None,
                yanked=yanked,
                yanked_reason=reason,
                upload_time=parse_time(attrs.get("data-upload-time")),
                core_metadata=core,
                provenance=urljoin(base, provenance) if provenance else None,
            )
        )
    return ProjectPage(
        name=str(canonicalize_name(name)),
        url=url,
        files=tuple(files),
        status=parser.meta.get("pypi:project-status") or None,
        status_reason=parser.meta.get("pypi:project-status-reason") or None,
    )


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k).lower(): str(v).lower() for k, v in value.items() if isinstance(v, str) and v}


def _load_json(body: bytes, url: str, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise IndexClientError(f"malformed {what} from {redact_url(url)}: {e}") from e


def parse_json_project(body: bytes, url: str, name: str) -> ProjectPage:
    """A PEP 691 JSON page (with PEP 700 versions/upload-time, PEP 714, PEP 740, PEP 792)."""
    doc = _load_json(body, url, "project page")
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
        raise IndexClientError(f"malformed project page from {redact_url(url)}: no 'files' list")
    meta = doc.get("meta")
    if isinstance(meta, dict):
        _check_api_version(meta.get("api-version"), url)
    files: list[IndexFile] = []
    for item in doc["files"]:
        if not isinstance(item, dict):
            continue
        filename, href = item.get("filename"), item.get("url")
        if not isinstance(filename, str) or not isinstance(href, str) or not filename:
            continue
        absolute, fragment_hashes = _hashes_from_fragment(urljoin(url, href))
        hashes = _str_map(item.get("hashes")) or fragment_hashes
        yanked_value = item.get("yanked", False)
        yanked = yanked_value is True or (isinstance(yanked_value, str))
        reason = yanked_value if isinstance(yanked_value, str) and yanked_value else None
        core_value = item.get("core-metadata", item.get("dist-info-metadata", False))
        core: bool | dict[str, str] = core_value is True
        if isinstance(core_value, Mapping):
            core = _str_map(core_value) or True
        size = item.get("size")
        provenance = item.get("provenance")
        rp = item.get("requires-python")
        files.append(
            IndexFile(
                filename=filename,
                url=absolute,
                hashes=hashes,
                requires_python=rp.strip() or None if isinstance(rp, str) else None,
                yanked=yanked,
                yanked_reason=reason,
                upload_time=parse_time(item.get("upload-time")),
                size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
                core_metadata=core,
                provenance=urljoin(url, provenance) if isinstance(provenance, str) and provenance else None,
            )
        )
    versions = doc.get("versions")
    status = doc.get("project-status")
    status_name = status_reason = None
    if isinstance(status, Mapping):
        status_name = status.get("status") if isinstance(status.get("status"), str) else None
        status_reason = status.get("reason") if isinstance(status.get("reason"), str) else None
    elif isinstance(status, str):
        status_name = status
    return ProjectPage(
        name=str(canonicalize_name(doc["name"] if isinstance(doc.get("name"), str) else name)),
        url=url,
        files=tuple(files),
        versions=tuple(str(v) for v in versions if isinstance(v, str)) if isinstance(versions, list) else (),
        status=status_name or None,
        status_reason=status_reason or None,
    )


def parse_project_page(body: bytes, content_type: str | None, url: str, name: str) -> ProjectPage:
    """Dispatch on the response's Content-Type (PEP 691)."""
    media = media_type(content_type)
    if media in (JSON_V1, "application/vnd.pypi.simple.latest+json"):
        return parse_json_project(body, url, name)
    if media in (HTML_V1, "application/vnd.pypi.simple.latest+html", "text/html", ""):
        return parse_html_project(body, url, name, content_type)
    if media.startswith("application/vnd.pypi.simple.") and media.endswith("+json"):
        raise IndexClientError(f"unsupported simple API version ({media}) from {redact_url(url)}")
    raise IndexClientError(f"unexpected content type {media!r} for a project page from {redact_url(url)}")


def _json_api_file(item: Mapping[str, Any], url: str) -> IndexFile | None:
    filename, href = item.get("filename"), item.get("url")
    if not isinstance(filename, str) or not isinstance(href, str) or not filename:
        return None
    absolute, fragment_hashes = _hashes_from_fragment(urljoin(url, href))
    hashes = _str_map(item.get("digests")) or fragment_hashes
    if "sha256" not in hashes and isinstance(item.get("sha256_digest"), str):
        hashes["sha256"] = str(item["sha256_digest"]).lower()
    size = item.get("size")
    rp = item.get("requires_python")
    reason = item.get("yanked_reason")
    upload = parse_time(item.get("upload_time_iso_8601")) or parse_time(item.get("upload_time"))
    return IndexFile(
        filename=filename,
        url=absolute,
        hashes=hashes,
        requires_python=rp.strip() or None if isinstance(rp, str) else None,
        yanked=item.get("yanked") is True,
        yanked_reason=reason if isinstance(reason, str) and reason else None,
        upload_time=upload,
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
    )


def parse_json_api(body: bytes, url: str, name: str, version: str | None) -> ReleaseInfo | None:
    """A JSON API document (``/pypi/<name>[/<version>]/json``); None when it is not one or not the
    release asked for."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("info"), dict):
        return None
    info: dict[str, Any] = doc["info"]
    served = info.get("version")
    served_version = served if isinstance(served, str) else None
    if version is not None:
        try:
            if served_version is None or Version(served_version) != Version(version):
                return None
        except InvalidVersion:
            if served_version != version:
                return None
    files: dict[str, IndexFile] = {}
    for item in doc.get("urls") or []:
        if isinstance(item, dict) and (f := _json_api_file(item, url)) is not None:
            files[f.filename] = f
    releases: dict[str, tuple[IndexFile, ...]] = {}
    raw_releases = doc.get("releases")
    if isinstance(raw_releases, dict):
        for rel_version, items in raw_releases.items():
            if isinstance(items, list):
                parsed = (_json_api_file(i, url) for i in items if isinstance(i, dict))
                releases[str(rel_version)] = tuple(f for f in parsed if f is not None)
    vulns = doc.get("vulnerabilities")
    ownership = doc.get("ownership")
    if not isinstance(ownership, dict):
        ownership = info.get("ownership") if isinstance(info.get("ownership"), dict) else None
    info_name = info.get("name")
    return ReleaseInfo(
        name=str(canonicalize_name(info_name if isinstance(info_name, str) and info_name else name)),
        version=served_version if served_version is not None else version,
        info=info,
        files=files,
        releases=releases,
        vulnerabilities=tuple(v for v in vulns if isinstance(v, dict)) if isinstance(vulns, list) else (),
        ownership=ownership,
    )
