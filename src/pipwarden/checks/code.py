"""Code checks (PW1xx), first slice: what malware does at install time and on import.

Each check looks at one member (``setup.py``, a module, a ``.pth`` file). A cheap byte
prefilter runs before any AST is built: most files of most packages never get parsed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from pipwarden.checks.base import MemberCheck, MemberContext, register
from pipwarden.models import Finding, Severity

SPAWN_CALLS = frozenset(
    {
        "os.system", "os.popen", "os.execv", "os.execve", "os.execl", "os.execlp", "os.execvp", "os.execle",
        "os.spawnl", "os.spawnv", "os.spawnlp", "os.spawnvp", "os.posix_spawn", "os.posix_spawnp",
        "os.startfile", "subprocess.Popen", "subprocess.run", "subprocess.call", "subprocess.check_call",
        "subprocess.check_output", "subprocess.getoutput", "subprocess.getstatusoutput", "pty.spawn",
        "commands.getoutput",
    }
)
NETWORK_CALLS = frozenset(
    {
        "urllib.request.urlopen", "urllib.request.urlretrieve", "urllib.urlopen", "urllib.urlretrieve",
        "urllib2.urlopen", "requests.get", "requests.post", "requests.put", "requests.request",
        "requests.Session", "httpx.get", "httpx.post", "httpx.Client", "http.client.HTTPConnection",
        "http.client.HTTPSConnection", "socket.socket", "socket.create_connection", "urllib3.PoolManager",
        "smtplib.SMTP", "ftplib.FTP", "aiohttp.ClientSession",
    }
)
DECODE_CALLS = frozenset(
    {
        "base64.b64decode", "base64.b32decode", "base64.b16decode", "base64.b85decode", "base64.a85decode",
        "base64.urlsafe_b64decode", "base64.decodebytes", "base64.decodestring", "zlib.decompress",
        "lzma.decompress", "bz2.decompress", "gzip.decompress", "marshal.loads", "bytes.fromhex",
        "codecs.decode", "binascii.unhexlify", "binascii.a2b_base64", "binascii.a2b_hex", "pickle.loads",
    }
)
EXEC_CALLS = frozenset({"exec", "eval", "compile", "builtins.exec", "builtins.eval", "types.FunctionType"})
INSTALL_COMMANDS = frozenset(
    {"install", "develop", "egg_info", "build_py", "build_ext", "build", "sdist", "bdist_wheel", "bdist_egg",
     "install_lib", "install_scripts", "easy_install"}
)


def import_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted origin, from every import in the module (``from os import system as s``)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[(a.asname or a.name).split(".")[0] if not a.asname else a.asname] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The dotted name a call target resolves to through imports: ``sp.Popen`` -> ``subprocess.Popen``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(aliases.get(node.id, node.id))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
        if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            parts.append(node.args[0].value)
        else:
            return None
    else:
        return None
    return ".".join(reversed(parts))


def _install_time_nodes(tree: ast.Module) -> Iterator[tuple[ast.AST, str]]:
    """Nodes that run when setup.py runs: module level (outside defs) and overridden setup commands."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.ClassDef):
            bases = {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases}
            if bases & INSTALL_COMMANDS or any(str(b).endswith(("install", "develop", "egg_info")) for b in bases):
                yield node, f"setup command class {node.name}"
            continue
        yield node, "module level"


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            yield sub


class _SetupCallCheck(MemberCheck):
    roles = frozenset({"setup"})
    targets: frozenset[str] = frozenset()
    prefilter: tuple[bytes, ...] = ()
    what = ""

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        if not any(p in ctx.data for p in self.prefilter):
            return
        tree = ctx.tree
        if tree is None:
            return
        aliases = import_aliases(tree)
        for node, where in _install_time_nodes(tree):
            for call in _calls(node):
                name = dotted(call.func, aliases)
                if name in self.targets:
                    yield self.finding(
                        f"setup.py {self.what} at install time ({where}): {name}()",
                        file=ctx.path,
                        line=call.lineno,
                        evidence=ctx.line_text(call.lineno),
                    )


