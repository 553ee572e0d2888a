"""Wide tables in: CSV, TSV, gzip, Excel.

Why: analysts export one row per stay from their abstracting systems, as CSV or
Excel with columns ``DX1 … DX25``, ``POA1 … POA25``, ``PX1 … PX25``, often
gzip-compressed, often with a UTF-8 byte-order mark.  This module reads such a
file in record batches (``pyarrow.csv``'s streaming reader: no Python object
per row; Excel through openpyxl, a spreadsheet's worth of rows), turns each
batch of wide columns into the claim columns ``Grouper.group_arrow`` takes
(vectorised: pyarrow.compute and numpy), and hands results back as NDJSON,
Parquet, or the same wide layout with result columns added.

The public surface:

* :func:`open_table` -> :class:`TableSource`: a file's format (from its name
  and first bytes), its columns resolved (:class:`Columns`), record batches
  of its wide rows; :class:`TableError` (exit 2) for a file that cannot be
  read as claims, naming what is wrong;
* :func:`claim_batches`: Arrow record batches of claims (group_arrow's input
  schema, with ``cell_error``: a bad cell found here) from any of these
  files, for other commands (casemix);
* :func:`group_batches`: (wide batch, result batch) pairs, the results with
  each bad cell's ``error`` naming its column;
* :func:`group_json`: NDJSON results, each line what the row's JSON twin
  gives (the row made a JSON claim text, :func:`json_texts`, and grouped by
  ``Grouper.group_json_texts``);
* :func:`wide_results`: a wide batch with the result columns added;
* :func:`claims_wide`: claim dicts as wide rows (tests, benchmarks, examples).

A bad cell (a date that does not read, a birth date after the admission, a
code that is not an ICD-10 code) makes its row's ``error`` name the file's
column (``DX7``, ``birth_date``); the rest of the file groups.
"""

from __future__ import annotations

import csv
import datetime as _dt
import re
import zipfile
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..encode import MAX_LOS
from .textfile import (
    BOM, SNIFF_BYTES, TableError, raw_stream, check_utf8, is_gzip, latin1_message, sniff,
)

#: Bytes per block of the CSV reader (rows per record batch: ~ this / row width).
BLOCK_BYTES = 8 << 20
#: Rows per record batch read from an Excel sheet.
XLSX_ROWS = 20_000
#: Excel's own limit: a worksheet holds at most this many rows (header included).
XLSX_MAX_ROWS = 1_048_576


#: The plain columns, in the canonical names (docs/tabular.md).
PLAIN = ("id", "version", "discharge_date", "admission_date", "age", "birth_date", "sex", "discharge_status",
         "hospital_status", "los", "pdx", "pdx_poa", "admit_dx")
#: The numbered families (templates' keys in a mapping file) and their default names.
FAMILIES = {"dx": "dx{n}", "poa": "poa{n}", "px": "px{n}"}
#: The numbered names of the principal diagnosis and its POA.
ALIASES = {"dx1": "pdx", "poa1": "pdx_poa"}

DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%m/%d/%Y")


# ---- columns ---------------------------------------------------------------------------------

@dataclass
class Columns:
    """Where each claim field is in a file: canonical name -> the file's column
    name; ``dx``, ``poa``, ``px``: number -> the file's column name."""
    plain: dict = field(default_factory=dict)
    dx: dict = field(default_factory=dict)
    poa: dict = field(default_factory=dict)
    px: dict = field(default_factory=dict)
    #: CMS's batch rule: an age worked out from ``birth_date`` overrides the ``age``
    #: given, and a stay worked out from the dates overrides the ``los`` given
    #: (engine.io.cms_batch); a wide table uses whichever column it has.
    derived_first: bool = False
    #: the cells come trimmed, blank ones null (a reader that did it already)
    clean: bool = False

    def names(self) -> list[str]:
        return list(self.plain.values()) + [self.dx[k] for k in sorted(self.dx)] + \
            [self.poa[k] for k in sorted(self.poa)] + [self.px[k] for k in sorted(self.px)]


