"""The on-disk cache: atomic, content-addressed artifacts; metadata with TTL and ETag."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from pipwarden.errors import IntegrityError
from pipwarden.index.cache import Cache, CachedResponse, default_cache_dir
from tests.indexserver import LocalIndex


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIPWARDEN_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("PIPWARDEN_CACHE_DIR")
    import platformdirs

    assert default_cache_dir() == Path(platformdirs.user_cache_dir("pipwarden", appauthor=False))


def test_artifact_stored_only_when_digest_matches(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    data = b"wheel bytes" * 1000
    good = hashlib.sha256(data).hexdigest()
    with cache.artifact_writer(good, "x.whl") as w:
        w.write(data[:10])
        w.write(data[10:])
    assert cache.get_artifact(good) == tmp_path / "artifacts" / "sha256" / good[:2] / good
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(IntegrityError) as info, cache.artifact_writer(wrong, "y.whl") as w:
        w.write(data)
    assert (info.value.filename, info.value.expected, info.value.actual) == ("y.whl", wrong, good)
    assert cache.get_artifact(wrong) is None
    assert files_under(tmp_path) == [cache.artifact_path(good)]


def test_exception_mid_write_leaves_nothing(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    digest = hashlib.sha256(b"full").hexdigest()
    with pytest.raises(OSError), cache.artifact_writer(digest) as w:
        w.write(b"fu")
        raise OSError("connection lost")
    assert files_under(tmp_path) == []


def test_damaged_entry_dropped(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    path = cache.put_bytes(b"metadata")
    digest = hashlib.sha256(b"metadata").hexdigest()
    assert cache.get_artifact(digest) == path
    path.write_bytes(b"tampered")
    assert cache.get_artifact(digest) is None and not path.exists()
    assert cache.get_artifact("not-a-digest") is None


def test_stale_temp_files_swept(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    digest = hashlib.sha256(b"abc").hexdigest()
    directory = cache.artifact_path(digest).parent
    directory.mkdir(parents=True)
    old, new = directory / ".tmp-old", directory / ".tmp-new"
    old.write_bytes(b"half")
    new.write_bytes(b"half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    with cache.artifact_writer(digest) as w:
        w.write(b"abc")
    assert not old.exists() and new.exists()  # a recent one may belong to a running download


def test_meta_roundtrip_ttl_and_corruption(tmp_path: Path) -> None:
    cache = Cache(tmp_path, ttl=60)
    entry = CachedResponse(
        url="http://127.0.0.1/simple/x/",
        final_url="http://127.0.0.1/other/x/",
        status=200,
        content_type="text/html",
        etag='"abc"',
        body=b"<html>\n\xff</html>",
        stored_at=time.time(),
    )
    cache.put_meta(entry, "text/html")
    assert cache.get_meta(entry.url, "text/html") == entry
    assert cache.get_meta(entry.url, "application/json") is None  # keyed by Accept too
    assert cache.is_fresh(entry)
    stale = CachedResponse(entry.url, entry.final_url, 200, "text/html", '"abc"', entry.body, time.time() - 61)
    assert not cache.is_fresh(stale)
    refreshed = cache.refresh_meta(stale, "text/html")
    assert cache.is_fresh(refreshed) and refreshed.body == entry.body
    reread = cache.get_meta(entry.url, "text/html")
    assert reread is not None and cache.is_fresh(reread)
    (path,) = files_under(tmp_path / "meta")
    path.write_bytes(path.read_bytes()[:-3])  # truncated body
    assert cache.get_meta(entry.url, "text/html") is None
    path.write_bytes(b"garbage without header")
    assert cache.get_meta(entry.url, "text/html") is None


def test_parsed_page_round_trip_and_reuse(local_index: LocalIndex, tmp_path: Path) -> None:
    """A project page parsed once is served from its parsed form while the body is unchanged."""
    from pipwarden.index.client import IndexClient
    from pipwarden.index.models import page_from_json, page_to_json
    from tests.builders import make_sdist, make_wheel

    local_index.add(make_wheel(tmp_path, "parsed", "1.0"), yanked="bad build")
    local_index.add(make_sdist(tmp_path, "parsed", "1.0"), requires_python=">=3.8")
    cache = Cache(tmp_path / "c", ttl=0)  # always revalidate: the body comes back as a 304
    with IndexClient(local_index.url, cache=cache) as client:
        first = client.project("parsed")
        assert page_from_json(page_to_json(first)) == first
        pages = list((tmp_path / "c" / "pages").rglob("*.json"))
        assert len(pages) == 1
        second = client.project("parsed")
    assert second == first
    assert {f.filename: f.yanked for f in second.files} == {"parsed-1.0-py3-none-any.whl": True,
                                                           "parsed-1.0.tar.gz": False}
