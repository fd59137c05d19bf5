"""Download-and-run spread over helper functions: a module that fetches a hard-coded executable,
writes it to disk and starts it, each step in its own small function."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipwarden.checks.base import MemberCheck, MemberContext, register
from pipwarden.checks.code.facts import CallFact, ModuleFacts
from pipwarden.checks.code.indicators import NET_CALLS, SPAWN_CALLS
from pipwarden.checks.code.shared import early, layers, suspicious_hosts, where
from pipwarden.models import Finding, Severity

# A URL that names a Windows executable or script: what a dropper fetches.
_EXE_URL = re.compile(r"(?i)\b(?:https?|ftp)://[^\s'\"<>]+?\.(?:exe|scr|msi|bat|cmd|vbs|ps1|hta|jar|pif)(?=$|[?#'\"\s])")
_EXE_HINT = re.compile(rb"\.(?:exe|scr|msi|bat|cmd|vbs|ps1|hta|jar|pif|EXE)['\"?#]")
_EXE_NAME = re.compile(r"(?i)\.(?:exe|scr|dll|msi|pif)$")
_OPENERS = ("open", "io.open", "builtins.open")
_BINARY_MODES = ("wb", "w+b", "ab", "bw", "wb+", "xb")


def _fetches(facts: ModuleFacts) -> list[CallFact]:
    return [c for c in facts.calls if c.name in NET_CALLS or c.name.endswith(("urlretrieve", "wget.download"))]


def _writes(facts: ModuleFacts) -> list[CallFact]:
    return [c for c in facts.calls if (c.name in _OPENERS and any(m in _BINARY_MODES for m in c.strings))
            or (c.name.endswith((".write", ".write_bytes")) and "net-data" in c.taint)
            or c.name.endswith(("urlretrieve", "wget.download"))]


def _runs(facts: ModuleFacts) -> list[CallFact]:
    return [c for c in facts.calls if c.name in SPAWN_CALLS or c.name in ("os.startfile", "os.chmod")]


@register
class DownloadExecutableAndRun(MemberCheck):
    """A module downloads an executable from a hard-coded URL (``…/payload.exe``), writes it to
    disk and starts it, with each step in its own helper (``download(url, path)``,
    ``launch(path)``) so that no single function shows the whole chain.

    A library has no reason to fetch a Windows program from a fixed address and run it. High;
    critical when any step runs at install or import time. (The one-scope form is PW120.) A
    function that writes what it fetched into a ``.exe``/``.dll`` file, even with no run in sight,
    is medium (high at install or import time).
    """

    id = "PW118"
    severity = Severity.HIGH
    title = "downloads a hard-coded executable and runs it (through helpers)"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        if b"://" not in ctx.data or not _EXE_HINT.search(ctx.data):
            return
        urls = _EXE_URL.findall(ctx.text)
        if not urls:
            yield from self._dropped_exe(ctx)
            return
        for facts, outer in layers(ctx):
            fetches, writes, runs = _fetches(facts), _writes(facts), _runs(facts)
            if not (fetches and writes and runs):
                continue
            chain = [*fetches, *writes, *runs]
            hot = [c for c in chain if early(c.ctx)]
            r = next((c for c in runs if early(c.ctx)), runs[0])
            sev = Severity.CRITICAL if hot else Severity.HIGH
            if r.ctx == "function" and not hot and not suspicious_hosts(urls) and \
                    all(u.lower().startswith("https://") for u in urls):
                # A function nobody calls on import fetching an installer over https from a host with no
                # bad reputation: how CLIs install their toolchains (an .msi, a tunnel client) on request.
                sev = Severity.MEDIUM
            if not hot and all(c.name == "os.chmod" for c in runs):
                # Fetched and made executable by a function nobody calls on import, never started
                # here: how tools install a helper binary on first use (a tunnel client, a driver).
                sev = Severity.MEDIUM
            yield self.finding(
                f"fetches {urls[0][:80]} with {fetches[0].name}(), writes it with {writes[0].name}() and runs "
                f"{r.name}() {where(r)}{facts.layer_note()}",
                file=ctx.path, line=outer or r.line, evidence=facts.line_text(r.line), severity=sev)
            return

    def _dropped_exe(self, ctx: MemberContext) -> Iterable[Finding]:
        """Downloaded (or downloaded and decoded) bytes written to a ``.exe``/``.dll``/``.scr`` file
        in the same function, even when the run is not visible."""
        for facts, outer in layers(ctx):
            fetch = _fetches(facts)
            if not fetch:
                continue
            scopes = {c.scope for c in fetch}
            for c in facts.calls:
                if c.scope in scopes and c.name in _OPENERS and any(m in _BINARY_MODES for m in c.strings) \
                        and any(_EXE_NAME.search(s) for s in c.strings):
                    yield self.finding(
                        f"writes data fetched with {fetch[0].name}() to a Windows executable {where(c)}"
                        f"{facts.layer_note()}",
                        file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line),
                        severity=Severity.HIGH if early(c.ctx) else Severity.MEDIUM)
                    return
