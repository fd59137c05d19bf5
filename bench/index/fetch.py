"""Index client: concurrent downloads and cache hits against the local test index (127.0.0.1).

    /tmp/probe/bin/python bench/index/fetch.py [--files 40] [--latency 0.05] [--repeat 5]

Each file answers after ``--latency`` seconds (a far-away index, simulated). Reports the median
wall time of fetch_many over all files with 1 and 8 workers (cold cache), of the same call with a
warm cache (no request at all, digests re-verified), and of project() fresh vs cached.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.builders import make_wheel
from tests.indexserver import LocalIndex

from pipwarden.index.cache import Cache
from pipwarden.index.client import IndexClient


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--size", type=int, default=200_000, help="random bytes per wheel")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalIndex() as index:
        d = Path(tmp)
        for i in range(args.files):
            w = make_wheel(d, "many", f"1.{i}", {"many/blob.bin": os.urandom(args.size)})
            index.add(w)
            index.slow["/packages/" + w.name] = args.latency
        with IndexClient(index.url, cache=None) as c:
            files = list(c.project("many").files)
        total_mb = sum(f.size or 0 for f in files) / 1e6

        def cold(workers: int) -> float:
            with (
                tempfile.TemporaryDirectory() as cdir,
                IndexClient(index.url, cache=Cache(Path(cdir)), max_workers=workers) as c,
            ):
                t = time.perf_counter()
                res = c.fetch_many(files)
                el = time.perf_counter() - t
                assert all(isinstance(r, Path) for r in res)
                return el

        results = {}
        for workers in (1, 8):
            results[f"fetch_many cold, {workers} worker(s)"] = statistics.median(
                cold(workers) for _ in range(args.repeat)
            )
        with tempfile.TemporaryDirectory() as cdir:
            cache = Cache(Path(cdir))
            with IndexClient(index.url, cache=cache) as c:
                c.fetch_many(files)
                warm = []
                for _ in range(args.repeat):
                    before = len(index.requests)
                    t = time.perf_counter()
                    c.fetch_many(files)
                    warm.append(time.perf_counter() - t)
                    assert len(index.requests) == before
                results["fetch_many warm cache (no request)"] = statistics.median(warm)
                page_fresh = []
                for _ in range(args.repeat):
                    with IndexClient(index.url, cache=None) as nc:
                        t = time.perf_counter()
                        nc.project("many")
                        page_fresh.append(time.perf_counter() - t)
                c.project("many")
                page_cached = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    c.project("many")
                    page_cached.append(time.perf_counter() - t)
                results["project() over HTTP"] = statistics.median(page_fresh)
                results["project() from cache"] = statistics.median(page_cached)
    print(f"{args.files} files, {total_mb:.1f} MB, {args.latency * 1000:.0f} ms latency each, median of {args.repeat}")
    for k, v in results.items():
        print(f"  {k:40s} {v * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
