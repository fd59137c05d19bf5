"""What every code check shares: the prefilter, the memoised facts of a member, wording."""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator, Mapping

from pipwarden.checks.base import MemberContext
from pipwarden.checks.code.facts import CTX_RANK, CallFact, ModuleFacts, parse
from pipwarden.checks.code.indicators import (
    BENIGN_BUILD_TOOLS,
    HIDDEN_FLAG_RE,
    INFRA_RE,
    IP_URL_RE,
    SHELL_DROPPER_RE,
    infra_kind,
    public_ip,
)
from pipwarden.models import Severity

# A module none of whose bytes match this is never parsed: it cannot spawn, connect, decode,
# execute or reach for secrets in any way the code checks look for.
PREFILTER = re.compile(
    rb"(?<![.\w])(?:exec|eval|compile|execfile)\s*\(|os\.system|system\(|popen|Popen|subprocess|spawn|socket"
    rb"|urlopen|urllib|requests|httpx|http\.client|HTTPConnection|urlretrieve|b64decode|b85decode|b32decode"
    rb"|decompress|marshal|fromhex|unhexlify|__import__|import_module|getattr\(\s*(?:__builtins__|builtins|os\b)"
    rb"|globals\(\)\[|webhook|winreg|crontab|dup2|pty\.|startfile|ShellExecute|smtplib|ftplib|getaddrinfo"
    rb"|gethostbyname|dns\.resolver|pyarmor|codecs\.decode|ImageGrab|screenshot|pyperclip|leveldb|\.ssh|wget|curl"
    rb"|powershell|aiohttp|urllib3|pycurl|telnetlib|FunctionType|Login Data|wallet|/etc/passwd|git-credentials"
    rb"|Startup|CurrentVersion|autostart|LaunchAgents|systemd|\.bashrc|\.zshrc|authorized_keys|stegano|stratum"
)

_FACTS_KEY = "_pipwarden_code_facts"


def facts_for(ctx: MemberContext) -> ModuleFacts | None:
    """The facts of a member, computed once per member and shared by every check."""
    cache = ctx.__dict__
    if _FACTS_KEY in cache:
        got: ModuleFacts | None = cache[_FACTS_KEY]
        return got
    facts: ModuleFacts | None = None
    # setup.py (one per sdist, and it always runs) is always parsed; modules only past the prefilter.
    if ctx.role == "setup" or PREFILTER.search(ctx.data):
        tree = parse(ctx.data, ctx.path)
        if tree is None:
            tree = parse_prefix(ctx.data, ctx.path)
        if tree is not None:
            base = "main" if ctx.role == "module" and not_shipped(ctx.path) else None
            entries: frozenset[str] = cache.get("_pipwarden_import_entries", frozenset())
            facts = ModuleFacts(tree, ctx.role, ctx.text, base_ctx=base, script=ctx.path == "setup.py",
                                entries=entries)
    cache[_FACTS_KEY] = facts
    return facts


