"""Install-time and import-time execution, decode-and-execute, download-and-execute.

Severity follows context: the same capability is worse at install time (``pip install`` runs
it) or import time (any ``import`` runs it) than inside a function nobody calls on import,
and worse again when the data it works on is decoded, downloaded or identifies the machine.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from pipwarden.checks.base import MemberCheck, MemberContext, register
from pipwarden.checks.code.facts import IP_SERVICE, CallFact, ModuleFacts, command_text
from pipwarden.checks.code.indicators import (
    BUILD_ONLY_COMMANDS,
    EXEC_CALLS,
    IDENTITY_TAGS,
    NET_CALLS,
    SPAWN_CALLS,
)
from pipwarden.checks.code.shared import (
    build_tool,
    dropper,
    early,
    hidden,
    layers,
    suspicious_hosts,
    where,
)
from pipwarden.deobfuscate import as_text, looks_like_python, powershell_encoded
from pipwarden.models import Finding, Severity

_WRITE_MODE = re.compile(r"[wax]b?\+?|[rb]?\+|b[wax]|[wax]t")
_OUTSIDE_PATH = re.compile(r"(?i)^(?:/|~|[a-z]:\\)|appdata|%temp%|\\temp\\|/tmp/|startup|\.config|home")


def _spawn_severity(fact: CallFact, cmd: str) -> tuple[Severity, str]:
    """How bad a process start is, from the command and where its data came from."""
    text = " ".join([cmd, *fact.strings])
    drop = dropper(text)
    if drop:
        decoded = powershell_encoded(text)
        extra = f"; decoded PowerShell: {decoded[:120]}" if decoded else ""
        return Severity.CRITICAL, f"runs a dropper command ({drop[:80]}){extra}"
    if "net-data" in fact.taint:
        return Severity.CRITICAL, "runs data fetched from the network"
    hosts = suspicious_hosts(fact.strings)
    if hosts:
        return Severity.CRITICAL, f"command reaches {hosts[0]}"
    if hidden(text) or _kw_hidden(fact):
        return Severity.HIGH, "starts a hidden process"
    if re.search(r"(?i)https?://", text):
        if _FETCHING_BUILD_TOOL.match(cmd) and not _SHELL_CHAIN.search(cmd):
            # cargo install --git URL, git clone URL, npm install URL: fetching sources to build them.
            return Severity.MEDIUM, "a build tool fetches sources from a URL"
        return Severity.HIGH, "command contains a URL"
    cmd_taint = _command_taint(fact)
    ident = cmd_taint & IDENTITY_TAGS - {"cwd", "home", "files", "env"}
    if ident:
        return Severity.HIGH, f"command built from {', '.join(sorted(ident))}"
    if "decoded" in cmd_taint:
        return Severity.HIGH, "command built from decoded data"
    if cmd and build_tool(cmd):
        return Severity.LOW, "runs a build tool"
    if fact.ctx == "install" and ("called from" in fact.via or " via " in fact.via or "build" in fact.via):
        return Severity.LOW, "runs a command from a build helper"
    if fact.ctx in ("install", "import") and _BARE_SHELL.fullmatch(cmd.strip()):
        return Severity.HIGH, "starts an interactive shell"
    if fact.ctx == "install" and (fact.via == "module level" or _POST_INSTALL.search(fact.via)) and \
            _WINDOWS_PROGRAM.search(cmd):
        return Severity.HIGH, "runs a Windows program or script"
    if cmd and not cmd.startswith("{}") and re.match(r"^[\w./-]+", cmd):
        if fact.ctx == "install" and (fact.via == "module level" or _POST_INSTALL.search(fact.via)):
            # Not a build tool, run straight from setup.py or from an overridden install command:
            # builds compile in build_ext; a post-install command has no business starting programs.
            return Severity.HIGH, "runs a command that is not a build tool"
        return Severity.MEDIUM, "runs a command"
    return Severity.MEDIUM, "runs a computed command"


def _getattr_by_variable(node: ast.Call) -> tuple[ast.Call, str] | None:
    """The ``getattr(holder, name, ...)`` call of a computed-builtin fact (the fact itself, or the
    call it makes) and the variable's name, when ``name`` is a plain variable."""
    g = node.func if isinstance(node.func, ast.Call) else node
    if isinstance(g.func, ast.Name) and g.func.id == "getattr" and len(g.args) >= 2:
        name = g.args[1]
        if isinstance(name, ast.Name):
            return g, name.id
    return None


