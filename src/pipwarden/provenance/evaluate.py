"""One package's provenance: fetch, verify, compare with pins and with the claimed repository.

``evaluate(ctx)`` does the work once per :class:`~pipwarden.checks.base.PackageContext` and
memoises it, so each provenance check (PW400–PW407) — and the trust checks' repository-claims
check, which may run first — reads the same result. It also fills the report sections:
``ctx.extra["provenance"]`` for the package and ``extra["provenance"]`` for each artifact.

Check options it reads (``PackageContext.options``; see :data:`OPTION_KEYS`):

``offline``             bool: never refresh the Sigstore trust root
``provenance_docs``     [(source, document)] saved provenance for local files (``--provenance``)
``expect_publisher``    {name or "*": [identity]} from ``--expect-publisher``
``lock_identities``     {name: [identity]} from a lock (``pylock.toml`` / requirements comments)
``lock_source``         str: the lock's file name, for messages
``require_provenance``  [name] (``"*"`` = every package) from ``--require-provenance`` / config
``cache_dir``, ``use_cache``  where the learned pins live
"""

from __future__ import annotations

import email.parser
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipwarden.errors import IndexClientError, PipwardenError, UsageError
from pipwarden.provenance.fetch import (
    ProvenanceError,
    fetch_provenance,
    index_root_of,
    integrity_url,
)
from pipwarden.provenance.identity import PublisherIdentity, repository_key
from pipwarden.provenance.pins import Pin, PinStore
from pipwarden.provenance.verify import DOCUMENT, ArtifactProvenance, verify_provenance

if TYPE_CHECKING:
    from pipwarden.checks.base import ArtifactContext, PackageContext

OPTION_KEYS = ("offline", "provenance_docs", "expect_publisher", "lock_identities", "lock_source",
               "require_provenance", "cache_dir", "use_cache")

RepositoryBinding = Literal["match", "mismatch", "unclaimed"]


@dataclass
class PackageProvenance:
    name: str
    version: str | None
    artifacts: dict[str, ArtifactProvenance] = field(default_factory=dict)
    # Expected identities, strongest source first (command line, lock, cache).
    pins: list[Pin] = field(default_factory=list)
    required: bool = False
    # The newest earlier release that carried provenance, and the publisher its document names.
    previous: tuple[str, PublisherIdentity | None] | None = None
    claimed_repositories: list[str] = field(default_factory=list)
    binding: RepositoryBinding | None = None
    # Artifacts whose index answer was a malformed document (vs. the index not answering).
    malformed: set[str] = field(default_factory=set)

    @property
    def publisher(self) -> PublisherIdentity | None:
        """The verified publisher (of the first verified artifact), or None."""
        for result in self.artifacts.values():
            if result.verified and result.publisher is not None:
                return result.publisher
        return None

    @property
    def effective_pins(self) -> list[Pin]:
        """The pins of the strongest source present (command line beats lock beats cache)."""
        if not self.pins:
            return []
        top = self.pins[0].source
        return [p for p in self.pins if p.source == top]

    def mismatched(self, result: ArtifactProvenance) -> list[Pin] | None:
        """The pins a verified artifact's publisher fails to match (None when it matches or no pin)."""
        pins = self.effective_pins
        if not pins or not result.verified or result.publisher is None:
            return None
        if any(p.identity.same_publisher(result.publisher) for p in pins):
            return None
        return pins

    def summary(self) -> str:
        results = list(self.artifacts.values())
        if not results:
            return "none"
        if all(r.status == "verified" for r in results):
            return results[0].summary()
        bad = next((r for r in results if r.status in ("failed", "error")), None)
        if bad is not None:
            return f"{bad.filename}: {bad.summary()}"
        if all(r.status == "none" for r in results):
            return "none"
        partial = [r.filename for r in results if r.status == "none"]
        return f"{results[0].summary() if results[0].verified else 'partial'}; none for {', '.join(partial)}"

    def to_json(self) -> dict[str, Any]:
        publisher = self.publisher
        return {
            "status": _overall(self.artifacts.values()),
            "summary": self.summary(),
            "publisher": str(publisher) if publisher else None,
            "repository": publisher.repository_url if publisher else None,
            "claimed_repositories": list(self.claimed_repositories),
            "repository_binding": self.binding,
            "expected": [{"identity": str(p.identity), "source": p.source} for p in self.effective_pins],
            "required": self.required,
            "previous_release_with_provenance": (
                {"version": self.previous[0], "publisher": str(self.previous[1]) if self.previous[1] else None}
                if self.previous else None
            ),
        }


