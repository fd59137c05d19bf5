"""Names and repository claims: typosquats (PW201) and star-jacking (PW202–PW205)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from pipwarden.checks.base import PackageCheck, PackageContext, register
from pipwarden.checks.trust._common import archive_metadata, known_versions, release_matches
from pipwarden.errors import PipwardenError
from pipwarden.models import Finding, Severity
from pipwarden.typosquat import HIGH_RANK, PopularIndex, core, normalise, popular_index

# A repository named after a popular project is "its" repository when that project has at
# least this many times the claiming project's downloads (an unlisted project has none).
CLAIM_RATIO = 100


@register
class Typosquat(PackageCheck):
    """The project's name imitates one of the most-downloaded projects.

    Compared with the bundled list of the 15,000 most-downloaded projects (refresh it with
    ``pipwarden data update``): names one edit apart (a character inserted, dropped, doubled,
    substituted — keyboard neighbours and look-alikes such as ``l``/``1``, ``rn``/``m``,
    ``0``/``o`` — or two adjacent characters swapped), separator changes, ``py``/``python``
    prefixes or suffixes added or dropped, words reordered, homophones (``ph``/``f``,
    ``c``/``k``, ``z``/``s``), and for long names two edits inside the name.

    A project that is itself popular is never reported unless the project it resembles has at
    least 1,000 times its downloads. Severity: high when the imitated project is among the
    1,000 most downloaded, medium otherwise, low for the weaker two-edit matches. The evidence
    names the imitated project and both download counts: check that you meant the one you typed.
    """

    id = "PW201"
    severity = Severity.HIGH
    title = "name imitates a popular project (typosquat)"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        squat = popular_index().match(ctx.name)
        if squat is None:
            return
        if squat.technique == "two edits apart":
            sev = Severity.LOW
        elif squat.target_rank <= HIGH_RANK:
            sev = Severity.HIGH
        else:
            sev = Severity.MEDIUM
        yield self.finding(
            f"{ctx.name} looks like {squat.target} ({squat.technique}); did you mean {squat.target}?",
            evidence=squat.evidence,
            severity=sev,
        )


# --- repository claims ------------------------------------------------------------------

_REPO_URL = re.compile(
    r"https?://(?:www\.)?(github\.com|gitlab\.com|bitbucket\.org|codeberg\.org)/"
    r"([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)",
    re.IGNORECASE,
)
_NOT_OWNERS = frozenset({
    "sponsors", "orgs", "features", "marketplace", "topics", "apps", "settings", "user-attachments",
    "collections", "login", "about", "pricing", "site", "explore", "notifications", "search", "users",
    "trending", "readme", "contact", "security", "enterprise", "customer-stories", "team",
})
_NOT_REPOS = frozenset({"issues", "pulls", "wiki", "releases", "actions", "blob", "tree"})
_STOPWORDS = frozenset({
    "python", "py", "pypi", "lib", "library", "sdk", "api", "client", "the", "for", "and", "plugin",
    "plugins", "package", "project", "tools", "tool", "app", "cli", "core", "utils", "django", "flask",
    "pytest", "sphinx", "official", "src", "code", "dev", "main", "com", "org", "io",
})
# Labels that name the source repository (the ones an index shows stars for).
_SOURCE_LABELS = ("source", "repository", "code", "github", "gitlab", "homepage", "home", "source code")


@dataclass(frozen=True, slots=True)
class RepoClaim:
    host: str
    owner: str
    repo: str
    where: str  # "project_urls[Source]", "home_page", "description", "Project-URL"

    @property
    def key(self) -> str:
        return f"{self.host}/{self.owner}/{self.repo}".lower()

    @property
    def url(self) -> str:
        return f"https://{self.host}/{self.owner}/{self.repo}"


def parse_repo(url: str, where: str) -> RepoClaim | None:
    m = _REPO_URL.search(url)
    if m is None:
        return None
    host, owner, repo = m.group(1).lower(), m.group(2), m.group(3)
    repo = repo.removesuffix(".git")
    if owner.lower() in _NOT_OWNERS or repo.lower() in _NOT_REPOS or not repo or repo.startswith("."):
        return None
    return RepoClaim(host, owner, repo, where)


def _urls(info: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    urls = info.get("project_urls")
    if isinstance(urls, Mapping):
        for label, url in urls.items():
            if isinstance(url, str):
                yield f"project_urls[{label}]", url
    for key in ("home_page", "download_url"):
        value = info.get(key)
        if isinstance(value, str):
            yield key, value


def repo_claims(info: Mapping[str, Any], description: str = "") -> list[RepoClaim]:
    """The repositories a release claims: project URLs and home page; the description's most
    mentioned repository only when those name none (READMEs link many repositories)."""
    claims: dict[str, RepoClaim] = {}
    for where, url in _urls(info):
        c = parse_repo(url, where)
        if c is not None and c.key not in claims:
            claims[c.key] = c
    if claims:
        return list(claims.values())
    text = description or (info.get("description") if isinstance(info.get("description"), str) else "") or ""
    found = [parse_repo(m.group(0), "description") for m in _REPO_URL.finditer(text[:200_000])]
    counts = Counter(c.key for c in found if c is not None)
    if not counts:
        return []
    top = counts.most_common(1)[0][0]
    return [next(c for c in found if c is not None and c.key == top)]


def _metadata_info(ctx: PackageContext) -> tuple[dict[str, Any], str]:
    """An ``info``-like mapping from the archive's own metadata (for local files)."""
    for actx in ctx.artifacts:
        got = archive_metadata(actx)
        if got is None:
            continue
        _name, headers, body = got
        urls: dict[str, str] = {}
        for value in headers.get("project-url", []):
            label, _, url = value.partition(",")
            urls[label.strip()] = url.strip()
        info: dict[str, Any] = {"project_urls": urls, "home_page": (headers.get("home-page") or [""])[0],
                                "download_url": (headers.get("download-url") or [""])[0]}
        return info, body
    return {}, ""


