"""Provenance units: identities, claims, pins, lock formats, and verification of real attestations."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pipwarden.checks.provenance import tag_matches_version
from pipwarden.errors import UsageError
from pipwarden.provenance import verify as verify_mod
from pipwarden.provenance.evaluate import bind, subject_names
from pipwarden.provenance.fetch import (
    ProvenanceError,
    integrity_url,
    load_provenance_file,
    parse_provenance_bytes,
)
from pipwarden.provenance.identity import CertificateClaims, PublisherIdentity, repository_key
from pipwarden.provenance.pins import (
    PinStore,
    emit_requirements_identities,
    parse_expect_publisher,
    parse_requirements_identities,
    pylock_identities,
    pylock_identity_tables,
    read_lock_identities,
)
from pipwarden.provenance.verify import classify, verify_provenance

FIXTURES = Path(__file__).parent / "fixtures" / "provenance"
PA = "pypi_attestations-0.0.19.tar.gz"
GCB = "gcb_attestation_test-0.0.0.tar.gz"
CIRCLE = "circleci_sign_publish_example-0.0.1.dev137-py3-none-any.whl"


@pytest.fixture(autouse=True)
def _sigstore_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """sigstore's TUF cache in a fresh directory: only the trust root shipped in sigstore is there."""
    home = tmp_path_factory.mktemp("sigstore")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv(verify_mod.OFFLINE_ENV, "1")


