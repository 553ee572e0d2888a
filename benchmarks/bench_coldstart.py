"""The first start (issue 25, item 4) and the warm kernel, beside a reference checkout.

    python benchmarks/bench_coldstart.py cold [--ref /work/main] [--kernels-only TABLES_CACHE]
    python benchmarks/bench_coldstart.py serve [--ref DIR] [--rounds 2] [--after 75]
    python benchmarks/bench_coldstart.py kernel [--ref /work/main --ref-cache DIR] --cache DIR [--rounds 3]

``cold``: ``fastdrg tables build`` in a fresh process on an empty cache
directory (tables built, kernels compiled), for this checkout and, with
``--ref``, the reference's, one after the other.  Printed: wall time, the
process tree's user+sys CPU time, the peak RSS of its largest process
(``ru_maxrss``, what ``/usr/bin/time -v`` reports) and the peak of the RSS
summed over every process of the tree alive at once, sampled every 50 ms (what
a container's memory limit counts).  ``--kernels-only DIR`` copies the tables
of the cache DIR into the empty one, so only the kernels are compiled.

``serve``: ``fastdrg serve`` on an empty cache directory, bound to loopback:
seconds to the first 200 from ``/readyz`` and the peak summed RSS of its process
tree until then and for ``--after`` seconds after (compiles the service runs in
the background once ready), for each checkout in turn, ``--rounds`` times.

``kernel``: the grouping kernel's CPU time a claim on one thread
(``time.thread_time`` around ``group_batch`` of a ``Grouper(threads=1)``:
on a busy machine wall time measures the neighbours, CPU time much less so),
over generated mixed claims and over 40 of them each repeated alone in a
batch, for each checkout in turn, ``--rounds`` times alternating; best of each
round kept.  Both caches must hold compiled kernels already (a ``cold`` run or
a first Grouper()), or the first round compiles.

Nothing is written but the table; the temporary cache directories are removed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_KERNEL_SCRIPT = r"""
import json, sys, time
from engine import Grouper
from engine.synthetic import generate_claims
n, repeat = int(sys.argv[1]), int(sys.argv[2])
claims = generate_claims(n, seed=0)
g = Grouper(threads=1, warm=False)  # group_batch alone: only the kernel is compiled (or loaded)
def cpu_of(b):
    best = float("inf")
    for _ in range(repeat):
        t = time.thread_time()
        g.group_batch(b)
        best = min(best, time.thread_time() - t)
    return best