@register
class SetupSpawnsProcess(_SetupCallCheck):
    """``setup.py`` starts a process when it runs (module level or an overridden install command).

    ``pip install`` of an sdist runs setup.py, so a process started there runs with the
    installing user's rights before anything was vetted. Malware uses it to run a
    downloaded payload or a shell command; legitimate builds rarely need it outside
    build_ext.
    """

    id = "PW101"
    severity = Severity.HIGH
    title = "setup.py spawns a process at install time"
    targets = SPAWN_CALLS
    prefilter = (b"system", b"popen", b"Popen", b"subprocess", b"exec", b"spawn", b"startfile", b"getoutput")
    what = "starts a process"


@register
class SetupNetworkAccess(_SetupCallCheck):
    """``setup.py`` opens a network connection when it runs.

    Installing a package should not talk to the network from its build script: this is
    how install-time malware downloads a second stage or sends out what it collected.
    """

    id = "PW102"
    severity = Severity.HIGH
    title = "setup.py accesses the network at install time"
    targets = NETWORK_CALLS
    prefilter = (b"urllib", b"requests", b"socket", b"http", b"urlopen", b"smtplib", b"ftplib", b"aiohttp")
    what = "accesses the network"


@register
class ExecDecoded(MemberCheck):
    """Code is executed from data decoded at run time: ``exec(base64.b64decode(...))``,
    ``eval(zlib.decompress(...))``, ``exec(marshal.loads(...))``, ``bytes.fromhex``.

    Hiding code in an encoded blob serves only to keep it from being read. Legitimate
    packages have no need to ``exec`` decoded data.
    """

    id = "PW103"
    severity = Severity.CRITICAL
    title = "executes decoded data"
    roles = frozenset({"setup", "module"})
    _prefilter = (b"exec", b"eval", b"compile", b"FunctionType")

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        if not any(p in ctx.data for p in self._prefilter):
            return
        tree = ctx.tree
        if tree is None:
            return
        aliases = import_aliases(tree)
        for call in _calls(tree):
            name = dotted(call.func, aliases)
            if name not in EXEC_CALLS or not call.args:
                continue
            for inner in _calls(call.args[0]):
                decoder = dotted(inner.func, aliases)
                if decoder in DECODE_CALLS:
                    yield self.finding(
                        f"{name}() of data decoded with {decoder}()",
                        file=ctx.path,
                        line=call.lineno,
                        evidence=ctx.line_text(call.lineno),
                    )
                    break


_PTH_DANGER = (b"exec", b"eval", b"base64", b"subprocess", b"os.system", b"socket", b"urllib", b"requests",
               b"compile", b"marshal", b"zlib", b"__import__", b"popen")


@register
class PthExecutes(MemberCheck):
    """A ``.pth`` file contains an executable line (one starting with ``import``).

    Python runs such lines at every interpreter start, for every program, once the
    package is installed: the most persistent hook there is. A bare ``import module`` is
    used by a few tools (coverage, editable installs) and is reported at medium severity;
    a line that also decodes, executes, spawns or connects is high.
    """

    id = "PW104"
    severity = Severity.HIGH
    title = ".pth file runs code at interpreter start"
    roles = frozenset({"pth"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for lineno, raw in enumerate(ctx.data.splitlines(), start=1):
            if not raw.startswith((b"import ", b"import\t")):
                continue
            danger = any(tok in raw for tok in _PTH_DANGER) or raw.count(b";") > 1
            yield self.finding(
                ".pth line runs at every Python start" + (" and decodes, executes or connects" if danger else ""),
                file=ctx.path,
                line=lineno,
                evidence=raw.decode("utf-8", "replace"),
                severity=Severity.HIGH if danger else Severity.MEDIUM,
            )
