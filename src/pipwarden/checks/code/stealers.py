"""Token stealers: code that combs browser and Discord local storage for session tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipwarden.checks.base import MemberCheck, MemberContext, register
from pipwarden.checks.code.shared import line_of
from pipwarden.models import Finding, Severity

# The shapes of a Discord token as stealers grep for them: the three-part user token, the
# legacy "mfa." token and the "dQw4w9WgXcQ:" prefix of tokens encrypted in Local State.
_TOKEN_PATTERN = re.compile(
    rb"\[\\w-\]\{2[0-9]\}\\?\.\[\\w-\]\{6\}\\?\.\[\\w-\]\{2[0-9]\}|mfa\\?\.\[\\w-\]\{84\}|dQw4w9WgXcQ:")
_STORES = re.compile(rb"(?i)leveldb|Local Storage")


@register
class DiscordTokenHarvest(MemberCheck):
    """The code searches browser and Discord ``Local Storage/leveldb`` files with the regular
    expressions of Discord tokens (``[\\w-]{24}\\.[\\w-]{6}\\.[\\w-]{27}``, ``mfa\\.[\\w-]{84}``,
    the ``dQw4w9WgXcQ:`` prefix of encrypted tokens).

    Nothing but a token grabber reads another application's local storage looking for session
    tokens: whoever gets the token owns the account. High.
    """

    id = "PW181"
    severity = Severity.HIGH
    title = "harvests Discord tokens from local storage"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        m = _TOKEN_PATTERN.search(ctx.data)
        if m is None or not _STORES.search(ctx.data):
            return
        line = line_of(ctx.data, m.start())
        yield self.finding(f"Discord token pattern {m.group(0).decode('latin-1')[:40]!r} matched against "
                           "local storage (leveldb) files", file=ctx.path, line=line, evidence=ctx.line_text(line))


@register
class CredentialFileSent(MemberCheck):
    """One function opens a credential file (``~/.aws/credentials``, ``~/.ssh/id_rsa``,
    ``.git-credentials``, ``.pypirc``, ``.netrc``, a kube or docker config) and also sends data over
    the network.

    A client that uses such a file reads it in its configuration layer and talks to its own
    service elsewhere; a function that reads the file *and* posts is the shape of a credential
    stealer. Medium in a function, high at install or import time.
    """

    id = "PW184"
    severity = Severity.HIGH
    title = "reads a credential file and sends data in the same function"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        if not _CRED_HINT.search(ctx.data):
            return
        from pipwarden.checks.code.exfiltration import SEND_CALLS
        from pipwarden.checks.code.indicators import CREDENTIAL_RE, credential_kind
        from pipwarden.checks.code.shared import early, layers, where

        for facts, outer in layers(ctx):
            reads: dict[int, tuple[str, int]] = {}
            for c in facts.calls:
                hit = next((s for s in c.strings if _TOOL_CRED.search(s) and CREDENTIAL_RE.search(s)
                            and not _NOT_SECRET.search(s)), None)
                if hit is not None and c.scope not in reads:
                    reads[c.scope] = (hit, c.line)
            if not reads:
                continue
            for c in facts.calls:
                if c.name in SEND_CALLS and c.name not in _CLIENTS and c.scope in reads and \
                        facts.scopes[c.scope].kind != "module":
                    hit, line = reads.pop(c.scope)
                    yield self.finding(
                        f"reads {credential_kind(hit)} ({hit[:50]!r}, line {line}) and sends with {c.name}() "
                        f"{where(c)}{facts.layer_note()}",
                        file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line),
                        severity=Severity.HIGH if early(c.ctx) else Severity.MEDIUM)


_CRED_HINT = re.compile(rb"\.aws|\.ssh|git-credentials|\.pypirc|\.netrc|\.npmrc|\.kube|\.docker|gcloud")
# The credential files of developer tools (browser, Discord and wallet stores have their own checks).
_TOOL_CRED = re.compile(r"(?i)\.aws|\.ssh|id_rsa|id_ed25519|git-credentials|\.pypirc|\.netrc|\.npmrc|\.kube|\.docker"
                        r"|gcloud")
# Files an SSH client reads to connect, not secrets; and the clients that legitimately use them.
_NOT_SECRET = re.compile(r"(?i)known_hosts|\.ssh[\\/]+config\b|\.pub$")
_CLIENTS = frozenset({"paramiko.SSHClient.connect"})
