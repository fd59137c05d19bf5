"""pipwarden rules: list every check with its ID, severity and documentation."""

from __future__ import annotations

import argparse

HELP = "list the checks pipwarden runs, with IDs, severities and documentation"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="*", metavar="ID", help="show the full documentation of these checks")
    p.add_argument("--format", choices=["table", "json", "markdown"], default="table", help="output format")


def run(args: argparse.Namespace) -> int:
    import json

    from pipwarden.checks.base import all_checks, get_check
    from pipwarden.errors import UsageError

    if args.ids:
        checks = []
        for cid in args.ids:
            c = get_check(cid.upper())
            if c is None:
                raise UsageError(f"no check with ID {cid!r} (see 'pipwarden rules')")
            checks.append(c)
    else:
        checks = all_checks()
    if args.format == "json":
        rows = [
            {"id": c.id, "severity": c.severity.label, "category": c.category, "title": c.title, "doc": c.doc()}
            for c in checks
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if args.format == "markdown" and not args.ids:
        print("| ID | severity | kind | title |\n|---|---|---|---|")
    if args.format == "markdown" or args.ids:
        for c in checks:
            if args.format == "markdown" and not args.ids:
                print(f"| {c.id} | {c.severity.label} | {c.category} | {c.title} |")
            else:
                print(f"{c.id}  [{c.severity.label}, {c.category}]  {c.title}\n")
                print(c.doc() + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pipwarden checks")
    for col in ("ID", "severity", "category", "title"):
        table.add_column(col)
    for c in checks:
        table.add_row(c.id, c.severity.label, c.category, c.title)
    Console().print(table)
    return 0
