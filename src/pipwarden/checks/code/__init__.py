"""Code checks (PW1xx): what malware does at install time, on import and at interpreter start.

One AST walk per module (:mod:`.facts`) collects what every check needs — resolved calls,
their scope and context (install / import / script / function), the taint of their
arguments and statically decoded payload layers — behind a cheap byte prefilter, and once
per distinct member content (the analysis memo is keyed by sha256 and role).

Modules: :mod:`.execution` (install-time and import-time execution, decode-and-execute,
download-and-execute), :mod:`.exfiltration` (sources reaching sinks, credential stores,
channels, infrastructure), :mod:`.evasion` (persistence, anti-analysis, Trojan Source,
steganography, reverse shells, miners, obfuscators), :mod:`.decoded` (decoding loops, decoded
commands, embedded scripts written to disk), :mod:`.downloads` (download-and-run through helpers),
:mod:`.wallets` (private keys and seed phrases sent
away), :mod:`.stealers` (token grabbers), :mod:`.backdoors` (commands
received from the network) and :mod:`.hooks` (``.pth``, startup
modules, build backends, shadowing scripts, bundled binaries).
"""

from __future__ import annotations

from pipwarden.checks.code import (
    backdoors,
    decoded,
    downloads,
    evasion,
    execution,
    exfiltration,
    hooks,
    stealers,
    wallets,
)

__all__ = ["backdoors", "decoded", "downloads", "evasion", "execution", "exfiltration", "hooks", "stealers",
           "wallets"]
