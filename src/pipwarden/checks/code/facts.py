"""One AST walk per module that collects the facts every code check shares.

For each call: the dotted name it resolves to (through imports, aliases, ``__import__``,
``getattr(builtins, …)`` and ``globals()[…]``), its line, the scope it sits in, the string
constants among its arguments and the *taint* of its arguments — which sources (environment,
host name, user name, credential files, data fetched from the network, decoded data) reach
it within the same scope. After the walk, a reachability pass gives every scope its
*context*: ``install`` (runs when setup.py runs), ``import`` (runs on import), ``main`` (a
``__main__`` block) or ``function`` (a function nobody calls at import).

Payloads decoded statically (:mod:`pipwarden.deobfuscate`) are analysed as further layers,
bounded by :data:`~pipwarden.deobfuscate.MAX_LAYERS`; their findings say which layer.
"""

from __future__ import annotations

import ast
import bisect
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from pipwarden.checks.base import line_of
from pipwarden.checks.code.indicators import (
    CREDENTIAL_RE,
    DECODE_CALLS,
    EXEC_CALLS,
    INSTALL_COMMANDS,
    NET_CALLS,
    SOURCE_CALLS,
    SPAWN_CALLS,
)
from pipwarden.deobfuscate import (
    MAX_LAYERS,
    Evaluator,
    Marshalled,
    as_text,
    decode_literal,
    looks_like_python,
)

Ctx = Literal["install", "import", "main", "function"]
CTX_RANK: dict[str, int] = {"function": 0, "main": 1, "import": 2, "install": 3}
_BUILTIN_HOLDERS = frozenset({"builtins", "__builtins__", "__builtin__"})
_DYNAMIC_BUILTINS = frozenset({"exec", "eval", "compile", "__import__", "open", "getattr", "input"})
_MAX_STRINGS = 24


@dataclass(slots=True)
class CallFact:
    name: str  # resolved dotted name, or '' when unknown
    line: int
    scope: int
    node: ast.Call
    taint: frozenset[str]
    strings: tuple[str, ...]
    dynamic: str = ""  # how the name was hidden (getattr, __import__, globals()[...]) if it was
    arg_taint: tuple[frozenset[str], ...] = ()  # taint of the first positional argument, if any
    ctx: str = "function"
    via: str = ""
    arg0: ast.expr | None = None  # the first argument, or the value a plain name in it was last given in the scope

    def kw(self, name: str) -> ast.expr | None:
        for k in self.node.keywords:
            if k.arg == name:
                return k.value
        return None


@dataclass(slots=True)
class Scope:
    id: int
    name: str
    kind: str  # module | main | manual | function | command
    cls: str | None = None
    callees: set[str] = field(default_factory=set)
    ctx: str = "function"
    via: str = ""


@dataclass(slots=True)
class Layer:
    facts: ModuleFacts
    steps: tuple[str, ...]
    line: int  # line in the enclosing layer where the payload sits


@dataclass(slots=True)
class ExecFact:
    call: CallFact
    steps: tuple[str, ...]  # decoders the argument went through (statically)
    payload: str | None  # decoded source, when it decoded to text
    arg_taint: frozenset[str]
    marshal: bool = False


