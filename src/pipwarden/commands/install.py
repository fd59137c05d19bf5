"""pipwarden install: lock (for names) → verify → vet → pip install --require-hashes --no-deps --only-binary :all:."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipwarden.commands import common

HELP = "install only vetted, hash-locked wheels: lock, verify, vet, then pip install --require-hashes"
DESCRIPTION = """\
pipwarden install -r requirements.txt   (a hash lock: pinned with == and hashed)
pipwarden install NAME...               (locked first, like 'pipwarden lock')

Stages: lock (for names) → verify the lock against the index (pinned, hashed, every hash a published
file, nothing yanked) → vet every package (scan + vulnerability database) → run
'python -m pip install --require-hashes --no-deps --only-binary :all:' on a lock that holds only the
vetted lines, in the target environment. Nothing is installed when anything is blocked. The target
must be a virtual environment unless --system. Exit code: 0 installed, 1 blocked (nothing installed),
2 error."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("names", nargs="*", metavar="NAME", help="requirements to lock and install")
    p.add_argument("-r", "--requirement", type=Path, metavar="FILE", help="hash-locked requirements.txt or pylock.toml")
    p.add_argument("--python", metavar="PATH", help="install into this interpreter's environment (default: current)")
    p.add_argument("--system", action="store_true", help="allow a Python that is not a virtual environment")
    p.add_argument("--dry-run", action="store_true", help="lock, verify and vet, but do not run pip")
    common.add_index_options(p)
    common.add_policy_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    import sys
    import tempfile

    from pipwarden.commands.lock import stage_printer
    from pipwarden.errors import UsageError
    from pipwarden.install.lockfile import LockEntry, read_requirements, render_plain
    from pipwarden.install.pipeline import check_target, lock, open_index, pip_command, run_pip, shell_join, vet
    from pipwarden.install.pyenv import describe
    from pipwarden.install.render import print_findings
    from pipwarden.install.verify import verify_lock
    from pipwarden.models import PackageRef

    if bool(args.names) == bool(args.requirement):
        raise UsageError("give NAME... or -r FILE (one of them)")
    say = stage_printer(args.quiet)
    options = common.scan_options(args)
    say("target environment")
    env = describe(args.python)
    check_target(env, args.system)
    say(f"  {env.executable} (Python {env.version}, {env.prefix})")
    with tempfile.TemporaryDirectory(prefix="pipwarden-install-") as tmp:
        if args.names:
            req_in = Path(tmp) / "requirements.in"
            req_in.write_text("\n".join(args.names) + "\n", encoding="utf-8")
            say("stage 1/4: lock")
            locked = Path(tmp) / "requirements.txt"
            result = lock(req_in, locked, options=options, python_version=env.version,
                          command="pipwarden install " + " ".join(args.names), stage=say)
            if result.blocked:
                for p in result.pins:
                    if f"{p.name}=={p.version}" in result.blocked:
                        print_findings(p.findings, header=f"[bold red]BLOCKED[/] {p.name}=={p.version}",
                                       show_why=False)
                print(f"pipwarden: nothing installed: blocked {', '.join(result.blocked)}", file=sys.stderr)
                return 1
            source = locked
        else:
            source = args.requirement
            if not source.is_file():
                raise UsageError(f"no such file: {source}")
        say("stage 2/4: verify the lock against the index")
        lock_data = read_requirements(source, args.python)
        with open_index(options.index_url, allow_insecure=options.allow_insecure_index, timeout=options.timeout,
                        cache_dir=options.cache_dir, use_cache=options.use_cache) as client:
            verification = verify_lock(lock_data, client)
            index_url = client.index_url
        bad = [f for f in verification.findings if f.severity >= options.policy.fail_on]
        if bad:
            print_findings(sorted(bad, key=lambda f: (-f.severity, f.line or 0)), show_why=False)
            print(f"pipwarden: nothing installed: {source} fails verification ({len(bad)} findings)", file=sys.stderr)
            return 1
        entries: list[LockEntry] = [r.entry for r in verification.results]
        if args.names:
            say("stage 3/4: vet (done while locking)")
        else:
            say(f"stage 3/4: vet {len(entries)} packages (scan + vulnerability database)")
            refs = [PackageRef(e.name, e.version, f"=={e.version}", hashes=e.hashes, origin=e.where, line=e.line)
                    for e in entries]
            vetting = vet(refs, options, index_url)
            if vetting.blocked:
                for key in vetting.blocked:
                    print_findings(vetting.findings.get(key, []), header=f"[bold red]BLOCKED[/] {key}",
                                   show_why=False)
                print(f"pipwarden: nothing installed: blocked {', '.join(vetting.blocked)}", file=sys.stderr)
                return 1
        vetted = Path(tmp) / "vetted-requirements.txt"
        vetted.write_text(render_plain(entries, [f"vetted by pipwarden from {source}"]), encoding="utf-8")
        cmd = pip_command(env, vetted, _pip_index(options.index_url))
        say(f"stage 4/4: {shell_join(cmd)}")
        if args.dry_run:
            say("dry run: pip not run")
            return 0
        proc = run_pip(cmd)
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise UsageError(f"pip failed (exit {proc.returncode}): {tail}")
    if not args.quiet:
        for line in proc.stdout.splitlines():
            if line.startswith("Successfully installed"):
                say(line)
    return 0


def _pip_index(given: str | None) -> str:
    from pipwarden.index.config import configured_index_url

    return given or configured_index_url()
