"""Static evaluation of obfuscated literals: decode payloads without running anything.

Malware hides its code in literals run through decoders (base64, hex, zlib, lzma, bz2,
rot13, ``chr()`` joins, reversed or sliced strings, byte XOR, small lambdas) before it
reaches ``exec``. :class:`Evaluator` folds such expressions over *constants only*: it
implements each decoder itself or calls the standard library's pure decoding functions
with output limits, never ``exec``, ``eval``, ``marshal.loads`` or ``pickle``. Every step
it applies is recorded, so a finding can say which layer it came from
("decoded layer 2: base64 → zlib").

Everything is bounded: the number of nodes visited, comprehension lengths, output sizes
and the number of nested layers.
"""

from __future__ import annotations

import ast
import base64
import binascii
import bz2
import codecs
import lzma
import re
import warnings
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_OUTPUT = 2 << 20  # bytes of any decoded value
MAX_NODES = 50_000  # expression nodes folded per top-level evaluation
MAX_ITEMS = 200_000  # elements produced by one comprehension
MAX_LAYERS = 5  # nested decode-and-scan layers
MAX_BLOCK_NODES = 400_000  # expression nodes folded while running one block of statements (loop decoders)
MAX_LOOP = 100_000  # iterations of one loop run statically

_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    binascii.Error,
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    ValueError,
    TypeError,
    UnicodeError,
    OverflowError,
    MemoryError,
    RecursionError,
    IndexError,
    KeyError,
    AttributeError,
    ZeroDivisionError,
    LookupError,
)


class _Unknown(Exception):
    """The expression depends on something that is not a constant."""


@dataclass(frozen=True, slots=True)
class Marshalled:
    """A marshalled code object: never loaded, only its printable strings are kept as evidence."""

    data: bytes

    def strings(self) -> list[str]:
        return [m.decode("latin-1") for m in re.findall(rb"[\x20-\x7e]{6,}", self.data[:MAX_OUTPUT])]


def _limit(value: Any) -> Any:
    if isinstance(value, str | bytes | bytearray | list | tuple) and len(value) > MAX_OUTPUT:
        raise _Unknown("too large")
    return value


def _inflate(data: bytes, wbits: int = zlib.MAX_WBITS) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(data, MAX_OUTPUT)
    if d.unconsumed_tail:
        raise _Unknown("too large")
    return out


def _bounded(d: lzma.LZMADecompressor | bz2.BZ2Decompressor, data: bytes) -> bytes:
    out = d.decompress(data, MAX_OUTPUT)
    if not d.eof and d.needs_input is False:
        raise _Unknown("too large")
    return out


def _unlzma(data: bytes) -> bytes:
    return _bounded(lzma.LZMADecompressor(), data)


def _unbz2(data: bytes) -> bytes:
    return _bounded(bz2.BZ2Decompressor(), data)


def _as_bytes(v: Any) -> bytes:
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    if isinstance(v, str):
        try:
            return v.encode("latin-1")
        except UnicodeEncodeError:
            return v.encode("utf-8")
    raise _Unknown("not bytes")


def _b64(v: Any, altchars: Any = None) -> bytes:
    data = _as_bytes(v)
    data = re.sub(rb"\s+", b"", data)
    data += b"=" * (-len(data) % 4)
    return base64.b64decode(data, altchars=_as_bytes(altchars) if altchars is not None else None)


def _codecs_decode(v: Any, enc: Any = "utf-8", *_: Any) -> Any:
    name = str(enc).lower().replace("-", "_")
    if name in ("rot13", "rot_13"):
        return codecs.decode(str(v), "rot13")
    if name in ("hex", "hex_codec"):
        return binascii.unhexlify(_as_bytes(v))
    if name in ("base64", "base64_codec", "base_64"):
        return _b64(v)
    if name in ("zlib", "zlib_codec", "zip"):
        return _inflate(_as_bytes(v))
    if name in ("bz2", "bz2_codec"):
        return _unbz2(_as_bytes(v))
    if isinstance(v, bytes | bytearray):
        return bytes(v).decode(name)
    raise _Unknown("codecs")


