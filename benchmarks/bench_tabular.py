"""Wide CSV (and .csv.gz) against NDJSON through ``fastdrg group``, one run, same claims.

    python benchmarks/bench_tabular.py [--claims 1000000] [--distinct 100000] [--repeat 1]

The same claims (engine.synthetic, ``--distinct`` generated and repeated up to
``--claims``) are written as NDJSON, as a wide CSV (``id, version, age, sex,
discharge_status, hospital_status, dx1, poa1, … dxN, poaN, px1 … pxM``) and as
that CSV gzip-compressed; then ``fastdrg group`` runs on each, as a user runs
it, one after the other:

* NDJSON -> NDJSON, the reference, with the per-code detail (the default) and
  with ``--no-detail``;
* CSV and .csv.gz -> NDJSON, each compared with the NDJSON road giving the same
  lines (detail or not);
* CSV -> CSV (the wide rows back with the result columns), .csv.gz -> .csv.gz
  and CSV -> Parquet, shown against NDJSON --no-detail (no detail in them either).

The rate is the command's own (claims / seconds after the engine is loaded:
the line ``fastdrg: N rows grouped in S s``); best of ``--repeat``.
Goal (issue 30): CSV and .csv.gz >= 50 % of the NDJSON rate.

    python benchmarks/bench_tabular.py --cms-batch [--claims 300000] [--distinct 100000]

CMS's batch layout instead (engine.io.cms_batch): the same claims, each given
a discharge date in its version's period instead of the version (the layout
has no version; the date picks it, as for a real file) and without the few the
layout cannot hold (more than 24 secondary diagnoses, hospital status
unknown), written as NDJSON and as 835-byte records; ``fastdrg group`` on
each, to NDJSON with and without detail, and cms-batch -> CSV.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_RATE = re.compile(rb"(\d+) (?:rows|lines) grouped in ([0-9.]+) s")


def run(argv: list[str]) -> tuple[float, float, int]:
    """(claims/s as the command reports it, wall seconds, claims)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "engine.cli", *argv, "--no-progress"], capture_output=True, env=env)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {r.stderr.decode()[-2000:]}")
    m = _RATE.search(r.stderr)
    n, s = int(m.group(1)), float(m.group(2))
    return n / s, wall, n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=1_000_000)
    ap.add_argument("--distinct", type=int, default=100_000, help="claims generated; repeated up to --claims")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--cms-batch", action="store_true", help="CMS's batch layout against NDJSON instead")
    args = ap.parse_args()
    if args.cms_batch:
        return cms_batch_main(args)

    import orjson

    from engine.io.tabular import claims_wide
    from engine.synthetic import generate_claims

    t = time.perf_counter()
    made = generate_claims(min(args.distinct, args.claims), seed=args.seed, edge_cases=False)
    reps, rest = divmod(args.claims, len(made))
    with tempfile.TemporaryDirectory(prefix="fastdrg-bench-tab-") as tmp:
        tmp = Path(tmp)
        nd_text = b"".join(orjson.dumps(c) + b"\n" for c in made)
        head, rows = claims_wide(made, min_dx=1, min_px=1)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerows(rows)
        csv_body = buf.getvalue().encode()
        csv_rest = csv_body.split(b"\n", rest)[:rest]
        with open(tmp / "claims.jsonl", "wb") as f:
            for _ in range(reps):
                f.write(nd_text)
            f.write(b"".join(x + b"\n" for x in nd_text.split(b"\n")[:rest]))
        with open(tmp / "claims.csv", "wb") as f:
            f.write((",".join(head) + "\n").encode())
            for _ in range(reps):
                f.write(csv_body)
            f.write(b"".join(x + b"\n" for x in csv_rest))
        with open(tmp / "claims.csv", "rb") as src, gzip.open(tmp / "claims.csv.gz", "wb", compresslevel=6) as dst:
            while chunk := src.read(1 << 22):
                dst.write(chunk)
        sizes = {p.name: p.stat().st_size / 1e6 for p in tmp.iterdir()}
        print(f"fastdrg tabular benchmark: {args.claims:,} claims ({len(made):,} generated, repeated; "
              f"{time.perf_counter() - t:.0f} s to make); files: "
              + ", ".join(f"{k} {v:,.0f} MB" for k, v in sorted(sizes.items()))
              + f"; {os.cpu_count()} cores", flush=True)

        f = {k: str(tmp / k) for k in ("claims.jsonl", "claims.csv", "claims.csv.gz")}
        o = {k: str(tmp / k) for k in ("r.jsonl", "r.csv", "r.csv.gz", "r.parquet")}
        # (road, argv, reference road, goal): each compared with the NDJSON road that
        # gives the same results (detail in the lines, or none)
        ref_d, ref_n = "NDJSON -> NDJSON (with detail: the default)", "NDJSON -> NDJSON --no-detail"
        roads = [
            (ref_d, ["group", f["claims.jsonl"], "-o", o["r.jsonl"]], None, None),
            ("CSV -> NDJSON (with detail)", ["group", f["claims.csv"], "-o", o["r.jsonl"]], ref_d, 0.50),
            (".csv.gz -> NDJSON (with detail)", ["group", f["claims.csv.gz"], "-o", o["r.jsonl"]], ref_d, 0.50),
            (ref_n, ["group", f["claims.jsonl"], "-o", o["r.jsonl"], "--no-detail"], None, None),
            ("CSV -> NDJSON --no-detail", ["group", f["claims.csv"], "-o", o["r.jsonl"], "--no-detail"], ref_n, 0.50),
            (".csv.gz -> NDJSON --no-detail", ["group", f["claims.csv.gz"], "-o", o["r.jsonl"], "--no-detail"],
             ref_n, 0.50),
            ("CSV -> CSV (wide rows + result columns)", ["group", f["claims.csv"], "-o", o["r.csv"]], ref_n, None),
            (".csv.gz -> .csv.gz (wide)", ["group", f["claims.csv.gz"], "-o", o["r.csv.gz"]], ref_n, None),
            ("CSV -> Parquet", ["group", f["claims.csv"], "-o", o["r.parquet"]], ref_n, None),
        ]
        results = []
        for name, argv, ref, goal in roads:
            best = None
            for _ in range(args.repeat):
                got = run(argv)
                if best is None or got[0] > best[0]:
                    best = got
            results.append((name, best, ref, goal))
            print(f"  {name}: {best[0]:,.0f}/s (wall {best[1]:.1f} s)", flush=True)
            for p in tmp.glob("r*"):
                p.unlink()

    rate = {name: best[0] for name, best, _ref, _goal in results}
    print()
    print(f"{'road (fastdrg group)':44} {'claims/s':>10} {'wall s':>8} {'of its NDJSON road':>19} {'goal':>8}")
    for name, (r, wall, _n), ref, goal in results:
        share = f"{r / rate[ref] * 100:.0f} %" if ref else "reference"
        gs = f">= {goal * 100:.0f} %" if goal else ""
        ok = "" if goal is None else ("  ok" if r / rate[ref] >= goal else "  BELOW")
        print(f"{name:44} {r:10,.0f} {wall:8.1f} {share:>19} {gs:>8}{ok}")
    return 0


