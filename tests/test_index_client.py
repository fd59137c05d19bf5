"""IndexClient against a real HTTP index on 127.0.0.1 (tests/indexserver.py)."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipwarden.errors import IndexClientError, IntegrityError, NotFoundError, UsageError
from pipwarden.index.cache import Cache
from pipwarden.index.client import IndexClient
from pipwarden.index.models import IndexFile
from tests.builders import make_sdist, make_wheel, sha256_of
from tests.indexserver import JSON_V1, LocalIndex

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def populate(index: LocalIndex, d: Path) -> None:
    index.add(make_wheel(d, "Demo.Pkg", "1.0", requires=("idna>=3",)), requires_python=">=3.8,<4")
    index.add(make_sdist(d, "Demo.Pkg", "1.0"))
    index.add(make_wheel(d, "Demo.Pkg", "1.5"), upload_time=WHEN, provenance={"version": 1, "bundles": []})
    index.add(make_wheel(d, "Demo.Pkg", "2.0"), yanked="broken build")
    index.add(make_wheel(d, "Demo.Pkg", "2.1"), yanked="")


def artifact_files(cache_root: Path) -> list[Path]:
    base = cache_root / "artifacts"
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []


def client_for(index: LocalIndex, tmp_path: Path, **kw: object) -> IndexClient:
    kw.setdefault("cache", Cache(tmp_path / "cache"))
    kw.setdefault("backoff", 0.01)
    return IndexClient(index.url, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("simple_json", [True, False], ids=["json", "html"])
def test_project_page(simple_json: bool, tmp_path: Path) -> None:
    with LocalIndex(simple_json=simple_json) as index:
        populate(index, tmp_path)
        index.set_project_status("demo-pkg", "deprecated", "use other-pkg")
        with client_for(index, tmp_path) as client:
            page = client.project("Demo_Pkg")
        (_m, _p, headers) = index.requests[-1]
        root = index.root
        assert JSON_V1 in headers["Accept"] and "text/html;q=0.01" in headers["Accept"]
    assert page.name == "demo-pkg"
    files = {f.filename: f for f in page.files}
    assert len(files) == 5
    wheel = files["demo_pkg-1.0-py3-none-any.whl"]
    assert wheel.url == f"{root}packages/demo_pkg-1.0-py3-none-any.whl"
    assert wheel.sha256 == sha256_of(tmp_path / wheel.filename)
    assert wheel.requires_python == ">=3.8,<4"  # HTML-unescaped
    assert isinstance(wheel.core_metadata, dict) and len(wheel.core_metadata["sha256"]) == 64
    assert files["demo_pkg-1.0.tar.gz"].core_metadata is False
    assert files["demo_pkg-2.0-py3-none-any.whl"].yanked is True
    assert files["demo_pkg-2.0-py3-none-any.whl"].yanked_reason == "broken build"
    assert files["demo_pkg-2.1-py3-none-any.whl"].yanked is True
    assert files["demo_pkg-2.1-py3-none-any.whl"].yanked_reason is None
    assert files["demo_pkg-1.0-py3-none-any.whl"].yanked is False
    assert files["demo_pkg-1.5-py3-none-any.whl"].provenance == (
        f"{root}integrity/demo-pkg/1.5/demo_pkg-1.5-py3-none-any.whl/provenance"
    )
    assert page.status == "deprecated" and page.status_reason == "use other-pkg"
    assert [str(v) for v in page.all_versions()] == ["1.0", "1.5", "2.0", "2.1"]
    if simple_json:
        assert files["demo_pkg-1.5-py3-none-any.whl"].upload_time == WHEN
        assert wheel.size == (tmp_path / wheel.filename).stat().st_size
        assert page.versions == ("1.0", "1.5", "2.0", "2.1")
    else:
        assert files["demo_pkg-1.5-py3-none-any.whl"].upload_time is None


def test_html_upload_time(tmp_path: Path) -> None:
    with LocalIndex(simple_json=False, html_upload_time=True) as index:
        populate(index, tmp_path)
        with client_for(index, tmp_path) as client:
            page = client.project("demo-pkg")
    assert {f.filename: f for f in page.files}["demo_pkg-1.5-py3-none-any.whl"].upload_time == WHEN


def test_unknown_project(local_index: LocalIndex, tmp_path: Path) -> None:
    with client_for(local_index, tmp_path) as client, pytest.raises(NotFoundError) as info:
        client.project("no-such-thing")
    assert str(info.value) == f"no project named no-such-thing on {local_index.url}"


@pytest.mark.parametrize("simple_json", [True, False], ids=["json", "html"])
def test_relative_urls_resolved_against_response_url(simple_json: bool, tmp_path: Path) -> None:
    with LocalIndex(relative_urls=True, simple_json=simple_json) as index:
        populate(index, tmp_path)
        # A mirror whose project pages redirect elsewhere: links resolve against where they landed.
        index.overrides["/deep/mirror/path/demo-pkg/"] = (301, {"Location": "/simple/demo-pkg/"}, b"")
        with IndexClient(index.root + "deep/mirror/path/", cache=None) as client:
            page = client.project("demo-pkg")
            wheel = next(f for f in page.files if f.filename == "demo_pkg-1.0-py3-none-any.whl")
            assert wheel.url == f"{index.root}packages/demo_pkg-1.0-py3-none-any.whl"
            path = client.fetch(wheel)
            assert path.read_bytes() == (tmp_path / wheel.filename).read_bytes()
        assert not path.exists()  # the client's temp dir goes with it


def test_json_api(tmp_path: Path, local_index: LocalIndex) -> None:
    populate(local_index, tmp_path)
    local_index.set_vulnerabilities("demo-pkg", "1.0", [{"id": "GHSA-demo", "aliases": ["CVE-2024-1"]}])
    local_index.set_ownership("demo-pkg", {"organization": "acme", "roles": []})
    with client_for(local_index, tmp_path) as client:
        one = client.release("Demo.Pkg", "1.0")
        latest = client.release("demo-pkg")
        assert client.release("demo-pkg", "9.9") is None
        assert client.release("nothing-here") is None
    assert one is not None and latest is not None
    assert one.name == "demo-pkg" and one.version == "1.0"
    assert one.info["requires_dist"] == ["idna>=3"]
    assert set(one.files) == {"demo_pkg-1.0-py3-none-any.whl", "demo_pkg-1.0.tar.gz"}
    wheel = one.files["demo_pkg-1.0-py3-none-any.whl"]
    assert wheel.sha256 == sha256_of(tmp_path / wheel.filename)
    assert wheel.upload_time is not None and wheel.upload_time.tzinfo is not None
    assert one.vulnerabilities[0]["id"] == "GHSA-demo"
    assert one.ownership == {"organization": "acme", "roles": []}
    assert one.releases == {}
    assert latest.version == "1.5"  # 2.0 and 2.1 are yanked
    assert set(latest.releases) == {"1.0", "1.5", "2.0", "2.1"}
    yanked = latest.releases["2.0"][0]
    assert yanked.yanked and yanked.yanked_reason == "broken build"
    assert latest.releases["1.5"][0].upload_time == WHEN


def test_json_api_absent(tmp_path: Path) -> None:
    with LocalIndex(json_api=False) as index:
        populate(index, tmp_path)
        with client_for(index, tmp_path) as client:
            assert client.release("demo-pkg", "1.0") is None
            assert client.project("demo-pkg").files
        # an index that answers the JSON API path with HTML has no JSON API either
        index.overrides["/pypi/demo-pkg/json"] = (200, {"Content-Type": "text/html"}, b"<html></html>")
        with client_for(index, tmp_path) as client:
            assert client.release("demo-pkg") is None


def test_fetch_verifies_and_caches(local_index: LocalIndex, tmp_path: Path) -> None:
    populate(local_index, tmp_path)
    cache_root = tmp_path / "cache"
    with client_for(local_index, tmp_path) as client:
        wheel = next(f for f in client.project("demo-pkg").files if f.filename.startswith("demo_pkg-1.0-"))
        path = client.fetch(wheel)
        assert path.read_bytes() == (tmp_path / wheel.filename).read_bytes()
        digest = sha256_of(tmp_path / wheel.filename)
        assert wheel.sha256 == digest
        assert path == cache_root / "artifacts" / "sha256" / digest[:2] / digest
        downloads = local_index.paths().count("/packages/" + wheel.filename)
        assert downloads == 1
        assert client.fetch(wheel) == path
    # a new client (a new process, in real life) reuses the cache without a request
    with client_for(local_index, tmp_path) as client:
        assert client.fetch(wheel) == path
    assert local_index.paths().count("/packages/" + wheel.filename) == 1
    assert artifact_files(cache_root) == [path]


def test_damaged_cache_entry_is_refetched(local_index: LocalIndex, tmp_path: Path) -> None:
    populate(local_index, tmp_path)
    with client_for(local_index, tmp_path) as client:
        wheel = client.project("demo-pkg").files[0]
        path = client.fetch(wheel)
        path.write_bytes(b"bit rot")
        again = client.fetch(wheel)
    assert again.read_bytes() == (tmp_path / wheel.filename).read_bytes()
    assert local_index.paths().count("/packages/" + wheel.filename) == 2


@pytest.mark.parametrize("use_cache", [True, False], ids=["cache", "no-cache"])
def test_bad_digest(use_cache: bool, local_index: LocalIndex, tmp_path: Path) -> None:
    wheel_path = make_wheel(tmp_path, "tampered", "1.0")
    local_index.add(wheel_path, bad_digest=True)
    cache = Cache(tmp_path / "cache") if use_cache else None
    with IndexClient(local_index.url, cache=cache) as client:
        f = client.project("tampered").files[0]
        with pytest.raises(IntegrityError) as info:
            client.fetch(f)
        tmpdir = client._tmpdir
        assert tmpdir is None or not any(tmpdir.iterdir())
    err = info.value
    assert err.filename == wheel_path.name
    assert err.expected == f.sha256
    assert err.actual == sha256_of(wheel_path) != err.expected
    assert "sha256 mismatch" in str(err) and "\n" not in str(err)
    assert artifact_files(tmp_path / "cache") == []


def test_slow_response_times_out(local_index: LocalIndex, tmp_path: Path) -> None:
    populate(local_index, tmp_path)
    local_index.slow["/simple/demo-pkg/"] = 5
    started = time.monotonic()
    with client_for(local_index, tmp_path, timeout=0.3, retries=1) as client, pytest.raises(IndexClientError) as info:
        client.project("demo-pkg")
    assert time.monotonic() - started < 3
    message = str(info.value)
    assert message == f"timed out talking to {local_index.url}demo-pkg/ after 2 attempts (timeout 0.3 s)"
    assert local_index.paths().count("/simple/demo-pkg/") == 2


def test_5xx_then_success_is_retried(local_index: LocalIndex, tmp_path: Path) -> None:
    populate(local_index, tmp_path)
    local_index.fail_next["/simple/demo-pkg/"] = 2
    with client_for(local_index, tmp_path, retries=2) as client:
        page = client.project("demo-pkg")
        wheel = page.files[0]
        local_index.fail_next["/packages/" + wheel.filename] = 1
        assert client.fetch(wheel).read_bytes() == (tmp_path / wheel.filename).read_bytes()
    assert local_index.paths().count("/simple/demo-pkg/") == 3
    assert local_index.paths().count("/packages/" + wheel.filename) == 2


def test_5xx_exhausts_retries(local_index: LocalIndex, tmp_path: Path) -> None:
    populate(local_index, tmp_path)
    local_index.fail_next["/simple/demo-pkg/"] = 5
    with client_for(local_index, tmp_path, retries=1) as client, pytest.raises(IndexClientError) as info:
        client.project("demo-pkg")
    assert "answered HTTP 503 after 2 attempts" in str(info.value)
    assert local_index.fail_next["/simple/demo-pkg/"] == 3


def test_etag_revalidation(local_index: LocalIndex, tmp_path: Path) -> None:
    populate(local_index, tmp_path)
    page_path = "/simple/demo-pkg/"
    with client_for(local_index, tmp_path, cache=Cache(tmp_path / "c", ttl=600)) as client:
        first = client.project("demo-pkg")
        assert client.project("demo-pkg") == first
    assert local_index.paths().count(page_path) == 1  # fresh: no request at all
    with client_for(local_index, tmp_path, cache=Cache(tmp_path / "c", ttl=0)) as client:
        second = client.project("demo-pkg")
    assert second == first
    assert local_index.paths().count(page_path) == 2
    _method, path, headers = local_index.requests[-1]
    assert path == page_path and headers.get("If-None-Match", "").startswith('"')
    # a changed page is a new ETag: the revalidation brings the new content
    local_index.add(make_wheel(tmp_path, "Demo.Pkg", "3.0"))
    with client_for(local_index, tmp_path, cache=Cache(tmp_path / "c", ttl=0)) as client:
        third = client.project("demo-pkg")
    assert len(third.files) == len(first.files) + 1


def test_etag_304_refreshes_entry(local_index: LocalIndex, tmp_path: Path) -> None:
    populate(local_index, tmp_path)
    cache = Cache(tmp_path / "c", ttl=600)
    with client_for(local_index, tmp_path, cache=cache) as client:
        client.project("demo-pkg")
        url = client.project_url("demo-pkg")
    from pipwarden.index.simple import ACCEPT_SIMPLE

    entry = cache.get_meta(url, ACCEPT_SIMPLE)
    assert entry is not None and entry.etag
    # age the entry past its TTL by rewriting it with an old timestamp
    from dataclasses import replace

    cache.put_meta(replace(entry, stored_at=entry.stored_at - 3600), ACCEPT_SIMPLE)
    with client_for(local_index, tmp_path, cache=cache) as client:
        client.project("demo-pkg")
    refreshed = cache.get_meta(url, ACCEPT_SIMPLE)
    assert refreshed is not None and cache.is_fresh(refreshed)
    assert local_index.paths().count("/simple/demo-pkg/") == 2


def test_connection_dropped_mid_body_leaves_no_entry(local_index: LocalIndex, tmp_path: Path) -> None:
    populate(local_index, tmp_path)
    with client_for(local_index, tmp_path, retries=1) as client:
        wheel = client.project("demo-pkg").files[0]
        local_index.truncate["/packages/" + wheel.filename] = 100
        with pytest.raises(IndexClientError) as info:
            client.fetch(wheel)
        assert "after 2 attempts" in str(info.value)
        assert artifact_files(tmp_path / "cache") == []
        del local_index.truncate["/packages/" + wheel.filename]
        assert client.fetch(wheel).read_bytes() == (tmp_path / wheel.filename).read_bytes()
    assert len(artifact_files(tmp_path / "cache")) == 1


def test_killed_process_mid_download_leaves_no_entry(local_index: LocalIndex, tmp_path: Path) -> None:
    """A real crash: the downloading process is SIGKILLed while the body is half sent."""
    wheel_path = make_wheel(tmp_path, "big", "1.0", {"big/data.bin": os.urandom(200_000)})
    local_index.add(wheel_path)
    digest = sha256_of(wheel_path)
    local_index.stall["/packages/" + wheel_path.name] = (100_000, 30)
    cache_root = tmp_path / "cache"
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from pipwarden.index.cache import Cache
        from pipwarden.index.client import IndexClient
        with IndexClient({local_index.url!r}, cache=Cache(Path({str(cache_root)!r}))) as c:
            c.fetch(c.project("big").files[0])
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until half the body is on disk
            temps = [p for p in cache_root.rglob(".tmp-*") if p.stat().st_size > 0]
            if temps:
                break
            time.sleep(0.05)
        assert temps, "the download never started"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert not (cache_root / "artifacts" / "sha256" / digest[:2] / digest).exists()
    assert all(p.name.startswith(".tmp-") for p in artifact_files(cache_root))
    # the next run downloads it properly
    del local_index.stall["/packages/" + wheel_path.name]
    with IndexClient(local_index.url, cache=Cache(cache_root)) as client:
        assert client.fetch(client.project("big").files[0]).read_bytes() == wheel_path.read_bytes()


def test_fetch_many_concurrent_and_ordered(local_index: LocalIndex, tmp_path: Path) -> None:
    wheels = [make_wheel(tmp_path, f"pkg{i}", "1.0") for i in range(4)]
    for w in wheels:
        local_index.add(w)
        local_index.slow["/packages/" + w.name] = 0.6
    bad = make_wheel(tmp_path, "tampered", "1.0")
    local_index.add(bad, bad_digest=True)
    with client_for(local_index, tmp_path, max_workers=8) as client:
        files = [client.project(f"pkg{i}").files[0] for i in range(4)]
        files.insert(2, client.project("tampered").files[0])
        started = time.monotonic()
        results = client.fetch_many(files)
        elapsed = time.monotonic() - started
    assert isinstance(results[2], IntegrityError)
    got = [r for i, r in enumerate(results) if i != 2]
    assert [p.read_bytes() for p in got if isinstance(p, Path)] == [w.read_bytes() for w in wheels]
    assert elapsed < 4 * 0.6  # one after the other would take at least 2.4 s


def test_core_metadata(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.add(make_wheel(tmp_path, "meta", "1.0", requires=("idna",)))
    local_index.add(make_wheel(tmp_path, "meta", "2.0"), metadata=b"Metadata-Version: 2.1\nName: other\n")
    local_index.add(make_wheel(tmp_path, "meta", "3.0"), metadata=False)
    with client_for(local_index, tmp_path) as client:
        files = {str(f.version): f for f in client.project("meta").files}
        first = client.core_metadata(files["1.0"])
        assert first is not None and b"Requires-Dist: idna" in first
        assert client.core_metadata(files["2.0"]) == b"Metadata-Version: 2.1\nName: other\n"
        assert client.core_metadata(files["3.0"]) is None
        requested = local_index.paths().count("/packages/meta-1.0-py3-none-any.whl.metadata")
        assert client.core_metadata(files["1.0"]) == first  # from the cache, no request
        assert local_index.paths().count("/packages/meta-1.0-py3-none-any.whl.metadata") == requested == 1
    # the index serves other bytes than it published the hash of (no cache: a cached copy would be used)
    local_index.overrides["/packages/meta-2.0-py3-none-any.whl.metadata"] = (200, {}, b"Name: swapped\n")
    with IndexClient(local_index.url, cache=None) as client, pytest.raises(IntegrityError) as info:
        client.core_metadata(files["2.0"])
    assert info.value.filename == "meta-2.0-py3-none-any.whl.metadata"
    assert info.value.actual == hashlib.sha256(b"Name: swapped\n").hexdigest()


def test_get_json_provenance(local_index: LocalIndex, tmp_path: Path) -> None:
    populate(local_index, tmp_path)
    with client_for(local_index, tmp_path) as client:
        files = {f.filename: f for f in client.project("demo-pkg").files}
        prov = files["demo_pkg-1.5-py3-none-any.whl"].provenance
        assert prov is not None
        assert client.get_json(prov) == {"version": 1, "bundles": []}
        missing = prov.replace("1.5", "1.0")
        assert client.get_json(missing) is None
        local_index.overrides["/integrity/bad/json"] = (200, {"Content-Type": "application/json"}, b"{nope")
        with pytest.raises(IndexClientError, match="malformed JSON"):
            client.get_json(local_index.root + "integrity/bad/json")


def test_malformed_pages(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.overrides["/simple/broken/"] = (200, {"Content-Type": JSON_V1}, b'{"files": 3}')
    local_index.overrides["/simple/future/"] = (
        200,
        {"Content-Type": JSON_V1},
        b'{"meta": {"api-version": "2.0"}, "name": "future", "files": []}',
    )
    local_index.overrides["/simple/odd/"] = (200, {"Content-Type": "image/png"}, b"\x89PNG")
    with client_for(local_index, tmp_path) as client:
        with pytest.raises(IndexClientError, match="malformed project page"):
            client.project("broken")
        with pytest.raises(IndexClientError, match=r"unsupported simple API version 2\.0"):
            client.project("future")
        with pytest.raises(IndexClientError, match="unexpected content type 'image/png'"):
            client.project("odd")


def test_credentials_sent_to_index_host_never_shown(tmp_path: Path) -> None:
    with LocalIndex(auth=("alice", "s3cret-token")) as index:
        populate(index, tmp_path)
        url = index.url.replace("http://", "http://alice:s3cret-token@")
        with IndexClient(url, cache=Cache(tmp_path / "c"), backoff=0.01) as client:
            assert client.index_url == index.url
            page = client.project("demo-pkg")
            assert client.fetch(page.files[0]).exists()
            index.slow["/simple/other/"] = 5
            client.timeout = 0.2
        with IndexClient(url, cache=None, timeout=0.3, retries=0) as client, pytest.raises(IndexClientError) as info:
            client.project("other")
        assert "s3cret" not in str(info.value) and "alice" not in str(info.value)
        with IndexClient(index.url, cache=None) as anonymous, pytest.raises(IndexClientError, match="HTTP 401"):
            anonymous.project("demo-pkg")


def test_plain_http_refused_for_remote_host() -> None:
    with pytest.raises(UsageError, match=re.escape("refusing plain-http index http://mirror.example.com/simple/")):
        IndexClient("http://mirror.example.com/simple/")


def test_downloads_from_plain_http_remote_refused(local_index: LocalIndex, tmp_path: Path) -> None:
    f = IndexFile(filename="x-1.0.tar.gz", url="http://files.example.com/x-1.0.tar.gz", hashes={"sha256": "0" * 64})
    with client_for(local_index, tmp_path) as client, pytest.raises(IndexClientError, match="refusing plain-http URL"):
        client.fetch(f)
    assert local_index.requests == []


def test_redirect_to_plain_http_remote_refused(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.overrides["/simple/moved/"] = (302, {"Location": "http://mirror.example.com/simple/moved/"}, b"")
    with client_for(local_index, tmp_path) as client, pytest.raises(IndexClientError) as info:
        client.project("moved")
    assert str(info.value) == (
        "refusing plain-http URL http://mirror.example.com/simple/moved/: use https or pass --allow-insecure-index"
    )