# Decoders by the dotted name a call resolves to: (label for the layer chain, implementation).
DECODERS: dict[str, tuple[str, Callable[..., Any]]] = {
    "base64.b64decode": ("base64", _b64),
    "base64.standard_b64decode": ("base64", _b64),
    "base64.urlsafe_b64decode": ("base64", lambda v: _b64(v, b"-_")),
    "base64.decodebytes": ("base64", _b64),
    "base64.decodestring": ("base64", _b64),
    "binascii.a2b_base64": ("base64", _b64),
    "base64.b32decode": ("base32", lambda v, *a: base64.b32decode(_as_bytes(v))),
    "base64.b16decode": ("hex", lambda v, *a: base64.b16decode(_as_bytes(v), casefold=True)),
    "base64.b85decode": ("base85", lambda v: base64.b85decode(_as_bytes(v))),
    "base64.a85decode": ("ascii85", lambda v, *a: base64.a85decode(_as_bytes(v))),
    "binascii.unhexlify": ("hex", lambda v: binascii.unhexlify(_as_bytes(v))),
    "binascii.a2b_hex": ("hex", lambda v: binascii.unhexlify(_as_bytes(v))),
    "bytes.fromhex": ("hex", lambda v: bytes.fromhex(str(v))),
    "bytearray.fromhex": ("hex", lambda v: bytes.fromhex(str(v))),
    "zlib.decompress": ("zlib", lambda v, w=zlib.MAX_WBITS, *a: _inflate(_as_bytes(v), int(w))),
    "gzip.decompress": ("gzip", lambda v: _inflate(_as_bytes(v), 47)),
    "lzma.decompress": ("lzma", lambda v, *a: _unlzma(_as_bytes(v))),
    "bz2.decompress": ("bz2", lambda v: _unbz2(_as_bytes(v))),
    "codecs.decode": ("codecs", _codecs_decode),
    "marshal.loads": ("marshal", lambda v: Marshalled(_as_bytes(v))),
}

_BUILTIN_FUNCS: dict[str, Callable[..., Any]] = {
    "chr": chr,
    "ord": ord,
    "str": lambda v="", *a: (bytes(v).decode(str(a[0])) if a and isinstance(v, bytes | bytearray) else str(v)),
    "bytes": lambda v=b"", *a: (
        v.encode(str(a[0])) if isinstance(v, str) and a else bytes(v) if not isinstance(v, str) else b""
    ),
    "bytearray": lambda v=b"", *a: (v.encode(str(a[0])) if isinstance(v, str) and a else bytearray(v)),
    "int": lambda v, *a: int(v, *a),
    "len": len,
    "list": list,
    "tuple": tuple,
    "reversed": lambda v: list(reversed(v)),
    "range": lambda *a: list(range(*a)) if len(range(*a)) <= MAX_ITEMS else (_ for _ in ()).throw(_Unknown("range")),
    "abs": abs,
}

_STR_METHODS = frozenset(
    {"join", "replace", "decode", "encode", "strip", "lstrip", "rstrip", "lower", "upper", "split", "swapcase",
     "translate", "format", "zfill", "center", "ljust", "rjust"}
)


