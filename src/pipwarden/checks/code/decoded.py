"""Payloads decoded by code rather than by a decoder call: hand-written decoding loops feeding
``exec``, commands decoded before they are run, and Python scripts embedded as literals and
written to disk.

These fold statements statically (:meth:`pipwarden.deobfuscate.Evaluator.run_until`, helper
inlining) over constants only; nothing is executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pipwarden.checks.base import MemberCheck, MemberContext, register
from pipwarden.checks.code.facts import CallFact, ModuleFacts
from pipwarden.checks.code.indicators import SPAWN_CALLS
from pipwarden.checks.code.shared import WHERE, dropper, early, layers, suspicious_hosts, where
from pipwarden.deobfuscate import Evaluator, as_text, looks_like_python, module_functions
from pipwarden.models import Finding, Severity

# Decoders that hide what a string says (not mere joins or slices of readable pieces).
_HIDING_STEPS = frozenset({"base64", "base32", "base85", "ascii85", "hex", "zlib", "gzip", "lzma", "bz2", "rot13",
                           "xor", "marshal"})
_FUNCS_KEY = "_pipwarden_module_functions"


def _funcs(facts: ModuleFacts) -> dict[str, ast.FunctionDef]:
    cache = facts.__dict__
    if _FUNCS_KEY not in cache:
        cache[_FUNCS_KEY] = module_functions(facts.tree)
    got: dict[str, ast.FunctionDef] = cache[_FUNCS_KEY]
    return got


def _where(w: _Write) -> str:
    via = f", {w.via}" if w.via and w.via != "function body" else ""
    return f"{WHERE.get(w.ctx, w.ctx)}{via}"


def _evaluator(facts: ModuleFacts) -> Evaluator:
    return Evaluator(facts.consts, facts.resolve, _funcs(facts))


def _enclosing_body(tree: ast.Module, line: int) -> list[ast.stmt]:
    """The statement list of the innermost function holding ``line``, else the module body."""
    body: list[ast.stmt] = tree.body
    stack: list[list[ast.stmt]] = [tree.body]
    while stack:
        stmts = stack.pop()
        for stmt in stmts:
            end = stmt.end_lineno or stmt.lineno
            if not stmt.lineno <= line <= end:
                continue
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                body = stmt.body
                stack.append(stmt.body)
            elif isinstance(stmt, ast.ClassDef):
                stack.append(stmt.body)
            else:
                for attr in ("body", "orelse", "finalbody"):
                    sub = getattr(stmt, attr, None)
                    if isinstance(sub, list):
                        stack.append(sub)
                for h in getattr(stmt, "handlers", None) or []:
                    stack.append(h.body)
            break
    return body


def _fold_local(facts: ModuleFacts, call: CallFact, arg: ast.expr) -> tuple[Any, list[str]] | None:
    """The value of ``arg`` (a call argument) folded through the statements that precede the call
    in its function: loops, accumulations, helper calls."""
    ev = _evaluator(facts)
    names = {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
    env: dict[str, Any] = {}
    steps: list[str] = []
    if names - set(facts.consts):
        env, steps = ev.run_until(_enclosing_body(facts.tree, call.line), call.line)
    got = ev.evaluate(arg, env)
    if got is None:
        return None
    return got[0], steps + [s for s in got[1] if s not in steps]


@register
class ExecLoopDecoded(MemberCheck):
    """Code is executed from a string that a hand-written loop decodes: characters XOR-ed with a
    key, shifted by ``ord``/``chr`` arithmetic, or accumulated from a table, then passed to
    ``exec``/``eval``/``compile``.

    A decoding loop does what a decoder call does, written out so that no ``b64decode`` is there
    for a scanner to see. The loop is run statically over the literal and the decoded text is
    reported. Critical at install or import time, high in a function.
    """

    id = "PW114"
    severity = Severity.CRITICAL
    title = "executes a string decoded by a loop"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        if b"for " not in ctx.data:
            return
        for facts, outer in layers(ctx):
            done: set[int] = set()
            for ex in facts.execs:
                c = ex.call
                if ex.payload is not None or ex.marshal or c.line in done or not c.node.args:
                    continue
                arg = c.node.args[0]
                if not isinstance(arg, ast.Name) or arg.id in facts.consts:
                    continue
                got = _fold_local(facts, c, arg)
                if got is None:
                    continue
                value, steps = got
                text = as_text(value)
                if "loop" not in steps or text is None or not looks_like_python(text):
                    continue
                # a decoder, not a code generator: XOR or a real decoder on the way, or chr()/ord()
                # arithmetic in the function that built the string
                if not set(steps) & _HIDING_STEPS and not _char_arithmetic(facts, c.line):
                    continue
                done.add(c.line)
                chain = " → ".join(s for s in steps if s not in ("sliced",))
                yield self.finding(
                    f"{c.name}() of code decoded by a loop ({chain}) {where(c)}{facts.layer_note()}; "
                    f"payload: {text[:100]!r}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line),
                    severity=Severity.CRITICAL if early(c.ctx) else Severity.HIGH)


def _char_arithmetic(facts: ModuleFacts, line: int) -> bool:
    """``chr(ord(c) - 7)``-style character arithmetic in the body that holds ``line``."""
    for stmt in _enclosing_body(facts.tree, line):
        for n in ast.walk(stmt):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "chr" and n.args and \
                    isinstance(n.args[0], ast.BinOp):
                return True
    return False


@register
class SpawnDecodedCommand(MemberCheck):
    """A process is started with a command that the code decodes first: ``os.system(b64decode(…))``,
    ``subprocess.Popen([decode(…)])`` through a small helper, a hex or XOR-ed command line; or
    with a dropper command (``curl … | sh``, ``curl -H "$(whoami)" …``) kept in variables, or a
    command assembled in variables that reaches suspicious infrastructure (a request catcher, a
    raw IP).

    A program that runs a fixed command spells it out; encoding it only serves to hide it from a
    reader. High; critical when it runs at install or import time or the decoded command is a
    dropper (``curl … | sh``, encoded PowerShell…); medium for a command in a function that
    merely reaches suspicious infrastructure.
    """

    id = "PW115"
    severity = Severity.HIGH
    title = "runs a decoded command, or a dropper command built in variables"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            wrappers = _spawn_wrappers(facts)
            for c in facts.calls:
                via = ""
                if c.name in SPAWN_CALLS and c.node.args:
                    arg = c.node.args[0]
                    if isinstance(arg, ast.Constant) or not _may_decode(arg):
                        continue
                elif c.name in wrappers and len(c.node.args) > wrappers[c.name]:
                    # run("powershell … Invoke-WebRequest …") where run() hands its argument to Popen
                    arg = c.node.args[wrappers[c.name]]
                    via = f" through {c.name}()"
                else:
                    continue
                got = _fold_local(facts, c, arg)
                if got is None:
                    # not constant (it carries collected data): judge the constant pieces it is built from
                    partial = _assigned_strings(facts, c.line, arg)
                    hosts = suspicious_hosts(partial)
                    drop_text = dropper(" ".join(partial))
                    if not (hosts or drop_text):
                        continue
                    what = drop_text[:60] if drop_text else hosts[0]
                    yield self.finding(
                        f"{c.name}() runs a command built in variables that {'uses' if drop_text else 'reaches'} "
                        f"{what}{via} {where(c)}{facts.layer_note()}",
                        file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line),
                        # In a function nobody calls on import, a shell idiom among collected
                        # pieces is what shell integrations (PowerShell prompts, installers) do too.
                        severity=Severity.CRITICAL if early(c.ctx) else Severity.HIGH
                        if drop_text and c.ctx != "function" else Severity.MEDIUM)
                    continue
                value, steps = got
                hiding = [s for s in steps if s in _HIDING_STEPS]
                cmd = _command(value)
                if not cmd or len(cmd) < 4:
                    continue
                drop = dropper(cmd)
                if hiding:
                    sev = Severity.CRITICAL if early(c.ctx) or drop else Severity.HIGH
                    how = f"a command decoded with {' → '.join(hiding)}"
                elif drop:
                    # The command sits in variables the spawn checks do not read: fold it and look.
                    sev = Severity.CRITICAL if early(c.ctx) else Severity.HIGH
                    how = f"a dropper command ({drop[:60]})" + ("" if via else " built in variables")
                else:
                    continue
                yield self.finding(
                    f"{c.name}() runs {how}{via} {where(c)}{facts.layer_note()}: {cmd[:120]!r}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line), severity=sev)


def _assigned_strings(facts: ModuleFacts, line: int, arg: ast.expr) -> list[str]:
    """String constants of a command argument and of the local assignments (before ``line``, in
    the same function) of the names it uses."""
    names = {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
    out = [n.value for n in ast.walk(arg) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    for stmt in _enclosing_body(facts.tree, line):
        if stmt.lineno >= line:
            break
        if isinstance(stmt, ast.Assign | ast.AugAssign) and any(
                isinstance(t, ast.Name) and t.id in names
                for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])):
            out += [n.value for n in ast.walk(stmt.value) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return out[:64]


def _spawn_wrappers(facts: ModuleFacts) -> dict[str, int]:
    """Module functions that start a process with one of their parameters as the command: the
    name and the parameter's position."""
    out: dict[str, int] = {}
    funcs = _funcs(facts)
    if not funcs:
        return out
    for c in facts.calls:
        if c.name not in SPAWN_CALLS or not c.node.args or not isinstance(c.node.args[0], ast.Name):
            continue
        for name, fn in funcs.items():
            if fn.lineno <= c.line <= (fn.end_lineno or fn.lineno):
                params = [a.arg for a in fn.args.args]
                if c.node.args[0].id in params:
                    out[name] = params.index(c.node.args[0].id)
    return out


