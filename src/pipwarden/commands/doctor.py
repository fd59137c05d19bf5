"""pipwarden doctor: audit how this machine installs Python packages."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "audit how this machine installs packages: pip config, indexes, TLS, hashes, venv, pip's own CVEs"
DESCRIPTION = """\
Audit pip's configuration (global, user and site pip.conf, PIP_CONFIG_FILE, PIP_* variables) and the
target interpreter: plain-http indexes, trusted-host entries, extra-index-url (dependency confusion;
with -r, the required names that more than one configured index serves), require-hashes not set,
credentials in plain text, installing outside a virtual environment, broken TLS settings, and known
vulnerabilities of the installed pip. Each finding says what was found, why it matters and the
line to change. Nothing is installed or run. Exit code: 0 nothing at or above --fail-on, 1 findings,
2 error."""

SEVERITIES = ["critical", "high", "medium", "low", "info"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--python", metavar="PATH", help="audit the pip of this interpreter (default: the current one)")
    p.add_argument("-r", "--requirement", action="append", type=Path, default=[], metavar="FILE",
                   help="also check this requirements file's index options and its names for dependency confusion")
    p.add_argument("--fail-on", choices=SEVERITIES, default="high", metavar="SEVERITY",
                   help="exit 1 when a finding is at this severity or above (default: high)")
    p.add_argument("--no-index-check", action="store_true",
                   help="do not ask the configured indexes which required names they serve")
    p.add_argument("--db", type=Path, metavar="FILE", help="vulnerability database (default: the per-user one)")
    p.add_argument("--timeout", type=float, default=15.0, metavar="SECONDS", help="network timeout (default 15)")
    p.add_argument("-f", "--format", choices=["table", "json"], default="table", help="output format")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from pipwarden.checks.config import mask_secrets
    from pipwarden.doctor import run_doctor
    from pipwarden.errors import UsageError
    from pipwarden.install.render import finding_json, print_findings, worst
    from pipwarden.models import Severity

    for r in args.requirement:
        if not r.is_file():
            raise UsageError(f"no requirements file at {r}")
    result = run_doctor(args.python, args.requirement, db_path=args.db, check_indexes=not args.no_index_check,
                        timeout=args.timeout)
    threshold = Severity.parse(args.fail_on)
    if args.format == "json":
        doc = {
            "schema": "pipwarden.doctor/1",
            "python": {"executable": result.env.executable, "prefix": result.env.prefix,
                       "version": result.env.version, "virtualenv": result.env.is_venv},
            "pip": result.pip_version,
            "vulndb": result.vulndb,
            "config_files": [
                {"kind": f.kind, "path": str(f.path), "exists": f.exists, "error": f.error}
                for f in result.config.files
            ],
            "config_files_skipped": result.config.skipped_files,
            "indexes": list(result.indexes),
            "findings": [finding_json(f) for f in result.findings],
            "notes": list(result.notes),
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        loaded = [str(f.path) for f in result.config.files if f.exists]
        print(f"python  {result.env.executable} ({result.env.version}, "
              f"{'virtual environment' if result.env.is_venv else 'not a virtual environment'})")
        print(f"pip     {result.pip_version or 'not installed'}")
        if result.config.skipped_files:
            print("config  no files (PIP_CONFIG_FILE is the null device)")
        else:
            print(f"config  {', '.join(loaded) or 'no pip configuration files'}")
        env_vars = sorted({s.source for s in result.config.settings if s.kind == "env-var"})
        if env_vars:
            print(f"env     {', '.join(env_vars)}")
        if result.indexes:
            print(f"indexes {', '.join(mask_secrets(u) for u in result.indexes)}")
        for note in result.notes:
            print(f"note    {note}")
        print()
        if result.findings:
            print_findings(result.findings)
        else:
            print("No findings: pip on this machine is configured safely.")
    top = worst(result.findings)
    return 1 if top is not None and top >= threshold else 0
