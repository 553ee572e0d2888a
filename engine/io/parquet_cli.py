"""``fastdrg group claims.parquet -o results.parquet``: the command line's Parquet road.

Why a module of its own: the NDJSON command (engine.cli) streams lines through
the JSON reader; Parquet streams record batches through the Arrow reader
(engine.io.arrow.group_parquet), with the same progress bar and return-code
summary, and needs pyarrow, which the rest of the command line does not.
"""

from __future__ import annotations

import os
import sys
import time


def is_parquet(path: str | None) -> bool:
    """Whether a file is taken as Parquet (by its extension; NDJSON stays the default)."""
    return bool(path) and path.lower().endswith((".parquet", ".pq"))


def cmd_group_parquet(args, default_chunk: int) -> int:
    """``fastdrg group`` for Parquet files; ``default_chunk``: the command's default
    ``--chunk`` (given so, the record batches are of :data:`engine.io.arrow.ROWS` rows)."""
    if not (is_parquet(args.input) and is_parquet(args.output)):
        print("fastdrg: Parquet claims give Parquet results: give INPUT.parquet -o OUTPUT.parquet "
              "(NDJSON in, NDJSON out otherwise)", file=sys.stderr)
        return 2
    try:
        import pyarrow.parquet as pq
    except ImportError:
        print("fastdrg: Parquet needs pyarrow (pip install pyarrow)", file=sys.stderr)
        return 2
    try:
        rows = pq.ParquetFile(args.input).metadata.num_rows
    except OSError as e:
        print(f"fastdrg: cannot read {args.input}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # not a Parquet file
        print(f"fastdrg: cannot read {args.input} as Parquet: {e}", file=sys.stderr)
        return 2
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.access(out_dir, os.W_OK):
        print(f"fastdrg: cannot write {args.output}", file=sys.stderr)
        return 2

    from engine import Grouper
    from engine.io.arrow import ROWS, group_parquet

    t0 = time.perf_counter()
    grouper = Grouper(cache_dir=args.cache_dir, default_hospital_status=args.hospital_status,
                      data_dir=getattr(args, "data_dir", None))
    if getattr(args, "edits", False):
        grouper.warm_editor()  # the editor's tables, before the clock and the bar start
    t_ready = time.perf_counter()
    bar = None
    if not args.no_progress and (sys.stderr.isatty() or rows >= 1_000_000):
        from tqdm import tqdm

        bar = tqdm(total=rows, unit=" claims", desc="grouping", file=sys.stderr)
    counts: dict = {}
    case_mix = [0, 0]  # as the NDJSON summary: sum of the final DRGs' weights (1/10,000), claims weighted
    try:
        n = group_parquet(grouper, args.input, args.output, detail=args.detail, batch_rows=ROWS if args.chunk == default_chunk else args.chunk,
                          progress=bar.update if bar is not None else None, counts=counts, case_mix=case_mix,
                          edits=getattr(args, "edits", False))
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t_ready
    if not args.quiet:
        rate = n / elapsed if elapsed > 0 else 0.0
        print(f"fastdrg: {n} rows grouped in {elapsed:.2f} s ({rate:,.0f}/s; start-up {t_ready - t0:.2f} s)",
              file=sys.stderr)
        for name, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {name:44} {c:10d}", file=sys.stderr)
        if case_mix[1]:
            print(f"  case-mix index (mean weight of {case_mix[1]} claims with a weight): "
                  f"{case_mix[0] / case_mix[1] / 10_000:.4f}", file=sys.stderr)
    return 0
