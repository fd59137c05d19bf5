"""Resolution without running package code: ``uv pip compile`` with builds forbidden.

uv reads wheel metadata (or the index's PEP 658 metadata files) and never builds with
``--only-binary :all:``. A package that has only an sdist makes uv fail; its name is reported
and the lock needs ``--allow-sdist NAME``. For an allowed sdist, uv is still not allowed to
build it: pipwarden reads the sdist's *static* metadata (PKG-INFO ``Requires-Dist`` of metadata
2.2+, ``*.egg-info/requires.txt``, or ``[project].dependencies``) from the archive in memory and
hands it to uv as ``dependency-metadata``, so uv has no reason to run ``setup.py``. When the
dependencies can only be known by running the build, the lock is refused.

uv runs with ``--no-config`` and ``UV_NO_CONFIG=1`` and gets the index explicitly, so no user or
project configuration leaks in.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipwarden.errors import PipwardenError, UsageError

if TYPE_CHECKING:
    from pipwarden.index.client import IndexClient


class ResolutionError(PipwardenError):
    """The requirements cannot be resolved without running package code (or at all)."""

    def __init__(self, message: str, sdist_only: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.sdist_only = tuple(sdist_only)


@dataclass(frozen=True)
class Resolved:
    name: str  # normalised
    version: str
    marker: str | None = None


@dataclass(frozen=True)
class StaticMetadata:
    name: str
    version: str
    requires_dist: tuple[str, ...]
    requires_python: str | None
    source: str  # where the dependencies were read from


@dataclass
class Resolution:
    pins: list[Resolved]
    uv_version: str
    seconds: float
    sdist_metadata: list[StaticMetadata] = field(default_factory=list)


def find_uv() -> str:
    """The uv binary of the installed ``uv`` package, else one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found:
        return found
    raise UsageError("uv is not installed: pipwarden lock resolves with 'uv pip compile' (pip install uv)")


def uv_version(uv: str) -> str:
    try:
        out = subprocess.run([uv, "--version"], capture_output=True, text=True, timeout=30, env=_uv_env(None))
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UsageError(f"cannot run {uv}: {e}") from e
    return out.stdout.strip() or "uv"


def _uv_env(cache_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env["UV_NO_CONFIG"] = "1"
    env["UV_NO_PROGRESS"] = "1"
    if cache_dir is not None:
        env["UV_CACHE_DIR"] = str(cache_dir)
    return env


_NO_WHEELS = [
    re.compile(r"\b([A-Za-z0-9][A-Za-z0-9._-]*)(?:==\S+)? has no usable wheels"),
    re.compile(r"Wheels are required for `([^`]+)`"),
    re.compile(r"\b([A-Za-z0-9][A-Za-z0-9._-]*)(?:==\S+)? (?:is|are) only available as a source distribution"),
]


def sdist_only_names(stderr: str) -> list[str]:
    names: list[str] = []
    for pattern in _NO_WHEELS:
        for m in pattern.finditer(stderr):
            n = str(canonicalize_name(m.group(1)))
            if n not in names and n not in ("all", "versions"):
                names.append(n)
    return names


def parse_compiled(text: str) -> list[Resolved]:
    pins: list[Resolved] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip().rstrip("\\").strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator not in ("==", "==="):
            continue
        pins.append(Resolved(str(canonicalize_name(req.name)), specs[0].version,
                             str(req.marker) if req.marker else None))
    return pins


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dependency_metadata_config(items: Sequence[StaticMetadata], path: Path) -> None:
    """A uv.toml with ``[[dependency-metadata]]`` for each allowed sdist, valid for every version."""
    parts: list[str] = []
    for m in items:
        parts.append("[[dependency-metadata]]")
        parts.append(f"name = {_toml_str(m.name)}")
        parts.append("requires-dist = [" + ", ".join(_toml_str(r) for r in m.requires_dist) + "]")
        if m.requires_python:
            parts.append(f"requires-python = {_toml_str(m.requires_python)}")
        parts.append("")
    path.write_text("\n".join(parts), encoding="utf-8")


def compile_requirements(
    requirements_in: Path,
    index_url: str,
    *,
    python_version: str,
    python_platform: str | None = None,
    universal: bool = False,
    allow_sdist: Sequence[StaticMetadata] = (),
    cache_dir: Path | None = None,
    no_cache: bool = False,
    timeout: float = 600.0,
) -> Resolution:
    import time

    uv = find_uv()
    version = uv_version(uv)
    with tempfile.TemporaryDirectory(prefix="pipwarden-uv-") as tmp:
        # uv runs in an empty folder (no stray uv.toml or pyproject is read): give it an absolute path.
        cmd = [uv, "pip", "compile", str(Path(requirements_in).resolve()), "--index-url", index_url, "--no-header",
               "--no-annotate", "--quiet", "--python-version", python_version, "--only-binary", ":all:"]
        if allow_sdist:
            conf = Path(tmp) / "uv.toml"
            _dependency_metadata_config(allow_sdist, conf)
            cmd += ["--config-file", str(conf)]
            for m in allow_sdist:
                cmd += ["--no-binary", m.name]
        else:
            cmd += ["--no-config"]
        if python_platform:
            cmd += ["--python-platform", python_platform]
        if universal:
            cmd += ["--universal"]
        if no_cache:
            cmd += ["--no-cache"]
        env = _uv_env(cache_dir)
        if allow_sdist:
            env.pop("UV_NO_CONFIG", None)  # the explicit --config-file carries only dependency-metadata
        started = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp)
        except subprocess.TimeoutExpired as e:
            raise ResolutionError(f"uv did not finish resolving within {timeout:.0f} s") from e
        except OSError as e:
            raise UsageError(f"cannot run {uv}: {e}") from e
        seconds = time.perf_counter() - started
    if proc.returncode != 0:
        err = proc.stderr.strip()
        names = sdist_only_names(err)
        if names:
            shown = " ".join(f"--allow-sdist {n}" for n in names)
            raise ResolutionError(
                f"{', '.join(names)} {'has' if len(names) == 1 else 'have'} no wheel for this target, only an sdist: "
                f"resolving or installing {'it' if len(names) == 1 else 'them'} would run setup.py. To lock "
                f"anyway (static metadata only, nothing is built), pass {shown}",
                names,
            )
        cause = " ".join(line.strip() for line in err.splitlines() if line.strip())[:600]
        raise ResolutionError(f"uv could not resolve {requirements_in}: {cause or 'no output'}")
    return Resolution(parse_compiled(proc.stdout), version, seconds, list(allow_sdist))


