"""Case-mix benchmark (issue 28): ``fastdrg casemix FILE --to VERSION`` against ``fastdrg group FILE``
on the same generated NDJSON file, side by side in one run (the two commands alternate).

Goal: casemix with ``--to`` (every claim grouped twice, then summed) takes at most 2.5x the time of
``fastdrg group`` (grouped once, every result written). Both are timed as a user runs them: the
whole command, start-up included (wall time), and each command's own figure of its work after
start-up (the ``in N s`` of its summary line). Peak memory (max RSS) of each command is reported
too: casemix's is bounded by its part size (``--chunk``), not the file's.

    python benchmarks/bench_casemix.py --claims 1000000 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]


def write_claims(path, n: int, seed: int, block: int = 100_000) -> None:
    from engine.synthetic import generate_claims

    with open(path, "wb") as fh:
        for k, lo in enumerate(range(0, n, block)):
            claims = generate_claims(min(block, n - lo), seed=seed + k)
            fh.write(b"".join(orjson.dumps(c) + b"\n" for c in claims))


def run(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, the command's own seconds after start-up, the command's max RSS in MB)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)  # this child's own resource use
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{text[-2000:]}")
    m = re.search(r" in ([0-9.]+) s", text)
    return wall, float(m.group(1)) if m else float("nan"), usage.ru_maxrss // 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--to", default="44.0")
    ap.add_argument("--seed", type=int, default=28)
    ap.add_argument("--file", help="an NDJSON file of claims to use (default: generated)")
    args = ap.parse_args(argv)
    fastdrg = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())"]
    with tempfile.TemporaryDirectory(prefix="bench-casemix-") as tmp:
        tmp = Path(tmp)
        path = Path(args.file) if args.file else tmp / "claims.jsonl"
        if not args.file:  # in a child: this process stays small (its size would show in the children's max RSS)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'benchmarks'); from bench_casemix "
                            f"import write_claims; write_claims(sys.argv[1], {args.claims}, {args.seed})", str(path)],
                           cwd=REPO, check=True)
            t_gen = time.perf_counter() - t0
            print(f"generated {args.claims:,} claims ({path.stat().st_size / 1e6:,.0f} MB) in {t_gen:.1f} s")
        group = fastdrg + ["group", str(path), "-o", os.devnull, "--no-progress"]
        casemix = fastdrg + ["casemix", str(path), "--json", str(tmp / "summary.json"), "-o",
                             str(tmp / "report.html"), "--to", args.to, "--no-progress"]
        rows = {"group": [], "casemix": []}
        for _ in range(args.repeat):  # alternating: the busy machine's drift falls on both
            rows["group"].append(run(group))
            rows["casemix"].append(run(casemix))
        summary = orjson.loads((tmp / "summary.json").read_bytes())
    print(f"{summary['claims']:,} claims: {summary['grouped']:,} grouped, {summary['refused']['total']:,} refused; "
          f"under {args.to}: {summary['compare']['changed']:,} change DRG")
    print("| command | wall (s) | work after start-up (s) | max RSS (MB) |")
    print("| --- | --- | --- | --- |")
    for name, rs in rows.items():
        print(f"| `fastdrg {name}` | " + " / ".join(f"{w:.1f}" for w, _, _ in rs) + " | "
              + " / ".join(f"{x:.1f}" for _, x, _ in rs) + " | " + " / ".join(str(r) for _, _, r in rs) + " |")
    ratios = [c[0] / g[0] for g, c in zip(rows["group"], rows["casemix"])]
    work = [c[1] / g[1] for g, c in zip(rows["group"], rows["casemix"])]
    print(f"casemix --to / group, wall: {', '.join(f'{r:.2f}x' for r in ratios)}; after start-up: "
          f"{', '.join(f'{r:.2f}x' for r in work)} (goal <= 2.5x): {'PASS' if max(ratios) <= 2.5 else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
