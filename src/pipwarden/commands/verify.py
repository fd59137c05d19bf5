"""pipwarden verify: a hash lock against the index, or an installed environment against its RECORDs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipwarden.models import Finding

HELP = "check a hash lock against the index (pinned, hashed, matching, not yanked) or an installed environment"
DESCRIPTION = """\
pipwarden verify -r requirements.txt | pipwarden verify pylock.toml
  Every requirement pinned with == and hashed (what pip --require-hashes would reject, reported before
  pip runs); every hash matches a file the index publishes for that version (a hash that matches
  nothing means a tampered lock or index: block); yanked releases and files; hashes from one platform only.

pipwarden verify --env [--python PATH]
  Every installed file matches its RECORD hash (files changed after install), files in site-packages
  that no distribution owns, and .pth files with the code they run at every interpreter start.
  The environment's Python is only asked for its paths (with -I -S: no .pth file runs).

Exit code: 0 nothing at or above --fail-on, 1 findings, 2 error."""

SEVERITIES = ["critical", "high", "medium", "low", "info"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("lock", nargs="?", type=Path, metavar="LOCK", help="requirements.txt or pylock.toml to verify")
    p.add_argument("-r", "--requirement", type=Path, metavar="FILE", help="requirements file to verify")
    p.add_argument("--env", action="store_true", help="verify an installed environment against its RECORD files")
    p.add_argument("--python", metavar="PATH", help="with --env: the environment's interpreter (default: current)")
    p.add_argument("-i", "--index-url", metavar="URL", help="index to check hashes against (default: pip's)")
    p.add_argument("--allow-insecure-index", action="store_true",
                   help="allow a plain-http index on a host other than this machine")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="network timeout (default 30)")
    p.add_argument("--fail-on", choices=SEVERITIES, default="high", metavar="SEVERITY",
                   help="exit 1 when a finding is at this severity or above (default: high)")
    p.add_argument("-f", "--format", choices=["table", "json"], default="table", help="output format")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from pipwarden.errors import UsageError
    from pipwarden.install.render import worst
    from pipwarden.models import Severity

    lock = args.requirement or args.lock
    if args.env == (lock is not None):
        raise UsageError("give a lock (LOCK or -r FILE) or --env, not both")
    if args.python and not args.env:
        raise UsageError("--python goes with --env")
    threshold = Severity.parse(args.fail_on)
    findings = _verify_env(args) if args.env else _verify_lock(args, lock)
    top = worst(findings)
    return 1 if top is not None and top >= threshold else 0


def _verify_env(args: argparse.Namespace) -> list[Finding]:
    import json
    import sys

    from pipwarden.envcheck import check_environment
    from pipwarden.install.pyenv import describe
    from pipwarden.install.render import finding_json, print_findings

    env = describe(args.python)
    report = check_environment(env)
    if args.format == "json":
        doc = {
            "schema": "pipwarden.verify-env/1",
            "python": {"executable": env.executable, "prefix": env.prefix, "version": env.version},
            "site_packages": [str(p) for p in env.existing_site_packages()],
            "distributions": report.distributions,
            "files_checked": report.files_checked,
            "pth": [{"file": f, "exec_lines": [{"line": n, "text": t} for n, t in lines]}
                    for f, lines in report.pth_files],
            "findings": [finding_json(f) for f in report.findings],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        print(f"{env.executable}: {report.distributions} distributions, {report.files_checked} files checked "
              f"against their RECORD, {len(report.pth_files)} .pth files")
        if report.findings:
            print_findings(sorted(report.findings, key=lambda f: (-f.severity, f.id, f.file or "")), show_why=False)
        else:
            print("Every installed file matches its RECORD.")
    return report.findings


def _verify_lock(args: argparse.Namespace, lock_path: Path) -> list[Finding]:
    import json
    import sys

    from pipwarden.errors import UsageError
    from pipwarden.install.lockfile import read_requirements
    from pipwarden.install.pipeline import open_index
    from pipwarden.install.render import finding_json, print_findings
    from pipwarden.install.verify import summary, verify_lock

    if not lock_path.is_file():
        raise UsageError(f"no such file: {lock_path}")
    lock = read_requirements(lock_path)
    with open_index(args.index_url, allow_insecure=args.allow_insecure_index, timeout=args.timeout) as client:
        result = verify_lock(lock, client)
        index = client.display_url
    findings = sorted(result.findings, key=lambda f: (-f.severity, f.file or "", f.line or 0, f.id))
    if args.format == "json":
        doc = {
            "schema": "pipwarden.verify-lock/1",
            "lock": str(lock_path),
            "format": lock.format,
            "index": index,
            "requirements": [
                {"name": r.entry.name, "version": r.entry.version, "file": r.entry.file, "line": r.entry.line,
                 "hashes": list(r.entry.hashes), "matched_files": [f.filename for f in r.files],
                 "published_files": len(r.release_files)}
                for r in result.results
            ],
            "findings": [finding_json(f) for f in findings],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        print(f"{lock_path} ({lock.format}): {summary(result.results)}, checked against {index}")
        if findings:
            print_findings(findings, show_why=False)
        else:
            print("Every requirement is pinned and hashed, and every hash is a published file that is not yanked.")
    return findings
