"""What installing the package puts on the machine (PW250–PW252).

The code checks (PW1xx) judge what the files *do*; these judge what they *are called*: a
release with no wheel (so installing it runs a build), modules installed under another,
popular project's name, and commands that shadow system or popular tools. ``.pth`` files
are PW104's.
"""

from __future__ import annotations

import ast
import configparser
import tomllib
from collections.abc import Iterable, Iterator

from packaging.version import InvalidVersion, Version

from pipwarden.checks.base import ArtifactCheck, ArtifactContext, PackageCheck, PackageContext, register
from pipwarden.checks.trust._common import archive_metadata, release_files
from pipwarden.checks.trust.names import related
from pipwarden.models import Finding, Severity
from pipwarden.typosquat import HIGH_RANK, normalise, popular_index

# A module or command named after a popular project is "its" when that project has at least
# this many times the installing project's downloads.
SHADOW_RATIO = 10
# Directory and module names too generic to belong to anyone (sloppy packaging, not impersonation).
GENERIC_NAMES = frozenset({
    "test", "tests", "testing", "doc", "docs", "example", "examples", "sample", "samples", "script", "scripts",
    "bin", "src", "lib", "utils", "util", "common", "core", "build", "dist", "tools", "tool", "config", "configs",
    "helpers", "helper", "app", "main", "data", "benchmarks", "benchmark", "demo", "demos", "resources",
    "static", "templates", "vendor", "contrib", "extras", "misc", "api", "models", "settings", "setup",
})
# Commands a package has no business installing: a script named like one of these runs
# instead of the real program for everyone whose PATH lists the environment's bin first.
SYSTEM_COMMANDS = frozenset({
    "python", "python3", "pip", "pip3", "sudo", "su", "ls", "cat", "cp", "mv", "rm", "ln", "ssh", "scp", "sftp",
    "git", "curl", "wget", "bash", "sh", "zsh", "fish", "env", "which", "apt", "apt-get", "dpkg", "yum", "dnf",
    "brew", "docker", "kubectl", "npm", "node", "npx", "gpg", "openssl", "make", "gcc", "cc", "ld", "tar",
    "unzip", "zip", "chmod", "chown", "ps", "kill", "top", "id", "whoami", "passwd", "crontab", "systemctl",
    "service", "aws", "gcloud", "az", "find", "grep", "sed", "awk", "less", "more", "vi", "vim", "nano",
    "cd", "echo", "login", "mount", "nc", "netcat", "ping", "powershell", "cmd", "explorer", "code",
})


def _namespace(actx: ArtifactContext, top: str, prefix: str) -> bool:
    """A PEP 420 or pkg_resources/pkgutil namespace portion: shared by design."""
    init = actx.archive.get(f"{prefix}{top}/__init__.py")
    if init is None:
        return True
    text = init.text() or ""
    return "declare_namespace" in text or "extend_path" in text


def top_level_modules(actx: ArtifactContext) -> Iterator[tuple[str, str]]:
    """(module name, example member path) of what a wheel installs at the top of site-packages;
    for sdists, what ``*.egg-info/top_level.txt`` lists."""
    seen: set[str] = set()
    if actx.artifact.kind == "wheel":
        for m in actx.archive.files():
            path = m.name
            first, _, rest = path.partition("/")
            prefix = ""
            if first.endswith(".dist-info"):
                continue
            if first.endswith(".data"):
                kind, _, inner = rest.partition("/")
                if kind not in ("purelib", "platlib") or not inner:
                    continue
                prefix = f"{first}/{kind}/"
                first, _, rest = inner.partition("/")
            if rest:
                name = first
                if _namespace(actx, name, prefix):
                    continue
            elif first.endswith((".py", ".pyc")):
                name = first.rsplit(".", 1)[0]
            elif first.endswith((".so", ".pyd")):
                name = first.split(".", 1)[0]
            else:
                continue
            if name and name not in seen:
                seen.add(name)
                yield name, path
    else:
        for m in actx.archive.files():
            if m.name.endswith(".egg-info/top_level.txt") and m.name.count("/") <= 2:
                for line in (m.text() or "").splitlines():
                    name = line.strip()
                    if name and name not in seen:
                        seen.add(name)
                        yield name, m.name
                break


