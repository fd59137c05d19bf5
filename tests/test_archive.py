"""The archive reader on good, broken and hostile archives."""

from __future__ import annotations

import io
import os
import tarfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipwarden.archive import ArchiveLimits, read_archive
from pipwarden.errors import ArchiveError
from tests.builders import make_sdist, make_wheel


def test_reads_wheel_members_with_hashes(tmp_path: Path) -> None:
    whl = make_wheel(tmp_path, "demo", "1.0", {"demo/__init__.py": "X = 1\n"})
    archive = read_archive(whl)
    assert archive.format == "zip"
    names = {m.name for m in archive.members}
    assert "demo/__init__.py" in names and "demo-1.0.dist-info/RECORD" in names
    init = archive.get("demo/__init__.py")
    assert init is not None and init.data == b"X = 1\n" and init.sha256 is not None and len(init.sha256) == 64


@pytest.mark.parametrize("fmt", ["gz", "bz2", "xz"])
def test_reads_sdist_formats_with_root(tmp_path: Path, fmt: str) -> None:
    sdist = make_sdist(tmp_path, "demo", "1.0", {"demo/__init__.py": "Y = 2\n"}, fmt=fmt)
    archive = read_archive(sdist)
    assert archive.format == "tar"
    assert archive.root == "demo-1.0/"
    member = archive.get("demo-1.0/demo/__init__.py")
    assert member is not None and member.text() == "Y = 2\n"


def test_truncated_archive_is_an_archive_error(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path, "demo", "1.0", {"demo/big.py": "x = 1\n" * 5000})
    data = sdist.read_bytes()
    with pytest.raises(ArchiveError, match="truncated or corrupt"):
        read_archive(data[: len(data) // 2], "demo-1.0.tar.gz")
    whl = make_wheel(tmp_path, "demo", "1.0")
    with pytest.raises(ArchiveError):
        read_archive(whl.read_bytes()[:-30], whl.name)


def test_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="not a zip or tar"):
        read_archive(b"hello world" * 10, "x.whl")


def _tar_with(members: list[tarfile.TarInfo], path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for ti in members:
            data = b"payload\n" if ti.isreg() else None
            if data is not None:
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


def test_hostile_tar_members_are_recorded_not_followed(tmp_path: Path) -> None:
    evil = tarfile.TarInfo("pkg-1.0/../../etc/evil.py")
    absolute = tarfile.TarInfo("/tmp/abs.py")
    link = tarfile.TarInfo("pkg-1.0/passwd")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    dev = tarfile.TarInfo("pkg-1.0/null")
    dev.type = tarfile.CHRTYPE
    archive = read_archive(_tar_with([evil, absolute, link, dev], tmp_path / "pkg-1.0.tar.gz"))
    kinds = {m.name: m.kind for m in archive.members}
    assert kinds == {
        "pkg-1.0/../../etc/evil.py": "file",
        "/tmp/abs.py": "file",
        "pkg-1.0/passwd": "symlink",
        "pkg-1.0/null": "device",
    }
    assert archive.get("pkg-1.0/passwd").linkname == "/etc/passwd"  # type: ignore[union-attr]
    assert not (tmp_path / "etc").exists()


def test_zip_bomb_stops_at_ratio_limit(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb-1.0-py3-none-any.whl"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf, zf.open("bomb/zeros.bin", "w") as fh:
        chunk = bytes(1 << 20)
        for _ in range(64):
            fh.write(chunk)
    limits = ArchiveLimits(ratio_floor=1 << 20, max_ratio=100)
    archive = read_archive(bomb, limits=limits)
    assert [p.kind for p in archive.problems] == ["compression-ratio"]
    member = archive.get("bomb/zeros.bin")
    # Reading stopped part-way: the member is listed, but neither kept nor hashed.
    assert member is not None and member.data is None and member.sha256 is None
    assert member.size < 64 << 20


def test_too_many_members(tmp_path: Path) -> None:
    path = tmp_path / "many-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(50):
            zf.writestr(f"many/m{i}.py", "")
    archive = read_archive(path, limits=ArchiveLimits(max_members=10))
    assert archive.problems[0].kind == "too-many-members"
    assert len(archive.members) == 10


def test_duplicate_member_recorded(tmp_path: Path) -> None:
    path = tmp_path / "dup-1.0-py3-none-any.whl"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "w") as zf:
        zf.writestr("dup/__init__.py", "good = 1\n")
        zf.writestr("dup/__init__.py", "evil = 1\n")
    archive = read_archive(path)
    assert [p.kind for p in archive.problems] == ["duplicate-member"]


def test_large_member_is_hashed_but_not_kept(tmp_path: Path) -> None:
    """A big wheel costs bounded memory: members over the read limit are streamed through sha256."""
    path = tmp_path / "big-1.0-py3-none-any.whl"
    blob = os.urandom(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf, zf.open("big/blob.bin", "w") as fh:
        for _ in range(48):
            fh.write(blob)
    tracemalloc.start()
    archive = read_archive(path, limits=ArchiveLimits(max_member_read=1 << 20))
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    member = archive.get("big/blob.bin")
    assert member is not None and member.data is None and member.size == 48 << 20
    assert member.sha256 is not None
    assert peak < 8 << 20, f"reading a 48 MiB member peaked at {peak} bytes"


def test_nested_archive_is_read_with_prefix(tmp_path: Path) -> None:
    inner = make_wheel(tmp_path, "inner", "1.0", {"inner/__init__.py": "Z = 3\n"})
    sdist = make_sdist(tmp_path, "outer", "1.0", {"vendor/inner-1.0-py3-none-any.whl": inner.read_bytes()})
    archive = read_archive(sdist)
    assert archive.get("outer-1.0/vendor/inner-1.0-py3-none-any.whl!/inner/__init__.py") is not None


_SEED_CACHE: dict[str, bytes] = {}


def _seeds() -> list[bytes]:
    if not _SEED_CACHE:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            base = Path(d)
            whl = make_wheel(base, "seed", "1.0", {"seed/__init__.py": "import os\n" * 20})
            sdist = make_sdist(base, "seed", "1.0", {"seed/__init__.py": "import os\n" * 20})
            _SEED_CACHE["whl"] = whl.read_bytes()
            _SEED_CACHE["tgz"] = sdist.read_bytes()
    return [_SEED_CACHE["whl"], _SEED_CACHE["tgz"]]


@st.composite
def mutated_archives(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_seeds())))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
    return bytes(data)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_archives())
def test_mutated_archives_fail_only_with_archive_error(data: bytes) -> None:
    start = time.monotonic()
    tracemalloc.start()
    try:
        archive = read_archive(data, "fuzz-1.0.tar.gz", ArchiveLimits(max_total_size=64 << 20))
        assert archive.format in ("zip", "tar")
    except ArchiveError:
        pass
    finally:
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - start < 2.0
    assert peak < 96 << 20
