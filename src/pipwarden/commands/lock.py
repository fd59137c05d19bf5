"""pipwarden lock: resolve without running package code, hash every file, vet, then write the lock."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from pipwarden.commands import common

HELP = "resolve requirements (no builds), hash every file of each pin, vet them, write a hash lock"
DESCRIPTION = """\
Resolve REQUIREMENTS_IN with 'uv pip compile' with builds forbidden (no setup.py runs; a package with
only an sdist is refused unless --allow-sdist NAME, and even then it is not built: its static metadata
is read from the archive). Then record the sha256 of EVERY file of each pinned release (all platforms
and the sdist, unless --python-version / --platform narrow it), vet every pinned package with the scan
and the vulnerability database, and write the lock only when nothing is blocked (--force writes it
with the findings as comments). The lock names the policy and the database snapshot it was vetted
with. Exit code: 0 written, 1 blocked (nothing written), 2 error."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("requirements_in", type=Path, metavar="REQUIREMENTS_IN", help="requirements to resolve (.in)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the lock here (default: stdout)")
    p.add_argument("--format", choices=["requirements", "pylock"], default=None,
                   help="requirements.txt with --hash lines, or PEP 751 pylock.toml (default: from -o's name)")
    p.add_argument("--allow-sdist", action="append", default=[], metavar="NAME",
                   help="allow NAME to be locked from its sdist (its static metadata is read; nothing is built)")
    p.add_argument("--python-version", metavar="X.Y", help="resolve for this Python version (default: this one)")
    p.add_argument("--platform", metavar="PLATFORM",
                   help="resolve for this platform (uv's --python-platform: linux, macos, windows, "
                        "x86_64-unknown-linux-gnu, ...) and record only its files")
    p.add_argument("--universal", action="store_true", help="one lock for every platform (uv --universal)")
    p.add_argument("--force", action="store_true", help="write the lock even when something is blocked")
    p.add_argument("--no-vet", action="store_true", help="skip vetting (the lock says so)")
    common.add_index_options(p)
    common.add_policy_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def stage_printer(quiet: bool) -> Callable[[str], None]:
    if quiet:
        return lambda _m: None
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    return lambda msg: console.print(f"[bold cyan]•[/] {msg}")


def run(args: argparse.Namespace) -> int:
    import sys

    from pipwarden.install.lockfile import lock_format
    from pipwarden.install.pipeline import lock
    from pipwarden.install.render import print_findings

    fmt = args.format or ("pylock" if args.output and (lock_format(args.output) == "pylock"
                                                       or args.output.suffix == ".toml") else "requirements")
    options = common.scan_options(args)
    command = "pipwarden lock " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "pipwarden lock"
    say = stage_printer(args.quiet)
    result = lock(args.requirements_in, args.output, options=options, fmt=fmt, allow_sdist=args.allow_sdist,
                  python_version=args.python_version, platform=args.platform, universal=args.universal,
                  force=args.force, vet_packages=not args.no_vet, command=command, stage=say)
    for note in result.notes:
        say(note)
    say("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))
    hashes = sum(len(p.files) for p in result.pins)
    if result.blocked:
        blocked = [p for p in result.pins if f"{p.name}=={p.version}" in result.blocked]
        for p in blocked:
            print_findings(p.findings, header=f"[bold red]BLOCKED[/] {p.name}=={p.version}", show_why=False)
        if not result.written:
            print(f"pipwarden: lock NOT written: {len(blocked)} of {len(result.pins)} packages blocked "
                  f"({', '.join(result.blocked)}); fix them or pass --force to write with the findings as comments",
                  file=sys.stderr)
            return 1
    if args.output is None:
        if not result.blocked or args.force:
            sys.stdout.write(result.text)
    else:
        verdicts: dict[str, int] = {}
        if result.vetting is not None:
            for v in result.vetting.verdicts.values():
                verdicts[v] = verdicts.get(v, 0) + 1
        vetted = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())) or "not vetted"
        say(f"wrote {args.output}: {len(result.pins)} packages, {hashes} file hashes ({vetted})")
    return 1 if result.blocked else 0
