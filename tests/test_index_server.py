"""The local test index itself: what it serves must look like a real index, or the client tests prove nothing."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.builders import make_sdist, make_wheel, sha256_of
from tests.indexserver import JSON_V1, LocalIndex

ACCEPT_JSON = f"{JSON_V1}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


@pytest.fixture
def populated(local_index: LocalIndex, tmp_path: Path) -> LocalIndex:
    local_index.add(make_wheel(tmp_path, "Demo.Pkg", "1.0", requires=("idna>=3",)), requires_python=">=3.8,<4")
    local_index.add(make_sdist(tmp_path, "Demo.Pkg", "1.0"))
    local_index.add(make_wheel(tmp_path, "Demo.Pkg", "2.0"), yanked="broken build")
    local_index.add(
        make_wheel(tmp_path, "Demo.Pkg", "1.5"),
        upload_time=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        provenance={"version": 1, "attestation_bundles": []},
    )
    return local_index


def test_html_project_page(populated: LocalIndex, tmp_path: Path) -> None:
    r = httpx.get(populated.url + "demo-pkg/", timeout=5)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    text = r.text
    wheel = tmp_path / "demo_pkg-1.0-py3-none-any.whl"
    assert f'href="{populated.root}packages/{wheel.name}#sha256={sha256_of(wheel)}"' in text
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in text
    assert 'data-yanked="broken build"' in text
    assert 'data-core-metadata="sha256=' in text and 'data-dist-info-metadata="sha256=' in text
    assert f'data-provenance="{populated.root}integrity/demo-pkg/1.5/demo_pkg-1.5-py3-none-any.whl/provenance"' in text
    # sdists get no PEP 658 file by default
    sdist_line = next(line for line in text.splitlines() if "demo_pkg-1.0.tar.gz" in line)
    assert "core-metadata" not in sdist_line


def test_json_project_page_by_negotiation(populated: LocalIndex) -> None:
    r = httpx.get(populated.url + "demo-pkg/", headers={"Accept": ACCEPT_JSON}, timeout=5)
    assert r.headers["content-type"] == JSON_V1
    doc = r.json()
    assert doc["name"] == "demo-pkg"
    assert doc["versions"] == ["1.0", "1.5", "2.0"]
    files = {f["filename"]: f for f in doc["files"]}
    assert files["demo_pkg-2.0-py3-none-any.whl"]["yanked"] == "broken build"
    assert files["demo_pkg-1.0-py3-none-any.whl"]["yanked"] is False
    assert files["demo_pkg-1.0-py3-none-any.whl"]["requires-python"] == ">=3.8,<4"
    assert files["demo_pkg-1.5-py3-none-any.whl"]["upload-time"] == "2024-05-06T07:08:09.000000Z"
    assert files["demo_pkg-1.0.tar.gz"]["core-metadata"] is False
    meta = files["demo_pkg-1.0-py3-none-any.whl"]["core-metadata"]
    served = httpx.get(files["demo_pkg-1.0-py3-none-any.whl"]["url"] + ".metadata", timeout=5).content
    assert meta == {"sha256": hashlib.sha256(served).hexdigest()}
    assert b"Requires-Dist: idna>=3" in served


def test_html_only_index_ignores_json_accept(tmp_path: Path) -> None:
    with LocalIndex(simple_json=False) as index:
        index.add(make_wheel(tmp_path, "demo", "1.0"))
        r = httpx.get(index.url + "demo/", headers={"Accept": ACCEPT_JSON}, timeout=5)
        assert r.headers["content-type"].startswith("application/vnd.pypi.simple.v1+html")
        r = httpx.get(index.url + "demo/", timeout=5)
        assert r.headers["content-type"].startswith("text/html")


def test_relative_urls_and_redirect(tmp_path: Path) -> None:
    with LocalIndex(relative_urls=True) as index:
        wheel = make_wheel(tmp_path, "demo", "1.0")
        index.add(wheel)
        r = httpx.get(index.url + "Demo/", timeout=5, follow_redirects=True)
        assert str(r.url) == index.url + "demo/"
        assert f'href="../../packages/{wheel.name}#sha256=' in r.text
        target = r.url.join(f"../../packages/{wheel.name}")
        assert httpx.get(target, timeout=5).content == wheel.read_bytes()


def test_bad_digest_publishes_wrong_hash(local_index: LocalIndex, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0")
    local_index.add(wheel, bad_digest=True)
    doc = httpx.get(local_index.url + "demo/", headers={"Accept": ACCEPT_JSON}, timeout=5).json()
    published = doc["files"][0]["hashes"]["sha256"]
    body = httpx.get(doc["files"][0]["url"], timeout=5).content
    assert body == wheel.read_bytes()
    assert hashlib.sha256(body).hexdigest() != published


def test_json_api(populated: LocalIndex) -> None:
    r = httpx.get(populated.root + "pypi/Demo.Pkg/json", timeout=5)
    doc = r.json()
    assert doc["info"]["name"] == "Demo.Pkg"
    assert doc["info"]["version"] == "1.5"  # 2.0 is yanked
    assert sorted(doc["releases"]) == ["1.0", "1.5", "2.0"]
    assert doc["releases"]["2.0"][0]["yanked"] is True
    assert doc["releases"]["2.0"][0]["yanked_reason"] == "broken build"
    one = httpx.get(populated.root + "pypi/demo-pkg/1.0/json", timeout=5).json()
    assert "releases" not in one
    assert one["info"]["requires_dist"] == ["idna>=3"]
    assert sorted(u["packagetype"] for u in one["urls"]) == ["bdist_wheel", "sdist"]
    assert all(u["upload_time_iso_8601"].endswith("Z") for u in one["urls"])
    assert httpx.get(populated.root + "pypi/demo-pkg/9.9/json", timeout=5).status_code == 404
    assert httpx.get(populated.root + "pypi/nothing/json", timeout=5).status_code == 404


def test_json_api_absent(tmp_path: Path) -> None:
    with LocalIndex(json_api=False) as index:
        index.add(make_wheel(tmp_path, "demo", "1.0"))
        assert httpx.get(index.root + "pypi/demo/json", timeout=5).status_code == 404
        assert httpx.get(index.url + "demo/", timeout=5).status_code == 200


def test_status_ownership_vulnerabilities(populated: LocalIndex) -> None:
    populated.set_project_status("Demo.Pkg", "quarantined", "malware report")
    populated.set_ownership("demo-pkg", {"organization": "acme", "roles": [{"role": "Owner", "user": "x"}]})
    populated.set_vulnerabilities("demo-pkg", "1.0", [{"id": "GHSA-xxxx", "aliases": ["CVE-1"]}])
    html = httpx.get(populated.url + "demo-pkg/", timeout=5).text
    assert '<meta name="pypi:project-status" content="quarantined">' in html
    assert '<meta name="pypi:project-status-reason" content="malware report">' in html
    doc = httpx.get(populated.url + "demo-pkg/", headers={"Accept": ACCEPT_JSON}, timeout=5).json()
    assert doc["project-status"] == {"status": "quarantined", "reason": "malware report"}
    one = httpx.get(populated.root + "pypi/demo-pkg/1.0/json", timeout=5).json()
    assert one["vulnerabilities"][0]["id"] == "GHSA-xxxx"
    assert one["ownership"]["organization"] == "acme"
    assert one["info"]["ownership"]["organization"] == "acme"


def test_provenance(populated: LocalIndex) -> None:
    url = populated.root + "integrity/demo-pkg/1.5/demo_pkg-1.5-py3-none-any.whl/provenance"
    assert httpx.get(url, timeout=5).json() == {"version": 1, "attestation_bundles": []}
    missing = populated.root + "integrity/demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl/provenance"
    assert httpx.get(missing, timeout=5).status_code == 404


def test_etag_and_304(populated: LocalIndex) -> None:
    first = httpx.get(populated.url + "demo-pkg/", timeout=5)
    tag = first.headers["etag"]
    second = httpx.get(populated.url + "demo-pkg/", headers={"If-None-Match": tag}, timeout=5)
    assert second.status_code == 304 and second.content == b""
    # a different representation has a different tag
    as_json = httpx.get(populated.url + "demo-pkg/", headers={"Accept": ACCEPT_JSON}, timeout=5)
    assert as_json.headers["etag"] != tag
    assert populated.requests[-2][2].get("If-None-Match") == tag


def test_fault_injection(populated: LocalIndex) -> None:
    path = "/simple/demo-pkg/"
    populated.fail_next[path] = 2
    codes = [httpx.get(populated.url + "demo-pkg/", timeout=5).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    populated.slow[path] = 0.5
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(populated.url + "demo-pkg/", timeout=0.1)
    del populated.slow[path]
    file_path = "/packages/demo_pkg-1.0-py3-none-any.whl"
    populated.truncate[file_path] = 10
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(populated.root + file_path.lstrip("/"), timeout=5)
    assert populated.paths("GET").count(path) == 4


def test_overrides_and_auth(tmp_path: Path) -> None:
    with LocalIndex(auth=("user", "s3cret")) as index:
        index.add(make_wheel(tmp_path, "demo", "1.0"))
        assert httpx.get(index.url + "demo/", timeout=5).status_code == 401
        assert httpx.get(index.url + "demo/", auth=("user", "s3cret"), timeout=5).status_code == 200
        index.overrides["/simple/demo/"] = (200, {"Content-Type": "text/html"}, b"<html>garbage")
        assert httpx.get(index.url + "demo/", auth=("user", "s3cret"), timeout=5).text == "<html>garbage"


def test_stop_does_not_wait_for_slow_handlers(tmp_path: Path) -> None:
    index = LocalIndex().start()
    index.slow["/simple/"] = 30
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(index.url, timeout=0.2)
    started = time.monotonic()
    index.stop()
    assert time.monotonic() - started < 3


def test_project_list(populated: LocalIndex) -> None:
    doc = json.loads(httpx.get(populated.url, headers={"Accept": ACCEPT_JSON}, timeout=5).content)
    assert doc["projects"] == [{"name": "demo-pkg"}]
    assert 'href="demo-pkg/"' in httpx.get(populated.url, timeout=5).text
