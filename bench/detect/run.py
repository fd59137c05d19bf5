"""Detection quality on the dev sets: recall on the malicious corpus, false alarms on popular projects.

    python bench/detect/run.py [--workers 2] [--guarddog-sample 200] [--malicious-limit N]
                               [--benign-limit N] [--json bench/results/detect.json]

* The malicious dev set (``malicious-dev.zip``) is decrypted ONCE into a temporary folder of
  packed archives (never unpacked, installed or built); decryption is not timed.
* The benign dev set is the latest sdist (else a wheel) of each project in ``benign-dev.txt``,
  downloaded once from the configured index into ``bench/.cache/benign`` (gitignored).
* Every archive is scanned in-process with pipwarden's engine (``read_archive`` +
  ``analyze.analyze_archive``) in a ProcessPoolExecutor; the verdict is the default policy's
  (block at high and above, warn at medium). Figures are given for the code checks (PW1xx, the
  detector this benchmark measures) and for all checks together.
* GuardDog runs on a deterministic sample of the same files (``--guarddog-sample``, half from
  each side): its JSON ``risk_score.score`` (0-10) >= 5 counts as block, >= 3 as warn.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import CACHE, Sample, TempCorpus, benign_samples, malicious_samples

from pipwarden import analyze
from pipwarden.archive import read_archive
from pipwarden.errors import PipwardenError
from pipwarden.models import Artifact, Severity
from pipwarden.scan import local_ref

REPO = Path(__file__).resolve().parents[2]
GUARDDOG = REPO / "bench" / ".venv-guarddog" / "bin" / "guarddog"
_MEMO = analyze.MemberMemo()


def scan_one(path: str) -> dict[str, Any]:
    p = Path(path)
    try:
        archive = read_archive(p)
    except PipwardenError as e:
        return {"path": path, "error": str(e), "findings": []}
    # The package's name as `pipwarden scan FILE` derives it (checks compare it with what the file installs).
    _, findings = analyze.analyze_archive(archive, Artifact(p.name, path=p), local_ref(p), memo=_MEMO)
    return {
        "path": path,
        "error": None,
        "findings": [
            {"id": f.id, "severity": int(f.severity), "file": f.file, "line": f.line, "message": f.message,
             "evidence": f.evidence}
            for f in findings
        ],
    }


def verdict(findings: list[dict[str, Any]], code_only: bool) -> str:
    sev = max((f["severity"] for f in findings if not code_only or f["id"].startswith("PW1")), default=-1)
    if sev >= Severity.HIGH:
        return "block"
    if sev >= Severity.MEDIUM:
        return "warn"
    return "pass"


def guarddog_score(path: Path) -> float | None:
    try:
        proc = subprocess.run([str(GUARDDOG), "pypi", "scan", str(path), "--no-sandbox", "--output-format", "json"],
                              capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return None
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None
    score = (doc.get("risk_score") or {}).get("score")
    return float(score) if isinstance(score, int | float) else None


def ensure_guarddog() -> bool:
    if GUARDDOG.exists():
        return True
    venv = GUARDDOG.parents[1]
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "guarddog"], check=False).returncode == 0


def pct(n: int, d: int) -> str:
    return f"{n}/{d} = {100 * n / d:.1f}%" if d else "n/a"


def rate(n: int, d: int) -> str:
    return f"{n / d:.3f} ({n}/{d})" if d else "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--guarddog-sample", type=int, default=0, help="files GuardDog scans (half per side); 0 = skip")
    ap.add_argument("--malicious-limit", type=int, default=None)
    ap.add_argument("--benign-limit", type=int, default=None)
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "detect.json")
    ap.add_argument("--show-flagged", type=int, default=40, help="benign projects flagged to list")
    ap.add_argument("--dump", type=Path, default=CACHE / "detect-samples.json",
                    help="per-sample verdicts and findings (gitignored cache; for triaging misses)")
    args = ap.parse_args()

    benign = benign_samples()
    if args.benign_limit is not None:
        benign = benign[: args.benign_limit]
    with TempCorpus() as tmp:
        t0 = time.perf_counter()
        malicious = malicious_samples(tmp, args.malicious_limit)
        decrypt = time.perf_counter() - t0
        results: dict[str, dict[str, Any]] = {}
        timing: dict[str, float] = {}
        with ProcessPoolExecutor(args.workers) as ex:
            for label, samples in (("malicious", malicious), ("benign", benign)):
                t = time.perf_counter()
                for r in ex.map(scan_one, [str(s.path) for s in samples], chunksize=8):
                    results[r["path"]] = r
                timing[label] = time.perf_counter() - t
        gd: dict[str, float | None] = {}
        gd_time = 0.0
        if args.guarddog_sample and ensure_guarddog():
            rng = random.Random(20260401)
            half = args.guarddog_sample // 2
            pick = rng.sample(malicious, min(half, len(malicious))) + rng.sample(benign, min(half, len(benign)))
            t = time.perf_counter()
            with ThreadPoolExecutor(args.workers) as tex:
                for s, score in zip(pick, tex.map(lambda s: guarddog_score(s.path), pick), strict=True):
                    gd[str(s.path)] = score
            gd_time = time.perf_counter() - t
        report = summarise(malicious, benign, results, timing, decrypt, gd, gd_time, args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    labels = {str(s.path): (s.label, s.name, s.version) for s in [*malicious, *benign]}
    args.dump.parent.mkdir(parents=True, exist_ok=True)
    args.dump.write_text(json.dumps([
        {"label": labels[k][0], "name": labels[k][1], "version": labels[k][2], "file": Path(k).name,
         "code_verdict": verdict(r["findings"], True), "verdict": verdict(r["findings"], False), **r}
        for k, r in results.items()
    ]))
    return 0


def summarise(malicious: list[Sample], benign: list[Sample], results: dict[str, dict[str, Any]],
              timing: dict[str, float], decrypt: float, gd: dict[str, float | None], gd_time: float,
              args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"malicious": len(malicious), "benign": len(benign)}
    lines: list[str] = []
    for code_only, label in ((True, "code checks (PW1xx)"), (False, "all checks")):
        mv = collections.Counter(verdict(results[str(s.path)]["findings"], code_only) for s in malicious)
        bv = collections.Counter(verdict(results[str(s.path)]["findings"], code_only) for s in benign)
        nm, nb = len(malicious), len(benign)
        lines += [
            f"### pipwarden, {label}",
            "",
            "| measure | value | target |",
            "|---|---|---|",
            f"| recall at block | {rate(mv['block'], nm)} | >= 0.95 |",
            f"| recall at warn (warn or block) | {rate(mv['block'] + mv['warn'], nm)} | >= 0.98 |",
            f"| false-positive rate at block | {pct(bv['block'], nb)} | <= 0.5% |",
            f"| false-positive rate at warn (warn or block) | {pct(bv['block'] + bv['warn'], nb)} | <= 3% |",
            "",
        ]
        out[label] = {"malicious": dict(mv), "benign": dict(bv)}
    for side, samples in (("malicious", malicious), ("benign", benign)):
        rules: collections.Counter[str] = collections.Counter()
        for s in samples:
            ids = {f["id"] for f in results[str(s.path)]["findings"] if f["severity"] >= Severity.MEDIUM}
            rules.update(ids)
        top = ", ".join(f"{rid} {n}" for rid, n in rules.most_common(12))
        lines.append(f"Top rules at medium or above, {side} side (archives): {top}")
        lines.append("")
        out[f"rules_{side}"] = dict(rules)
    flagged = []
    for s in benign:
        fs = [f for f in results[str(s.path)]["findings"] if f["id"].startswith("PW1") and f["severity"] >= 2]
        if fs:
            top_f = max(fs, key=lambda f: f["severity"])
            flagged.append((s.name, Severity(top_f["severity"]).label, top_f["id"], f"{top_f['file']}:{top_f['line']}",
                            top_f["message"][:110]))
    flagged.sort(key=lambda r: (r[1] != "critical", r[1] != "high", r[0]))
    lines.append(f"Benign projects the code checks flag (warn or block): {len(flagged)}")
    lines.append("")
    for row in flagged[: args.show_flagged]:
        lines.append(f"- {row[0]}: {row[1]} {row[2]} {row[3]} — {row[4]}")
    lines.append("")
    errors = sum(1 for r in results.values() if r["error"])
    mal_rate = len(malicious) / timing["malicious"] if timing["malicious"] else 0.0
    lines += [
        f"Throughput ({args.workers} worker processes): malicious corpus {len(malicious)} archives in "
        f"{timing['malicious']:.1f} s ({mal_rate:.0f}/s, decryption {decrypt:.1f} s not counted); benign "
        f"{len(benign)} archives in {timing['benign']:.1f} s; unreadable archives: {errors}.",
        "",
    ]
    out["timing"] = {**timing, "decrypt": decrypt}
    if gd:
        mal_paths = {str(s.path) for s in malicious}
        gm = [v for k, v in gd.items() if k in mal_paths]
        gb = [v for k, v in gd.items() if k not in mal_paths]
        pm = [results[k]["findings"] for k in gd if k in mal_paths]
        pb = [results[k]["findings"] for k in gd if k not in mal_paths]

        def count(vals: list[float | None], lo: float) -> int:
            return sum(1 for v in vals if v is not None and v >= lo)

        def pw(fl: list[list[dict[str, Any]]], level: str) -> int:
            return sum(1 for f in fl if verdict(f, True) in (("block",) if level == "block" else ("block", "warn")))

        lines += [
            f"### GuardDog on a sample of the same files ({len(gm)} malicious + {len(gb)} benign, seed 20260401; "
            f"score >= 5 block, >= 3 warn; {sum(1 for v in gd.values() if v is None)} without a score; "
            f"{gd_time:.0f} s)",
            "",
            "| measure | GuardDog | pipwarden (code checks), same sample |",
            "|---|---|---|",
            f"| recall at block | {rate(count(gm, 5), len(gm))} | {rate(pw(pm, 'block'), len(pm))} |",
            f"| recall at warn | {rate(count(gm, 3), len(gm))} | {rate(pw(pm, 'warn'), len(pm))} |",
            f"| false-positive rate at block | {pct(count(gb, 5), len(gb))} | {pct(pw(pb, 'block'), len(pb))} |",
            f"| false-positive rate at warn | {pct(count(gb, 3), len(gb))} | {pct(pw(pb, 'warn'), len(pb))} |",
            "",
        ]
        out["guarddog"] = {"scores": gd, "seconds": gd_time}
    text = "\n".join(lines)
    print(text)
    out["markdown"] = text
    out["cache"] = str(CACHE)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
