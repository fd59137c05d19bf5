"""pipwarden db: download the OSV vulnerability database and show which snapshot is in use."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "download or inspect the local vulnerability and malware database (OSV PyPI export)"
DESCRIPTION = (
    "Manage the offline copy of the OSV database for PyPI that 'pipwarden audit' matches against. "
    "'db update' downloads the export (or indexes a zip you already have, --file) into the cache; "
    "'db status' shows the snapshot's date and digest."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = sub.add_parser("update", help="download the OSV PyPI export and build the local index")
    src = up.add_mutually_exclusive_group()
    src.add_argument("--url", help="where to download all.zip from (default: OSV's public export for PyPI)")
    src.add_argument("--file", type=Path, help="build from a local all.zip instead of downloading")
    for q in (up, sub.add_parser("status", help="show the snapshot date, digest and location of the database")):
        q.add_argument("--cache-dir", type=Path,
                       help="cache directory (default: pipwarden's cache; env PIPWARDEN_CACHE_DIR)")
        q.add_argument("--format", choices=["text", "json"], default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    import json

    from pipwarden.vulndb.store import VulnDB, default_db_path

    db_path = default_db_path(args.cache_dir)
    if args.db_command == "update":
        from pipwarden.vulndb.update import update

        snap = update(url=args.url, file=args.file, db_path=db_path)
    else:
        snap = VulnDB(db_path).snapshot
    if args.format == "json":
        print(json.dumps({**snap.to_json(), "path": str(db_path)}, indent=2))
        return 0
    verb = "built" if args.db_command == "update" else "database"
    print(f"{verb}: {db_path}")
    print(f"snapshot: {snap.date}")
    print(f"sha256:   {snap.sha256}")
    print(f"source:   {snap.source}")
    print(f"records:  {snap.records} advisories ({snap.withdrawn} withdrawn, ignored)")
    print(f"indexed:  {snap.built}")
    return 0