def load_mapping(path: str) -> dict:
    """A ``--columns`` file (TOML): canonical name -> the file's name, the
    families as templates with ``{n}``.  TableError for a file that does not
    read or a key that is not a column."""
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise TableError(f"cannot read the mapping file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise TableError(f"the mapping file {path} is not TOML: {e}") from None
    known = set(PLAIN) | set(FAMILIES) | {"dx1", "poa1"}
    out = {}
    for key, value in data.items():
        k = key.strip().lower()
        if k not in known:
            raise TableError(f"the mapping file {path}: {key!r} is not a column fastdrg knows "
                             f"(known: {', '.join(sorted(known))})")
        if not isinstance(value, str) or not value.strip():
            raise TableError(f"the mapping file {path}: {key} must be a column name (text)")
        if k in FAMILIES and "{n}" not in value:
            raise TableError(f"the mapping file {path}: {key} = {value!r} needs {{n}} where the number goes")
        out[ALIASES.get(k, k)] = value.strip()
    return out


def _template(t: str) -> re.Pattern:
    a, _, b = t.lower().partition("{n}")
    return re.compile(re.escape(a) + r"0*([1-9][0-9]?)" + re.escape(b))


def resolve_columns(names: list[str], mapping: dict | None = None) -> Columns:
    """The file's header ``names`` -> :class:`Columns` (case-insensitive).
    TableError naming what is missing (and the names seen), or a mapped
    column the file lacks."""
    mapping = dict(mapping or {})
    by_lower: dict[str, str] = {}
    for n in names:
        by_lower.setdefault(n.strip().lower(), n)
    cols = Columns()
    lacking = []
    for key in PLAIN:
        want = mapping.get(key)
        if want is not None:
            got = by_lower.get(want.lower())
            if got is None:
                lacking.append(f"{key} = {want!r}")
            else:
                cols.plain[key] = got
        elif key in by_lower:
            cols.plain[key] = by_lower[key]
    for fam, default in FAMILIES.items():
        t = mapping.get(fam, default)
        pat = _template(t)
        for low, orig in by_lower.items():
            m = pat.fullmatch(low)
            if m:
                getattr(cols, fam)[int(m.group(1))] = orig
        if fam in mapping and not getattr(cols, fam):
            lacking.append(f"{fam} = {t!r}")
    if lacking:
        raise TableError("the mapping file names columns the file lacks: " + "; ".join(lacking)
                         + f" (the file's columns: {', '.join(names)})")
    # the principal dx: pdx, else dx1 (with poa1)
    if "pdx" not in cols.plain and 1 in cols.dx:
        cols.plain["pdx"] = cols.dx[1]
        if "pdx_poa" not in cols.plain and 1 in cols.poa:
            cols.plain["pdx_poa"] = cols.poa[1]
    cols.dx.pop(1, None)
    if cols.plain.get("pdx_poa") == cols.poa.get(1):
        cols.poa.pop(1, None)
    missing = []
    if "pdx" not in cols.plain:
        missing.append("pdx (or dx1)")
    if "version" not in cols.plain and "discharge_date" not in cols.plain:
        missing.append("version or discharge_date")
    if "age" not in cols.plain and "birth_date" not in cols.plain:
        missing.append("age or birth_date")
    if "age" not in cols.plain and "birth_date" in cols.plain and not (
            "admission_date" in cols.plain or "discharge_date" in cols.plain):
        missing.append("admission_date or discharge_date (the age is worked out from birth_date on it)")
    for key in ("sex", "discharge_status"):
        if key not in cols.plain:
            missing.append(key)
    if missing:
        raise TableError(f"the file lacks the column(s) {', '.join(missing)}; its columns: {', '.join(names)} "
                         "(other names: give a mapping file with --columns, see docs/tabular.md)")
    return cols


# ---- reading ---------------------------------------------------------------------------------

class TableSource:
    """An opened wide file: ``format``, ``names`` (its header), ``columns``
    (:class:`Columns`), ``rows`` (None when unknown before reading),
    :meth:`batches` (record batches of its rows, every column as text) and
    ``skipped`` (the lines of rows with a wrong number of cells, which the CSV
    reader cannot place in columns: each is a row of its own in the batches,
    its cells empty, with its error in :data:`ROW_ERROR`)."""

    def __init__(self, path: str, fmt: str, names: list[str], columns: Columns, rows: int | None, batches):
        self.path = path
        self.format = fmt
        self.names = names
        self.columns = columns
        self.rows = rows
        self._batches = batches
        #: line numbers of rows with a wrong number of cells (each has its own error row)
        self.skipped: list = []
        #: columns read but not echoed in wide results (a birth date the layout holds)
        self.hidden: tuple = ()

    def batches(self) -> Iterator[pa.RecordBatch]:
        return self._batches()


def open_table(path: str, columns: str | dict | None = None, fmt: str | None = None,
               block_bytes: int = BLOCK_BYTES, keep_all: bool = False) -> TableSource:
    """A wide file (CSV, TSV, either gzip-compressed, or xlsx) opened for
    reading; ``columns``: a mapping file's path or its dict; ``keep_all``: the
    batches hold every column of the file, in its order (for results written
    in the same layout), else only the ones read as claims.  TableError for a
    file that is not UTF-8, lacks the required columns, ..."""
    mapping = load_mapping(columns) if isinstance(columns, str) else columns
    fmt = fmt or sniff(path)
    if fmt == "xlsx":
        return _open_xlsx(path, mapping, keep_all)
    if fmt not in ("csv", "tsv"):
        raise TableError(f"{path}: not a CSV, TSV or Excel file ({fmt})")
    with raw_stream(path) as f:
        head = f.read(SNIFF_BYTES)
    check_utf8(head, path)
    text = head[3:] if head.startswith(BOM) else head
    first = text.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    if not first.strip():
        raise TableError(f"{path}: no header line (the first line names the columns)")
    delim = "\t" if fmt == "tsv" or ("\t" in first and "," not in first) else ","
    names = next(csv.reader([first], delimiter=delim))
    cols = resolve_columns(names, mapping)

    def batches():
        import pyarrow.csv as pcsv

        # the reader's own threads off: it then numbers the rows it cannot place (and
        # is no slower here, where the grouping has the cores)
        read = pcsv.ReadOptions(block_size=block_bytes, use_threads=False)
        bad: list = []  # (good rows before it, line, cells expected, cells seen)

        def bad_row(row):  # a row with too few or too many cells: an error row of its own
            line = row.number  # 1-based, the header line 1, blank lines not counted
            bad.append((line - 2 - len(skipped), line, row.expected_columns, row.actual_columns))
            skipped.append(line)
            return "skip"

        parse = pcsv.ParseOptions(delimiter=delim, newlines_in_values=False, invalid_row_handler=bad_row)
        conv = pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                                   null_values=[""], quoted_strings_can_be_null=True,
                                   include_columns=names if keep_all else _unique(cols.names()))
        raw = pa.input_stream(path, compression="gzip" if is_gzip(path) else None)
        done = 0  # good rows yielded so far
        try:
            reader = pcsv.open_csv(raw, read_options=read, parse_options=parse, convert_options=conv)
            schema = reader.schema
            while True:
                try:
                    rb = reader.read_next_batch()
                except StopIteration:
                    break
                yield _with_bad_rows(rb, bad, done)
                done += rb.num_rows
            if bad:  # bad rows after the last good one (or a file of bad rows only)
                yield _with_bad_rows(pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema],
                                                                schema=schema), bad, done)
        except pa.ArrowInvalid as e:
            msg = str(e)
            if "UTF8" in msg or "UTF-8" in msg:
                raise TableError(latin1_message(path)) from None
            raise TableError(f"{path}: cannot read it as {fmt.upper()}: {msg}") from None
        finally:
            raw.close()

    src = TableSource(path, fmt, names, cols, None, batches)
    skipped = src.skipped
    return src