class ModuleFacts:
    """Facts of one module (or one decoded layer of it)."""

    def __init__(self, tree: ast.Module, role: str, text: str, *, depth: int = 0,
                 base_ctx: str | None = None, steps: tuple[str, ...] = (), script: bool = True,
                 entries: frozenset[str] = frozenset()) -> None:
        self.tree = tree
        self.role = role
        self.text = text
        self.depth = depth
        self.steps = steps  # how this layer was decoded from the file ('' for the file itself)
        self.base_ctx = base_ctx
        self.script = script  # the file pip runs itself (setup.py), not a module it imports
        self.entries = entries  # functions the package's __init__.py calls on import
        self.aliases: dict[str, str] = {}
        self.hidden_aliases: dict[str, str] = {}  # alias -> how it was hidden (getattr, globals()[...])
        self.types: dict[str, str] = {}
        self.consts: dict[str, ast.expr] = {}
        self.calls: list[CallFact] = []
        self.scopes: dict[int, Scope] = {}
        self.defs: dict[str, int] = {}  # function / method name -> scope id
        self.classes: dict[str, list[str]] = {}  # class -> base names
        self.command_classes: set[str] = set()
        self._argv: frozenset[str] | None = None
        self.execs: list[ExecFact] = []
        self.layers: list[Layer] = []
        self.dynamic_names: list[CallFact] = []
        self.returns: dict[str, frozenset[str]] = {}  # function name -> taint of what it returns
        self._memo: dict[int, tuple[frozenset[str], tuple[str, ...]]] = {}
        self._taint: dict[int, dict[str, frozenset[str]]] = {}
        self._local: dict[int, dict[str, ast.expr]] = {}  # scope -> name -> value last assigned (so far)
        self._next = 0
        self._hot = _hot_lines(text)
        self._long: list[ast.Constant] = []
        self._counts: dict[str, int] = {}
        self._values: dict[str, ast.expr] = {}
        self._pending: list[tuple[ExecFact, ast.expr]] = []
        self.evaluator = Evaluator(self.consts, self.resolve)
        module = self._new_scope("<module>", "module")
        self._body(tree.body, module, top=True)
        for name, n in self._counts.items():
            if n == 1:
                self.consts[name] = self._values[name]
        for ex, arg in self._pending:
            self._evaluate_exec(ex, arg)
        self._reach()
        self._decode_layers()

    # -- names -----------------------------------------------------------------------------

    def _names(self, stmt: ast.stmt) -> None:
        """Imports and single-assignment constants, as statements are met."""
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                if a.asname:
                    self.aliases[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    self.aliases.setdefault(top, top)
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
            for a in stmt.names:
                self.aliases[a.asname or a.name] = f"{stmt.module}.{a.name}"
        elif isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name):
                    self._counts[t.id] = self._counts.get(t.id, 0) + 1
                    self._values[t.id] = stmt.value
                    # b = exec; run = os.system: an alias of a sink, made on a line that names no sink
                    if isinstance(stmt.value, ast.Name | ast.Attribute):
                        target = self._plain(stmt.value)
                        if target in _SINK_ALIASES and target != t.id:
                            self.aliases[t.id] = target
        elif isinstance(stmt, ast.AnnAssign | ast.AugAssign) and isinstance(stmt.target, ast.Name):
            self._counts[stmt.target.id] = self._counts.get(stmt.target.id, 0) + 2

    def resolve(self, node: ast.expr) -> str | None:
        name, _ = self._resolve(node)
        return name

    def _resolve(self, node: ast.expr) -> tuple[str | None, str]:
        """Dotted name of an expression used as a call target, and how it was hidden if it was."""
        parts: list[str] = []
        how = ""
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        base: str | None = None
        if isinstance(node, ast.Name):
            ident = node.id
            if ident in self.aliases:
                base = self.aliases[ident]
                how = self.hidden_aliases.get(ident, "")
            elif ident in self.types:
                base = self.types[ident]
            else:
                base = ident
        elif isinstance(node, ast.Call):
            fname = self._plain(node.func)
            if fname in ("__import__", "importlib.import_module", "builtins.__import__") and node.args:
                mod = self._const_str(node.args[0])
                if mod is None:
                    return None, ""
                base, how = mod, "__import__"
            elif fname == "getattr" and len(node.args) >= 2:
                attr = self._const_str(node.args[1])
                holder = self._plain(node.args[0]) if not isinstance(node.args[0], ast.Call) else \
                    self._resolve(node.args[0])[0]
                if attr is None and holder in _BUILTIN_HOLDERS:
                    return "<computed builtin>", "getattr"
                if attr is None or holder is None:
                    return None, ""
                base = attr if holder in _BUILTIN_HOLDERS else f"{holder}.{attr}"
                # getattr(builtins, "exec") spells the name out (py2/3 compat shims do that);
                # only a computed name ("ex" + "ec", decoded, a variable) hides it.
                how = "" if isinstance(node.args[1], ast.Constant) else "getattr"
            else:
                inner = self.resolve(node.func)
                if inner is None:
                    return None, ""
                base = inner  # a constructor: requests.Session().post -> requests.Session.post
        elif isinstance(node, ast.Subscript):
            box = node.value
            key = self._const_str(node.slice)
            if key is None:
                return None, ""
            hname = self._plain(box.func) if isinstance(box, ast.Call) else self._plain(box)
            if hname in ("globals", "locals", "vars", "builtins.__dict__", "__builtins__.__dict__",
                         "__builtins__", "sys.modules"):
                base, how = key, f"{hname}[...]"
            else:
                return None, ""
        else:
            return None, ""
        if base is None:
            return None, ""
        return ".".join([base, *reversed(parts)]), how

    def _plain(self, node: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        base = self.aliases.get(node.id, node.id)
        return ".".join([base, *reversed(parts)])

    def _const_str(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        got = Evaluator(self.consts, self._plain).evaluate(node)
        if got is not None and isinstance(got[0], str):
            return got[0]
        return None

    # -- walk ------------------------------------------------------------------------------

    def _argv_aliases(self) -> frozenset[str]:
        if self._argv is None:
            self._argv = argv_aliases(self.tree)
        return self._argv

    def _new_scope(self, name: str, kind: str, cls: str | None = None) -> Scope:
        sid = self._next
        self._next += 1
        scope = Scope(sid, name, kind, cls)
        self.scopes[sid] = scope
        self._taint[sid] = {}
        return scope

    def _body(self, stmts: list[ast.stmt], scope: Scope, *, top: bool = False, cls: str | None = None) -> None:
        for stmt in stmts:
            self._stmt(stmt, scope, top=top, cls=cls)

    def _stmt(self, stmt: ast.stmt, scope: Scope, *, top: bool, cls: str | None) -> None:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            qual = f"{cls}.{stmt.name}" if cls else stmt.name
            kind = "command" if cls and cls in self.command_classes else "function"
            sub = self._new_scope(qual, kind, cls)
            self.defs.setdefault(qual, sub.id)
            if top or cls:
                self.defs.setdefault(stmt.name if not cls else qual, sub.id)
            for d in stmt.decorator_list:
                self._expr_stmt(d, scope)
            if self._quiet(stmt):
                self._light(stmt, sub)  # a quiet function cannot call a tainted helper usefully
            else:
                self._body(stmt.body, sub, cls=None)
            return
        if isinstance(stmt, ast.ClassDef):
            bases = [self.resolve(b) or "" for b in stmt.bases]
            short = [b.rsplit(".", 1)[-1] for b in bases]
            self.classes[stmt.name] = short
            if set(short) & INSTALL_COMMANDS or any(b in self.command_classes for b in short) or any(
                    b.startswith(("setuptools.command.", "distutils.command.")) for b in bases):
                self.command_classes.add(stmt.name)
            self._body(stmt.body, scope, cls=stmt.name)
            return
        if top and self.role == "setup" and isinstance(stmt, ast.If) and \
                _is_manual_argv_test(stmt.test, self._argv_aliases()):
            # if sys.argv[-1] == "publish": ... — a maintainer's shortcut; pip never passes that word.
            manual = self._new_scope("<command-line branch>", "manual")
            self._body(stmt.body, manual)
            self._body(stmt.orelse, scope, top=True)
            return
        if top and isinstance(stmt, ast.If) and _is_main_test(stmt.test):
            main = self._new_scope("__main__", "main")
            self._body(stmt.body, main)
            self._body(stmt.orelse, scope, top=True)
            return
        if isinstance(stmt, ast.If | ast.While):
            self._expr_stmt(stmt.test, scope)
            self._body(stmt.body, scope, top=top, cls=cls)
            self._body(stmt.orelse, scope, top=top, cls=cls)
            return
        if isinstance(stmt, ast.For | ast.AsyncFor):
            self._expr_stmt(stmt.iter, scope)
            self._assign(stmt.target, stmt.iter, scope)
            self._body(stmt.body, scope, top=top, cls=cls)
            self._body(stmt.orelse, scope, top=top, cls=cls)
            return
        if isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                self._expr_stmt(item.context_expr, scope)
                if item.optional_vars is not None:
                    self._assign(item.optional_vars, item.context_expr, scope)
            self._body(stmt.body, scope, top=top, cls=cls)
            return
        if isinstance(stmt, ast.Try | ast.TryStar):
            self._body(stmt.body, scope, top=top, cls=cls)
            for h in stmt.handlers:
                self._body(h.body, scope, top=top, cls=cls)
            self._body(stmt.orelse, scope, top=top, cls=cls)
            self._body(stmt.finalbody, scope, top=top, cls=cls)
            return
        if isinstance(stmt, ast.Match):
            self._expr_stmt(stmt.subject, scope)
            for case in stmt.cases:
                self._body(case.body, scope, top=top, cls=cls)
            return
        # Simple statements.
        self._names(stmt)
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            self._local.setdefault(scope.id, {})[stmt.targets[0].id] = stmt.value
            if isinstance(stmt.value, ast.Call):
                # session = boto3.Session(), s = ClientSession(): the type of a variable made by an
                # imported constructor, whatever the line mentions
                base = stmt.value.func
                while isinstance(base, ast.Attribute):
                    base = base.value
                ctor = self.resolve(stmt.value.func) if isinstance(base, ast.Name) and base.id in self.aliases \
                    else None
                if ctor and "." in ctor:
                    self.types.setdefault(stmt.targets[0].id, ctor)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            self._local.setdefault(scope.id, {})[stmt.target.id] = stmt.value
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            self._local.get(scope.id, {}).pop(stmt.target.id, None)
        if not self._is_hot(stmt) and not self._taint[scope.id] and not self._light(stmt, scope):
            return
        self._expr_stmt(stmt, scope)
        if isinstance(stmt, ast.Return) and stmt.value is not None and scope.kind != "module":
            tags = self._tags(stmt.value, scope)
            if tags:
                fname = scope.name.rsplit(".", 1)[-1]
                self.returns[fname] = self.returns.get(fname, frozenset()) | tags
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                self._assign(t, stmt.value, scope)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self._assign(stmt.target, stmt.value, scope)
        elif isinstance(stmt, ast.AugAssign):
            self._assign(stmt.target, stmt.value, scope, augment=True)

    def _quiet(self, node: ast.stmt) -> bool:
        """No line of this function mentions a sink, a source, a decoder or a URL: its calls cannot
        matter to any check beyond reachability, so it is walked lightly."""
        lo, hi = node.lineno, node.end_lineno or node.lineno
        i = bisect.bisect_left(self._hot, lo)
        return i >= len(self._hot) or self._hot[i] > hi

    def _is_hot(self, node: ast.AST) -> bool:
        lo = getattr(node, "lineno", 1)
        hi = getattr(node, "end_lineno", None) or lo
        i = bisect.bisect_left(self._hot, lo)
        return i < len(self._hot) and self._hot[i] <= hi

    def _light(self, root: ast.AST, scope: Scope) -> bool:
        """Reachability edges, imports and long literals only: nothing here can be a sink. True
        when the statement calls a helper whose result is tainted (it then needs a full look)."""
        tainted_call = False
        for node in ast.walk(root):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name):
                    scope.callees.add(func.id)
                    tainted_call = tainted_call or func.id in self.returns or func.id in self.hidden_aliases \
                        or self.aliases.get(func.id, "") in _SINK_ALIASES
                elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
                        func.value.id in ("self", "cls"):
                    scope.callees.add(f"@self.{func.attr}")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node is not root:
                self.defs.setdefault(node.name, scope.id)
            elif isinstance(node, ast.Constant):
                if isinstance(node.value, str | bytes) and len(node.value) >= 80:
                    self._long.append(node)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                self._names(node)
        return tainted_call

    def _assign(self, target: ast.expr, value: ast.expr, scope: Scope, augment: bool = False) -> None:
        tags = self._tags(value, scope)
        taint = self._taint[scope.id]
        for t in _target_names(target):
            if augment:
                taint[t] = taint.get(t, frozenset()) | tags
            elif tags:
                taint[t] = tags
            else:
                taint.pop(t, None)
        if isinstance(target, ast.Name):
            if isinstance(value, ast.Call):
                name, _ = self._resolve(value.func)
                if name and name not in ("dict", "list", "str", "int", "set", "tuple", "open"):
                    self.types[target.id] = name
                elif name is None:
                    # x = __import__('os'); x = importlib.import_module('subprocess')
                    fname = self._plain(value.func)
                    if fname in ("__import__", "importlib.import_module") and value.args:
                        mod = self._const_str(value.args[0])
                        if mod:
                            self.aliases[target.id] = _imported(fname, mod)
                if name in ("__import__", "importlib.import_module") and value.args:
                    mod = self._const_str(value.args[0])
                    if mod:
                        self.aliases[target.id] = _imported(name, mod)
                elif isinstance(value.func, ast.Name) and value.func.id == "getattr":
                    resolved, how = self._resolve(value)
                    if resolved:
                        self.aliases[target.id] = resolved
                        if how:
                            self.hidden_aliases[target.id] = how
            elif isinstance(value, ast.Name | ast.Attribute | ast.Subscript):
                resolved, how = self._resolve(value)
                if resolved and (how or resolved in EXEC_CALLS or "." in resolved) and resolved != target.id:
                    self.aliases[target.id] = resolved
                    if how:
                        self.hidden_aliases[target.id] = how

    def _tags(self, expr: ast.AST, scope: Scope) -> frozenset[str]:
        return self._summary(expr, scope)[0]

    def _summary(self, root: ast.AST, scope: Scope) -> tuple[frozenset[str], tuple[str, ...]]:
        """Taint tags and string constants of an expression, bottom-up and memoised per statement
        so that nested calls cost linear time."""
        memo = self._memo
        got = memo.get(id(root))
        if got is not None:
            return got
        stack: list[tuple[ast.AST, list[ast.AST] | None]] = [(root, None)]
        while stack:
            node, children = stack.pop()
            if id(node) in memo:
                continue
            if children is None:
                kids = list(ast.iter_child_nodes(node))
                stack.append((node, kids))
                stack.extend((c, None) for c in kids if id(c) not in memo)
                continue
            tags = set(self._own_tags(node, scope))
            strings: list[str] = []
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
                strings.append(node.value[:4096])
            for c in children:
                ct, cs = memo[id(c)]
                tags |= ct
                if len(strings) < _MAX_STRINGS:
                    strings.extend(cs)
            memo[id(node)] = (frozenset(tags), tuple(strings[:_MAX_STRINGS]))
        return memo[id(root)]

    def _own_tags(self, node: ast.AST, scope: Scope) -> set[str]:
        taint = self._taint[scope.id]
        tags: set[str] = set()
        if isinstance(node, ast.Name):
            got = taint.get(node.id)
            if got:
                tags |= got
        elif isinstance(node, ast.Attribute):
            key = _attr_key(node)
            if key and key in taint:
                tags |= taint[key]
            plain = self._plain(node)
            if plain == "os.environ":
                tags.add("env")
            elif plain in ("os.name", "sys.platform"):
                tags.add("platform")
        elif isinstance(node, ast.Call):
            name = self.resolve(node.func) or ""
            tag = SOURCE_CALLS.get(name) or ("secret" if name.endswith(_CLOUD_SECRET_CALLS) else None)
            if tag:
                tags.add(tag)
            callee = node.func.id if isinstance(node.func, ast.Name) else (
                node.func.attr if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("self", "cls") else None)
            if callee and callee in self.returns:
                tags |= self.returns[callee]
            elif name.startswith("os.environ"):
                tags.add("env")
            if name in NET_CALLS or name in _RECEIVE_CALLS:
                tags.add("net-data")
                if any(_IP_SERVICE.search(s) for a in node.args[:1] for s in self._summary(a, scope)[1]):
                    tags.add("ip")
            elif name in DECODE_CALLS or name.endswith((".decrypt", "decrypt_and_verify")):
                tags.add("decoded")
            elif name in ("open", "io.open", "codecs.open", "pathlib.Path", "builtins.open"):
                tags.add("file-data")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and 4 < len(node.value) < 400 \
                and CREDENTIAL_RE.search(node.value):
            tags.add("cred")
        return tags

    def _expr_stmt(self, node: ast.AST, scope: Scope) -> None:
        self._memo = {}
        for sub in _walk_no_defs(node):
            if isinstance(sub, ast.Call):
                self._call(sub, scope)
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str | bytes) and len(sub.value) >= 80:
                self._long.append(sub)

    def _call(self, node: ast.Call, scope: Scope) -> None:
        name, how = self._resolve(node.func)
        arg0 = node.args[0] if node.args else None
        strings = self._arg_strings(node, scope)
        local = self._local.get(scope.id)
        if local and arg0 is not None:
            # cmd = "curl … | sh"; os.system(cmd): the value a variable holds is what the call gets
            value = self._local_value(arg0, local)
            if value is not arg0:
                arg0 = value
                if len(strings) < _MAX_STRINGS:
                    strings = (*strings, *self._summary(value, scope)[1])[:_MAX_STRINGS]
        fact = CallFact(
            name=name or "",
            line=node.lineno,
            scope=scope.id,
            node=node,
            taint=self._tags_args(node, scope),
            strings=strings,
            dynamic=how,
            arg_taint=(self._tags(node.args[0], scope),) if node.args else (),
            arg0=arg0,
        )
        self.calls.append(fact)
        if how and name:
            self.dynamic_names.append(fact)
        elif name == "getattr" and len(node.args) >= 2 and self._plain(node.args[0]) in _BUILTIN_HOLDERS \
                and self._const_str(node.args[1]) is None:
            # map(getattr(__builtins__, <computed>), ...): a builtin fetched by a computed name
            fact.name, fact.dynamic = "<computed builtin>", "getattr"
            self.dynamic_names.append(fact)
        # Edges for reachability: local functions, classes, methods, thread targets, cmdclass.
        func = node.func
        if isinstance(func, ast.Name):
            scope.callees.add(func.id)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("self", "cls"):
            scope.callees.add(f"@self.{func.attr}")
        for k in node.keywords:
            if k.arg in ("target", "cmdclass", "func", "callback") and isinstance(k.value, ast.Name):
                scope.callees.add(k.value.id)
            if k.arg == "cmdclass" and isinstance(k.value, ast.Dict):
                for key, v in zip(k.value.keys, k.value.values, strict=True):
                    # {"watch": Webpack}: a command of the maintainer's own, which pip never runs.
                    own = isinstance(key, ast.Constant) and isinstance(key.value, str) and \
                        key.value not in INSTALL_COMMANDS and key.value not in PIP_SETUP_COMMANDS
                    if isinstance(v, ast.Name) and not own:
                        self.command_classes.add(v.id)
        if name in ("atexit.register", "threading.Thread", "multiprocessing.Process", "threading.Timer") and node.args:
            for a in node.args:
                if isinstance(a, ast.Name):
                    scope.callees.add(a.id)
        if name in EXEC_CALLS or (name or "").endswith(".exec"):
            self._exec(fact, scope)

    @staticmethod
    def _local_value(arg: ast.expr, local: dict[str, ast.expr]) -> ast.expr:
        """A plain name (or a one-item list of one: ``[exe_path]``) replaced by the value it was
        last given in the same scope; anything else unchanged."""
        if isinstance(arg, ast.Name) and arg.id in local:
            return local[arg.id]
        if isinstance(arg, ast.List | ast.Tuple) and any(isinstance(e, ast.Name) and e.id in local for e in arg.elts):
            elts = [local[e.id] if isinstance(e, ast.Name) and e.id in local else e for e in arg.elts]
            return ast.List(elts=elts, ctx=ast.Load()) if isinstance(arg, ast.List) else \
                ast.Tuple(elts=elts, ctx=ast.Load())
        return arg

    def _arg_strings(self, node: ast.Call, scope: Scope) -> tuple[str, ...]:
        out: list[str] = []
        for a in [*node.args, *(k.value for k in node.keywords)]:
            out.extend(self._summary(a, scope)[1])
            if len(out) >= _MAX_STRINGS:
                break
        return tuple(out[:_MAX_STRINGS])

    def _tags_args(self, node: ast.Call, scope: Scope) -> frozenset[str]:
        tags: set[str] = set()
        for a in node.args:
            tags |= self._tags(a, scope)
        for k in node.keywords:
            tags |= self._tags(k.value, scope)
        return frozenset(tags)

    def _exec(self, fact: CallFact, scope: Scope) -> None:
        node = fact.node
        if not node.args:
            return
        arg = node.args[0]
        ex = ExecFact(fact, (), None, self._tags(arg, scope), False)
        self.execs.append(ex)
        self._pending.append((ex, arg))

    def _evaluate_exec(self, ex: ExecFact, arg: ast.expr) -> None:
        got = self.evaluator.evaluate(arg)
        if got is not None:
            value, chain = got
            ex.steps = tuple(chain)
            if isinstance(value, Marshalled):
                ex.marshal = True
                ex.payload = "\n".join(value.strings())
            else:
                ex.payload = as_text(value)
        else:
            ex.marshal = any(isinstance(n, ast.Call) and self.resolve(n.func) == "marshal.loads" for n in ast.walk(arg))

    # -- contexts --------------------------------------------------------------------------

    def _reach(self) -> None:
        roots: list[tuple[Scope, str, str]] = []
        base = self.base_ctx
        for s in self.scopes.values():
            if s.kind == "module":
                ctx = base or ("install" if self.role == "setup" else "import")
                roots.append((s, ctx, "module level"))
            elif s.kind == "main":
                ctx = base or ("install" if self.role == "setup" and self.script else "main")
                roots.append((s, ctx, "__main__ block"))
            elif s.kind == "manual":
                roots.append((s, base or "main", "a setup.py command-line branch pip never takes"))
            elif s.cls and s.cls in self.command_classes and self.role == "setup":
                roots.append((s, base or "install", f"setup command {s.name}()"))
            elif s.kind == "function" and s.name in self.entries and self.role == "module" and base is None \
                    and self.defs.get(s.name) == s.id:
                roots.append((s, "import", f"{s.name}() called by the package's __init__.py"))
        for scope, ctx, via in sorted(roots, key=lambda r: -CTX_RANK[r[1]]):
            self._spread(scope, ctx, via)

    def _spread(self, root: Scope, ctx: str, via: str) -> None:
        stack = [(root, via)]
        seen: set[int] = set()
        while stack:
            scope, how = stack.pop()
            if scope.id in seen or CTX_RANK[scope.ctx] > CTX_RANK[ctx] or (
                    CTX_RANK[scope.ctx] == CTX_RANK[ctx] and scope.via and scope is not root):
                continue
            seen.add(scope.id)
            scope.ctx, scope.via = ctx, how
            for callee in scope.callees:
                targets: list[int] = []
                if callee.startswith("@self.") and scope.cls:
                    sid = self.defs.get(f"{scope.cls}.{callee[6:]}")
                    if sid is not None:
                        targets.append(sid)
                elif callee in self.defs:
                    targets.append(self.defs[callee])
                elif callee in self.classes:
                    for meth in ("__init__", "__new__", "run"):
                        sid = self.defs.get(f"{callee}.{meth}")
                        if sid is not None:
                            targets.append(sid)
                for sid in targets:
                    sub = self.scopes[sid]
                    stack.append((sub, f"{sub.name}() called from {how}" if "called from" not in how
                                  else f"{sub.name}() via {how}"))
        for c in self.calls:
            s = self.scopes[c.scope]
            c.ctx, c.via = s.ctx, s.via or "function body"

    # -- layers ----------------------------------------------------------------------------

    def _decode_layers(self) -> None:
        if self.depth >= MAX_LAYERS:
            return
        for ex in self.execs:
            # decoded payloads, and code passed as a plain literal that decodes, spawns or connects
            # (exec("import base64\nexec(...)")), not compat shims (exec("def reraise(...): ..."))
            literal = isinstance(ex.call.node.args[0], ast.Constant) and bool(ex.payload) and \
                bool(_LITERAL_WORTH.search(ex.payload or ""))
            if ex.payload and (ex.steps or literal) and not ex.marshal and looks_like_python(ex.payload):
                self._add_layer(ex.payload, ex.steps, ex.call.line, ex.call.ctx)
        # Long literals that decode to Python even when no exec of them is visible.
        for node in self._long:
            value = node.value
            raw = value if isinstance(value, str) else value.decode("latin-1") if isinstance(value, bytes) else ""
            if not raw or " " in raw[:200]:
                continue
            if any(layer.line == node.lineno for layer in self.layers):
                continue
            got = decode_literal(raw)
            if got is not None:
                self._add_layer(got[0], tuple(got[1]), node.lineno, "function", literal=True)

    def _add_layer(self, text: str, steps: tuple[str, ...], line: int, ctx: str, literal: bool = False) -> None:
        if len(self.layers) >= 8:
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return
        sub = ModuleFacts(tree, self.role, text, depth=self.depth + 1, base_ctx=ctx,
                          steps=self.steps + steps)
        sub.literal = literal  # type: ignore[attr-defined]
        self.layers.append(Layer(sub, steps, line))

    def all_layers(self) -> Iterator[tuple[ModuleFacts, int | None]]:
        """This module and every decoded layer, with the line in the file the layer came from."""
        yield self, None
        for layer in self.layers:
            for facts, _ in layer.facts.all_layers():
                yield facts, layer.line

    def layer_note(self) -> str:
        if not self.depth:
            return ""
        return f" (decoded layer {self.depth}: {' → '.join(self.steps) or 'literal'})"

    def line_text(self, lineno: int | None) -> str | None:
        return line_of(self.text, lineno)


