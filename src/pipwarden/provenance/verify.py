"""Verifying PEP 740 attestations against an artifact, with ``pypi-attestations`` and sigstore.

Every attestation of every bundle in a provenance document is verified against the
artifact's filename and sha256 and against the publisher the bundle names: the Sigstore
signature and certificate chain (with the transparency-log proof carried in the attestation),
the certificate identity (issuer, repository, workflow), the subject digest and the subject name.

Trust root: sigstore ships the Sigstore production trust root (TUF ``root.json`` and
``trusted_root.json``) inside its package. Verification always runs with ``offline=True`` — the
trust root in sigstore's local TUF cache, seeded from the shipped copy — so no request is made
per attestation. Unless pipwarden runs ``--offline`` (or ``PIPWARDEN_SIGSTORE_OFFLINE=1`` is set),
the TUF repository is refreshed once per process first; when that refresh fails, the local
trust root is used and the report says so.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pipwarden.provenance.fetch import ProvenanceError
from pipwarden.provenance.identity import CertificateClaims, PublisherIdentity

Status = Literal["verified", "failed", "none", "error"]

# Which check of a verification failed, as reported.
SIGNATURE = "signature"
IDENTITY = "certificate identity"
SUBJECT_DIGEST = "subject digest"
SUBJECT_NAME = "subject name"
DOCUMENT = "document"

OFFLINE_ENV = "PIPWARDEN_SIGSTORE_OFFLINE"


@dataclass(frozen=True, slots=True)
class ArtifactProvenance:
    """The provenance verdict for one artifact."""

    filename: str
    status: Status
    source: str | None = None  # where the document came from: URL or path
    publisher: PublisherIdentity | None = None
    claims: CertificateClaims | None = None
    attestation_types: tuple[str, ...] = ()
    failed_check: str | None = None
    message: str | None = None
    trust_root: str | None = None
    # Publishers of further bundles, when a document names more than one.
    other_publishers: tuple[PublisherIdentity, ...] = ()

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    def summary(self) -> str:
        """One line: ``verified from github.com/OWNER/REPO (workflow, ref)``, ``none`` or the failure."""
        if self.status == "verified" and self.publisher is not None:
            detail = [x for x in (self._workflow(), self.claims.ref if self.claims else None) if x]
            extra = f" ({', '.join(detail)})" if detail else ""
            return f"verified from {self.publisher.describe()}{extra}"
        if self.status == "none":
            return "none"
        if self.status == "failed":
            return f"verification failed: {self.failed_check}: {self.message}"
        return f"unavailable: {self.message}"

    def _workflow(self) -> str | None:
        if self.claims and self.claims.workflow:
            return self.claims.workflow.rsplit("/", 1)[-1]
        return self.publisher.workflow if self.publisher else None

    def to_json(self) -> dict[str, Any]:
        # Publisher and certificate claims only when verified: readers (the trust checks) take
        # them as proven. A failed document's publisher is only what it claims.
        ok = self.verified
        return {
            "status": self.status,
            "summary": self.summary(),
            "source": self.source,
            "publisher": str(self.publisher) if ok and self.publisher else None,
            "publisher_details": self.publisher.to_publisher() if ok and self.publisher else None,
            "claimed_publisher": str(self.publisher) if not ok and self.publisher else None,
            "claims": self.claims.to_json() if ok and self.claims else None,
            "attestations": list(self.attestation_types),
            "failed_check": self.failed_check,
            "message": self.message,
            "trust_root": self.trust_root,
        }


# -- trust root -------------------------------------------------------------------------

_TRUST_LOCK = threading.Lock()
_TRUST_STATE: dict[str, str] = {}


def _quiet_sigstore() -> None:
    # sigstore logs a warning on every offline load ("updates will not be performed"): noise.
    for name in ("sigstore", "tuf"):
        logging.getLogger(name).setLevel(logging.ERROR)


def trust_root(offline: bool) -> str:
    """Make the Sigstore trust root ready; say which one verification uses.

    Offline: the local TUF cache, seeded from the copy shipped in sigstore. Online: one TUF
    refresh per process, falling back to the local copy when the refresh fails.
    """
    _quiet_sigstore()
    if offline or os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        return "local (shipped with sigstore or cached; not refreshed)"
    with _TRUST_LOCK:
        state = _TRUST_STATE.get("production")
        if state is None:
            from sigstore.errors import Error as SigstoreError
            from sigstore.models import ClientTrustConfig

            try:
                ClientTrustConfig.production(offline=False)
                state = "refreshed from the Sigstore TUF repository"
            except (SigstoreError, OSError) as e:
                state = f"local (refresh failed: {e})"
            _TRUST_STATE["production"] = state
        return state


# -- verification -----------------------------------------------------------------------


def classify(message: str) -> str:
    """Which check a pypi-attestations / sigstore failure message is about."""
    low = message.lower()
    if "subject does not match distribution digest" in low:
        return SUBJECT_DIGEST
    if "subject" in low and ("name" in low or "invalid subject" in low or "subjects" in low):
        return SUBJECT_NAME
    if any(k in low for k in ("certificate's", "oidc", "build config", "build signer", "identity", "san ",
                               "does not match expected")):
        return IDENTITY
    return SIGNATURE


def verify_provenance(
    doc: Mapping[str, Any], filename: str, sha256: str, *, source: str | None = None, offline: bool = False,
) -> ArtifactProvenance:
    """Verify every attestation in ``doc`` against the file ``filename`` with digest ``sha256``.

    Returns a verified or failed result; raises ProvenanceError when ``doc`` is not a PEP 740
    provenance object at all.
    """
    from pydantic import ValidationError
    from pypi_attestations import AttestationType, Distribution, Provenance
    from sigstore.errors import Error as SigstoreError

    try:
        prov = Provenance.model_validate(doc)
    except ValidationError as e:
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": str(e)}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ProvenanceError(
            f"{source or 'provenance'}: not a valid provenance document ({where}: {first.get('msg')})"
        ) from e
    root = trust_root(offline)

    def failed(check: str, message: str, publisher: PublisherIdentity | None = None,
               claims: CertificateClaims | None = None) -> ArtifactProvenance:
        return ArtifactProvenance(filename, "failed", source, publisher, claims, failed_check=check,
                                  message=message, trust_root=root)

    try:
        dist = Distribution(name=filename, digest=sha256.lower())
    except ValidationError:
        return failed(SUBJECT_NAME, f"{filename} is not a wheel or sdist filename an attestation can name")
    if not prov.attestation_bundles or not any(b.attestations for b in prov.attestation_bundles):
        return failed(DOCUMENT, "the provenance document holds no attestations")

    publishers: list[PublisherIdentity] = []
    first_claims: CertificateClaims | None = None
    types: list[str] = []
    for bundle in prov.attestation_bundles:
        try:
            identity = PublisherIdentity.from_publisher(bundle.publisher.model_dump())
        except ValueError as e:
            return failed(DOCUMENT, f"publisher: {e}")
        publishers.append(identity)
        for attestation in bundle.attestations:
            try:
                claims = CertificateClaims.from_oids(attestation.certificate_claims)
            except ValueError as e:
                return failed(SIGNATURE, f"unreadable signing certificate: {e}", identity)
            if first_claims is None:
                first_claims = claims
            try:
                predicate_type, _predicate = attestation.verify(bundle.publisher, dist, offline=True)
            except (ValueError, SigstoreError) as e:
                text = str(e).removeprefix("Verification failed: ")
                return failed(classify(text), text, identity, claims)
            short = {AttestationType.PYPI_PUBLISH_V1.value: "publish/v1",
                     AttestationType.SLSA_PROVENANCE_V1.value: "slsa-provenance/v1"}
            types.append(short.get(predicate_type, predicate_type))
    unique: list[PublisherIdentity] = []
    for p in publishers:
        if not any(p.same_publisher(u) for u in unique):
            unique.append(p)
    return ArtifactProvenance(
        filename, "verified", source, unique[0], first_claims, tuple(types), trust_root=root,
        other_publishers=tuple(unique[1:]),
    )

