"""pipwarden doctor: how does this machine install Python packages, and what would an attacker use?

Reads pip's configuration (files and ``PIP_*`` variables, as pip would), describes the target
interpreter without running its site-packages, looks pip's own version up in the vulnerability
database, and — when requirements files are given and more than one index is configured — asks
each index which of the required names it serves (dependency confusion).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipwarden.checks.config import DOCTOR_CHECKS, DoctorContext, VulnHit, mask_secrets
from pipwarden.errors import NotFoundError, PipwardenError
from pipwarden.install import pipconf
from pipwarden.install.pipconf import PipConfig, Setting
from pipwarden.install.pyenv import PythonEnv
from pipwarden.models import Finding

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DoctorResult:
    findings: tuple[Finding, ...]
    config: PipConfig
    env: PythonEnv
    pip_version: str | None
    vulndb: str | None  # snapshot description, or why there is none
    indexes: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def pip_vulnerabilities(version: str, db_path: Path | None = None) -> tuple[list[VulnHit] | None, str]:
    """Known vulnerabilities of pip at ``version``: one database call. (None, why) without a database."""
    from pipwarden.vulndb import NoDatabaseError, VulnDB, VulnDBError

    try:
        db = VulnDB(db_path) if db_path is not None else VulnDB.open_default()
    except NoDatabaseError:
        return None, "no vulnerability database (run 'pipwarden db update'); pip's version was not checked"
    except VulnDBError as e:
        return None, f"vulnerability database unusable: {e}"
    try:
        hits = [
            VulnHit(m.advisory.id, m.advisory.aliases, m.advisory.summary, m.fix_versions, m.advisory.level())
            for m in db.matches("pip", version)
        ]
        return hits, db.snapshot.describe()
    finally:
        db.close()


def configured_indexes(config: PipConfig, requirement_settings: Sequence[Setting], default: str) -> list[str]:
    """The index URLs pip would use: index-url (or the default) plus every extra-index-url."""
    primary = [s.value.strip() for s in requirement_settings if s.key == "index-url"]
    eff = config.effective("index-url")
    urls = primary[-1:] or ([eff.value.strip()] if eff is not None else [default])
    extras = config.effective_values("extra-index-url")
    extras += [x for x in requirement_settings if x.key == "extra-index-url"]
    for s in extras:
        for u in s.values():
            if u not in urls:
                urls.append(u)
    return urls


def index_presence(
    names: Sequence[str], indexes: Sequence[str], *, timeout: float = 15.0, allow_insecure: bool = True
) -> tuple[dict[str, list[str]], list[str]]:
    """name -> the indexes (credentials masked) that serve a project of that name; plus notes on failures."""
    from pipwarden.index.client import IndexClient

    presence: dict[str, list[str]] = {n: [] for n in names}
    notes: list[str] = []
    for url in indexes:
        shown = mask_secrets(url)
        try:
            client = IndexClient(url, cache=None, timeout=timeout, retries=1, allow_insecure=allow_insecure)
        except PipwardenError as e:
            notes.append(f"could not query {shown}: {e}")
            continue
        try:
            def has(name: str, client: IndexClient = client) -> bool:
                try:
                    client.project(name)
                except NotFoundError:
                    return False
                return True

            with ThreadPoolExecutor(max_workers=8) as pool:
                for name, found in zip(names, pool.map(has, names), strict=True):
                    if found:
                        presence[name].append(shown)
        except PipwardenError as e:
            notes.append(f"could not query {shown}: {e}")
        finally:
            client.close()
    return presence, notes


def requirement_names(paths: Sequence[Path]) -> dict[str, str]:
    """Normalised requirement name -> 'file:line', read by the audit sources."""
    from pipwarden.install.lockfile import read_requirements

    out: dict[str, str] = {}
    for path in paths:
        for entry in read_requirements(path).entries:
            out.setdefault(entry.name, f"{entry.file}:{entry.line}")
    return out


def default_index_url() -> str:
    """pip's own default index, imported from pip defensively (no registry host is written here)."""
    try:
        from pip._internal.models.index import PyPI
    except ImportError:
        return ""
    return str(PyPI.simple_url)


def run_doctor(
    python: str | None = None,
    requirements: Sequence[Path] = (),
    *,
    env: Mapping[str, str] | None = None,
    db_path: Path | None = None,
    check_indexes: bool = True,
    timeout: float = 15.0,
    progress: Progress | None = None,
) -> DoctorResult:
    from pipwarden.install.pyenv import describe

    say = progress or (lambda _m: None)
    say("describing the target interpreter")
    target = describe(python)
    config = pipconf.load(target.prefix, os.environ if env is None else env)
    req_settings: list[Setting] = []
    for r in requirements:
        req_settings.extend(pipconf.requirements_options(r))
    pip_version = target.version_of("pip")
    vulns: list[VulnHit] | None = None
    vulndb_note: str | None = None
    notes: list[str] = []
    if pip_version:
        say(f"looking up pip {pip_version} in the vulnerability database")
        vulns, vulndb_note = pip_vulnerabilities(pip_version, db_path)
        if vulns is None:
            notes.append(vulndb_note)
    else:
        notes.append(f"pip is not installed in {target.prefix}")
    presence: dict[str, list[str]] = {}
    origins: dict[str, str] = {}
    indexes: list[str] = []
    if requirements:
        origins = requirement_names(requirements)
        indexes = [u for u in configured_indexes(config, req_settings, default_index_url()) if u]
        if check_indexes and len(indexes) > 1 and origins:
            say(f"asking {len(indexes)} indexes about {len(origins)} names")
            presence, failures = index_presence(sorted(origins), indexes, timeout=timeout)
            notes.extend(failures)
    ctx = DoctorContext(
        config=config, env=target, requirement_settings=req_settings, pip_version=pip_version,
        pip_vulns=vulns, vulndb_snapshot=vulndb_note if vulns is not None else None,
        index_presence=presence, requirement_origins=origins,
    )
    findings: list[Finding] = []
    for cls in DOCTOR_CHECKS:
        findings.extend(cls().run(ctx))
    findings.sort(key=lambda f: (-f.severity, f.id, f.file or "", f.line or 0))
    return DoctorResult(tuple(findings), config, target, pip_version, vulndb_note,
                        tuple(mask_secrets(u) for u in indexes), tuple(notes))
