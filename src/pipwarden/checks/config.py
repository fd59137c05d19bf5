"""Installation and configuration checks (PW5xx): how packages get onto this machine.

Three families, each run by its own command rather than by ``scan``:

* PW500–PW519 ``pipwarden doctor``: pip's configuration, the target interpreter, pip itself.
* PW520–PW539 ``pipwarden verify`` / ``lock`` / ``install``: a hash-locked requirements file or
  ``pylock.toml`` against what the index publishes.
* PW540–PW559 ``pipwarden verify --env``: installed files against their ``RECORD``, files no
  distribution owns, ``.pth`` files.

Doctor checks implement ``run(ctx: DoctorContext)``; the lock and environment checks describe
findings that ``pipwarden.install.verify`` and ``pipwarden.envcheck`` make in one pass over their
input (the class is the finding's identity and documentation).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from pipwarden.checks.base import Check, Scope, register
from pipwarden.models import Finding, Severity

if TYPE_CHECKING:
    from pipwarden.install.pipconf import PipConfig, Setting
    from pipwarden.install.pyenv import PythonEnv


def mask_secrets(text: str) -> str:
    """``https://user:secret@host`` -> ``https://user:****@host`` (also bare tokens before ``@``)."""
    return re.sub(r"(://[^/:@\s]*:)[^@/\s]+@", r"\1****@", re.sub(r"(://)([^/:@\s]{16,})@", r"\1****@", text))


def is_loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or bool(host and host.startswith("127."))


