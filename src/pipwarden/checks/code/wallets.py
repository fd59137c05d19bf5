"""Crypto-wallet theft: a private key or a seed phrase handed to the package is sent away."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from pipwarden.checks.base import MemberCheck, MemberContext, register
from pipwarden.checks.code.exfiltration import SEND_CALLS
from pipwarden.checks.code.facts import CallFact, ModuleFacts
from pipwarden.checks.code.shared import early, layers, suspicious_hosts, where
from pipwarden.models import Finding, Severity

# Names a wallet secret goes by: private_key, privateKey, priv_key, mnemonic(_phrase), seed_phrase…
_SECRET_NAME = re.compile(
    r"(?i)(?:^|_)(?:priv(?:ate)?_?key|mnemonic|seed_?(?:phrase|words)|recovery_?phrase|secret_?phrase)(?:$|_|s$)")
# Substrings (plain `in` tests, much faster than a regex scan) one of which the module must hold.
_HINTS = (b"rivate_key", b"rivateKey", b"rivatekey", b"riv_key", b"rivKey", b"PRIVATE_KEY", b"PRIV_KEY", b"nemonic",
          b"NEMONIC", b"eed_phrase", b"eedPhrase", b"eed_words", b"eedWords", b"ecovery_phrase", b"ecoveryPhrase",
          b"ecret_phrase", b"ecretPhrase", b"SEED_PHRASE")


# Calls that carry their argument along unchanged in substance (containers, formatting, encoding).
_CARRIERS = frozenset({"dict", "str", "list", "tuple", "set", "format", "join", "encode", "decode", "dumps", "strip",
                       "urlencode", "b64encode", "hexlify"})


def _walk_data(node: ast.AST) -> Iterable[ast.AST]:
    """Nodes of an expression whose values end up in it: a call of anything but a container,
    formatter or encoder transforms its arguments (signing, hashing) and is not followed."""
    stack = [node]
    while stack:
        cur = stack.pop()
        yield cur
        if isinstance(cur, ast.Call):
            f = cur.func
            fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if fname not in _CARRIERS:
                continue
            stack.extend(cur.args)
            stack.extend(k.value for k in cur.keywords)
            if isinstance(f, ast.Attribute):
                stack.append(f.value)
            continue
        stack.extend(ast.iter_child_nodes(cur))


def _secret_names(node: ast.AST) -> set[str]:
    out: set[str] = set()
    for n in _walk_data(node):
        if isinstance(n, ast.Name) and _SECRET_NAME.search(n.id):
            out.add(n.id)
        elif isinstance(n, ast.Attribute) and _SECRET_NAME.search(n.attr):
            out.add(n.attr)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and len(n.value) < 40 and \
                _SECRET_NAME.search(n.value.replace(" ", "_")):
            out.add(n.value)
    return out


_DEFS_KEY = "_pipwarden_function_defs"


def _function_of(facts: ModuleFacts, line: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The innermost function holding ``line`` (the module's functions listed once per module)."""
    cache = facts.__dict__
    if _DEFS_KEY not in cache:
        cache[_DEFS_KEY] = [n for n in ast.walk(facts.tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    best: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for n in cache[_DEFS_KEY]:
        if n.lineno <= line <= (n.end_lineno or n.lineno) and (best is None or n.lineno > best.lineno):
            best = n
    return best


def _sent_secrets(facts: ModuleFacts, c: CallFact) -> set[str]:
    """Wallet-secret names among what the call sends (its payload arguments, not the URL), followed
    one step through the local assignments that built them."""
    payload = [*c.node.args[1:], *(k.value for k in c.node.keywords if k.arg not in ("url", "headers", "timeout"))]
    found: set[str] = set()
    names: set[str] = set()
    for a in payload:
        found |= _secret_names(a)
        names |= {n.id for n in _walk_data(a) if isinstance(n, ast.Name)}
    if found or not names:
        return found
    fn = _function_of(facts, c.line)
    body: list[ast.stmt] = fn.body if fn is not None else facts.tree.body
    for stmt in body:
        if isinstance(stmt, ast.Assign) and stmt.lineno < c.line and any(
                isinstance(t, ast.Name) and t.id in names for t in stmt.targets):
            found |= _secret_names(stmt.value)
    return found


@register
class WalletSecretExfiltration(MemberCheck):
    """A private key or a seed (mnemonic) phrase is sent over the network: ``requests.post(url,
    json={"private_key": private_key})``.

    Wallet libraries sign locally; a key or a recovery phrase leaving the machine hands the
    wallet to whoever receives it. Crypto-stealer packages pose as wallet, chain or exchange
    helpers and post the key their user passes them to a hard-coded endpoint. Medium in a
    function; high at install or import time or towards suspicious infrastructure (tunnels,
    request catchers, raw IPs).
    """

    id = "PW117"
    severity = Severity.HIGH
    title = "sends a wallet private key or seed phrase over the network"
    roles = frozenset({"setup", "module"})

    def run(self, ctx: MemberContext) -> Iterable[Finding]:
        data = ctx.data
        if not any(h in data for h in _HINTS):
            return
        for facts, outer in layers(ctx):
            for c in facts.calls:
                if c.name not in SEND_CALLS or not (c.node.args or c.node.keywords):
                    continue
                secrets = _sent_secrets(facts, c)
                if not secrets:
                    continue
                hosts = suspicious_hosts(c.strings)
                sev = Severity.HIGH if early(c.ctx) or hosts else Severity.MEDIUM
                to = f" to {hosts[0]}" if hosts else ""
                yield self.finding(
                    f"{', '.join(sorted(secrets)[:3])} sent with {c.name}(){to} {where(c)}{facts.layer_note()}",
                    file=ctx.path, line=outer or c.line, evidence=facts.line_text(c.line), severity=sev)
                break
