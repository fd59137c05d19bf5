"""Options shared by the commands that scan (scan, audit, lock, install), and their plumbing.

Nothing heavy is imported at module level: argument definitions only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipwarden.config import Settings
    from pipwarden.models import Report
    from pipwarden.policy import Policy
    from pipwarden.scan import Progress, ScanOptions

SEVERITIES = ["critical", "high", "medium", "low", "info"]


def add_index_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("index and cache")
    g.add_argument("-i", "--index-url", metavar="URL",
                   help="simple API of the package index (default: pip's configured index, else pip's default)")
    g.add_argument("--allow-insecure-index", action="store_true",
                   help="allow a plain-http index on a host other than this machine")
    g.add_argument("--offline", action="store_true", help="no network access at all: scan local files only")
    g.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="network timeout (default 30)")
    g.add_argument("--cache-dir", type=Path, metavar="DIR", help="cache location (default: the per-user cache)")
    g.add_argument("--no-cache", action="store_true", help="do not read or write the cache")


def add_policy_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("policy")
    g.add_argument("--fail-on", choices=SEVERITIES, metavar="SEVERITY",
                   help="block at this severity and above (default: high; one of %(choices)s)")
    g.add_argument("--warn-on", choices=SEVERITIES, metavar="SEVERITY",
                   help="warn at this severity and above (default: medium)")
    g.add_argument("--min-age", type=float, metavar="DAYS",
                   help="releases younger than this are reported (trust cooldown, default 7)")
    g.add_argument("--config", type=Path, metavar="FILE",
                   help="pyproject.toml or pipwarden.toml to read [tool.pipwarden] from (default: nearest)")


def add_output_options(p: argparse.ArgumentParser, formats: list[str]) -> None:
    g = p.add_argument_group("output")
    g.add_argument("-f", "--format", choices=formats, default="table", help="report format (default: table)")
    g.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the report to FILE instead of stdout")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def load_settings(args: argparse.Namespace) -> Settings:
    from pipwarden.config import load_settings as load

    return load(explicit=args.config)


def policy_from(args: argparse.Namespace, settings: Settings) -> Policy:
    """The configured policy with --fail-on / --warn-on applied."""
    from dataclasses import replace

    from pipwarden.models import Severity

    policy = settings.policy
    if args.fail_on:
        policy = replace(policy, fail_on=Severity.parse(args.fail_on))
    if args.warn_on:
        policy = replace(policy, warn_on=Severity.parse(args.warn_on))
    if policy.warn_on > policy.fail_on:
        policy = replace(policy, warn_on=policy.fail_on)
    return policy


def scan_options(args: argparse.Namespace, settings: Settings | None = None) -> ScanOptions:
    from pipwarden.scan import ScanOptions

    settings = settings or load_settings(args)
    return ScanOptions(
        index_url=args.index_url,
        offline=args.offline,
        artifacts=getattr(args, "artifacts", "best"),
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        timeout=args.timeout,
        allow_insecure_index=args.allow_insecure_index,
        jobs=getattr(args, "jobs", 0) or 0,
        policy=policy_from(args, settings),
        min_age_days=args.min_age if args.min_age is not None else settings.min_age_days,
        # Package checks that keep state (publisher pins, ownership) honour these too.
        check_options={"offline": args.offline, "cache_dir": args.cache_dir, "use_cache": not args.no_cache},
    )


class ProgressBar:
    """A rich progress bar on stderr, shown only for more than a handful of items on a terminal."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.enabled = enabled and total > 5 and sys.stderr.isatty()
        self._progress = None
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TextColumn("{task.fields[item]}"),
                                      console=Console(stderr=True), transient=True)
            self._task = self._progress.add_task(label, total=total, item="")

    def __enter__(self) -> Progress:
        if self._progress is None:
            return lambda _item: None
        self._progress.start()
        progress = self._progress
        task = self._task
        return lambda item: progress.update(task, advance=1, item=item)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def emit(report: Report, args: argparse.Namespace) -> None:
    """Write the report in the chosen format to stdout or --output."""
    from pipwarden.report import get_reporter

    reporter = get_reporter(args.format)
    if args.format == "table" and args.output is None:
        from rich.console import Console

        from pipwarden.report.table import TableReporter

        assert isinstance(reporter, TableReporter)
        reporter.print(report, Console(highlight=False))
        return
    text = reporter.render(report)
    if args.output is not None:
        from pipwarden.errors import UsageError

        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot write {args.output}: {e.strerror or e}") from e
    else:
        sys.stdout.write(text)


def report_errors(report: Report) -> None:
    for p in report.packages:
        if p.error:
            print(f"pipwarden: error: {p.name}: {p.error}", file=sys.stderr)


def exit_code(report: Report) -> int:
    """2 when any package could not be vetted, else 1 when any is blocked, else 0."""
    from pipwarden.models import Verdict

    if report.count(Verdict.ERROR):
        return 2
    if report.count(Verdict.BLOCK):
        return 1
    return 0
