"""The scan pipeline: targets -> packages -> files -> archives -> findings -> verdicts.

Network work (index pages, JSON API, downloads) runs in a thread pool; analysis of many
local archives runs in a process pool. Identical member contents are analysed once per
process (``analyze.MemberMemo``).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from pipwarden import __version__
from pipwarden.analyze import MemberMemo, analyze_archive, by_severity, dedupe
from pipwarden.archive import ArchiveLimits, is_archive_name, read_archive
from pipwarden.checks.base import ArtifactContext, PackageContext, package_checks, run_check
from pipwarden.checks.integrity import DigestMismatch, read_metadata
from pipwarden.errors import (
    ArchiveError,
    IntegrityError,
    NotFoundError,
    PipwardenError,
    UsageError,
)
from pipwarden.index.models import IndexFile, ProjectPage, ReleaseInfo, parse_filename
from pipwarden.models import Artifact, Finding, PackageRef, PackageResult, Report, Verdict
from pipwarden.policy import Policy

if TYPE_CHECKING:
    from pipwarden.analysis_cache import PackageResultCache
    from pipwarden.index.client import IndexClient

ArtifactSelection = Literal["best", "all"]
Progress = Callable[[str], None]

# Local archives at or above this count are analysed in a process pool.
PROCESS_POOL_THRESHOLD = 8


@dataclass(frozen=True)
class ScanOptions:
    index_url: str | None = None
    offline: bool = False
    artifacts: ArtifactSelection = "best"
    cache_dir: Path | None = None
    use_cache: bool = True
    timeout: float = 30.0
    retries: int = 3
    allow_insecure_index: bool = False
    jobs: int = 0  # worker processes for local archives; 0 = one per core
    policy: Policy = field(default_factory=Policy)
    min_age_days: float = 7.0
    now: datetime | None = None
    # Free-form options handed to package checks (PackageContext.options).
    check_options: Mapping[str, Any] = field(default_factory=dict)
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)


# --- targets ---------------------------------------------------------------------------


def parse_target(text: str) -> list[PackageRef]:
    """A command-line target: a local artifact, a directory of them, or a requirement."""
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and is_archive_name(p.name))
        if not files:
            raise UsageError(f"{text}: directory holds no wheels or sdists")
        return [local_ref(p) for p in files]
    if is_archive_name(text) or os.sep in text or text.startswith("."):
        if not path.is_file():
            raise UsageError(f"{text}: no such file")
        if not is_archive_name(path.name):
            raise UsageError(f"{text}: not a wheel or sdist (.whl, .tar.gz, .tar.bz2, .tar.xz, .zip)")
        return [local_ref(path)]
    try:
        req = Requirement(text)
    except InvalidRequirement as e:
        raise UsageError(f"{text!r} is not a package name, requirement or file: {_one_line(e)}") from e
    if req.url:
        raise UsageError(f"{text}: URL requirements are not supported; download the file and scan it")
    spec = req.specifier
    pinned = [s.version for s in spec if s.operator in ("==", "===") and "*" not in s.version]
    version = pinned[0] if len(spec) == 1 and pinned else None
    return [PackageRef(name=canonicalize_name(req.name), version=version, specifier=str(spec))]


def _one_line(e: Exception) -> str:
    """packaging's parse errors span three lines (message, text, caret): fold them into one."""
    lines = str(e).splitlines()
    caret = next((ln for ln in lines[1:] if ln.strip().startswith("^")), None)
    if caret is not None and len(lines) >= 3:
        col = caret.index("^") - (len(lines[1]) - len(lines[1].lstrip())) + 1
        return f"{lines[0]} (at column {col})"
    return lines[0] if lines else type(e).__name__


def local_ref(path: Path) -> PackageRef:
    parsed = parse_filename(path.name)
    name = parsed[0] if parsed else path.name
    version = str(parsed[1]) if parsed else None
    return PackageRef(name=name, version=version, path=path)


def expand_targets(texts: Iterable[str]) -> list[PackageRef]:
    refs: list[PackageRef] = []
    for t in texts:
        refs.extend(parse_target(t))
    return refs


# --- choosing what pip would install ---------------------------------------------------


@lru_cache(maxsize=1)
def _supported_tags() -> dict[str, int]:
    from packaging.tags import sys_tags

    return {str(t): i for i, t in enumerate(sys_tags())}