def _overall(results: Iterable[ArtifactProvenance]) -> str:
    statuses = {r.status for r in results}
    for status in ("failed", "error"):
        if status in statuses:
            return status
    if statuses == {"verified"}:
        return "verified"
    if "verified" in statuses:
        return "partial"
    return "none"


# -- memo ----------------------------------------------------------------------------------

_MEMO: dict[int, tuple[weakref.ReferenceType[Any], PackageProvenance]] = {}
_MEMO_LOCK = threading.Lock()
_CTX_LOCKS: dict[int, threading.Lock] = {}


def evaluate(ctx: PackageContext) -> PackageProvenance:
    """The package's provenance, computed once per context (thread-safe)."""
    key = id(ctx)
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
        if hit is not None and hit[0]() is ctx:
            return hit[1]
        lock = _CTX_LOCKS.setdefault(key, threading.Lock())
    with lock:
        with _MEMO_LOCK:
            hit = _MEMO.get(key)
            if hit is not None and hit[0]() is ctx:
                return hit[1]
        result = _evaluate(ctx)
        with _MEMO_LOCK:
            _MEMO[key] = (weakref.ref(ctx), result)
            weakref.finalize(ctx, _forget, key)
        return result


def _forget(key: int) -> None:
    with _MEMO_LOCK:
        _MEMO.pop(key, None)
        _CTX_LOCKS.pop(key, None)


# -- the work ------------------------------------------------------------------------------


def _evaluate(ctx: PackageContext) -> PackageProvenance:
    opts = ctx.options
    name = str(canonicalize_name(ctx.name))
    out = PackageProvenance(name=name, version=ctx.version)
    offline = bool(opts.get("offline", False))
    docs: list[tuple[str, Mapping[str, Any]]] = list(opts.get("provenance_docs") or ())
    for actx in ctx.artifacts:
        result = _artifact(ctx, actx, docs, offline, out)
        out.artifacts[actx.artifact.filename] = result
        actx.extra["provenance"] = result.to_json()

    out.pins = _pins(ctx, name, opts)
    require = {str(canonicalize_name(n)) if n != "*" else "*" for n in opts.get("require_provenance") or ()}
    out.required = name in require or "*" in require
    if ctx.index is not None and any(r.status == "none" for r in out.artifacts.values()) and not out.pins:
        out.previous = _previous_with_provenance(ctx)
    out.claimed_repositories = claimed_repositories(ctx)
    publisher = out.publisher
    if publisher is not None:
        out.binding = bind(publisher, out.claimed_repositories)
        _remember(ctx, out, opts)
    ctx.extra["provenance"] = out.to_json()
    return out


