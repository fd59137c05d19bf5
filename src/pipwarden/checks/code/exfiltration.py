"""Exfiltration: a source that identifies the machine, the user or their secrets reaching a sink
that sends data away — in the same scope, followed through assignments and helper returns."""

from __future__ import annotations

import ast
from collections.abc import Iterable

from pipwarden.checks.base import MemberCheck, MemberContext, register
from pipwarden.checks.code.facts import CallFact, ModuleFacts
from pipwarden.checks.code.indicators import (
    CREDENTIAL_RE,
    DNS_CALLS,
    IDENTITY_TAGS,
    NET_CALLS,
    SOURCE_CALLS,
    STRONG_SECRET_TAGS,
    WEBHOOK_RE,
    credential_kind,
)
from pipwarden.checks.code.shared import early, layers, line_of, suspicious_hosts, where
from pipwarden.models import Finding, Severity

SEND_CALLS = NET_CALLS | frozenset(
    {
        "socket.socket.send", "socket.socket.sendall", "socket.socket.sendto", "smtplib.SMTP.sendmail",
        "smtplib.SMTP_SSL.sendmail", "smtplib.SMTP.send_message", "smtplib.SMTP_SSL.send_message",
        "ftplib.FTP.storbinary", "http.client.HTTPConnection.request", "http.client.HTTPSConnection.request",
        "urllib3.PoolManager.request", "requests.Session.post", "discord_webhook.DiscordWebhook",
        "dhooks.Webhook", "telebot.TeleBot.send_message", "telebot.TeleBot.send_document",
    }
)
_LABEL = {"env": "environment variables", "host": "host name", "user": "user name", "cwd": "working directory",
          "home": "home directory", "ip": "public IP address", "files": "file listing", "cred": "credential files",
          "clipboard": "clipboard", "screen": "screenshot", "browser": "browser secrets", "secret": "secrets"}


def _describe(tags: frozenset[str]) -> str:
    return ", ".join(_LABEL[t] for t in sorted(tags) if t in _LABEL)


@register
class Exfiltration(MemberCheck):
    """Data that identifies the machine or the user (host name, user name, environment, public
    IP, working directory, file listings) or their secrets (SSH and cloud credentials, browser
    stores, Discord tokens, wallets, clipboard, screenshots) flows into a network sink (HTTP,
    raw socket, SMTP, FTP, a webhook) in the same scope.

    At install or import time this is the dependency-confusion probe and the stealer: critical.
    In a function body, secrets or a webhook destination make it high; environment variables
    alone (configuration) are not reported, host or user names alone are low.
    """

    id = "PW130"
    severity = Severity.CRITICAL
    title = "sends machine, user or secret data over the network"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            flagged: set[int] = set()
            for c in facts.calls:
                if c.name not in SEND_CALLS:
                    continue
                tags = c.taint & IDENTITY_TAGS
                if not tags:
                    continue
                sev = self._severity(c, tags, facts)
                if sev is None:
                    continue
                flagged.add(c.scope)
                yield self.finding(
                    f"{_describe(tags)} sent with {c.name}() {where(c)}{facts.layer_note()}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line), severity=sev)
            yield from self._co_occurrence(ctx, facts, outer, flagged)

    def _severity(self, c: CallFact, tags: frozenset[str], facts: ModuleFacts) -> Severity | None:
        strong = tags & STRONG_SECRET_TAGS
        channel = bool(suspicious_hosts(c.strings)) or any(WEBHOOK_RE.search(s) for s in c.strings)
        if early(c.ctx):
            if tags - {"env", "cwd", "files", "home"} or strong or channel:
                return Severity.CRITICAL
            return Severity.HIGH
        if strong or channel:
            return Severity.HIGH
        if tags & {"host", "user", "ip"}:
            return Severity.LOW
        return None

    def _co_occurrence(self, ctx: MemberContext, facts: ModuleFacts, outer: int | None,
                       flagged: set[int]) -> Iterable[Finding]:
        """Identity sources and a network sink in one early scope, even when the flow between them
        is not visible (built through containers or helpers)."""
        sources: dict[int, set[str]] = {}
        sinks: dict[int, CallFact] = {}
        for c in facts.calls:
            if not early(c.ctx) or c.scope in flagged:
                continue
            tag = SOURCE_CALLS.get(c.name)
            if tag in ("host", "user", "ip", "browser", "clipboard", "screen"):
                sources.setdefault(c.scope, set()).add(tag)
            if c.name in SEND_CALLS or c.name in DNS_CALLS:
                sinks.setdefault(c.scope, c)
        for scope, tags in sources.items():
            sink = sinks.get(scope)
            if sink is None:
                continue
            yield self.finding(
                f"collects {_describe(frozenset(tags))} and calls {sink.name}() {where(sink)}{facts.layer_note()}",
                file=ctx.path, line=outer or sink.line, evidence=facts.line_text(sink.line),
                severity=Severity.HIGH)


@register
class DnsExfiltration(MemberCheck):
    """A DNS lookup of a name built from machine or user data (``socket.gethostbyname(hostname +
    '.x.example')``, ``dns.resolver.resolve(...)``): data smuggled out in DNS queries, which pass
    most firewalls. Critical at install or import time, high elsewhere."""

    id = "PW133"
    severity = Severity.HIGH
    title = "exfiltrates data through DNS lookups"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            for c in facts.calls:
                if c.name in DNS_CALLS and c.taint & (IDENTITY_TAGS - {"env"}) - {"ip"} and c.node.args and \
                        not _bare_source(c.node.args[0], facts) and not _local_zone(c.strings) and (
                            early(c.ctx) or _constructed(c.node.args[0], facts)):
                    tags = c.taint & IDENTITY_TAGS
                    yield self.finding(
                        f"DNS lookup of {_describe(tags)} with {c.name}() {where(c)}{facts.layer_note()}",
                        file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line),
                        severity=Severity.CRITICAL if early(c.ctx) else Severity.HIGH)