def _python_ok(requires: str | None) -> bool:
    if not requires:
        return True
    try:
        return SpecifierSet(requires).contains(".".join(map(str, sys.version_info[:3])), prereleases=True)
    except InvalidSpecifier:
        return True


def _wheel_rank(filename: str, tags: Mapping[str, int]) -> int | None:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        _n, _v, _b, wtags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, ValueError):
        return None
    ranks = [tags[str(t)] for t in wtags if str(t) in tags]
    return min(ranks) if ranks else None


def installable(files: Sequence[IndexFile], tags: Mapping[str, int]) -> list[IndexFile]:
    """Files pip could install here, best first: compatible wheels by tag priority, then the sdist."""
    wheels: list[tuple[int, IndexFile]] = []
    sdists: list[IndexFile] = []
    for f in files:
        if not _python_ok(f.requires_python):
            continue
        if f.kind == "wheel":
            rank = _wheel_rank(f.filename, tags)
            if rank is not None:
                wheels.append((rank, f))
        elif f.kind == "sdist":
            sdists.append(f)
    return [f for _r, f in sorted(wheels, key=lambda x: x[0])] + sdists


def choose_version(page: ProjectPage, ref: PackageRef, selection: ArtifactSelection) -> Version:
    """The version pip would pick: newest match, yanked files ignored unless pinned with ==."""
    if ref.version is not None:
        wanted = Version(ref.version)
        if not page.files_for(wanted):
            raise NotFoundError(f"{ref.name} has no release {ref.version} on the index")
        return wanted
    spec = SpecifierSet(ref.specifier)
    tags = _supported_tags()
    by_version: dict[Version, list[IndexFile]] = {}
    for f in page.files:
        v = f.version
        if v is not None and not f.yanked:
            by_version.setdefault(v, []).append(f)
    usable = [
        v for v, files in by_version.items() if selection == "all" or installable(files, tags)
    ]
    matching = list(spec.filter(usable))
    if not matching:
        what = f"matching {ref.specifier!r}" if ref.specifier else "installable here"
        raise NotFoundError(f"{ref.name} has no release {what} that is not yanked")
    return max(matching)


def choose_files(page: ProjectPage, version: Version, selection: ArtifactSelection) -> list[IndexFile]:
    files = page.files_for(version)
    if selection == "all":
        return sorted(files, key=lambda f: (f.kind != "sdist", f.filename))
    best = installable([f for f in files if not f.yanked] or files, _supported_tags())
    if not best:
        raise NotFoundError(
            f"{page.name} {version} has no file installable on this interpreter and platform "
            "(use --artifacts all to scan every file)"
        )
    return best[:1]


# --- analysis ---------------------------------------------------------------------------

_MEMO = MemberMemo()


def _analyze_file(
    path: Path, artifact: Artifact, ref: PackageRef, index_file: IndexFile | None, index_metadata: bytes | None,
    limits: ArchiveLimits,
) -> tuple[ArtifactContext, list[Finding]]:
    archive = read_archive(path, artifact.filename, limits)
    return analyze_archive(archive, artifact, ref, index_file=index_file, index_metadata=index_metadata, memo=_MEMO)


def _digest(path: Path) -> tuple[str, int]:
    import hashlib

    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


LocalOutcome = tuple[Artifact, ArtifactContext | None, list[Finding], str | None]


def _local_job(ref: PackageRef, limits: ArchiveLimits) -> LocalOutcome:
    """Read and analyse one local artifact (runs in a worker process for big batches)."""
    assert ref.path is not None
    try:
        sha, size = _digest(ref.path)
    except OSError as e:
        return Artifact(ref.path.name), None, [], f"cannot read {ref.path}: {e.strerror or e}"
    artifact = Artifact(ref.path.name, sha, size, path=ref.path)
    try:
        ctx, findings = _analyze_file(ref.path, artifact, ref, None, None, limits)
    except PipwardenError as e:  # unreadable archive, or a defect in a check
        return artifact, None, [], str(e)
    return artifact, _slim(ctx), findings, None


def _remote_job(
    path: Path, artifact: Artifact, ref: PackageRef, index_file: IndexFile, index_metadata: bytes | None,
    limits: ArchiveLimits, cache_root: Path | None,
) -> tuple[ArtifactContext, list[Finding]]:
    """Analyse one downloaded artifact (in a worker process when there are many) and cache the result."""
    ctx, findings = _analyze_file(path, artifact, ref, index_file, index_metadata, limits)
    slim = _slim(ctx)
    if cache_root is not None:
        from pipwarden.analysis_cache import AnalysisCache, cache_key

        key = cache_key(artifact, ref, index_file, index_metadata, limits)
        AnalysisCache(cache_root).put(key, slim, findings)
    return slim, findings