# Lines worth a full (taint-tracking) look: sinks, sources, decoders, URLs, credential paths.
HOT_RE = re.compile(
    r"(?<![.\w])(?:exec|eval|compile|execfile|__import__)\s*\(|os\.system|system\(|popen|Popen|subprocess|spawn"
    r"|socket|urlopen|urllib|requests|httpx|http\.client|HTTPConnection|urlretrieve|b64decode|b85decode|b32decode"
    r"|decompress|marshal|fromhex|unhexlify|codecs|import_module|getattr\(\s*(?:__builtins__|builtins|os\b)"
    r"|globals\(\)\[|environ|getenv|gethostname|getuser|getlogin|getfqdn|uname|platform\.node|getcwd|expanduser"
    r"|home\(|winreg|crontab|dup2|pty\.|startfile|ShellExecute|smtplib|ftplib|getaddrinfo|gethostbyname|resolver"
    r"|://|\.ssh|\.aws|leveldb|Login Data|Cookies|Local State|wallet|passwd|clipboard|paste\(|ImageGrab"
    r"|screenshot|FunctionType|\[::-1\]|Thread\(|atexit|chmod|cmdclass|setup\(|Startup|autostart|CurrentVersion"
    r"|LaunchAgents|systemd|bashrc|zshrc|\.profile|cron|lambda\s+\w+\s*:|chr\(|\bwget\b|curl|powershell|dns"
    r"|aiohttp|urllib3|pycurl|telnetlib|clone_from|webhook|Image\.open|stegano|xmrig|stratum|\.connect(?:_ex)?\("
    r"|\.send(?:all|to|mail|_message)?\(|\.recv\(|\.post\(|get_(?:frozen_)?credentials|google\.auth|get_access_token|get_token\("
)


