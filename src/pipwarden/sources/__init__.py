"""Where package lists come from: requirements files, pyproject.toml, lock files, environments.

Each is a :class:`Source` whose ``packages()`` yields ``PackageRef`` (to vet) or ``Skipped``
(cannot be vetted, with the reason). ``detect(path)`` picks the right one.
"""

from pipwarden.sources.base import Source, TargetPython
from pipwarden.sources.detect import detect, source_for_file

__all__ = ["Source", "TargetPython", "detect", "source_for_file"]
