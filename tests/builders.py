"""Build small wheels and sdists for tests, in a temporary directory. Nothing here runs them."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

from packaging.utils import canonicalize_name

Content = str | bytes


def _b(content: Content) -> bytes:
    return content.encode() if isinstance(content, str) else content


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def metadata_text(name: str, version: str, requires: tuple[str, ...] = (), extra: str = "") -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", "Summary: a test package"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n" + extra + "\n"


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    files: Mapping[str, Content] | None = None,
    *,
    tag: str = "py3-none-any",
    requires: tuple[str, ...] = (),
    metadata: str | None = None,
    record: str | None = None,
    extra_dist_info: Mapping[str, Content] | None = None,
    omit_from_record: tuple[str, ...] = (),
) -> Path:
    """A wheel with a correct RECORD unless ``record`` overrides it."""
    dist = f"{canonicalize_name(name).replace('-', '_')}-{version}"
    di = f"{dist}.dist-info"
    members: dict[str, bytes] = {}
    for path, content in (files or {f"{canonicalize_name(name).replace('-', '_')}/__init__.py": ""}).items():
        members[path] = _b(content)
    members[f"{di}/METADATA"] = _b(metadata if metadata is not None else metadata_text(name, version, requires))
    members[f"{di}/WHEEL"] = _b(f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n")
    for path, content in (extra_dist_info or {}).items():
        members[f"{di}/{path}"] = _b(content)
    if record is None:
        rows = [f"{p},{_record_hash(d)},{len(d)}" for p, d in members.items() if p not in omit_from_record]
        rows.append(f"{di}/RECORD,,")
        record = "\n".join(rows) + "\n"
    members[f"{di}/RECORD"] = _b(record)
    out = directory / f"{dist}-{tag}.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in members.items():
            zf.writestr(path, data)
    return out


def make_sdist(
    directory: Path,
    name: str,
    version: str,
    files: Mapping[str, Content] | None = None,
    *,
    setup_py: str | None = "from setuptools import setup\nsetup(name=%(name)r, version=%(version)r)\n",
    pkg_info: str | None = None,
    fmt: str = "gz",
) -> Path:
    """An sdist ``name-version.tar.<fmt>`` with a root directory, PKG-INFO and setup.py."""
    stem = f"{canonicalize_name(name).replace('-', '_')}-{version}"
    members: dict[str, bytes] = {
        "PKG-INFO": _b(pkg_info if pkg_info is not None else metadata_text(name, version)),
    }
    if setup_py is not None:
        members["setup.py"] = _b(setup_py % {"name": name, "version": version} if "%(" in setup_py else setup_py)
    for path, content in (files or {}).items():
        members[path] = _b(content)
    out = directory / f"{stem}.tar.{fmt}"
    with tarfile.open(out, f"w:{fmt}") as tf:
        for path, data in members.items():
            info = tarfile.TarInfo(f"{stem}/{path}")
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    return out


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
