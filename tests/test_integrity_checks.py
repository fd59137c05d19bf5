"""Integrity checks: each held to a hostile case and to the benign look-alike that must stay quiet."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from pipwarden.analyze import analyze_archive
from pipwarden.archive import read_archive
from pipwarden.models import Artifact, Finding, PackageRef, Severity
from pipwarden.scan import local_ref
from tests.builders import make_sdist, make_wheel, metadata_text


def findings(path: Path, check_id: str) -> list[Finding]:
    ref = local_ref(path)
    _ctx, found = analyze_archive(read_archive(path), Artifact(path.name, "0" * 64, 1, path=path), ref)
    return [f for f in found if f.id == check_id]


def tar(path: Path, members: dict[str, bytes], dup: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        items = list(members.items()) + ([(dup, b"second copy\n")] if dup else [])
        for name, data in items:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return path


def test_traversal_in_top_level_archive_is_high(tmp_path: Path) -> None:
    path = tar(tmp_path / "slip-1.0.tar.gz", {"slip-1.0/PKG-INFO": metadata_text("slip", "1.0").encode(),
                                              "slip-1.0/../evil.py": b"x = 1\n"})
    [f] = findings(path, "PW010")
    assert f.severity is Severity.HIGH and f.file == "slip-1.0/../evil.py"


def test_traversal_inside_a_bundled_test_archive_is_low(tmp_path: Path) -> None:
    inner = tar(tmp_path / "bad.tar.gz", {"../file4.txt": b"x\n"}).read_bytes()
    path = make_sdist(tmp_path, "archlib", "1.0", {"tests/bad.tar.gz": inner})
    [f] = findings(path, "PW010")
    assert f.severity is Severity.LOW and "bundled archive" in f.message


def test_duplicate_in_tar_is_low_in_zip_medium(tmp_path: Path) -> None:
    path = tar(tmp_path / "dup-1.0.tar.gz", {"dup-1.0/PKG-INFO": metadata_text("dup", "1.0").encode(),
                                             "dup-1.0/LICENSE": b"MIT\n"}, dup="dup-1.0/LICENSE")
    [f] = findings(path, "PW014")
    assert f.severity is Severity.LOW


def test_wheel_named_for_another_project(tmp_path: Path) -> None:
    whl = make_wheel(tmp_path, "requests", "2.0", metadata=metadata_text("evil", "2.0"))
    [f] = findings(whl, "PW005")
    assert f.severity is Severity.MEDIUM and "evil" in f.message


def test_legacy_sdist_filename_matches_its_metadata(tmp_path: Path) -> None:
    path = tar(tmp_path / "selenium-2.0-dev-9429.tar.gz",
               {"selenium-2.0-dev-9429/PKG-INFO": metadata_text("selenium", "2.0-dev-9429").encode()})
    assert findings(path, "PW005") == []
    other = tar(tmp_path / "thing-1.0.tar.gz", {"thing-1.0/PKG-INFO": metadata_text("thing", "1.1").encode()})
    [f] = findings(other, "PW005")
    assert f.severity is Severity.LOW


def test_package_ref_of_local_file() -> None:
    assert local_ref(Path("x/Foo_Bar-1.0-py3-none-any.whl")) == PackageRef(
        name="foo-bar", version="1.0", path=Path("x/Foo_Bar-1.0-py3-none-any.whl"))