def _worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A process pool that is safe to start while download threads run (forkserver, not fork)."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["pipwarden.scan"])
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)


_KEEP_DATA = (".dist-info/", ".egg-info/")
_KEEP_ROOT_FILES = frozenset({"PKG-INFO", "pyproject.toml", "setup.cfg", "setup.py"})


def _keeps_data(path: str) -> bool:
    """Metadata, build files and top-level package ``__init__.py`` (namespace declarations)."""
    if path in _KEEP_ROOT_FILES or any(k in path for k in _KEEP_DATA):
        return True
    return path.endswith("/__init__.py") and (path.count("/") == 1 or (".data/" in path and path.count("/") == 3))


def _slim(ctx: ArtifactContext) -> ArtifactContext:
    """The context with member bytes dropped except metadata, so it crosses processes cheaply.
    Package checks need names, sizes, hashes and the metadata files, not every module's text."""
    root = ctx.archive.root
    members = tuple(m if m.data is None or _keeps_data(m.name.removeprefix(root)) else replace(m, data=None)
                    for m in ctx.archive.members)
    return ArtifactContext(ctx.package, ctx.artifact, replace(ctx.archive, members=members), extra=ctx.extra)


def _metadata_identity(ctx: ArtifactContext) -> tuple[str, str | None] | None:
    """(name, version) from the archive's own metadata, for files whose names don't tell."""
    for m in ctx.archive.files():
        base = m.name.rsplit("/", 1)[-1]
        if base in ("METADATA", "PKG-INFO") and m.data is not None and m.name.count("/") <= 1:
            meta = read_metadata(m.data)
            name = (meta.get("name") or [""])[0].strip()
            if name:
                versions = meta.get("version") or []
                return canonicalize_name(name), versions[0] if versions else None
    return None


