"""``fastdrg`` command line: group NDJSON files, build the table cache, run the service.

    fastdrg group [INPUT.jsonl] [-o OUTPUT.jsonl] [--hospital-status exempt]
    fastdrg group INPUT.parquet -o OUTPUT.parquet [--detail]     (engine.io.parquet_cli)
    fastdrg group CLAIMS.837 [-o OUTPUT.jsonl|.parquet] [--edits]   (X12 837I, engine.io.x12_cli)
    fastdrg group claims.csv [-o results.csv] [--columns map.toml]  (.tsv, .csv.gz, .xlsx; engine.io.tabular_cli)
    fastdrg edit [INPUT.jsonl] [-o OUTPUT.jsonl]                  (engine.editing)
    fastdrg tables build [--cache-dir DIR] [--archive fastdrg-cache.tar.gz]   (engine.spark)
    fastdrg tables import PATH... [--data-dir DIR]   (a CMS release zip, jar or .bin)
    fastdrg tables list [--json] [--data-dir DIR]
    fastdrg serve [--host H] [--port P] [--workers N] [--log-level info]
    fastdrg weights import FILE --fiscal-year 2027 | fastdrg weights list
    fastdrg casemix FILE -o report.html [--json summary.json] [--to VERSION] [--weights FY]   (engine.analytics)

``group`` streams: it reads ``--chunk`` lines at a time, groups them in one
batch call and writes the results in input order, so memory stays bounded
whatever the file size. A line that is not a JSON object becomes an error line
in its place; nothing aborts the run. A summary of return codes goes to
stderr at the end (stdout carries only results, so it can be piped).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from typing import BinaryIO, Iterator

import orjson

#: Input files at least this big get a progress bar even when stderr is not a TTY.
LARGE_INPUT_BYTES = 64 * 1024 * 1024
DEFAULT_CHUNK = 10_000
HOSPITAL_STATUSES = ("not_exempt", "exempt", "unknown")


# ---- group ---------------------------------------------------------------------------------


def _chunks(stream: BinaryIO, size: int) -> Iterator[tuple[list[bytes], int]]:
    """Yield ``(lines, bytes_read)``; lines keep their order, blank lines included."""
    lines: list[bytes] = []
    nbytes = 0
    for line in stream:
        lines.append(line)
        nbytes += len(line)
        if len(lines) >= size:
            yield lines, nbytes
            lines, nbytes = [], 0
    if lines:
        yield lines, nbytes


def _line_error(raw: bytes, line_no: int) -> dict:
    """The error line for an input line that is not a claim object."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return {"line": line_no, "error": {"field": "json", "reason": f"invalid JSON: {e}"}}
    return {"line": line_no, "error": {"field": "json", "reason": "a claim must be a JSON object"}}


def _progress(args, in_size: int | None):
    show = sys.stderr.isatty() or (in_size is not None and in_size >= LARGE_INPUT_BYTES)
    if args.no_progress or not show:
        return None
    from tqdm import tqdm

    if in_size is not None:
        return tqdm(total=in_size, unit="B", unit_scale=True, desc="grouping", file=sys.stderr)
    return tqdm(unit=" claims", desc="grouping", file=sys.stderr)


def _is_parquet(path: str | None) -> bool:
    from engine.io.parquet_cli import is_parquet

    return is_parquet(path)