class Evaluator:
    """Folds constant expressions of one module. ``consts`` maps module-level names that are
    assigned exactly once to their value expression; ``resolve`` turns a call target into its
    dotted name (through the module's imports)."""

    def __init__(self, consts: Mapping[str, ast.expr], resolve: Callable[[ast.expr], str | None],
                 funcs: Mapping[str, ast.FunctionDef] | None = None) -> None:
        self.consts = consts
        self.resolve = resolve
        self.funcs: Mapping[str, ast.FunctionDef] = funcs or {}
        self.steps: list[str] = []
        self._budget = MAX_NODES
        self._active: set[str] = set()

    def evaluate(self, node: ast.expr, env: Mapping[str, Any] | None = None) -> tuple[Any, list[str]] | None:
        """The value of ``node`` and the decoders applied, or None when it is not constant.
        ``env`` holds values of local names already folded (see :meth:`run_until`)."""
        self.steps = []
        self._budget = MAX_NODES
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = self._eval(node, dict(env or {}))
        except _Unknown:
            return None
        except _DECODE_ERRORS:
            return None
        return value, list(self.steps)

    def run_until(self, body: list[ast.stmt], line: int) -> tuple[dict[str, Any], list[str]]:
        """Run the statements of ``body`` that come before ``line`` (descending into the compound
        statement that holds it) over constants only, and return the local names whose values
        could be folded, with the decoders applied on the way.

        This folds the decoding loops malware writes instead of a decoder call::

            out = ""
            for i in range(len(data)):
                out += chr(ord(data[i]) ^ ord(key[i % len(key)]))
            exec(out)

        Only assignments, augmented assignments, ``for`` loops over folded iterables and
        ``list.append`` are run; any other statement makes the names it assigns unknown.
        Bounded by :data:`MAX_BLOCK_NODES` and :data:`MAX_LOOP`.
        """
        self.steps = []
        self._budget = MAX_BLOCK_NODES
        env: dict[str, Any] = {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._run_prefix(body, line, env)
        except _Unknown:
            pass
        except _DECODE_ERRORS:
            pass
        return env, list(self.steps)

    def _run_prefix(self, body: list[ast.stmt], line: int, env: dict[str, Any]) -> None:
        for stmt in body:
            end = stmt.end_lineno or stmt.lineno
            if stmt.lineno <= line <= end:
                for inner in _inner_bodies(stmt):
                    if inner and inner[0].lineno <= line <= (inner[-1].end_lineno or inner[-1].lineno):
                        self._run_prefix(inner, line, env)
                return
            if stmt.lineno > line:
                return
            self._exec_stmt(stmt, env)

    def _exec_stmt(self, stmt: ast.stmt, env: dict[str, Any]) -> None:
        try:
            self._exec_one(stmt, env)
        except _Unknown as e:
            if str(e) == "budget":
                raise
            for name in _assigned(stmt):
                env.pop(name, None)
        except _DECODE_ERRORS:
            for name in _assigned(stmt):
                env.pop(name, None)

    def _exec_one(self, stmt: ast.stmt, env: dict[str, Any]) -> None:
        if isinstance(stmt, ast.Assign):
            value = self._eval(stmt.value, env)
            for t in stmt.targets:
                self._bind(t, value, env)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self._bind(stmt.target, self._eval(stmt.value, env), env)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            if stmt.target.id not in env:
                raise _Unknown(stmt.target.id)
            node = ast.BinOp(left=ast.Name(id=stmt.target.id, ctx=ast.Load()), op=stmt.op, right=stmt.value)
            env[stmt.target.id] = self._binop(node, env)
        elif isinstance(stmt, ast.For) and not stmt.orelse:
            items = self._eval(stmt.iter, env)
            if not isinstance(items, list | tuple | str | bytes | bytearray) or len(items) > MAX_LOOP:
                raise _Unknown("loop")
            if any(isinstance(n, ast.Break | ast.Continue | ast.Return) for n in ast.walk(stmt)):
                raise _Unknown("loop control")
            if "loop" not in self.steps:
                self.steps.append("loop")
            for item in items:
                self._bind(stmt.target, item, env)
                for sub in stmt.body:
                    self._exec_stmt(sub, env)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr in ("append", "extend") and len(call.args) == 1 and \
                    isinstance(func.value, ast.Name) and isinstance(env.get(func.value.id), list):
                target = env[func.value.id]
                value = self._eval(call.args[0], env)
                if func.attr == "append":
                    target.append(value)
                else:
                    target.extend(value)
                _limit(target)
        elif isinstance(stmt, ast.Pass | ast.Import | ast.ImportFrom):
            return
        else:
            raise _Unknown(type(stmt).__name__)

    def _eval(self, node: ast.expr, env: dict[str, Any]) -> Any:
        self._budget -= 1
        if self._budget < 0:
            raise _Unknown("budget")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str | bytes | int | float | bool) or node.value is None:
                return node.value
            raise _Unknown("constant")
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            if node.id in self.consts and node.id not in self._active:
                self._active.add(node.id)
                try:
                    return self._eval(self.consts[node.id], {})
                finally:
                    self._active.discard(node.id)
            raise _Unknown(node.id)
        if isinstance(node, ast.JoinedStr):
            parts: list[str] = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(str(v.value))
                elif isinstance(v, ast.FormattedValue):
                    parts.append(str(self._eval(v.value, env)))
            return _limit("".join(parts))
        if isinstance(node, ast.List | ast.Tuple):
            return [self._eval(e, env) for e in node.elts]
        if isinstance(node, ast.BinOp):
            return self._binop(node, env)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self._eval(node.operand, env)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, env)
        if isinstance(node, ast.ListComp | ast.GeneratorExp):
            return self._comprehension(node, env)
        if isinstance(node, ast.Call):
            return self._call(node, env)
        raise _Unknown(type(node).__name__)

    def _binop(self, node: ast.BinOp, env: dict[str, Any]) -> Any:
        left = self._eval(node.left, env)
        right = self._eval(node.right, env)
        op = node.op
        if isinstance(op, ast.Add):
            if isinstance(left, list) and isinstance(right, list):
                return _limit(left + right)
            if isinstance(left, str) and isinstance(right, str):
                return _limit(left + right)
            if isinstance(left, bytes | bytearray) and isinstance(right, bytes | bytearray):
                return _limit(bytes(left) + bytes(right))
            if isinstance(left, int) and isinstance(right, int):
                return left + right
            raise _Unknown("add")
        if isinstance(op, ast.Mult) and isinstance(right, int) and right < 10_000:
            return _limit(left * right)
        if isinstance(left, int) and isinstance(right, int):
            if isinstance(op, ast.BitXor):
                if "xor" not in self.steps:
                    self.steps.append("xor")
                return left ^ right
            if isinstance(op, ast.Sub):
                return left - right
            if isinstance(op, ast.Mod) and right:
                return left % right
            if isinstance(op, ast.FloorDiv) and right:
                return left // right
            if isinstance(op, ast.Mult):
                return left * right
            if isinstance(op, ast.BitAnd):
                return left & right
        raise _Unknown("binop")

    def _subscript(self, node: ast.Subscript, env: dict[str, Any]) -> Any:
        value = self._eval(node.value, env)
        if isinstance(node.slice, ast.Slice):
            lo = self._eval(node.slice.lower, env) if node.slice.lower else None
            hi = self._eval(node.slice.upper, env) if node.slice.upper else None
            step = self._eval(node.slice.step, env) if node.slice.step else None
            if step is not None and step < 0:
                self.steps.append("reversed")
            elif lo or hi or step:
                self.steps.append("sliced")
            return value[lo:hi:step]
        return value[self._eval(node.slice, env)]

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp, env: dict[str, Any]) -> list[Any]:
        if len(node.generators) != 1:
            raise _Unknown("nested comprehension")
        gen = node.generators[0]
        items = self._eval(gen.iter, env)
        if not isinstance(items, list | tuple | str | bytes | bytearray) or len(items) > MAX_ITEMS:
            raise _Unknown("iterable")
        out: list[Any] = []
        for item in items:
            local = dict(env)
            self._bind(gen.target, item, local)
            if all(self._eval(cond, local) for cond in gen.ifs):
                out.append(self._eval(node.elt, local))
        return out

    def _bind(self, target: ast.expr, value: Any, env: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, ast.Tuple) and isinstance(value, list | tuple) and len(value) == len(target.elts):
            for t, v in zip(target.elts, value, strict=True):
                self._bind(t, v, env)
        else:
            raise _Unknown("target")

    def _call(self, node: ast.Call, env: dict[str, Any]) -> Any:
        func = node.func
        # Method calls on constant strings and bytes: "".join(...), b"...".decode(), s.replace(...)
        if isinstance(func, ast.Attribute) and func.attr in _STR_METHODS:
            is_local = isinstance(func.value, ast.Name) and func.value.id in env
            name = self.resolve(func) if isinstance(func.value, ast.Name | ast.Attribute) and not is_local else None
            if name is None or name.split(".", 1)[0] not in DECODER_MODULES:
                obj = self._eval(func.value, env)
                if not isinstance(obj, str | bytes | bytearray):
                    raise _Unknown("method")
                if func.attr == "translate":
                    raise _Unknown("translate")
                if func.attr == "join":
                    if len(node.args) != 1:
                        raise _Unknown("join")
                    items = self._eval(node.args[0], env)
                    if isinstance(items, str):
                        items = list(items)
                    if not isinstance(items, list | tuple):
                        raise _Unknown("join")
                    if len(items) > 4:
                        self.steps.append("join")
                    return _limit(obj.join(items))
                args = [self._eval(a, env) for a in node.args]
                return _limit(getattr(obj, func.attr)(*args))
        name = self.resolve(func)
        if name is None and isinstance(func, ast.Name):
            name = func.id
        if name is None:
            raise _Unknown("call")
        if name in DECODERS:
            label, impl = DECODERS[name]
            args = [self._eval(a, env) for a in node.args]
            kwargs = {k.arg: self._eval(k.value, env) for k in node.keywords if k.arg}
            if label == "codecs":
                enc = str(args[1] if len(args) > 1 else kwargs.get("encoding", "utf-8")).lower()
                label = {"rot13": "rot13", "rot_13": "rot13"}.get(enc, enc.replace("_codec", ""))
                if label in ("utf-8", "utf8", "latin-1", "ascii"):
                    label = ""
            result = impl(*args)
            if label:
                self.steps.append(label)
            return _limit(result)
        if name in ("chr", "ord", "str", "bytes", "bytearray", "int", "len", "list", "tuple", "reversed", "range",
                    "abs"):
            args = [self._eval(a, env) for a in node.args]
            if name in ("bytes", "bytearray") and args and isinstance(args[0], list) and len(args[0]) > 8:
                self.steps.append("bytes")
            if name == "reversed":
                self.steps.append("reversed")
            return _limit(_BUILTIN_FUNCS[name](*args))
        if name in ("eval", "builtins.eval") and len(node.args) == 1 and not node.keywords:
            # eval('\x6d\x61\x67\x69\x63') + eval('codecs.decode(love, joy)'): an expression kept
            # in a string is parsed and folded like any other expression, never evaluated
            source = self._eval(node.args[0], env)
            if not isinstance(source, str) or len(source) > 4096:
                raise _Unknown("eval")
            try:
                expr = ast.parse(source.strip(), mode="eval").body
            except (SyntaxError, ValueError) as e:
                raise _Unknown("eval") from e
            return self._eval(expr, env)
        if name in ("zip", "map") and len(node.args) >= 2 and not node.keywords:
            return self._zip_map(name, node, env)
        # A call of a small module-level helper: def decode(s): return base64.b64decode(s).decode()
        if isinstance(func, ast.Name) and func.id in self.funcs and f"def {func.id}" not in self._active:
            return self._inline(self.funcs[func.id], node, env)
        # A call of a module-level lambda: _ = lambda s: zlib.decompress(s[::-1])
        if isinstance(func, ast.Name) and func.id in self.consts and isinstance(self.consts[func.id], ast.Lambda):
            lam = self.consts[func.id]
            assert isinstance(lam, ast.Lambda)
            params = [a.arg for a in lam.args.args]
            if len(params) != len(node.args):
                raise _Unknown("lambda arity")
            local = dict(env)
            for p, a in zip(params, node.args, strict=True):
                local[p] = self._eval(a, env)
            return self._eval(lam.body, local)
        if isinstance(func, ast.Lambda):
            params = [a.arg for a in func.args.args]
            if len(params) != len(node.args):
                raise _Unknown("lambda arity")
            local = dict(env)
            for p, a in zip(params, node.args, strict=True):
                local[p] = self._eval(a, env)
            return self._eval(func.body, local)
        raise _Unknown(name)


    def _zip_map(self, name: str, node: ast.Call, env: dict[str, Any]) -> list[Any]:
        if name == "zip":
            seqs = [self._eval(a, env) for a in node.args]
            if not all(isinstance(x, list | tuple | str | bytes | bytearray) for x in seqs):
                raise _Unknown("zip")
            pairs: list[Any] = [list(t) for t in zip(*seqs, strict=False)]
            return pairs if len(pairs) <= MAX_ITEMS else []
        fn = node.args[0]
        items = self._eval(node.args[1], env)
        if len(node.args) != 2 or not isinstance(items, list | tuple | str | bytes | bytearray) or \
                len(items) > MAX_ITEMS:
            raise _Unknown("map")
        out: list[Any] = []
        for item in items:
            call = ast.Call(func=fn, args=[ast.Constant(value=0)], keywords=[])
            out.append(self._call_value(call, item, env))
        return out

    def _call_value(self, call: ast.Call, value: Any, env: dict[str, Any]) -> Any:
        """``call`` applied to an already folded ``value`` (for ``map``)."""
        local = dict(env)
        local["\0arg"] = value
        call.args = [ast.Name(id="\0arg", ctx=ast.Load())]
        return self._call(call, local)

    def _inline(self, fn: ast.FunctionDef, node: ast.Call, env: dict[str, Any]) -> Any:
        """A helper made of assignments and one final ``return``, run over folded arguments."""
        params = [a.arg for a in fn.args.args]
        if node.keywords or len(node.args) > len(params) or fn.args.vararg or fn.args.kwarg or len(fn.body) > 20:
            raise _Unknown("helper")
        local: dict[str, Any] = {}
        defaults = fn.args.defaults
        for i, p in enumerate(params):
            if i < len(node.args):
                local[p] = self._eval(node.args[i], env)
            else:
                d = i - (len(params) - len(defaults))
                if d < 0:
                    raise _Unknown("helper arity")
                local[p] = self._eval(defaults[d], {})
        key = f"def {fn.name}"
        self._active.add(key)
        try:
            for stmt in fn.body:
                if isinstance(stmt, ast.Return):
                    if stmt.value is None:
                        raise _Unknown("return")
                    return self._eval(stmt.value, local)
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    continue  # docstring
                self._exec_one(stmt, local)
        finally:
            self._active.discard(key)
        raise _Unknown("no return")


