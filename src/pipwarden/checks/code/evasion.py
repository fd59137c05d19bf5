"""Persistence, evasion, obfuscator stubs, reverse shells and miners."""

from __future__ import annotations

import ast
import io
import re
import tokenize
import unicodedata
from collections.abc import Iterable

from pipwarden.checks.base import MemberCheck, MemberContext, register
from pipwarden.checks.code.facts import CallFact, command_text
from pipwarden.checks.code.indicators import (
    ANTI_ANALYSIS_HINTS,
    ANTI_ANALYSIS_RE,
    MINER_HINTS,
    MINER_RE,
    NET_CALLS,
    OBFUSCATOR_RE,
    PERSISTENCE_RE,
    REVERSE_SHELL_RE,
    SPAWN_CALLS,
)
from pipwarden.checks.code.shared import early, facts_for, layers, line_of, not_shipped, where
from pipwarden.models import Finding, Severity

_WRITERS = ("open", "io.open", "builtins.open", "shutil.copy", "shutil.copyfile", "shutil.copy2", "shutil.move",
            "os.rename", "os.replace", "os.symlink", "winreg.SetValueEx", "winreg.SetValue", "winreg.CreateKey",
            "winreg.CreateKeyEx", "winreg.OpenKey", "_winreg.SetValueEx", "_winreg.OpenKey", "pathlib.Path.write_text",
            "os.path.join", "os.makedirs", "os.mkdir")


@register
class Persistence(MemberCheck):
    """Code installs itself to survive a reboot: autostart folders, registry ``Run`` keys, crontab,
    shell rc files (``.bashrc``, ``.zshrc``, ``.profile``), systemd units, launch agents,
    scheduled tasks, ``authorized_keys``.

    High at install or import time; medium inside a function.
    """

    id = "PW150"
    severity = Severity.HIGH
    title = "installs persistence (autostart, Run key, cron, rc file, service)"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            done = False
            for c in facts.calls:
                if done:
                    break
                if not (c.name.startswith(_WRITERS) or c.name in SPAWN_CALLS):
                    continue
                text = " ".join([command_text(c)]) if c.name in SPAWN_CALLS else "/".join(c.strings)
                m = PERSISTENCE_RE.search(text)
                if not m:
                    continue
                if c.name in ("open", "io.open", "builtins.open") and not any(
                        mode in c.strings for mode in ("w", "a", "wb", "ab", "a+", "w+")):
                    continue
                if c.name in ("os.path.join", "os.makedirs", "os.mkdir") and not early(c.ctx):
                    continue
                if m.group(0).lower() in (".profile", ".bashrc", ".zshrc", ".bash_profile"):
                    if c.name not in ("open", "io.open", "builtins.open") and c.name not in SPAWN_CALLS:
                        continue
                    if m.start() and text[m.start() - 1] not in "/\\~ '\"":
                        continue  # cProfile.Profile, x.bashrc_path: a name, not the file
                    if c.name not in SPAWN_CALLS and not _in_home(c):
                        continue  # an rc file written into a temporary or project folder starts nothing
                done = True
                yield self.finding(
                    f"{c.name}() touches {m.group(0)!r} {where(c)}{facts.layer_note()}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line),
                    severity=Severity.HIGH if early(c.ctx) else Severity.MEDIUM)


def _in_home(c: CallFact) -> bool:
    """The path is under the user's home: ``~``, ``expanduser``, ``Path.home()``, ``$HOME``."""
    return bool({"home", "env"} & c.taint) or any(
        s.startswith("~") or "/home/" in s or "/root/" in s or "$HOME" in s or "%USERPROFILE%" in s for s in c.strings)


