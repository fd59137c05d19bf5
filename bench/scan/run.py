"""Scan benchmark (issue: pipwarden scan).

1. Per process: median wall time of `pipwarden scan FILE` against
   `guarddog pypi scan FILE --no-sandbox` on the same 50 corpus files, run side by side.
2. Throughput: packages per second of one `pipwarden scan DIR` over every dev-corpus sample.
3. `pipwarden --help` wall time (lazy imports).

The malicious corpus is decrypted once into a temporary folder of *packed* archives (never
unpacked, installed or built); decryption is not timed. GuardDog is installed into its own
venv (bench/.venv-guarddog) on first run.

    python bench/scan/run.py [--files 50] [--skip-guarddog]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
GUARDDOG_VENV = REPO / "bench" / ".venv-guarddog"


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def extract(dest: Path) -> list[Path]:
    """Every sample as its packed archive, flat; a repeated filename goes to a second folder."""
    manifest = json.loads((CORPUS / "malicious-dev.manifest.json").read_text())["samples"]
    out: list[Path] = []
    with zipfile.ZipFile(CORPUS / "malicious-dev.zip") as zf:
        for entry in manifest:
            name = Path(entry["file"]).name
            folder = dest / "a"
            if (folder / name).exists():
                folder = dest / "b"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(zf.read(entry["file"], pwd=b"infected"))
            out.append(folder / name)
    return out


def guarddog() -> Path | None:
    exe = GUARDDOG_VENV / "bin" / "guarddog"
    if not exe.exists():
        print("installing guarddog into", GUARDDOG_VENV, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(GUARDDOG_VENV)], check=True)
        proc = subprocess.run([str(GUARDDOG_VENV / "bin" / "pip"), "install", "-q", "guarddog"], check=False)
        if proc.returncode != 0:
            return None
    return exe


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--skip-guarddog", action="store_true")
    args = ap.parse_args()
    pipwarden = shutil.which("pipwarden") or str(Path(sys.executable).parent / "pipwarden")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        samples = extract(Path(tmp))
        print(f"decrypted {len(samples)} samples in {time.perf_counter() - t0:.1f} s (not timed below)")

        helps = [timed([pipwarden, "--help"]) for _ in range(7)]
        print(f"pipwarden --help: median {statistics.median(helps) * 1000:.0f} ms over {len(helps)} runs")

        step = max(len(samples) // args.files, 1)
        chosen = samples[::step][: args.files]
        gd = None if args.skip_guarddog else guarddog()
        ours: list[float] = []
        theirs: list[float] = []
        for path in chosen:
            ours.append(timed([pipwarden, "scan", str(path), "--offline", "-q", "-f", "json", "-o", os.devnull]))
            if gd is not None:
                theirs.append(timed([str(gd), "pypi", "scan", str(path), "--no-sandbox"]))
        mo = statistics.median(ours)
        print(f"per-process, {len(chosen)} files: pipwarden median {mo:.3f} s", end="")
        if theirs:
            mt = statistics.median(theirs)
            print(f", guarddog median {mt:.3f} s, ratio pipwarden/guarddog = {mo / mt:.3f}")
        else:
            print(" (guarddog not run)")

        dirs = sorted({str(p.parent) for p in samples})
        start = time.perf_counter()
        proc = subprocess.run([pipwarden, "scan", *dirs, "--offline", "-q", "-f", "json"],
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        report = json.loads(proc.stdout)
        n = len(report["packages"])
        print(f"throughput: one `pipwarden scan DIR` over {len(samples)} files ({n} packages) "
              f"in {wall:.1f} s = {len(samples) / wall:.1f} files/s; summary {report['summary']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