@dataclass(frozen=True)
class VulnHit:
    """A known vulnerability of an installed tool (pip itself)."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    fix_versions: tuple[str, ...]
    severity: Severity | None


@dataclass
class DoctorContext:
    config: PipConfig
    env: PythonEnv
    # Index/TLS options written inside the requirements files given with -r.
    requirement_settings: Sequence[Setting] = ()
    pip_version: str | None = None
    # Known vulnerabilities of that pip version; None when no database was available.
    pip_vulns: Sequence[VulnHit] | None = None
    vulndb_snapshot: str | None = None
    # Requirement name -> the indexes (public URLs) that serve a project of that name,
    # filled only when requirements were given and more than one index is configured.
    index_presence: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Requirement name -> where it is required (file:line).
    requirement_origins: Mapping[str, str] = field(default_factory=dict)

    def url_settings(self) -> list[Setting]:
        """Every place an index or link URL is configured, effective config first, then requirements."""
        out: list[Setting] = []
        for key in ("index-url", "extra-index-url", "find-links"):
            out.extend(self.config.effective_values(key))
        out.extend(s for s in self.requirement_settings if s.key in ("index-url", "extra-index-url", "find-links"))
        return out


class ConfigCheck(Check):
    """Base of the PW5xx checks."""

    category: ClassVar[str] = "config"
    scope: ClassVar[Scope] = "environment"

    def at(self, setting: Setting, message: str, *, severity: Severity | None = None,
           evidence: str | None = None) -> Finding:
        """A finding that points at the line (or environment variable) that sets ``setting``."""
        return self.finding(
            message,
            file=setting.source if setting.kind != "env-var" else f"${setting.source}",
            line=setting.line,
            evidence=mask_secrets(evidence if evidence is not None else (setting.text or setting.value)),
            severity=severity,
        )


class DoctorCheck(ConfigCheck):
    def run(self, ctx: DoctorContext) -> Iterable[Finding]:
        raise NotImplementedError


# -- doctor: pip configuration --------------------------------------------------------------


@register
class PlainHttpIndex(DoctorCheck):
    """pip is configured to fetch packages over plain http from a host that is not this machine.

    Anyone on the network path (Wi-Fi, proxy, compromised router) can replace what pip
    downloads, and pip will install it: without TLS there is nothing to tell the real file from
    a substitute unless every requirement is hash-pinned. Use the index's ``https://`` URL.
    """

    id = "PW500"
    severity = Severity.HIGH
    title = "package index or find-links over plain http"

    def run(self, ctx: DoctorContext) -> Iterable[Finding]:
        for s in ctx.url_settings():
            for url in s.values():
                parts = urlsplit(url)
                if parts.scheme == "http" and not is_loopback(parts.hostname):
                    yield self.at(
                        s,
                        f"{s.key} {mask_secrets(url)} is plain http ({s.where}); "
                        f"change it to https://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}",
                    )


@register
class TrustedHost(DoctorCheck):
    """A ``trusted-host`` entry turns off TLS certificate checks for that host.

    pip then accepts any certificate (and plain http) from that host, so a machine in the middle
    can serve any package under its name. Fix the certificate problem instead (``cert = /path/to/ca.pem``
    for a private CA) and remove the entry.
    """

    id = "PW501"
    severity = Severity.HIGH
    title = "trusted-host disables TLS verification"

    def run(self, ctx: DoctorContext) -> Iterable[Finding]:
        settings = ctx.config.effective_values("trusted-host") + [
            s for s in ctx.requirement_settings if s.key == "trusted-host"
        ]
        for s in settings:
            for host in s.values():
                if is_loopback(host.split(":")[0]):
                    continue
                yield self.at(
                    s,
                    f"trusted-host {host} ({s.where}): pip skips certificate checks for it; remove this line "
                    "and give pip the host's CA with 'cert = /path/to/ca.pem' if it uses a private CA",
                )


@register
class ExtraIndexUrl(DoctorCheck):
    """``extra-index-url`` makes pip pick the highest version of a name across all indexes.

    pip treats every index as equal: when a private package name also exists on another
    configured index (usually the public one), whoever publishes the higher version there wins —
    the dependency-confusion attack. Prefer one index that proxies the others (with the private
    names reserved), or pin every requirement with hashes. With ``-r requirements.txt``, doctor
    asks each configured index for each required name and lists the names served by more than
    one index (high severity).
    """

    id = "PW502"
    severity = Severity.MEDIUM
    title = "extra-index-url: dependency-confusion risk"

    def run(self, ctx: DoctorContext) -> Iterable[Finding]:
        settings = ctx.config.effective_values("extra-index-url") + [
            s for s in ctx.requirement_settings if s.key == "extra-index-url"
        ]
        for s in settings:
            urls = ", ".join(mask_secrets(u) for u in s.values())
            yield self.at(
                s,
                f"extra-index-url {urls} ({s.where}): pip takes the highest version of a name from any index; "
                "use a single index that mirrors the others, or hash-pin every requirement",
            )
        first = settings[0] if settings else None
        for name, indexes in sorted(ctx.index_presence.items()):
            if len(indexes) < 2:
                continue
            origin = ctx.requirement_origins.get(name, "")
            file, _, line = origin.rpartition(":")
            yield self.finding(
                f"{name} is served by {len(indexes)} configured indexes ({', '.join(indexes)}): whichever "
                f"publishes the higher version is installed"
                + (f"; the extra index is set at {first.where}" if first else ""),
                file=file or None,
                line=int(line) if line.isdigit() else None,
                evidence=mask_secrets(f"{name}: " + " | ".join(indexes)),
                severity=Severity.HIGH,
            )


@register
class RequireHashesOff(DoctorCheck):
    """pip does not require hashes, so a requirements file without ``--hash`` installs whatever it gets.

    With ``require-hashes`` set, pip refuses any requirement that is not pinned with ``==`` and
    hashed, so a file changed on the index, a mirror or in transit is rejected. Generate hashed
    files with ``pipwarden lock``; set it for the install command in pip.conf
    (``[install]`` / ``require-hashes = true``) or ``PIP_REQUIRE_HASHES=1`` in CI.
    """

    id = "PW503"
    severity = Severity.LOW
    title = "require-hashes is not set"

    def run(self, ctx: DoctorContext) -> Iterable[Finding]:
        s = ctx.config.effective("require-hashes")
        if s is not None and ctx.config.flag("require-hashes"):
            return
        if s is not None:
            yield self.at(s, f"require-hashes is set to {s.value!r} ({s.where}); change it to 'true'")
            return
        target = _user_config(ctx)
        yield self.finding(
            f"no pip configuration sets require-hashes; add '[install]' / 'require-hashes = true' to {target}",
            file=target,
        )


def _user_config(ctx: DoctorContext) -> str:
    for f in ctx.config.files:
        if f.kind == "env-file":
            return str(f.path)
    for f in reversed(ctx.config.files):
        if f.kind == "user" and f.exists:
            return str(f.path)
    users = [f for f in ctx.config.files if f.kind == "user"]
    return str(users[-1].path) if users else "pip.conf"


@register
class PlaintextCredentials(DoctorCheck):
    """An index URL carries a password or token in plain text.

    Anything that prints the configuration, the environment or pip's log (CI output, crash reports,
    ``pip config list``) leaks it, and every process of the user can read it. Keep the URL without
    credentials and let pip get them from ``keyring`` (``keyring-provider = subprocess``) or a
    ``.netrc`` file readable only by you.
    """

    id = "PW504"
    severity = Severity.MEDIUM
    title = "index credentials in plain text"

    def run(self, ctx: DoctorContext) -> Iterable[Finding]:
        settings = [s for s in ctx.config.settings if s.key in ("index-url", "extra-index-url", "find-links")]
        settings += [s for s in ctx.requirement_settings if s.key in ("index-url", "extra-index-url", "find-links")]
        for s in settings:
            for url in s.values():
                parts = urlsplit(url)
                if parts.password or (parts.username and "@" in parts.netloc):
                    yield self.at(
                        s,
                        f"{s.key} carries credentials in plain text ({s.where}): {mask_secrets(url)}; remove them "
                        "from the URL and use keyring or a private .netrc",
                    )


@register
class OutsideVirtualenv(DoctorCheck):
    """pip installs into an interpreter that is not a virtual environment.

    Packages then land in the system or user site-packages, where they can shadow or break the
    operating system's own Python tools, and every program using that interpreter imports them
    (a ``.pth`` file installed there runs at every start of Python). Make a virtual environment
    (``python -m venv .venv``) and set ``require-virtualenv = true`` so pip refuses otherwise.
    """

    id = "PW505"
    severity = Severity.MEDIUM
    title = "installing outside a virtual environment"

    def run(self, ctx: DoctorContext) -> Iterable[Finding]:
        brk = ctx.config.effective("break-system-packages")
        if brk is not None and ctx.config.flag("break-system-packages"):
            yield self.at(
                brk,
                f"break-system-packages is on ({brk.where}): pip overrides the OS's EXTERNALLY-MANAGED guard; "
                "remove this line and install into a virtual environment",
            )
        if ctx.env.is_venv or ctx.config.flag("require-virtualenv"):
            return
        managed = ctx.env.externally_managed
        guard = f" (the OS marks it EXTERNALLY-MANAGED: {managed})" if managed else ""
        yield self.finding(
            f"{ctx.env.executable} is not a virtual environment (prefix {ctx.env.prefix}){guard}; "
            f"create one with 'python -m venv .venv' and add 'require-virtualenv = true' to {_user_config(ctx)}",
            file=_user_config(ctx),
            evidence=f"sys.prefix == sys.base_prefix == {ctx.env.prefix}",
            severity=Severity.LOW if managed and brk is None else None,
        )


@register
class TlsSettings(DoctorCheck):
    """pip's TLS settings point at files that do not exist, or turn verification into a no-op.

    A ``cert`` (CA bundle) or ``client-cert`` path that does not exist makes every https request
    fail, which is how people end up adding ``trusted-host`` or switching to http. A CA bundle that
    anyone can write to lets them add their own CA and intercept pip's traffic.
    """

    id = "PW506"
    severity = Severity.MEDIUM
    title = "TLS certificate settings are broken"

    def run(self, ctx: DoctorContext) -> Iterable[Finding]:
        for key in ("cert", "client-cert"):
            s = ctx.config.effective(key)
            if s is None:
                continue
            path = Path(s.value.strip()).expanduser()
            if not path.exists():
                yield self.at(s, f"{key} = {s.value} ({s.where}) points to a file that does not exist; fix the path "
                                 "(or remove the line to use pip's bundled CA certificates)")
                continue
            try:
                mode = path.stat().st_mode
            except OSError:
                continue
            if mode & 0o002:
                yield self.at(s, f"{key} file {path} is world-writable ({s.where}): anyone can add a CA that pip "
                                 f"trusts; run 'chmod o-w {path}'", severity=Severity.HIGH)


@register
class VulnerablePip(DoctorCheck):
    """The pip that installs packages has known vulnerabilities.

    Several pip releases had flaws that a malicious index, requirements file or archive can use
    (for example files written outside the target directory, or VCS option injection). Upgrade pip
    inside the environment: ``python -m pip install --upgrade pip`` (or ``pipwarden install pip``).
    """

    id = "PW507"
    severity = Severity.HIGH
    title = "pip has known vulnerabilities"

    def run(self, ctx: DoctorContext) -> Iterable[Finding]:
        for v in ctx.pip_vulns or ():
            fix = f"; fixed in {', '.join(v.fix_versions)}" if v.fix_versions else "; no fixed version yet"
            names = ", ".join((v.id, *v.aliases[:2]))
            yield self.finding(
                f"pip {ctx.pip_version} in {ctx.env.prefix}: {names}: {v.summary or 'known vulnerability'}{fix}; "
                f"upgrade with '{ctx.env.executable} -m pip install --upgrade pip'",
                evidence=f"pip=={ctx.pip_version} ({ctx.vulndb_snapshot or 'vulnerability database'})",
                severity=v.severity or self.severity,
            )


@register
class UnreadableConfig(DoctorCheck):
    """A pip configuration file cannot be parsed; pip stops with an error (or, for some mistakes,
    silently uses other settings). Fix or remove the file."""

    id = "PW508"
    severity = Severity.MEDIUM
    title = "pip configuration file cannot be read"

    def run(self, ctx: DoctorContext) -> Iterable[Finding]:
        for f in ctx.config.files:
            if f.error:
                yield self.finding(f"{f.path}: {f.error}", file=str(f.path), evidence=f.error)


DOCTOR_CHECKS: tuple[type[DoctorCheck], ...] = (
    PlainHttpIndex, TrustedHost, ExtraIndexUrl, RequireHashesOff, PlaintextCredentials,
    OutsideVirtualenv, TlsSettings, VulnerablePip, UnreadableConfig,
)


# -- verify / lock: hash-locked requirements -----------------------------------------------


@register
class NotPinned(ConfigCheck):
    """A requirement in a lock is not pinned to one version with ``==`` (or ``===``).

    ``pip install --require-hashes`` rejects it, and without a pin the version installed tomorrow
    is not the one vetted today. Pin it (``pipwarden lock`` writes pinned, hashed files).
    """

    id = "PW520"
    severity = Severity.HIGH
    title = "requirement not pinned with =="


@register
class MissingHash(ConfigCheck):
    """A pinned requirement carries no ``--hash``: pip ``--require-hashes`` rejects the whole file,
    and without it any file that claims the version would be installed."""

    id = "PW521"
    severity = Severity.HIGH
    title = "requirement has no hash"


@register
class HashMatchesNothing(ConfigCheck):
    """A hash in the lock matches no file the index publishes for that version.

    Either the lock was edited (a tampered lock lets a different file in) or the index now
    serves different files than when the lock was made (a tampered index or a replaced file).
    Both mean the install cannot be trusted; it blocks.
    """

    id = "PW522"
    severity = Severity.CRITICAL
    title = "lock hash matches no published file"
    category = "integrity"


@register
class YankedPin(ConfigCheck):
    """A pinned file or release is yanked on the index.

    An exact pin still installs a yanked release (PEP 592), but a yank means its maintainers
    withdrew it — broken, insecure, or published by mistake. Move to a release that is not yanked.
    """

    id = "PW523"
    severity = Severity.HIGH
    title = "pinned release is yanked"


@register
class SinglePlatformHashes(ConfigCheck):
    """The lock's hashes cover the files of one platform only, though the release has files for others.

    The lock installs here, but ``--require-hashes`` fails on another OS, architecture or Python
    version, which tempts people to drop hash checking. ``pipwarden lock`` records every file.
    """

    id = "PW524"
    severity = Severity.LOW
    title = "hashes from only one platform"


@register
class VersionNotOnIndex(ConfigCheck):
    """The pinned version (or the project) does not exist on the configured index: the lock was made
    against another index, or the release was deleted. pip will fail, or find it elsewhere."""

    id = "PW525"
    severity = Severity.HIGH
    title = "pinned version not on the index"


@register
class SdistOnly(ConfigCheck):
    """A pinned package has no wheel for the target, only an sdist: installing it runs its
    ``setup.py`` (arbitrary code). ``pipwarden lock`` refuses it unless ``--allow-sdist NAME``,
    and ``pipwarden install`` only installs wheels."""

    id = "PW526"
    severity = Severity.MEDIUM
    title = "package is installable only from source"


@register
class UnusableLine(ConfigCheck):
    """A lock line pipwarden cannot verify: a URL, a local path, an editable install, or a
    requirement the audit sources skipped. It is reported with the reason."""

    id = "PW527"
    severity = Severity.MEDIUM
    title = "lock entry cannot be verified"


# -- verify --env: the installed environment ------------------------------------------------


@register
class InstalledFileModified(ConfigCheck):
    """An installed file no longer matches the hash its distribution's ``RECORD`` recorded at install.

    Someone or something changed it after installation — a local patch, another tool, or malware
    persisting inside a trusted package. Reinstall the distribution
    (``pip install --force-reinstall --no-deps NAME==VERSION``) and find out who changed it.
    """

    id = "PW540"
    severity = Severity.HIGH
    title = "installed file changed after install"
    category = "integrity"


@register
class InstalledFileMissing(ConfigCheck):
    """A file listed in a distribution's ``RECORD`` is missing: the installation is incomplete or was
    partly removed by hand."""

    id = "PW541"
    severity = Severity.LOW
    title = "installed file missing"
    category = "integrity"


@register
class UnrecordedFile(ConfigCheck):
    """A file in site-packages belongs to no installed distribution's ``RECORD``.

    Files dropped into site-packages outside pip (by an installer script, a build step, or malware)
    are imported like any other module. Python source and ``.pth`` files are reported at medium
    severity, other files at low.
    """

    id = "PW542"
    severity = Severity.LOW
    title = "file in site-packages owned by no distribution"
    category = "integrity"


@register
class PthExecutes(ConfigCheck):
    """A ``.pth`` file in site-packages has lines that Python executes at every interpreter start.

    Lines beginning with ``import`` run as code whenever Python starts in that environment —
    before any of your code, for every program. Legitimate tools use this (editable installs,
    coverage, setuptools' distutils shim); malware uses it for persistence. Each executable line is
    listed; one in a ``.pth`` file that no distribution owns, or whose hash does not match its
    ``RECORD``, is high severity; one installed intact by a distribution is low.
    """

    id = "PW543"
    severity = Severity.LOW
    title = ".pth file runs code at interpreter start"
    category = "code"


@register
class NoRecord(ConfigCheck):
    """An installed distribution has no ``RECORD`` (legacy egg-info or a hand-made install), so its
    files cannot be verified."""

    id = "PW544"
    severity = Severity.INFO
    title = "installed distribution has no RECORD"
    category = "integrity"