def _inner_bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists nested directly in a compound statement."""
    out: list[list[ast.stmt]] = []
    for attr in ("body", "orelse", "finalbody"):
        got = getattr(stmt, attr, None)
        if isinstance(got, list) and got and isinstance(got[0], ast.stmt):
            out.append(got)
    for h in getattr(stmt, "handlers", None) or []:
        out.append(h.body)
    return out


def _assigned(stmt: ast.stmt) -> list[str]:
    return [n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def module_functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """Top-level functions of a module by name (defined once), for :class:`Evaluator` to inline."""
    seen: dict[str, int] = {}
    out: dict[str, ast.FunctionDef] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            seen[stmt.name] = seen.get(stmt.name, 0) + 1
            out[stmt.name] = stmt
    return {k: v for k, v in out.items() if seen[k] == 1}


DECODER_MODULES = frozenset({"base64", "binascii", "zlib", "gzip", "lzma", "bz2", "codecs", "marshal"})

_B64_RE = re.compile(r"^[A-Za-z0-9+/=\s_-]{80,}$")
_HEX_RE = re.compile(r"^(?:[0-9a-fA-F]{2}){40,}$")


def as_text(value: Any) -> str | None:
    """Decoded data as source text when it plausibly is text."""
    if isinstance(value, list) and value and all(isinstance(x, str) for x in value):
        value = "".join(value)
    if isinstance(value, list) and value and all(isinstance(x, int) and 0 <= x < 256 for x in value):
        value = bytes(value)
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                return raw.decode("utf-16")
            except UnicodeDecodeError:
                return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        return value
    return None


def looks_like_python(text: str) -> bool:
    """Source text that parses and does something (imports or calls), not prose or data."""
    if len(text) < 8 or len(text) > MAX_OUTPUT:
        return False
    if not any(tok in text for tok in ("import", "(", "exec", "eval")):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(n, ast.Import | ast.ImportFrom | ast.Call) for n in ast.walk(tree))


def decode_literal(text: str) -> tuple[str, list[str]] | None:
    """A long base64 or hex literal that decodes (through compression too, bounded) to Python
    source: the source and the steps. Used for payloads stored in a variable and run later."""
    s = text.strip()
    steps: list[str] = []
    data: bytes | None = None
    try:
        if _HEX_RE.match(s):
            data = bytes.fromhex(s)
            steps.append("hex")
        elif _B64_RE.match(s) and len(s) % 4 in (0, 2, 3):
            data = _b64(s, b"-_" if ("-" in s or "_" in s) else None)
            steps.append("base64")
    except _DECODE_ERRORS:
        return None
    if data is None:
        return None
    for _ in range(MAX_LAYERS):
        try:
            if data[:2] in (b"x\x9c", b"x\xda", b"x\x01", b"x^"):
                data = _inflate(data)
                steps.append("zlib")
                continue
            if data[:2] == b"\x1f\x8b":
                data = _inflate(data, 47)
                steps.append("gzip")
                continue
            if data[:6] == b"\xfd7zXZ\x00":
                data = _unlzma(data)
                steps.append("lzma")
                continue
            if data[:3] == b"BZh":
                data = _unbz2(data)
                steps.append("bz2")
                continue
        except _Unknown:
            return None
        except _DECODE_ERRORS:
            return None
        break
    decoded = as_text(data)
    if decoded is None:
        return None
    if looks_like_python(decoded):
        return decoded, steps
    # One more textual layer (base64 inside base64).
    if len(steps) < MAX_LAYERS and _B64_RE.match(decoded.strip()):
        inner = decode_literal(decoded)
        if inner is not None:
            return inner[0], steps + inner[1]
    return None


def powershell_encoded(command: str) -> str | None:
    """The script of ``powershell -EncodedCommand <base64 UTF-16LE>``, decoded."""
    m = re.search(r"-e(?:nc(?:odedcommand)?|c)?\s+([A-Za-z0-9+/=]{16,})", command, re.IGNORECASE)
    if not m:
        return None
    try:
        return base64.b64decode(m.group(1) + "=" * (-len(m.group(1)) % 4)).decode("utf-16-le")
    except _DECODE_ERRORS:
        return None


__all__ = ["DECODERS", "MAX_LAYERS", "Evaluator", "Marshalled", "as_text", "decode_literal", "looks_like_python",
           "module_functions", "powershell_encoded"]