def doc_of(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.provenance").read_bytes())


def digest_of(name: str) -> str:
    return hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest()


class NetworkCut:
    """Every attempt to open a connection or resolve a name fails, and is counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.attempts: list[str] = []

        def refuse(name: str) -> Any:
            def fail(*args: Any, **kwargs: Any) -> Any:
                self.attempts.append(name)
                raise OSError(f"network cut by the test ({name})")

            return fail

        monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
        monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
        monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
        monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))


# -- identities and claims -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "subject"),
    [
        ("github:pypa/sampleproject", "github", "pypa/sampleproject"),
        ("GitHub:Owner/Repo/", "github", "Owner/Repo"),
        ("gitlab:group/sub/project", "gitlab", "group/sub/project"),
        ("google:svc@proj.iam.gserviceaccount.com", "google", "svc@proj.iam.gserviceaccount.com"),
        ("https://github.com/pypa/sampleproject.git", "github", "pypa/sampleproject"),
    ],
)
def test_identity_parse(text: str, kind: str, subject: str) -> None:
    ident = PublisherIdentity.parse(text)
    assert (ident.kind, ident.subject) == (kind, subject)
    assert PublisherIdentity.parse(str(ident)).same_publisher(ident)


@pytest.mark.parametrize("text", ["pypa/sampleproject", "github:", "github:justowner", "bitbucket:a/b",
                                  "google:not-an-email", "https://example.invalid/a/b"])
def test_identity_parse_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="publisher identity"):
        PublisherIdentity.parse(text)


def test_identity_case_insensitive_and_workflow_not_compared() -> None:
    a = PublisherIdentity("github", "Owner/Repo", workflow="release.yml")
    b = PublisherIdentity("github", "owner/repo", workflow="publish.yml")
    assert a.same_publisher(b)
    assert not a.same_publisher(PublisherIdentity("gitlab", "owner/repo"))


@pytest.mark.parametrize(
    "publisher",
    [
        {"kind": "GitHub", "repository": "o/r", "workflow": "release.yml", "environment": "pypi"},
        {"kind": "GitLab", "repository": "g/s/p", "workflow_filepath": ".gitlab-ci.yml"},
        {"kind": "Google", "email": "svc@example.iam.gserviceaccount.com"},
        {"kind": "CircleCI", "project_id": "p1", "pipeline_definition_id": "d2"},
    ],
)
def test_publisher_object_roundtrip(publisher: dict[str, str]) -> None:
    ident = PublisherIdentity.from_publisher(publisher)
    assert ident.to_publisher() == publisher


def test_publisher_object_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown publisher kind"):
        PublisherIdentity.from_publisher({"kind": "Jenkins"})
    with pytest.raises(ValueError, match="without a repository"):
        PublisherIdentity.from_publisher({"kind": "GitHub"})


def test_repository_key() -> None:
    assert repository_key("https://github.com/Owner/Repo.git/issues") == ("github.com", "owner/repo")
    assert repository_key("www.github.com/o/r") == ("github.com", "o/r")
    assert repository_key("https://gitlab.com/g/sub/p/-/issues") == ("gitlab.com", "g/sub/p")
    assert repository_key("https://example.invalid/o/r") is None
    assert repository_key("https://github.com/onlyowner") is None


def test_claims_from_certificate_oids() -> None:
    base = "1.3.6.1.4.1.57264.1."
    claims = CertificateClaims.from_oids({
        base + "8": "https://token.actions.githubusercontent.com",
        base + "12": "https://github.com/o/r",
        base + "13": "abc123",
        base + "14": "refs/tags/v1.0",
        base + "18": "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.0",
    })
    assert claims.workflow == ".github/workflows/release.yml"
    assert claims.tag == "v1.0" and claims.branch is None
    assert claims.to_json()["commit"] == "abc123"


@pytest.mark.parametrize(
    ("tag", "version", "ok"),
    [("v1.2.0", "1.2.0", True), ("1.2", "1.2.0", True), ("pkg-v1.2.0", "1.2.0", True),
     ("release/1.2.0", "1.2.0", True), ("v1.2.1", "1.2.0", False), ("nightly", "1.2.0", False)],
)
def test_tag_matches_version(tag: str, version: str, ok: bool) -> None:
    assert tag_matches_version(tag, version) is ok


@pytest.mark.parametrize(
    ("claimed", "expected"),
    [
        (["https://github.com/O/R"], "match"),
        (["https://github.com/someone-else/r"], "mismatch"),
        (["https://example.invalid/docs"], "unclaimed"),
        ([], "unclaimed"),
    ],
)
def test_bind_publisher_to_claimed_repositories(claimed: list[str], expected: str) -> None:
    assert bind(PublisherIdentity("github", "o/r"), claimed) == expected


def test_bind_gitlab_subgroups_and_non_repository_publishers() -> None:
    assert bind(PublisherIdentity("gitlab", "g/sub/p"), ["https://gitlab.com/g/sub/p"]) == "match"
    assert bind(PublisherIdentity("google", "a@b.iam.gserviceaccount.com"), ["https://github.com/o/r"]) is None


# -- fetch and documents -------------------------------------------------------------------------


def test_integrity_url() -> None:
    url = integrity_url("http://127.0.0.1:1/", "Pypi_Attestations", "0.0.19", PA)
    assert url == f"http://127.0.0.1:1/integrity/pypi-attestations/0.0.19/{PA}/provenance"


def test_malformed_provenance_json_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.provenance"
    bad.write_text('{"version": 1, "attestation_bundles": [', encoding="utf-8")
    with pytest.raises(ProvenanceError, match=r"malformed provenance JSON at line 1 column \d+"):
        load_provenance_file(bad)
    with pytest.raises(ProvenanceError, match="not a provenance object"):
        parse_provenance_bytes(b"[1, 2]", "x")
    with pytest.raises(ProvenanceError, match="no 'attestation_bundles'"):
        parse_provenance_bytes(b'{"version": 1}', "x")
    with pytest.raises(ProvenanceError, match="cannot read provenance"):
        load_provenance_file(tmp_path / "missing.json")


def test_structurally_invalid_document_is_a_provenance_error() -> None:
    doc = {"version": 1, "attestation_bundles": [{"publisher": {}, "attestations": []}]}
    with pytest.raises(ProvenanceError, match="not a valid provenance document"):
        verify_provenance(doc, PA, digest_of(PA), offline=True)


def test_subject_names_read_from_statement() -> None:
    assert subject_names(doc_of(PA)) == {PA}
    assert subject_names({"attestation_bundles": [{"attestations": [{"envelope": {"statement": "@@"}}]}]}) == set()


# -- verification of the real fixtures ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "identity", "ref"),
    [
        (PA, "github:trailofbits/pypi-attestations", "refs/tags/v0.0.19"),
        (GCB, "google:919436158236-compute@developer.gserviceaccount.com", None),
        (CIRCLE, "circleci:fdd9283f-e619-46af-8f9c-851f7d3e8b2b/8e4f8ab2-8d7c-4827-9f15-de076d6d647f",
         "refs/heads/pypi"),
    ],
)
def test_real_attestations_verify(name: str, identity: str, ref: str | None) -> None:
    result = verify_provenance(doc_of(name), name, digest_of(name), source="fixture", offline=True)
    assert result.status == "verified", result.message
    assert str(result.publisher) == identity
    assert result.claims is not None and result.claims.ref == ref
    assert result.attestation_types == ("publish/v1",)
    assert result.to_json()["summary"].startswith("verified from ")


def test_altered_by_one_byte_fails_subject_digest() -> None:
    data = bytearray((FIXTURES / PA).read_bytes())
    data[len(data) // 2] ^= 0x01
    result = verify_provenance(doc_of(PA), PA, hashlib.sha256(data).hexdigest(), offline=True)
    assert result.status == "failed"
    assert result.failed_check == "subject digest"
    assert str(result.publisher) == "github:trailofbits/pypi-attestations"


def test_provenance_for_another_file_fails_subject_name() -> None:
    # The Google-published document, verified against the pypi-attestations sdist.
    result = verify_provenance(doc_of(GCB), PA, digest_of(PA), offline=True)
    assert (result.status, result.failed_check) == ("failed", "subject name")
    assert GCB in (result.message or "") and PA in (result.message or "")
    # Same bytes, another file name.
    renamed = verify_provenance(doc_of(PA), "pypi_attestations-0.0.20.tar.gz", digest_of(PA), offline=True)
    assert renamed.failed_check == "subject name"


def test_tampered_signature_fails_signature() -> None:
    doc = doc_of(PA)
    att = doc["attestation_bundles"][0]["attestations"][0]
    sig = bytearray(base64.b64decode(att["envelope"]["signature"]))
    sig[12] ^= 0x01
    att["envelope"]["signature"] = base64.b64encode(bytes(sig)).decode()
    result = verify_provenance(doc, PA, digest_of(PA), offline=True)
    assert (result.status, result.failed_check) == ("failed", "signature")


def test_publisher_in_document_not_matching_certificate_fails_identity() -> None:
    doc = doc_of(PA)
    doc["attestation_bundles"][0]["publisher"]["repository"] = "pypi/pypi-attestations"
    result = verify_provenance(doc, PA, digest_of(PA), offline=True)
    assert (result.status, result.failed_check) == ("failed", "certificate identity")
    assert "trailofbits/pypi-attestations" in (result.message or "")


def test_document_without_attestations_fails() -> None:
    doc = doc_of(PA)
    doc["attestation_bundles"][0]["attestations"] = []
    result = verify_provenance(doc, PA, digest_of(PA), offline=True)
    assert (result.status, result.failed_check) == ("failed", "document")


@pytest.mark.parametrize(
    ("message", "check"),
    [("subject does not match distribution digest", "subject digest"),
     ("subject does not match distribution name: a != b", "subject name"),
     ("Certificate's OIDCSourceRepositoryURI does not match", "certificate identity"),
     ("DSSE: invalid signature", "signature"),
     ("failed to build timestamp", "signature")],
)
def test_classify_failure_messages(message: str, check: str) -> None:
    assert classify(message) == check


def test_verification_with_the_network_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    cut = NetworkCut(monkeypatch)
    result = verify_provenance(doc_of(PA), PA, digest_of(PA), offline=True)
    assert result.status == "verified"
    assert cut.attempts == []  # offline means not even trying


def test_trust_root_refresh_failure_falls_back_to_shipped_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(verify_mod.OFFLINE_ENV)
    monkeypatch.setattr(verify_mod, "_TRUST_STATE", {})
    cut = NetworkCut(monkeypatch)
    result = verify_provenance(doc_of(PA), PA, digest_of(PA), offline=False)
    assert result.status == "verified"
    assert cut.attempts  # the refresh was tried ...
    assert (result.trust_root or "").startswith("local (refresh failed")  # ... and its failure reported


# -- pins --------------------------------------------------------------------------------------------


def test_pin_store_first_use_then_keeps_the_pin(tmp_path: Path) -> None:
    store = PinStore(tmp_path / "pins")
    a = PublisherIdentity.parse("github:old/repo")
    b = PublisherIdentity.parse("github:new/repo")
    assert store.get("Demo") is None
    store.record("Demo", "1.0", a)
    pin = store.get("demo")
    assert pin is not None and pin.identity.same_publisher(a) and pin.version == "1.0"
    store.record("demo", "1.1", b)  # learned, not explicit: the first pin stays
    pin = store.get("demo")
    assert pin is not None and pin.identity.same_publisher(a)
    assert store.versions("demo") == {"1.0": "github:old/repo", "1.1": "github:new/repo"}
    store.record("demo", "1.2", b, replace=True)  # an explicit pin moved it
    pin = store.get("demo")
    assert pin is not None and pin.identity.same_publisher(b) and pin.version == "1.2"


def test_pin_store_disabled_and_corrupt(tmp_path: Path) -> None:
    PinStore(None).record("demo", "1.0", PublisherIdentity.parse("github:o/r"))
    assert PinStore(None).get("demo") is None
    (tmp_path / "demo.json").write_text("{not json", encoding="utf-8")
    assert PinStore(tmp_path).get("demo") is None


def test_pin_store_from_options_honours_no_cache(tmp_path: Path) -> None:
    assert PinStore.from_options({"use_cache": False}).directory is None
    assert PinStore.from_options({"cache_dir": tmp_path}).directory == tmp_path / "provenance" / "publishers"


def test_requirements_comment_block_roundtrip(tmp_path: Path) -> None:
    pins = {"Requests": [PublisherIdentity.parse("github:psf/requests")],
            "attrs": [PublisherIdentity.parse("github:python-attrs/attrs"),
                      PublisherIdentity.parse("github:Python-Attrs/attrs")]}
    block = emit_requirements_identities(pins)
    assert block == ("# pipwarden: attestation-identity attrs github:python-attrs/attrs\n"
                     "# pipwarden: attestation-identity requests github:psf/requests\n")
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.32.3 \\\n    --hash=sha256:abc\nattrs==24.2.0\n" + block, encoding="utf-8")
    back = read_lock_identities(req)
    assert {k: [str(i) for i in v] for k, v in back.items()} == {
        "attrs": ["github:python-attrs/attrs"], "requests": ["github:psf/requests"]}
    assert emit_requirements_identities({}) == ""


def test_requirements_malformed_pin_line_names_the_line() -> None:
    with pytest.raises(UsageError, match="line 2"):
        parse_requirements_identities("demo==1\n# pipwarden: attestation-identity demo\n")
    with pytest.raises(UsageError, match="line 1: publisher identity"):
        parse_requirements_identities("# pipwarden: attestation-identity demo nothing:x\n")
    assert parse_requirements_identities("# an ordinary comment about attestation-identity\n") == {}


def test_pylock_attestation_identities_roundtrip(tmp_path: Path) -> None:
    tables = pylock_identity_tables([PublisherIdentity("github", "o/r", workflow="release.yml"),
                                     PublisherIdentity("github", "O/R")])
    assert tables == [{"kind": "GitHub", "repository": "o/r", "workflow": "release.yml"}]
    lock_text = (
        'lock-version = "1.0"\ncreated-by = "test"\n\n[[packages]]\nname = "Demo"\nversion = "1.0"\n'
        'attestation-identities = [{kind = "GitHub", repository = "o/r", workflow = "release.yml"},'
        ' {kind = "SomeCI", id = "x"}]\n\n[[packages]]\nname = "plain"\nversion = "2.0"\n'
    )
    assert {k: [str(i) for i in v] for k, v in pylock_identities(tomllib.loads(lock_text)).items()} == {
        "demo": ["github:o/r"]}
    path = tmp_path / "pylock.toml"
    path.write_text(lock_text, encoding="utf-8")
    assert list(read_lock_identities(path)) == ["demo"]
    path.write_text("[[packages]\n", encoding="utf-8")
    with pytest.raises(UsageError, match="invalid TOML"):
        read_lock_identities(path)


def test_parse_expect_publisher() -> None:
    got = parse_expect_publisher(["github:o/r", "My_Pkg=gitlab:g/p"])
    assert {k: [str(i) for i in v] for k, v in got.items()} == {"*": ["github:o/r"], "my-pkg": ["gitlab:g/p"]}
    with pytest.raises(UsageError):
        parse_expect_publisher(["demo=github"])
