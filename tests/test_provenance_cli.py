"""Provenance end to end, through the CLI: local files with saved provenance (also with the
network cut), and index packages whose provenance the local test index serves (Integrity API)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipwarden.provenance.identity import PublisherIdentity
from pipwarden.provenance.pins import PinStore
from pipwarden.provenance.verify import OFFLINE_ENV
from tests.builders import make_sdist, make_wheel
from tests.indexserver import LocalIndex

FIXTURES = Path(__file__).parent / "fixtures" / "provenance"
PA = "pypi_attestations-0.0.19.tar.gz"
GCB = "gcb_attestation_test-0.0.0.tar.gz"
CIRCLE = "circleci_sign_publish_example-0.0.1.dev137-py3-none-any.whl"
TOB = "github:trailofbits/pypi-attestations"


@pytest.fixture(autouse=True)
def _sigstore_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh sigstore TUF cache (only the trust root shipped in sigstore) and no TUF refresh,
    so the tests never leave 127.0.0.1."""
    home = tmp_path_factory.mktemp("sigstore")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv(OFFLINE_ENV, "1")


def pipwarden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipwarden", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def scan_json(*args: str) -> tuple[int, dict[str, Any]]:
    proc = pipwarden("scan", "--format", "json", "--quiet", *args)
    assert proc.stdout, proc.stderr
    report = json.loads(proc.stdout)
    assert len(report["packages"]) == 1, report
    return proc.returncode, report["packages"][0]


def ids(pkg: dict[str, Any]) -> set[str]:
    """The provenance findings (other families' checks may add theirs)."""
    return {f["id"] for f in pkg["findings"] if f["id"].startswith("PW4")}