def _shadowed(own: str, name: str) -> str | None:
    """The popular project ``name`` belongs to, when it is not ``own``'s and far more popular."""
    index = popular_index()
    if name.startswith("_") or name.lower() in GENERIC_NAMES:
        return None
    target = normalise(name)
    if target == normalise(own) or related(own, "", name):
        return None
    theirs = index.downloads(target)
    if theirs is None:
        return None
    mine = index.downloads(own) or 0
    return target if theirs >= max(mine, 1) * SHADOW_RATIO else None


@register
class ModuleShadowsPopularProject(ArtifactCheck):
    """The wheel installs a top-level module named after another, far more popular project —
    a ``requests/`` package inside ``requestz``.

    Installed, it overwrites or shadows the real project's files: every program importing
    ``requests`` runs this package's code. Compared with the popular-projects list (a project
    with 10 times the downloads or more); names unrelated to the project that belong to no
    popular project (``bs4`` in ``beautifulsoup4``), generic names (``tests``, ``utils``) and
    namespace packages (``google/`` without ``__init__.py``) are not reported. High when the
    shadowed project is among the 1,000 most downloaded. Sdists are judged by their
    ``egg-info/top_level.txt`` when they ship one.
    """

    id = "PW251"
    severity = Severity.HIGH
    title = "installs a module named after another popular project"
    category = "trust"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        own = ctx.package.name
        index = popular_index()
        for module, path in top_level_modules(ctx):
            target = _shadowed(own, module)
            if target is None:
                continue
            rank = index.rank(target) or HIGH_RANK + 1
            yield self.finding(
                f"{own} installs the top-level module {module!r}, the name of the popular project {target} "
                f"(#{rank}): installing it replaces or shadows {target}'s code",
                file=path,
                evidence=path,
                severity=self.severity if rank <= HIGH_RANK else Severity.MEDIUM,
                artifact=ctx.artifact.filename,
            )