#: An internal column of a wide batch: struct<field, reason>, set on a row the reader
#: could not read at all (a CSV row with a wrong number of cells, a CMS batch record
#: of the wrong length, a field of it that does not read): the row's error, first.
ROW_ERROR = "__fastdrg_row_error"
#: An internal column: each row's record number in its file (CMS batch layout),
#: put before every error's reason.
RECORD = "__fastdrg_record"
_INTERNAL = (ROW_ERROR, RECORD)


def row_errors(field_: np.ndarray, reason: np.ndarray, bad: np.ndarray) -> pa.Array:
    """:data:`ROW_ERROR`'s column from object arrays (set where ``bad``)."""
    if not bad.any():
        return pa.nulls(len(bad), _ERROR)
    f = pa.array(np.where(bad, field_, None), pa.string())
    r = pa.array(np.where(bad, reason, None), pa.string())
    return pa.StructArray.from_arrays([f, r], fields=list(_ERROR), mask=pa.array(~bad))


def _with_bad_rows(rb: pa.RecordBatch, bad: list, done: int) -> pa.RecordBatch:
    """``rb`` (the good rows ``done`` … ``done + len``) with the rows of ``bad``
    that fall among them put in place, their cells empty, and :data:`ROW_ERROR`;
    the rows used are taken out of ``bad``."""
    m = rb.num_rows
    mine = [b for b in bad if b[0] <= done + m]
    if not mine:
        return rb
    del bad[:len(mine)]
    k = len(mine)
    arrays = [pa.concat_arrays([rb.column(j), pa.nulls(k, rb.schema.field(j).type)]) for j in range(rb.num_columns)]
    # order: each bad row before the good row it preceded in the file
    at = np.array(list(range(m)) + [b[0] - done for b in mine], np.int64)  # the good rows, then the bad
    kind = np.array([1] * m + [0] * k, np.int64)
    seq = np.concatenate([np.zeros(m, np.int64), np.arange(k)])
    order = pa.array(np.lexsort((seq, kind, at)), pa.int64())
    field_ = np.array([None] * m + ["row"] * k, object)
    reason = np.array([None] * m + [f"line {b[1]}: {b[3]} cells, the header has {b[2]} (the row cannot be "
                                    "placed in its columns)" for b in mine], object)
    flag = np.zeros(m + k, np.bool_)
    flag[m:] = True
    arrays.append(row_errors(field_, reason, flag))
    names = list(rb.schema.names) + [ROW_ERROR]
    return pa.RecordBatch.from_arrays([a.take(order) for a in arrays], names=names)


def _unique(names):
    seen = []
    for n in names:
        if n not in seen:
            seen.append(n)
    return seen


