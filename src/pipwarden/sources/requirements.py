"""requirements.txt (pip's format): nested ``-r``/``-c``, ``--hash``, markers, extras, direct references.

Follows pip's rules for the parts that decide *what* gets installed: backslash continuations,
`` #`` comments, ``-r``/``-c`` paths relative to the including file, per-requirement ``--hash``,
markers evaluated for the target interpreter (a requirement whose marker is false on the target
is not part of the audit), constraints that pin an otherwise unpinned requirement. Editable
installs, VCS and remote URLs are reported as skipped with the reason; a path or ``file:`` URL
to a local wheel or sdist is scanned as that file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PepRequirement
from packaging.utils import canonicalize_name

from pipwarden.archive import is_archive_name
from pipwarden.errors import SourceError
from pipwarden.index.models import parse_filename
from pipwarden.models import PackageRef, Skipped
from pipwarden.sources.base import Source, TargetPython, origin
from pipwarden.vulndb.match import Requirement

_COMMENT = re.compile(r"(^|\s+)#.*$")
# Options that apply to the whole install, not to a package: accepted and ignored.
_GLOBAL_OPTIONS = {
    "-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links", "--trusted-host",
    "--no-binary", "--only-binary", "--prefer-binary", "--pre", "--require-hashes", "--use-feature",
    "--config-settings", "-C", "--global-option", "--install-option",
}
_GLOBAL_WITH_VALUE = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--no-binary",
    "--only-binary", "--use-feature", "--config-settings", "-C", "--global-option", "--install-option",
}
_PER_REQ_SPLIT = re.compile(r"\s+(?=--?(?:hash|global-option|install-option|config-settings|C)\b)")
_HASH = re.compile(r"--hash(?:=|\s+)(\S+)")


@dataclass(frozen=True)
class _Line:
    path: Path
    lineno: int
    text: str


def logical_lines(text: str, path: Path) -> Iterator[_Line]:
    """Join backslash continuations, drop comments and blank lines; keep the first line number."""
    buf: list[str] = []
    start = 0
    for i, raw in enumerate(text.splitlines(), start=1):
        if not buf:
            start = i
        line = raw
        if line.endswith("\\") and not _COMMENT.search(line):
            buf.append(line[:-1])
            continue
        buf.append(line)
        joined = _COMMENT.sub("", " ".join(buf)).strip()
        buf = []
        if joined:
            yield _Line(path, start, joined)
    if buf:
        joined = _COMMENT.sub("", " ".join(buf)).strip()
        if joined:
            yield _Line(path, start, joined)


def _option(text: str, names: tuple[str, ...]) -> str | None:
    for name in names:
        if text == name:
            return ""
        if text.startswith(name + "=") or (text.startswith(name) and text[len(name)] in " \t"):
            return text[len(name) + 1 :].strip()
    return None


def _is_direct(text: str) -> bool:
    return (
        text.startswith((".", "/", "~"))
        or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) is not None
        or bool(re.match(r"^[A-Za-z]:[\\/]", text))
        or (is_archive_name(text.split(";", 1)[0].strip()) and "==" not in text)
    )


def _local_path(url_or_path: str, base: Path) -> Path | None:
    if url_or_path.startswith("file:"):
        parts = urlsplit(url_or_path)
        return Path(unquote(parts.path))
    if "://" in url_or_path:
        return None
    p = Path(url_or_path).expanduser()
    return p if p.is_absolute() else base / p


class RequirementsSource(Source):
    kind = "requirements"

    def __init__(self, path: Path, target: TargetPython | None = None) -> None:
        super().__init__(path, target)
        self._seen: set[Path] = set()

    def packages(self) -> Iterator[PackageRef | Skipped]:
        items = list(self._parse(self.path, constraint=False))
        pins = {r.name: r.specifier for r in self.requirements if r.by.startswith("constraint ")}
        for item in items:
            if isinstance(item, PackageRef) and item.version is None and item.path is None:
                pinned = pins.get(item.name, "")
                version = _pinned_version(pinned)
                if version:
                    item = PackageRef(item.name, version, f"=={version}", None, item.origin, item.line, item.hashes,
                                      item.marker)
            yield item

    def _read(self, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise SourceError(f"{path}: no such file") from e
        except UnicodeDecodeError as e:
            raise SourceError(f"{path}: not UTF-8 text") from e
        except OSError as e:
            raise SourceError(f"{path}: cannot read: {e.strerror or e}") from e

    def _parse(self, path: Path, *, constraint: bool) -> Iterator[PackageRef | Skipped]:
        key = path.resolve()
        if key in self._seen:
            return
        self._seen.add(key)
        for line in logical_lines(self._read(path), path):
            yield from self._line(line, constraint=constraint)

    def _line(self, line: _Line, *, constraint: bool) -> Iterator[PackageRef | Skipped]:
        text = line.text
        where = origin(line.path, line.lineno)
        nested = _option(text, ("-r", "--requirement"))
        if nested is not None:
            yield from self._nested(line, nested, constraint=constraint)
            return
        nested = _option(text, ("-c", "--constraint"))
        if nested is not None:
            yield from self._nested(line, nested, constraint=True)
            return
        editable = _option(text, ("-e", "--editable"))
        if editable is not None:
            if not constraint:
                yield Skipped(_guess_name(editable), f"editable install ({editable}): a local checkout, not a "
                              "release pipwarden can scan", where, line.lineno)
            return
        if text.startswith("-"):
            opt = text.split("=", 1)[0].split(None, 1)[0]
            if opt in _GLOBAL_OPTIONS or opt in _GLOBAL_WITH_VALUE:
                return
            raise SourceError(f"{where}: unknown option {opt!r}")
        req_text, *opts = _PER_REQ_SPLIT.split(text)
        hashes = tuple(h for o in opts for h in _HASH.findall(o))
        req_text = req_text.strip()
        if _is_direct(req_text):
            if not constraint:
                yield self._direct(req_text, None, line, hashes)
            return
        try:
            req = PepRequirement(req_text)
        except InvalidRequirement as e:
            if constraint:
                return
            why = str(e).splitlines()[0]
            yield Skipped(_guess_name(req_text), f"cannot parse requirement {req_text!r}: {why}", where, line.lineno)
            return
        name = canonicalize_name(req.name)
        marker = str(req.marker) if req.marker else None
        if not self.target.evaluate(marker):
            return
        spec = str(req.specifier)
        if constraint:
            self.requirements.append(Requirement(name, spec, f"constraint {where}"))
            return
        if req.url:
            yield self._direct(req.url, name, line, hashes)
            return
        self.requirements.append(Requirement(name, spec, f"the project ({where})"))
        version = _pinned_version(spec)
        yield PackageRef(name=name, version=version, specifier=spec, origin=where, line=line.lineno,
                         hashes=_norm_hashes(hashes), marker=marker)

    def _nested(self, line: _Line, target: str, *, constraint: bool) -> Iterator[PackageRef | Skipped]:
        if not target:
            raise SourceError(f"{origin(line.path, line.lineno)}: {line.text.split()[0]} needs a file name")
        if "://" in target:
            yield Skipped(target, "remote requirements file not fetched", origin(line.path, line.lineno), line.lineno)
            return
        nested = Path(target)
        if not nested.is_absolute():
            nested = line.path.parent / nested
        if not nested.is_file():
            raise SourceError(f"{origin(line.path, line.lineno)}: {target}: no such file")
        yield from self._parse(nested, constraint=constraint)

    def _direct(self, url: str, name: str | None, line: _Line, hashes: tuple[str, ...]) -> PackageRef | Skipped:
        where = origin(line.path, line.lineno)
        url = url.split(";", 1)[0].strip()
        local = _local_path(url, line.path.parent)
        shown = name or _guess_name(url)
        if local is not None and local.is_file() and is_archive_name(local.name):
            parsed = parse_filename(local.name)
            return PackageRef(name=parsed[0] if parsed else (name or local.name),
                              version=str(parsed[1]) if parsed else None, path=local, origin=where,
                              line=line.lineno, hashes=_norm_hashes(hashes))
        if local is not None and local.is_dir():
            reason = f"local project directory {url}: would be built to install; pipwarden does not build"
        elif local is not None:
            reason = f"{url}: no such file"
        elif re.match(r"^[a-z]+\+", url):
            reason = f"VCS reference {url}: not a release pipwarden can scan"
        else:
            reason = f"remote URL {url}: pipwarden scans index releases and local files; download it and audit the file"
        return Skipped(shown, reason, where, line.lineno)


def _pinned_version(spec: str) -> str | None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        items = list(SpecifierSet(spec))
    except InvalidSpecifier:
        return None
    if len(items) == 1 and items[0].operator in ("==", "===") and "*" not in items[0].version:
        return items[0].version
    return None


def _norm_hashes(hashes: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for h in hashes:
        algo, sep, digest = h.partition(":")
        if sep:
            out.append(f"{algo.lower()}:{digest.lower()}")
    return tuple(out)


def _guess_name(text: str) -> str:
    m = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", text)
    if m:
        return canonicalize_name(m.group(1))
    base = text.rstrip("/").rsplit("/", 1)[-1].split(";", 1)[0].strip()
    parsed = parse_filename(base)
    if parsed:
        return parsed[0]
    head = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", base)
    return canonicalize_name(head.group(0)) if head else (base or text)
