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

import importlib
from typing import Any

_EXPORTS = {
    "PackageProvenance": "evaluate", "bind": "evaluate", "claimed_repositories": "evaluate", "evaluate": "evaluate",
    "ProvenanceError": "fetch", "fetch_provenance": "fetch", "integrity_url": "fetch",
    "load_provenance_file": "fetch",
    "CertificateClaims": "identity", "PublisherIdentity": "identity", "repository_key": "identity",
    "Pin": "pins", "PinStore": "pins", "emit_requirements_identities": "pins", "parse_expect_publisher": "pins",
    "parse_requirements_identities": "pins", "pylock_identities": "pins", "pylock_identity_tables": "pins",
    "read_lock_identities": "pins",
    "ArtifactProvenance": "verify", "verify_provenance": "verify",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy: ``pipwarden --help`` imports pipwarden.provenance.cli, which must stay cheap.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