def _artifact(ctx: PackageContext, actx: ArtifactContext, docs: list[tuple[str, Mapping[str, Any]]],
              offline: bool, out: PackageProvenance) -> ArtifactProvenance:
    filename = actx.artifact.filename
    sha256 = actx.artifact.sha256
    if sha256 is None:
        return ArtifactProvenance(filename, "error", message="the file's sha256 is unknown")
    source: str | None = None
    doc: Mapping[str, Any] | None = None
    if docs:
        chosen = _doc_for(filename, docs, len(ctx.artifacts))
        if chosen is None:
            return ArtifactProvenance(filename, "none", message="no given provenance names this file")
        source, doc = chosen
    elif ctx.index is not None and ctx.version is not None:
        index_file = actx.index_file or _index_file(ctx, filename)
        try:
            source, doc = fetch_provenance(ctx.index, ctx.name, ctx.version, filename, index_file)
        except ProvenanceError as e:
            out.malformed.add(filename)
            return ArtifactProvenance(filename, "failed", failed_check=DOCUMENT, message=str(e))
        except IndexClientError as e:
            if isinstance(e.__cause__, ValueError):  # the index answered, with something not JSON
                out.malformed.add(filename)
                return ArtifactProvenance(filename, "failed", failed_check=DOCUMENT,
                                          message=f"malformed provenance document: {e}")
            return ArtifactProvenance(filename, "error", message=str(e))
        if doc is None:
            return ArtifactProvenance(filename, "none", source=source)
    else:
        return ArtifactProvenance(filename, "none")
    try:
        return verify_provenance(doc, filename, sha256, source=source, offline=offline)
    except ProvenanceError as e:
        out.malformed.add(filename)
        return ArtifactProvenance(filename, "failed", source=source, failed_check=DOCUMENT, message=str(e))


def subject_names(doc: Mapping[str, Any]) -> set[str]:
    """The file names a provenance document's attestations are about (read without verifying,
    only to pair documents with files; verification checks the name again, signed)."""
    import base64
    import binascii
    import json

    names: set[str] = set()
    for bundle in doc.get("attestation_bundles") or ():
        if not isinstance(bundle, dict):
            continue
        for att in bundle.get("attestations") or ():
            try:
                statement = json.loads(base64.b64decode(att["envelope"]["statement"]))
                for subject in statement.get("subject", ()):
                    names.add(str(subject.get("name")))
            except (KeyError, TypeError, ValueError, AttributeError, binascii.Error):
                continue
    return names


def _doc_for(filename: str, docs: list[tuple[str, Mapping[str, Any]]],
             n_artifacts: int) -> tuple[str, Mapping[str, Any]] | None:
    for source, doc in docs:
        if filename in subject_names(doc):
            return source, doc
    # One file, one document: verify them against each other, so a document for another
    # file fails on the subject name instead of being silently ignored.
    if len(docs) == 1 and n_artifacts == 1:
        return docs[0]
    return None


def _index_file(ctx: PackageContext, filename: str) -> Any:
    if ctx.project is None:
        return None
    return next((f for f in ctx.project.files if f.filename == filename), None)


def _identities(values: Any) -> list[PublisherIdentity]:
    out: list[PublisherIdentity] = []
    for v in values or ():
        if isinstance(v, PublisherIdentity):
            out.append(v)
        else:
            try:
                out.append(PublisherIdentity.parse(str(v)))
            except UsageError:
                continue
    return out


def _pins(ctx: PackageContext, name: str, opts: Mapping[str, Any]) -> list[Pin]:
    pins: list[Pin] = []
    expect = opts.get("expect_publisher") or {}
    if isinstance(expect, Mapping):
        for ident in _identities(list(expect.get(name, ())) + list(expect.get("*", ()))):
            pins.append(Pin(ident, "command line (--expect-publisher)", explicit=True))
    lock = opts.get("lock_identities") or {}
    if isinstance(lock, Mapping):
        where = str(opts.get("lock_source") or "the lock")
        for ident in _identities(lock.get(name, ())):
            pins.append(Pin(ident, where, explicit=True))
    # A saved document for a local file is no history: learned pins apply to index releases,
    # and to local files only when a document was given to check them against.
    if ctx.index is not None or opts.get("provenance_docs"):
        cached = PinStore.from_options(opts).get(name)
        if cached is not None:
            pins.append(cached)
    return pins