# -- static metadata of an sdist, read from the archive in memory --------------------------


def _requires_txt(text: str) -> list[str]:
    """setuptools' egg-info requires.txt: base section, and [extra:marker] / [:marker] sections."""
    out: list[str] = []
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section is None:
            out.append(line)
            continue
        extra, _, marker = section.partition(":")
        conds = []
        if extra:
            conds.append(f'extra == "{extra}"')
        if marker:
            conds.append(f"({marker})")
        out.append(f"{line} ; {' and '.join(conds)}" if conds else line)
    return out


def static_metadata(data: bytes, filename: str) -> StaticMetadata | None:
    """The dependencies of an sdist without building it, or None when only a build could tell."""
    from pipwarden.archive import read_archive

    archive = read_archive(data, filename)
    root = archive.root
    files = {m.name[len(root):] if root and m.name.startswith(root) else m.name: m for m in archive.files()}
    pkg_info = files.get("PKG-INFO")
    if pkg_info is None or pkg_info.data is None:
        return None
    msg = BytesHeaderParser().parsebytes(pkg_info.data)
    name = str(msg.get("Name") or "")
    version = str(msg.get("Version") or "")
    requires_python = msg.get("Requires-Python")
    dynamic = {d.strip().lower() for d in msg.get_all("Dynamic") or []}
    try:
        meta_version = Version(str(msg.get("Metadata-Version") or "1.0"))
    except InvalidVersion:
        meta_version = Version("1.0")
    reqs = [str(r) for r in msg.get_all("Requires-Dist") or []]
    if meta_version >= Version("2.2") and "requires-dist" not in dynamic:
        return StaticMetadata(canonicalize_name(name), version, tuple(reqs),
                              str(requires_python) if requires_python else None, "PKG-INFO (metadata 2.2+)")
    egg = [p for p in files if p.count("/") == 1 and p.split("/")[0].endswith(".egg-info")]
    if egg:
        base = egg[0].split("/")[0]
        req = files.get(f"{base}/requires.txt")
        deps = _requires_txt(req.data.decode("utf-8", "replace")) if req is not None and req.data else []
        return StaticMetadata(canonicalize_name(name), version, tuple(deps),
                              str(requires_python) if requires_python else None, f"{base}/requires.txt")
    pyproject = files.get("pyproject.toml")
    if pyproject is not None and pyproject.data:
        try:
            project = tomllib.loads(pyproject.data.decode("utf-8", "replace")).get("project", {})
        except tomllib.TOMLDecodeError:
            project = {}
        if isinstance(project, dict) and "dependencies" not in (project.get("dynamic") or []):
            deps = [d for d in project.get("dependencies") or [] if isinstance(d, str)]
            extras = project.get("optional-dependencies") or {}
            if isinstance(extras, dict):
                for extra, items in extras.items():
                    deps.extend(f'{d} ; extra == "{extra}"' for d in items if isinstance(d, str))
            rp = project.get("requires-python")
            return StaticMetadata(canonicalize_name(name), version, tuple(deps),
                                  rp if isinstance(rp, str) else None, "pyproject.toml [project]")
    return None


def sdist_metadata(client: IndexClient, name: str, versions: Mapping[str, str] | None = None) -> StaticMetadata:
    """Static metadata of the newest non-yanked sdist of ``name`` (downloaded, digest-checked, read in memory)."""
    page = client.project(name)
    sdists = [f for f in page.files if f.kind == "sdist" and not f.yanked and f.version is not None]
    if not sdists:
        raise ResolutionError(f"{name} has no sdist on {client.display_url} to read its metadata from")
    newest = max(sdists, key=lambda f: f.version or Version("0"))
    path = client.fetch(newest)
    meta = static_metadata(path.read_bytes(), newest.filename)
    if meta is None:
        raise ResolutionError(
            f"{name}: {newest.filename} declares its dependencies only through its build (setup.py); they cannot "
            "be known without running it, so it cannot be locked safely"
        )
    return meta


def current_python_version() -> str:
    """The full version (3.11.7, not 3.11): a release requiring >=3.11.5 must be allowed when we are 3.11.7."""
    return "{}.{}.{}".format(*sys.version_info[:3])