def _cell_text(v, numeric_pad: int = 0):
    """An Excel cell as text: whole numbers without ".0", dates as ISO."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, int):
        s = str(v)
        return s.zfill(numeric_pad) if numeric_pad else s
    if isinstance(v, _dt.datetime):
        return v.date().isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    return str(v)


def _open_xlsx(path: str, mapping, keep_all: bool) -> TableSource:
    try:
        import openpyxl
    except ImportError:
        raise TableError("reading .xlsx needs openpyxl (pip install openpyxl)") from None
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise TableError(f"{path}: cannot read it as an Excel workbook: {e}") from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header = next(it, None)
    if header is None:
        wb.close()
        raise TableError(f"{path}: the first sheet is empty (its first row names the columns)")
    names = [str(h).strip() if h is not None else f"column{k + 1}" for k, h in enumerate(header)]
    cols = resolve_columns(names, mapping)
    wb.close()
    want = list(names) if keep_all else _unique(cols.names())
    pads = {n: 7 for n in cols.px.values()}  # ICD-10-PCS codes are 7 characters: Excel drops a number's zeros

    def batches():
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            rows = wb.worksheets[0].iter_rows(values_only=True)
            next(rows, None)
            idx = [names.index(n) for n in want] if not keep_all else list(range(len(names)))
            while True:
                block = []
                for r in rows:
                    if r is None or all(v is None for v in r):
                        continue
                    block.append(r)
                    if len(block) >= XLSX_ROWS:
                        break
                if not block:
                    break
                arrays = []
                for n, k in zip(want, idx):
                    pad = pads.get(n, 0)
                    arrays.append(pa.array([_cell_text(r[k] if k < len(r) else None, pad) for r in block],
                                           pa.string()))
                yield pa.RecordBatch.from_arrays(arrays, names=want)
                if len(block) < XLSX_ROWS:
                    break
        finally:
            wb.close()

    return TableSource(path, "xlsx", names, cols, None, batches)


# ---- wide columns -> claim columns --------------------------------------------------------------

_ERROR = pa.struct([("field", pa.string()), ("reason", pa.string())])
_DX = pa.struct([("code", pa.string()), ("poa", pa.string())])
_EPOCH = np.datetime64("1970-01-01", "D")


class _Errors:
    """The first bad cell of each row: (column, reason)."""

    def __init__(self, n: int):
        self.n = n
        self.bad = np.zeros(n, np.bool_)
        self.field = np.empty(n, object)
        self.reason = np.empty(n, object)

    def add(self, mask: np.ndarray, column: str, reason) -> None:
        new = mask & ~self.bad
        if new.any():
            self.bad |= new
            self.field[new] = column
            if callable(reason):
                for i in np.flatnonzero(new).tolist():
                    self.reason[i] = reason(i)
            else:
                self.reason[new] = reason

    def array(self) -> pa.Array:
        return row_errors(self.field, self.reason, self.bad)


def _text(col) -> pa.Array:
    """A text column with its cells trimmed and blank cells null."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = col.cast(pa.string())
    t = pc.utf8_trim_whitespace(col)
    return pc.if_else(pc.equal(t, ""), pa.scalar(None, t.type), t)


def _as_is(col):
    return col


def _given(col: pa.Array) -> np.ndarray:
    return col.is_valid().to_numpy(zero_copy_only=False)


