"""Benchmark: lock the 100-package stack with pipwarden, uv and pip-compile in the same run.

    python bench/lock/run.py [--runs 3] [--cold-runs 1] [--no-pip-compile]

Timed as processes, wall clock, medians:
  * pipwarden lock requirements.in              resolve (uv, no builds) + hash every file + vet (scan + OSV DB)
  * uv pip compile --generate-hashes --only-binary :all:
  * pip-compile --generate-hashes --pip-args '--only-binary :all:'   (pip-tools in bench/.venv-pip-tools)

cold = every tool's cache empty (fresh directories); warm = the same cache again. All three resolve for
this interpreter's Python version and platform with builds forbidden (no package code runs), against
the configured index. Then the locks are compared: pinned versions and, per package, the set of
sha256 hashes; every difference is listed with the reason found for it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REQS_IN = HERE / "requirements.in"
SHARED_ZIP = BENCH.parent.parent / "shared" / "data" / "osv-pypi-advisories.zip"
PIPTOOLS_VENV = BENCH / ".venv-pip-tools"
PYVER = "{}.{}.{}".format(*sys.version_info[:3])  # full version, as pip-compile (running on it) sees it


def uv_bin() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def index_url() -> str:
    from pipwarden.index.config import check_index_url, configured_index_url

    return check_index_url(configured_index_url(), False)


def pip_tools() -> Path | None:
    exe = PIPTOOLS_VENV / "bin" / "pip-compile"
    if exe.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(PIPTOOLS_VENV)], check=True)
    proc = subprocess.run([str(PIPTOOLS_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--only-binary",
                           ":all:", "pip-tools"], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"pip-tools could not be installed: {proc.stderr.strip()[-300:]}")
        return None
    return exe


def parse_lock(text: str) -> dict[str, tuple[str, set[str]]]:
    """name -> (version, sha256 set) from a requirements file with --hash lines."""
    out: dict[str, tuple[str, set[str]]] = {}
    current: str | None = None
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if m:
            from packaging.utils import canonicalize_name

            current = str(canonicalize_name(m.group(1)))
            out[current] = (m.group(2), set())
        if current is not None:
            out[current][1].update(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return out


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        print(f"  FAILED ({proc.returncode}): {' '.join(cmd[:4])}…\n  {proc.stderr.strip()[-800:]}")
    return elapsed, proc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3, help="warm runs per tool (median)")
    ap.add_argument("--cold-runs", type=int, default=1, help="cold runs per tool (median)")
    ap.add_argument("--no-pip-compile", action="store_true")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]

    url = index_url()
    work = Path(tempfile.mkdtemp(prefix="pipwarden-bench-lock-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIPWARDEN_"))}
    base_env["PYTHONDONTWRITEBYTECODE"] = "0"
    pc = None if args.no_pip_compile else pip_tools()
    tools: dict[str, list[float]] = {}
    outputs: dict[str, str] = {}

    def run_set(label: str, n: int, fresh: bool) -> None:
        for i in range(n):
            caches = work / (f"cold{i}" if fresh else "warm")
            if fresh and caches.exists():
                shutil.rmtree(caches)
            caches.mkdir(parents=True, exist_ok=True)
            pw_env = dict(base_env, PIPWARDEN_CACHE_DIR=str(caches / "pipwarden"))
            if not (caches / "pipwarden" / "vulndb").exists():
                subprocess.run([sys.executable, "-m", "pipwarden", "db", "update", "--file", str(SHARED_ZIP)],
                               env=pw_env, capture_output=True, check=True)
            out = caches / "pipwarden.txt"
            t, proc = timed([sys.executable, "-m", "pipwarden", "lock", str(REQS_IN), "-o", str(out), "-i", url,
                             "--force"], pw_env)
            tools.setdefault(f"pipwarden lock ({label})", []).append(t)
            if out.exists():
                outputs["pipwarden"] = out.read_text()
                stages = [ln for ln in proc.stderr.splitlines() if "timings" in ln]
                if stages:
                    print(f"  pipwarden {label} run {i + 1}: {t:.1f} s ({stages[-1].split('timings: ')[-1]})")
            uv_env = dict(base_env, UV_CACHE_DIR=str(caches / "uv"), UV_NO_CONFIG="1")
            t, proc = timed([uv_bin(), "pip", "compile", str(REQS_IN), "--generate-hashes", "--only-binary", ":all:",
                             "--index-url", url, "--python-version", PYVER, "--no-header", "--no-annotate",
                             "--quiet"], uv_env)
            tools.setdefault(f"uv pip compile ({label})", []).append(t)
            outputs["uv"] = proc.stdout
            if pc is not None:
                pc_out = caches / "pip-compile.txt"
                pc_env = dict(base_env, PIP_CONFIG_FILE=os.devnull)
                t, proc = timed([str(pc), "--generate-hashes", "--no-header", "--no-annotate", "--quiet",
                                 "--cache-dir", str(caches / "pip-tools"), "--index-url", url,
                                 "--pip-args", f"--only-binary :all: --cache-dir {caches / 'pip'}",
                                 "-o", str(pc_out), str(REQS_IN)], pc_env)
                tools.setdefault(f"pip-compile ({label})", []).append(t)
                if pc_out.exists():
                    outputs["pip-compile"] = pc_out.read_text()
            print(f"  {label} run {i + 1} done")

    print(f"locking {REQS_IN} ({sum(1 for ln in REQS_IN.read_text().splitlines() if ln and not ln.startswith('#'))}"
          f" requirements) for Python {PYVER}; warm runs {args.runs}, cold runs {args.cold_runs}")
    run_set("cold", args.cold_runs, fresh=True)
    run_set("warm", 1, fresh=False)  # fill the warm cache
    tools = {k: v for k, v in tools.items() if "(warm)" not in k}
    run_set("warm", args.runs, fresh=False)

    med = {k: statistics.median(v) for k, v in tools.items()}
    print("\nmedian wall time")
    for k, v in med.items():
        print(f"  {k:32} {v:7.2f} s   (runs: {', '.join(f'{x:.1f}' for x in tools[k])})")
    for label in ("cold", "warm"):
        pw = med.get(f"pipwarden lock ({label})")
        uv = med.get(f"uv pip compile ({label})")
        pc_t = med.get(f"pip-compile ({label})")
        if pw and uv:
            print(f"  {label}: pipwarden / uv = {pw / uv:.2f}x", end="")
        if pw and pc_t:
            print(f"; pipwarden / pip-compile = {pw / pc_t:.2f}x", end="")
        print()

    locks = {k: parse_lock(v) for k, v in outputs.items() if v}
    print("\nagreement (pinned versions, sha256 sets)")
    ref = locks.get("uv", {})
    report: dict[str, object] = {"medians": med, "runs": tools, "packages": {k: len(v) for k, v in locks.items()}}
    for other in ("pipwarden", "pip-compile"):
        lock = locks.get(other)
        if lock is None:
            continue
        only_ref = sorted(set(ref) - set(lock))
        only_other = sorted(set(lock) - set(ref))
        versions = sorted(n for n in set(ref) & set(lock) if ref[n][0] != lock[n][0])
        hashes = sorted(n for n in set(ref) & set(lock) if ref[n][0] == lock[n][0] and ref[n][1] != lock[n][1])
        print(f"  uv vs {other}: {len(set(ref) & set(lock))} common packages; versions differ: {versions or 'none'}; "
              f"hash sets differ: {hashes or 'none'}; only in uv: {only_ref or 'none'}; only in {other}: "
              f"{only_other or 'none'}")
        for n in hashes[:10]:
            extra = len(lock[n][1] - ref[n][1])
            missing = len(ref[n][1] - lock[n][1])
            print(f"    {n}=={ref[n][0]}: {other} has {extra} hashes uv lacks, lacks {missing} that uv has")
        report[f"uv_vs_{other}"] = {"versions": versions, "hashes": hashes, "only_uv": only_ref,
                                    f"only_{other}": only_other}
    (work / "result.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"\nlocks and result.json in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