def finding(pkg: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(f for f in pkg["findings"] if f["id"] == check_id)


def art_prov(pkg: dict[str, Any]) -> dict[str, Any]:
    prov: dict[str, Any] = pkg["artifacts"][0]["provenance"]
    return prov


def provenance_doc(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.provenance").read_bytes())


# -- local files ----------------------------------------------------------------------------------


def test_local_file_with_saved_provenance_verifies_offline() -> None:
    code, pkg = scan_json(str(FIXTURES / PA), "--provenance", str(FIXTURES / f"{PA}.provenance"), "--offline")
    assert code == 0 and pkg["verdict"] == "pass"
    prov = art_prov(pkg)
    assert prov["status"] == "verified"
    assert prov["publisher"] == TOB
    assert prov["claims"]["repository"] == "https://github.com/trailofbits/pypi-attestations"
    assert prov["claims"]["workflow"] == ".github/workflows/release.yml"
    assert prov["claims"]["ref"] == "refs/tags/v0.0.19"
    assert prov["claims"]["commit"] == "08802efe1f8e5fec4ad842d6b8ce97656092ee72"
    assert prov["summary"] == "verified from github.com/trailofbits/pypi-attestations (release.yml, refs/tags/v0.0.19)"
    assert pkg["provenance"]["repository_binding"] == "match"  # PKG-INFO claims that repository
    assert ids(pkg) == {"PW407"}


def test_branch_ref_is_reported() -> None:
    code, pkg = scan_json(str(FIXTURES / CIRCLE), "--provenance", str(FIXTURES / f"{CIRCLE}.provenance"),
                          "--offline")
    assert code == 0
    assert art_prov(pkg)["status"] == "verified"
    f = finding(pkg, "PW405")
    assert f["severity"] == "low" and "refs/heads/pypi" in f["message"]


def test_local_file_altered_by_one_byte_blocks(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / PA).read_bytes())
    data[4] ^= 0x01  # a byte of the gzip header's mtime: still a readable sdist, another sha256
    altered = tmp_path / PA
    altered.write_bytes(bytes(data))
    code, pkg = scan_json(str(altered), "--provenance", str(FIXTURES / f"{PA}.provenance"), "--offline")
    assert code == 1 and pkg["verdict"] == "block"
    f = finding(pkg, "PW400")
    assert f["severity"] == "critical"
    assert "subject digest check failed" in f["message"]
    assert art_prov(pkg)["failed_check"] == "subject digest"


def test_provenance_for_another_file_blocks() -> None:
    code, pkg = scan_json(str(FIXTURES / PA), "--provenance", str(FIXTURES / f"{GCB}.provenance"), "--offline")
    assert code == 1
    assert "subject name check failed" in finding(pkg, "PW400")["message"]


def test_malformed_provenance_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"attestation_bundles": [', encoding="utf-8")
    proc = pipwarden("scan", str(FIXTURES / PA), "--provenance", str(bad), "--offline")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "malformed provenance JSON at line 1" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_expect_publisher_pins_the_identity() -> None:
    code, pkg = scan_json(str(FIXTURES / PA), "--provenance", str(FIXTURES / f"{PA}.provenance"), "--offline",
                          "--expect-publisher", "github:pypi/pypi-attestations")
    assert code == 1
    f = finding(pkg, "PW401")
    assert "github:pypi/pypi-attestations" in f["message"] and TOB in f["message"]
    assert f["evidence"] == f"expected github:pypi/pypi-attestations; got {TOB}"
    code, pkg = scan_json(str(FIXTURES / PA), "--provenance", str(FIXTURES / f"{PA}.provenance"), "--offline",
                          "--expect-publisher", "pypi-attestations=github:TrailOfBits/pypi-attestations")
    assert code == 0 and "PW401" not in ids(pkg)


def test_bad_expect_publisher_is_a_usage_error() -> None:
    proc = pipwarden("scan", str(FIXTURES / PA), "--offline", "--expect-publisher", "trailofbits/pypi-attestations")
    assert proc.returncode == 2 and "expected KIND:WHO" in proc.stderr


def test_verification_with_the_network_cut(tmp_path: Path) -> None:
    """The CLI in a process whose sockets refuse to connect: --offline verifies all the same."""
    env = {k: v for k, v in os.environ.items() if k != OFFLINE_ENV}  # --offline alone must suffice
    code = (
        "import socket, sys\n"
        "def cut(*a, **k):\n"
        "    raise OSError('network cut')\n"
        "socket.socket.connect = cut\nsocket.create_connection = cut\nsocket.getaddrinfo = cut\n"
        "from pipwarden.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "scan", "--format", "json", "--offline", str(FIXTURES / GCB),
         "--provenance", str(FIXTURES / f"{GCB}.provenance")],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    pkg = json.loads(proc.stdout)["packages"][0]
    assert art_prov(pkg)["status"] == "verified"
    assert art_prov(pkg)["publisher"] == "google:919436158236-compute@developer.gserviceaccount.com"
    assert proc.stderr == ""  # sigstore's offline warning is not let through


# -- index packages ------------------------------------------------------------------------------------


def test_index_provenance_verified_and_pinned(local_index: LocalIndex) -> None:
    local_index.add(FIXTURES / PA, provenance=provenance_doc(PA))
    code, pkg = scan_json("pypi-attestations==0.0.19", "--index-url", local_index.url)
    assert code == 0, pkg
    assert art_prov(pkg)["status"] == "verified"
    assert art_prov(pkg)["source"].endswith(f"/integrity/pypi-attestations/0.0.19/{PA}/provenance")
    assert f"/integrity/pypi-attestations/0.0.19/{PA}/provenance" in local_index.paths("GET")
    assert pkg["provenance"]["publisher"] == TOB
    # Trust on first use: the identity is now pinned in the cache.
    pin = PinStore.from_options({}).get("pypi-attestations")
    assert pin is not None and str(pin.identity) == TOB and pin.version == "0.0.19"


def test_index_404_means_no_provenance(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.add(make_wheel(tmp_path, "demo", "1.0"))
    code, pkg = scan_json("demo", "--index-url", local_index.url)
    assert code == 0 and pkg["error"] is None
    assert art_prov(pkg)["status"] == "none"
    assert pkg["provenance"]["summary"] == "none"
    assert ids(pkg) == set()
    assert "/integrity/demo/1.0/demo-1.0-py3-none-any.whl/provenance" in local_index.paths("GET")


def test_index_file_altered_blocks(local_index: LocalIndex, tmp_path: Path) -> None:
    data = bytearray((FIXTURES / PA).read_bytes())
    data[5] ^= 0x01  # gzip header mtime: still a readable sdist, another sha256
    altered = tmp_path / PA
    altered.write_bytes(bytes(data))
    local_index.add(altered, provenance=provenance_doc(PA))  # the index digest matches the altered bytes
    code, pkg = scan_json("pypi-attestations", "--index-url", local_index.url)
    assert code == 1
    assert "subject digest" in finding(pkg, "PW400")["message"]


def test_publisher_changed_against_cache_pin(local_index: LocalIndex) -> None:
    # An earlier scan verified 0.0.18 from pypi/pypi-attestations; 0.0.19 comes from trailofbits/.
    moved = PublisherIdentity.parse("github:pypi/pypi-attestations")
    PinStore.from_options({}).record("pypi-attestations", "0.0.18", moved)
    local_index.add(FIXTURES / PA, provenance=provenance_doc(PA))
    code, pkg = scan_json("pypi-attestations", "--index-url", local_index.url)
    assert code == 1
    f = finding(pkg, "PW401")
    assert f["severity"] == "high"
    assert "github:pypi/pypi-attestations" in f["message"] and TOB in f["message"]
    assert "cache (first verified on 0.0.18)" in f["message"]
    # The pin is not overwritten by the new identity: the alarm stays until a person re-pins.
    code, _pkg = scan_json("pypi-attestations", "--index-url", local_index.url)
    assert code == 1
    # Re-pinning on the command line accepts the move and updates the cache.
    code, pkg = scan_json("pypi-attestations", "--index-url", local_index.url, "--expect-publisher",
                          f"pypi-attestations={TOB}")
    assert code == 0, pkg["findings"]
    pin = PinStore.from_options({}).get("pypi-attestations")
    assert pin is not None and str(pin.identity) == TOB


def test_publisher_changed_against_lock_pins(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.add(FIXTURES / PA, provenance=provenance_doc(PA))
    lock = tmp_path / "pylock.toml"
    lock.write_text(
        'lock-version = "1.0"\ncreated-by = "test"\n[[packages]]\nname = "pypi-attestations"\nversion = "0.0.19"\n'
        'attestation-identities = [{kind = "GitHub", repository = "pypi/pypi-attestations",'
        ' workflow = "release.yml"}]\n',
        encoding="utf-8",
    )
    code, pkg = scan_json("pypi-attestations", "--index-url", local_index.url, "--pins-from", str(lock))
    assert code == 1
    assert "(pylock.toml)" in finding(pkg, "PW401")["message"]
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"pypi-attestations==0.0.19\n# pipwarden: attestation-identity pypi-attestations {TOB}\n",
                    encoding="utf-8")
    code, pkg = scan_json("pypi-attestations", "--index-url", local_index.url, "--pins-from", str(reqs))
    assert code == 0 and "PW401" not in ids(pkg)


def test_attestation_missing_where_previous_release_had_one(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.add(FIXTURES / PA, provenance=provenance_doc(PA))
    local_index.add(make_sdist(tmp_path, "pypi-attestations", "0.0.20"))  # published without attestation
    code, pkg = scan_json("pypi-attestations==0.0.20", "--index-url", local_index.url)
    assert code == 1
    f = finding(pkg, "PW402")
    assert f["severity"] == "high"
    assert "previous release 0.0.19" in f["message"] and TOB in f["message"]
    assert f["evidence"] == f"0.0.19: {TOB}; 0.0.20: none"
    # The older release itself is fine, and scanning it pins the publisher ...
    code, _pkg = scan_json("pypi-attestations==0.0.19", "--index-url", local_index.url)
    assert code == 0
    # ... so the missing attestation is now measured against the pin.
    code, pkg = scan_json("pypi-attestations==0.0.20", "--index-url", local_index.url)
    assert code == 1 and "pinned to github:trailofbits/pypi-attestations" in finding(pkg, "PW402")["message"]


def test_require_provenance(local_index: LocalIndex, tmp_path: Path) -> None:
    local_index.add(make_wheel(tmp_path, "demo", "1.0"))
    code, pkg = scan_json("demo", "--index-url", local_index.url, "--require-provenance", "Demo")
    assert code == 1 and finding(pkg, "PW403")["severity"] == "high"
    config = tmp_path / "pipwarden.toml"
    config.write_text('require-provenance = ["demo"]\n', encoding="utf-8")
    code, pkg = scan_json("demo", "--index-url", local_index.url, "--config", str(config))
    assert code == 1 and "PW403" in ids(pkg)
    code, pkg = scan_json("demo", "--index-url", local_index.url)
    assert code == 0 and "PW403" not in ids(pkg)


def test_malformed_provenance_from_index(local_index: LocalIndex) -> None:
    local_index.add(FIXTURES / PA, provenance=provenance_doc(PA))
    path = f"/integrity/pypi-attestations/0.0.19/{PA}/provenance"
    local_index.overrides[path] = (200, {"Content-Type": "application/json"}, b'{"attestation_bundles": [')
    code, pkg = scan_json("pypi-attestations", "--index-url", local_index.url)
    assert code == 1
    f = finding(pkg, "PW406")
    assert f["severity"] == "high" and "malformed" in f["message"]
    assert art_prov(pkg)["status"] == "failed"


def test_provenance_in_table_output(tmp_path: Path) -> None:
    local = tmp_path / PA
    shutil.copy(FIXTURES / PA, local)
    proc = pipwarden("scan", str(local), "--provenance", str(FIXTURES / f"{PA}.provenance"), "--offline")
    assert proc.returncode == 0, proc.stderr
    assert "verified from" in proc.stdout and "trailofbits/pypi-attestations" in proc.stdout
