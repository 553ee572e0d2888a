"""``fastdrg casemix FILE -o report.html [--json summary.json] [--to VERSION] [--weights FY] [--edits]``.

Reads what ``fastdrg group`` reads (NDJSON, stdin included, Parquet, and the wide
tables of docs/tabular.md: CSV, TSV, gzip, xlsx, CMS's batch layout), in
parts of ``--chunk`` claims: each part is read, grouped (twice with ``--to``)
and added to one :class:`engine.analytics.CaseMix`, then dropped, so memory is
bounded by the part size, never the file's.  A progress bar shows on a
terminal.  Exit code 2 for a file that cannot be read or written, an unknown
``--to`` version or Table 5 year (the message names what is loaded).
"""

from __future__ import annotations

import os
import sys
import time

DEFAULT_PART = 65_536


def add_parser(sub) -> None:
    from ..cli import _add_table_args, _hospital_status, _positive

    c = sub.add_parser("casemix", help="case-mix summary and HTML report of a file of claims (NDJSON, Parquet, "
                                       "or a wide table: CSV, xlsx, CMS's batch layout)")
    c.add_argument("input", nargs="?", help="claims: .jsonl (default: stdin), .parquet, .csv/.tsv(.gz), .xlsx, "
                                            "or CMS's batch layout with --format cms-batch")
    c.add_argument("-o", "--output", metavar="REPORT.html", help="write the HTML report here")
    c.add_argument("--json", metavar="SUMMARY.json", help="write the summary JSON here ('-': stdout)")
    c.add_argument("--to", metavar="VERSION", help="also group every claim under this grouper version and compare")
    c.add_argument("--weights", metavar="FY", help="one Table 5 year for every claim (e.g. 2026 or FY2026; with --to "
                                                  "the default is the newest loaded)")
    c.add_argument("--edits", action="store_true", help="count the Medicare Code Editor's edits by name")
    c.add_argument("--title", default="Case-mix report", help="the report's title")
    c.add_argument("--hospital-status", type=_hospital_status, default="not_exempt",
                   help="POA reporting status for claims that do not carry one (default: not_exempt)")
    c.add_argument("--chunk", type=_positive, default=DEFAULT_PART, help=f"claims per part (default: {DEFAULT_PART})")
    c.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    c.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    c.add_argument("--cache-dir", help="table/kernel cache directory (default: FASTDRG_CACHE_DIR or user cache)")
    c.add_argument("--data-dir", help="imported CMS releases and Table 5 years (default: FASTDRG_DATA_DIR)")
    _add_table_args(c)
    c.set_defaults(func=cmd_casemix)


def _fail(message: str) -> int:
    print(f"fastdrg: {message}", file=sys.stderr)
    return 2


def _bar(args, total, unit: str):
    if args.no_progress or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=unit == "B", desc="case mix", file=sys.stderr)


def _ndjson_parts(src, size: int):
    from ..cli import _chunks

    for lines, nbytes in _chunks(src, size):
        yield [ln for ln in lines if ln.strip()], nbytes


def _parquet_parts(path: str, size: int):
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    for rb in f.iter_batches(batch_size=size):
        yield rb, rb.num_rows


def _wide_parts(source):
    from ..io.tabular import claim_texts

    for texts, errors in claim_texts(source):
        yield (texts, errors), len(texts) + len(errors)