def _builtin_probe(node: ast.Call) -> bool:
    """``getattr(builtins, name, default)`` with a variable name: a lookup that tolerates absence,
    as compatibility code does, rather than a name computed to hide what is called."""
    got = _getattr_by_variable(node)
    return got is not None and len(got[0].args) == 3


def _harmless_names(facts: ModuleFacts, node: ast.Call) -> bool:
    """``{n: getattr(builtins, n) for n in SAFE}`` where ``SAFE`` is a module-level literal of names,
    none of them dangerous: a whitelist of builtins (sandboxed evaluators build one), not a name
    computed to hide ``exec``."""
    got = _getattr_by_variable(node)
    if got is None:
        return False
    var = got[1]
    constants: dict[str, list[str]] = {}
    for st in facts.tree.body:
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            value = st.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and len(value.args) == 1 \
                    and value.func.id in ("frozenset", "set", "tuple", "list"):
                value = value.args[0]
            if isinstance(value, ast.Set | ast.List | ast.Tuple) and value.elts and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts):
                constants[st.targets[0].id] = [str(e.value) for e in value.elts if isinstance(e, ast.Constant)]
    for comp in ast.walk(facts.tree):
        if isinstance(comp, ast.comprehension) and isinstance(comp.target, ast.Name) and comp.target.id == var:
            it = comp.iter
            names = constants.get(it.id) if isinstance(it, ast.Name) else (
                [str(e.value) for e in it.elts if isinstance(e, ast.Constant)]
                if isinstance(it, ast.Set | ast.List | ast.Tuple) else None)
            return bool(names) and not any(n in _UNSAFE_BUILTINS for n in names or ())
    return False


_UNSAFE_BUILTINS = frozenset({"exec", "eval", "compile", "__import__", "open", "getattr", "setattr", "globals",
                              "locals", "vars", "input", "breakpoint", "memoryview", "delattr", "__build_class__"})


def _literal_blob(node: ast.Call) -> bool:
    """A long string or bytes literal inside the executed expression (a payload the static
    decoder could not finish, such as ``marshal.loads(marshal.dumps(b64decode(b'...')))``)."""
    return bool(node.args) and any(isinstance(n, ast.Constant) and isinstance(n.value, str | bytes)
                                   and len(n.value) >= 40 for n in ast.walk(node.args[0]))


_FETCHING_BUILD_TOOL = re.compile(r"""(?i)^\s*(?:['"\[]\s*)*(?:cargo|git|hg|svn|go|npm|yarn|pnpm)['"]?[\s,]""")
_SHELL_CHAIN = re.compile(r"[;&|`<>]|\$\(")
_POST_INSTALL = re.compile(r"setup command \w*(?:[Ii]nstall|[Dd]evelop|[Ee]gg_?[Ii]nfo|[Pp]ost)\w*\.run\(\)")
_BARE_SHELL = re.compile(r"(?i)(?:/usr)?(?:/bin/)?(?:ba|z|da|k|c|tc)?sh(?:\s+-i)?|cmd(?:\.exe)?|powershell(?:\.exe)?")
_WINDOWS_PROGRAM = re.compile(r"(?i)\.(?:exe|scr|bat|cmd|ps1|vbs|vbe|msi|hta|pyw)\b")
_DROPPED_EXECUTABLE = re.compile(r"(?i)\.(?:exe|scr|bat|cmd|ps1|vbs|jar|msi|dll|hta)\b|appdata|%temp%|startup")