def cmd_group(args) -> int:
    from engine import Grouper
    from engine.io.x12_cli import cmd_group_x12, sniff
    from engine.io.textfile import TableError, is_tabular, text_input

    fmt = getattr(args, "format", "auto")
    if fmt == "auto" and sniff(args.input):  # an X12 837I file, whatever its name (engine.io.x12)
        return cmd_group_x12(args)
    if fmt not in ("auto", "ndjson") or (fmt == "auto" and is_tabular(args.input)):  # wide tables (docs/tabular.md)
        from engine.io.tabular_cli import cmd_group_tabular

        return cmd_group_tabular(args, None if fmt == "auto" else fmt)
    if _is_parquet(args.input) or _is_parquet(args.output):  # chosen by extension; NDJSON stays the default
        from engine.io.parquet_cli import cmd_group_parquet

        return cmd_group_parquet(args, DEFAULT_CHUNK)
    if args.input in (None, "-"):
        src, in_size = sys.stdin.buffer, None
    else:
        try:
            src = open(args.input, "rb")
        except OSError as e:
            print(f"fastdrg: cannot read {args.input}: {e.strerror}", file=sys.stderr)
            return 2
        in_size = os.fstat(src.fileno()).st_size
    try:  # a BOM skipped, gzip read as a stream, a Latin-1 file refused
        if src.peek(2)[:2] == b"\x1f\x8b":
            in_size = None  # the bar counts claims: the file's size is not the text's
        src = text_input(src, args.input or "stdin")
    except TableError as e:
        print(f"fastdrg: {e}", file=sys.stderr)
        return 2
    if args.output in (None, "-"):
        dst = sys.stdout.buffer
    else:
        try:
            dst = open(args.output, "wb")
        except OSError as e:
            print(f"fastdrg: cannot write {args.output}: {e.strerror}", file=sys.stderr)
            if src is not sys.stdin.buffer:
                src.close()
            return 2

    # after the files: a wrong path is answered before the engine loads
    t0 = time.perf_counter()
    grouper = Grouper(cache_dir=args.cache_dir, default_hospital_status=args.hospital_status,
                      data_dir=args.data_dir)
    t_ready = time.perf_counter()

    counts: collections.Counter = collections.Counter()
    case_mix = [0, 0]  # sum of the final DRGs' weights (1/10,000), claims with a weight
    n_out = 0
    bar = _progress(args, in_size)
    line_no = 1
    try:
        for lines, nbytes in _chunks(src, args.chunk):
            where = [k for k, raw in enumerate(lines) if raw.strip()]  # blank lines: no output
            texts = [lines[k] for k in where]
            if getattr(args, "edit_only", False):  # fastdrg edit: the Medicare Code Editor alone
                out = grouper.edit_json_texts(texts)
            elif getattr(args, "edits", False):
                out = grouper.group_json_texts(texts, detail=not args.no_detail, edits=True)
            else:
                out = grouper.group_json_texts(texts, detail=not args.no_detail)
            buf = bytearray()
            for k, doc, err in zip(where, out.documents, out.errors):
                if doc is None:
                    doc = orjson.dumps(_line_error(lines[k], line_no + k))
                    err = {"field": "json"}
                if err is not None:
                    counts["ERROR:" + str(err.get("field"))] += 1
                buf += doc
                buf += b"\n"
            for (_version, rc), c in out.counts.items():
                counts[rc] += c
            cm = getattr(out, "case_mix", (0, 0))
            case_mix[0] += cm[0]
            case_mix[1] += cm[1]
            n_out += len(where)
            line_no += len(lines)
            dst.write(buf)
            if bar is not None:
                bar.update(nbytes if in_size is not None else len(where))
        dst.flush()
    except BrokenPipeError:  # e.g. `fastdrg group big.jsonl | head`: not an error
        # Python flushes stdout at exit; point it at /dev/null so that cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if bar is not None:
            bar.close()
        if src is not sys.stdin.buffer:
            src.close()
        if dst is not sys.stdout.buffer:
            dst.close()

    elapsed = time.perf_counter() - t_ready
    if not args.quiet:
        rate = n_out / elapsed if elapsed > 0 else 0.0
        print(f"fastdrg: {n_out} lines {'edited' if getattr(args, 'edit_only', False) else 'grouped'} in {elapsed:.2f} s ({rate:,.0f}/s; "
              f"start-up {t_ready - t0:.2f} s)", file=sys.stderr)
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {name:44} {n:10d}", file=sys.stderr)
        if case_mix[1]:
            print(f"  case-mix index (mean weight of {case_mix[1]} claims with a weight): "
                  f"{case_mix[0] / case_mix[1] / 10_000:.4f}", file=sys.stderr)
    return 0


# ---- tables --------------------------------------------------------------------------------


def cmd_tables_build(args) -> int:
    from engine import Grouper

    if args.archive:  # tables + compiled kernels for Spark executors (engine.spark)
        from engine.spark import build_archive

        Grouper(cache_dir=args.cache_dir)  # the tables (and kernels) to pack, built here if missing
        info = build_archive(args.archive, cache_dir=args.cache_dir)
        print(f"fastdrg: wrote {args.archive} ({info['bytes'] / 1e6:.1f} MB) in {info['seconds']:.1f} s; "
              f"a worker starts from it in {info['warm_start_seconds']:.1f} s")
        return 0
    t0 = time.perf_counter()
    g = Grouper(cache_dir=args.cache_dir, data_dir=args.data_dir)
    from engine.io.x12 import warm

    warm(g)  # the 837I reader's compiled code too (engine.io.x12)
    try:
        from engine.io.fhir_bundle import compile_road
    except ImportError:  # without the FHIR models: no FHIR road to compile
        pass
    else:
        compile_road(g.version_numbers[-1])  # the service's FHIR Bundle road (engine.io.fhir_bundle)
    dt = time.perf_counter() - t0
    state = "built" if getattr(g, "built_tables", False) else "loaded from cache"
    print(f"fastdrg: tables {state} in {g.cache_dir}, kernels compiled/loaded; "
          f"versions {', '.join(g.versions)} ready in {dt:.1f} s")
    return 0