def _may_decode(arg: ast.expr) -> bool:
    """Cheap test before folding: the argument calls something or names a variable."""
    return any(isinstance(n, ast.Call | ast.Name | ast.BinOp) for n in ast.walk(arg))


def _command(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        parts = [as_text(v) if isinstance(v, bytes | bytearray) else v for v in value]
        if all(isinstance(p, str) for p in parts):
            return " ".join(parts)  # type: ignore[arg-type]
        return None
    return as_text(value)


_SCRIPT_DANGER = re.compile(r"\bsubprocess\b|os\.system|\bPopen\b|\bsocket\b|\bdup2\b|urlopen|\brequests\.|"
                            r"\bexec\s*\(|\beval\s*\(|b64decode|pty\.spawn|\bwinreg\b|webhook")
_FETCH_EXEC = re.compile(r"\b(?:exec|eval)\s*\([^\n]*(?:urlopen|requests\.get|\.read\(\)|\.text\b|\.content\b)")
_WRITE_METHODS = ("write", "write_text", "write_bytes")


@register
class DropsEmbeddedScript(MemberCheck):
    """Install-time or import-time code writes a Python script it carries as a string literal (or
    runs it with ``python -c``), and that script starts processes, connects, or executes code.

    The real payload is kept as text inside ``setup.py`` (or a module) and written to disk to be
    run later or by the next step: the dropping code looks innocuous and the script is never
    imported as part of the package. The embedded script is reported with its dangerous calls.
    High at install or import time, or when the script runs what it downloads or is a reverse
    shell; low otherwise inside a function (code generators write scripts too).
    """

    id = "PW116"
    severity = Severity.HIGH
    title = "writes or runs an embedded script that spawns, connects or executes"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        writes, runs = b"write" in ctx.data, b'"-c"' in ctx.data or b"'-c'" in ctx.data
        if not writes and not runs:
            return
        for facts, outer in layers(ctx):
            # only a module holding a long literal that reads like a dangerous script is walked for writes
            scripts = writes and (any(_script_like(n.value) for n in facts._long) or any(
                isinstance(v, ast.Constant) and _script_like(v.value) for v in facts.consts.values()))
            found = [*(self._written_scripts(facts) if scripts else ()), *(self._python_c(facts) if runs else ())]
            for c, text in found:
                danger = sorted({m.group(0).strip("(. ") for m in _SCRIPT_DANGER.finditer(text)})
                if not danger:
                    continue
                # a script that runs what it downloads, or a reverse shell, is a dropper wherever it sits
                dropper_script = bool(_FETCH_EXEC.search(text)) or {"socket", "dup2"} <= set(danger)
                sev = Severity.HIGH if early(c.ctx) or dropper_script else Severity.LOW
                yield self.finding(
                    f"{c.name}() {'runs' if c.name in SPAWN_CALLS else 'writes'} an embedded Python script that "
                    f"uses {', '.join(danger[:5])} "
                    f"{_where(c)}{facts.layer_note()}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line), severity=sev)
                break

    def _python_c(self, facts: ModuleFacts) -> Iterator[tuple[_Write, str]]:
        """``subprocess.run([sys.executable, "-c", script])``: the script is run, not written."""
        for c in facts.calls:
            if c.name not in SPAWN_CALLS or not c.node.args or not isinstance(c.node.args[0], ast.List | ast.Tuple):
                continue
            elts = c.node.args[0].elts
            flag = next((i for i, e in enumerate(elts) if isinstance(e, ast.Constant) and e.value == "-c"), None)
            if flag is None or flag + 1 >= len(elts) or isinstance(elts[flag + 1], ast.Constant):
                continue
            got = _fold_local(facts, c, elts[flag + 1])
            text = as_text(got[0]) if got is not None and isinstance(got[0], str | bytes) else None
            if text is not None and len(text) >= 60 and looks_like_python(text):
                yield _Write(c.name, c.line, c.node, c.ctx, c.via), text

    def _written_scripts(self, facts: ModuleFacts) -> Iterator[tuple[_Write, str]]:
        ev: Evaluator | None = None
        for w in _write_calls(facts):
            arg = w.node.args[0]
            if isinstance(arg, ast.Constant):
                value: Any = arg.value
            elif isinstance(arg, ast.Name) and arg.id in facts.consts:
                ev = ev or _evaluator(facts)
                got = ev.evaluate(arg)
                if got is None:
                    continue
                value = got[0]
            else:
                continue
            text = as_text(value) if isinstance(value, str | bytes | bytearray) else None
            if text is None or len(text) < 40 or not looks_like_python(text):
                continue
            yield w, text


def _script_like(value: object) -> bool:
    if isinstance(value, bytes):
        value = value[:MAX_SCRIPT].decode("latin-1")
    return isinstance(value, str) and "import" in value[:MAX_SCRIPT] and bool(_SCRIPT_DANGER.search(value[:MAX_SCRIPT]))


MAX_SCRIPT = 1 << 16


@dataclass(frozen=True, slots=True)
class _Write:
    name: str
    line: int
    node: ast.Call
    ctx: str
    via: str


def _write_calls(facts: ModuleFacts) -> Iterator[_Write]:
    """``x.write(<literal or module constant>)`` calls with the context of the scope they sit in
    (found from the tree: the facts walk records only calls on lines that mention a sink)."""
    stack: list[tuple[ast.AST, str | None]] = [(facts.tree, None)]
    while stack:
        node, qual = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                stack.append((child, f"{qual}.{child.name}" if qual else child.name))
            elif isinstance(child, ast.ClassDef):
                stack.append((child, child.name))
            elif isinstance(child, ast.If) and qual is None and _main_test(child.test):
                continue
            else:
                if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and \
                        child.func.attr in _WRITE_METHODS and len(child.args) == 1 and \
                        isinstance(child.args[0], ast.Constant | ast.Name):
                    sid = facts.defs.get(qual) if qual else 0
                    scope = facts.scopes.get(sid) if sid is not None else None
                    if scope is not None:
                        yield _Write(f"{ast.unparse(child.func)[:40]}", child.lineno, child, scope.ctx,
                                     scope.via)
                stack.append((child, qual))


def _main_test(test: ast.expr) -> bool:
    return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
