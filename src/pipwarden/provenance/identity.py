"""Who published a file: trusted-publisher identities and the claims in a Sigstore certificate.

An identity is written ``KIND:WHO`` — ``github:OWNER/REPO``, ``gitlab:NAMESPACE/PROJECT``,
``google:SERVICE-ACCOUNT-EMAIL``, ``circleci:PROJECT-ID/PIPELINE-DEFINITION-ID`` — the form used
on the command line (``--expect-publisher``), in requirements-file pins and in reports. The
workflow is part of what a publisher is (``release.yml``) and is shown, but a pin names the
repository: moving the release job to another workflow file of the same repository is not a
change of publisher.

Nothing here imports sigstore: it stays cheap to import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pipwarden.errors import UsageError

# Trusted-publisher kinds, as PEP 740 spells them, by the short name used in identities.
KINDS: dict[str, str] = {"github": "GitHub", "gitlab": "GitLab", "google": "Google", "circleci": "CircleCI"}
# Where a publisher's repository lives, for the kinds that have one.
HOSTS: dict[str, str] = {"github": "github.com", "gitlab": "gitlab.com"}


@dataclass(frozen=True, slots=True)
class PublisherIdentity:
    """A trusted publisher: ``kind`` (github, gitlab, google, circleci) and ``subject``
    (OWNER/REPO, NAMESPACE/PROJECT, an e-mail, PROJECT/PIPELINE). ``workflow`` and
    ``environment`` are informative and not compared."""

    kind: str
    subject: str
    workflow: str | None = None
    environment: str | None = None

    @classmethod
    def parse(cls, text: str) -> PublisherIdentity:
        """``github:OWNER/REPO`` and friends; a URL ``https://github.com/OWNER/REPO`` is accepted too."""
        raw = text.strip()
        if raw.startswith(("https://", "http://")):
            parts = urlsplit(raw)
            host = (parts.hostname or "").lower()
            path = parts.path.strip("/").removesuffix(".git")
            for kind, h in HOSTS.items():
                if host == h and path.count("/") >= 1:
                    return cls(kind, path)
            raise UsageError(f"publisher identity {text!r}: only github.com and gitlab.com URLs are understood")
        kind, sep, subject = raw.partition(":")
        kind = kind.strip().lower()
        subject = subject.strip().strip("/")
        if not sep or kind not in KINDS or not subject:
            raise UsageError(
                f"publisher identity {text!r}: expected KIND:WHO with KIND one of "
                f"{', '.join(KINDS)} (e.g. github:OWNER/REPO)"
            )
        if kind in HOSTS and "/" not in subject:
            raise UsageError(f"publisher identity {text!r}: {kind} needs OWNER/REPO")
        if kind == "google" and "@" not in subject:
            raise UsageError(f"publisher identity {text!r}: google needs a service-account e-mail")
        return cls(kind, subject)

    @classmethod
    def from_publisher(cls, publisher: Mapping[str, Any]) -> PublisherIdentity:
        """From a PEP 740 publisher object (``{"kind": "GitHub", "repository": ..., "workflow": ...}``)
        as found in provenance documents and in ``pylock.toml`` ``attestation-identities``."""
        kind_raw = str(publisher.get("kind", ""))
        kind = kind_raw.lower()
        if kind in ("github", "gitlab"):
            repo = publisher.get("repository")
            if not isinstance(repo, str) or "/" not in repo:
                raise ValueError(f"{kind_raw} publisher without a repository")
            wf = publisher.get("workflow") if kind == "github" else publisher.get("workflow_filepath")
            env = publisher.get("environment")
            return cls(kind, repo.strip("/"), wf if isinstance(wf, str) else None,
                       env if isinstance(env, str) and env else None)
        if kind == "google":
            email = publisher.get("email")
            if not isinstance(email, str) or not email:
                raise ValueError("Google publisher without an email")
            return cls("google", email)
        if kind == "circleci":
            project, pipeline = publisher.get("project_id"), publisher.get("pipeline_definition_id")
            if not isinstance(project, str) or not isinstance(pipeline, str):
                raise ValueError("CircleCI publisher without project_id / pipeline_definition_id")
            return cls("circleci", f"{project}/{pipeline}")
        raise ValueError(f"unknown publisher kind {kind_raw!r}")

    def to_publisher(self) -> dict[str, str]:
        """The PEP 740 publisher object (the shape ``pylock.toml`` ``attestation-identities`` uses)."""
        out: dict[str, str] = {"kind": KINDS[self.kind]}
        if self.kind in HOSTS:
            out["repository"] = self.subject
            if self.workflow:
                out["workflow" if self.kind == "github" else "workflow_filepath"] = self.workflow
            if self.environment:
                out["environment"] = self.environment
        elif self.kind == "google":
            out["email"] = self.subject
        elif self.kind == "circleci":
            project, _, pipeline = self.subject.partition("/")
            out["project_id"], out["pipeline_definition_id"] = project, pipeline
        return out

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the publisher for pinning: kind and subject, case-folded
        (GitHub and GitLab paths and e-mail addresses compare without case)."""
        return self.kind, self.subject.casefold()

    def same_publisher(self, other: PublisherIdentity) -> bool:
        return self.key == other.key

    @property
    def repository_url(self) -> str | None:
        """``https://github.com/OWNER/REPO`` for the kinds that publish from a repository."""
        host = HOSTS.get(self.kind)
        return f"https://{host}/{self.subject}" if host else None

    def describe(self) -> str:
        """``github.com/OWNER/REPO`` (or the e-mail / CircleCI project) for one-line reports."""
        host = HOSTS.get(self.kind)
        if host:
            return f"{host}/{self.subject}"
        return f"{self.kind}:{self.subject}"

    def __str__(self) -> str:
        return f"{self.kind}:{self.subject}"