def cmd_tables_import(args) -> int:
    """Import CMS release files (engine.data.store); exit 2 with one line naming the
    file and the reason when one cannot be imported (nothing is changed then)."""
    from engine.data import store

    t0 = time.perf_counter()
    try:
        done = store.import_files(args.paths, args.data_dir)
    except store.ImportFailed as e:
        print(f"fastdrg: cannot import {e}", file=sys.stderr)
        return 2
    root = store.data_dir(args.data_dir)
    for d in done:
        what = ("versions " + ", ".join(f"{v // 10}.{v % 10}" for v in d["versions"]) if d["kind"] == "msdrg"
                else f"Medicare Code Editor data for edit dates through {d['last_date']}")
        print(f"fastdrg: imported {d['file']} ({what}; built {d['built'] or 'unknown'}; sha256 {d['sha256'][:12]}…) "
              f"into {root}")
    print(f"fastdrg: done in {time.perf_counter() - t0:.1f} s; the tables are rebuilt at the next start "
          "(a running service keeps serving what it loaded until it restarts)")
    return 0


def version_sources(data_dir=None, cache_dir=None) -> list[dict]:
    """Every version with its source, as ``fastdrg tables list --json`` gives it."""
    from engine import source as src
    from engine import tables as tb
    from engine.data import store
    from engine.editing.tables import editor_fields, editor_sources
    from engine.encode import version_dates, version_label

    spath = src.default_source_path()
    msdrg_hash = src.source_hash(spath)
    cache = tb.default_cache_dir() if cache_dir is None else cache_dir
    assigned = store.assignment(tb._package_versions(cache, spath, msdrg_hash), data_dir)
    editor = editor_sources(spath, data_dir, msdrg_hash)
    out = []
    for v, rel in assigned.items():
        if rel is None:
            row = {"version": version_label(v), "source": store.msdrg_label(), "file": spath.name,
                   "sha256": msdrg_hash, "built": None}
        else:
            p = rel.provenance
            row = {"version": version_label(v), "source": store.SOURCE_RELEASE, "file": p["file"],
                   "sha256": p["sha256"], "built": p.get("built")}
        lo, hi = version_dates(v)
        out.append({**row, **editor_fields(editor, lo.isoformat(), hi.isoformat())})
    return out


def cmd_tables_list(args) -> int:
    rows = version_sources(args.data_dir, args.cache_dir)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    print(f"{'version':8} {'source':14} {'built':30} {'sha256':14} {'file':32} code editor")
    for r in rows:
        print(f"{r['version']:8} {r['source']:14} {r['built'] or '-':30} {r['sha256'][:12]:14} {r['file']:32} "
              f"{r['editor_source']} ({r['editor_file']})")
    return 0


# ---- serve ---------------------------------------------------------------------------------


def cmd_serve(args) -> int:
    try:
        from service.server import serve  # lazily: the grouping CLI needs no web stack
    except ImportError as e:
        print(f"fastdrg: the service is not available: {e}", file=sys.stderr)
        return 2
    try:
        serve(host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)
    except ValueError as e:  # settings errors (bad level, workers < 1, ...)
        print(f"fastdrg: {e}", file=sys.stderr)
        return 2
    return 0


# ---- argument parsing ----------------------------------------------------------------------


def _hospital_status(text: str) -> str:
    s = text.strip().lower()
    if s not in HOSPITAL_STATUSES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(HOSPITAL_STATUSES)}")
    return s


