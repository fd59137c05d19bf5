"""pipwarden scan: vet packages or artifacts end to end, without running them."""

from __future__ import annotations

import argparse

from pipwarden.commands import common

HELP = "vet packages from the index, or local wheels and sdists: pass, warn or block, and why"
DESCRIPTION = """\
Vet each TARGET without running it. A target is a project name (newest release), NAME==VERSION,
a requirement specifier ('requests>=2,<3': newest matching release that is not yanked), a local
wheel or sdist (.whl, .tar.gz, .tar.bz2, .tar.xz, .zip) or a directory of them.

By default the file pip would install on this interpreter is scanned (best wheel, else the sdist);
--artifacts all scans the sdist and every wheel. Exit code: 0 nothing at or above the fail
threshold, 1 something blocked, 2 error."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("targets", nargs="+", metavar="TARGET", help="package name, requirement, file or directory")
    p.add_argument("--artifacts", choices=["best", "all"], default="best",
                   help="best: the file pip would install here (default); all: the sdist and every wheel")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="worker processes for local files (default: one per core)")
    common.add_index_options(p)
    common.add_policy_options(p)
    from pipwarden.provenance.cli import add_provenance_arguments

    add_provenance_arguments(p)
    common.add_output_options(p, ["table", "json"])


def run(args: argparse.Namespace) -> int:
    from pipwarden.scan import expand_targets, scan

    options = common.scan_options(args)
    from pipwarden.provenance.cli import with_provenance_options

    options = with_provenance_options(options, args)
    refs = expand_targets(args.targets)
    with common.ProgressBar(len(refs), "scanning", enabled=not args.quiet) as progress:
        report = scan(refs, options, progress)
    common.emit(report, args)
    common.report_errors(report)
    return common.exit_code(report)