def _dates(col: pa.Array, column: str, errors: _Errors) -> tuple[np.ndarray, np.ndarray]:
    """(days since 1970-01-01 int64, given bool) of a date column in any of
    :data:`DATE_FORMATS`; a cell that reads in none is its row's error."""
    n = len(col)
    days = np.zeros(n, np.int64)
    got = np.zeros(n, np.bool_)
    for fmt in DATE_FORMATS:
        d = pc.strptime(col, format=fmt, unit="s", error_is_null=True)
        ok = _given(d) & ~got
        if ok.any():
            v = pc.cast(pc.cast(d, pa.date32()), pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
            days[ok] = v[ok]
            got |= ok
    given = _given(col)
    bad = given & ~got
    if bad.any():
        texts = col
        errors.add(bad, column, lambda i: f"not a date (YYYY-MM-DD, YYYYMMDD or MM/DD/YYYY): "
                                          f"{str(texts[i].as_py())[:16]!r}")
    return days, got


def _years_between(born: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Whole years from ``born`` to ``on`` (days since 1970), vectorised."""
    b = (_EPOCH + born.astype("timedelta64[D]"))
    o = (_EPOCH + on.astype("timedelta64[D]"))
    by, oy = b.astype("datetime64[Y]"), o.astype("datetime64[Y]")
    years = (oy - by).astype(np.int64)
    # the birthday not reached yet in the year of `on`: one year less
    bm = (b.astype("datetime64[M]") - by.astype("datetime64[M]")).astype(np.int64)
    om = (o.astype("datetime64[M]") - oy.astype("datetime64[M]")).astype(np.int64)
    bd = (b - b.astype("datetime64[M]")).astype(np.int64)
    od = (o - o.astype("datetime64[M]")).astype(np.int64)
    before = (om < bm) | ((om == bm) & (od < bd))
    return years - before.astype(np.int64)


def _code_list(codes: list[pa.Array], poas: list[pa.Array | None], n: int):
    """Numbered code columns -> (offsets, flat codes, flat POAs or None, the
    column number of each item) with empty cells skipped, row by row."""
    k = len(codes)
    if k == 0:
        return np.zeros(n + 1, np.int32), pa.array([], pa.string()), None, np.zeros((n, 0), np.bool_)
    valid = np.stack([_given(c) for c in codes], axis=1)  # n x k
    counts = valid.sum(axis=1)
    off = np.zeros(n + 1, np.int32)
    np.cumsum(counts, out=off[1:])
    r, c = np.nonzero(valid)  # row-major: row by row, columns in order
    take = pa.array(c.astype(np.int64) * n + r.astype(np.int64))
    flat = pa.concat_arrays([c_.cast(pa.string()) for c_ in codes]).take(take)
    flat_poa = None
    if any(p is not None for p in poas):
        filled = [p if p is not None else pa.nulls(n, pa.string()) for p in poas]
        flat_poa = pa.concat_arrays(filled).take(take)
    return off, flat, flat_poa, valid


def claim_batch(rb: pa.RecordBatch, cols: Columns) -> tuple[pa.RecordBatch, dict]:
    """One record batch of wide rows -> (the claim columns group_arrow takes,
    plus ``cell_error``; the numbered columns behind each row's codes, for
    naming them in errors)."""
    n = rb.num_rows
    get = {name: rb.column(k) for k, name in enumerate(rb.schema.names)}
    text = _text if not cols.clean else _as_is
    errors = _Errors(n)
    if ROW_ERROR in get:  # a row the reader could not read: its error first
        re_ = get[ROW_ERROR]
        for i in np.flatnonzero(re_.is_valid().to_numpy(zero_copy_only=False)).tolist():
            errors.bad[i] = True
            errors.field[i], errors.reason[i] = re_[i]["field"].as_py(), re_[i]["reason"].as_py()
    out = {}
    p = cols.plain
    if "id" in p:
        out["id"] = text(get[p["id"]])
    if "version" in p:
        out["version"] = text(get[p["version"]])
    dis = adm = None
    if "discharge_date" in p:
        dis = _dates(text(get[p["discharge_date"]]), p["discharge_date"], errors)
        out["discharge_date"] = pa.array(np.where(dis[1], dis[0], 0).astype(np.int32), pa.int32(),
                                         mask=~dis[1]).cast(pa.date32())
    if "admission_date" in p:
        adm = _dates(text(get[p["admission_date"]]), p["admission_date"], errors)
    for key in ("sex", "discharge_status", "hospital_status", "pdx", "pdx_poa", "admit_dx"):
        if key in p:
            out[key] = text(get[p[key]])
    if "los" in p and not (cols.derived_first and adm is not None and dis is not None):
        out["los"] = text(get[p["los"]])
    elif adm is not None and dis is not None:
        # the length of stay from the dates, as group() derives it (engine.encode.claim_dates)
        both = adm[1] & dis[1]
        los = dis[0] - adm[0]
        errors.add(both & (los < 0), p["admission_date"], "after discharge_date")
        errors.add(both & (los > MAX_LOS), p["admission_date"], f"length of stay above {MAX_LOS} days")
        out["los"] = pa.array(np.clip(los, 0, None), pa.int64(), mask=~both)
        if "los" in p:  # CMS's rule: the stay from the dates, else the one given
            given = text(get[p["los"]])
            out["los"] = pc.if_else(pa.array(both), out["los"].cast(pa.string()), given)
    if "age" in p and not (cols.derived_first and "birth_date" in p):
        out["age"] = text(get[p["age"]])
    else:
        col = p["birth_date"]
        born = _dates(text(get[col]), col, errors)
        # the age on the admission date (else the discharge date less the stay, else the discharge date)
        on = np.zeros(n, np.int64)
        have = np.zeros(n, np.bool_)
        if adm is not None:
            on, have = np.where(adm[1], adm[0], on), adm[1].copy()
        if dis is not None:
            stay = np.zeros(n, np.int64)
            if "los" in p:  # digits only; any other los is the encoder's to name
                t = out["los"]
                digits = pc.fill_null(pc.match_substring_regex(t, r"^[0-9]{1,5}$"), False)
                stay = pc.cast(pc.if_else(digits, t, "0"), pa.int64()).to_numpy(zero_copy_only=False)
            use = ~have & dis[1]
            on = np.where(use, dis[0] - stay, on)
            have |= use
        age = _years_between(born[0], on)
        errors.add(born[1] & have & (age < 0), col, "after the admission (or discharge) date")
        if "age" not in p:  # (with both, CMS's rule: the age given when there is no date to take it on)
            errors.add(born[1] & ~have, col, "the age needs this row's admission_date or discharge_date")
        out["age"] = pa.array(age, pa.int64(), mask=~(born[1] & have))
        if "age" in p:  # CMS's rule: the age from the birth date, else the one given
            out["age"] = pc.if_else(pa.array(born[1] & have), out["age"].cast(pa.string()), text(get[p["age"]]))
    codes = [text(get[cols.dx[k]]) for k in sorted(cols.dx)]
    poas = [text(get[cols.poa[k]]) if k in cols.poa else None for k in sorted(cols.dx)]
    off, flat, flat_poa, dx_valid = _code_list(codes, poas, n)
    if flat_poa is None:
        flat_poa = pa.nulls(len(flat), pa.string())
    out["sdx"] = pa.ListArray.from_arrays(pa.array(off), pa.StructArray.from_arrays([flat, flat_poa], fields=list(_DX)))
    pcodes = [text(get[cols.px[k]]) for k in sorted(cols.px)]
    poff, pflat, _, px_valid = _code_list(pcodes, [None] * len(pcodes), n)
    out["procedures"] = pa.ListArray.from_arrays(pa.array(poff), pflat)
    out["cell_error"] = errors.array()
    if RECORD in get:
        out[RECORD] = get[RECORD]
    where = {"dx": (sorted(cols.dx), dx_valid), "px": (sorted(cols.px), px_valid)}
    return pa.RecordBatch.from_arrays(list(out.values()), names=list(out)), where


def claim_batches(path: str, columns: str | dict | None = None, fmt: str | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of claims (group_arrow's input columns) from a CSV, TSV,
    gzip or xlsx file of wide rows, in the file's order; ``cell_error``
    (struct<field, reason>) is set on a row with a bad cell (group those rows'
    results as errors: :func:`group_batches` does).  TableError when the file
    cannot be read as claims."""
    src = open_table(path, columns, fmt)
    for rb in src.batches():
        yield claim_batch(rb, src.columns)[0]


# ---- grouping ------------------------------------------------------------------------------------

_FIELD = re.compile(r"(sdx|procedures)\[(\d+)\](\.code|\.poa)?")


def _column_of(field_name: str, row: int, cols: Columns, where: dict) -> str:
    """The file's column behind an encoder error's field (``sdx[3].poa`` -> ``POA5``)."""
    m = _FIELD.fullmatch(field_name or "")
    if m:
        kind, j, part = m.group(1), int(m.group(2)), m.group(3)
        nums, valid = where["dx" if kind == "sdx" else "px"]
        taken = np.flatnonzero(valid[row])
        if j < len(taken):
            num = nums[taken[j]]
            if kind == "sdx":
                return cols.poa.get(num, f"poa{num}") if part == ".poa" else cols.dx[num]
            return cols.px[num]
        return field_name
    if field_name in ("pdx.poa",):
        return cols.plain.get("pdx_poa", field_name)
    if field_name in ("pdx.code",):
        return cols.plain.get("pdx", field_name)
    return cols.plain.get(field_name, field_name)


def fix_errors(results: pa.RecordBatch, claims: pa.RecordBatch, cols: Columns, where: dict) -> pa.RecordBatch:
    """The results with each row's ``error`` naming the file's column: a bad
    cell found here (``cell_error``) first, else the encoder's field mapped
    to the column it came from (Python for the rows in error only).  A row
    with a bad cell was grouped without its principal diagnosis
    (:func:`_without_bad`), so its other columns are null already."""
    j = results.schema.get_field_index("error")
    err = results.column(j)
    cell = claims.column(claims.schema.get_field_index("cell_error"))
    rows = np.flatnonzero(err.is_valid().to_numpy(zero_copy_only=False)
                          | cell.is_valid().to_numpy(zero_copy_only=False))
    if not len(rows):
        return results
    field_ = np.full(len(err), None, object)
    reason = np.full(len(err), None, object)
    records = _records_of(claims)
    for i in rows.tolist():
        c = cell[i].as_py()
        if c is None:
            e = err[i].as_py()
            c = {"field": _column_of(e["field"], i, cols, where), "reason": e["reason"]}
        field_[i], reason[i] = c["field"], _at_record(c["reason"], records, i)
    mask = np.ones(len(err), np.bool_)
    mask[rows] = False
    new = pa.StructArray.from_arrays([pa.array(field_, pa.string()), pa.array(reason, pa.string())],
                                     fields=list(err.type), mask=pa.array(mask))
    return results.set_column(j, "error", new)


def _records_of(claims: pa.RecordBatch):
    """The record numbers of a batch (CMS batch layout), or None."""
    k = claims.schema.get_field_index(RECORD)
    return claims.column(k) if k >= 0 else None


def _at_record(reason: str, records, i: int) -> str:
    """``reason`` with its record number before it (when the batch has them)."""
    if records is None or reason.startswith("record "):
        return reason
    return f"record {records[i].as_py()}: {reason}"


def group_batches(grouper, source, detail: bool = False, edits: bool = False,
                  base_rate=None) -> Iterator[tuple[pa.RecordBatch, pa.RecordBatch]]:
    """(wide batch, result batch) for each record batch of ``source`` (a
    :class:`TableSource`), through ``grouper.group_arrow``."""
    cols = source.columns
    for rb in source.batches():
        claims, where = claim_batch(rb, cols)
        grouped = grouper.group_arrow(_without_bad(claims), detail=detail, edits=edits, base_rate=base_rate)
        res = grouped.combine_chunks().to_batches()
        res = res[0] if res else None
        if res is None:
            continue
        yield rb, fix_errors(res, claims, cols, where)


def _without_bad(claims: pa.RecordBatch) -> pa.RecordBatch:
    """The claims without ``cell_error``, a row with a bad cell made cheap to reject
    (its principal dx null: the encoder rejects it at once; its error is ours)."""
    k = claims.schema.get_field_index("cell_error")
    cell = claims.column(k)
    out = claims.remove_column(k)
    if RECORD in out.schema.names:
        out = out.remove_column(out.schema.get_field_index(RECORD))
    if cell.null_count == len(cell):
        return out
    bad = cell.is_valid()
    j = out.schema.get_field_index("pdx")
    return out.set_column(j, "pdx", pc.if_else(bad, pa.scalar(None, out.column(j).type), out.column(j)))


# ---- results in the wide layout ------------------------------------------------------------------

#: Result columns added to a wide row, in this order.
WIDE_RESULTS = ("version", "drg", "mdc", "initial_drg", "initial_mdc", "return_code", "drg_description",
                "severity_final", "med_surg", "hac_status", "weight", "adjusted_weight", "error")
WIDE_EDITS = ("edit_type",)


def wide_results(rb: pa.RecordBatch, res: pa.RecordBatch, hidden=()) -> pa.RecordBatch:
    """A wide batch with the result columns added (a name the file already has
    gets a ``fastdrg_`` prefix); ``error`` as ``column: reason`` text;
    ``hidden``: columns not echoed."""
    keep = [k for k, n in enumerate(rb.schema.names) if n not in _INTERNAL and n not in hidden]
    names = [rb.schema.names[k] for k in keep]
    arrays = [rb.column(k) for k in keep]
    taken = {n.lower() for n in names}
    for name in WIDE_RESULTS + WIDE_EDITS:
        k = res.schema.get_field_index(name)
        if k < 0:
            continue
        a = res.column(k)
        if name == "error":
            f, r = a.field("field"), a.field("reason")
            a = pc.if_else(a.is_valid(), pc.binary_join_element_wise(f, r, ": "), pa.scalar(None, pa.string()))
        elif pa.types.is_dictionary(a.type):
            a = a.cast(a.type.value_type)
        out_name = name if name.lower() not in taken else "fastdrg_" + name
        names.append(out_name)
        arrays.append(a)
    return pa.RecordBatch.from_arrays(arrays, names=names)


# ---- claims as JSON texts (NDJSON results through the JSON road) -----------------------------------

def _esc(col: pa.Array) -> pa.Array:
    """Text as the inside of a JSON string: backslash and quote escaped, a
    control character (none survives in a code) made a space.  Most columns
    have none of these: their bytes are checked with numpy first."""
    col = _plain_text(col)
    data = col.buffers()[2]
    if data is None or not data.size:
        return col
    b = np.frombuffer(data, np.uint8)
    if not ((b < 32) | (b == 34) | (b == 92)).any():
        return col
    col = pc.replace_substring(col, "\\", "\\\\")
    col = pc.replace_substring(col, '"', '\\"')
    return pc.replace_substring_regex(col, r"[\x00-\x1f]", " ")


def _plain_text(col: pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return col if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) else col.cast(pa.string())


def _quoted(col: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise('"', _esc(col), '"', "")


def _keyed(key: str, value: pa.Array) -> pa.Array:
    """``"key":value`` where ``value`` is given, null where not."""
    return pc.binary_join_element_wise(f'"{key}":', value, "")


def _dx_items(code: pa.Array, poa: pa.Array | None) -> pa.Array:
    """``{"code":"X","poa":"P"}`` where a POA is given, else ``"X"``."""
    q = _quoted(code)
    if poa is None:
        return q
    with_poa = pc.binary_join_element_wise('{"code":', q, ',"poa":', _quoted(poa), "}", "")
    return pc.if_else(poa.is_valid(), with_poa, q)


_NUMBERS = ("age", "discharge_status", "los")


def json_texts(claims: pa.RecordBatch):
    """Each claim of :func:`claim_batch` as the JSON object ``Grouper.group``
    reads (an NDJSON line), built with pyarrow.compute, as
    :class:`engine.parse.Texts` (spans of one buffer: no Python object per row)."""
    from ..parse import Texts

    get = {name: claims.column(k) for k, name in enumerate(claims.schema.names)}
    n = claims.num_rows
    pieces = []
    for key in ("id", "version", "sex", "discharge_status", "hospital_status", "age", "los"):
        col = get.get(key)
        if col is None:
            continue
        if pa.types.is_integer(col.type):
            pieces.append(_keyed(key, col.cast(pa.string())))
        elif key in _NUMBERS:
            # digits as a JSON number (the compiled reader's plain form; "01" is the
            # integer 1 to the encoder either way), anything else as text it names
            num = pc.match_substring_regex(col, r"^-?[0-9]{1,9}$")
            as_int = pc.cast(pc.cast(pc.if_else(num, col, "0"), pa.int64()), pa.string())
            pieces.append(_keyed(key, pc.if_else(num, as_int, _quoted(col))))
        else:
            pieces.append(_keyed(key, _quoted(col)))
    if "discharge_date" in get:
        pieces.append(_keyed("discharge_date", _quoted(get["discharge_date"].cast(pa.string()))))
    pieces.append(_keyed("pdx", _dx_items(get["pdx"], get.get("pdx_poa"))))
    if "admit_dx" in get:
        pieces.append(_keyed("admit_dx", _quoted(get["admit_dx"])))
    for key in ("sdx", "procedures"):
        lst = get[key]
        values = lst.values
        if key == "sdx":  # a missing POA written "" (blank, as group() reads a missing one)
            poa = pc.fill_null(_esc(values.field("poa")), "")
            items = pc.binary_join_element_wise('{"code":"', _esc(values.field("code")), '","poa":"', poa, '"}', "")
        else:
            items = _quoted(values)
        joined = pc.binary_join(pa.ListArray.from_arrays(lst.offsets, items), ",")
        pieces.append(pc.binary_join_element_wise(f'"{key}":[', joined, "]", ""))
    body = pc.binary_join_element_wise(*pieces, ",", null_handling="skip")
    text = pc.binary_join_element_wise("{", body, "}", "")
    if not isinstance(text, pa.Array):
        text = pa.array([text.as_py()] * n, pa.string())
    text = text.cast(pa.large_string())
    off = np.frombuffer(text.buffers()[1], np.int64)[text.offset:text.offset + n + 1]
    data = text.buffers()[2]
    spans = np.stack([off[:-1], off[1:]], axis=1).astype(np.int64)
    return Texts(data.to_pybytes() if data is not None else b"", spans)


def group_json(grouper, source, detail: bool = True, edits: bool = False, edit_only: bool = False,
               base_rate=None) -> Iterator[tuple[bytes, int, dict, tuple]]:
    """NDJSON results of a :class:`TableSource`, batch by batch, through the
    JSON road (each row made the JSON claim :func:`json_texts` builds, grouped
    by ``Grouper.group_json_texts``, so each line is byte for byte what the
    claim's JSON twin gives): (lines, rows, counts {return code or
    ``ERROR:<column>``: n}, case-mix parts (weights' sum in 1/10,000, claims))."""
    import orjson

    cols = source.columns
    for rb in source.batches():
        claims, where = claim_batch(rb, cols)
        texts = json_texts(_without_bad(claims))  # a row with a bad cell: rejected at once, its error ours
        if edit_only:
            out = grouper.edit_json_texts(texts)
        else:
            out = grouper.group_json_texts(texts, detail=detail, separator=b"\n", edits=edits, base_rate=base_rate)
        cell = claims.column(claims.schema.get_field_index("cell_error"))
        extra = {}
        counts: dict = {}
        ids = claims.column(claims.schema.get_field_index("id")) if "id" in claims.schema.names else None
        bad_cells = np.flatnonzero(cell.is_valid().to_numpy(zero_copy_only=False)).tolist()
        records = _records_of(claims)
        for i in bad_cells:
            doc = {"id": ids[i].as_py()} if ids is not None and ids[i].is_valid else {}
            doc["error"] = cell[i].as_py()
            doc["error"]["reason"] = _at_record(doc["error"]["reason"], records, i)
            extra[i] = orjson.dumps(doc)
        skip = set(bad_cells)
        for i, err in enumerate(out.errors):
            if err is None or i in skip:
                continue
            docs = out.documents
            doc = orjson.loads(docs[i])
            doc["error"]["field"] = _column_of(doc["error"]["field"], i, cols, where)
            doc["error"]["reason"] = _at_record(doc["error"]["reason"], records, i)
            extra[i] = orjson.dumps(doc)
        for i, doc in extra.items():
            key = "ERROR:" + orjson.loads(doc)["error"]["field"]
            counts[key] = counts.get(key, 0) + 1
        for (_version, rc), c in out.counts.items():
            counts[rc] = counts.get(rc, 0) + c
        if edit_only:
            lines = b"".join((extra.get(i) or d) + b"\n" for i, d in enumerate(out.documents))
        else:
            lines = out.join(extra, suffix=b"\n") if claims.num_rows else b""
        yield lines, claims.num_rows, counts, getattr(out, "case_mix", (0, 0))


def claim_texts(source) -> Iterator[tuple["Texts", list]]:
    """For each record batch of ``source`` (a :class:`TableSource`): the JSON claims
    (:func:`json_texts`) of its rows without a bad cell, and the errors (``{field,
    reason}``) of those with one, for a reader that counts what it refuses
    (``fastdrg casemix``)."""
    cols = source.columns
    for rb in source.batches():
        claims, _where = claim_batch(rb, cols)
        cell = claims.column(claims.schema.get_field_index("cell_error"))
        bad = cell.is_valid().to_numpy(zero_copy_only=False)
        errors = [cell[i].as_py() for i in np.flatnonzero(bad).tolist()]
        good = claims.filter(pa.array(~bad)) if errors else claims
        yield json_texts(_without_bad(good)), errors


# ---- claim dicts as wide rows (a convenience for tests, benchmarks and examples) ------------------

def claims_wide(claims, names: dict | None = None, min_dx: int = 25, min_px: int = 25) -> tuple[list, list]:
    """Claim dicts (as ``Grouper.group`` takes them, with ``version`` and ``age``)
    as a header and wide rows: ``id, version, age, sex, discharge_status,
    hospital_status, dx1, poa1, … dxN, poaN, px1 … pxM`` (N, M at least
    ``min_dx``, ``min_px``; more when a claim has more codes); ``names``:
    other spellings, as a mapping file gives them (``{"dx": "DIAG_{n}", "id":
    "ACCOUNT", ...}``).  Python per claim: not a fast path."""
    names = names or {}
    nd = max([min_dx] + [1 + len(c.get("sdx") or []) for c in claims])
    npx = max([min_px] + [len(c.get("procedures") or []) for c in claims])
    plain = ("id", "version", "age", "sex", "discharge_status", "hospital_status")
    head = [names.get(k, k) for k in plain]
    for k in range(1, nd + 1):
        head += [names.get("dx", "dx{n}").format(n=k), names.get("poa", "poa{n}").format(n=k)]
    head += [names.get("px", "px{n}").format(n=k) for k in range(1, npx + 1)]
    rows = []
    for c in claims:
        row = ["" if c.get(k) is None else str(c[k]) for k in plain]
        dxs = [c["pdx"]] + list(c.get("sdx") or [])
        for k in range(nd):
            x = dxs[k] if k < len(dxs) else None
            if x is None:
                row += ["", ""]
            elif isinstance(x, dict):
                row += [x["code"], x.get("poa") or ""]
            else:
                row += [x, ""]
        pxs = [p["code"] if isinstance(p, dict) else p for p in c.get("procedures") or []]
        row += [pxs[k] if k < len(pxs) else "" for k in range(npx)]
        rows.append(row)
    return head, rows
