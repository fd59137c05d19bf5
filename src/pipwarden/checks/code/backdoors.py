"""Backdoors: a process started with a command that came over the network (a C2 loop)."""

from __future__ import annotations

import ast
from collections.abc import Iterable

from pipwarden.checks.base import MemberCheck, MemberContext, register
from pipwarden.checks.code.indicators import SPAWN_CALLS
from pipwarden.checks.code.shared import early, layers, not_shipped, where
from pipwarden.models import Finding, Severity


@register
class RemoteCommandExecution(MemberCheck):
    """A process is started with a command fetched from the network: ``cmd =
    requests.get(C2).text`` … ``subprocess.Popen(cmd, shell=True)``, the loop of a remote-access
    agent that polls its server for commands and posts back the output.

    Running whatever a server answers hands the machine to whoever controls that server. High;
    critical at install or import time. (Executing fetched *Python* is PW120.)
    """

    id = "PW182"
    severity = Severity.HIGH
    title = "runs commands received from the network (remote-access backdoor)"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        for facts, outer in layers(ctx):
            for c in facts.calls:
                if c.name not in SPAWN_CALLS or not c.arg_taint or "net-data" not in c.arg_taint[0]:
                    continue
                # the whole command is the fetched text (not a version or a path put into a fixed command)
                if isinstance(c.node.args[0], ast.List | ast.Tuple | ast.JoinedStr | ast.BinOp | ast.Constant):
                    continue
                yield self.finding(
                    f"{c.name}() runs a command received from the network {where(c)}{facts.layer_note()}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line),
                    # a test harness driving worker processes over a socket does this too
                    severity=Severity.CRITICAL if early(c.ctx) else Severity.MEDIUM
                    if c.ctx == "function" and not_shipped(ctx.path) else Severity.HIGH)
                break
