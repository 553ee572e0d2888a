"""The hardware limit of grouping a claim: the kernel against its memory and instruction floors.

    python benchmarks/bench_limit.py [--claims 50000] [--rounds 5] [--compare /work/wt-base]

For the same claims (two mixes: the generated claims of engine.synthetic, ~11.7
secondary dx and ~4.6 procedures a claim with the generator's edge cases, and
the 14,000 public claims of shared/eval/public_claims.jsonl), prints:

* **the memory floor**: :func:`touch`, a compiled loop that reads, claim after
  claim and in the kernel's order, the table rows grouping reads: the principal
  dx's rows of ``dx_scheme``, ``dx_excl`` and ``dx_gender``; each procedure's
  ``pr_pattern`` and ``pr_cl_off`` rows, its candidate clusters
  (``pr_cl``, ``cl_active``, ``cl_mem``) and its pattern's attributes; each
  secondary dx's ``dx_scheme`` row, its scheme's severity, operands and HAC
  operands, and the CC-exclusion search in ``excl_codes`` where the kernel makes
  one (a CC/MCC or HAC code); the operand keys each attribute lights
  (``attr_key``, the per-thread stamp); the formula list of the pre-MDC and of
  the principal dx's MDC, each formula's required key, and the nodes of each
  formula the kernel would evaluate, up to the one that gave the claim's DRG.
  It prefetches the next claim's rows as the kernel does.  It computes nothing
  but addresses and a checksum.  What it leaves out: the second pass of marking,
  HAC and the final stage over the same rows (cached by then) and the per-code
  output columns;
* **the instruction floor**: the same loop and the kernel over 40 of the claims,
  each grouped as a batch of 2,500 copies of itself (every row in L1/L2, every
  branch predicted): what their instructions cost with no cache miss;
* between the two, the kernel over 256 distinct claims grouped in turn (their
  rows stay in L2, their branches are as mixed as the claims'): what
  mispredicted branches cost apart from cache misses;
* **the kernel**: ``encode`` once, then ``group_batch`` on one thread and on
  the pool (all cores);

and the kernel (one thread, mixed claims) as a multiple of each floor.
Wall times on a shared machine are noisy: each figure is the median of
``--rounds`` rounds (each round the best of 3 runs), and with ``--compare DIR``
the same claims are measured by a child process per tree (this one and DIR, a
checkout of another commit), alternating, ``--rounds`` children each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
if os.environ.get("BENCH_LIMIT_TREE"):
    sys.path.insert(0, os.environ["BENCH_LIMIT_TREE"])
else:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # tests/oracle.py: public records as claims

ALONE, COPIES = 40, 2_500
CYCLED = 256


def _touch_fn():
    import numpy as np
    from numba import njit

    from engine.grouping import _prefetch
    from engine.tables import SEV_NONE

    @njit(cache=False, nogil=True, _nrt=False)
    def touch(T, B, drg, stamp, lo, hi):
        acc = np.int64(0)
        gen = np.int64(0)
        for i in range(lo, hi):
            if i + 1 < hi and B.ok[i + 1]:  # the kernel's prefetch of the next claim
                vn = B.ver[i + 1]
                pn = B.pdx[i + 1]
                if pn >= 0:
                    _prefetch(T.dx_scheme, (vn, pn))
                    _prefetch(T.dx_excl, (vn, pn))
                    _prefetch(T.dx_gender, (vn, pn, 0))
                for q in range(B.sdx_off[i + 1], B.sdx_off[i + 2]):
                    if B.sdx[q] >= 0:
                        _prefetch(T.dx_scheme, (vn, B.sdx[q]))
                for q in range(B.px_off[i + 1], B.px_off[i + 2]):
                    if B.px[q] >= 0:
                        _prefetch(T.pr_pattern, (vn, B.px[q]))
                        _prefetch(T.pr_cl_off, (vn, B.px[q]))
            if not B.ok[i]:
                continue
            gen += 1
            v = B.ver[i]
            pdx = B.pdx[i]
            psc = -1
            g = -1
            if pdx >= 0:
                psc = T.dx_scheme[v, pdx]
                acc += T.dx_gender[v, pdx, 0] + T.dx_gender[v, pdx, 1]
                g = T.dx_excl[v, pdx]
            # procedures: pattern, candidate clusters, the pattern's attributes
            for q in range(B.px_off[i], B.px_off[i + 1]):
                code = B.px[q]
                if code < 0:
                    continue
                pat = T.pr_pattern[v, code]
                for r in range(T.pr_cl_off[v, code], T.pr_cl_off[v, code + 1]):
                    c = T.pr_cl[r]
                    if T.cl_active[v, c]:
                        for m in range(T.cl_mem_off[c], T.cl_mem_off[c + 1]):
                            acc += T.cl_mem[m]
                if pat >= 0:
                    for r in range(T.pat_off[pat], T.pat_off[pat + 1]):
                        at = T.pat_attrs[r]
                        acc += T.attr_special[at] + T.attr_stent[at]
                        for k in (0, 3):
                            key = T.attr_key[at, k]
                            if key >= 0:
                                stamp[key] = gen
            # secondary dx: scheme, severity, operands, HAC operands, CC exclusion
            for q in range(B.sdx_off[i], B.sdx_off[i + 1]):
                code = B.sdx[q]
                if code < 0:
                    continue
                sc = T.dx_scheme[v, code]
                if sc < 0:
                    continue
                sev = T.sch_sev[sc]
                for r in range(T.sch_ops_off[sc], T.sch_ops_off[sc + 1]):
                    at = T.sch_ops[r]
                    acc += T.attr_supp_bit[at] + T.attr_special[at]
                    for k in (0, 1, 3):
                        key = T.attr_key[at, k]
                        if key >= 0:
                            stamp[key] = gen
                nh = 0
                for r in range(T.sch_hac_off[sc], T.sch_hac_off[sc + 1]):
                    nh += 1
                    acc += T.attr_hac[T.sch_hac[r]]
                for r in range(T.sch_cat_off[sc], T.sch_cat_off[sc + 1]):
                    key = T.attr_key[T.sch_cat[r], 0]
                    if key >= 0:
                        stamp[key] = gen
                if (sev != SEV_NONE or nh > 0) and g >= 0:
                    base = T.excl_off[g]
                    n = T.excl_off[g + 1] - base
                    while n > 1:
                        half = n >> 1
                        base = base + half if T.excl_codes[base + half] <= code else base
                        n -= half
                    if n > 0 and T.excl_codes[base] == code:
                        acc += 1
            mdc = -1
            if psc >= 0:
                mdc = T.sch_mdc[psc]
                for r in range(T.sch_ops_off[psc], T.sch_ops_off[psc + 1]):
                    at = T.sch_ops[r]
                    for k in (0, 2, 3):
                        key = T.attr_key[at, k]
                        if key >= 0:
                            stamp[key] = gen
            # grouping: the pre-MDC list, then the principal dx's MDC, up to the DRG's formula
            target = drg[i]
            for m in (0, mdc):
                if m < 0:
                    continue
                found = False
                for q in range(T.vm_off[v * 100 + m], T.vm_off[v * 100 + m + 1]):
                    f = T.vm_formulas[q]
                    rk = T.f_req[f]
                    if rk >= 0 and stamp[rk] != gen:
                        continue
                    for nn in range(T.f_lo[f], T.f_hi[f]):
                        if T.n_op[nn] == 0:
                            key = T.n_a[nn]
                            acc += T.key_kind[key] + (stamp[key] == gen)
                    if T.f_drg[f] == target:
                        found = True
                        break
                if found:
                    break
        return acc

    return touch


def _best(fn, k=3):
    best = float("inf")
    for _ in range(k):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _claims(kind: str, n: int) -> list[dict]:
    if kind == "public":
        from oracle import public_to_claim
        import orjson

        with open(SHARED / "eval" / "public_claims.jsonl", "rb") as fh:
            return [public_to_claim(orjson.loads(line)) for line in fh if line.strip()]
    from engine.synthetic import generate_claims

    return generate_claims(n, seed=0)


def measure(claims_file: str, rounds: int) -> dict:
    """One tree's figures on the claims of ``claims_file`` (JSON: {mix: [claims]})."""
    import numpy as np
    import orjson

    from engine import Grouper

    mixes = orjson.loads(Path(claims_file).read_bytes())
    g = Grouper()
    touch = _touch_fn()
    T = g.pipeline.kernel_tables
    stamp = np.zeros(g.pipeline._n_keys, np.int64)
    out = {}
    for mix, claims in mixes.items():
        batch = g.encode(claims)
        n_ok = int(batch.ok.sum())
        g.threads = 1
        res = g.group_batch(batch)
        drg = np.where(res.columns.init_drg > 0, res.columns.init_drg, res.columns.final_drg).astype(np.int32)
        from engine.grouping import KernelBatch, BATCH_FIELDS

        kb = KernelBatch(*(getattr(batch, f) for f in BATCH_FIELDS))
        step = max(1, len(claims) // ALONE)
        alone = []
        for c in claims[::step][:ALONE]:
            b = g.encode([c] * COPIES)
            if b.ok[0]:
                r = g.group_batch(b)
                d = np.where(r.columns.init_drg > 0, r.columns.init_drg, r.columns.final_drg).astype(np.int32)
                alone.append((b, KernelBatch(*(getattr(b, f) for f in BATCH_FIELDS)), d))
        # CYCLED distinct claims, repeated in turn: their rows stay in L2, their branches stay mixed
        cyc_claims = claims[:CYCLED] * (len(claims) // CYCLED)
        cyc = g.encode(cyc_claims)
        cyc_ok = int(cyc.ok.sum())
        touch(T, kb, drg, stamp, 0, len(batch))  # compile
        f = {k: [] for k in ("touch_mixed", "touch_alone", "kernel_1t", "kernel_alone", "kernel_pool",
                             "kernel_cycled")}
        for _ in range(rounds):
            f["touch_mixed"].append(_best(lambda: touch(T, kb, drg, stamp, 0, len(batch))) / n_ok * 1e6)
            f["touch_alone"].append(statistics.fmean(
                _best(lambda: touch(T, k, d, stamp, 0, COPIES)) / COPIES * 1e6 for _, k, d in alone))
            g.threads = 1
            f["kernel_1t"].append(_best(lambda: g.group_batch(batch)) / n_ok * 1e6)
            f["kernel_alone"].append(statistics.fmean(
                _best(lambda: g.group_batch(b)) / COPIES * 1e6 for b, _, _ in alone))
            f["kernel_cycled"].append(_best(lambda: g.group_batch(cyc)) / cyc_ok * 1e6)
            g.threads = os.cpu_count() or 1
            f["kernel_pool"].append(n_ok / _best(lambda: g.group_batch(batch)))
        out[mix] = {"claims": len(claims), "ok": n_ok, "sdx": len(batch.sdx) / len(claims),
                    "px": len(batch.px) / len(claims), **f}
    return out


def _child(tree: str, claims_file: str, rounds: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}  # (each tree names its own)
    env.update(BENCH_LIMIT_TREE=tree, PYTHONPATH=tree)
    p = subprocess.run([sys.executable, __file__, "--child", claims_file, "--rounds", str(rounds)],
                       capture_output=True, text=True, env=env, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError(f"child for {tree} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _table(name: str, runs: list[dict]) -> None:
    def med(mix, key):
        return statistics.median(x for r in runs for x in r[mix][key])

    for mix in runs[0]:
        r0 = runs[0][mix]
        tm, ta = med(mix, "touch_mixed"), med(mix, "touch_alone")
        km, ka, kp = med(mix, "kernel_1t"), med(mix, "kernel_alone"), med(mix, "kernel_pool")
        kc = med(mix, "kernel_cycled")
        print(f"[{name}] {mix}: {r0['claims']:,} claims ({r0['ok']:,} grouped), "
              f"{r0['sdx']:.1f} sdx and {r0['px']:.1f} procedures a claim; medians of {len(runs[0][mix]['kernel_1t']) * len(runs)} rounds")
        rows = [
            ("memory floor: touch loop, mixed claims", f"{tm:.3f} us/claim"),
            ("  its instructions: touch loop, each claim alone", f"{ta:.3f} us/claim"),
            ("instruction floor: kernel, each claim alone (all rows in L1/L2)", f"{ka:.3f} us/claim"),
            (f"kernel, {CYCLED} claims in turn (rows in L2, branches mixed)", f"{kc:.3f} us/claim"),
            ("kernel: group_batch, one thread, mixed claims", f"{km:.3f} us/claim"),
            ("kernel: group_batch, the pool", f"{kp:,.0f} claims/s"),
            ("kernel / memory floor", f"{km / tm:.1f}x"),
            ("kernel / instruction floor", f"{km / ka:.2f}x"),
            ("kernel's stall time (mixed - alone) / memory floor's stall (mixed - alone)",
             f"{(km - ka):.3f} / {max(tm - ta, 0):.3f} us"),
        ]
        w = max(len(a) for a, _ in rows)
        for a, b in rows:
            print(f"  {a.ljust(w)}  {b}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=50_000, help="generated claims (default 50,000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per process (default 3)")
    ap.add_argument("--compare", metavar="DIR", help="another checkout, measured alternately with this one")
    ap.add_argument("--children", type=int, default=2, help="with --compare: processes per tree (default 2)")
    ap.add_argument("--child", metavar="FILE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.rounds)))
        return 0
    import orjson

    mixes = {"generated": _claims("generated", args.claims), "public": _claims("public", 0)}
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        fh.write(orjson.dumps(mixes))
        path = fh.name
    try:
        trees = [("this tree", str(REPO))] + ([("compare", str(Path(args.compare).resolve()))] if args.compare else [])
        runs = {name: [] for name, _ in trees}
        for k in range(args.children if args.compare else 1):
            for name, tree in (trees if k % 2 == 0 else trees[::-1]):
                runs[name].append(_child(tree, path, args.rounds))
                print(f"(child {k + 1} of {name} done)", file=sys.stderr)
        for name, tree in trees:
            _table(f"{name}: {tree}", runs[name])
        if args.compare:
            for mix in mixes:
                a = statistics.median(x for r in runs["this tree"] for x in r[mix]["kernel_1t"])
                b = statistics.median(x for r in runs["compare"] for x in r[mix]["kernel_1t"])
                pa = statistics.median(x for r in runs["this tree"] for x in r[mix]["kernel_pool"])
                pb = statistics.median(x for r in runs["compare"] for x in r[mix]["kernel_pool"])
                print(f"{mix}: this tree / compare: one thread {b / a:.2f}x faster ({a:.3f} vs {b:.3f} us), "
                      f"pool {pa / pb:.2f}x ({pa:,.0f} vs {pb:,.0f}/s)")
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