def _dated(claims: list) -> list:
    """The claims with a discharge date in their version's period instead of the version
    (X.0: 15 November of its fiscal year's first year; X.1: 15 May after)."""
    import datetime as dt

    out = []
    for c in claims:
        major, minor = map(int, c["version"].split("."))
        day = dt.date(2022 + major - 40, 11, 15) if minor == 0 else dt.date(2023 + major - 40, 5, 15)
        d = {k: v for k, v in c.items() if k != "version"}
        d["discharge_date"] = day.isoformat()
        out.append(d)
    return out


def cms_batch_main(args) -> int:
    import orjson

    from engine.io.cms_batch import claims_records
    from engine.synthetic import generate_claims

    t = time.perf_counter()
    made = _dated(generate_claims(min(args.distinct, args.claims), seed=args.seed, edge_cases=False))
    records, left = claims_records(made)
    gone = {id(c) for c in left}
    made = [c for c in made if id(c) not in gone]
    reps, rest = divmod(args.claims, len(made))
    with tempfile.TemporaryDirectory(prefix="fastdrg-bench-cms-") as tmp:
        tmp = Path(tmp)
        nd_text = b"".join(orjson.dumps(c) + b"\n" for c in made)
        with open(tmp / "claims.jsonl", "wb") as f:
            for _ in range(reps):
                f.write(nd_text)
            f.write(b"".join(x + b"\n" for x in nd_text.split(b"\n")[:rest]))
        with open(tmp / "claims.txt", "wb") as f:
            for _ in range(reps):
                f.write(records)
            f.write(records[:rest * 836])
        sizes = {p.name: p.stat().st_size / 1e6 for p in tmp.iterdir()}
        print(f"fastdrg cms-batch benchmark: {reps * len(made) + rest:,} claims ({len(made):,} generated and "
              f"kept, repeated; {time.perf_counter() - t:.0f} s to make); files: "
              + ", ".join(f"{k} {v:,.0f} MB" for k, v in sorted(sizes.items())) + f"; {os.cpu_count()} cores",
              flush=True)
        nd, cb, out = str(tmp / "claims.jsonl"), str(tmp / "claims.txt"), str(tmp / "r.jsonl")
        ref_d, ref_n = "NDJSON -> NDJSON (with detail: the default)", "NDJSON -> NDJSON --no-detail"
        roads = [
            (ref_d, ["group", nd, "-o", out], None),
            ("cms-batch -> NDJSON (with detail)", ["group", "--format", "cms-batch", cb, "-o", out], ref_d),
            (ref_n, ["group", nd, "-o", out, "--no-detail"], None),
            ("cms-batch -> NDJSON --no-detail", ["group", "--format", "cms-batch", cb, "-o", out, "--no-detail"],
             ref_n),
            ("cms-batch -> CSV (record + fields + results)",
             ["group", "--format", "cms-batch", cb, "-o", str(tmp / "r.csv")], ref_n),
        ]
        results = []
        for name, argv, ref in roads:
            best = None
            for _ in range(args.repeat):
                got = run(argv)
                if best is None or got[0] > best[0]:
                    best = got
            results.append((name, best, ref))
            print(f"  {name}: {best[0]:,.0f}/s (wall {best[1]:.1f} s)", flush=True)
    rate = {name: best[0] for name, best, _ref in results}
    print()
    print(f"{'road (fastdrg group)':46} {'claims/s':>10} {'wall s':>8} {'of its NDJSON road':>19}")
    for name, (r, wall, _n), ref in results:
        share = f"{r / rate[ref] * 100:.0f} %" if ref else "reference"
        print(f"{name:46} {r:10,.0f} {wall:8.1f} {share:>19}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