def _hot_lines(text: str) -> list[int]:
    """Line numbers with a HOT_RE match; after a hit the rest of its line is skipped, so a
    megabyte of base64 on one line costs one match, not thousands."""
    out: list[int] = []
    pos, line, last = 0, 1, 0
    search = HOT_RE.search
    while True:
        m = search(text, pos)
        if m is None:
            return out
        line += text.count("\n", last, m.start())
        out.append(line)
        nl = text.find("\n", m.end())
        if nl < 0:
            return out
        line += text.count("\n", m.start(), nl + 1)
        pos = last = nl + 1

_SINK_ALIASES = EXEC_CALLS | SPAWN_CALLS | NET_CALLS
_LITERAL_WORTH = re.compile(r"b64decode|b85decode|b32decode|decompress|marshal|fromhex|unhexlify|codecs\.|__import__"
                            r"|subprocess|os\.system|popen|socket|urlopen|urllib|requests|http\.client")
# Cloud SDK calls that hand out the user's own credentials (the keys, not a client built on them).
_CLOUD_SECRET_CALLS = ("Session.get_credentials", ".get_frozen_credentials", "google.auth.default",
                       "Credentials.get_access_token", "DefaultAzureCredential.get_token")
# Data read from a connected socket is data from the network, as much as an HTTP body is.
_RECEIVE_CALLS = frozenset({"socket.socket.recv", "socket.socket.recvfrom", "socket.socket.recv_into",
                            "socket.create_connection.recv", "socket.socket.makefile"})
