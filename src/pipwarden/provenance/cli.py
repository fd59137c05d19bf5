"""Command-line options for provenance, shared by the commands that scan.

``add_provenance_arguments(parser)`` adds the flags; ``with_provenance_options(options, args)``
folds them (and ``require-provenance`` from ``[tool.pipwarden]``) into ``ScanOptions.check_options``.
Only argparse at module level: ``pipwarden --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipwarden.scan import ScanOptions


def add_provenance_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("provenance (PEP 740 attestations)")
    g.add_argument("--provenance", action="append", type=Path, default=[], metavar="FILE",
                   help="verify local files against this saved provenance document (repeatable; works --offline)")
    g.add_argument("--expect-publisher", action="append", default=[], metavar="[NAME=]KIND:WHO",
                   help="pin the publisher, e.g. github:OWNER/REPO (for every package, or NAME's); repeatable")
    g.add_argument("--require-provenance", action="append", default=[], metavar="NAME",
                   help="block NAME when it has no verified provenance ('*' for every package); repeatable")
    g.add_argument("--pins-from", type=Path, metavar="LOCK",
                   help="read publisher pins from pylock.toml attestation-identities or requirements comments")


def provenance_check_options(args: argparse.Namespace, require: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The check options the PW4xx checks read (see pipwarden.provenance.evaluate).

    Raises ProvenanceError / UsageError now, before any scanning, for an unreadable or malformed
    provenance file and for malformed identities.
    """
    from pipwarden.provenance.fetch import load_provenance_file
    from pipwarden.provenance.pins import parse_expect_publisher, read_lock_identities

    opts: dict[str, Any] = {
        "offline": bool(getattr(args, "offline", False)),
        "provenance_docs": [(str(path), load_provenance_file(path)) for path in getattr(args, "provenance", [])],
        "expect_publisher": parse_expect_publisher(getattr(args, "expect_publisher", [])),
        "require_provenance": sorted(set(getattr(args, "require_provenance", [])) | set(require)),
        "cache_dir": getattr(args, "cache_dir", None),
        "use_cache": not getattr(args, "no_cache", False),
    }
    lock = getattr(args, "pins_from", None)
    if lock is not None:
        opts["lock_identities"] = read_lock_identities(lock)
        opts["lock_source"] = lock.name
    return opts


def with_provenance_options(options: ScanOptions, args: argparse.Namespace) -> ScanOptions:
    """``options`` with the provenance flags and ``require-provenance`` from the config folded in."""
    from dataclasses import replace

    from pipwarden.config import load_settings

    settings = load_settings(explicit=getattr(args, "config", None))
    extra = provenance_check_options(args, settings.require_provenance)
    return replace(options, check_options={**options.check_options, **extra})