def _commands(ctx: ArtifactContext) -> Iterator[tuple[str, str, int | None, str]]:
    """(command, member, line, evidence) for console/gui scripts and wheel .data/scripts."""
    for m in ctx.archive.files():
        name = m.name
        first, _, rest = name.partition("/")
        if first.endswith(".data") and rest.startswith("scripts/") and rest.count("/") == 1:
            yield rest.split("/", 1)[1], name, None, name
        elif name.endswith("entry_points.txt") and (
            first.endswith((".dist-info", ".egg-info")) or (name.count("/") <= 2 and ".egg-info/" in name)
        ):
            text = m.text() or ""
            parser = configparser.RawConfigParser(delimiters=("=",), strict=False, interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            try:
                parser.read_string(text)
            except configparser.Error:
                continue
            lines = text.splitlines()
            for section in ("console_scripts", "gui_scripts"):
                if not parser.has_section(section):
                    continue
                for cmd, target in parser.items(section):
                    lineno = next((i for i, ln in enumerate(lines, 1) if ln.strip().startswith(cmd)), None)
                    yield cmd.strip(), name, lineno, f"{cmd.strip()} = {target.strip()}"


@register
class CommandShadowing(ArtifactCheck):
    """The package installs a command named like another, far more popular project's (an
    entry point ``black`` in a package that is not black), or a ``.data/scripts`` file named
    like a system program (``pip``, ``python``, ``sudo``, ``ls``, ``git``, ``ssh`` …).

    The environment's ``bin`` directory usually comes first on ``PATH``: the package's script
    then runs whenever someone types that command. Entry points named like system programs are
    the code checks' PW171; this check adds the scripts shipped as files, which PW171 does not
    read (high), and the popular projects' names (medium; a project with 10 times the downloads).
    """

    id = "PW252"
    severity = Severity.HIGH
    title = "installs a command that shadows a system or popular tool"
    category = "trust"

    def run(self, ctx: ArtifactContext) -> Iterable[Finding]:
        own = ctx.package.name
        for cmd, member, line, evidence in _commands(ctx):
            base = cmd.lower().removesuffix(".exe")
            if normalise(base) == normalise(own) or base.startswith(normalise(own)):
                continue
            if base in SYSTEM_COMMANDS:
                if ".data/scripts/" in member:
                    yield self.finding(f"{own} installs a script {cmd!r}, the name of a system program",
                                       file=member, line=line, evidence=evidence, artifact=ctx.artifact.filename)
                continue  # entry points: PW171
            target = _shadowed(own, base)
            if target is not None:
                yield self.finding(
                    f"{own} installs a command {cmd!r}, named like the popular project {target}",
                    file=member, line=line, evidence=evidence, artifact=ctx.artifact.filename,
                    severity=Severity.MEDIUM,
                )


# --- sdist-only releases -----------------------------------------------------------------


def _root_text(actx: ArtifactContext, name: str) -> str | None:
    m = actx.archive.get(f"{actx.archive.root}{name}")
    return m.text() if m is not None else None


def _trivial_setup_py(text: str) -> bool:
    """setup.py that only calls ``setup()`` with no arguments (metadata lives elsewhere)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and not node.value.args \
                and not node.value.keywords:
            continue
        if isinstance(node, ast.If):  # if __name__ == "__main__": setup()
            continue
        return False
    return True


def build_metadata(actx: ArtifactContext) -> tuple[bool, str]:
    """(static, why): whether an sdist's dependencies can be known without running a build."""
    got = archive_metadata(actx)
    if got is not None:
        _member, headers, _body = got
        try:
            mv = Version((headers.get("metadata-version") or [""])[0].strip())
        except InvalidVersion:
            mv = None
        dynamic = {d.strip().lower() for d in headers.get("dynamic", [])}
        if mv is not None and mv >= Version("2.2") and "requires-dist" not in dynamic:
            return True, f"PKG-INFO is metadata {mv} with static dependencies (PEP 643)"
    pyproject = _root_text(actx, "pyproject.toml")
    if pyproject is not None and len(pyproject) < 1 << 20:
        try:
            doc = tomllib.loads(pyproject)
        except (tomllib.TOMLDecodeError, RecursionError):
            doc = {}
        project = doc.get("project")
        if isinstance(project, dict):
            dynamic_list = project.get("dynamic")
            dyn = {str(d).lower() for d in dynamic_list} if isinstance(dynamic_list, list) else set()
            if "dependencies" not in dyn and "optional-dependencies" not in dyn:
                return True, "pyproject.toml [project] declares its dependencies statically"
            return False, "pyproject.toml [project] marks its dependencies dynamic"
    setup_py = _root_text(actx, "setup.py")
    setup_cfg = _root_text(actx, "setup.cfg")
    if setup_cfg is not None and "[metadata]" in setup_cfg and (setup_py is None or _trivial_setup_py(setup_py)):
        return True, "setup.cfg holds the metadata and setup.py only calls setup()"
    if setup_py is not None:
        return False, "dependencies are only known by running setup.py"
    return False, "no static build metadata found"


@register
class SdistOnly(PackageCheck):
    """The release has no wheel: installing it builds the sdist, which runs its build backend
    (``setup.py``) with the installing user's rights — before any of its code was vetted.

    The message says whether the build metadata is static (PKG-INFO metadata 2.2+ per PEP 643,
    ``pyproject.toml`` ``[project]`` without dynamic dependencies, or ``setup.cfg`` with a
    trivial ``setup.py``): then dependencies can be resolved without building (information);
    otherwise resolving alone runs the build (low). What ``setup.py`` does is the code checks'.
    """

    id = "PW250"
    severity = Severity.LOW
    title = "release has no wheel: installing runs the build"
    category = "trust"

    def run(self, ctx: PackageContext) -> Iterable[Finding]:
        sdists = [a for a in ctx.artifacts if a.artifact.kind == "sdist"]
        if ctx.project is not None or ctx.release is not None:
            files = release_files(ctx)
            if not files or any(f.kind == "wheel" for f in files):
                return
            names = ", ".join(f.filename for f in files)
        else:
            if not sdists or any(a.artifact.kind == "wheel" for a in ctx.artifacts):
                return
            names = ", ".join(a.artifact.filename for a in sdists)
        if sdists:
            static, why = build_metadata(sdists[0])
        else:
            static, why = False, "the sdist was not read"
        yield self.finding(
            f"{ctx.name} {ctx.version or ''} ships only an sdist ({names}); {why}".replace("  ", " "),
            evidence=why,
            severity=Severity.INFO if static else self.severity,
            artifact=sdists[0].artifact.filename if sdists else None,
        )