IP_SERVICE = re.compile(r"(?i)ipify|ifconfig\.(?:me|co)|icanhazip|ipinfo\.io|checkip|ip-api|myip|ipecho|ident\.me"
                        r"|ipapi\.|ipwho\.is|ipgeolocation|geoiplookup|ip2location|wtfismyip|ipwhois")
_IP_SERVICE = IP_SERVICE


def _imported(how: str, mod: str) -> str:
    """What ``x = __import__("a.b")`` binds: the top package ``a`` (``import_module`` gives ``a.b``)."""
    return mod.split(".", 1)[0] if how.endswith("__import__") else mod


# What pip (through setuptools' build backend or the legacy path) asks setup.py to do.
PIP_SETUP_COMMANDS = frozenset({"install", "develop", "egg_info", "dist_info", "bdist_wheel", "sdist", "build",
                                "build_py", "build_ext", "build_clib", "build_scripts", "install_lib",
                                "install_scripts", "install_headers", "install_data", "install_egg_info",
                                "bdist_egg", "editable_wheel", "clean", "--version", "--name"})


def argv_aliases(tree: ast.Module) -> frozenset[str]:
    """Module-level names given ``sys.argv[...]`` (``command = sys.argv[-1]``)."""
    return frozenset(t.id for st in tree.body if isinstance(st, ast.Assign) and _argv_item(st.value)
                     for t in st.targets if isinstance(t, ast.Name))