@register
class AntiAnalysis(MemberCheck):
    """The code looks for analysis environments before acting: virtual machine drivers and MAC
    prefixes (VirtualBox, VMware, QEMU), sandbox user names, debuggers and network monitors
    (``IsDebuggerPresent``, Wireshark, Fiddler, x64dbg). Two or more distinct indicators make a
    medium finding; a package that runs these checks wants to behave differently when watched.
    """

    id = "PW151"
    severity = Severity.MEDIUM
    title = "anti-analysis checks (sandbox, VM or debugger detection)"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        low = ctx.data.lower()
        if sum(1 for h in ANTI_ANALYSIS_HINTS if h in low) < 3:
            return
        hits: dict[str, int] = {}
        for m in ANTI_ANALYSIS_RE.finditer(ctx.text):
            hits.setdefault(m.group(0).lower(), m.start())
            if len(hits) >= 3:
                break
        if len(hits) < 3:
            return
        first = min(hits.values())
        line = ctx.text.count("\n", 0, first) + 1
        yield self.finding(f"checks for analysis environments: {', '.join(sorted(hits))}", file=ctx.path,
                           line=line, evidence=ctx.line_text(line))


def _mixed_script(ident: str) -> bool:
    scripts: set[str] = set()
    for ch in ident:
        if ch.isascii():
            if ch.isalpha():
                scripts.add("LATIN")
            continue
        try:
            name = unicodedata.name(ch)
        except ValueError:
            continue
        scripts.add(name.split(" ", 1)[0])
    return len(scripts) > 1 and "LATIN" in scripts and bool(scripts & {"CYRILLIC", "GREEK", "ARMENIAN"})


_BIDI_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")
_NON_ASCII_IDENT = re.compile(r"[^\W\d_]*[^\x00-\x7f][^\W\d_]*[a-zA-Z]|[a-zA-Z][^\W\d_]*[^\x00-\x7f]")


@register
class TrojanSource(MemberCheck):
    """Unicode bidirectional control characters in source (CVE-2021-42574, "Trojan Source"): the
    code a reviewer sees is not the code that runs. Also identifiers that mix Latin letters with
    look-alike Cyrillic or Greek ones (homoglyphs), which make a name look like another.

    Medium; bidi controls in a file that also executes, spawns or connects are high.
    """

    id = "PW152"
    severity = Severity.MEDIUM
    title = "bidi control characters or homoglyph identifiers in source"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        if not re.search(rb"[\x80-\xff]", ctx.data) or not_shipped(ctx.path):
            return
        text = ctx.text
        bidi = _BIDI_RE.search(text)
        if bidi is not None:
            line = text.count("\n", 0, bidi.start()) + 1
            facts = facts_for(ctx)
            danger = facts is not None and any(
                c.name in SPAWN_CALLS or c.name in NET_CALLS or c.name in ("exec", "eval") for c in facts.calls)
            yield self.finding(f"bidi control U+{ord(bidi.group(0)):04X} in source", file=ctx.path, line=line,
                               evidence=ctx.line_text(line), severity=Severity.HIGH if danger else Severity.MEDIUM)
        if not _NON_ASCII_IDENT.search(text):
            return
        facts = facts_for(ctx)
        tree = facts.tree if facts is not None else ctx.tree
        if tree is None:
            return
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
                name = node.name
            elif isinstance(node, ast.Attribute):
                name = node.attr
            if name and not name.isascii() and _mixed_script(name):
                where_line: int | None = getattr(node, "lineno", None)
                yield self.finding(f"identifier {name!r} mixes Latin with look-alike letters", file=ctx.path,
                                   line=where_line, evidence=ctx.line_text(where_line))
                return


# Letters Python folds to ASCII when it reads an identifier (NFKC): mathematical alphanumerics
# (U+1D400-U+1D7FF, UTF-8 F0 9D 90-9F) and fullwidth Latin (U+FF21-FF5A, EF BC A1-EF BD 9A).
# ``𝘴𝙪𝗯𝘱𝙧𝙤𝙘𝗲𝙨𝙨.call`` runs ``subprocess.call``.
_FOLDED_BYTES = re.compile(rb"\xf0\x9d[\x90-\x9f]|\xef\xbc[\xa1-\xba]|\xef\xbd[\x81-\x9a]")