class Scanner:
    """Runs one scan. Holds the index client, the pools and the options."""

    def __init__(self, options: ScanOptions, progress: Progress | None = None) -> None:
        self.options = options
        self.progress = progress or (lambda _msg: None)
        self._client: IndexClient | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._pool_wanted = False
        self._pool_lock = threading.Lock()

    # The client is created only when an index target needs it: --offline never creates one.
    @property
    def client(self) -> IndexClient:
        if self._client is None:
            if self.options.offline:
                raise UsageError("--offline: package names cannot be resolved without the index; scan files instead")
            from pipwarden.index.cache import Cache, default_cache_dir
            from pipwarden.index.client import IndexClient
            from pipwarden.index.config import check_index_url, configured_index_url

            url = check_index_url(self.options.index_url or configured_index_url(), self.options.allow_insecure_index)
            cache = Cache(self.options.cache_dir or default_cache_dir()) if self.options.use_cache else None
            self._client = IndexClient(
                url, cache=cache, timeout=self.options.timeout, retries=self.options.retries,
                allow_insecure=self.options.allow_insecure_index,
            )
        return self._client

    @property
    def index_used(self) -> str | None:
        """The index this scan talked to (credentials redacted), or None when it needed none."""
        if self._client is None:
            return None
        from pipwarden.index.config import redact_url

        return redact_url(self._client.index_url)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def check_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"min_age_days": self.options.min_age_days,
                                "now": self.options.now or datetime.now(UTC)}
        opts.update(self.options.check_options)
        return opts

    # -- public entry ---------------------------------------------------------------------

    def scan(self, refs: Sequence[PackageRef]) -> Report:
        local = [r for r in refs if r.path is not None]
        remote = [r for r in refs if r.path is None]
        results: list[PackageResult] = []
        if local:
            results.extend(self._scan_local(local))
        if remote:
            results.extend(self._scan_remote(remote))
        meta: dict[str, Any] = {"policy": self.options.policy.describe()}
        if self.index_used is not None:
            meta["index"] = self.index_used
        return Report(packages=tuple(results), meta=meta)

    # -- local files ----------------------------------------------------------------------

    def _scan_local(self, refs: Sequence[PackageRef]) -> list[PackageResult]:
        jobs = self.options.jobs or os.cpu_count() or 1
        # Files of one release (an sdist and its wheels) are one package; a file whose name does
        # not tell its release is a package of its own (its metadata names it).
        groups: dict[tuple[str, str], list[PackageRef]] = {}
        for ref in refs:
            key = (ref.name, ref.version) if ref.version is not None else ("", str(ref.path))
            groups.setdefault(key, []).append(ref)
        executor: Executor
        if len(refs) >= PROCESS_POOL_THRESHOLD and jobs > 1:
            executor = ProcessPoolExecutor(max_workers=jobs)
        else:
            executor = ThreadPoolExecutor(max_workers=1)
        # Each worker reads, analyses and judges whole packages: nothing CPU-bound is left to
        # this process but collecting results.
        results: list[PackageResult] = []
        check_opts = self.check_options()
        with executor:
            futures = [executor.submit(_local_package_job, group, self.options.limits, self.options.policy,
                                       check_opts) for group in groups.values()]
            for group, fut in zip(groups.values(), futures, strict=True):
                results.append(fut.result())
                for ref in group:
                    self.progress(ref.path.name if ref.path else ref.name)
        return results

    # -- index packages -------------------------------------------------------------------

    def _scan_remote(self, refs: Sequence[PackageRef]) -> list[PackageResult]:
        self._pool_wanted = len(refs) > 1 or self.options.artifacts == "all"
        results: list[PackageResult] = []
        with ThreadPoolExecutor(max_workers=min(8, len(refs))) as pool:
            for result in pool.map(self._scan_one, refs):
                results.append(result)
                self.progress(f"{result.name} {result.version or ''}".strip())
        return results

    def _scan_one(self, ref: PackageRef) -> PackageResult:
        try:
            return self._scan_index_package(ref)
        except PipwardenError as e:
            return PackageResult(name=ref.name, version=ref.version, source="index", verdict=Verdict.ERROR,
                                 error=str(e), origin=ref.origin, line=ref.line)

    def _scan_index_package(self, ref: PackageRef) -> PackageResult:
        client = self.client
        results = self._results_cache()
        state = self._state(ref.name) if results is not None else []
        key = self._result_key(ref, state) if results is not None else ""
        if results is not None:
            hit = self._cached_result(results, key, ref)
            if hit is not None:
                return hit
        page = client.project(ref.name)
        version = choose_version(page, ref, self.options.artifacts)
        files = choose_files(page, version, self.options.artifacts)
        with ThreadPoolExecutor(max_workers=2) as side:
            release_future = side.submit(self._release, ref.name, str(version))
            paths = client.fetch_many(files)
            metas = [client.core_metadata(f) if f.kind == "wheel" and f.core_metadata else None for f in files]
            release = release_future.result()
        artifacts: list[Artifact] = []
        contexts: list[ArtifactContext] = []
        findings: list[Finding] = []
        errors: list[str] = []
        pkg = PackageRef(name=page.name, version=str(version), specifier=ref.specifier, origin=ref.origin,
                         line=ref.line, hashes=ref.hashes, marker=ref.marker)
        for f, got, meta in zip(files, paths, metas, strict=True):
            if isinstance(got, IntegrityError):
                artifacts.append(Artifact(f.filename, got.actual or None, None, url=f.url))
                findings.append(DigestMismatch().mismatch(f.filename, got.expected, got.actual, "the index"))
                continue
            if isinstance(got, PipwardenError):
                errors.append(f"{f.filename}: {got}")
                artifacts.append(f.to_artifact())
                continue
            # fetch() already checked the bytes against the index's sha256: hash only when it gave none.
            sha, size = (f.sha256, got.stat().st_size) if f.sha256 else _digest(got)
            artifact = Artifact(f.filename, sha, size, url=f.url, path=got)
            artifacts.append(artifact)
            try:
                ctx, found = self._analyze_download(got, artifact, pkg, f, meta)
            except ArchiveError as e:
                errors.append(str(e))
                continue
            contexts.append(ctx)
            findings.extend(found)
        pctx = PackageContext(package=pkg, name=page.name, version=str(version), artifacts=contexts,
                              project=page, release=release, index=client, options=self.check_options())
        found = list(self._package_findings(pctx))
        if results is not None and not errors:
            after = self._state(ref.name)
            if after == state:
                self._remember(results, key, ref, pctx, artifacts, [*findings, *found])
            else:
                # The checks learned something (a publisher, the maintainers): what the next run
                # would report is computed from what they know now, and that is what is kept.
                again = replace(pctx, extra={}, memo={})
                self._remember(results, self._result_key(ref, after), ref, again, artifacts,
                               [*findings, *self._package_findings(again)])
        findings.extend(found)
        return self._result(pkg, page.name, str(version), "index", artifacts, findings, errors, pctx)

    # -- whole-package results, reused while the index responses they read are fresh ---------

    def _results_cache(self) -> PackageResultCache | None:
        root = self._cache_root()
        if root is None:
            return None
        from pipwarden.analysis_cache import PackageResultCache

        return PackageResultCache(root)

    def _state(self, name: str) -> list[str | None]:
        """Digests of what checks remember between runs about this project (its learned publisher,
        its maintainers): a result computed from other memories is not reused."""
        import hashlib

        from pipwarden.checks.trust.maintainers import ownership_store
        from pipwarden.provenance.pins import PinStore

        opts = self.check_options()
        store = ownership_store(opts)
        paths = [PinStore.from_options(opts).path(name),
                 store / f"{canonicalize_name(name)}.json" if store is not None else None]
        out: list[str | None] = []
        for path in paths:
            try:
                out.append(hashlib.sha256(path.read_bytes()).hexdigest() if path is not None else None)
            except OSError:
                out.append(None)
        return out

    def _result_key(self, ref: PackageRef, state: list[str | None]) -> str:
        from dataclasses import asdict

        from pipwarden.analysis_cache import package_key

        opts = self.options
        db = opts.check_options.get("vulndb")
        snapshot = getattr(db, "snapshot", None)
        return package_key({
            "ref": [ref.name, ref.version, ref.specifier, sorted(ref.hashes), ref.marker],
            "index": self.client.index_url, "artifacts": opts.artifacts, "limits": asdict(opts.limits),
            "min_age_days": opts.min_age_days, "now": opts.now,
            "checks": {k: v for k, v in opts.check_options.items() if k != "vulndb"},
            "vulndb": snapshot.to_json() if snapshot is not None else None,
            "disabled": sorted(opts.policy.disabled), "state": state,
        })

    def _tokens(self, name: str, version: str) -> tuple[str, str] | None:
        page = self.client.project_stamp(name)
        release = self.client.release_stamp(name, version)
        if page is None or release is None:
            return None
        return page.token(), release.token()

    def _cached_result(self, results: PackageResultCache, key: str, ref: PackageRef) -> PackageResult | None:
        page = self.client.project_stamp(ref.name)
        if page is None:
            return None
        hit = results.get(key, page.token())
        if hit is None:
            return None
        release = self.client.release_stamp(hit.name, hit.version)
        if release is None or release.token() != hit.release_token:
            return None
        return judged(ref, hit.name, hit.version, "index", hit.artifacts, hit.findings, [], hit.extra,
                      hit.artifact_extra, self.options.policy)

    def _remember(self, results: PackageResultCache, key: str, ref: PackageRef, pctx: PackageContext,
                  artifacts: list[Artifact], findings: list[Finding]) -> None:
        from pipwarden.analysis_cache import CachedPackage

        tokens = self._tokens(ref.name, pctx.version or "")
        if tokens is None or pctx.version is None:
            return
        extra, artifact_extra = sections(pctx)
        results.put(key, tokens[0], CachedPackage(
            name=pctx.name, version=pctx.version, artifacts=tuple(artifacts), findings=tuple(findings),
            extra=extra, artifact_extra=artifact_extra, release_token=tokens[1],
        ))

    def _analyze_download(
        self, path: Path, artifact: Artifact, pkg: PackageRef, f: IndexFile, meta: bytes | None
    ) -> tuple[ArtifactContext, list[Finding]]:
        """Findings of one downloaded file: from the analysis cache when these bytes were analysed
        before with the same inputs and code, else analysed (in the worker pool when there is one)."""
        cache_root = self._cache_root()
        if cache_root is not None:
            from pipwarden.analysis_cache import AnalysisCache, cache_key

            key = cache_key(artifact, pkg, f, meta, self.options.limits)
            hit = AnalysisCache(cache_root).get(key, artifact, pkg, f, meta)
            if hit is not None:
                return hit
        job = (path, artifact, pkg, f, meta, self.options.limits, cache_root)
        pool = self._worker_pool()
        if pool is not None:
            return pool.submit(_remote_job, *job).result()
        return _remote_job(*job)

    def _worker_pool(self) -> ProcessPoolExecutor | None:
        """The process pool for analysis, started on the first cache miss of a multi-file scan
        (a warm run that finds every analysis cached never pays for starting workers)."""
        jobs = self.options.jobs or os.cpu_count() or 1
        if not self._pool_wanted or jobs < 2:
            return None
        with self._pool_lock:
            if self._pool is None:
                self._pool = _worker_pool(jobs)
            return self._pool

    def _cache_root(self) -> Path | None:
        if not self.options.use_cache:
            return None
        from pipwarden.index.cache import default_cache_dir

        return self.options.cache_dir or default_cache_dir()

    def _release(self, name: str, version: str) -> ReleaseInfo | None:
        try:
            return self.client.release(name, version)
        except PipwardenError:
            return None

    # -- shared ---------------------------------------------------------------------------

    def _package_findings(self, ctx: PackageContext) -> Iterator[Finding]:
        return package_findings(ctx, self.options.policy)

    def _result(
        self, pkg: PackageRef, name: str, version: str | None, source: Literal["index", "file"],
        artifacts: list[Artifact], findings: list[Finding], errors: list[str], pctx: PackageContext,
    ) -> PackageResult:
        return package_result(pkg, name, version, source, artifacts, findings, errors, pctx, self.options.policy)


