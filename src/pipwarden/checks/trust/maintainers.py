"""Maintainers: ownership changes (PW230) and maintainer e-mail domains (PW231, PW232)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pipwarden.checks.base import PackageCheck, PackageContext, register
from pipwarden.checks.trust._common import archive_metadata, info_str
from pipwarden.models import Finding, Severity
from pipwarden.typosquat import cache_dir, osa_distance

# Throwaway-mailbox services: nobody can be reached there later, anyone can read them.
DISPOSABLE_DOMAINS = frozenset({
    "mailinator.com", "guerrillamail.com", "guerrillamail.net", "guerrillamail.org", "guerrillamail.de",
    "guerrillamailblock.com", "sharklasers.com", "grr.la", "pokemail.net", "spam4.me", "10minutemail.com",
    "10minutemail.net", "temp-mail.org", "temp-mail.io", "tempmail.com", "tempmail.net", "tempmailo.com",
    "tempr.email", "tmpmail.org", "tmpmail.net", "tmail.ws", "yopmail.com", "yopmail.fr", "yopmail.net",
    "trashmail.com", "trashmail.de", "trashmail.net", "getnada.com", "nada.email", "dispostable.com",
    "maildrop.cc", "throwawaymail.com", "fakeinbox.com", "mailnesia.com", "mintemail.com", "mohmal.com",
    "emailondeck.com", "discard.email", "spamgourmet.com", "mytemp.email", "moakt.com", "burnermail.io",
    "byom.de", "emailfake.com", "1secmail.com", "1secmail.net", "1secmail.org", "mail.tm", "mail.gw",
    "getairmail.com", "inboxkitten.com", "mailpoof.com", "mailcatch.com", "mvrht.com", "jetable.org",
    "spambox.us", "tempinbox.com", "wegwerfmail.de", "einrot.com", "33mail.com", "anonaddy.me",
    "emailtemporanea.net", "fakemail.net", "harakirimail.com", "incognitomail.org", "mailforspam.com",
    "mailmetrash.com", "mailnull.com", "spamex.com", "tempail.com", "tempmailaddress.com",
    "temporary-mail.net", "trbvm.com", "vomoto.com", "yomail.info", "zetmail.com", "cock.li",
})
# Well-known mail providers: a domain one edit away from these is a misspelling or a trap.
WELL_KNOWN_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com",
    "protonmail.com", "proton.me", "live.com", "aol.com", "gmx.de", "gmx.net", "mail.ru", "yandex.ru",
    "yandex.com", "msn.com", "zoho.com", "fastmail.com", "web.de", "qq.com", "163.com", "126.com",
    "hotmail.co.uk", "yahoo.co.uk", "outlook.de", "t-online.de", "comcast.net", "me.com", "mac.com",
    "tutanota.com", "posteo.de", "foxmail.com", "naver.com", "rambler.ru", "ukr.net", "seznam.cz",
})
# Short domains (qq.com, me.com) have too many honest neighbours to compare.
MIN_COMPARED_DOMAIN = 8
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def maintainer_emails(ctx: PackageContext) -> Iterator[tuple[str, str, str]]:
    """(address, domain, where) from the index's info and the archives' own metadata."""
    seen: set[str] = set()
    sources: list[tuple[str, str]] = [
        (info_str(ctx, "author_email"), "author_email"),
        (info_str(ctx, "maintainer_email"), "maintainer_email"),
    ]
    for actx in ctx.artifacts:
        got = archive_metadata(actx)
        if got is not None:
            member, headers, _body = got
            for key in ("author-email", "maintainer-email"):
                for value in headers.get(key, []):
                    sources.append((value, f"{member} {key.title()}"))
    for text, where in sources:
        for m in _EMAIL.finditer(text or ""):
            address = m.group(0).lower()
            if address in seen:
                continue
            seen.add(address)
            yield address, m.group(1).lower().rstrip("."), where


@register
class DisposableEmail(PackageCheck):
    """A maintainer or author e-mail address is at a disposable-mailbox service
    (mailinator, guerrillamail, 10minutemail, yopmail …, a small bundled list).

    Nobody can reach such an address later, and anyone can read it: no maintainer with a
    reputation uses one. Common in throwaway malware accounts.
    """

    id = "PW231"
    severity = Severity.MEDIUM
    title = "maintainer e-mail at a disposable-mailbox domain"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        for address, domain, where in maintainer_emails(ctx):
            if domain in DISPOSABLE_DOMAINS:
                yield self.finding(f"{where} {address} is a disposable mailbox ({domain})",
                                   evidence=f"{where}: {address}")


def misspelled_domain(domain: str) -> str | None:
    """The well-known mail domain ``domain`` misspells (``gmial.com`` -> ``gmail.com``), if any."""
    if domain in WELL_KNOWN_DOMAINS:
        return None
    for known in WELL_KNOWN_DOMAINS:
        if len(known) >= MIN_COMPARED_DOMAIN and osa_distance(domain, known) == 1:
            return known
    return None


@register
class MisspelledEmailDomain(PackageCheck):
    """A maintainer or author e-mail domain is one edit from a well-known mail provider
    (``gmial.com``, ``outlok.com``).

    Either a typo — and the account's password-reset mail goes to whoever registers that
    domain — or a look-alike chosen on purpose to pass a quick read.
    """

    id = "PW232"
    severity = Severity.MEDIUM
    title = "maintainer e-mail domain misspells a well-known one"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        for address, domain, where in maintainer_emails(ctx):
            known = misspelled_domain(domain)
            if known is not None:
                yield self.finding(f"{where} {address}: {domain} looks like {known}",
                                   evidence=f"{where}: {address}")


# --- ownership ---------------------------------------------------------------------------


def ownership_store(options: Mapping[str, Any]) -> Path | None:
    """``<cache dir>/trust/ownership``; None with ``use_cache`` False (``--no-cache``)."""
    if options.get("use_cache", True) is False:
        return None
    base = options.get("cache_dir")
    root = Path(base) if isinstance(base, str | os.PathLike) else cache_dir()
    return root / "trust" / "ownership"


def _roles(ownership: Mapping[str, Any]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    roles = ownership.get("roles")
    if isinstance(roles, list):
        for r in roles:
            if isinstance(r, Mapping) and isinstance(r.get("user"), str):
                out.add((str(r.get("role") or "").lower(), str(r["user"])))
    return out


def _org(ownership: Mapping[str, Any]) -> str | None:
    org = ownership.get("organization")
    return org if isinstance(org, str) and org else None


def _write_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True)
        Path(tmp).replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


@register
class OwnershipChanged(PackageCheck):
    """The project's owners or organization differ from what pipwarden saw last time.

    The index's JSON API lists the project's roles (owners, maintainers) and organization;
    pipwarden keeps the last seen set per project in its cache directory
    (``trust/ownership/<name>.json``) and reports changes: an owner removed or replaced, or a
    new organization, is medium (the pattern of an account takeover or a project transfer);
    only added maintainers are low. The first sighting is stored silently; ``--no-cache``
    neither reads nor writes it.
    """

    id = "PW230"
    severity = Severity.MEDIUM
    title = "project ownership changed since last seen"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        ownership = ctx.release.ownership if ctx.release is not None else None
        if not isinstance(ownership, Mapping):
            return
        store = ownership_store(ctx.options)
        if store is None:
            return
        path = store / f"{ctx.name}.json"
        previous: Mapping[str, Any] | None = None
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            previous = loaded if isinstance(loaded, Mapping) else None
        except (OSError, ValueError):
            previous = None
        current = {"organization": _org(ownership), "roles": [{"role": r, "user": u} for r, u in
                                                              sorted(_roles(ownership))]}
        if previous is None or previous != current:
            with contextlib.suppress(OSError):
                _write_atomic(path, current)
        if previous is None:
            return
        before, after = _roles(previous), _roles(current)
        added, removed = after - before, before - after
        org_before, org_after = _org(previous), _org(current)
        if not added and not removed and org_before == org_after:
            return
        parts: list[str] = []
        if removed:
            parts.append("removed " + ", ".join(f"{u} ({r})" for r, u in sorted(removed)))
        if added:
            parts.append("added " + ", ".join(f"{u} ({r})" for r, u in sorted(added)))
        if org_before != org_after:
            parts.append(f"organization {org_before or 'none'} -> {org_after or 'none'}")
        serious = bool(removed) or org_before != org_after
        yield self.finding(
            f"{ctx.name} ownership changed since last seen: " + "; ".join(parts),
            evidence="; ".join(parts),
            severity=self.severity if serious else Severity.LOW,
        )
