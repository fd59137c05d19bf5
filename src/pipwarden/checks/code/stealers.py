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