def _positive(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return v


def _add_table_args(p) -> None:
    """Wide tables in (engine.io.tabular, docs/tabular.md) and CMS's batch layout (engine.io.cms_batch)."""
    p.add_argument("--format", choices=("auto", "ndjson", "csv", "tsv", "xlsx", "cms-batch"), default="auto",
                   help="input format (default: from the name and the first bytes; cms-batch: CMS's PC grouper "
                        "batch records, docs/tabular.md)")
    p.add_argument("--columns", metavar="MAP.toml", help="the file's column names for a wide table (docs/tabular.md)")
    p.add_argument("--grouper-version", metavar="VERSION",
                   help="cms-batch: the grouper version for every record (default: from each discharge date)")
    p.add_argument("--layout", metavar="CONTROL",
                   help="cms-batch: the record layout as CMS's z/OS grouper utility's control statements "
                        "(DDX, SRG, AGE, SEX, DSP, POA; docs/tabular.md); default: CMS's PC batch layout")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastdrg", description="Exact CMS MS-DRG grouping (v40.0 - v44.0, and imported CMS releases).")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("group", help="group NDJSON claims (one JSON object per line), a Parquet file or an X12 837I file")
    g.add_argument("input", nargs="?", help="input .jsonl (default: stdin), .parquet, or an 837I (by its ISA header)")
    g.add_argument("-o", "--output", help="output .jsonl (default: stdout) or .parquet (for .parquet or 837I input)")
    g.add_argument("--hospital-status", type=_hospital_status, default="not_exempt",
                   help="POA reporting status for claims that do not carry one (default: not_exempt)")
    g.add_argument("--chunk", type=_positive, default=DEFAULT_CHUNK,
                   help=f"lines per batch (default: {DEFAULT_CHUNK})")
    g.add_argument("--no-detail", action="store_true", help="omit the per-code detail from results")
    g.add_argument("--edits", action="store_true",
                   help="add the Medicare Code Editor's edits to each result (edit_type, edits)")
    g.add_argument("--detail", action="store_true",
                   help="per-code detail columns in Parquet output (NDJSON has it unless --no-detail)")
    g.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    g.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    g.add_argument("--cache-dir", help="table/kernel cache directory (default: FASTDRG_CACHE_DIR or user cache)")
    g.add_argument("--data-dir", help="imported CMS releases (default: FASTDRG_DATA_DIR or the user data dir)")
    _add_table_args(g)
    g.set_defaults(func=cmd_group)

    e = sub.add_parser("edit", help="run the Medicare Code Editor on NDJSON claims (one JSON object per line)")
    e.add_argument("input", nargs="?", help="input .jsonl (default: stdin) or an 837I (by its ISA header)")
    e.add_argument("-o", "--output", help="output .jsonl (default: stdout)")
    e.add_argument("--hospital-status", type=_hospital_status, default="not_exempt", help=argparse.SUPPRESS)
    e.add_argument("--chunk", type=_positive, default=DEFAULT_CHUNK, help="claims per engine call")
    e.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    e.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    e.add_argument("--cache-dir", help="table/kernel cache directory (default: FASTDRG_CACHE_DIR or user cache)")
    e.add_argument("--data-dir", help="imported CMS releases (default: FASTDRG_DATA_DIR or the user data dir)")
    _add_table_args(e)
    e.set_defaults(func=cmd_group, edit_only=True, no_detail=False, edits=False)

    t = sub.add_parser("tables", help="manage the tables: build the cache, import CMS releases, list versions")
    tsub = t.add_subparsers(dest="tables_command", required=True)
    tb = tsub.add_parser("build", help="build (or verify) the table cache and compile the kernels")
    tb.add_argument("--cache-dir", help="cache directory (default: FASTDRG_CACHE_DIR or user cache)")
    tb.add_argument("--data-dir", help="imported CMS releases (default: FASTDRG_DATA_DIR or the user data dir)")
    tb.add_argument("--archive", metavar="PATH.tar.gz",
                    help="also pack the tables and the compiled engine into PATH for Spark (spark.archives)")
    tb.set_defaults(func=cmd_tables_build)
    ti = tsub.add_parser("import", help="import CMS release files: the grouper's release zip, its "
                                        "msdrg-binary-access-*.jar or msdrg_combined.bin (or the MCE's zip, "
                                        "MCE-*.jar, mce.bin)")
    ti.add_argument("paths", nargs="+", metavar="PATH")
    ti.add_argument("--data-dir", help="data directory (default: FASTDRG_DATA_DIR or the user data dir)")
    ti.set_defaults(func=cmd_tables_import)
    tl = tsub.add_parser("list", help="every grouper version with the source of its tables")
    tl.add_argument("--json", action="store_true", help="JSON: [{version, source, file, sha256, built}]")
    tl.add_argument("--data-dir", help="data directory (default: FASTDRG_DATA_DIR or the user data dir)")
    tl.add_argument("--cache-dir", help="cache directory (default: FASTDRG_CACHE_DIR or user cache)")
    tl.set_defaults(func=cmd_tables_list)

    s = sub.add_parser("serve", help="run the HTTP service")
    s.add_argument("--host", help="bind address (default: FASTDRG_HOST or the service default)")
    s.add_argument("--port", type=int, help="port (default: FASTDRG_PORT or the service default)")
    s.add_argument("--workers", type=int, help="worker processes")
    s.add_argument("--log-level", help="debug, info, warning, error")
    s.set_defaults(func=cmd_serve)

    from .payment.cli import add_parser as add_weights
    add_weights(sub)
    from .analytics.cli import add_parser as add_casemix
    add_casemix(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