# Fulcio certificate extensions (OID 1.3.6.1.4.1.57264.1.N) shown in reports.
_OID = "1.3.6.1.4.1.57264.1."
CLAIM_OIDS: dict[str, str] = {
    "issuer": _OID + "8",
    "build_signer_uri": _OID + "9",
    "runner_environment": _OID + "11",
    "source_repository_uri": _OID + "12",
    "source_repository_digest": _OID + "13",
    "source_repository_ref": _OID + "14",
    "build_config_uri": _OID + "18",
    "build_trigger": _OID + "20",
    "run_invocation_uri": _OID + "21",
}


@dataclass(frozen=True, slots=True)
class CertificateClaims:
    """What the signing certificate says about the build: repository, workflow, ref, commit."""

    issuer: str | None = None
    repository: str | None = None
    workflow: str | None = None
    ref: str | None = None
    commit: str | None = None
    trigger: str | None = None
    run: str | None = None
    runner: str | None = None

    @classmethod
    def from_oids(cls, raw: Mapping[str, str]) -> CertificateClaims:
        def get(name: str) -> str | None:
            value = raw.get(CLAIM_OIDS[name])
            return value or None

        repo = get("source_repository_uri")
        config = get("build_config_uri") or get("build_signer_uri")
        return cls(
            issuer=get("issuer"),
            repository=repo,
            workflow=_workflow_path(config, repo),
            ref=get("source_repository_ref"),
            commit=get("source_repository_digest"),
            trigger=get("build_trigger"),
            run=get("run_invocation_uri"),
            runner=get("runner_environment"),
        )

    @property
    def tag(self) -> str | None:
        if self.ref and self.ref.startswith("refs/tags/"):
            return self.ref[len("refs/tags/") :]
        return None

    @property
    def branch(self) -> str | None:
        if self.ref and self.ref.startswith("refs/heads/"):
            return self.ref[len("refs/heads/") :]
        return None

    def to_json(self) -> dict[str, str | None]:
        return {
            "issuer": self.issuer,
            "repository": self.repository,
            "workflow": self.workflow,
            "ref": self.ref,
            "commit": self.commit,
            "trigger": self.trigger,
            "run": self.run,
        }


def _workflow_path(config_uri: str | None, repo_uri: str | None) -> str | None:
    """``.github/workflows/release.yml`` from ``https://github.com/O/R/.github/workflows/release.yml@REF``."""
    if not config_uri:
        return None
    body = config_uri.rsplit("@", 1)[0] if "@" in config_uri else config_uri
    if repo_uri and body.startswith(repo_uri.rstrip("/") + "/"):
        return body[len(repo_uri.rstrip("/")) + 1 :].lstrip("/")
    return body


def repository_key(url: str) -> tuple[str, str] | None:
    """(host, owner/repo case-folded) for a github.com / gitlab.com URL, else None.

    ``https://github.com/Owner/Repo.git/issues`` → ("github.com", "owner/repo"). GitLab projects
    may sit in subgroups; the whole path up to the first ``/-/`` is kept for them.
    """
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host == "github.com" and len(segments) >= 2:
        return host, f"{segments[0]}/{segments[1].removesuffix('.git')}".casefold()
    if host == "gitlab.com" and len(segments) >= 2:
        if "-" in segments:
            segments = segments[: segments.index("-")]
        if len(segments) < 2:
            return None
        segments[-1] = segments[-1].removesuffix(".git")
        return host, "/".join(segments).casefold()
    return None