def claims_of(ctx: PackageContext) -> list[RepoClaim]:
    if ctx.release is not None and release_matches(ctx):
        desc = ctx.release.info.get("description")
        return repo_claims(ctx.release.info, desc if isinstance(desc, str) else "")
    info, body = _metadata_info(ctx)
    return repo_claims(info, body)


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[-_.]+", text.lower()) if len(t) >= 3 and t not in _STOPWORDS}


def related(project: str, owner: str, repo: str) -> bool:
    """Whether a repository's name (or owner) has something to do with the project's name."""
    p, r, o = core(project), core(repo), core(owner)
    if not p or not r:
        return True
    if p == r or (len(p) >= 4 and p in r) or (len(r) >= 4 and r in p):
        return True
    if p == o or (len(p) >= 4 and p in o) or (len(o) >= 4 and o in p):
        return True
    ptok = _tokens(normalise(project))
    return bool(ptok & (_tokens(repo) | _tokens(owner)))


def _popular_owner_of(repo: str, project: str, index: PopularIndex) -> str | None:
    """The popular project a repository is named after, when it is far more popular than ``project``."""
    candidates = {normalise(repo), normalise(core(repo))}
    own = index.downloads(project) or 0
    for cand in candidates:
        if cand == normalise(project):
            continue
        d = index.downloads(cand)
        if d is not None and d >= max(own, 1) * CLAIM_RATIO:
            return cand
    return None


@register
class RepositoryUnrelated(PackageCheck):
    """The repository the project claims (project URLs, home page) has a name unrelated to
    the project's.

    An index shows the stars and activity of whatever repository a project names, so naming
    a famous repository borrows its reputation (star-jacking). Monorepos and renamed projects
    explain some mismatches: the finding is low (information only for popular projects).
    Names are compared after dropping ``python-``/``py`` prefixes and suffixes; a shared word
    or a repository owner matching the project counts as related.
    """

    id = "PW202"
    severity = Severity.LOW
    title = "claimed repository unrelated to the project name"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        index = popular_index()
        for claim in claims_of(ctx):
            if related(ctx.name, claim.owner, claim.repo) or _popular_owner_of(claim.repo, ctx.name, index):
                continue
            sev = Severity.INFO if ctx.name in index else self.severity
            yield self.finding(
                f"{ctx.name} claims {claim.url} ({claim.where}), whose name has nothing to do with {ctx.name}",
                evidence=f"{claim.where}: {claim.url}",
                severity=sev,
            )


