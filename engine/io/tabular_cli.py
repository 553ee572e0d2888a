"""``fastdrg group claims.csv`` (.tsv, .csv.gz, .xlsx): the command line's wide-table road.

Why a module of its own: engine.cli streams NDJSON lines; wide files stream
record batches through engine.io.tabular, and the results go out as the
output's name says: ``.csv`` / ``.tsv`` / ``.csv.gz`` / ``.xlsx`` the same wide
rows with result columns added and ``.parquet`` the Arrow results (both
through ``Grouper.group_arrow``), anything else (stdout included) NDJSON
(through ``Grouper.group_json_texts``: each line the row's JSON twin's).
Results are written on a thread of their own while the next batch groups.
"""

from __future__ import annotations

import gzip
import os
import sys
import time

from .tabular import TableError, XLSX_MAX_ROWS

def out_format(path: str | None) -> str:
    if path in (None, "-"):
        return "ndjson"
    name = path.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".xlsx"):
        return "xlsx"
    gz = name.endswith(".gz")
    name = name.removesuffix(".gz")
    if name.endswith((".tsv", ".tab")):
        return "tsv.gz" if gz else "tsv"
    if name.endswith(".csv"):
        return "csv.gz" if gz else "csv"
    return "ndjson"


class _Behind:
    """Writes done on a thread of their own, two batches in flight at most, so that
    writing (CSV formatting, gzip, the disk: all release the GIL) overlaps the
    grouping of the next batch."""

    def __init__(self):
        import collections
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(1, thread_name_prefix="fastdrg-write")
        self.pending = collections.deque()

    def submit(self, fn, *args) -> None:
        self.pending.append(self.pool.submit(fn, *args))
        while len(self.pending) > 2:
            self.pending.popleft().result()

    def drain(self) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            for f in self.pending:
                f.cancel()
            self.pool.shutdown()


class _Writer:
    """Results out, batch by batch, in the format the output's name asks for."""

    def __init__(self, path, fmt: str, hidden=()):
        self.path, self.fmt, self.hidden = path, fmt, hidden
        self.sink = None
        self.rows = 0

    def write(self, wide, res) -> None:
        import pyarrow as pa

        fmt = self.fmt
        if fmt == "ndjson":
            raise ValueError("NDJSON results are written with write_lines")
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            if self.sink is None:
                self.sink = pq.ParquetWriter(self.path, res.schema)
            self.sink.write_batch(res)
        else:
            from .tabular import wide_results

            out = wide_results(wide, res, self.hidden)
            if fmt == "xlsx":
                self._xlsx(out)
            else:
                import pyarrow.csv as pcsv

                if self.sink is None:
                    raw = open(self.path, "wb")
                    self._raw = raw
                    stream = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) if fmt.endswith(".gz") else raw
                    self._stream = stream
                    opts = pcsv.WriteOptions(delimiter="\t" if fmt.startswith("tsv") else ",")
                    self.sink = pcsv.CSVWriter(pa.PythonFile(stream, mode="w"), out.schema, write_options=opts)
                self.sink.write_batch(out)
        self.rows += res.num_rows

    def write_lines(self, lines: bytes, rows: int) -> None:
        if self.sink is None:
            self.sink = sys.stdout.buffer if self.path in (None, "-") else open(self.path, "wb")
        self.sink.write(lines)
        self.rows += rows

    def _xlsx(self, out) -> None:
        if self.sink is None:
            import openpyxl

            self.sink = openpyxl.Workbook(write_only=True)
            self._ws = self.sink.create_sheet("results")
            self._ws.append(out.schema.names)
        if self.rows + out.num_rows + 1 > XLSX_MAX_ROWS:
            raise TableError(f"{self.path}: an Excel sheet holds at most {XLSX_MAX_ROWS - 1:,} rows; "
                             "write .csv, .csv.gz or .parquet for a file this big")
        cols = [out.column(k).to_pylist() for k in range(out.num_columns)]
        for row in zip(*cols):
            self._ws.append(row)

    def close(self) -> None:
        if self.sink is None:
            return
        if self.fmt == "ndjson":
            self.sink.flush()
            if self.sink is not sys.stdout.buffer:
                self.sink.close()
        elif self.fmt == "xlsx":
            self.sink.save(self.path)
        else:
            self.sink.close()
            if self.fmt not in ("parquet",):
                if self._stream is not self._raw:
                    self._stream.close()
                self._raw.close()


def open_source(args, fmt: str | None, keep_all: bool = False):
    """The wide file ``args.input`` opened (:class:`engine.io.tabular.TableSource`;
    ``--format cms-batch``: CMS's batch layout), or exit status 2 after saying why."""
    from . import tabular

    path = args.input
    if getattr(args, "layout", None) and fmt != "cms-batch":
        print("fastdrg: --layout is for --format cms-batch", file=sys.stderr)
        return 2
    try:
        if fmt == "cms-batch":  # CMS's batch layout (engine.io.cms_batch)
            from . import cms_batch

            return cms_batch.open_batch(path, getattr(args, "grouper_version", None),
                                        layout=getattr(args, "layout", None))
        return tabular.open_table(path, getattr(args, "columns", None), fmt, keep_all=keep_all)
    except TableError as e:
        print(f"fastdrg: {e}", file=sys.stderr)
    except OSError as e:
        print(f"fastdrg: cannot read {path}: {e.strerror}", file=sys.stderr)
    return 2


