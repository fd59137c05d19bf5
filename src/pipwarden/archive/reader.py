"""Read wheels and sdists as hostile input: streaming, in memory, never extracted to disk.

The reader records *facts* about an archive (its members, their kinds, hashes and the
problems met while reading); checks turn facts into findings. Only an archive that
cannot be read at all raises :class:`~pipwarden.errors.ArchiveError`.

Memory is bounded: a member's bytes are kept only when it is small enough to analyse
(``max_member_read``) and while the kept total stays under ``max_kept_total``; larger
members are streamed through sha256 and dropped. A 1 GB wheel therefore costs the
central directory plus the analysed text, not 1 GB.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from pipwarden.errors import ArchiveError

MemberKind = Literal["file", "dir", "symlink", "hardlink", "device", "fifo", "other"]
ProblemKind = Literal[
    "too-many-members",
    "too-large",
    "compression-ratio",
    "corrupt-member",
    "duplicate-member",
    "nesting-too-deep",
]

_CHUNK = 1 << 16
NESTED_SUFFIXES = (".whl", ".zip", ".egg", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
SUPPORTED_SUFFIXES = (".whl", ".zip", ".egg", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")

# Everything the standard library may raise on a malformed zip or tar stream.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    UnicodeDecodeError,
    OverflowError,
    IndexError,
    KeyError,
    TypeError,
)


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_members: int = 50_000
    max_total_size: int = 4 << 30  # uncompressed bytes read across all members
    max_member_read: int = 8 << 20  # keep a member's bytes for analysis up to this size
    max_kept_total: int = 512 << 20  # bytes kept in memory across members
    max_ratio: float = 250.0  # uncompressed / compressed, judged once past ratio_floor
    ratio_floor: int = 16 << 20
    max_depth: int = 2  # nested archives read inside archives


@dataclass(frozen=True, slots=True)
class Member:
    """One entry of an archive. ``data`` is None for members too large to analyse."""

    name: str
    kind: MemberKind
    size: int
    sha256: str | None = None
    data: bytes | None = None
    linkname: str | None = None
    mode: int | None = None
    compressed_size: int | None = None

    @property
    def is_file(self) -> bool:
        return self.kind == "file"

    def text(self) -> str | None:
        """The member decoded as UTF-8 (latin-1 as a fallback), or None when not kept."""
        if self.data is None:
            return None
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            return self.data.decode("latin-1")


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    member: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Archive:
    filename: str
    format: Literal["zip", "tar"]
    members: tuple[Member, ...]
    problems: tuple[Problem, ...] = ()
    compressed_size: int = 0

    def files(self) -> Iterator[Member]:
        return (m for m in self.members if m.kind == "file")

    def get(self, name: str) -> Member | None:
        for m in self.members:
            if m.name == name:
                return m
        return None

    @property
    def root(self) -> str:
        """The common top directory of an sdist (``pkg-1.0/``), or '' when there is none."""
        tops = {m.name.split("/", 1)[0] for m in self.members if "/" in m.name}
        loose = [m for m in self.members if "/" not in m.name and m.kind != "dir"]
        if len(tops) == 1 and not loose:
            return tops.pop() + "/"
        return ""


@dataclass
class _Budget:
    limits: ArchiveLimits
    members: int = 0
    total: int = 0
    kept: int = 0
    problems: list[Problem] = field(default_factory=list)
    stopped: bool = False

    def stop(self, kind: ProblemKind, member: str | None, detail: str) -> None:
        self.problems.append(Problem(kind, member, detail))
        self.stopped = True


def is_archive_name(filename: str) -> bool:
    return filename.lower().endswith(SUPPORTED_SUFFIXES)


def read_archive(
    source: Path | bytes, filename: str | None = None, limits: ArchiveLimits | None = None
) -> Archive:
    """Read an archive from a path or from bytes. Raises ArchiveError when it is unreadable."""
    limits = limits or ArchiveLimits()
    if isinstance(source, Path):
        name = filename or source.name
        try:
            size = source.stat().st_size
            with source.open("rb") as fh:
                return _read(fh, name, size, _Budget(limits), depth=0, prefix="")
        except ArchiveError:
            raise
        except OSError as e:
            raise ArchiveError(f"{name}: cannot open: {e.strerror or e}") from e
    name = filename or "<bytes>"
    return _read(io.BytesIO(source), name, len(source), _Budget(limits), depth=0, prefix="")


def _sniff(fh: IO[bytes]) -> Literal["zip", "tar"]:
    head = fh.read(512)
    fh.seek(0)
    if not head:
        raise ArchiveError("empty file")
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return "tar"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    raise ArchiveError("not a zip or tar archive (unknown file signature)")


def _read(fh: IO[bytes], filename: str, size: int, budget: _Budget, depth: int, prefix: str) -> Archive:
    try:
        fmt = _sniff(fh)
    except ArchiveError as e:
        raise ArchiveError(f"{filename}: {e}") from None
    try:
        members = _read_zip(fh, budget, depth, prefix) if fmt == "zip" else _read_tar(fh, budget, depth, prefix)
    except ArchiveError as e:
        raise ArchiveError(f"{filename}: {e}") from e
    except _READ_ERRORS as e:
        raise ArchiveError(f"{filename}: truncated or corrupt {fmt} archive ({_describe(e)})") from e
    except MemoryError as e:
        raise ArchiveError(f"{filename}: archive needs more memory than allowed") from e
    return Archive(filename, fmt, tuple(members), tuple(budget.problems), size)


def _describe(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:200]


def _stream(
    raw: IO[bytes], name: str, budget: _Budget, inflated: Callable[[int], bool]
) -> tuple[str | None, bytes | None, int]:
    """Hash a member's bytes while reading; keep them when small enough. Never trusts headers."""
    limits = budget.limits
    digest = hashlib.sha256()
    keep = bytearray()
    keeping = True
    n = 0
    while True:
        chunk = raw.read(_CHUNK)
        if not chunk:
            break
        n += len(chunk)
        budget.total += len(chunk)
        digest.update(chunk)
        if keeping:
            if n <= limits.max_member_read and budget.kept + len(keep) + len(chunk) <= limits.max_kept_total:
                keep += chunk
            else:
                keeping = False
                keep = bytearray()
        if budget.total > limits.max_total_size:
            budget.stop("too-large", name, f"more than {limits.max_total_size} bytes uncompressed")
            return None, None, n
        if n > limits.ratio_floor and inflated(n):
            budget.stop("compression-ratio", name, f"inflates beyond {limits.max_ratio:.0f}x its compressed size")
            return None, None, n
    if keeping:
        budget.kept += len(keep)
        return digest.hexdigest(), bytes(keep), n
    return digest.hexdigest(), None, n


