"""A target Python interpreter, described without running anything installed in it.

The interpreter is started with ``-I -S``: isolated (no PYTHONPATH, no user site) and without the
``site`` module, so no ``.pth`` file of that environment runs while we look at it. The site-packages
directories come from ``sysconfig`` and ``site.getsitepackages()`` (a pure function; importing
``site`` under ``-S`` processes no ``.pth`` file, but ``site.venv()`` would, so ``pyvenv.cfg`` is read
directly); installed distributions are read from their metadata files only.
"""

from __future__ import annotations

import email.parser
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from pipwarden.errors import UsageError

_PROBE = r"""
import json, os, site, sys, sysconfig
# Under -S, sys.prefix stays at the base interpreter on some versions. site.venv() would fix it
# but also processes .pth files, so read pyvenv.cfg here the way site.venv() does.
prefix, system_site = sys.prefix, True
exe_dir = os.path.dirname(os.path.abspath(sys.executable))
for conf in (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(os.path.dirname(exe_dir), "pyvenv.cfg")):
    if os.path.isfile(conf):
        prefix = os.path.dirname(exe_dir)
        with open(conf, encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.partition("=")
                if sep and key.strip().lower() == "include-system-site-packages":
                    system_site = value.strip().lower() == "true"
        break
in_venv = prefix != sys.base_prefix
prefixes = [prefix] + ([sys.base_prefix] if in_venv and system_site else [])
dirs = {"base": prefix, "platbase": prefix}
paths = []
libs = [sysconfig.get_path("purelib", vars=dirs), sysconfig.get_path("platlib", vars=dirs)]
for p in libs + list(site.getsitepackages(prefixes)):
    if p and p not in paths:
        paths.append(p)
user = site.getusersitepackages() if not in_venv else None
print(json.dumps({
    "executable": sys.executable, "prefix": prefix, "base_prefix": sys.base_prefix,
    "version": "%d.%d.%d" % sys.version_info[:3], "site_packages": paths, "user_site": user,
    "stdlib": sysconfig.get_path("stdlib"), "scripts": sysconfig.get_path("scripts", vars=dirs),
    "platform": sysconfig.get_platform(), "implementation": sys.implementation.name,
}))
"""


@dataclass(frozen=True)
class PythonEnv:
    executable: str
    prefix: str
    base_prefix: str
    version: str
    site_packages: tuple[Path, ...]
    user_site: Path | None
    stdlib: Path
    scripts: Path
    platform: str

    @property
    def is_venv(self) -> bool:
        return Path(self.prefix).resolve() != Path(self.base_prefix).resolve()

    @property
    def externally_managed(self) -> Path | None:
        marker = self.stdlib / "EXTERNALLY-MANAGED"
        return marker if marker.is_file() else None

    def existing_site_packages(self) -> list[Path]:
        out = [p for p in self.site_packages if p.is_dir()]
        if self.user_site is not None and self.user_site.is_dir():
            out.append(self.user_site)
        return out

    def distributions(self) -> Iterator[tuple[str, str, Path]]:
        """(normalised name, version, .dist-info path) of every installed distribution, from metadata only."""
        for sp in self.existing_site_packages():
            for info in sorted(sp.glob("*.dist-info")):
                meta = info / "METADATA"
                try:
                    msg = email.parser.BytesHeaderParser().parsebytes(meta.read_bytes())
                except OSError:
                    continue
                name, version = msg.get("Name"), msg.get("Version")
                if name and version:
                    yield str(canonicalize_name(str(name))), str(version), info

    def version_of(self, name: str) -> str | None:
        want = canonicalize_name(name)
        for n, v, _ in self.distributions():
            if n == want:
                return v
        return None


def describe(python: str | None = None, timeout: float = 30.0) -> PythonEnv:
    """Describe the interpreter at ``python`` (default: the one running pipwarden)."""
    exe = python or sys.executable
    try:
        proc = subprocess.run([exe, "-I", "-S", "-c", _PROBE], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise UsageError(f"no Python interpreter at {exe}") from e
    except PermissionError as e:
        raise UsageError(f"cannot run {exe}: permission denied") from e
    except OSError as e:
        raise UsageError(f"cannot run {exe}: {e.strerror or e}") from e
    except subprocess.TimeoutExpired as e:
        raise UsageError(f"{exe} did not answer within {timeout:.0f} s") from e
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"{exe} is not a usable Python interpreter: {last}")
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise UsageError(f"{exe} is not a usable Python interpreter (unexpected output)") from e
    return PythonEnv(
        executable=data["executable"] or exe,
        prefix=data["prefix"],
        base_prefix=data["base_prefix"],
        version=data["version"],
        site_packages=tuple(Path(p) for p in data["site_packages"]),
        user_site=Path(data["user_site"]) if data.get("user_site") else None,
        stdlib=Path(data["stdlib"]),
        scripts=Path(data["scripts"]),
        platform=data["platform"],
    )