@register
class FoldedIdentifiers(MemberCheck):
    """Identifiers spelled with look-alike Unicode letters that Python folds to plain ASCII when it
    reads them (NFKC): mathematical bold/italic/sans-serif letters, fullwidth letters.
    ``𝘴𝙪𝗯𝘱𝙧𝙤𝙘𝗲𝙨𝙨.call([𝙚𝘹𝗲_𝘱𝘢𝙩𝗵])`` is ``subprocess.call([exe_path])`` to the interpreter but not
    to a text search or a reviewer's grep.

    No editor types these letters into code by accident; spelling names with them serves only to
    hide which names the code uses. High. (Letters in strings, comments and docstrings are not
    identifiers and are not reported.)
    """

    id = "PW190"
    severity = Severity.HIGH
    title = "identifiers spelled in letters Python folds to ASCII"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        if not _FOLDED_BYTES.search(ctx.data):
            return
        try:
            for tok in tokenize.generate_tokens(io.StringIO(ctx.text).readline):
                if tok.type == tokenize.NAME and not tok.string.isascii():
                    folded = unicodedata.normalize("NFKC", tok.string)
                    if folded != tok.string and folded.isascii():
                        line = tok.start[0]
                        yield self.finding(f"identifier {tok.string!r} is read by Python as {folded!r}",
                                           file=ctx.path, line=line, evidence=ctx.line_text(line))
                        return
        except (tokenize.TokenError, SyntaxError, ValueError):
            return


_STEGO_CALLS = ("stegano.lsb.reveal", "lsb.reveal", "stegano.exifHeader.reveal", "PIL.Image.open",
                "Image.open", "cv2.imread", "imageio.imread")
_IMAGE_EXT = re.compile(r"(?i)\.(?:png|jpe?g|gif|bmp|ico|wav|mp3|webp)\b")


@register
class SteganographicLoader(MemberCheck):
    """Code is executed from data hidden in an image or audio file: ``exec`` of what
    ``stegano.lsb.reveal``, pixel extraction or a read of an image file produced. High."""

    id = "PW153"
    severity = Severity.HIGH
    title = "executes code hidden in media (steganographic loader)"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        if not re.search(rb"(?i)stegano|Image\.open|imread|\.png|\.jpe?g|\.gif|\.bmp|\.wav|getpixel|getdata",
                         ctx.data):
            return
        for facts, outer in layers(ctx):
            media = [c for c in facts.calls if c.name.endswith(_STEGO_CALLS) or (
                c.name in ("open", "io.open", "builtins.open") and any(_IMAGE_EXT.search(s) for s in c.strings))]
            if not media:
                continue
            for ex in facts.execs:
                c = ex.call
                if c.scope in {m.scope for m in media} and ({"file-data", "decoded"} & ex.arg_taint or not ex.steps):
                    yield self.finding(
                        f"{c.name}() of data read with {media[0].name}() {where(c)}{facts.layer_note()}",
                        file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line))
                    break


_SHELL = re.compile(r"(?i)/bin/(?:ba|z|da)?sh|\bcmd(?:\.exe)?\b|powershell|\bsh\b")


@register
class ReverseShell(MemberCheck):
    """A reverse shell: a socket connected out, its descriptor duplicated onto stdin/stdout
    (``os.dup2``) and a shell started (``pty.spawn``, ``/bin/sh -i``), or a shell one-liner
    (``bash -i >& /dev/tcp/…``, ``nc -e``, ``mkfifo``). Critical."""

    id = "PW160"
    severity = Severity.CRITICAL
    title = "reverse shell"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            names = {c.name for c in facts.calls}
            connect = any(n.endswith(("connect", "create_connection")) and n.startswith("socket") for n in names)
            dup = "os.dup2" in names
            shell = [c for c in facts.calls if c.name in SPAWN_CALLS
                     and _SHELL.search(" ".join([command_text(c), *c.strings]))]
            if connect and dup and shell:
                c = shell[0]
                yield self.finding(f"socket connect + os.dup2 + {c.name}() shell {where(c)}{facts.layer_note()}",
                                   file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line))
                continue
            for c in facts.calls:
                text = " ".join([command_text(c), *c.strings])
                m = REVERSE_SHELL_RE.search(text)
                if m and (c.name in SPAWN_CALLS or c.name in ("exec", "eval")):
                    yield self.finding(f"{c.name}() runs a shell one-liner {m.group(0)!r} {where(c)}"
                                       f"{facts.layer_note()}", file=ctx.path, line=outer or c.line,
                                       evidence=facts.line_text(c.line))
                    break


