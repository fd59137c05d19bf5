"""False alarms on popular projects the detector was NOT tuned on.

    python bench/detect/heldout.py [--start 501] [--count 300] [--workers 2]

The dev set (``benign-dev.txt``) is the 500 most-downloaded projects, and the code checks were
calibrated on it. The issue measures false alarms again on other popular projects; this script
takes the next ones from the download ranking shipped as package data (ranks ``--start`` to
``--start + --count - 1``, skipping any that are in the dev set), fetches the latest sdist (else
a wheel) of each from the configured index into ``bench/.cache/heldout`` (gitignored, once), and
scans them with the same engine and verdicts as ``bench/detect/run.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import CACHE, _version_of, benign_names, fetch_projects
from run import pct, scan_one, verdict

from pipwarden.models import Severity

DEST = CACHE / "heldout"
RANKING = Path(__file__).resolve().parents[2] / "src" / "pipwarden" / "data" / "top-pypi-packages.json"


def heldout_names(start: int, count: int) -> list[str]:
    rows = json.loads(RANKING.read_text())["rows"]
    dev = set(benign_names())
    ranked = [str(r["project"]) for r in rows]
    return [n for n in ranked[start - 1: start - 1 + count] if n not in dev]


def fetch(names: list[str]) -> dict[str, str]:
    manifest = fetch_projects(names, DEST, label="held-out")
    return {n: manifest[n] for n in names if n in manifest and (DEST / manifest[n]).exists()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--start", type=int, default=501, help="first download rank (1-based; default 501)")
    ap.add_argument("--count", type=int, default=300, help="how many ranks to take (default 300)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--show", type=int, default=30, help="flagged projects to list")
    args = ap.parse_args()

    files = fetch(heldout_names(args.start, args.count))
    paths = [str(DEST / fn) for fn in files.values()]
    t = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as ex:
        results: list[dict[str, Any]] = list(ex.map(scan_one, paths, chunksize=4))
    seconds = time.perf_counter() - t
    n = len(results)
    block = [r for r in results if verdict(r["findings"], True) == "block"]
    warn = [r for r in results if verdict(r["findings"], True) == "warn"]
    errors = sum(1 for r in results if r["error"])
    print(f"### Held-out popular projects (download ranks {args.start}-{args.start + args.count - 1}, "
          f"not in the dev set): {n} archives scanned in {seconds:.0f} s, {errors} unreadable")
    print()
    print("| measure | value | target (dev set) |")
    print("|---|---|---|")
    print(f"| false-positive rate at block (code checks) | {pct(len(block), n)} | <= 0.5% |")
    print(f"| false-positive rate at warn (warn or block) | {pct(len(block) + len(warn), n)} | <= 3% |")
    print()
    for r in [*block, *warn][: args.show]:
        fs = [f for f in r["findings"] if f["id"].startswith("PW1") and f["severity"] >= Severity.MEDIUM]
        top = max(fs, key=lambda f: f["severity"])
        name = Path(r["path"]).name
        print(f"- {name} ({_version_of(name)}): {Severity(top['severity']).label} {top['id']} "
              f"{top['file']}:{top['line']} — {top['message'][:110]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
