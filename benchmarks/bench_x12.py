"""``fastdrg group`` on an 837I file against the same claims as NDJSON, in one run.

    PYTHONPATH=. python benchmarks/bench_x12.py [--claims 112000] [--runs 3]

The claims are the public set (../shared/eval/public_claims.jsonl) repeated
with fresh ids until ``--claims``, written as NDJSON (their JSON twins, with
dates) and as an 837I (tests/x12_writer.py: 500 claims a transaction set, a
2000C patient loop on every third claim, a billed DRG on every other claim).
Each run times both commands, alternating, in separate processes; the rate is
what the command itself reports (claims over the grouping time, start-up
excluded: for the 837I, reading and checking the whole file is inside it).
The issue's bar: the 837I rate at least 50 % of the NDJSON rate.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
PUBLIC = ROOT.parent / "shared" / "eval" / "public_claims.jsonl"


def _claims(n: int) -> list[dict]:
    from x12_writer import twin

    base = [json.loads(line) for line in open(os.environ.get("FASTDRG_PUBLIC_CLAIMS", PUBLIC))]
    base = [c for c in base if 0 <= int(c["dstat"]) <= 99]
    out = []
    k = 0
    while len(out) < n:
        for c in base[:n - len(out)]:
            t = twin(c)
            t["id"] = f"{c['id']}-{k}"
            out.append(t)
        k += 1
    return out


def _rate(cmd: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr}")
    m = re.search(r"\(([\d,]+)/s;", p.stderr)
    return float(m.group(1).replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=112_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from x12_writer import write_837i

    claims = _claims(args.claims)
    billed = ["470" if k % 2 == 0 else None for k in range(len(claims))]
    with tempfile.TemporaryDirectory() as tmp:
        ndjson = Path(tmp, "claims.jsonl")
        x12 = Path(tmp, "claims.837")
        ndjson.write_bytes(b"".join(json.dumps(c, separators=(",", ":")).encode() + b"\n" for c in claims))
        x12.write_bytes(write_837i(claims, sets_per_group=500, patient_loop=lambda i: i % 3 == 0, billed=billed))
        print(f"{len(claims):,} claims: NDJSON {ndjson.stat().st_size / 1e6:.1f} MB, 837I {x12.stat().st_size / 1e6:.1f} MB")
        fastdrg = [sys.executable, "-m", "engine.cli", "group", "--no-progress"]
        for run in range(args.runs):
            r_json = _rate(fastdrg + [str(ndjson), "-o", os.devnull])
            r_x12 = _rate(fastdrg + [str(x12), "-o", os.devnull])
            print(f"run {run + 1}: NDJSON {r_json:,.0f} claims/s, 837I {r_x12:,.0f} claims/s: "
                  f"{100 * r_x12 / r_json:.0f} % of NDJSON")


if __name__ == "__main__":
    main()