@register
class CryptoMiner(MemberCheck):
    """A cryptocurrency miner: mining-pool URLs (``stratum+tcp://``), miner binaries (xmrig,
    cpuminer…) or miner options (``--donate-level``). High when the miner is started or
    downloaded, medium when only named."""

    id = "PW161"
    severity = Severity.HIGH
    title = "cryptocurrency miner"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        low = ctx.data.lower()
        if not any(h in low for h in MINER_HINTS):
            return
        m = MINER_RE.search(ctx.text)
        if not m:
            return
        facts = facts_for(ctx)
        active = False
        line = ctx.text.count("\n", 0, m.start()) + 1
        if facts is not None:
            for c in facts.calls:
                if (c.name in SPAWN_CALLS or c.name in NET_CALLS) and any(MINER_RE.search(s) for s in c.strings):
                    active, line = True, c.line
                    break
        yield self.finding(f"miner indicator {m.group(0)!r}" + (" started or downloaded" if active else ""),
                           file=ctx.path, line=line, evidence=ctx.line_text(line),
                           severity=Severity.HIGH if active else Severity.MEDIUM)


_PYARMOR_STUB = re.compile(
    rb"__pyarmor__\s*\(|\bpyarmor_runtime\w*\s*\(|from\s+(?:\.?\w+\.)*(?:pyarmor_runtime\w*|pytransform)\s+import"
    rb"|__armor_enter__\s*\(\s*\)"
)


@register
class ObfuscatorStub(MemberCheck):
    """The module is the loader stub of a code obfuscator (PyArmor, pyobfuscate and the grabber
    kits' own obfuscators): the real code is encrypted and cannot be reviewed.

    Medium for PyArmor in a module (a few commercial packages ship PyArmor-protected code, always
    with the PyArmor runtime beside it); high when the runtime is missing from the archive (the
    protected code cannot run as published: it counts on a runtime fetched from elsewhere), for the
    free obfuscators that malware kits use, and for anything obfuscated in setup.py, which nobody
    has a reason to obfuscate.
    """

    id = "PW112"
    severity = Severity.MEDIUM
    title = "obfuscated code (obfuscator loader stub)"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        m = OBFUSCATOR_RE.search(ctx.data)
        if m is None:
            if len(ctx.data) > 2000 and ctx.data.count(b"\n") < 3 and re.search(rb"exec|eval", ctx.data):
                line = 1
                yield self.finding("single-line module of over 2,000 characters that executes code",
                                   file=ctx.path, line=line, evidence=ctx.data[:120].decode("utf-8", "replace"),
                                   severity=Severity.HIGH if ctx.role == "setup" else Severity.MEDIUM)
            return
        commercial = m.group(0).lower().startswith((b"__pyarmor", b"pyarmor", b"__armor"))
        if commercial:
            # A protected module *calls* the runtime; code that only names its markers (tools that
            # detect PyArmor, documentation) is not itself protected.
            m = _PYARMOR_STUB.search(ctx.data)
            if m is None:
                return
        line = line_of(ctx.data, m.start())
        orphan = commercial and not any("pytransform" in n or "pyarmor_runtime" in n for n in ctx.siblings)
        yield self.finding(f"obfuscator marker {m.group(0).decode('latin-1')!r}" + (
            "; the PyArmor runtime it needs is not in the archive: the code can neither be read nor run as "
            "published" if orphan else ""), file=ctx.path, line=line, evidence=ctx.line_text(line),
            severity=Severity.HIGH if ctx.role == "setup" or not commercial or orphan else Severity.MEDIUM)
