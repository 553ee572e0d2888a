"""Wide CSV (and .csv.gz) against NDJSON through ``fastdrg group``, one run, same claims.

    python benchmarks/bench_tabular.py [--claims 1000000] [--distinct 100000] [--repeat 1]

The same claims (engine.synthetic, ``--distinct`` generated and repeated up to
``--claims``) are written as NDJSON, as a wide CSV (``id, version, age, sex,
discharge_status, hospital_status, dx1, poa1, … dxN, poaN, px1 … pxM``) and as
that CSV gzip-compressed; then ``fastdrg group`` runs on each, as a user runs
it, one after the other:

* NDJSON -> NDJSON (the reference; with ``--no-detail`` too);
* CSV -> CSV (the wide rows back with the result columns), .csv.gz -> .csv.gz,
  CSV -> Parquet, and CSV -> NDJSON (results as JSON lines).

The rate is the command's own (claims / seconds after the engine is loaded:
the line ``fastdrg: N rows grouped in S s``); best of ``--repeat``.
Goal (issue 30): CSV and .csv.gz >= 50 % of the NDJSON rate.
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


def wide(claims) -> tuple[list[str], list[list]]:
    nd = max(1 + len(c["sdx"]) for c in claims)
    npx = max(max(len(c["procedures"]) for c in claims), 1)
    head = ["id", "version", "age", "sex", "discharge_status", "hospital_status"]
    for k in range(1, nd + 1):
        head += [f"dx{k}", f"poa{k}"]
    head += [f"px{k}" for k in range(1, npx + 1)]
    rows = []
    for c in claims:
        row = [c["id"], c["version"], c["age"], c["sex"], c["discharge_status"], c.get("hospital_status") or ""]
        dxs = [c["pdx"]] + list(c["sdx"])
        for k in range(nd):
            x = dxs[k] if k < len(dxs) else None
            if x is None:
                row += ["", ""]
            elif isinstance(x, dict):
                row += [x["code"], x.get("poa") or ""]
            else:
                row += [x, ""]
        px = c["procedures"]
        row += [px[k] if k < len(px) else "" for k in range(npx)]
        rows.append(row)
    return head, rows


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
    args = ap.parse_args()

    import orjson

    from engine.synthetic import generate_claims

    t = time.perf_counter()
    made = generate_claims(min(args.distinct, args.claims), seed=args.seed, edge_cases=False)
    reps, rest = divmod(args.claims, len(made))
    with tempfile.TemporaryDirectory(prefix="fastdrg-bench-tab-") as tmp:
        tmp = Path(tmp)
        nd_text = b"".join(orjson.dumps(c) + b"\n" for c in made)
        head, rows = wide(made)
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

        roads = [
            ("NDJSON -> NDJSON (reference)", ["group", str(tmp / "claims.jsonl"), "-o", str(tmp / "r.jsonl")], None),
            ("NDJSON -> NDJSON --no-detail", ["group", str(tmp / "claims.jsonl"), "-o", str(tmp / "r.jsonl"),
                                              "--no-detail"], None),
            ("CSV -> CSV (wide rows + result columns)", ["group", str(tmp / "claims.csv"), "-o", str(tmp / "r.csv")],
             0.50),
            (".csv.gz -> .csv.gz", ["group", str(tmp / "claims.csv.gz"), "-o", str(tmp / "r.csv.gz")], 0.50),
            ("CSV -> Parquet", ["group", str(tmp / "claims.csv"), "-o", str(tmp / "r.parquet")], None),
            ("CSV -> NDJSON (results as JSON lines, detail)", ["group", str(tmp / "claims.csv"), "-o",
                                                               str(tmp / "r2.jsonl")], None),
        ]
        results = []
        for name, argv, goal in roads:
            best = None
            for _ in range(args.repeat):
                got = run(argv)
                if best is None or got[0] > best[0]:
                    best = got
            results.append((name, best, goal))
            print(f"  {name}: {best[0]:,.0f}/s (wall {best[1]:.1f} s)", flush=True)
            for p in tmp.glob("r*"):
                p.unlink()

    ref = results[0][1][0]
    print()
    print(f"{'road (fastdrg group)':48} {'claims/s':>10} {'wall s':>8} {'of NDJSON':>10} {'goal':>8}")
    for name, (r, wall, _n), goal in results:
        gs = f">= {goal * 100:.0f} %" if goal else ""
        ok = "" if goal is None else ("  ok" if r / ref >= goal else "  BELOW")
        print(f"{name:48} {r:10,.0f} {wall:8.1f} {r / ref * 100:9.0f} % {gs:>8}{ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