def package_findings(ctx: PackageContext, policy: Policy) -> Iterator[Finding]:
    """Findings of every enabled package-level check."""
    for cls in package_checks():
        if cls.id in policy.disabled:
            continue
        yield from run_check(cls(), ctx, f"{ctx.name} {ctx.version or ''}".strip())


def package_result(
    pkg: PackageRef, name: str, version: str | None, source: Literal["index", "file"],
    artifacts: Sequence[Artifact], findings: Sequence[Finding], errors: list[str], pctx: PackageContext,
    policy: Policy,
) -> PackageResult:
    """Policy applied: the package's findings, most severe first, and its verdict."""
    extra, artifact_extra = sections(pctx)
    return judged(pkg, name, version, source, artifacts, findings, errors, extra, artifact_extra, policy)


def sections(pctx: PackageContext) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The report sections checks added: the package's, and each artifact's by filename."""
    return dict(pctx.extra), {c.artifact.filename: dict(c.extra) for c in pctx.artifacts if c.extra}


def judged(
    pkg: PackageRef, name: str, version: str | None, source: Literal["index", "file"],
    artifacts: Sequence[Artifact], findings: Sequence[Finding], errors: list[str], extra: dict[str, Any],
    artifact_extra: dict[str, dict[str, Any]], policy: Policy,
) -> PackageResult:
    """The policy applied to findings (computed now or served from the result cache)."""
    final = by_severity(dedupe(policy.apply(list(findings))))
    verdict = Verdict.ERROR if errors else policy.verdict(final)
    return PackageResult(
        name=name, version=version, source=source, verdict=verdict, artifacts=tuple(artifacts),
        findings=tuple(final), error="; ".join(errors) or None, extra=extra,
        artifact_extra=artifact_extra, origin=pkg.origin, line=pkg.line,
    )


def _local_package_job(
    refs: list[PackageRef], limits: ArchiveLimits, policy: Policy, check_opts: Mapping[str, Any]
) -> PackageResult:
    """One local package (the files of one release): read, analyse, package checks, verdict.
    Runs in a worker process for big batches."""
    outcomes = [_local_job(ref, limits) for ref in refs]
    name, version = refs[0].name, refs[0].version
    if version is None:
        ident = next((i for o in outcomes if o[1] is not None and (i := _metadata_identity(o[1]))), None)
        if ident:
            name, version = ident
    artifacts = [o[0] for o in outcomes]
    contexts = [o[1] for o in outcomes if o[1] is not None]
    findings = [f for o in outcomes for f in o[2]]
    errors = [o[3] for o in outcomes if o[3]]
    pkg = PackageRef(name=name, version=version, path=refs[0].path, origin=refs[0].origin)
    pctx = PackageContext(package=pkg, name=name, version=version, artifacts=contexts, options=check_opts)
    try:
        findings.extend(package_findings(pctx, policy))
    except PipwardenError as e:
        errors.append(str(e))
    return package_result(pkg, name, version, "file", artifacts, findings, errors, pctx, policy)


def scan(refs: Sequence[PackageRef], options: ScanOptions, progress: Progress | None = None) -> Report:
    scanner = Scanner(options, progress)
    try:
        return scanner.scan(refs)
    finally:
        scanner.close()


def tool_info() -> dict[str, str]:
    return {"name": "pipwarden", "version": __version__}