def _constructed(node: ast.expr, facts: ModuleFacts) -> bool:
    """A name put together from pieces (f-string, concatenation, format, join)."""
    if isinstance(node, ast.Name) and node.id in facts._values:
        node = facts._values[node.id]
    if isinstance(node, ast.JoinedStr | ast.BinOp):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
        "format", "join", "replace")


_LOCAL_ZONES = frozenset({"local", "localdomain", "lan", "home", "internal", "localhost", "home.arpa"})


def _local_zone(strings: tuple[str, ...]) -> bool:
    """``gethostbyname_ex(socket.gethostname() + ".local")``: the machine's own name in a local
    zone (mDNS, the LAN's search domain) is resolved on the local network to find its addresses;
    smuggling data out needs a zone on the internet the sender controls."""
    zones = [s.strip().strip(".").lower() for s in strings]
    return bool(zones) and all(z in _LOCAL_ZONES for z in zones)


def _bare_source(node: ast.expr, facts: ModuleFacts) -> bool:
    """``gethostbyname(socket.gethostname())`` (or of a variable holding just that) resolves the
    machine's own name, a common way to find the local IP; it sends nothing anywhere."""
    if isinstance(node, ast.Name) and node.id in facts._values:
        node = facts._values[node.id]
    return isinstance(node, ast.Call) and (facts.resolve(node.func) or "") in SOURCE_CALLS


_SECRET_STORES = frozenset({"browser secrets", "Discord tokens", "crypto wallets", "Telegram session"})
_READERS = ("open", "io.open", "builtins.open", "os.path.join", "os.path.expanduser", "os.path.exists",
            "os.path.isfile", "os.path.isdir", "os.listdir", "os.walk", "glob.glob", "shutil.copy", "shutil.copyfile",
            "shutil.copy2", "shutil.copytree", "sqlite3.connect", "pathlib.Path", "os.scandir", "zipfile.ZipFile.write",
            "os.path.expandvars")