def cmd_casemix(args) -> int:
    from ..cli import _is_parquet
    from ..io.textfile import TableError, is_tabular

    if not args.output and not args.json:
        return _fail("give -o REPORT.html and/or --json SUMMARY.json")
    fmt = getattr(args, "format", "auto")
    wide = None
    if fmt not in ("auto", "ndjson") or (fmt == "auto" and is_tabular(args.input)):  # docs/tabular.md
        from ..io.tabular_cli import open_source

        if args.input in (None, "-"):
            return _fail("a wide table is read from a file: give its path (stdin carries NDJSON)")
        wide = open_source(args, None if fmt == "auto" else fmt)
        if isinstance(wide, int):
            return wide
    parquet = wide is None and _is_parquet(args.input)
    src = None
    if wide is not None:
        total = wide.rows
    elif parquet:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            return _fail("Parquet needs pyarrow (pip install pyarrow)")
        try:
            total = pq.ParquetFile(args.input).metadata.num_rows
        except Exception as e:  # not there, or not Parquet
            return _fail(f"cannot read {args.input} as Parquet: {e}")
    elif args.input in (None, "-"):
        src, total = sys.stdin.buffer, None
    else:
        try:
            src = open(args.input, "rb")
        except OSError as e:
            return _fail(f"cannot read {args.input}: {e.strerror}")
        total = os.fstat(src.fileno()).st_size
    for out in (args.output, args.json):
        if out and out != "-" and not os.access(os.path.dirname(os.path.abspath(out)), os.W_OK):
            return _fail(f"cannot write {out}")

    from .. import Grouper
    from .casemix import CaseMix, CaseMixError

    t0 = time.perf_counter()
    try:
        grouper = Grouper(cache_dir=args.cache_dir, default_hospital_status=args.hospital_status,
                          data_dir=args.data_dir)
        try:
            acc = CaseMix.for_grouper(grouper, args.to, args.weights, args.edits)
        except CaseMixError as e:
            return _fail(str(e))
        if args.edits:
            grouper.warm_editor()
        t_ready = time.perf_counter()
        bar = _bar(args, total, " claims" if parquet or wide is not None or total is None else "B")
        try:
            parts = _parquet_parts(args.input, args.chunk) if parquet else \
                _wide_parts(wide) if wide is not None else _ndjson_parts(src, args.chunk)
            for part, step in parts:
                if parquet:
                    acc.add_arrow(grouper, part)
                elif wide is not None:
                    texts, errors = part
                    acc.add_texts(grouper, texts)
                    for error in errors:  # a row with a bad cell: refused, its column named
                        acc.add_refused(error)
                else:
                    acc.add_texts(grouper, part)
                if bar is not None:
                    bar.update(step if total is not None else len(part))
        except TableError as e:  # a wide file that stops making sense part-way
            return _fail(str(e))
        finally:
            if bar is not None:
                bar.close()
    finally:
        if src is not None and src is not sys.stdin.buffer:
            src.close()
    summary = acc.summary(grouper)
    elapsed = time.perf_counter() - t_ready
    if args.json:
        import orjson

        text = orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n"
        if args.json == "-":
            sys.stdout.buffer.write(text)
        else:
            with open(args.json, "wb") as fh:
                fh.write(text)
    if args.output:
        from .report import write_report

        write_report(summary, args.output, args.title,
                     source=os.path.basename(args.input) if args.input not in (None, "-") else "stdin")
    if not args.quiet:
        cmi = summary["case_mix_index"]
        print(f"fastdrg: {summary['claims']} claims, {summary['grouped']} grouped, {summary['refused']['total']} "
              f"refused in {elapsed:.2f} s (start-up {t_ready - t0:.2f} s)", file=sys.stderr)
        if summary["empty"]:
            print("  the file holds no claims: the report says so", file=sys.stderr)
        print(f"  case-mix index {cmi['value'] if cmi['value'] is not None else '-'} ({cmi['weights']}; "
              f"{cmi['claims_without_weight']} claims without a weight)", file=sys.stderr)
        c = summary["compare"]
        if c:
            print(f"  under {c['to']} ({c['weights']}): CMI {c['cmi_from']} -> {c['cmi_to']}, "
                  f"{c['changed']} claims change DRG, {c['unknown_codes']['claims']} claims carry codes "
                  f"{c['to']} does not know", file=sys.stderr)
    return 0


__all__ = ["add_parser", "cmd_casemix"]
