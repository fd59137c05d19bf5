"""pipwarden audit: every dependency of a project or environment, vetted in one report."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipwarden.commands import common

if TYPE_CHECKING:
    from pipwarden.config import Settings
    from pipwarden.models import PackageRef, PackageResult, Report, Skipped
    from pipwarden.policy import Policy
    from pipwarden.scan import ScanOptions
    from pipwarden.sources.base import Source

HELP = "audit a project's or an environment's dependencies: known vulnerabilities, malware and the full scan"
DESCRIPTION = """\
Vet every package PATH pins (requirements*.txt, pyproject.toml, pylock.toml, uv.lock, poetry.lock,
Pipfile.lock; a directory: the most precise of those it holds) or an environment holds (--env,
--python), in one report: known vulnerabilities and malware from the local OSV database
('pipwarden db update'), with fix versions and the smallest clean upgrade, plus the scan verdict of
each package's files (--no-scan: vulnerabilities only, nothing downloaded).

Exit codes: 0 clean, 1 something at or above the fail threshold, 2 error, 3 incomplete (packages
that could not be vetted; --strict makes that 1)."""

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("path", nargs="?", type=Path, metavar="PATH",
                   help="a requirements/pyproject/lock file or a project directory (default: the current directory)")
    g = p.add_argument_group("what to audit")
    g.add_argument("--env", action="store_true",
                   help="the installed packages of the active environment (VIRTUAL_ENV, else this Python)")
    g.add_argument("--python", metavar="PATH",
                   help="the installed packages of that interpreter's environment; with PATH, the interpreter "
                        "whose markers apply")
    g.add_argument("--no-scan", action="store_true",
                   help="known vulnerabilities and malware only: nothing downloaded (unpinned names still resolved)")
    g.add_argument("--strict", action="store_true", help="packages that could not be vetted fail the audit (exit 1)")
    g.add_argument("--db", type=Path, metavar="FILE", help="vulnerability database file (default: in the cache)")
    g.add_argument("--artifacts", choices=["best", "all"], default="best",
                   help="best: the file pip would install here (default); all: the sdist and every wheel")
    g.add_argument("-j", "--jobs", type=int, default=0, metavar="N", help="worker processes for local files")
    common.add_index_options(p)
    common.add_policy_options(p)
    common.add_output_options(p, ["table", "json", "sarif", "cyclonedx", "markdown"])


def _source(args: argparse.Namespace) -> Source:
    from pipwarden.sources.base import TargetPython
    from pipwarden.sources.detect import detect
    from pipwarden.sources.environment import EnvironmentSource

    if args.path is None and (args.env or args.python):
        return EnvironmentSource(args.python)
    if args.env:
        from pipwarden.errors import UsageError

        raise UsageError("--env audits an environment; give either PATH or --env, not both")
    target = TargetPython.of(args.python) if args.python else None
    return detect(args.path or Path(), target)


def _vuln_options(args: argparse.Namespace, policy: Policy) -> tuple[dict[str, Any], dict[str, Any]]:
    """(check options, report meta) for the advisory source: the local database, else the JSON API."""
    from datetime import date

    from pipwarden.vulndb.store import NoDatabaseError, VulnDB, default_db_path

    opts: dict[str, Any] = {"audit": True, "vuln_ignores": policy.ignore_vulns, "today": date.today()}
    path = args.db or default_db_path(args.cache_dir)
    try:
        db = VulnDB(path)
    except NoDatabaseError:
        if args.offline or args.db is not None:
            raise
        opts["vuln_source"] = "index"
        note = ("no local OSV database (run 'pipwarden db update'): vulnerabilities come from the index's "
                "JSON API, where it serves them; malware records are not covered")
        return opts, {"name": "index-json-api", "note": note}
    opts["vulndb"] = db
    return opts, db.snapshot.to_json()


def run(args: argparse.Namespace) -> int:
    import sys

    from pipwarden.models import Report, Skipped

    settings = common.load_settings(args)
    policy = common.policy_from(args, settings)
    source = _source(args)
    refs: list[PackageRef] = []
    skipped: list[Skipped] = []
    excluded: list[dict[str, Any]] = []
    for item in source.packages():
        if isinstance(item, Skipped):
            skipped.append(item)
        elif item.name in policy.exclude:
            excluded.append({"name": item.name, "version": item.version, "reason": policy.exclude[item.name],
                             "origin": item.origin})
        else:
            refs.append(item)
    check_opts, db_meta = _vuln_options(args, policy)
    if db_meta.get("name") == "index-json-api" and not args.quiet:
        print(f"pipwarden: note: {db_meta['note']}", file=sys.stderr)
    with common.ProgressBar(len(refs), "auditing", enabled=not args.quiet) as progress:
        if args.no_scan:
            report = vulns_only(refs, policy, check_opts, lambda: _scan_options(args, settings, check_opts), progress)
        else:
            from pipwarden.scan import scan

            report = scan(refs, _scan_options(args, settings, check_opts), progress)
    packages = finish(report.packages, refs, source)
    meta: dict[str, Any] = {
        **report.meta,
        "source": source.describe(),
        "source_file": str(source.path),
        "vulnerability_db": db_meta,
        "mode": "vulnerabilities" if args.no_scan else "full",
    }
    if excluded:
        meta["excluded"] = excluded
    expired = _expired_ignores(policy, check_opts.get("today"))
    if expired:
        meta["expired_ignores"] = expired
    report = Report(packages=tuple(packages), skipped=tuple(skipped), meta=meta)
    db = check_opts.get("vulndb")
    if db is not None:
        db.close()
    common.emit(report, args)
    if args.format == "table" and args.output is None:
        _print_notes(report)
    common.report_errors(report)
    return exit_code(report, strict=args.strict)


def _scan_options(args: argparse.Namespace, settings: Settings, check_opts: dict[str, Any]) -> ScanOptions:
    from dataclasses import replace

    options = common.scan_options(args, settings)
    return replace(options, check_options={**options.check_options, **check_opts})


def vulns_only(refs: list[PackageRef], policy: Policy, check_opts: dict[str, Any],
               make_options: Callable[[], ScanOptions], progress: Any) -> Report:
    """Vulnerability and malware lookups without downloading anything. Unpinned requirements are
    resolved against the index (the version that would be chosen today); nothing else touches it,
    and the scan machinery is not even imported when nothing needs it."""
    from concurrent.futures import ThreadPoolExecutor

    from pipwarden.models import Report

    needs_index = [r for r in refs if r.version is None and r.path is None]
    uses_api = check_opts.get("vuln_source") == "index"
    scanner = None
    artifacts = "best"
    if needs_index or uses_api:
        from pipwarden.scan import Scanner

        options = make_options()
        artifacts = options.artifacts
        scanner = Scanner(options, progress)
    try:
        if scanner is not None and len(refs) > 1:
            with ThreadPoolExecutor(max_workers=min(8, len(refs))) as pool:
                results = list(pool.map(lambda r: _vuln_result(r, policy, check_opts, artifacts, scanner, progress),
                                        refs))
        else:
            results = [_vuln_result(r, policy, check_opts, artifacts, scanner, progress) for r in refs]
    finally:
        if scanner is not None:
            scanner.close()
    meta: dict[str, Any] = {"policy": policy.describe()}
    if scanner is not None and scanner.index_used is not None:
        meta["index"] = scanner.index_used
    return Report(packages=tuple(results), meta=meta)


def _vuln_result(ref: PackageRef, policy: Policy, check_opts: dict[str, Any], artifacts: Any, scanner: Any,
                 progress: Any) -> PackageResult:
    from pipwarden.checks.base import PackageCheck, PackageContext
    from pipwarden.checks.vulns import AUDIT_CHECKS
    from pipwarden.errors import PipwardenError
    from pipwarden.models import Finding, PackageRef, PackageResult, Verdict

    name, version, project, release = ref.name, ref.version, None, None
    try:
        if version is None and ref.path is None:
            from pipwarden.scan import choose_version

            project = scanner.client.project(ref.name)
            version = str(choose_version(project, ref, artifacts))
            name = project.name
        if scanner is not None and check_opts.get("vuln_source") == "index" and version:
            release = scanner.client.release(name, version)
    except PipwardenError as e:
        progress(ref.name)
        return PackageResult(name=ref.name, version=ref.version, source=ref.source, verdict=Verdict.ERROR,
                             error=str(e), origin=ref.origin, line=ref.line)
    pkg = PackageRef(name, version, ref.specifier, ref.path, ref.origin, ref.line, ref.hashes, ref.marker)
    ctx = PackageContext(package=pkg, name=name, version=version, artifacts=[], project=project, release=release,
                         options=dict(check_opts))
    findings: list[Finding] = []
    for cls in AUDIT_CHECKS:
        if cls.id in policy.disabled:
            continue
        check: PackageCheck = cls()
        findings.extend(check.run(ctx))
    final = policy.apply(findings)
    final.sort(key=lambda f: (-f.severity, f.id))
    progress(f"{name} {version or ''}".strip())
    return PackageResult(name=name, version=version, source=pkg.source, verdict=policy.verdict(final),
                         findings=tuple(final), extra=dict(ctx.extra), origin=ref.origin, line=ref.line)


def finish(results: tuple[PackageResult, ...], refs: list[PackageRef], source: Source) -> list[PackageResult]:
    """Add the lock's hashes and check each fix suggestion against the project's other requirements."""
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as PepRequirement
    from packaging.utils import canonicalize_name

    from pipwarden.vulndb.match import Requirement, conflicts

    hashes = {(r.origin, r.name): r.hashes for r in refs if r.hashes}
    reqs = list(source.requirements)
    for p in results:
        for text in p.extra.get("requires_dist", ()):
            try:
                req = PepRequirement(text)
            except InvalidRequirement:
                continue
            if req.marker is not None and "extra" in str(req.marker):
                continue
            if req.specifier:
                reqs.append(Requirement(canonicalize_name(req.name), str(req.specifier), f"{p.name} {p.version}"))
    out = []
    for p in results:
        extra = dict(p.extra)
        own = hashes.get((p.origin, p.name))
        if own:
            extra["hashes"] = list(own)
        fix = extra.get("fix")
        if isinstance(fix, dict) and fix.get("version"):
            others = [r for r in reqs if not r.by.startswith(f"{p.name} ")
                      and not (p.origin and r.by == f"the project ({p.origin})")]
            fix = {**fix, "conflicts": conflicts(p.name, fix["version"], others)}
            extra["fix"] = fix
        out.append(p.replace(extra=extra) if extra != p.extra else p)
    return out


def _expired_ignores(policy: Policy, today: Any) -> list[dict[str, str]]:
    from datetime import date

    day = today if isinstance(today, date) else date.today()
    return [ig.to_json() for ig in policy.ignore_vulns if not ig.active(day)]


def _print_notes(report: Report) -> None:
    """After the table: fix suggestions, the database used, expired ignores."""
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    fixes = [(p, p.extra["fix"]) for p in report.packages if isinstance(p.extra.get("fix"), dict)]
    if fixes:
        console.print(Text("fix suggestions", style="bold"))
        for p, fix in fixes:
            if fix.get("version"):
                line = f"  {p.name} {p.version} → {fix['version']} (clears {', '.join(fix['clears'])})"
                if fix.get("conflicts"):
                    line += "; conflicts: " + "; ".join(fix["conflicts"])
            else:
                line = f"  {p.name} {p.version}: no release clears {', '.join(fix['clears'])}"
            console.print(line)
    for ig in report.meta.get("expired_ignores", ()):
        console.print(Text(f"ignore for {ig['id']} expired on {ig['expires']} ({ig['reason']}): it applies no more",
                           style="yellow"))
    for ex in report.meta.get("excluded", ()):
        console.print(Text(f"excluded {ex['name']}: {ex['reason']}", style="dim"))
    db = report.meta.get("vulnerability_db", {})
    if db.get("name") == "osv-pypi":
        console.print(Text(f"vulnerability database: OSV PyPI snapshot {db['date']} (sha256 {db['sha256'][:16]}…)",
                           style="dim"))
    elif db:
        console.print(Text(f"vulnerability database: {db.get('note')}", style="dim"))


def exit_code(report: Report, *, strict: bool = False) -> int:
    """1 when anything is blocked; else 3 when the audit is incomplete (skipped or failed packages;
    1 with --strict); else 0."""
    from pipwarden.models import Verdict

    if report.count(Verdict.BLOCK):
        return 1
    if report.skipped or report.count(Verdict.ERROR):
        return 1 if strict else 3
    return 0