def _argv_item(node: ast.expr) -> bool:
    """``sys.argv[...]`` or ``sys.argv``."""
    if isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Attribute) and node.attr == "argv" and isinstance(node.value, ast.Name) \
        and node.value.id == "sys"


def _is_manual_argv_test(test: ast.expr, aliases: frozenset[str]) -> bool:
    """``sys.argv[-1] == "publish"``, ``"release" in sys.argv``: a branch taken only for words
    that pip never passes to setup.py."""
    if not isinstance(test, ast.Compare) or len(test.comparators) != 1:
        return False
    left, right = test.left, test.comparators[0]
    words: list[object] = []
    def argv(node: ast.expr) -> bool:
        return _argv_item(node) or (isinstance(node, ast.Name) and node.id in aliases)

    if isinstance(test.ops[0], ast.Eq) and argv(left) and isinstance(right, ast.Constant):
        words = [right.value]
    elif isinstance(test.ops[0], ast.Eq | ast.In) and argv(right) and isinstance(left, ast.Constant):
        words = [left.value]
    elif isinstance(test.ops[0], ast.In) and argv(left) and isinstance(right, ast.Tuple | ast.List | ast.Set):
        words = [e.value for e in right.elts if isinstance(e, ast.Constant)]
        if len(words) != len(right.elts):
            return False
    return bool(words) and all(isinstance(w, str) and w not in PIP_SETUP_COMMANDS and w not in INSTALL_COMMANDS
                               for w in words)


