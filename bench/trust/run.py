"""Typosquat benchmark: false positives on the popular projects themselves, hits on the dev
malware corpus's names, and the time to check every popular name.

    python bench/trust/run.py [--repeat 5] [--sample 25]

Reads only the corpus manifest (names), never the archives.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import statistics
import time
from pathlib import Path

from pipwarden.typosquat import POPULAR_RATIO, PopularIndex, load_document, parse_rows

MANIFEST = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "malicious-dev.manifest.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5, help="timing runs (median reported)")
    ap.add_argument("--sample", type=int, default=25, help="corpus hits to show")
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    args = ap.parse_args()

    doc, source = load_document()
    rows = parse_rows(doc)
    builds, checks, cpu = [], [], []
    index = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        index = PopularIndex(rows)
        index.prepare()
        t1 = time.perf_counter()
        c1 = time.process_time()
        flagged = [m for m in (index.match(n) for n in index.names()) if m is not None]
        c2 = time.process_time()
        t2 = time.perf_counter()
        builds.append(t1 - t0)
        checks.append(t2 - t1)
        cpu.append(c2 - c1)
    assert index is not None
    names = index.names()
    print(f"popular projects: {len(names)} ({source}, {doc.get('last_update', '?')})")
    print(f"index build: median {statistics.median(builds):.2f} s; "
          f"checking all {len(names)} names: median {statistics.median(checks):.2f} s "
          f"(CPU {statistics.median(cpu):.2f} s; wall runs: {', '.join(f'{c:.2f}' for c in checks)})")
    total = statistics.median(b + c for b, c in zip(builds, checks, strict=True))
    print(f"build + check, one process: median {total:.2f} s")

    print("\nfalse positives on the popular projects (each counted as a false alarm), by download ratio rule:")
    cands = {n: index.candidates(n) for n in names}
    for ratio in (1, 10, 100, POPULAR_RATIO, 10_000):
        count = 0
        for n, ts in cands.items():
            own = index.downloads(n) or 0
            if any((index.downloads(t) or 0) >= own * ratio for t in ts):
                count += 1
        mark = "  <- pipwarden's rule" if ratio == POPULAR_RATIO else ""
        print(f"  target >= {ratio:>6}x the name's downloads: {count:5d} flagged = {count / len(names):.2%}{mark}")
    print(f"flagged at the {POPULAR_RATIO}x rule ({len(flagged)}):")
    for m in flagged[:12]:
        print(f"  {m.name} ~ {m.target} ({m.technique}); {m.name_downloads:,} vs {m.target_downloads:,}")

    if not args.manifest.is_file():
        print(f"\n(no corpus manifest at {args.manifest})")
        return
    manifest = json.loads(args.manifest.read_text())
    mal = sorted({s["name"] for s in manifest["samples"]})
    hits = [m for m in (index.match(n) for n in mal) if m is not None]
    print(f"\ndev malware corpus: {len(hits)} of {len(mal)} distinct names flagged ({len(hits) / len(mal):.1%})")
    techniques = collections.Counter(h.technique.split(" (")[0] for h in hits)
    for t, c in techniques.most_common():
        print(f"  {c:4d}  {t}")
    targets = collections.Counter(h.target for h in hits)
    print("most imitated: " + ", ".join(f"{t} ({c})" for t, c in targets.most_common(12)))
    rng = random.Random(7)
    print("sample:")
    for h in rng.sample(hits, min(args.sample, len(hits))):
        print(f"  {h.name:28s} -> {h.target:24s} {h.technique}")


if __name__ == "__main__":
    main()
