"""Provenance: PEP 740 attestations, who published each file, and publisher pinning.

* :mod:`~pipwarden.provenance.fetch` — the Integrity API / simple-API provenance URL, saved files;
* :mod:`~pipwarden.provenance.verify` — verification with ``pypi-attestations`` and sigstore
  (offline against the trust root shipped in sigstore);
* :mod:`~pipwarden.provenance.identity` — publisher identities (``github:OWNER/REPO``) and the
  signing certificate's claims;
* :mod:`~pipwarden.provenance.pins` — pins from the command line, locks and the cache, and the
  parse/emit API for ``pylock.toml`` ``attestation-identities`` and requirements comments;
* :mod:`~pipwarden.provenance.evaluate` — one package's provenance, shared by the PW4xx checks
  and by the trust checks (``evaluate(ctx).publisher``).

Importing this package does not import sigstore: that happens on the first verification.
"""

from __future__ import annotations

from pipwarden.provenance.evaluate import PackageProvenance, bind, claimed_repositories, evaluate
from pipwarden.provenance.fetch import ProvenanceError, fetch_provenance, integrity_url, load_provenance_file
from pipwarden.provenance.identity import CertificateClaims, PublisherIdentity, repository_key
from pipwarden.provenance.pins import (
    Pin,
    PinStore,
    emit_requirements_identities,
    parse_expect_publisher,
    parse_requirements_identities,
    pylock_identities,
    pylock_identity_tables,
    read_lock_identities,
)
from pipwarden.provenance.verify import ArtifactProvenance, verify_provenance

__all__ = [
    "ArtifactProvenance",
    "CertificateClaims",
    "PackageProvenance",
    "Pin",
    "PinStore",
    "ProvenanceError",
    "PublisherIdentity",
    "bind",
    "claimed_repositories",
    "emit_requirements_identities",
    "evaluate",
    "fetch_provenance",
    "integrity_url",
    "load_provenance_file",
    "parse_expect_publisher",
    "parse_requirements_identities",
    "pylock_identities",
    "pylock_identity_tables",
    "read_lock_identities",
    "repository_key",
    "verify_provenance",
]