def cmd_group_tabular(args, fmt: str | None = None) -> int:
    """``fastdrg group|edit`` on a wide file."""
    from engine import Grouper

    from . import tabular

    path = args.input
    if path in (None, "-"):
        print("fastdrg: a wide table is read from a file: give its path (stdin carries NDJSON)", file=sys.stderr)
        return 2
    src = open_source(args, fmt, keep_all=out_format(args.output) not in ("ndjson", "parquet"))
    if isinstance(src, int):
        return src
    ofmt = out_format(args.output)
    if args.output not in (None, "-"):
        out_dir = os.path.dirname(os.path.abspath(args.output))
        if not os.access(out_dir, os.W_OK):
            print(f"fastdrg: cannot write {args.output}", file=sys.stderr)
            return 2
    edit_only = getattr(args, "edit_only", False)
    edits = edit_only or getattr(args, "edits", False)
    detail = ofmt == "ndjson" and not getattr(args, "no_detail", False) or \
        (ofmt == "parquet" and getattr(args, "detail", False))
    if edit_only:
        detail = False

    t0 = time.perf_counter()
    grouper = Grouper(cache_dir=args.cache_dir, default_hospital_status=args.hospital_status,
                      data_dir=getattr(args, "data_dir", None))
    if edits:
        grouper.warm_editor()
    t_ready = time.perf_counter()
    bar = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit=" claims", desc="grouping", file=sys.stderr)
    counts: dict = {}
    weights = [0.0, 0]
    writer = _Writer(args.output, ofmt, src.hidden)
    behind = _Behind()
    try:
        if ofmt == "ndjson":  # the JSON road: each line what the row's JSON twin gives, byte for byte
            for lines, n, c, cm in tabular.group_json(grouper, src, detail=detail, edits=edits, edit_only=edit_only):
                behind.submit(writer.write_lines, lines, n)
                for k, v in c.items():
                    counts[k] = counts.get(k, 0) + v
                weights[0] += cm[0] / 10_000
                weights[1] += cm[1]
                if bar is not None:
                    bar.update(n)
        else:
            for wide, res in tabular.group_batches(grouper, src, detail=detail, edits=edits):
                behind.submit(writer.write, wide, res)
                _tally(res, counts, weights)
                if bar is not None:
                    bar.update(res.num_rows)
        behind.drain()
    except TableError as e:
        print(f"fastdrg: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if bar is not None:
            bar.close()
        try:
            behind.drain()
            writer.close()
        except BrokenPipeError:
            pass
    elapsed = time.perf_counter() - t_ready
    if src.skipped:
        lines = ", ".join(str(x) for x in src.skipped[:10] if x is not None)
        print(f"fastdrg: {len(src.skipped)} row(s) of {path} with a wrong number of cells for the header, "
              f"each with its own error (ERROR:row)" + (f" (lines {lines}{', ...' if len(src.skipped) > 10 else ''})"
                                                         if lines else ""), file=sys.stderr)
    if not args.quiet:
        n = writer.rows
        rate = n / elapsed if elapsed > 0 else 0.0
        print(f"fastdrg: {n} rows {'edited' if edit_only else 'grouped'} in {elapsed:.2f} s ({rate:,.0f}/s; "
              f"start-up {t_ready - t0:.2f} s)", file=sys.stderr)
        for name, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {name:44} {c:10d}", file=sys.stderr)
        if weights[1] and not edit_only:
            print(f"  case-mix index (mean weight of {weights[1]} claims with a weight): "
                  f"{weights[0] / weights[1]:.4f}", file=sys.stderr)
    return 0


def _tally(res, counts: dict, weights: list) -> None:
    """Return codes (and ``ERROR:<column>``) and the weights' sum, over Arrow columns."""
    import pyarrow.compute as pc

    names = res.schema.names
    rc = res.column(names.index("return_code"))
    for item in pc.value_counts(rc.dictionary_decode() if hasattr(rc, "dictionary_decode") else rc).to_pylist():
        if item["values"] is not None:
            counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
    err = res.column(names.index("error"))
    if err.null_count < len(err):
        for item in pc.value_counts(pc.struct_field(err, "field")).to_pylist():
            if item["values"] is not None:
                key = "ERROR:" + item["values"]
                counts[key] = counts.get(key, 0) + item["counts"]
    if "weight" in names:
        w = res.column(names.index("weight"))
        w = pc.filter(w, pc.greater(pc.fill_null(w, 0), 0))
        weights[0] += pc.sum(w).as_py() or 0.0
        weights[1] += len(w)