def _previous_with_provenance(ctx: PackageContext) -> tuple[str, PublisherIdentity | None] | None:
    """The newest release before this one, if it carried provenance, with its named publisher.

    Asks the simple API's provenance URLs first; when the index gives none (HTML pages of some
    mirrors), one Integrity API request for that release's first file.
    """
    if ctx.project is None or ctx.index is None or ctx.version is None:
        return None
    try:
        current = Version(ctx.version)
    except InvalidVersion:
        return None
    earlier = [v for v in ctx.project.all_versions() if v < current and not v.is_prerelease]
    for version in reversed(earlier):
        files = [f for f in ctx.project.files_for(version) if not f.yanked]
        if not files:
            continue
        with_url = [f for f in files if f.provenance]
        candidates = with_url or files[:1]
        for f in candidates[:1]:
            url = f.provenance or integrity_url(index_root_of(ctx.index), ctx.name, str(version), f.filename)
            try:
                doc = ctx.index.get_json(url)
            except PipwardenError:
                return (str(version), None) if with_url else None
            if doc is None:
                return None
            return str(version), _named_publisher(doc)
        return None
    return None


def _named_publisher(doc: Any) -> PublisherIdentity | None:
    try:
        bundle = doc["attestation_bundles"][0]
        return PublisherIdentity.from_publisher(bundle["publisher"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def claimed_repositories(ctx: PackageContext) -> list[str]:
    """Repository URLs (github.com / gitlab.com) the project claims: the JSON API's
    ``project_urls`` and ``home_page``, else the Project-URL / Home-page of the files' metadata."""
    urls: list[str] = []
    info = ctx.release.info if ctx.release is not None else {}
    project_urls = info.get("project_urls") if isinstance(info, Mapping) else None
    if isinstance(project_urls, Mapping):
        urls.extend(str(u) for u in project_urls.values() if isinstance(u, str))
    home = info.get("home_page") if isinstance(info, Mapping) else None
    if isinstance(home, str):
        urls.append(home)
    if not urls:
        for actx in ctx.artifacts:
            urls.extend(_metadata_urls(actx))
    out: list[str] = []
    for u in urls:
        key = repository_key(u)
        if key is not None:
            text = f"https://{key[0]}/{key[1]}"
            if text not in out:
                out.append(text)
    return out


def _metadata_urls(actx: ArtifactContext) -> list[str]:
    for member in actx.archive.files():
        base = member.name.rsplit("/", 1)[-1]
        if base not in ("METADATA", "PKG-INFO") or member.data is None or member.name.count("/") > 1:
            continue
        msg = email.parser.BytesParser().parsebytes(member.data, headersonly=True)
        found = [str(v).split(",", 1)[-1].strip() for v in msg.get_all("Project-URL") or ()]
        home = msg.get("Home-page")
        if home:
            found.append(str(home))
        return found
    return []


def bind(publisher: PublisherIdentity, claimed: list[str]) -> RepositoryBinding | None:
    """Does the verified publisher's repository appear among the repositories the project claims?"""
    url = publisher.repository_url
    if url is None:
        return None
    mine = repository_key(url)
    keys = [k for k in (repository_key(c) for c in claimed) if k is not None]
    if not keys or mine is None:
        return "unclaimed"
    for host, path in keys:
        if host != mine[0]:
            continue
        if path == mine[1] or (host == "gitlab.com" and (path.startswith(mine[1] + "/") or
                                                          mine[1].startswith(path + "/"))):
            return "match"
    return "mismatch"


def _remember(ctx: PackageContext, out: PackageProvenance, opts: Mapping[str, Any]) -> None:
    """Learn the verified identity, unless it contradicts a pin (then the pin stays)."""
    if ctx.index is None and not opts.get("provenance_docs"):
        return
    publisher = out.publisher
    if publisher is None or any(r.status == "failed" for r in out.artifacts.values()):
        return
    pins = out.effective_pins
    explicit_match = any(p.explicit and p.identity.same_publisher(publisher) for p in pins)
    if pins and not explicit_match and not any(p.identity.same_publisher(publisher) for p in pins):
        return
    PinStore.from_options(opts).record(out.name, out.version, publisher, replace=explicit_match)