def _count(budget: _Budget, name: str) -> bool:
    budget.members += 1
    if budget.members > budget.limits.max_members:
        budget.stop("too-many-members", name, f"more than {budget.limits.max_members} members")
        return False
    return True


def _nested(member: Member, budget: _Budget, depth: int, prefix: str) -> list[Member]:
    """Read an archive inside the archive, its member names prefixed with ``outer!/``."""
    if member.data is None or not member.name.lower().endswith(NESTED_SUFFIXES):
        return []
    if depth + 1 > budget.limits.max_depth:
        budget.problems.append(Problem("nesting-too-deep", member.name, f"archive nested deeper than {depth}"))
        return []
    inner = io.BytesIO(member.data)
    try:
        fmt = _sniff(inner)
    except ArchiveError:
        return []  # named like an archive but is not one (test data, fixtures): just a file
    try:
        inner_prefix = f"{member.name}!/"
        if fmt == "zip":
            return _read_zip(inner, budget, depth + 1, inner_prefix)
        return _read_tar(inner, budget, depth + 1, inner_prefix)
    except (ArchiveError, *_READ_ERRORS) as e:  # type: ignore[misc]
        budget.problems.append(Problem("corrupt-member", member.name, f"nested archive unreadable: {_describe(e)}"))
        return []


def _above(ceiling: float) -> Callable[[int], bool]:
    return lambda n: n > ceiling


