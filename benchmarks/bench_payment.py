"""Payment benchmark: what-if in one kernel call vs each variant grouped alone; the cost of pricing.

    python benchmarks/bench_payment.py [--claims 20000] [--candidates 20] [--repeat 200]

Prints one table:

* ``Grouper.what_if`` for a claim and N candidate changes (issue 14's goal:
  under 2 ms for 20 inside the engine), next to the reference it replaces:
  grouping the claim and each variant with its own ``group()`` call;
* the pricing pass alone (``PaymentTables.columns``: weights, transfer, adjusted
  weight, estimate) per claim over a generated batch, next to ``group_batch``
  on the same batch, so its share of the grouping cost is visible;
* ``group_json_texts`` with and without a base rate (the estimate's extra bytes).

Timings are medians (what-if) or best of --repeat runs (batches); nothing is written.
"""

from __future__ import annotations

import argparse
import statistics
import time

import orjson


def median_ms(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def best(n: int, fn) -> float:
    out = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t)
    return out


CLAIM = {"version": "43.1", "age": 72, "sex": "F", "discharge_status": "01", "los": 4, "pdx": "I5021",
         "sdx": [{"code": "E1122", "poa": "Y"}, {"code": "I10", "poa": "Y"}], "procedures": []}
CANDIDATES = ["J9601", "N179", "E871", "R0902", "E1165", "D62", "J189", "N183", "E876", "I4891",
              "E43", "G9341", "J9621", "R6521", "A419", "N390", "E860", "I480", "D696", "J441"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=20_000)
    ap.add_argument("--candidates", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args(argv)

    from engine import Grouper
    from engine.synthetic import generate_claims

    g = Grouper()
    cand = (CANDIDATES * (args.candidates // len(CANDIDATES) + 1))[:args.candidates]
    request = {"add_sdx": cand}
    g.what_if(CLAIM, request)  # warm
    t_whatif = median_ms(args.repeat, lambda: g.what_if(CLAIM, request))
    variants = [CLAIM] + [{**CLAIM, "sdx": CLAIM["sdx"] + [c]} for c in cand]
    t_alone = median_ms(max(1, args.repeat // 4), lambda: [g.group([v]) for v in variants])

    claims = generate_claims(args.claims, seed=1)
    batch = g.encode(claims)
    out = g.group_batch(batch)
    t_group = best(5, lambda: g.group_batch(batch))
    t_price = best(5, lambda: g.payment.columns(batch, out.columns, 600000))
    texts = [orjson.dumps(c) for c in claims]
    t_texts = best(3, lambda: g.group_json_texts(texts))
    t_texts_rate = best(3, lambda: g.group_json_texts(texts, base_rate=6000))
    n = len(claims)

    rows = [
        (f"what_if, {args.candidates} candidates (one batch)", f"{t_whatif:.3f} ms", "goal < 2 ms"),
        (f"reference: group() per variant ({len(variants)} calls)", f"{t_alone:.3f} ms",
         f"{t_alone / t_whatif:.1f}x the what-if"),
        (f"group_batch, {n} claims", f"{t_group / n * 1e6:.3f} us/claim", ""),
        ("pricing pass (PaymentTables.columns)", f"{t_price / n * 1e6:.3f} us/claim",
         f"{t_price / t_group * 100:.1f} % of group_batch"),
        ("group_json_texts, no base rate", f"{n / t_texts:,.0f} claims/s", ""),
        ("group_json_texts, base_rate=6000", f"{n / t_texts_rate:,.0f} claims/s", ""),
    ]
    w = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:{w}}  {value:>18}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