batch = g.encode(claims)
g.group_batch(batch)
mixed = cpu_of(batch) / n * 1e6
alone = []
for c in claims[:: max(1, n // 40)][:40]:
    b = g.encode([c] * 2500)
    g.group_batch(b)
    alone.append(cpu_of(b) / 2500 * 1e6)
print(json.dumps({"mixed_us": mixed, "alone_us": sum(alone) / len(alone)}))
"""


def _env(checkout: Path, cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["FASTDRG_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = str(checkout)
    return env


def _pages_rss(pid: int, children: dict) -> int:
    """Bytes resident in ``pid`` and all its descendants (``/proc``)."""
    total, stack = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * page
        except OSError:
            pass
        stack.extend(children.get(p, ()))
    return total


def _children() -> dict:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(name))
    return kids


def run_measured(cmd: list, env: dict) -> dict:
    """Run ``cmd``; its wall time, the tree's CPU time, the largest process's
    peak RSS and the peak of the tree's summed RSS (sampled every 50 ms)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL)
    peak = 0
    while p.poll() is None:
        peak = max(peak, _pages_rss(p.pid, _children()))
        time.sleep(0.05)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} exited {p.returncode}")
    return {"wall_s": wall, "user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime,
            "max_rss_mb": after.ru_maxrss / 1024, "tree_peak_mb": peak / 2**20}


def cold(checkout: Path, tables_from: str | None) -> dict:
    cache = tempfile.mkdtemp(prefix="fastdrg-cold-")
    try:
        if tables_from:
            for item in Path(tables_from).iterdir():
                if item.name.startswith(("tables-", "versions-")):
                    (shutil.copytree if item.is_dir() else shutil.copy2)(item, Path(cache) / item.name)
        fastdrg = Path(sys.executable).with_name("fastdrg")
        cmd = [str(fastdrg), "tables", "build"] if fastdrg.exists() else \
            [sys.executable, "-m", "engine.cli", "tables", "build"]
        return run_measured(cmd, _env(checkout, cache))
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def serve(checkout: Path, port: int, after_s: float) -> dict:
    """``fastdrg serve`` on an empty cache directory (loopback): seconds to its first 200 from
    ``/readyz``, the peak summed RSS of its process tree until then, and for ``after_s`` seconds
    after (the service's background compiles: the FHIR Bundle road's child)."""
    import urllib.request

    cache = tempfile.mkdtemp(prefix="fastdrg-serve-")
    fastdrg = Path(sys.executable).with_name("fastdrg")
    cmd = [str(fastdrg), "serve", "--host", "127.0.0.1", "--port", str(port)]
    p = subprocess.Popen(cmd, env=_env(checkout, cache), cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        t = time.perf_counter()
        peak = after = 0
        ready = None
        while ready is None and time.perf_counter() - t < 900 and p.poll() is None:
            peak = max(peak, _pages_rss(p.pid, _children()))
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        ready = time.perf_counter() - t
            except OSError:
                time.sleep(0.1)
        t_ready = time.perf_counter()
        while ready is not None and time.perf_counter() - t_ready < after_s:
            after = max(after, _pages_rss(p.pid, _children()))
            time.sleep(0.1)
        if ready is None:
            raise RuntimeError(f"{cmd}: not ready (exit status {p.poll()})")
        return {"ready_s": ready, "tree_peak_mb": peak / 2**20, "after_peak_mb": after / 2**20}
    finally:
        p.terminate()
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(cache, ignore_errors=True)


def kernel(checkout: Path, cache: str, claims: int, repeat: int) -> dict:
    p = subprocess.run([sys.executable, "-c", _KERNEL_SCRIPT, str(claims), str(repeat)], env=_env(checkout, cache),
                       cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("cold", "serve", "kernel"))
    ap.add_argument("--ref", type=Path, help="a reference checkout (e.g. main), measured the same way")
    ap.add_argument("--kernels-only", metavar="TABLES_CACHE", help="cold: start with these tables, compile only")
    ap.add_argument("--cache", help="kernel: this checkout's (warm) cache directory")
    ap.add_argument("--ref-cache", help="kernel: the reference's (warm) cache directory")
    ap.add_argument("--claims", type=int, default=20_000, help="kernel: mixed claims (default 20,000)")
    ap.add_argument("--repeat", type=int, default=5, help="kernel: timed calls a round, best kept (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="kernel, serve: alternating rounds (default 3)")
    ap.add_argument("--after", type=float, default=75.0,
                    help="serve: seconds after /readyz the tree's memory is still watched (default 75)")
    args = ap.parse_args(argv)
    sides = [("this", REPO, args.cache)] + ([("ref", args.ref.resolve(), args.ref_cache)] if args.ref else [])
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    if args.mode == "cold":
        for name, checkout, _ in sides:
            r = cold(checkout, args.kernels_only)
            print(f"{name:5} {checkout}: wall {r['wall_s']:.1f} s, user {r['user_s']:.1f} s, sys {r['sys_s']:.1f} s, "
                  f"max RSS (largest process) {r['max_rss_mb']:.0f} MB, peak summed RSS of the tree "
                  f"{r['tree_peak_mb']:.0f} MiB", flush=True)
        return 0
    if args.mode == "serve":
        for rnd in range(args.rounds):
            for k, (name, checkout, _) in enumerate(sides):
                r = serve(checkout, 8190 + 2 * rnd + k, args.after)
                print(f"round {rnd + 1} {name:5} {checkout}: /readyz after {r['ready_s']:.1f} s, peak summed RSS "
                      f"{r['tree_peak_mb']:.0f} MiB until then, {r['after_peak_mb']:.0f} MiB in the "
                      f"{args.after:.0f} s after", flush=True)
        return 0
    for name, checkout, cache in sides:
        if not cache:
            ap.error(f"kernel: give the cache directory of {name} ({checkout})")
    for rnd in range(args.rounds):
        for name, checkout, cache in sides:
            r = kernel(checkout, cache, args.claims, args.repeat)
            print(f"round {rnd + 1} {name:5}: one thread, CPU time {r['mixed_us']:.2f} us/claim mixed, "
                  f"{r['alone_us']:.2f} us/claim repeated alone", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