def _is_main_test(test: ast.expr) -> bool:
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_is_main_test(v) for v in test.values)
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def _target_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Attribute):
        key = _attr_key(target)
        if key:
            yield key
    elif isinstance(target, ast.Tuple | ast.List):
        for e in target.elts:
            yield from _target_names(e)
    elif isinstance(target, ast.Subscript | ast.Starred):
        yield from _target_names(target.value)


def _attr_key(node: ast.Attribute) -> str | None:
    if isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def _walk_no_defs(node: ast.AST) -> Iterator[ast.AST]:
    stack = [node]
    while stack:
        cur = stack.pop()
        yield cur
        for child in ast.iter_child_nodes(cur):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                stack.append(child)


def _strings_in(node: ast.Call) -> Iterator[str]:
    for arg in [*node.args, *(k.value for k in node.keywords)]:
        for sub in ast.walk(arg):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value:
                yield sub.value


def command_text(fact: CallFact) -> str:
    """The command line a spawn call runs, as far as constants tell: list items joined by spaces.
    A variable given a value in the same scope stands for that value."""
    if not fact.node.args:
        return " ".join(fact.strings)
    arg = fact.arg0 if fact.arg0 is not None else fact.node.args[0]
    if isinstance(arg, ast.List | ast.Tuple):
        parts = []
        for e in arg.elts:
            if isinstance(e, ast.Constant) and isinstance(e.value, str):
                parts.append(e.value)
            elif isinstance(e, ast.Attribute) and e.attr == "executable":
                parts.append("python")
            elif isinstance(e, ast.Call) and _is_path_join(e):
                parts.append("/".join(a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else "{}"
                                      for a in e.args))
            else:
                parts.append("{}")
        return " ".join(parts)
    if isinstance(arg, ast.Call) and _is_path_join(arg):
        return "/".join(a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else "{}"
                        for a in arg.args)
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in arg.values)  # type: ignore[misc]
    return " ".join(fact.strings)


def _is_path_join(node: ast.Call) -> bool:
    f = node.func
    return isinstance(f, ast.Attribute) and f.attr == "join" and isinstance(f.value, ast.Attribute) and \
        f.value.attr == "path"


def parse(data: bytes, path: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(data, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


__all__ = ["CTX_RANK", "IP_SERVICE", "CallFact", "ExecFact", "Layer", "ModuleFacts", "Scope", "command_text", "parse"]