def _zip_kind(info: zipfile.ZipInfo) -> tuple[MemberKind, int | None]:
    mode = (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0
    if mode:
        if stat.S_ISLNK(mode):
            return "symlink", mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return "device", mode
        if stat.S_ISFIFO(mode):
            return "fifo", mode
    if info.is_dir():
        return "dir", mode or None
    return "file", mode or None


def _read_zip(fh: IO[bytes], budget: _Budget, depth: int, prefix: str) -> list[Member]:
    out: list[Member] = []
    seen: set[str] = set()
    with zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            if budget.stopped:
                break
            name = prefix + info.filename.replace("\\", "/")
            if not _count(budget, name):
                break
            if name in seen:
                budget.problems.append(Problem("duplicate-member", name, "the same path appears twice"))
            seen.add(name)
            kind, mode = _zip_kind(info)
            if kind == "symlink":
                with zf.open(info) as raw:
                    target = raw.read(4096).decode("utf-8", "replace")
                out.append(Member(name, kind, info.file_size, linkname=target, mode=mode))
                continue
            if kind != "file":
                out.append(Member(name, kind, 0, mode=mode))
                continue
            try:
                with zf.open(info) as raw:
                    ceiling = budget.limits.max_ratio * max(info.compress_size, 1)
                    sha, data, n = _stream(raw, name, budget, _above(ceiling))
            except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, RuntimeError) as e:
                budget.problems.append(Problem("corrupt-member", name, _describe(e)))
                out.append(Member(name, "file", info.file_size, mode=mode, compressed_size=info.compress_size))
                continue
            member = Member(name, "file", n, sha, data, mode=mode, compressed_size=info.compress_size)
            out.append(member)
            out.extend(_nested(member, budget, depth, prefix))
    return out


def _tar_kind(ti: tarfile.TarInfo) -> MemberKind:
    if ti.isreg():
        return "file"
    if ti.isdir():
        return "dir"
    if ti.issym():
        return "symlink"
    if ti.islnk():
        return "hardlink"
    if ti.ischr() or ti.isblk():
        return "device"
    if ti.isfifo():
        return "fifo"
    return "other"


class _CountingReader(io.RawIOBase):
    """Counts compressed bytes consumed, so the tar reader can judge the overall ratio."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(b))
        n = len(data)
        b[:n] = data
        self.consumed += n
        return n


def _open_tar_stream(fh: IO[bytes]) -> tuple[tarfile.TarFile, _CountingReader]:
    counter = _CountingReader(fh)
    # Stream mode ("r|*") reads forwards only and picks gzip, bz2 or xz from the header.
    return tarfile.open(fileobj=io.BufferedReader(counter, _CHUNK), mode="r|*"), counter


def _tar_inflated(budget: _Budget, counter: _CountingReader) -> bool:
    return budget.total > budget.limits.ratio_floor and budget.total > counter.consumed * budget.limits.max_ratio


def _read_tar(fh: IO[bytes], budget: _Budget, depth: int, prefix: str) -> list[Member]:
    out: list[Member] = []
    seen: set[str] = set()
    tf, counter = _open_tar_stream(fh)
    with tf:
        for ti in tf:
            if budget.stopped:
                break
            name = prefix + ti.name.replace("\\", "/")
            if not _count(budget, name):
                break
            if name in seen:
                budget.problems.append(Problem("duplicate-member", name, "the same path appears twice"))
            seen.add(name)
            kind = _tar_kind(ti)
            if kind != "file":
                link = ti.linkname if kind in ("symlink", "hardlink") else None
                out.append(Member(name, kind, 0, linkname=link, mode=ti.mode))
                continue
            raw = tf.extractfile(ti)
            if raw is None:
                out.append(Member(name, "other", 0, mode=ti.mode))
                continue
            before = counter.consumed
            sha, data, n = _stream(raw, name, budget, lambda _n: _tar_inflated(budget, counter))
            if budget.stopped:
                break
            out.append(Member(name, "file", n, sha, data, mode=ti.mode, compressed_size=counter.consumed - before))
            out.extend(_nested(out[-1], budget, depth, prefix))
    return out
