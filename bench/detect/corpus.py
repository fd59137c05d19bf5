"""The two dev sets for the detection benchmark.

* malicious: ``malicious-dev.zip`` decrypted once into a temporary folder of *packed* archives
  (never unpacked, installed or built).
* benign: the latest sdist (else the smallest wheel) of each project in ``benign-dev.txt``,
  downloaded once from the configured index into ``bench/.cache/benign`` (gitignored).

The index is the one pip is configured with, else pip's own default (pipwarden's
``configured_index_url``), reached through pipwarden's IndexClient; no registry host is written here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from pipwarden.errors import PipwardenError
from pipwarden.index.client import IndexClient
from pipwarden.index.config import configured_index_url
from pipwarden.index.models import IndexFile

HERE = Path(__file__).resolve().parent
CACHE = HERE.parent / ".cache"
CORPUS = Path(os.environ.get("PIPWARDEN_CORPUS", HERE.parents[2] / "shared" / "corpus"))
if not CORPUS.exists():
    CORPUS = Path("/work/shared/corpus")
PASSWORD = b"infected"


@dataclass(frozen=True)
class Sample:
    label: str  # "malicious" | "benign"
    name: str
    version: str
    path: Path


def malicious_samples(dest: Path, limit: int | None = None) -> list[Sample]:
    """Decrypt the malicious dev set once into ``dest`` as packed archives."""
    manifest = json.loads((CORPUS / "malicious-dev.manifest.json").read_text())["samples"]
    if limit is not None:
        manifest = manifest[:limit]
    out: list[Sample] = []
    with zipfile.ZipFile(CORPUS / "malicious-dev.zip") as zf:
        for i, entry in enumerate(manifest):
            target = dest / f"{i:04d}" / Path(entry["file"]).name
            if not target.exists():
                data = zf.read(entry["file"], pwd=PASSWORD)
                if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                    raise SystemExit(f"corpus sample {entry['file']} does not match its manifest digest")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            out.append(Sample("malicious", entry["name"], entry["version"], target))
    return out


def benign_names() -> list[str]:
    lines = (CORPUS / "benign-dev.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _choose(files: list[IndexFile]) -> IndexFile | None:
    """The latest final release's sdist, else its pure wheel, else a Linux x86_64 wheel."""
    usable = [f for f in files if not f.yanked and f.version is not None and f.kind in ("sdist", "wheel")]
    final = [f for f in usable if f.version and not f.version.is_prerelease and not f.version.is_devrelease]
    final = final or usable
    if not final:
        return None
    latest = max(f.version for f in final if f.version is not None)
    cands = [f for f in final if f.version == latest]
    sdists = [f for f in cands if f.kind == "sdist" and f.filename.endswith((".tar.gz", ".zip"))]
    if sdists:
        return sdists[0]
    pure = [f for f in cands if f.filename.endswith("-none-any.whl")]
    if pure:
        return pure[0]
    linux = [f for f in cands if "manylinux" in f.filename and "x86_64" in f.filename]
    return (linux or cands)[0]


def _fetch_one(client: IndexClient, name: str, dest: Path) -> tuple[str, str | None, str | None]:
    try:
        chosen = _choose(list(client.project(name).files))
        if chosen is None:
            return name, None, "no installable files"
        target = dest / chosen.filename
        if not target.exists():
            got = client.fetch(chosen)  # verified against the index digest
            tmp = target.with_suffix(target.suffix + ".part")
            shutil.copyfile(got, tmp)
            tmp.replace(target)
    except PipwardenError as e:
        return name, None, str(e)
    return name, chosen.filename, None


def fetch_projects(names: list[str], dest: Path, *, label: str, refresh: bool = False, workers: int = 8,
                   log: bool = True) -> dict[str, str]:
    """name -> file name of each project's chosen archive in ``dest``, downloading what it lacks
    (a ``manifest.json`` there remembers the choices)."""
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path = dest / "manifest.json"
    manifest: dict[str, str] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    todo = [n for n in names if refresh or n not in manifest or not (dest / manifest[n]).exists()]
    if todo:
        if log:
            print(f"fetching {len(todo)} {label} projects from the configured index ...", flush=True)
        with IndexClient(configured_index_url(), max_workers=workers) as client, ThreadPoolExecutor(workers) as ex:
            for name, filename, err in ex.map(lambda n: _fetch_one(client, n, dest), todo):
                if filename:
                    manifest[name] = filename
                elif log:
                    print(f"  {name}: {err}", flush=True)
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def benign_samples(refresh: bool = False, workers: int = 8, log: bool = True) -> list[Sample]:
    """The benign dev set, downloading what the cache lacks."""
    dest = CACHE / "benign"
    names = benign_names()
    manifest = fetch_projects(names, dest, label="benign", refresh=refresh, workers=workers, log=log)
    out: list[Sample] = []
    for n in names:
        if n in manifest and (dest / manifest[n]).exists():
            fn = manifest[n]
            version = _version_of(fn)
            out.append(Sample("benign", n, version, dest / fn))
    return out


def _version_of(filename: str) -> str:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename):
        m = re.search(r"-(\d[^-]*)\.(tar\.gz|zip)$", filename)
        return m.group(1) if m else "?"


class TempCorpus:
    """A temporary folder holding the decrypted malicious archives for one run."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="pipwarden-detect-"))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def iter_all(tmp: Path, *, malicious_limit: int | None = None) -> Iterator[Sample]:
    yield from malicious_samples(tmp, malicious_limit)
    yield from benign_samples()
