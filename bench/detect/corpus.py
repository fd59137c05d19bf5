"""The two dev sets for the detection benchmark.

* malicious: ``malicious-dev.zip`` decrypted once into a temporary folder of *packed* archives
  (never unpacked, installed or built).
* benign: the latest sdist (else the smallest wheel) of each project in ``benign-dev.txt``,
  downloaded once from the configured index into ``bench/.cache/benign`` (gitignored).

The index is pip's configured index (``PIP_INDEX_URL``) else pip's own default, read from pip
itself; no registry host is written here.
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
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

HERE = Path(__file__).resolve().parent
CACHE = HERE.parent / ".cache"
CORPUS = Path(os.environ.get("PIPWARDEN_CORPUS", HERE.parents[2] / "shared" / "corpus"))
if not CORPUS.exists():
    CORPUS = Path("/work/shared/corpus")
PASSWORD = b"infected"
TIMEOUT = httpx.Timeout(30.0, connect=15.0)


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


def index_url() -> str:
    env = os.environ.get("PIP_INDEX_URL")
    if env:
        return env.rstrip("/") + "/"
    from pip._internal.models.index import PyPI

    return str(PyPI.simple_url).rstrip("/") + "/"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            d = dict(attrs)
            if d.get("href"):
                self.links.append((d["href"] or "", d))


@dataclass(frozen=True)
class _File:
    filename: str
    url: str
    sha256: str | None
    version: Version
    kind: str


def _project_files(client: httpx.Client, base: str, name: str) -> list[_File]:
    url = urljoin(base, canonicalize_name(name) + "/")
    r = client.get(url, headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
    r.raise_for_status()
    raw: list[tuple[str, str, str | None, bool]] = []  # filename, url, sha256, yanked
    if "json" in r.headers.get("content-type", ""):
        for f in r.json()["files"]:
            raw.append((f["filename"], urljoin(str(r.url), f["url"]), f.get("hashes", {}).get("sha256"),
                        bool(f.get("yanked"))))
    else:
        p = _Links()
        p.feed(r.text)
        for href, attrs in p.links:
            full = urljoin(str(r.url), href)
            path, _, frag = full.partition("#")
            digest = frag.split("=", 1)[1] if frag.startswith("sha256=") else None
            raw.append((Path(urlsplit(path).path).name, path, digest, "data-yanked" in attrs))
    files: list[_File] = []
    for filename, furl, digest, yanked in raw:
        if yanked:
            continue
        try:
            if filename.endswith(".whl"):
                _, ver, _, _ = parse_wheel_filename(filename)
                kind = "wheel"
            elif filename.endswith((".tar.gz", ".zip")):
                _, ver = parse_sdist_filename(filename)
                kind = "sdist"
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
            continue
        files.append(_File(filename, furl, digest, ver, kind))
    return files


def _choose(files: list[_File]) -> _File | None:
    final = [f for f in files if not f.version.is_prerelease and not f.version.is_devrelease] or files
    if not final:
        return None
    latest = max(f.version for f in final)
    cands = [f for f in final if f.version == latest]
    sdists = [f for f in cands if f.kind == "sdist"]
    if sdists:
        return sdists[0]
    pure = [f for f in cands if f.filename.endswith("-none-any.whl")]
    if pure:
        return pure[0]
    # No sdist, no pure wheel: the smallest platform wheel is as good a sample as any (we cannot
    # know sizes before downloading, so prefer Linux x86_64 manylinux for realism, then anything).
    linux = [f for f in cands if "manylinux" in f.filename and "x86_64" in f.filename]
    return (linux or cands)[0]


def _fetch_one(client: httpx.Client, base: str, name: str, dest: Path) -> tuple[str, str | None, str | None]:
    try:
        chosen = _choose(_project_files(client, base, name))
    except (httpx.HTTPError, ValueError, KeyError) as e:
        return name, None, f"index: {e}"
    if chosen is None:
        return name, None, "no installable files"
    target = dest / chosen.filename
    if target.exists():
        return name, chosen.filename, None
    digest = hashlib.sha256()
    tmp = target.with_suffix(target.suffix + ".part")
    try:
        with client.stream("GET", chosen.url) as r, tmp.open("wb") as fh:
            r.raise_for_status()
            for chunk in r.iter_bytes(1 << 16):
                digest.update(chunk)
                fh.write(chunk)
    except httpx.HTTPError as e:
        tmp.unlink(missing_ok=True)
        return name, None, f"download: {e}"
    if chosen.sha256 and digest.hexdigest() != chosen.sha256:
        tmp.unlink(missing_ok=True)
        return name, None, "digest mismatch"
    tmp.replace(target)
    return name, chosen.filename, None


def benign_samples(refresh: bool = False, workers: int = 8, log: bool = True) -> list[Sample]:
    """The benign dev set, downloading what the cache lacks."""
    dest = CACHE / "benign"
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path = dest / "manifest.json"
    manifest: dict[str, str] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    names = benign_names()
    todo = [n for n in names if refresh or n not in manifest or not (dest / manifest[n]).exists()]
    if todo:
        base = index_url()
        if log:
            print(f"fetching {len(todo)} benign projects from the configured index ...", flush=True)
        with httpx.Client(timeout=TIMEOUT, follow_redirects=True) as client, ThreadPoolExecutor(workers) as ex:
            for name, filename, err in ex.map(lambda n: _fetch_one(client, base, n, dest), todo):
                if filename:
                    manifest[name] = filename
                elif log:
                    print(f"  {name}: {err}", flush=True)
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
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
