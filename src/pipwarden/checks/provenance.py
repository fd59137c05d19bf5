"""Provenance checks (PW400–PW499): PEP 740 attestations, who published each file, and pins.

All of them read one evaluation per package (:func:`pipwarden.provenance.evaluate`), which
fetches each file's provenance from the index (Integrity API, or the simple API's provenance
URL) or takes the saved document given with ``--provenance``, verifies it with
``pypi-attestations`` and sigstore, and compares the verified publisher with the pins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from packaging.version import InvalidVersion, Version

from pipwarden.checks.base import PackageCheck, PackageContext, register
from pipwarden.models import Finding, Severity
from pipwarden.provenance.evaluate import PackageProvenance, evaluate
from pipwarden.provenance.verify import DOCUMENT


class _ProvenanceCheck(PackageCheck):
    category = "provenance"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        return self.check(ctx, evaluate(ctx))

    def check(self, ctx: PackageContext, prov: PackageProvenance) -> Iterator[Finding]:
        raise NotImplementedError


@register
class ProvenanceVerificationFailed(_ProvenanceCheck):
    """A file's PEP 740 attestation does not verify.

    The index (or the ``--provenance`` document) says the file was published through a trusted
    publisher, but the attestation fails one of the checks: the Sigstore **signature** (with its
    certificate chain and transparency-log proof), the **certificate identity** (issuer,
    repository and workflow of the publisher the document names), the **subject digest** (the
    file's sha256) or the **subject name** (the file's name). An attestation that does not match
    the bytes is what a swapped or altered file looks like: this blocks.
    """

    id = "PW400"
    severity = Severity.CRITICAL
    title = "provenance verification failed"

    def check(self, ctx: PackageContext, prov: PackageProvenance) -> Iterator[Finding]:
        for filename, result in prov.artifacts.items():
            if result.status != "failed" or result.failed_check == DOCUMENT:
                continue
            yield self.finding(
                f"{filename}: attestation {result.failed_check} check failed: {result.message}",
                artifact=filename, file=result.source,
                evidence=f"publisher {result.publisher or 'unknown'}; failed check: {result.failed_check}",
            )


@register
class PublisherChanged(_ProvenanceCheck):
    """A release is signed by another publisher than the one pinned for the project.

    Pins come from ``--expect-publisher``, from the lock (``pylock.toml`` ``attestation-identities``
    or ``# pipwarden: attestation-identity`` lines of a requirements file), or from the cache:
    the first publisher pipwarden verified for the project (trust on first use). A project
    that suddenly publishes from another repository or CI service is the signature of a
    stolen token or a hijacked project; both identities are shown. If the move is genuine,
    pin the new identity on the command line or in the lock.
    """

    id = "PW401"
    severity = Severity.HIGH
    title = "publisher identity changed"

    def check(self, ctx: PackageContext, prov: PackageProvenance) -> Iterator[Finding]:
        for filename, result in prov.artifacts.items():
            pins = prov.mismatched(result)
            if not pins:
                continue
            expected = ", ".join(str(p.identity) for p in pins)
            yield self.finding(
                f"{filename} is signed by {result.publisher}, but {prov.name} is pinned to {expected} "
                f"({pins[0].source})",
                artifact=filename, file=result.source,
                evidence=f"expected {expected}; got {result.publisher}",
            )


@register
class AttestationMissing(_ProvenanceCheck):
    """A release has no attestation although the project's earlier releases had one.

    Raised when a file has no provenance while a pin exists for the project (command line,
    lock or cache), or while the newest earlier release on the index carried provenance.
    Publishing without the trusted publisher — with an API token, from a laptop — is exactly
    what an attacker holding a stolen token does; both the expected identity and "none" are shown.
    """

    id = "PW402"
    severity = Severity.HIGH
    title = "attestation missing where earlier releases had one"

    def check(self, ctx: PackageContext, prov: PackageProvenance) -> Iterator[Finding]:
        pins = prov.effective_pins
        for filename, result in prov.artifacts.items():
            if result.status == "verified" or (result.status == "failed" and filename not in prov.malformed):
                continue
            if result.status == "error" and not pins:
                continue
            if pins:
                expected = ", ".join(str(p.identity) for p in pins)
                yield self.finding(
                    f"{filename} has no verifiable attestation, but {prov.name} is pinned to {expected} "
                    f"({pins[0].source})",
                    artifact=filename, evidence=f"expected {expected}; got none",
                )
            elif prov.previous is not None:
                version, publisher = prov.previous
                who = str(publisher) if publisher else "a trusted publisher"
                yield self.finding(
                    f"{filename} has no attestation, but the previous release {version} was attested "
                    f"by {who}",
                    artifact=filename, evidence=f"{version}: {who}; {prov.version}: none",
                )


@register
class ProvenanceRequired(_ProvenanceCheck):
    """A package named in ``--require-provenance`` (or ``require-provenance`` in
    ``[tool.pipwarden]``; ``"*"`` for every package) has a file without verified provenance."""

    id = "PW403"
    severity = Severity.HIGH
    title = "required provenance missing"

    def check(self, ctx: PackageContext, prov: PackageProvenance) -> Iterator[Finding]:
        if not prov.required:
            return
        for filename, result in prov.artifacts.items():
            if result.status in ("none", "error"):
                yield self.finding(
                    f"{filename}: {prov.name} requires provenance and this file has none"
                    + (f" ({result.message})" if result.message else ""),
                    artifact=filename, evidence=f"require-provenance {prov.name}; provenance: {result.status}",
                )


@register
class PublisherRepositoryMismatch(_ProvenanceCheck):
    """The verified publisher's repository is not one of the repositories the project claims.

    The project's metadata (``project_urls``, home page) names github.com / gitlab.com
    repositories, and the attestation proves the file was built in another one. Either the
    metadata is stale, or someone publishes the project from a repository that is not its
    source. The verified publisher is also handed to the trust checks' repository-claims check.
    """

    id = "PW404"
    severity = Severity.MEDIUM
    title = "publisher repository differs from the claimed repository"

    def check(self, ctx: PackageContext, prov: PackageProvenance) -> Iterator[Finding]:
        publisher = prov.publisher
        if publisher is None or prov.binding != "mismatch":
            return
        claimed = ", ".join(prov.claimed_repositories)
        yield self.finding(
            f"{prov.name} is published from {publisher.repository_url}, but claims {claimed}",
            evidence=f"publisher {publisher}; claimed {claimed}",
        )


def tag_matches_version(tag: str, version: str) -> bool:
    """Is the git tag one for this version? ``v1.2.0``, ``1.2``, ``pkg-1.2.0``, ``release/1.2.0``."""
    try:
        wanted = Version(version)
    except InvalidVersion:
        return tag.lstrip("vV") == version
    candidates = {tag, tag.lstrip("vV")}
    tail = re.split(r"[-/_@]", tag)[-1]
    candidates |= {tail, tail.lstrip("vV")}
    for c in candidates:
        try:
            if Version(c) == wanted:
                return True
        except InvalidVersion:
            continue
    return False


@register
class RefNotVersionTag(_ProvenanceCheck):
    """The attested build ran from a ref that is not a tag for the release's version.

    The signing certificate records the git ref the publishing workflow ran on. Releases are
    normally built from the tag of their version (``refs/tags/v1.2.0``). A branch (low) is
    common for projects that publish from ``main`` but means the release is not tied to a
    reviewed tag; a tag for another version (medium) means the file was built from other code
    than its version says.
    """

    id = "PW405"
    severity = Severity.LOW
    title = "attested ref is not the version's tag"

    def check(self, ctx: PackageContext, prov: PackageProvenance) -> Iterator[Finding]:
        if prov.version is None:
            return
        for filename, result in prov.artifacts.items():
            claims = result.claims
            if not result.verified or claims is None or not claims.ref:
                continue
            tag = claims.tag
            if tag is not None and tag_matches_version(tag, prov.version):
                continue
            if tag is not None:
                msg = f"{filename} {prov.version} was built from tag {tag}, which names another version"
                sev = Severity.MEDIUM
            else:
                msg = f"{filename} {prov.version} was built from {claims.ref}, not from a tag of the version"
                sev = Severity.LOW
            yield self.finding(msg, artifact=filename, severity=sev,
                               evidence=f"ref {claims.ref}; commit {claims.commit or '?'}")


@register
class ProvenanceUnavailable(_ProvenanceCheck):
    """A file's provenance could not be read.

    High when the index (or the given file) answered with a document that is not a valid
    PEP 740 provenance object — claimed provenance that cannot be checked counts as failed;
    medium when the index could not be asked (network, server error): nothing was verified.
    """

    id = "PW406"
    severity = Severity.HIGH
    title = "provenance unreadable"

    def check(self, ctx: PackageContext, prov: PackageProvenance) -> Iterator[Finding]:
        for filename, result in prov.artifacts.items():
            if result.status == "failed" and result.failed_check == DOCUMENT:
                yield self.finding(f"{filename}: {result.message}", artifact=filename, file=result.source,
                                   evidence=result.message)
            elif result.status == "error":
                yield self.finding(f"{filename}: provenance could not be fetched: {result.message}",
                                   artifact=filename, severity=Severity.MEDIUM, evidence=result.message)


@register
class ProvenanceVerified(_ProvenanceCheck):
    """Informational: the file's attestations verified; shows the publisher and the certificate's
    claims (repository, workflow, ref, commit)."""

    id = "PW407"
    severity = Severity.INFO
    title = "provenance verified"

    def check(self, ctx: PackageContext, prov: PackageProvenance) -> Iterator[Finding]:
        for filename, result in prov.artifacts.items():
            if not result.verified:
                continue
            c = result.claims
            evidence = None
            if c is not None:
                evidence = (f"repository {c.repository or '?'}; workflow {c.workflow or '?'}; "
                            f"ref {c.ref or '?'}; commit {c.commit or '?'}")
            yield self.finding(f"{filename}: {result.summary()}", artifact=filename, file=result.source,
                               evidence=evidence)
