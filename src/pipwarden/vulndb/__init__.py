"""The offline vulnerability and malware database: OSV's PyPI export, indexed into SQLite."""

from pipwarden.vulndb.osv import Advisory, Affected, affects, merge_aliases, parse_record
from pipwarden.vulndb.store import Match, NoDatabaseError, Snapshot, VulnDB, VulnDBError, default_db_path

__all__ = [
    "Advisory",
    "Affected",
    "Match",
    "NoDatabaseError",
    "Snapshot",
    "VulnDB",
    "VulnDBError",
    "affects",
    "default_db_path",
    "merge_aliases",
    "parse_record",
]
