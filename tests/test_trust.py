"""Unit tests of the trust checks (PW2xx) with synthetic index data and small built archives."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipwarden.archive import read_archive
from pipwarden.checks.base import ArtifactCheck, ArtifactContext, PackageCheck, PackageContext, all_checks
from pipwarden.checks.trust import history, installs, maintainers, metadata, names
from pipwarden.index.models import IndexFile, ProjectPage, ReleaseInfo
from pipwarden.models import Artifact, Finding, PackageRef, Severity
from tests.builders import make_sdist, make_wheel, metadata_text

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def ifile(filename: str, days_ago: float | None = 100, *, yanked: bool = False, reason: str | None = None) -> IndexFile:
    when = None if days_ago is None else NOW - timedelta(days=days_ago)
    return IndexFile(filename=filename, url=f"http://127.0.0.1/packages/{filename}", upload_time=when,
                     yanked=yanked, yanked_reason=reason)


def page(name: str, *files: IndexFile, status: str | None = None, reason: str | None = None) -> ProjectPage:
    return ProjectPage(name=name, url=f"http://127.0.0.1/simple/{name}/", files=tuple(files), status=status,
                       status_reason=reason)


def release(name: str, version: str, **info: Any) -> ReleaseInfo:
    base: dict[str, Any] = {"name": name, "version": version, "description": "A real description of this project."}
    base.update(info)
    return ReleaseInfo(name=name, version=version, info=base, ownership=info.get("ownership"))


def actx(path: Path, package: str | None = None) -> ArtifactContext:
    archive = read_archive(path)
    name = package or path.name.split("-")[0].replace("_", "-")
    return ArtifactContext(package=PackageRef(name=name), artifact=Artifact(path.name), archive=archive)


def ctx(
    name: str = "demo",
    version: str | None = "1.0",
    *,
    project: ProjectPage | None = None,
    rel: ReleaseInfo | None = None,
    artifacts: Iterable[ArtifactContext] = (),
    options: Mapping[str, Any] | None = None,
) -> PackageContext:
    opts: dict[str, Any] = {"now": NOW, "min_age_days": 7}
    opts.update(options or {})
    return PackageContext(package=PackageRef(name=name, version=version), name=name, version=version,
                          artifacts=list(artifacts), project=project, release=rel, options=opts)


def _sub(base: Path, name: str) -> Path:
    out = base / name
    out.mkdir()
    return out


def run(check: type[PackageCheck], c: PackageContext) -> list[Finding]:
    return list(check().run(c))


def run_art(check: type[ArtifactCheck], a: ArtifactContext) -> list[Finding]:
    return list(check().run(a))


def test_every_trust_check_is_documented_and_in_range() -> None:
    trust = [c for c in all_checks() if c.category == "trust"]
    assert len(trust) >= 20
    for c in trust:
        assert c.id.startswith("PW2") and len(c.id) == 5
        assert c.__doc__ and len(c.doc()) > 60, c.id


# --- names ---------------------------------------------------------------------------------


def test_typosquat_finding_names_target_and_severity() -> None:
    [f] = run(names.Typosquat, ctx("reqeusts"))
    assert f.id == "PW201" and f.severity is Severity.HIGH
    assert "requests" in f.message and f.evidence and "#7" in f.evidence
    assert run(names.Typosquat, ctx("requests")) == []
    assert run(names.Typosquat, ctx("my-own-unique-tool")) == []


def test_repository_of_popular_project() -> None:
    rel = release("requestz", "1.0", project_urls={"Source": "https://github.com/psf/requests"})
    c = ctx("requestz", project=page("requestz", ifile("requestz-1.0.tar.gz")), rel=rel)
    [f] = run(names.RepositoryOfPopularProject, c)
    assert f.id == "PW203" and "github.com/psf/requests" in (f.evidence or "")
    # not also reported as merely unrelated
    assert run(names.RepositoryUnrelated, c) == []


@pytest.mark.parametrize(
    ("project", "url", "unrelated"),
    [
        ("fastjsonx", "https://github.com/someone/fastjsonx", False),
        ("python-fastjsonx", "https://github.com/someone/fastjsonx.git", False),
        ("fastjsonx-plugin-foo", "https://github.com/someone/fastjsonx", False),  # monorepo word
        ("fastjsonx", "https://github.com/fastjsonx/engine", False),  # owner
        ("fastjsonx", "https://gitlab.com/someone/totally-different", True),
        ("fastjsonx", "https://github.com/sponsors/someone", False),  # not a repository
    ],
)
def test_repository_unrelated(project: str, url: str, unrelated: bool) -> None:
    rel = release(project, "1.0", home_page=url)
    c = ctx(project, project=page(project, ifile(f"{project}-1.0.tar.gz")), rel=rel)
    found = run(names.RepositoryUnrelated, c)
    assert bool(found) is unrelated
    if found:
        assert found[0].severity is Severity.LOW and url.removesuffix(".git") in (found[0].evidence or "")


def test_description_claims_are_a_fallback() -> None:
    desc = "See https://github.com/psf/requests and https://github.com/psf/requests/issues for more."
    claims = names.repo_claims({"description": desc})
    assert [c.key for c in claims] == ["github.com/psf/requests"]
    both = names.repo_claims({"home_page": "https://github.com/me/mine", "description": desc})
    assert [c.key for c in both] == ["github.com/me/mine"]


def test_claims_from_archive_metadata_for_local_files(tmp_path: Path) -> None:
    meta = metadata_text("requestz", "1.0", extra="Project-URL: Homepage, https://github.com/psf/requests")
    w = make_wheel(tmp_path, "requestz", "1.0", metadata=meta)
    [f] = run(names.RepositoryOfPopularProject, ctx("requestz", artifacts=[actx(w)]))
    assert "requests" in f.message


class _FakeIndex:
    def __init__(self, releases: dict[str, ReleaseInfo]) -> None:
        self.releases = releases

    def release(self, name: str, version: str | None = None) -> ReleaseInfo | None:
        return self.releases.get(version or "")


def test_repository_claim_changed() -> None:
    p = page("demo-pkg", ifile("demo_pkg-1.0.tar.gz", 300), ifile("demo_pkg-2.0.tar.gz", 10))
    old = release("demo-pkg", "1.0", home_page="https://github.com/alice/demo-pkg")
    new = release("demo-pkg", "2.0", home_page="https://github.com/mallory/demo-pkg")
    c = ctx("demo-pkg", "2.0", project=p, rel=new)
    c.index = _FakeIndex({"1.0": old})  # type: ignore[assignment]
    [f] = run(names.RepositoryClaimChanged, c)
    assert "alice" in (f.evidence or "") and "mallory" in (f.evidence or "")
    c.index = _FakeIndex({"1.0": release("demo-pkg", "1.0", home_page="https://github.com/mallory/demo-pkg")})  # type: ignore[assignment]
    assert run(names.RepositoryClaimChanged, c) == []


def test_repository_confirmed_by_publisher_needs_a_verified_publisher() -> None:
    rel = release("demo-pkg", "1.0", project_urls={"Source": "https://github.com/alice/demo-pkg"})
    c = ctx("demo-pkg", project=page("demo-pkg", ifile("demo_pkg-1.0.tar.gz")), rel=rel, options={"offline": True})
    # an unverified "publisher" in a report section proves nothing
    c.extra["provenance"] = {"repository": "https://github.com/alice/demo-pkg"}
    assert run(names.RepositoryConfirmedByPublisher, c) == []


# --- history -------------------------------------------------------------------------------


def test_release_too_new_respects_min_age() -> None:
    p = page("demo", ifile("demo-0.9.tar.gz", 400), ifile("demo-1.0.tar.gz", 2))
    [f] = run(history.ReleaseTooNew, ctx(project=p))
    assert "2 days" in f.message or "48 hours" in f.message
    assert run(history.ReleaseTooNew, ctx(project=p, options={"min_age_days": 1})) == []
    assert run(history.ReleaseTooNew, ctx(project=page("demo", ifile("demo-1.0.tar.gz", None)))) == []


def test_new_project_and_single_release() -> None:
    p = page("demo", ifile("demo-1.0.tar.gz", 3))
    assert [f.id for f in run(history.NewProject, ctx(project=p))] == ["PW211"]
    assert [f.id for f in run(history.SingleRelease, ctx(project=p))] == ["PW212"]
    old = page("demo", ifile("demo-0.1.tar.gz", 900), ifile("demo-1.0.tar.gz", 3))
    assert run(history.NewProject, ctx(project=old)) == []
    assert run(history.SingleRelease, ctx(project=old)) == []
    # one release that has been public for years: a finished small tool
    assert run(history.SingleRelease, ctx(project=page("demo", ifile("demo-1.0.tar.gz", 1500)))) == []


@pytest.mark.parametrize(
    ("versions", "current", "severity"),
    [
        (["999.0.0"], "999.0.0", Severity.HIGH),
        (["0.1", "0.2", "99.0.1"], "99.0.1", Severity.HIGH),
        (["1.0", "15.0"], "15.0", Severity.MEDIUM),
        (["1.0", "2.0"], "2.0", None),
        (["0.9", "2024.1.0"], "2024.1.0", None),
        (["120.0.1", "121.0.0"], "121.0.0", None),
    ],
)
def test_version_jump(versions: list[str], current: str, severity: Severity | None) -> None:
    p = page("demo", *(ifile(f"demo-{v}.tar.gz", 100 - i) for i, v in enumerate(versions)))
    found = run(history.VersionJump, ctx(version=current, project=p))
    assert [f.severity for f in found] == ([severity] if severity else [])


def test_version_jump_offline_uses_the_version_alone() -> None:
    [f] = run(history.VersionJump, ctx(version="999.0.0"))
    assert "999.0.0" in f.message


def test_dormant_then_release() -> None:
    p = page("demo", ifile("demo-1.0.tar.gz", 1200), ifile("demo-1.1.tar.gz", 20))
    [f] = run(history.DormantThenRelease, ctx(version="1.1", project=p))
    assert f.id == "PW214"
    busy = page("demo", ifile("demo-1.0.tar.gz", 60), ifile("demo-1.1.tar.gz", 20))
    assert run(history.DormantThenRelease, ctx(version="1.1", project=busy)) == []


def test_late_file_upload(tmp_path: Path) -> None:
    p = page("demo", ifile("demo-1.0.tar.gz", 400), ifile("demo-1.0-py3-none-any.whl", 5),
             ifile("demo-1.0-cp313-cp313-manylinux_2_17_x86_64.whl", 399))
    wheel = make_wheel(tmp_path, "demo", "1.0")
    [f] = run(history.LateFileUpload, ctx(project=p, artifacts=[actx(wheel)]))
    assert f.severity is Severity.MEDIUM and f.artifact == "demo-1.0-py3-none-any.whl"
    [g] = run(history.LateFileUpload, ctx(project=p))
    assert g.severity is Severity.LOW


def test_yanked_and_status() -> None:
    p = page("demo", ifile("demo-1.0.tar.gz", 100, yanked=True, reason="broken build"))
    [f] = run(history.YankedRelease, ctx(project=p))
    assert "broken build" in f.message
    assert run(history.YankedRelease, ctx(project=page("demo", ifile("demo-1.0.tar.gz")))) == []
    q = page("demo", ifile("demo-1.0.tar.gz"), status="quarantined", reason="malware report")
    [g] = run(history.ProjectQuarantined, ctx(project=q))
    assert g.severity is Severity.CRITICAL and "malware report" in g.message
    a = page("demo", ifile("demo-1.0.tar.gz"), status="archived")
    assert [f.id for f in run(history.ProjectArchivedOrDeprecated, ctx(project=a))] == ["PW222"]
    assert run(history.ProjectArchivedOrDeprecated, ctx(project=q)) == []
    assert [f.id for f in run(history.NoFiles, ctx(project=page("demo")))] == ["PW223"]
    assert run(history.NoFiles, ctx(project=p)) == []


def test_history_needs_index_data() -> None:
    for check in (history.ReleaseTooNew, history.NewProject, history.SingleRelease, history.DormantThenRelease,
                  history.LateFileUpload, history.YankedRelease, history.NoFiles):
        assert run(check, ctx()) == []


def test_upload_times_from_json_api_fill_the_simple_page() -> None:
    p = page("demo", ifile("demo-1.0.tar.gz", None))
    rel = ReleaseInfo(name="demo", version="1.0", info={}, files={"demo-1.0.tar.gz": ifile("demo-1.0.tar.gz", 1)})
    [f] = run(history.ReleaseTooNew, ctx(project=p, rel=rel))
    assert f.id == "PW210"


# --- maintainers ---------------------------------------------------------------------------


def test_email_domains(tmp_path: Path) -> None:
    rel = release("demo", "1.0", author_email="Eve <eve@mailinator.com>", maintainer_email="bob@gmial.com")
    c = ctx(rel=rel, project=page("demo", ifile("demo-1.0.tar.gz")))
    [d] = run(maintainers.DisposableEmail, c)
    assert "mailinator.com" in d.message
    [m] = run(maintainers.MisspelledEmailDomain, c)
    assert "gmail.com" in m.message
    ok = release("demo", "1.0", author_email="a@gmail.com, b@example.org", maintainer_email="c@qq.com")
    assert run(maintainers.DisposableEmail, ctx(rel=ok)) == []
    assert run(maintainers.MisspelledEmailDomain, ctx(rel=ok)) == []
    # offline: from the archive's own metadata
    w = make_wheel(tmp_path, "demo", "1.0", metadata=metadata_text("demo", "1.0", extra="Author-email: x@yopmail.com"))
    assert [f.id for f in run(maintainers.DisposableEmail, ctx(artifacts=[actx(w)]))] == ["PW231"]


def test_ownership_changes_against_the_cache(tmp_path: Path) -> None:
    opts = {"cache_dir": str(tmp_path)}
    first = {"organization": None, "roles": [{"role": "Owner", "user": "alice"}]}
    c = ctx(rel=release("demo", "1.0", ownership=first), options=opts)
    assert run(maintainers.OwnershipChanged, c) == []  # first sighting stored silently
    stored = json.loads((tmp_path / "trust" / "ownership" / "demo.json").read_text())
    assert stored["roles"] == [{"role": "owner", "user": "alice"}]
    assert run(maintainers.OwnershipChanged, c) == []  # unchanged
    added = {"organization": None, "roles": [{"role": "Owner", "user": "alice"}, {"role": "Maintainer", "user": "bob"}]}
    [f] = run(maintainers.OwnershipChanged, ctx(rel=release("demo", "1.0", ownership=added), options=opts))
    assert f.severity is Severity.LOW and "added bob" in f.message
    taken = {"organization": "evil-org", "roles": [{"role": "Owner", "user": "mallory"}]}
    [g] = run(maintainers.OwnershipChanged, ctx(rel=release("demo", "1.0", ownership=taken), options=opts))
    assert g.severity is Severity.MEDIUM and "alice (owner)" in g.message and "evil-org" in g.message
    # --no-cache: nothing read, nothing written
    nocache = {"cache_dir": str(tmp_path / "other"), "use_cache": False}
    assert run(maintainers.OwnershipChanged, ctx(rel=release("demo", "1.0", ownership=first), options=nocache)) == []
    assert not (tmp_path / "other").exists()


# --- metadata ------------------------------------------------------------------------------


def test_requires_dist_mismatch(tmp_path: Path) -> None:
    w = make_wheel(tmp_path, "demo", "1.0", requires=("Requests>=2", "evil-helper"))
    rel = release("demo", "1.0", requires_dist=["requests>=2"])
    [f] = run(metadata.RequiresDistMismatch, ctx(rel=rel, artifacts=[actx(w)]))
    assert f.severity is Severity.MEDIUM and "evil-helper" in (f.evidence or "")
    same = release("demo", "1.0", requires_dist=["requests >=2", "Evil_Helper"])
    assert run(metadata.RequiresDistMismatch, ctx(rel=same, artifacts=[actx(w)])) == []
    none = release("demo", "1.0", requires_dist=None)
    assert run(metadata.RequiresDistMismatch, ctx(rel=none, artifacts=[actx(w)])) == []
    # an sdist whose PKG-INFO is not authoritative is not compared
    s = make_sdist(tmp_path, "demo", "1.0")
    assert run(metadata.RequiresDistMismatch, ctx(rel=rel, artifacts=[actx(s)])) == []


def test_index_name_version_mismatch(tmp_path: Path) -> None:
    w = make_wheel(tmp_path, "demo", "1.0", metadata=metadata_text("other", "1.1"))
    rel = release("demo", "1.0")
    found = run(metadata.IndexMetadataMismatch, ctx(rel=rel, artifacts=[actx(w, "demo")]))
    assert sorted(f.evidence or "" for f in found) == ["Name: other", "Version: 1.1"]
    good = make_wheel(_sub(tmp_path, "good"), "demo", "1.0")
    assert run(metadata.IndexMetadataMismatch, ctx(rel=rel, artifacts=[actx(good)])) == []


def test_placeholder_description_only_amplifies() -> None:
    p = page("reqeusts", ifile("reqeusts-1.0.tar.gz", 400))
    empty = release("reqeusts", "1.0", description="UNKNOWN", summary="")
    [f] = run(metadata.PlaceholderDescription, ctx("reqeusts", project=p, rel=empty))
    assert "PW201" in f.message
    # the same empty description on a name without other signals: nothing
    q = page("quiet-pkg", ifile("quiet_pkg-0.9.tar.gz", 900), ifile("quiet_pkg-1.0.tar.gz", 400))
    assert run(metadata.PlaceholderDescription, ctx("quiet-pkg", project=q,
                                                    rel=release("quiet-pkg", "1.0", description="", summary=""))) == []
    real = release("reqeusts", "1.0", description="A long and genuine description.", summary="HTTP for humans")
    assert run(metadata.PlaceholderDescription, ctx("reqeusts", project=p, rel=real)) == []


# --- what installs -------------------------------------------------------------------------


def test_module_shadows_popular_project(tmp_path: Path) -> None:
    w = make_wheel(tmp_path, "requestz", "1.0", {"requests/__init__.py": "x = 1\n", "requestz/__init__.py": ""})
    [f] = run_art(installs.ModuleShadowsPopularProject, actx(w))
    assert f.severity is Severity.HIGH and f.file == "requests/__init__.py"
    # the project itself, generic names, namespace portions and unknown names are fine
    ok = make_wheel(tmp_path, "requests", "2.0", {"requests/__init__.py": "", "tests/__init__.py": "",
                                                  "google/cloud/x.py": "", "zzqx_private/__init__.py": ""})
    assert run_art(installs.ModuleShadowsPopularProject, actx(ok)) == []
    single = make_wheel(tmp_path, "tinyvendor", "1.0", {"six.py": "", "tinyvendor/__init__.py": ""})
    assert [f.evidence for f in run_art(installs.ModuleShadowsPopularProject, actx(single))] == ["six.py"]


def test_command_shadowing(tmp_path: Path) -> None:
    ep = "[console_scripts]\npip = demo:main\ndemo-cli = demo:cli\nblack = demo:fmt\n"
    w = make_wheel(tmp_path, "demo", "1.0", {"demo/__init__.py": "", "demo-1.0.data/scripts/sudo": "#!/bin/sh\n"},
                   extra_dist_info={"entry_points.txt": ep})
    found = run_art(installs.CommandShadowing, actx(w))
    by_cmd = {(f.evidence or "").split(" =")[0]: f.severity for f in found}
    # the pip entry point is PW171's (code checks); the script file and the popular name are ours
    assert by_cmd == {"demo-1.0.data/scripts/sudo": Severity.HIGH, "black": Severity.MEDIUM}
    own = make_wheel(_sub(tmp_path, "own"), "pip", "25.0",
                     extra_dist_info={"entry_points.txt": "[console_scripts]\npip = pip:main\n"})
    assert run_art(installs.CommandShadowing, actx(own)) == []
    broken = make_wheel(_sub(tmp_path, "broken"), "demo", "1.0", extra_dist_info={"entry_points.txt": "[[[not ini"})
    assert run_art(installs.CommandShadowing, actx(broken)) == []


def test_sdist_only(tmp_path: Path) -> None:
    dynamic = make_sdist(tmp_path, "demo", "1.0", setup_py="import os\nsetup(install_requires=[os.environ['X']])\n")
    p = page("demo", ifile("demo-1.0.tar.gz"))
    [f] = run(installs.SdistOnly, ctx(project=p, artifacts=[actx(dynamic)]))
    assert f.severity is Severity.LOW and "setup.py" in (f.evidence or "")
    static_dir = tmp_path / "static"
    static_dir.mkdir()
    static = make_sdist(static_dir, "demo", "1.0", setup_py=None,
                        files={"pyproject.toml": "[project]\nname='demo'\nversion='1.0'\ndependencies=['x']\n"})
    [g] = run(installs.SdistOnly, ctx(project=p, artifacts=[actx(static)]))
    assert g.severity is Severity.INFO and "pyproject" in (g.evidence or "")
    pep643_dir = tmp_path / "pep643"
    pep643_dir.mkdir()
    pep643 = make_sdist(pep643_dir, "demo", "1.0", pkg_info="Metadata-Version: 2.2\nName: demo\nVersion: 1.0\n")
    [h] = run(installs.SdistOnly, ctx(project=p, artifacts=[actx(pep643)]))
    assert h.severity is Severity.INFO and "PEP 643" in (h.evidence or "")
    with_wheel = page("demo", ifile("demo-1.0.tar.gz"), ifile("demo-1.0-py3-none-any.whl"))
    assert run(installs.SdistOnly, ctx(project=with_wheel, artifacts=[actx(dynamic)])) == []
    # a local sdist scanned alone
    assert [f.id for f in run(installs.SdistOnly, ctx(artifacts=[actx(dynamic)]))] == ["PW250"]
