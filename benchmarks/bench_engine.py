"""Engine benchmark: fastdrg vs the msdrg package on the same generated claims.

    python benchmarks/bench_engine.py [--claims 200000] [--msdrg-claims 20000] [--repeat 3]

Measures, and prints as one table next to the goals:

* ``group_batch`` on a pre-encoded batch (the hot path, all cores);
* ``group()`` from claim dicts, with per-code detail (each dict written as
  JSON by orjson, read by the compiled reader, grouped, written as JSON and
  read back into dicts by orjson), next to its floor: ``orjson.loads`` of the
  results' JSON alone, i.e. only building the result dicts, and ``encode()``
  (the Python encoder that makes ``group_batch``'s input), and ``group(detail=False)``
  (the five fields, titles, weights: the data platform's dict path, goal >= 8x msdrg);
* ``group_json()`` (dicts in, JSON documents out) and ``group_json_texts()``
  (each claim's JSON text in, JSON out: the service's path), for context, and
  the time of a ``group_json_texts()`` call of 1 and of 32 claims (the service's
  micro-batches);
* ``group_batch`` on one thread, over the mixed claims and over 40 of them each
  repeated alone in a batch (the kernel's ceiling: no cache miss, every branch
  predicted);
* msdrg's per-claim API on a subset (it runs ~10k claims/s, one core);
* cold start: a fresh process with an empty FASTDRG_CACHE_DIR (tables built,
  kernels compiled), warm start: a second fresh process on that cache;
* peak RSS of a fresh process holding a Grouper that has grouped claims of
  every bundled version;
* the Medicare Code Editor (issue 13, ``bench_edit.measure_batch``): ``edit_batch``
  on pre-encoded claims aimed at every MCE flag against msdrg's per-claim
  ``MceEditor`` on a subset of the same claims (goal >= 10x), and ``group_batch``
  with ``edit_batch`` against ``group_batch`` alone (goal >= 70 %); the service's
  batch route with edits is ``bench_service.py edits``'s (it needs a server).

Writes nothing but the table (the temporary cache directory is removed).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # tests/oracle.py: the msdrg adapter

GOALS = {
    "batch": 1_000_000,  # claims/s, and >= 50x msdrg
    "batch_ratio": 50,
    "dicts": 150_000,  # claims/s, and >= 8x msdrg
    "dicts_ratio": 8,
    "cold": 120.0,  # s
    "warm": 5.0,  # s
    "rss": 600.0,  # MB
    "edit_ratio": 10,  # edit_batch vs msdrg's MceEditor
    "with_edits": 0.70,  # group_batch + edit_batch vs group_batch alone
}

# Runs in a fresh interpreter: time Grouper() construction, group one claim of each
# version, report wall time and peak RSS.
_STARTUP_SCRIPT = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from engine import Grouper
g = Grouper()
t_ready = time.perf_counter() - t0
claims = [{"version": v, "age": 70, "sex": "F", "discharge_status": 1, "hospital_status": "not_exempt",
           "pdx": {"code": "I5021", "poa": "Y"}, "sdx": [{"code": "N179", "poa": "Y"}],
           "procedures": ["02703DZ"]} for v in g.versions]
res = g.group(claims * 1000)
assert all("error" not in r for r in res)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child of a big
# benchmark process would report its parent's peak.
rss_mb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024.0
print(json.dumps({"ready_s": t_ready, "rss_mb": rss_mb, "built": bool(getattr(g, "built_tables", False))}))
"""


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def per_call(g, texts: list, k: int, seconds: float = 2.0) -> float:
    """Microseconds per ``group_json_texts`` call of ``k`` claims (documents
    materialised, as the service does), over ``seconds`` of calls."""
    calls = 0
    t = time.perf_counter()
    while time.perf_counter() - t < seconds:
        for i in range(0, min(len(texts), 20_000) - k, k):
            g.group_json_texts(texts[i:i + k]).documents
            calls += 1
    return (time.perf_counter() - t) / calls * 1e6