def _command_taint(fact: CallFact) -> frozenset[str]:
    """Taint of the command itself (first argument or ``args=``), not of ``env=``/``cwd=``."""
    return fact.arg_taint[0] if fact.arg_taint else fact.taint


# CREATE_NO_WINDOW | DETACHED_PROCESS: a process with no console window for anyone to see.
_NO_WINDOW_BITS = 0x08000000 | 0x00000008


def _kw_hidden(fact: CallFact) -> bool:
    for k in fact.node.keywords:
        if k.arg == "start_new_session" and isinstance(k.value, ast.Constant) and k.value.value is True:
            return True  # detached from the terminal: it outlives the install or the import that started it
        if k.arg == "preexec_fn" and ast.unparse(k.value) in ("os.setsid", "setsid", "os.setpgrp"):
            return True
        if k.arg in ("creationflags", "startupinfo"):
            src = ast.unparse(k.value)
            if hidden(src) or "0x08000000" in src or "134217728" in src:
                return True
            flags = _int_value(k.value)
            if flags is not None and flags & _NO_WINDOW_BITS:
                return True
    return False


def _int_value(node: ast.expr) -> int | None:
    """An integer constant or an ``|``/``+`` of them (``0x00000008 | 0x00000200``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr | ast.Add):
        left, right = _int_value(node.left), _int_value(node.right)
        if left is not None and right is not None:
            return left | right if isinstance(node.op, ast.BitOr) else left + right
    return None


@register
class InstallTimeSpawn(MemberCheck):
    """``setup.py`` (or a module it imports, or an overridden setup command such as ``install``,
    ``develop`` or ``egg_info``) starts a process when it runs.

    ``pip install`` of an sdist runs that code with the installing user's rights. Build tools
    (compilers, ``git``, ``cmake``, ``pkg-config``) are reported at low severity; an unknown
    command at medium; a hidden window, a URL, identity data or decoded data in the command at
    high; a dropper idiom (``curl … | sh``, ``powershell -EncodedCommand``, ``certutil
    -urlcache``, ``mshta``) or running downloaded bytes is critical.
    """

    id = "PW101"
    severity = Severity.HIGH
    title = "setup.py spawns a process at install time"
    roles = frozenset({"setup"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            for c in facts.calls:
                if c.name in SPAWN_CALLS and c.ctx == "install":
                    cmd = command_text(c)
                    sev, why = _spawn_severity(c, cmd)
                    yield self.finding(
                        f"{c.name}() {where(c)}: {why}{facts.layer_note()}",
                        file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line), severity=sev)


@register
class InstallTimeNetwork(MemberCheck):
    """``setup.py`` (or code it runs at install time) opens a network connection.

    Installing a package should not talk to the network from its build script: this is how
    install-time malware downloads a second stage, and how dependency-confusion probes phone
    home. High by default; medium when it happens only inside a build command (``build_ext``,
    …) fetching an archive without sending anything that identifies the machine. (Sending
    identity data is also reported by the exfiltration check.)
    """

    id = "PW102"
    severity = Severity.HIGH
    title = "setup.py accesses the network at install time"
    roles = frozenset({"setup"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            for c in facts.calls:
                if c.name in NET_CALLS and c.ctx == "install":
                    sev = Severity.HIGH
                    cls = facts.scopes[c.scope].cls
                    bases = set(facts.classes.get(cls, [])) if cls else set()
                    if (bases and bases <= BUILD_ONLY_COMMANDS and not (c.taint & IDENTITY_TAGS)
                            and not suspicious_hosts(c.strings)):
                        sev = Severity.MEDIUM
                    yield self.finding(
                        f"{c.name}() {where(c)}{facts.layer_note()}",
                        file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line), severity=sev)


@register
class ExecDecoded(MemberCheck):
    """Code is executed from data decoded at run time: ``exec(base64.b64decode(...))``,
    ``eval(zlib.decompress(...))``, ``exec(marshal.loads(...))``, ``types.FunctionType`` over a
    decoded code object, ``exec`` of ``chr()`` joins, reversed strings, XOR-ed bytes or rot13.

    Hiding code in an encoded blob serves only to keep it from being read. The payload is
    decoded statically where it is a literal and analysed as a further layer; findings inside
    it name the layer ("decoded layer 2: base64 → zlib").
    """

    id = "PW103"
    severity = Severity.CRITICAL
    title = "executes decoded data"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            for ex in facts.execs:
                c = ex.call
                steps = [s for s in ex.steps if s not in ("sliced",)]
                weak = set(steps) <= {"join", "bytes"}
                sev = self.severity
                if ex.marshal:
                    what = "a marshalled code object"
                elif steps and not weak:
                    what = "data decoded with " + " → ".join(steps)
                elif "decoded" in ex.arg_taint:
                    what = "decoded or decrypted data"
                elif steps and ex.payload and len(ex.payload) > 20:
                    what = "a string assembled from pieces (" + " → ".join(steps) + ")"
                else:
                    continue
                quiet_ctx = c.ctx in ("function", "main")
                if ex.payload is None and not steps and quiet_ctx and "net-data" not in ex.arg_taint \
                        and not _literal_blob(c.node):
                    # No literal payload, nothing fetched, not run at install or import time: a
                    # deserializer (a Keras-style func_load of a saved function) looks exactly like this.
                    sev = Severity.MEDIUM
                elif what.startswith("a string assembled") and quiet_ctx:
                    sev = Severity.MEDIUM  # readable code joined from pieces in a function: a code generator
                preview = f"; payload: {ex.payload[:100]!r}" if ex.payload and not ex.marshal else ""
                yield self.finding(
                    f"{c.name}() of {what} {where(c)}{facts.layer_note()}{preview}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line), severity=sev)


@register
class ImportTimePayload(MemberCheck):
    """A module of the package does something at import time that a library has no reason to
    do: starts a process, opens a connection, or writes a file outside the package.

    Any ``import`` of the package runs module-level code, so this is how malware in a wheel
    (which has no setup.py) gets to run. Every module is looked at, not only ``__init__.py``.
    Medium alone; high or critical with a dropper idiom, a hidden window, identity data or
    suspicious infrastructure.
    """

    id = "PW110"
    severity = Severity.MEDIUM
    title = "module runs a payload at import time"
    roles = frozenset({"module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            yield from self._one(ctx, facts, outer)

    def _one(self, ctx: MemberContext, facts: ModuleFacts, outer: int | None) -> Iterable[Finding]:
        for c in facts.calls:
            if c.ctx != "import":
                continue
            if c.name in SPAWN_CALLS:
                cmd = command_text(c)
                sev, why = _spawn_severity(c, cmd)
                if sev <= Severity.LOW:
                    continue
                what = f"{c.name}() {where(c)}: {why}"
            elif c.name in NET_CALLS:
                sev = Severity.MEDIUM
                hosts = suspicious_hosts(c.strings)
                sends = _sends_body(c)
                probe = any(IP_SERVICE.search(x) for x in c.strings[:2])
                if hosts or sends or probe:
                    # a library fetches on demand; one that posts data the moment it is imported
                    # reports to someone about the machine that imported it
                    sev = Severity.HIGH
                what = f"{c.name}() {where(c)}" + (f" to {hosts[0]}" if hosts else "") + (
                    ": sends data the moment the package is imported" if sends else
                    ": queries an IP-lookup service the moment the package is imported" if probe else "")
            elif c.name in ("open", "io.open", "builtins.open") and _writes_outside(c):
                sev = Severity.MEDIUM
                what = f"open() for writing outside the package {where(c)}"
            else:
                continue
            yield self.finding(what + facts.layer_note(), file=ctx.path, line=outer or c.line,
                               evidence=facts.line_text(c.line), severity=sev)


_SEND_VERBS = ("post", "put", "patch")


def _sends_body(c: CallFact) -> bool:
    """An HTTP request that uploads something: ``requests.post``/``put``/``patch``, or a request
    given ``data=``/``json=``/``files=`` or ``method="POST"``."""
    if c.name.rsplit(".", 1)[-1] in _SEND_VERBS:
        return True
    if any(c.kw(k) is not None for k in ("data", "json", "files")):
        return True
    method = c.kw("method")
    return isinstance(method, ast.Constant) and str(method.value).upper() in ("POST", "PUT", "PATCH")


def _writes_outside(c: CallFact) -> bool:
    node = c.node
    mode = node.args[1] if len(node.args) > 1 else c.kw("mode")
    if not (isinstance(mode, ast.Constant) and isinstance(mode.value, str) and _WRITE_MODE.search(mode.value)):
        return False
    if {"home", "env"} & c.taint:
        return True
    first = node.args[0] if node.args else None
    if isinstance(first, ast.JoinedStr) and first.values and not isinstance(first.values[0], ast.Constant):
        return False  # f"{folder}/{name}": the path starts where a variable says, its "/" is a separator
    return bool(node.args) and any(_OUTSIDE_PATH.search(s) for s in c.strings[:1])


@register
class DownloadAndExecute(MemberCheck):
    """Data fetched from the network is executed: ``exec(requests.get(url).text)``, a downloaded
    file written, made executable and started, ``urlretrieve`` then ``os.startfile``.

    Critical at install or import time, high inside a function. The dropper shell idioms
    (``curl … | sh``, ``powershell -EncodedCommand``) are reported by the spawn checks.
    """

    id = "PW120"
    severity = Severity.CRITICAL
    title = "downloads and executes code"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            for ex in facts.execs:
                if "net-data" in ex.arg_taint:
                    c = ex.call
                    yield self.finding(
                        f"{c.name}() of data fetched from the network {where(c)}{facts.layer_note()}",
                        file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line),
                        severity=Severity.CRITICAL if early(c.ctx) else Severity.HIGH)
            yield from self._chains(ctx, facts, outer)

    def _chains(self, ctx: MemberContext, facts: ModuleFacts, outer: int | None) -> Iterable[Finding]:
        """fetch (or decode, or carry code) -> write -> run: within one scope in source order, and
        across the helpers that module-level code calls (``download(url, p)`` then ``run(p)``)."""
        by_scope: dict[int, list[CallFact]] = {}
        for c in facts.calls:
            by_scope.setdefault(c.scope, []).append(c)
        groups: list[tuple[list[CallFact], bool]] = [(calls, True) for calls in by_scope.values()]
        early_calls = [c for c in facts.calls if early(c.ctx)]
        if len({c.scope for c in early_calls}) > 1:
            groups.append((early_calls, False))
        done: set[int] = set()
        for calls, ordered in groups:
            fetch = [c for c in calls if c.name in NET_CALLS or c.name.endswith(("urlretrieve", "wget.download"))]
            writes = [c for c in calls if c.name.endswith((".write", ".write_bytes", ".write_text"))]
            drops = [c for c in writes if {"net-data", "decoded"} & c.taint]
            code = [c for c in writes if early(c.ctx) and _carries_code(c)]
            if not fetch and not drops and not code:
                continue
            first = min(c.line for c in fetch + drops + code)
            # in one scope the run follows the write; a helper function may be defined anywhere
            runs = [c for c in calls if (c.name in SPAWN_CALLS or c.name in ("os.chmod", "os.startfile")
                                         or (c.name in EXEC_CALLS and "file-data" in c.taint))
                    and (c.line >= first or (not ordered and facts.scopes[c.scope].kind != "module"))
                    and c.line not in done]
            wrote = bool(drops or code) or any(
                c.name in ("open", "io.open", "builtins.open") and c.line >= first
                and any(m in ("wb", "w+b", "ab", "bw") for m in c.strings) for c in calls) or any(
                c.name.endswith(("urlretrieve", "wget.download")) for c in fetch)
            if not runs:
                yield from self._dropped_script(ctx, facts, outer, calls, drops, done)
                continue
            if not wrote:
                continue
            r = runs[0]
            if r.name != "os.chmod" and build_tool(command_text(r)) and not {"net-data", "decoded"} & r.taint \
                    and not drops and not (code and _runs_python(r)):
                continue
            done.add(r.line)
            src = f"downloads with {fetch[0].name}()" if fetch else "decodes a payload" if drops else \
                "carries code"
            exe = any(_DROPPED_EXECUTABLE.search(s) for c in calls for s in c.strings)
            sev = Severity.CRITICAL if early(r.ctx) else Severity.HIGH if exe or drops else Severity.MEDIUM
            if not early(r.ctx) and all(c.name == "os.chmod" for c in runs):
                sev = min(sev, Severity.MEDIUM)  # made executable in a function, never started here
            yield self.finding(
                f"{src}, writes it to a file and runs {r.name}() {where(r)}"
                + (" (a Windows executable or a hidden location)" if exe else "") + facts.layer_note(),
                file=ctx.path, line=outer or r.line, evidence=facts.line_text(r.line), severity=sev)


    def _dropped_script(self, ctx: MemberContext, facts: ModuleFacts, outer: int | None, calls: list[CallFact],
                        drops: list[CallFact], done: set[int]) -> Iterable[Finding]:
        """Decoded data written at install or import time into a script or program file: the payload
        is put on disk to be started later (by a scheduled task, a shortcut, the next import)."""
        for w in drops:
            if not early(w.ctx) or "decoded" not in w.taint or w.line in done:
                continue
            opens = [c for c in calls if c.name in ("open", "io.open", "builtins.open", "codecs.open")
                     and c.line <= w.line and any(_WRITE_MODE.fullmatch(m) for m in c.strings)]
            if not opens:
                continue
            target = next((s for s in max(opens, key=lambda c: c.line).strings[:3] if _SCRIPT_FILE.search(s)), None)
            if target is None:
                continue
            done.add(w.line)
            yield self.finding(
                f"writes decoded data into {target[-60:]!r} {where(w)}: a payload dropped to be run later"
                + facts.layer_note(),
                file=ctx.path, line=outer or w.line, evidence=facts.line_text(w.line), severity=Severity.HIGH)
            return


_SCRIPT_FILE = re.compile(r"(?i)\.(?:pyw?|vbs|vbe|js|bat|cmd|ps1|exe|dll|scr|sh|hta|jar)$")


def _carries_code(c: CallFact) -> bool:
    """``f.write(<Python source literal>)``: code the package carries as text, written to be run."""
    arg = c.arg0
    if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str | bytes)) or len(arg.value) < 40:
        return False
    return looks_like_python(as_text(arg.value) or "")


def _runs_python(c: CallFact) -> bool:
    """The command starts the Python interpreter (on the file just written)."""
    return bool(re.match(r"(?i)\s*(?:start\s+)?(?:\S*[\\/])?python", command_text(c)))


@register
class InstallTimeWrite(MemberCheck):
    """``setup.py`` (or code it runs at install time) writes a file outside the package: into the
    user's home, ``APPDATA``, a temp or system folder.

    A build writes into its build tree; writing elsewhere at install time plants files (browser
    extensions, scripts, shortcuts) on the machine before anything was vetted. High.
    """

    id = "PW105"
    severity = Severity.HIGH
    title = "setup.py writes outside the package at install time"
    roles = frozenset({"setup"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            for c in facts.calls:
                if c.ctx == "install" and c.name in ("open", "io.open", "builtins.open") and _writes_outside(c):
                    yield self.finding(f"open() for writing outside the package {where(c)}{facts.layer_note()}",
                                       file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line))
                    break


@register
class DropperCommand(MemberCheck):
    """A process is started with a dropper or evasion idiom, wherever it sits: ``curl … | sh``,
    ``wget -O x && chmod +x x``, ``powershell -EncodedCommand``/``-WindowStyle Hidden``,
    ``Invoke-WebRequest``/``DownloadString``, ``mshta http…``, ``certutil -urlcache``,
    ``bitsadmin /transfer``, or ``creationflags=CREATE_NO_WINDOW``.

    Critical at install or import time; high in a function (it is still a dropper, just one that
    waits to be called); a merely hidden window inside a function is low (some tools hide
    console windows on Windows).
    """

    id = "PW121"
    severity = Severity.HIGH
    title = "starts a process with a dropper or hidden-window idiom"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            for c in facts.calls:
                if c.name not in SPAWN_CALLS:
                    continue
                text = " ".join([command_text(c), *c.strings])
                drop = dropper(text)
                if drop:
                    decoded = powershell_encoded(text)
                    sev = Severity.CRITICAL if early(c.ctx) else Severity.HIGH
                    msg = f"{c.name}() runs {drop[:80]!r} {where(c)}"
                    if decoded:
                        msg += f"; decoded PowerShell: {decoded[:120]!r}"
                elif hidden(text) or _kw_hidden(c):
                    sev = Severity.HIGH if early(c.ctx) else Severity.LOW
                    msg = f"{c.name}() starts a hidden process {where(c)}"
                else:
                    continue
                yield self.finding(msg + facts.layer_note(), file=ctx.path, line=outer or c.line,
                                   evidence=facts.line_text(c.line), severity=sev)


_DANGEROUS_DYNAMIC = EXEC_CALLS | SPAWN_CALLS | {"__import__", "os", "subprocess", "builtins.exec",
                                                  "<computed builtin>"}


@register
class DynamicDangerousName(MemberCheck):
    """A dangerous function is reached through a name that hides it: ``__import__('os').system``,
    ``getattr(builtins, 'exec')``, ``globals()['ev' + 'al']``, ``getattr(os, 'sys' + 'tem')``.

    Plain code calls ``os.system`` by name; spelling it through a string lookup serves to keep
    it from a reader or a scanner. Medium; high at install or import time.
    """

    id = "PW111"
    severity = Severity.MEDIUM
    title = "dangerous function reached through a hidden name"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            for c in facts.dynamic_names:
                if c.name not in _DANGEROUS_DYNAMIC:
                    continue
                # __import__('os').system(...) with a literal module is mild; a computed name is not.
                literal = c.dynamic == "__import__" and isinstance(c.node.func, ast.Attribute)
                literal = literal or (c.name == "<computed builtin>" and not early(c.ctx))
                if c.name == "<computed builtin>" and (_builtin_probe(c.node) or _harmless_names(facts, c.node)):
                    continue  # getattr(builtins, name, Default), or a name drawn from a constant list of safe ones
                sev = Severity.HIGH if early(c.ctx) and not literal else Severity.MEDIUM
                if literal and not early(c.ctx):
                    sev = Severity.LOW
                yield self.finding(
                    f"{c.name}() reached through {c.dynamic} {where(c)}{facts.layer_note()}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line), severity=sev)


@register
class EncodedPythonPayload(MemberCheck):
    """A string literal decodes (base64, hex, then zlib/gzip/lzma/bz2, possibly several layers)
    to Python source.

    The decoded source is analysed like a file and its findings name the layer. The payload on
    its own is low severity (packages embed encoded data for good reasons); high when the
    decoded code starts processes, connects, or executes: that is code hidden from review.
    """

    id = "PW113"
    severity = Severity.LOW
    title = "string literal hides Python code"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            if not facts.depth or not facts.steps:
                continue  # exec("def f(): ...") of a plain literal hides nothing: its code is read as a layer
            danger = any(c.name in SPAWN_CALLS | NET_CALLS | EXEC_CALLS for c in facts.calls)
            first = facts.text.strip().splitlines()[0][:120] if facts.text.strip() else ""
            yield self.finding(
                f"literal decodes to Python code{facts.layer_note()}" + (
                    " that starts processes, connects or executes" if danger else ""),
                file=ctx.path, line=outer, evidence=first,
                severity=Severity.HIGH if danger else Severity.LOW)
