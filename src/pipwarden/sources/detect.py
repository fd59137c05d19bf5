"""Which Source a path means: a file by its name, a directory by what it holds."""

from __future__ import annotations

from pathlib import Path

from pipwarden.errors import SourceError
from pipwarden.sources.base import Source, TargetPython

# Most precise first: a lock pins everything; pyproject.toml only declares ranges.
DIRECTORY_ORDER = ("pylock.toml", "uv.lock", "poetry.lock", "Pipfile.lock", "requirements.txt", "pyproject.toml")


def source_for_file(path: Path, target: TargetPython | None = None) -> Source:
    from pipwarden.sources.locks import PipfileLockSource, PoetryLockSource, PylockSource, UvLockSource
    from pipwarden.sources.pyproject import PyprojectSource
    from pipwarden.sources.requirements import RequirementsSource

    name = path.name
    if name == "pyproject.toml":
        return PyprojectSource(path, target)
    if name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml")):
        return PylockSource(path, target)
    if name == "uv.lock":
        return UvLockSource(path, target)
    if name == "poetry.lock":
        return PoetryLockSource(path, target)
    if name == "Pipfile.lock":
        return PipfileLockSource(path, target)
    if name.endswith((".txt", ".in")) or "requirements" in name:
        return RequirementsSource(path, target)
    raise SourceError(
        f"{path}: not a file pipwarden can audit (requirements*.txt, pyproject.toml, pylock.toml, uv.lock, "
        "poetry.lock, Pipfile.lock)"
    )


def detect(path: Path, target: TargetPython | None = None) -> Source:
    """The source for PATH: a file by name, or the most precise package list in a directory."""
    if path.is_file():
        return source_for_file(path, target)
    if path.is_dir():
        for name in DIRECTORY_ORDER:
            if (path / name).is_file():
                return source_for_file(path / name, target)
        locks = sorted(path.glob("pylock.*.toml"))
        if locks:
            return source_for_file(locks[0], target)
        raise SourceError(
            f"{path}: no requirements.txt, pyproject.toml or lock file here "
            "(name a file, or use --env / --python to audit an environment)"
        )
    raise SourceError(f"{path}: no such file or directory")