@register
class RepositoryOfPopularProject(PackageCheck):
    """The project claims a repository named after a far more popular project (star-jacking).

    A new package whose home page points at the repository of ``requests`` shows that
    repository's stars on its project page. Without repository URLs for every popular project
    offline, the repository's *name* is compared with the popular-projects list: a repository
    named like a project with at least 100 times the downloads, and unrelated to the claiming
    project's own name, is reported. Sub-packages of a monorepo share a word with it and are
    not reported.
    """

    id = "PW203"
    severity = Severity.HIGH
    title = "claims the repository of a far more popular project (star-jacking)"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        index = popular_index()
        for claim in claims_of(ctx):
            if related(ctx.name, claim.owner, claim.repo):
                continue
            target = _popular_owner_of(claim.repo, ctx.name, index)
            if target is None:
                continue
            own = index.downloads(ctx.name)
            yield self.finding(
                f"{ctx.name} claims {claim.url}, the repository of {target} "
                f"(#{index.rank(target)}, {index.downloads(target):,} downloads/month; "
                f"{ctx.name}: {f'{own:,}' if own is not None else 'not among the popular projects'})",
                evidence=f"{claim.where}: {claim.url}",
            )


def _previous_version(ctx: PackageContext) -> Version | None:
    try:
        current = Version(ctx.version or "")
    except InvalidVersion:
        return None
    older = [v for v in known_versions(ctx) if v < current]
    return max(older) if older else None


@register
class RepositoryClaimChanged(PackageCheck):
    """The repository this release claims differs from the one the previous release claimed.

    A project that moves its repository says so in its changelog; a release that suddenly
    points elsewhere may come from someone else holding the upload token. Compares the
    repository URLs of this release with those of the release before it (one extra JSON API
    request; only with an index).
    """

    id = "PW204"
    severity = Severity.MEDIUM
    title = "repository claim changed since the previous release"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        if ctx.index is None or not release_matches(ctx):
            return
        current = claims_of(ctx)
        if not current:
            return
        prev = _previous_version(ctx)
        if prev is None:
            return
        try:
            before = ctx.index.release(ctx.name, str(prev))
        except PipwardenError:
            return
        if before is None:
            return
        desc = before.info.get("description")
        old = repo_claims(before.info, desc if isinstance(desc, str) else "")
        if not old:
            return
        old_keys = {c.key for c in old}
        if old_keys & {c.key for c in current}:
            return
        yield self.finding(
            f"{ctx.name} {ctx.version} claims {', '.join(c.url for c in current)}; "
            f"{prev} claimed {', '.join(c.url for c in old)}",
            evidence=f"{prev}: {', '.join(sorted(old_keys))} -> {ctx.version}: "
            + ", ".join(sorted(c.key for c in current)),
        )


def _publisher_repos(ctx: PackageContext) -> set[str]:
    """The repository of the package's *verified* PEP 740 publisher, from the provenance
    evaluation (memoised per package, shared with the PW4xx checks)."""
    try:
        from pipwarden.provenance.evaluate import evaluate
    except ImportError:
        return set()
    publisher = evaluate(ctx).publisher
    url = publisher.repository_url if publisher is not None else None
    claim = parse_repo(url, "publisher") if url else None
    return {claim.key} if claim is not None else set()


@register
class RepositoryConfirmedByPublisher(PackageCheck):
    """The claimed repository is the one the files were published from (PEP 740 trusted
    publisher): positive evidence, shown as information.

    Reads the verified publisher from the provenance evaluation the PW4xx checks share. A
    claim the publisher contradicts is the provenance checks' finding (PW404), not this one.
    """

    id = "PW205"
    severity = Severity.INFO
    title = "repository claim confirmed by the trusted publisher"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        published = _publisher_repos(ctx)
        if not published:
            return
        for claim in claims_of(ctx):
            if claim.key in published:
                yield self.finding(
                    f"{claim.url} is both the claimed repository and the trusted publisher of the files",
                    evidence=f"{claim.where}: {claim.url}; publisher: {claim.key}",
                )
