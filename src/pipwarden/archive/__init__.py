"""Reading wheels and sdists as hostile input."""

from pipwarden.archive.reader import (
    Archive,
    ArchiveLimits,
    Member,
    Problem,
    is_archive_name,
    read_archive,
)

__all__ = ["Archive", "ArchiveLimits", "Member", "Problem", "is_archive_name", "read_archive"]
