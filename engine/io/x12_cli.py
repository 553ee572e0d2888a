"""``fastdrg group claims.837 -o results.jsonl``: the command line's 837I road.

Why a module of its own: an 837I file is read whole by engine.io.x12 (its
envelopes are checked end to end before any result is written), not line by
line as NDJSON is; the command recognises it by its ISA header whatever the
file's name, and prints what a clearinghouse asks first: claims read, grouped,
refused, billed DRGs that differ.  A file that is not an 837I exits 2 with the
segment number at fault; nothing of a claim (names, ids, dates) is printed.
"""

from __future__ import annotations

import os
import sys
import time


def sniff(path: str | None) -> bool:
    """Whether the input (a path, or stdin for None/"-") opens with an X12 ISA header."""
    from engine.io.x12 import is_x12

    if path in (None, "-"):
        peek = getattr(sys.stdin.buffer, "peek", None)
        return bool(peek) and is_x12(peek(512)[:512])
    try:
        with open(path, "rb") as f:
            return is_x12(f.read(512))
    except OSError:
        return False


def cmd_group_x12(args) -> int:
    from engine.io.parquet_cli import is_parquet

    edit_only = getattr(args, "edit_only", False)
    try:
        if args.input in (None, "-"):
            data = sys.stdin.buffer.read()
        else:
            with open(args.input, "rb") as f:
                data = f.read()
    except OSError as e:
        print(f"fastdrg: cannot read {args.input}: {e.strerror}", file=sys.stderr)
        return 2
    to_parquet = is_parquet(args.output)
    if to_parquet and edit_only:
        print("fastdrg: edit writes NDJSON: give -o OUTPUT.jsonl", file=sys.stderr)
        return 2
    if args.output not in (None, "-") and not os.access(os.path.dirname(os.path.abspath(args.output)), os.W_OK):
        print(f"fastdrg: cannot write {args.output}", file=sys.stderr)
        return 2

    from engine import Grouper, GrouperError
    from engine.io import x12

    t0 = time.perf_counter()
    grouper = Grouper(cache_dir=args.cache_dir, default_hospital_status=args.hospital_status,
                      data_dir=getattr(args, "data_dir", None))
    edits = getattr(args, "edits", False)
    if edits or edit_only:
        grouper.warm_editor()  # the editor's tables, before the clock starts
    t_ready = time.perf_counter()
    name = args.input if args.input not in (None, "-") else "stdin"
    base_rate = getattr(args, "base_rate", None)  # (--base-rate, where the command has it)
    try:
        if to_parquet:
            import pyarrow.parquet as pq

            table, summary = x12.group_arrow(grouper, data, detail=args.detail, edits=edits, base_rate=base_rate,
                                             summary=True)
            pq.write_table(table, args.output)
            counts, case_mix = {}, (0, 0)
        else:
            got = x12.group(grouper, data, detail=not args.no_detail, edits=edits, base_rate=base_rate,
                            edit_only=edit_only)
            summary, counts, case_mix = got.summary, got.counts, got.case_mix
            if args.output in (None, "-"):
                got.write(sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                with open(args.output, "wb") as f:
                    got.write(f)
    except GrouperError as e:  # a base rate that is not one
        print(f"fastdrg: {e}", file=sys.stderr)
        return 2
    except x12.X12Error as e:
        where = f"segment {e.segment}: " if e.segment is not None else ""
        print(f"fastdrg: {name}: {where}{e.reason}", file=sys.stderr)
        return 2
    except ImportError:
        print("fastdrg: Parquet needs pyarrow (pip install pyarrow)", file=sys.stderr)
        return 2
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        print(f"fastdrg: cannot write {args.output}: {e.strerror}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - t_ready
    if not args.quiet:
        n = summary["claims"]
        rate = n / elapsed if elapsed > 0 else 0.0
        verb = "edited" if edit_only else "grouped"
        print(f"fastdrg: 837I: {n} claims read, {summary['grouped']} {verb}, {summary['refused']} refused"
              + ("" if edit_only else f", {summary['billed_drgs_differ']} of {summary['billed_drgs']} billed DRGs "
                                      f"differ")
              + f" in {elapsed:.2f} s ({rate:,.0f}/s; start-up {t_ready - t0:.2f} s)", file=sys.stderr)
        by_rc: dict = {}
        for (_version, rc), c in counts.items():
            by_rc[rc] = by_rc.get(rc, 0) + c
        for rc, c in sorted(by_rc.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {rc:44} {c:10d}", file=sys.stderr)
        if case_mix[1]:  # as the NDJSON summary
            print(f"  case-mix index (mean weight of {case_mix[1]} claims with a weight): "
                  f"{case_mix[0] / case_mix[1] / 10_000:.4f}", file=sys.stderr)
    return 0
