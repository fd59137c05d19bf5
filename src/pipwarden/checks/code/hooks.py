"""Startup hooks and install-time entry points that are not setup.py: ``.pth`` files,
``sitecustomize``/``usercustomize`` modules, in-tree build backends, console scripts that
shadow common commands, and native binaries in packages that claim to be pure Python."""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Iterable, Mapping

from packaging.utils import canonicalize_name

from pipwarden.checks.base import ArtifactCheck, ArtifactContext, MemberCheck, MemberContext, register
from pipwarden.checks.code.facts import CallFact, ModuleFacts, command_text, parse
from pipwarden.checks.code.indicators import EXEC_CALLS, IDENTITY_TAGS, NET_CALLS, SHADOWED_COMMANDS, SPAWN_CALLS
from pipwarden.models import Finding, Severity

_PTH_DANGER = (b"base64", b"b64decode", b"subprocess", b"os.system", b"socket", b"urllib", b"requests", b"marshal",
               b"zlib", b"popen", b"http", b"codecs", b"fromhex", b"unhexlify", b"spawn", b"startfile")


@register
class PthExecutes(MemberCheck):
    """A ``.pth`` file contains an executable line (one starting with ``import``).

    Python runs such lines at every interpreter start, for every program, once the package is
    installed: the most persistent hook there is. Coverage, setuptools, editable installs and
    namespace shims use such lines to import a module or set a flag, so a line is low severity
    unless it also decodes, spawns or connects, which makes it high. (The modules a ``.pth``
    imports are themselves analysed as import-time code.)
    """

    id = "PW104"
    severity = Severity.HIGH
    title = ".pth file runs code at interpreter start"
    roles = frozenset({"pth"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for lineno, raw in enumerate(ctx.data.splitlines(), start=1):
            if not raw.startswith((b"import ", b"import\t")):
                continue
            danger = any(tok in raw for tok in _PTH_DANGER)
            yield self.finding(
                ".pth line runs at every Python start" + (" and decodes, executes or connects" if danger else ""),
                file=ctx.path,
                line=lineno,
                evidence=raw.decode("utf-8", "replace"),
                severity=Severity.HIGH if danger else Severity.LOW,
            )


@register
class InTreeBuildBackend(MemberCheck):
    """``pyproject.toml`` points its build backend at code inside the sdist (``backend-path``).

    pip imports that module to build the package, so it runs at install time exactly like
    setup.py; pipwarden analyses it with the install-time checks. Low on its own: a few
    packaging tools build themselves this way.
    """

    id = "PW106"
    severity = Severity.LOW
    title = "in-tree build backend runs at install time"
    roles = frozenset({"build-config"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        if not ctx.path.endswith("pyproject.toml") or b"backend-path" not in ctx.data:
            return
        try:
            doc = tomllib.loads(ctx.text)
        except tomllib.TOMLDecodeError:
            return
        bs = doc.get("build-system")
        if not isinstance(bs, dict) or not bs.get("backend-path"):
            return
        line = next((i for i, ln in enumerate(ctx.text.splitlines(), 1) if "backend-path" in ln), None)
        yield self.finding(
            f"build backend {bs.get('build-backend')!r} is loaded from {bs.get('backend-path')!r} in the sdist",
            file=ctx.path, line=line, evidence=ctx.line_text(line))


def in_tree_backend_modules(pyproject: bytes) -> list[str]:
    """Paths (relative to the sdist root) of the in-tree build backend's module, if any."""
    try:
        doc = tomllib.loads(pyproject.decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError:
        return []
    bs = doc.get("build-system")
    if not isinstance(bs, dict):
        return []
    paths, backend = bs.get("backend-path"), bs.get("build-backend")
    if not isinstance(paths, list) or not isinstance(backend, str):
        return []
    mod = backend.split(":", 1)[0].replace(".", "/")
    out: list[str] = []
    for p in paths:
        if isinstance(p, str):
            base = p.strip("/").removeprefix("./")
            base = "" if base in (".", "") else base + "/"
            out += [f"{base}{mod}.py", f"{base}{mod}/__init__.py"]
    return out


@register
class StartupModule(ArtifactCheck):
    """A wheel ships ``sitecustomize.py`` or ``usercustomize.py`` at the top of site-packages.

    Python imports these modules at every start when they are on ``sys.path``, so installing the
    package hooks every Python program on the machine. High.
    """

    id = "PW170"
    severity = Severity.HIGH
    title = "ships a sitecustomize/usercustomize startup hook"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        if ctx.artifact.kind != "wheel":
            return
        for m in ctx.archive.files():
            name = re.sub(r"^[^/]+\.data/(?:purelib|platlib)/", "", m.name)
            if name in ("sitecustomize.py", "usercustomize.py"):
                yield self.finding(f"{name} installed at the top of site-packages runs at every Python start",
                                   file=m.name, line=None, evidence=name)


def _scripts_from_ini(text: str) -> list[tuple[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    out: list[tuple[str, str]] = []
    for section in ("console_scripts", "gui_scripts"):
        if parser.has_section(section):
            out += [(k.strip(), v.strip()) for k, v in parser.items(section)]
    return out


_SETUP_SCRIPT = re.compile(r"""['"]\s*([\w.+-]+)\s*=\s*([\w.]+(?::[\w.]+)?)\s*['"]""")


def _own_command(script: str, project: str) -> bool:
    s = canonicalize_name(re.sub(r"[\d.]+$", "", script))
    p = canonicalize_name(project)
    return bool(s) and (s == p or p.startswith(s + "-") or s.startswith(p))


@register
class ShadowingEntryPoint(ArtifactCheck):
    """A console or GUI script takes the name of a common command (``pip``, ``python``, ``ls``,
    ``sudo``, ``git``, ``curl``…) that the package is not itself.

    The script lands on ``PATH`` next to the real one and runs instead of it whenever it comes
    first — the next ``sudo`` or ``pip`` the user types runs the package's code. High.
    """

    id = "PW171"
    severity = Severity.HIGH
    title = "console script shadows a common command"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        project = ctx.package.name if ctx.package.path is None else _project_of(ctx.artifact.filename)
        for m in ctx.archive.files():
            if m.data is None:
                continue
            base = m.name.rsplit("/", 1)[-1]
            scripts: list[tuple[str, str]] = []
            if base == "entry_points.txt" and (".dist-info/" in m.name or ".egg-info/" in m.name):
                scripts = _scripts_from_ini(m.data.decode("utf-8", "replace"))
            elif base == "setup.cfg" and m.name.count("/") <= 1:
                text = m.data.decode("utf-8", "replace")
                if "console_scripts" in text or "gui_scripts" in text:
                    scripts = _scripts_from_ini(text.replace("\n    ", "\n").replace("\n\t", "\n").replace(
                        "[options.entry_points]", "[_]"))
                    scripts += [(k, v) for k, v in _SETUP_SCRIPT.findall(text)]
            elif base == "setup.py" and m.name.count("/") <= 1 and b"console_scripts" in m.data:
                scripts = _SETUP_SCRIPT.findall(m.data.decode("utf-8", "replace"))
            owner = _project_of(m.name.rsplit("!/", 1)[0].rsplit("/", 1)[-1]) if "!/" in m.name else project
            for script, target in scripts:
                if script.lower() in SHADOWED_COMMANDS and not _own_command(script, owner):
                    yield self.finding(f"script {script!r} -> {target} shadows the {script} command",
                                       file=m.name, line=None, evidence=f"{script} = {target}")
                    return


def _project_of(filename: str) -> str:
    return re.split(r"-\d", filename, maxsplit=1)[0]


_MAGIC = ((b"\x7fELF", "ELF"), (b"\xfe\xed\xfa\xce", "Mach-O"), (b"\xfe\xed\xfa\xcf", "Mach-O"),
          (b"\xce\xfa\xed\xfe", "Mach-O"), (b"\xcf\xfa\xed\xfe", "Mach-O"))


def _binary_kind(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data.startswith(b"MZ") and len(data) > 0x40:
        off = int.from_bytes(data[0x3C:0x40], "little")
        if data[off:off + 4] == b"PE\x00\x00":
            return "PE"
    return None


@register
class BundledBinary(ArtifactCheck):
    """A wheel tagged pure Python (``none-any``) contains executables or native libraries (ELF,
    Mach-O, Windows PE).

    A pure-Python package has no use for native code; malware ships its real payload this way.
    Medium for ELF/Mach-O and for Windows executables over 256 KiB; small PE files (script
    launcher stubs, as pip and setuptools ship) are low.
    """

    id = "PW180"
    severity = Severity.MEDIUM
    title = "native binary inside a pure-Python wheel"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        if ctx.artifact.kind != "wheel" or not ctx.artifact.filename.endswith("-none-any.whl"):
            return
        for m in ctx.archive.files():
            if m.data is None or len(m.data) < 64:
                continue
            kind = _binary_kind(m.data[:4096])
            if kind is None:
                continue
            sev = Severity.LOW if kind == "PE" and m.size <= 256 * 1024 else Severity.MEDIUM
            yield self.finding(f"{kind} binary ({m.size} bytes) in a none-any wheel", file=m.name, line=None,
                               evidence=m.name, severity=sev)


def _bundled_target(cmd: list[str], siblings: Mapping[str, object]) -> str | None:
    """The archive member a ``python -m pkg.mod`` or ``python file.py`` command runs, if shipped."""
    cands: list[str] = []
    for i, part in enumerate(cmd):
        if part == "-m" and i + 1 < len(cmd):
            mod = cmd[i + 1].replace(".", "/")
            cands += [f"{mod}.py", f"{mod}/__main__.py", f"src/{mod}.py", f"src/{mod}/__main__.py"]
        elif part.endswith(".py") and i > 0:
            cands.append(part.removeprefix("./"))
    return next((c for c in cands if c in siblings), None)


def _spawn_parts(c: CallFact) -> list[str]:
    """The command's words as far as constants tell (facts' reading of argv lists and strings)."""
    return command_text(c).split() if c.node.args else []


# setup.py's own body and the commands pip runs (not maintainer commands such as "import_data").
_RUNS_ON_INSTALL = re.compile(r"module level|__main__ block|setup command \w*(?:[Ii]nstall|[Dd]evelop|[Ee]gg_?[Ii]nfo"
                              r"|[Bb]uild|[Ss]dist|[Bb]dist|[Pp]ost|[Pp]re)\w*\.")


@register
class InstallRunsBundledScript(MemberCheck):
    """``setup.py`` runs a Python file shipped in the sdist as a separate process at install time
    (``subprocess.run([sys.executable, "-m", "pkg.tool"])``, ``python helper.py``), and that file
    talks to the network when run.

    Running it as a script makes its ``__main__`` block install-time code that no import ever
    shows; its behaviour is judged as such: high when it sends machine or user identity, runs a
    dropper or executes fetched or decoded code; medium when it connects. (Build helpers that
    start compilers or git are not reported.)
    """

    id = "PW119"
    severity = Severity.HIGH
    title = "setup.py runs a bundled script that connects or exfiltrates"
    roles = frozenset({"setup"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        if b".py" not in ctx.data and b"-m" not in ctx.data:
            return
        from pipwarden.checks.code.shared import facts_for, where

        facts = facts_for(ctx)
        if facts is None:
            return
        for c in facts.calls:
            if c.name not in SPAWN_CALLS or c.ctx != "install" or not _RUNS_ON_INSTALL.search(c.via):
                continue
            parts = _spawn_parts(c)
            if not parts or not re.match(r"(?i)^(?:python[\d.]*|py)(?:\.exe)?$", parts[0].rsplit("/", 1)[-1]):
                continue
            target = _bundled_target(parts, ctx.siblings)
            member = ctx.siblings.get(target) if target else None
            data = getattr(member, "data", None)
            if target is None or not isinstance(data, bytes) or len(data) > 1 << 20:
                continue
            tree = parse(data, target)
            if tree is None:
                continue
            sub = ModuleFacts(tree, "setup", data.decode("utf-8", "replace"), base_ctx="install")
            sev, what = _script_behaviour(sub)
            if sev is None:
                continue
            yield self.finding(
                f"{c.name}() {where(c)} runs {target}, which {what} when run",
                file=ctx.path, line=c.line, evidence=facts.line_text(c.line), severity=sev)


def _script_behaviour(sub: ModuleFacts) -> tuple[Severity | None, str]:
    from pipwarden.checks.code.exfiltration import SEND_CALLS
    from pipwarden.checks.code.shared import dropper

    live = [c for c in sub.calls if c.ctx == "install"]
    for c in live:
        tags = c.taint & IDENTITY_TAGS
        if c.name in SEND_CALLS and tags:
            return Severity.HIGH, f"sends {', '.join(sorted(tags))} with {c.name}()"
        if c.name in SPAWN_CALLS and dropper(" ".join([command_text(c), *c.strings])):
            return Severity.HIGH, f"runs a dropper command with {c.name}()"
        if c.name in EXEC_CALLS and {"net-data", "decoded"} & c.taint:
            return Severity.HIGH, f"executes fetched or decoded code with {c.name}()"
    net = next((c for c in live if c.name in NET_CALLS), None)
    if net is not None:
        return Severity.MEDIUM, f"connects with {net.name}()"
    return None, ""  # build helpers start compilers and git: a plain spawn is not evidence
