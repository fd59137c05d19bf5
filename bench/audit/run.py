"""Benchmark: pipwarden audit on a real 100-package pinned+hashed requirements file, side by side
with pip-audit (vulnerabilities only) and GuardDog's ``verify`` on the same file.

    python bench/audit/run.py [--runs 5] [--no-peers] [--peer-timeout 1200]

Timed, as processes, wall clock, medians:
  * pipwarden audit FILE              cold (empty artifact cache) and warm (cache filled)
  * pipwarden audit FILE --no-scan    warm (vulnerabilities + malware only, nothing downloaded)
  * pip-audit -r FILE --no-deps --disable-pip     (in bench/.venv-pip-audit)
  * guarddog pypi verify FILE                      (in bench/.venv-guarddog)

The vulnerability database is the OSV PyPI export when ``pipwarden db update`` can reach it,
else the shared offline snapshot (../shared/data/osv-pypi-advisories.zip, same layout).
Peers are installed into their own virtual environments on first use. A peer that cannot
reach its own service from here is reported as such, and the rest is still timed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REQS = HERE / "requirements.txt"
SHARED_ZIP = BENCH.parent / ".." / "shared" / "data" / "osv-pypi-advisories.zip"
CACHE = BENCH / ".cache" / "audit"


def env_without_bytecode_flag() -> dict[str, str]:
    # An installed tool has its .pyc files; don't time recompiling every module on each run.
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, int, str]:
    start = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, -1, f"timed out after {timeout:.0f} s"
    return time.perf_counter() - start, r.returncode, (r.stderr or r.stdout)[-400:]


def venv_tool(name: str, package: str, exe: str) -> Path | None:
    venv = BENCH / f".venv-{name}"
    tool = venv / "bin" / exe
    if tool.exists():
        return tool
    print(f"installing {package} into {venv} ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", package], check=True,
                       timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print(f"  could not install {package}: {e}")
        return None
    return tool if tool.exists() else None


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="warm runs per measurement (default 5)")
    ap.add_argument("--cold-runs", type=int, default=1, help="cold full audits (each downloads every file)")
    ap.add_argument("--full-runs", type=int, default=3, help="warm full audits (default 3)")
    ap.add_argument("--no-peers", action="store_true", help="time pipwarden only")
    ap.add_argument("--peer-timeout", type=float, default=1200.0)
    args = ap.parse_args()

    env = env_without_bytecode_flag()
    pw = [sys.executable, "-m", "pipwarden"]
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / "osv-pypi.sqlite3"
    env_db = {**env, "PIPWARDEN_CACHE_DIR": str(CACHE / "dbbuild")}
    r = subprocess.run([*pw, "db", "update"], capture_output=True, text=True, env=env_db, timeout=600)
    if r.returncode == 0:
        db_source = "OSV PyPI export (downloaded now)"
    else:
        print(f"OSV export not reachable from here ({r.stderr.strip()}); using the shared snapshot")
        r = subprocess.run([*pw, "db", "update", "--file", str(SHARED_ZIP)], capture_output=True, text=True,
                           env=env_db, timeout=600)
        if r.returncode != 0:
            print(r.stderr)
            return 2
        db_source = f"shared snapshot {SHARED_ZIP.name}"
    shutil.copy(CACHE / "dbbuild" / "vulndb" / "osv-pypi.sqlite3", db)
    results: dict[str, dict[str, object]] = {}

    def record(label: str, times: list[float], codes: list[int], note: str = "") -> None:
        results[label] = {"median_s": round(median(times), 3), "runs": len(times),
                          "exit_codes": sorted(set(codes)), "note": note}
        print(f"{label:48} median {median(times):8.2f} s over {len(times)} run(s)  exit {sorted(set(codes))} {note}",
              flush=True)

    warm_cache = CACHE / "artifacts"
    audit = [*pw, "audit", str(REQS), "--db", str(db), "-q", "-f", "json"]
    # cold: a fresh, empty cache each time
    times, codes = [], []
    for _ in range(args.cold_runs):
        with tempfile.TemporaryDirectory(prefix="pw-cold-") as cold:
            t, code, tail = timed([*audit, "--cache-dir", cold], {**env, "PIPWARDEN_CACHE_DIR": cold}, 1800)
            times.append(t)
            codes.append(code)
            if code not in (0, 1, 3):
                print("  cold run failed:", tail)
    record("pipwarden audit (full, cold cache)", times, codes)
    # warm: fill the cache once (skipped when a previous run filled it), then time
    env_warm = {**env, "PIPWARDEN_CACHE_DIR": str(warm_cache)}
    if not (warm_cache / "artifacts").is_dir():
        timed([*audit, "--cache-dir", str(warm_cache)], env_warm, 1800)
    times, codes = [], []
    for _ in range(args.full_runs):
        t, code, tail = timed([*audit, "--cache-dir", str(warm_cache)], env_warm, 1800)
        times.append(t)
        codes.append(code)
    record("pipwarden audit (full, warm cache)", times, codes)
    times, codes = [], []
    for _ in range(args.runs):
        t, code, tail = timed([*audit, "--no-scan", "--cache-dir", str(warm_cache)], env_warm, 600)
        times.append(t)
        codes.append(code)
    record("pipwarden audit --no-scan (warm)", times, codes)
    out = subprocess.run([*audit, "--no-scan", "--cache-dir", str(warm_cache)], capture_output=True, text=True,
                         env=env_warm, timeout=600).stdout
    try:
        report = json.loads(out)
        summary = report["summary"]
        vulns = sum(len(p.get("vulnerabilities", ())) for p in report["packages"])
        snapshot = report["meta"]["vulnerability_db"].get("date")
        print(f"  report: {summary}, {vulns} known vulnerabilities, db {snapshot}")
    except (json.JSONDecodeError, KeyError):
        print("  (no JSON report)", out[:300])

    if not args.no_peers:
        tool = venv_tool("pip-audit", "pip-audit", "pip-audit")
        if tool is None:
            results["pip-audit"] = {"note": "could not be installed"}
        else:
            times, codes = [], []
            note = ""
            for _ in range(max(1, min(args.runs, 3))):
                t, code, tail = timed([str(tool), "-r", str(REQS), "--no-deps", "--disable-pip", "--progress-spinner",
                                       "off"], env, args.peer_timeout)
                times.append(t)
                codes.append(code)
                if code not in (0, 1):
                    note = f"failed: {tail.strip().splitlines()[-1] if tail.strip() else code}"
                    break
            record("pip-audit -r FILE --no-deps --disable-pip", times, codes, note)
        tool = venv_tool("guarddog", "guarddog", "guarddog")
        if tool is None:
            results["guarddog verify"] = {"note": "could not be installed"}
        else:
            t, code, tail = timed([str(tool), "pypi", "verify", str(REQS)], env, args.peer_timeout)
            note = "" if code in (0, 1) else f"failed: {tail.strip().splitlines()[-1] if tail.strip() else code}"
            record("guarddog pypi verify FILE", [t], [code], note)

    print(json.dumps({"file": str(REQS.relative_to(BENCH.parent)), "db": db_source, "cores": os.cpu_count(),
                      "load_average_at_end": os.getloadavg(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
