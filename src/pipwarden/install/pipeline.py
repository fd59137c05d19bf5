"""lock and install: resolve (uv, no builds) → hash every file → verify → vet (scan + vulnerability DB)
→ write the lock / run pip with ``--require-hashes --no-deps --only-binary :all:``."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from pipwarden import __version__
from pipwarden.errors import UsageError
from pipwarden.index.models import IndexFile
from pipwarden.install.lockfile import LockEntry, LockHeader, Pin, render_pylock, render_requirements
from pipwarden.models import Finding, PackageRef, Report, Severity, Verdict

if TYPE_CHECKING:
    from pipwarden.index.client import IndexClient
    from pipwarden.install.pyenv import PythonEnv
    from pipwarden.install.resolve import Resolution
    from pipwarden.scan import ScanOptions

Stage = Callable[[str], None]


@contextmanager
def open_index(index_url: str | None, *, allow_insecure: bool = False, timeout: float = 30.0,
               cache_dir: Path | None = None, use_cache: bool = True) -> Iterator[IndexClient]:
    from pipwarden.index.cache import Cache, default_cache_dir
    from pipwarden.index.client import IndexClient
    from pipwarden.index.config import check_index_url, configured_index_url

    url = check_index_url(index_url or configured_index_url(), allow_insecure)
    cache = Cache(cache_dir or default_cache_dir()) if use_cache else None
    client = IndexClient(url, cache=cache, timeout=timeout, allow_insecure=allow_insecure)
    try:
        yield client
    finally:
        client.close()


# -- which files of a release to record ------------------------------------------------------


def _wheel_ok(filename: str, python_version: str | None, platform: str | None) -> bool:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        _n, _v, _b, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    ok_py = True
    if python_version:
        major, minor = ([*python_version.split("."), "0"])[:2]
        want = int(major) * 100 + int(minor or 0)

        def py_ok(interp: str, abi: str) -> bool:
            if interp in ("py3", f"py{major}", f"py{major}{minor}"):
                return True
            if interp.startswith("cp") and interp[2:].isdigit():
                n = int(interp[2:3]) * 100 + int(interp[3:] or 0)
                return n == want or (abi == "abi3" and n <= want)
            return interp.startswith("py") and interp[2:3] == major

        ok_py = any(py_ok(t.interpreter, t.abi) for t in tags)
    ok_plat = True
    if platform:
        plat = platform.lower()
        wants = []
        if "win" in plat:
            wants.append("win")
        elif "mac" in plat or "apple" in plat or "darwin" in plat:
            wants.append("macosx")
        elif "linux" in plat:
            wants.append("linux")
        arch: str | None = None
        if "x86_64" in plat:
            arch = "amd64" if "win" in plat else "x86_64"
        elif "aarch64" in plat:
            arch = "arm64" if wants == ["macosx"] else "aarch64"
        ok_plat = any(t.platform == "any" or (all(w in t.platform for w in wants) and (arch is None or arch in
                      t.platform or "universal" in t.platform)) for t in tags)
    return ok_py and ok_plat


def select_files(files: Sequence[IndexFile], *, python_version: str | None = None,
                 platform: str | None = None, include_sdist: bool = True) -> list[IndexFile]:
    """Every file of a release (all platforms and the sdist), narrowed by --python-version / --platform.
    Individually yanked files are left out unless every file is yanked."""
    live = [f for f in files if not f.yanked] or list(files)
    out: list[IndexFile] = []
    for f in live:
        if f.kind == "wheel":
            if _wheel_ok(f.filename, python_version, platform):
                out.append(f)
        elif f.kind == "sdist" and include_sdist:
            out.append(f)
    return sorted(out, key=lambda f: f.filename)


# -- vetting ---------------------------------------------------------------------------------


@dataclass
class Vetting:
    report: Report
    blocked: list[str]
    findings: dict[str, list[Finding]]
    verdicts: dict[str, str]
    vulndb: dict[str, Any] | None
    policy: dict[str, Any]


def _scan_options(base: ScanOptions, index_url: str) -> tuple[ScanOptions, dict[str, Any] | None]:
    """The scan options with the vulnerability database attached, when one exists."""
    from pipwarden.vulndb import NoDatabaseError, VulnDB, VulnDBError

    try:
        db = VulnDB.open_default(base.cache_dir)
    except NoDatabaseError:
        return replace(base, index_url=index_url), None
    except VulnDBError as e:
        raise UsageError(str(e)) from e
    opts = dict(base.check_options)
    opts["vulndb"] = db
    return replace(base, index_url=index_url, check_options=opts), db.snapshot.to_json()


def vet(refs: Sequence[PackageRef], base: ScanOptions, index_url: str, stage: Stage | None = None) -> Vetting:
    from pipwarden.scan import scan

    options, snapshot = _scan_options(base, index_url)
    report = scan(refs, options, stage)
    blocked: list[str] = []
    findings: dict[str, list[Finding]] = {}
    verdicts: dict[str, str] = {}
    for p in report.packages:
        key = f"{canonicalize_name(p.name)}=={p.version}"
        verdicts[key] = p.verdict.value
        findings[key] = [f for f in p.findings if f.severity >= options.policy.warn_on]
        if p.verdict in (Verdict.BLOCK, Verdict.ERROR):
            blocked.append(key)
            if p.verdict is Verdict.ERROR and p.error:
                findings[key].append(Finding("PW527", Severity.HIGH, "could not be vetted", p.error,
                                             category="config"))
    return Vetting(report, blocked, findings, verdicts, snapshot, options.policy.describe())


# -- lock ------------------------------------------------------------------------------------


@dataclass
class LockResult:
    pins: list[Pin]
    text: str
    written: bool
    blocked: list[str]
    resolution: Resolution
    vetting: Vetting | None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def lock(
    requirements_in: Path,
    output: Path | None,
    *,
    options: ScanOptions,
    fmt: str = "requirements",
    allow_sdist: Sequence[str] = (),
    python_version: str | None = None,
    platform: str | None = None,
    universal: bool = False,
    force: bool = False,
    vet_packages: bool = True,
    command: str = "",
    stage: Stage | None = None,
) -> LockResult:
    import time

    from pipwarden.install.resolve import (
        compile_requirements,
        current_python_version,
        sdist_metadata,
    )

    say = stage or (lambda _m: None)
    if not requirements_in.is_file():
        raise UsageError(f"no such file: {requirements_in}")
    timings: dict[str, float] = {}
    with open_index(options.index_url, allow_insecure=options.allow_insecure_index, timeout=options.timeout,
                    cache_dir=options.cache_dir, use_cache=options.use_cache) as client:
        index_url = client.index_url
        t0 = time.perf_counter()
        metas = []
        for name in allow_sdist:
            say(f"reading the static metadata of {name}'s sdist")
            metas.append(sdist_metadata(client, str(canonicalize_name(name))))
        say("resolving with uv (builds forbidden)")
        uv_cache = (options.cache_dir / "uv") if options.cache_dir else None
        if uv_cache is None:
            from pipwarden.index.cache import default_cache_dir

            uv_cache = Path(default_cache_dir()) / "uv"
        resolution = compile_requirements(
            requirements_in, _full_url(options.index_url),
            python_version=python_version or current_python_version(), python_platform=platform,
            universal=universal, allow_sdist=metas, cache_dir=uv_cache, no_cache=not options.use_cache,
        )
        timings["resolve"] = time.perf_counter() - t0
        say(f"hashing every file of {len(resolution.pins)} pinned releases")
        t1 = time.perf_counter()
        allowed = {m.name for m in metas}
        pins = _pins(client, resolution, python_version, platform, allowed)
        timings["hash"] = time.perf_counter() - t1
    notes: list[str] = []
    for m in metas:
        got = next((p.version for p in pins if p.name == m.name), None)
        notes.append(f"{m.name}: sdist allowed; dependencies read from {m.source} of {m.name} {m.version}"
                     + (f" (locked {got})" if got and got != m.version else ""))
    vetting: Vetting | None = None
    blocked: list[str] = []
    if vet_packages:
        t2 = time.perf_counter()
        refs = [PackageRef(p.name, p.version, f"=={p.version}",
                           hashes=tuple(f"sha256:{f.sha256}" for f in p.files if f.sha256), origin=str(requirements_in))
                for p in pins]
        say(f"vetting {len(refs)} packages (scan + vulnerability database)")
        vetting = vet(refs, options, index_url, None)
        timings["vet"] = time.perf_counter() - t2
        blocked = list(vetting.blocked)
        pins = [replace(p, verdict=vetting.verdicts.get(f"{p.name}=={p.version}", "pass"),
                        findings=tuple(vetting.findings.get(f"{p.name}=={p.version}", ())))
                for p in pins]
    header = LockHeader(
        source=str(requirements_in),
        command=command or f"pipwarden lock {requirements_in}",
        resolver=resolution.uv_version,
        index=_public(index_url),
        tool=f"pipwarden {__version__}",
        policy=vetting.policy if vetting else options.policy.describe(),
        vulndb=vetting.vulndb if vetting else None,
        vetted_at=datetime.now(UTC).replace(microsecond=0),
        forced=bool(blocked) and force,
        notes=tuple(notes) + (("NOT VETTED (--no-vet)",) if not vet_packages else ()),
    )
    text = render_pylock(pins, header) if fmt == "pylock" else render_requirements(pins, header)
    written = False
    if output is not None and (not blocked or force):
        _write_atomic(output, text)
        written = True
    return LockResult(pins, text, written, blocked, resolution, vetting, notes, timings)


def _full_url(given: str | None) -> str:
    """The index URL for uv, with the credentials the user gave (the client keeps them apart)."""
    if given:
        return given if given.endswith("/") else given + "/"
    from pipwarden.index.config import configured_index_url

    return configured_index_url()


def _public(url: str) -> str:
    from pipwarden.index.config import redact_url

    return redact_url(url)


def _pins(client: IndexClient, resolution: Resolution, python_version: str | None, platform: str | None,
          allowed_sdists: set[str]) -> list[Pin]:
    from concurrent.futures import ThreadPoolExecutor

    def one(r: Any) -> Pin:
        files = client.release_files(r.name, Version(r.version))
        chosen = select_files(files, python_version=python_version, platform=platform)
        if not any(f.kind == "wheel" for f in chosen) and r.name not in allowed_sdists:
            raise UsageError(f"{r.name} {r.version} has no wheel on the index; pass --allow-sdist {r.name}")
        return Pin(r.name, r.version, tuple(chosen), r.marker)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, resolution.pins))


def _write_atomic(path: Path, text: str) -> None:
    import os
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp).replace(path)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from e


# -- install ---------------------------------------------------------------------------------


@dataclass
class InstallPlan:
    lock_path: Path
    entries: list[LockEntry]
    findings: list[Finding]
    blocked: list[str]
    vetting: Vetting | None


def check_target(env: PythonEnv, system: bool) -> None:
    if not env.is_venv and not system:
        raise UsageError(
            f"{env.executable} is not a virtual environment; make one with 'python -m venv .venv' and pass "
            "--python .venv/bin/python (or --system to install into it anyway)"
        )


def pip_command(env: PythonEnv, lock_path: Path, index_url: str) -> list[str]:
    """pip of the target if it has one, else this interpreter's pip pointed at the target with --python."""
    base = [env.executable, "-m", "pip"] if env.version_of("pip") else [sys.executable, "-m", "pip", "--python",
                                                                        env.executable]
    return [*base, "install", "--require-hashes", "--no-deps", "--only-binary", ":all:", "--no-input",
            "--disable-pip-version-check", "--index-url", index_url, "-r", str(lock_path)]


def run_pip(cmd: Sequence[str], timeout: float = 1800.0) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # the lock and the flags say everything; no config may widen them
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise UsageError(f"pip did not finish within {timeout:.0f} s") from e
    except OSError as e:
        raise UsageError(f"cannot run pip: {e}") from e


def shell_join(cmd: Sequence[str]) -> str:
    return shlex.join(cmd)