def parse_prefix(data: bytes, path: str) -> ast.Module | None:
    """The statements before a syntax error, when the file breaks part-way (a stray line pasted
    at the end, a bad indent below the payload): what the author wrote above it is still read.
    Two attempts: everything above the bad line, then up to the top-level statement it breaks."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(data, filename=path)
        return None
    except SyntaxError as e:
        bad = e.lineno or 0
    except (ValueError, RecursionError, MemoryError):
        return None
    if bad < 3:
        return None
    lines = data.split(b"\n")[: bad - 1]
    whole = parse(b"\n".join(lines), path)  # the error is a line of its own
    if whole is not None:
        return whole
    cut = len(lines)
    while cut > 0 and (not lines[cut - 1][:1].strip() or lines[cut - 1][:1] in (b"#", b")", b"]", b"}")):
        cut -= 1
    cut -= 1  # the top-level statement the error may belong to
    return parse(b"\n".join(lines[:cut]), path) if cut > 0 else None


def layers(ctx: MemberContext) -> Iterator[tuple[ModuleFacts, int | None]]:
    facts = facts_for(ctx)
    if facts is not None:
        yield from facts.all_layers()


# Files under these directories are tests, docs, examples and maintainer tools: nobody imports
# them when using the package, so their module-level code runs only when someone runs them.
_NOT_SHIPPED = re.compile(
    r"(?i)(?:^|/)(?:_?tests?|_?testing|docs?|examples?|demos|scripts?|tools|dev|devscripts|benchmarks?|ci|\.github"
    r"|tutorials?|notebooks?"
    r"|3rdparty|third_party|subprojects)/"
    r"|(?:^|/)(?:conftest|noxfile|fabfile|tasks|conf|test_[^/]*|[^/]*_test)\.py$"
)


def not_shipped(path: str) -> bool:
    return bool(_NOT_SHIPPED.search(path.rsplit("!/", 1)[-1]))


_MAINTENANCE = re.compile(
    r"(?i)^(?:run_?tests?|noxfile|fabfile|tasks|conftest|release|bootstrap|make_\w+|build_\w+)\.py$")


def never_imported(path: str, artifact_kind: str, siblings: Mapping[str, object]) -> bool:
    """A module nobody imports by installing and using the package: code inside an archive nested
    in the package; in an sdist, a file in a directory that is not a package (no ``__init__.py``:
    maintainer tools, CI scripts, build helpers) or a top-level maintenance script. Its code runs
    only when someone runs it by hand, so its code findings are capped at low."""
    if "!/" in path:
        return True
    if artifact_kind != "sdist":
        return False
    folder, _, base = path.rpartition("/")
    if not base.removesuffix(".py").isidentifier() and not any(
            _named_in_config(part.removesuffix(".py").encode(), siblings) for part in path.split("/")):
        return True  # lint-code.py, 2to3-fix.py: no import statement names it and no build config installs it
    if not folder or folder == "src":
        return bool(_MAINTENANCE.match(base))
    if f"{folder}/__init__.py" in siblings:
        return False
    up = folder.rpartition("/")[0]
    while up and up != "src":
        if f"{up}/__init__.py" in siblings:
            return True  # a folder without __init__.py inside a package: sources, data, helpers
        up = up.rpartition("/")[0]
    if not_shipped(path):
        return True  # scripts/, tools/, tests/ without __init__.py: run by hand, whatever the config says
    # A folder without __init__.py can still be installed when the build config names it
    # (packages=["pkg"], a namespace package): only a folder the config never mentions is dormant.
    top = folder.removeprefix("src/").split("/", 1)[0]
    # named as a package in a string: packages=["pkg"], "pkg.sub", packages = ["pkg"] in TOML
    if _named_in_config(rb"['\"]" + re.escape(top.encode()) + rb"(?:\.[\w.]+)?['\"]", siblings, regex=True):
        return False
    # ... or the built metadata lists it as a top-level package (top_level.txt of egg-info/dist-info)
    return top not in _top_levels(siblings)


def _named_in_config(needle: bytes, siblings: Mapping[str, object], *, regex: bool = False) -> bool:
    """Whether setup.py, setup.cfg or pyproject.toml mentions ``needle`` (a regex with ``regex``)."""
    pattern = re.compile(needle if regex else re.escape(needle))
    for cfg in ("setup.py", "setup.cfg", "pyproject.toml"):
        data = getattr(siblings.get(cfg), "data", None)
        if isinstance(data, bytes) and pattern.search(data):
            return True
    return False


_TOP_CACHE: list[tuple[Mapping[str, object], frozenset[str]]] = []


def _top_levels(siblings: Mapping[str, object]) -> frozenset[str]:
    """Names listed in the archive's ``top_level.txt`` files, computed once per archive."""
    if _TOP_CACHE and _TOP_CACHE[0][0] is siblings:
        return _TOP_CACHE[0][1]
    names: set[str] = set()
    for key, member in siblings.items():
        if key.endswith("top_level.txt") and ("egg-info/" in key or "dist-info/" in key):
            data = getattr(member, "data", None)
            if isinstance(data, bytes) and len(data) < 4096:
                names.update(ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip())
    got = frozenset(names)
    _TOP_CACHE[:] = [(siblings, got)]
    return got


WHERE = {
    "install": "at install time",
    "import": "at import time",
    "main": "when run as a script",
    "function": "in a function",
}


def where(call: CallFact) -> str:
    via = f", {call.via}" if call.via and call.via != "function body" else ""
    return f"{WHERE.get(call.ctx, call.ctx)}{via}"


def at_least(ctx: str, level: str) -> bool:
    return CTX_RANK[ctx] >= CTX_RANK[level]


def early(ctx: str) -> bool:
    """Code that runs without anyone calling it: at install time or on import."""
    return ctx in ("install", "import")


def suspicious_hosts(strings: tuple[str, ...] | list[str]) -> list[str]:
    """Request catchers, tunnels, paste sites, shorteners, dynamic DNS, onion services and public
    raw-IP URLs among the strings, described."""
    out: list[str] = []
    for s in strings:
        for m in INFRA_RE.finditer(s):
            out.append(f"{infra_kind(m.group('host'))} {m.group('host')}")
        for m in IP_URL_RE.finditer(s):
            if public_ip(m.group(1)):
                out.append(f"raw IP address {m.group(1)}")
    return out


def dropper(text: str) -> str | None:
    m = SHELL_DROPPER_RE.search(text)
    return m.group(0).strip() if m else None


def hidden(text: str) -> bool:
    return bool(HIDDEN_FLAG_RE.search(text))


def build_tool(command: str) -> bool:
    return bool(BENIGN_BUILD_TOOLS.match(command))


def bump(sev: Severity, by: int = 1) -> Severity:
    return Severity(min(int(Severity.CRITICAL), int(sev) + by))


def line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1
