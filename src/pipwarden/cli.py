"""Command line: parse arguments, hand them to a command, turn errors into exit code 2.

Thin by design. Each subcommand lives in ``pipwarden.commands.<name>`` and exposes
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. Command modules
import nothing heavy at module level, so ``pipwarden --help`` stays instant.

Exit codes: 0 pass, 1 blocked (findings at or above the fail threshold), 2 error,
3 incomplete (audit: packages skipped).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from pipwarden import __version__

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_ERROR = 2
EXIT_INCOMPLETE = 3

# name -> module. Order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "scan": "pipwarden.commands.scan",
    "rules": "pipwarden.commands.rules",
    "doctor": "pipwarden.commands.doctor",
    "verify": "pipwarden.commands.verify",
    "lock": "pipwarden.commands.lock",
    "install": "pipwarden.commands.install",
    "db": "pipwarden.commands.db",
    "audit": "pipwarden.commands.audit",
    "data": "pipwarden.commands.data",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2 (its default, kept)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_ERROR, f"pipwarden: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = _Parser(
        prog="pipwarden",
        description=(
            "Vet Python packages before they reach a machine: pass, warn or block, and why. "
            "pipwarden downloads what pip would install, never runs it, and checks integrity, "
            "malicious code, trust signals, known vulnerabilities and provenance."
        ),
        epilog="Exit codes: 0 pass, 1 blocked, 2 error, 3 incomplete. 'pipwarden COMMAND --help' for more.",
    )
    parser.add_argument("--version", action="version", version=f"pipwarden {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    modules: dict[str, ModuleType] = {}
    for name, modname in COMMANDS.items():
        mod = importlib.import_module(modname)
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        modules[name] = mod
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    from pipwarden.errors import PipwardenError

    try:
        code: int = modules[args.command].run(args)
    except PipwardenError as e:
        print(f"pipwarden: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("pipwarden: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    return code


if __name__ == "__main__":
    raise SystemExit(main())
