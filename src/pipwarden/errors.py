"""One exception root for the whole package, one subclass per seam.

Library code raises these (always ``raise ... from e``); only the CLI turns them into
a one-line message and exit code 2.
"""

from __future__ import annotations


class PipwardenError(Exception):
    """Root of every error pipwarden raises on purpose."""


class UsageError(PipwardenError):
    """The user asked for something that cannot be done as asked (bad target, bad option)."""


class IndexClientError(PipwardenError):
    """Talking to the package index failed (network, HTTP status, malformed response)."""


class NotFoundError(IndexClientError):
    """The index has no such project, version or file."""


class IntegrityError(PipwardenError):
    """Downloaded bytes do not match the digest the index published."""

    def __init__(self, message: str, *, filename: str = "", expected: str = "", actual: str = "") -> None:
        super().__init__(message)
        self.filename = filename
        self.expected = expected
        self.actual = actual


class ArchiveError(PipwardenError):
    """An archive cannot be read at all (truncated, corrupt, not an archive)."""


class SourceError(PipwardenError):
    """A package list (requirements, lock, pyproject, environment) cannot be read."""


class ConfigError(PipwardenError):
    """The [tool.pipwarden] configuration is invalid."""


class CheckError(PipwardenError):
    """A check failed on an input it should have reported on (a defect in pipwarden, not in the input).

    The package is reported as an error, naming the check; the scan goes on."""