@register
class CredentialAccess(MemberCheck):
    """Code reaches for credential stores: ``~/.ssh``, ``~/.aws/credentials``, ``.git-credentials``,
    browser ``Login Data``/``Cookies``/``Local State``, Discord ``leveldb`` token stores, crypto
    wallets, Telegram sessions, ``/etc/passwd``, shell history.

    Low for the tool credentials that legitimate clients read (SSH, AWS, netrc); medium for the
    stores only stealers open (browser secrets, Discord, wallets); high when the same module
    also sends data over the network; critical when that happens at install or import time.
    """

    id = "PW131"
    severity = Severity.MEDIUM
    title = "reads credential or secret stores"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            sends = [c for c in facts.calls if c.name in SEND_CALLS or c.name in DNS_CALLS]
            seen: set[str] = set()
            for c in facts.calls:
                if not c.name.startswith(_READERS) and c.name not in ("open",):
                    continue
                hit = next((s for s in c.strings if CREDENTIAL_RE.search(s)), None)
                if hit is None:
                    continue
                kind = credential_kind(hit)
                if kind in seen:
                    continue
                seen.add(kind)
                stealer = kind in _SECRET_STORES
                if sends and stealer:
                    sev = Severity.CRITICAL if early(c.ctx) or any(early(s.ctx) for s in sends) else Severity.HIGH
                    if sev == Severity.HIGH and c.ctx == "function" and not any(s.scope == c.scope for s in sends):
                        # read in one function, the module's network code elsewhere (a downloader that
                        # can use the browser's cookies): no flow from the store to a sink is seen
                        sev = Severity.MEDIUM
                elif stealer:
                    sev = Severity.MEDIUM
                else:
                    sev = Severity.LOW
                net = f"; the module also sends data with {sends[0].name}()" if sends else ""
                yield self.finding(
                    f"reads {kind} ({hit[:60]!r}) {where(c)}{net}{facts.layer_note()}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line), severity=sev)


def _in_docstring(tree: ast.Module, line: int) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
                    isinstance(first.value.value, str) and first.lineno <= line <= (first.end_lineno or first.lineno):
                return True
    return False


def _real_secret(token: str) -> bool:
    """Placeholders in documentation and tests (XXXX, 0000, abcdef, 123456) are not webhooks."""
    tail = token.rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()
    if any(p in token.lower() for p in ("abcdef", "123456", "xxxx", "0000", "example", "your", "token", "secret")):
        return False
    return len(set(tail)) >= 10


@register
class ExfilChannel(MemberCheck):
    """The code carries a ready-made exfiltration channel: a Discord or Slack webhook URL with its
    secret, or a Telegram bot token.

    A library talks to such services with credentials its user supplies; one that ships its own
    webhook secret sends data to its author. High when the module makes network calls, medium
    otherwise.
    """

    id = "PW132"
    severity = Severity.HIGH
    title = "hard-coded webhook or bot token (exfiltration channel)"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        text = ctx.text
        if "webhooks" not in text and "hooks.slack" not in text and ":AA" not in text and "telegram" not in text:
            return
        facts = None
        for m in WEBHOOK_RE.finditer(text):
            if not _real_secret(m.group(0)):
                continue
            if facts is None:
                from pipwarden.checks.code.shared import facts_for

                facts = facts_for(ctx)
            net = facts is not None and any(c.name in SEND_CALLS for c in facts.calls)
            line = line_of(ctx.data, len(text[: m.start()].encode("utf-8", "replace")))
            documented = facts is not None and _in_docstring(facts.tree, line)
            if documented or (ctx.line_text(line) or "").lstrip().startswith("#"):
                continue  # an example URL in the documentation (a notification library's docstring)
            yield self.finding(
                f"hard-coded {'webhook' if 'hook' in m.group(0) else 'bot token'} "
                f"{m.group(0)[:48]}…" + (" and the module makes network calls" if net else ""),
                file=ctx.path, line=line, evidence=ctx.line_text(line),
                severity=Severity.HIGH if net else Severity.MEDIUM)
            return


@register
class SuspiciousInfrastructure(MemberCheck):
    """A network or process call reaches infrastructure legitimate packages rarely use: request
    catchers (webhook.site, interactsh, Burp Collaborator, pipedream…), tunnels (ngrok…), paste
    and file-drop sites, URL shorteners, dynamic DNS, ``.onion`` services, public raw-IP URLs.

    On its own this is evidence, not proof: low for a mere string, medium in a call inside a
    function, high when the call runs at install or import time. It also raises other findings
    (spawn, exfiltration) that mention it.
    """

    id = "PW140"
    severity = Severity.MEDIUM
    title = "contacts suspicious infrastructure"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            seen: set[str] = set()
            for c in facts.calls:
                hosts = suspicious_hosts(c.strings)
                if not hosts or hosts[0] in seen:
                    continue
                seen.add(hosts[0])
                active = c.name in NET_CALLS or c.name in SEND_CALLS or c.name.startswith(("subprocess", "os."))
                weak = hosts[0].startswith(("URL shortener", "paste"))
                catcher = hosts[0].startswith(("request catcher", "tunnel", "onion"))
                if active and early(c.ctx):
                    sev = Severity.HIGH
                elif active and catcher and not weak:
                    sev = Severity.MEDIUM
                else:
                    sev = Severity.LOW
                yield self.finding(
                    f"{c.name or 'call'}() uses {hosts[0]} {where(c)}{facts.layer_note()}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line), severity=sev)