def one_thread_us(claims: list, repeat: int, alone: int = 40, copies: int = 2_500) -> tuple[float, float]:
    """Microseconds a claim of ``group_batch`` on one thread: over the mixed
    claims, and over ``alone`` of them each grouped as a batch of ``copies``
    copies of itself (its table rows stay in cache and every branch is
    predicted: what the kernel's instructions cost with no stall, its ceiling)."""
    from engine import Grouper

    g1 = Grouper(threads=1)
    batch = g1.encode(claims)
    mixed = best_of(repeat, lambda: g1.group_batch(batch)) / len(claims) * 1e6
    step = max(1, len(claims) // alone)
    each = []
    for c in claims[::step][:alone]:
        b = g1.encode([c] * copies)
        g1.group_batch(b)
        each.append(best_of(repeat, lambda: g1.group_batch(b)) / copies * 1e6)
    return mixed, sum(each) / len(each)


def startup(cache_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["FASTDRG_CACHE_DIR"] = cache_dir
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _STARTUP_SCRIPT], capture_output=True, text=True, env=env,
                       cwd=tempfile.gettempdir(), timeout=3600)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"start-up subprocess failed:\n{p.stderr[-3000:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}/s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=200_000, help="claims for fastdrg (default 200,000)")
    ap.add_argument("--msdrg-claims", type=int, default=20_000, help="subset grouped by msdrg (default 20,000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions, best kept (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-startup", action="store_true", help="skip the cold/warm start and RSS subprocesses")
    args = ap.parse_args(argv)

    from engine import Grouper
    from engine.synthetic import generate_claims

    t = time.perf_counter()
    claims = generate_claims(args.claims, seed=args.seed)
    t_gen = time.perf_counter() - t
    g = Grouper()
    n = len(claims)

    batch = g.encode(claims)
    g.group_batch(batch)  # warm the threads
    t_batch = best_of(args.repeat, lambda: g.group_batch(batch))
    t_encode = best_of(args.repeat, lambda: g.encode(claims))
    t_dicts = best_of(args.repeat, lambda: g.group(claims))
    t_lean = best_of(args.repeat, lambda: g.group(claims, detail=False))
    t_json = best_of(args.repeat, lambda: g.group_json(claims))
    results_json = g.group_json(claims).join(prefix=b"[", suffix=b"]")

    def build():  # as group() builds them: the cyclic GC paused (see engine.grouper)
        gc.disable()
        try:
            orjson.loads(results_json)
        finally:
            gc.enable()

    t_build = best_of(args.repeat, build)
    del results_json
    texts = [orjson.dumps(c) for c in claims]
    t_texts = best_of(args.repeat, lambda: g.group_json_texts(texts))
    # small calls: the service's single claims reach the engine in micro-batches of 1 to ~32
    small = {k: per_call(g, texts, k) for k in (1, 32)}
    del batch, texts
    us_mixed, us_alone = one_thread_us(claims, args.repeat)

    rate_msdrg = None
    m = min(args.msdrg_claims, n)
    if m > 0:
        try:
            from oracle import MsdrgOracle, to_msdrg

            sub = [to_msdrg(c) for c in claims[:m]]
            with MsdrgOracle(lenient=True) as o:
                o.raw(sub[0])

                def run_msdrg():
                    for c in sub:
                        o.raw(c)

                rate_msdrg = m / best_of(max(1, min(args.repeat, 2)), run_msdrg)
        except ImportError as e:
            print(f"(msdrg not available: {e})", file=sys.stderr)

    # the code editor, on claims aimed at its flags (msdrg's editor on a subset of the same)
    from bench_edit import editor_claims, measure_batch, msdrg_edit_rate

    ed_claims, ed_raw = editor_claims(n)
    ed_batch = g.encode(ed_claims)
    edit = measure_batch(g, ed_batch, args.repeat, rounds=5)
    del ed_batch, ed_claims
    edit["msdrg"] = msdrg_edit_rate(ed_raw[:m]) if m > 0 else None
    del ed_raw

    rate_batch = n / t_batch
    rate_dicts = n / t_dicts
    cold = warm = None
    if not args.no_startup:
        with tempfile.TemporaryDirectory(prefix="fastdrg-bench-") as tmp:
            cold = startup(tmp)
            warm = startup(tmp)

    def ratio(x):
        return "-" if rate_msdrg is None else f"{x / rate_msdrg:,.1f}x"

    def status(ok):
        return "ok" if ok else "MISSED"

    rows = [
        ("group_batch, pre-encoded (all cores)", fmt_rate(rate_batch), fmt_rate(rate_msdrg), ratio(rate_batch),
         f">= {GOALS['batch']:,}/s, >= {GOALS['batch_ratio']}x",
         status(rate_batch >= GOALS["batch"] and (rate_msdrg is None or rate_batch / rate_msdrg >= GOALS["batch_ratio"]))),
        ("group() from dicts (with detail)", fmt_rate(rate_dicts), fmt_rate(rate_msdrg), ratio(rate_dicts),
         f">= {GOALS['dicts']:,}/s, >= {GOALS['dicts_ratio']}x",
         status(rate_dicts >= GOALS["dicts"] and (rate_msdrg is None or rate_dicts / rate_msdrg >= GOALS["dicts_ratio"]))),
        ("group() from dicts, detail=False", fmt_rate(n / t_lean), fmt_rate(rate_msdrg), ratio(n / t_lean),
         f">= {GOALS['dicts_ratio']}x",
         status(rate_msdrg is None or n / t_lean / rate_msdrg >= GOALS["dicts_ratio"])),
        ("  floor: building the result dicts alone (orjson.loads)", fmt_rate(n / t_build), "", "", "", ""),
        ("encode() (the Python encoder, group_batch's input)", fmt_rate(n / t_encode), "", "", "", ""),
        ("group_json() from dicts, JSON out", fmt_rate(n / t_json), fmt_rate(rate_msdrg), ratio(n / t_json), "", ""),
        ("group_json_texts() from JSON text, JSON out", fmt_rate(n / t_texts), fmt_rate(rate_msdrg),
         ratio(n / t_texts), "", ""),
        *((f"  {k} claim{'s' if k > 1 else ''} a call (micro-batch)", f"{us:,.0f} us/call", "", "", "", "")
          for k, us in small.items()),
        ("group_batch, one thread: the mixed claims", f"{us_mixed:.2f} us/claim", "", "", "", ""),
        ("  each claim repeated alone (no cache miss, branches predicted)", f"{us_alone:.2f} us/claim", "", "",
         "", ""),
    ]
    ed_ratio = edit["edit"] / edit["msdrg"] if edit["msdrg"] else None
    with_edits = statistics.median(edit["ratios"])
    rows += [
        ("edit_batch, pre-encoded (the MCE, all cores)", fmt_rate(edit["edit"]), fmt_rate(edit["msdrg"]),
         "-" if ed_ratio is None else f"{ed_ratio:,.1f}x", f">= {GOALS['edit_ratio']}x",
         status(ed_ratio is None or ed_ratio >= GOALS["edit_ratio"])),
        ("group_batch + edit_batch / group_batch alone", f"{with_edits:.0%}", "", "",
         f">= {GOALS['with_edits']:.0%}", status(with_edits >= GOALS["with_edits"])),
    ]
    if cold:
        rows += [
            ("cold start (build tables + compile)", f"{cold['ready_s']:.1f} s", "", "",
             f"<= {GOALS['cold']:.0f} s", status(cold["ready_s"] <= GOALS["cold"])),
            ("warm start (cached)", f"{warm['ready_s']:.2f} s", "", "",
             f"<= {GOALS['warm']:.0f} s", status(warm["ready_s"] <= GOALS["warm"])),
            ("peak RSS, all versions loaded", f"{warm['rss_mb']:.0f} MB", "", "",
             f"<= {GOALS['rss']:.0f} MB", status(warm["rss_mb"] <= GOALS["rss"])),
        ]
    head = ("metric", "fastdrg", "msdrg", "ratio", "goal", "")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    print(f"fastdrg engine benchmark: {n:,} generated claims ({t_gen:.1f} s to generate), msdrg on {m:,}; "
          f"best of {args.repeat}; {os.cpu_count()} CPUs")
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    if cold:
        print(f"(start-up process wall time incl. interpreter: cold {cold['wall_s']:.1f} s, warm {warm['wall_s']:.2f} s; "
              f"cold RSS {cold['rss_mb']:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
