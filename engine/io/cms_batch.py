"""CMS's batch input layout: the fixed-width record of CMS's desktop grouper.

Why: sites moving off CMS's own PC grouper ("Medicare Severity Grouper with
Medicare Code Editor", batch mode) hold their claims in its input file: one
835-byte text record per stay, the fields at fixed positions (CMS, Medicare
Severity Grouper with Medicare Code Editor Software, Installation and User's
Manual, ICD-10 version, PBL-013, chapter 4 "Batch processing: Input file
format"; see docs/tabular.md for the table and how it was confirmed).  This
module reads such a file in blocks of records as a byte matrix (numpy: one row
of bytes per record, each field a column slice; no Python object per record),
turns each block into the wide columns engine.io.tabular reads (so a record
groups exactly as the same claim written as a CSV row, and as its JSON twin),
and hands it to the same road: ``tabular.group_batches`` / ``group_json``.

Public surface: :data:`PC_LAYOUT` (the record's fields), :func:`open_batch`
-> ``tabular.TableSource``, :func:`claims_records` (claim dicts as records:
tests, benchmarks, examples).  A record of the wrong length, or a field that
does not read (``age``, ``sex``, ``dx3``, ``apply_hac_logic`` ...), gets its
own error naming the field, and every error's reason starts with its record
number (``record 17: ...``); the rest of the file groups.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import tabular
from .textfile import BOM, TableError, raw_stream

#: Bytes read per block (about 10,000 records).
BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class Field:
    """One field of a record: its name (the column it becomes), its 1-based
    start, its width in bytes and, for a repeated field, how many there are
    and the bytes from one to the next."""
    name: str
    start: int
    width: int
    count: int = 1
    step: int = 0
    #: each one's start, when they are not ``step`` apart (a control-statement layout)
    starts: tuple = ()


#: CMS's PC grouper batch input record (PBL-013, "Input file format"): 835 bytes.
#: Fields this reader does not read (patient name 1-31, medical record number
#: 32-44, primary pay source 84-85, procedure dates 487-736, unused 738, optional
#: information 739-810, filler 811-835) are skipped: names and record numbers never
#: reach a result.
PC_RECORD = 835
PC_LAYOUT = (
    Field("id", 45, 17),                   # account number, left-justified
    Field("admission_date", 62, 10),       # mm/dd/yyyy, blank if none
    Field("discharge_date", 72, 10),       # mm/dd/yyyy, blank if none
    Field("discharge_status", 82, 2),      # UB-04, right-justified, zero-filled
    Field("los", 86, 5),                   # right-justified, zero-filled; the dates' stay overrides it
    Field("birth_date", 91, 10),           # mm/dd/yyyy; the age from it (on the admission) overrides `age`
    Field("age", 101, 3),                  # right-justified, zero-filled, 0-124
    Field("sex", 104, 1),                  # 0 unknown, 1 male, 2 female
    Field("admit_dx", 105, 7),             # left-justified, blank-filled, no decimal point
    Field("dx", 112, 7, 25, 8),            # the principal diagnosis, then dx2 ... dx25: 7 bytes each, ...
    Field("poa", 119, 1, 25, 8),           # ... then the POA indicator (the 8th byte): pdx_poa, poa2 ... poa25
    Field("px", 312, 7, 25, 7),            # procedures px1 ... px25 (the principal first)
    Field("apply_hac_logic", 737, 1),      # X exempt from POA reporting, Z requires it, blank
)

@dataclass(frozen=True)
class Layout:
    """Where a record's fields are: ``fields`` (:class:`Field`), ``width`` (the
    bytes of a record read) and ``exact`` (every record is ``width`` bytes long;
    else at least that long, the rest not read)."""
    fields: tuple
    width: int
    exact: bool = True
    name: str = "CMS's batch layout"

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)


#: CMS's PC grouper batch layout, the default.
PC = Layout(PC_LAYOUT, PC_RECORD)

#: the principal diagnosis is the first of the 25 diagnosis fields
_DX_NAMES = {"dx": ["pdx"] + [f"dx{k}" for k in range(2, 26)], "poa": ["pdx_poa"] + [f"poa{k}" for k in range(2, 26)]}
_SEX = {ord("0"): "U", ord("1"): "M", ord("2"): "F"}
_HAC = {ord("X"): "exempt", ord("Z"): "not_exempt"}
_DIGITS = {"age": "0-124, right-justified", "discharge_status": "the UB-04 code, 2 digits",
           "los": "days, right-justified"}


def _names(f: Field) -> list:
    """The columns a field's cells become."""
    if f.name in _DX_NAMES:
        return _DX_NAMES[f.name][:f.count]
    if f.name == "px":
        return [f"px{k}" for k in range(1, f.count + 1)]
    return ["hospital_status" if f.name == "apply_hac_logic" else f.name]


def _columns(layout: Layout, version: bool) -> tabular.Columns:
    cols = tabular.Columns(derived_first=True, clean=True)
    for f in layout.fields:
        for k, name in enumerate(_names(f)):
            if f.name in ("dx", "poa", "px") and name not in ("pdx", "pdx_poa"):
                getattr(cols, f.name)[int(name[len(f.name):])] = name
            else:
                cols.plain[name] = name
    if version:
        cols.plain["version"] = "version"
    return cols


def open_batch(path: str, grouper_version: str | None = None, hospital_status: str | None = None,
               block_bytes: int = BLOCK_BYTES, layout: Layout | str | None = None) -> tabular.TableSource:
    """A file in CMS's batch layout opened for reading (gzip and a leading BOM
    are fine); ``grouper_version``: the version every record is grouped with
    (the layout has none; default: each record's discharge date picks it);
    ``hospital_status``: for records whose Apply-HAC-logic byte is blank
    (default: the grouper's); ``layout``: another layout (:class:`Layout`, or
    the path of a control-statement file, :func:`read_layout`).  TableError
    when the file cannot be opened or the layout read."""
    if isinstance(layout, str):
        layout = read_layout(layout)
    layout = layout or PC
    if grouper_version is None and not layout.has("discharge_date"):
        raise TableError(f"{layout.name} has no discharge date to pick the grouper version: give --grouper-version")
    try:
        with raw_stream(path) as f:
            f.read(1)
    except OSError as e:
        raise TableError(f"cannot read {path}: {e.strerror}") from None
    cols = _columns(layout, grouper_version is not None)

    def batches():
        for recno, matrix, bad, high in _blocks(path, block_bytes, layout):
            yield _wide(layout, recno, matrix, bad, high, grouper_version, hospital_status)

    names = ["record"] + cols.names()
    src = tabular.TableSource(path, "cms-batch", names, cols, None, batches)
    src.hidden = ("birth_date",)  # read for the age, never echoed in wide results
    return src


# ---- a layout of CMS's z/OS grouper utility: its control statements ------------------------------

#: The input control statements read: keyword -> (field, bytes per value, most values).
STATEMENTS = {
    "DDX": ("dx", 8, 25),        # each diagnosis code, 8 bytes, left-justified, blank-filled; the first the principal
    "SRG": ("px", 7, 25),        # each procedure code, 7 bytes, left-justified, blank-filled
    "AGE": ("age", 3, 1),        # 3 bytes, right-justified, zero- or blank-filled, 0-124
    "SEX": ("sex", 1, 1),        # 1 byte: 0 unknown, 1 male, 2 female
    "DSP": ("discharge_status", 2, 1),  # 2 bytes, right-justified, zero- or blank-filled
    "POA": ("poa", 1, 25),       # each diagnosis's POA indicator, 1 byte, in DDX's order
}
#: Output statements (where the utility writes its answer into the record): fastdrg
#: writes its results as NDJSON, CSV or Parquet, so these are accepted and not used.
OUTPUT_STATEMENTS = {"RTC": "the return code", "MDC": "the MDC", "DRG": "the DRG"}
#: Dates: their format in the utility's record is not confirmed, so they are refused
#: unless all their positions are 0000 (not given).
DATE_STATEMENTS = {"ADT": "the admission date", "DDT": "the discharge date", "SDT": "the procedure dates"}
REQUIRED = ("DDX", "AGE", "SEX", "DSP")


def read_layout(path: str) -> Layout:
    """A control-statement file of CMS's z/OS grouper utility (its SYSIN: a
    3-character keyword, then 4-digit starting positions, right-justified and
    zero-filled) as a :class:`Layout`: :data:`STATEMENTS` read, the output
    statements :data:`OUTPUT_STATEMENTS` accepted and not used, the date
    statements refused unless 0000.  TableError (exit 2) naming the statement
    and line at fault."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise TableError(f"cannot read the layout file {path}: {e.strerror}") from None
    text = raw[3:] if raw.startswith(BOM) else raw
    try:
        lines = text.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise TableError(f"the layout file {path} is not plain text (control statements are ASCII)") from None
    where = f"the layout file {path}"
    found: dict[str, list] = {}
    for k, line in enumerate(lines, 1):
        body = line.rstrip()
        if not body.strip() or body.startswith("*"):
            continue
        key, rest = body[:3].upper(), body[3:].replace(" ", "")
        if not (rest.isdigit() and len(rest) % 4 == 0):
            raise TableError(f"{where}, line {k}: {key}: after the keyword come starting positions of 4 digits "
                             f"each, right-justified and zero-filled (e.g. {key}0024)")
        positions = [int(rest[j:j + 4]) for j in range(0, len(rest), 4)]
        if key in DATE_STATEMENTS:
            if any(positions):
                raise TableError(f"{where}, line {k}: {key} ({DATE_STATEMENTS[key]}) is not supported: the format "
                                 "of that date in the utility's record is not confirmed. Give 0000 (not given), "
                                 "or use CMS's PC batch layout (the default), which has the dates")
            continue
        if key in OUTPUT_STATEMENTS:
            continue
        if key not in STATEMENTS:
            raise TableError(f"{where}, line {k}: {key!r} is not a statement fastdrg reads (it reads "
                             f"{', '.join(STATEMENTS)}; accepts {', '.join(OUTPUT_STATEMENTS)} (results are "
                             f"written as NDJSON, CSV or Parquet) and {', '.join(DATE_STATEMENTS)} at 0000)")
        if 0 in positions:
            raise TableError(f"{where}, line {k}: {key}: a starting position is 1 or more, not 0000")
        found.setdefault(key, []).extend(positions)  # a statement may go on over more lines
    missing = [key for key in REQUIRED if key not in found]
    if missing:
        raise TableError(f"{where} lacks the statement(s) {', '.join(missing)} "
                         f"({', '.join(STATEMENTS[m][0] for m in missing)})")
    fields = []
    for key, positions in found.items():
        name, width, most = STATEMENTS[key]
        if len(positions) > most:
            raise TableError(f"{where}: {key} gives {len(positions)} positions; at most {most}")
        if name in ("dx", "px", "poa"):
            fields.append(Field(name, positions[0], width, len(positions), 0, tuple(positions)))
        else:
            fields.append(Field(name, positions[0], width))
    if len(found.get("POA", ())) > len(found["DDX"]):
        raise TableError(f"{where}: POA gives {len(found['POA'])} positions for {len(found['DDX'])} DDX codes")
    width = max((max(f.starts) if f.starts else f.start) + f.width - 1 for f in fields)
    return Layout(tuple(fields), width, exact=False, name=f"the layout of {os.path.basename(path)}")


# ---- records as a byte matrix ----------------------------------------------------------------

def _blocks(path: str, block_bytes: int, layout: Layout) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
    """(record numbers, an n x width byte matrix, the records' lengths where
    wrong else 0, whether any byte is not ASCII) for each block of whole lines
    of the file; a blank line is no record (but counts in the numbering)."""
    line0 = 0  # lines before this block
    carry = b""
    with raw_stream(path) as f:
        first = True
        while True:
            chunk = f.read(block_bytes)
            if first:
                first = False
                if chunk.startswith(BOM):
                    chunk = chunk[3:]
            buf = carry + chunk if carry else chunk
            if not buf:
                return
            if chunk:
                cut = buf.rfind(b"\n") + 1
                if cut == 0:  # no line end yet (a very long line): read on
                    carry = buf
                    continue
                data, carry = buf[:cut], buf[cut:]
            else:
                data, carry = (buf if buf.endswith(b"\n") else buf + b"\n"), b""
            arr = np.frombuffer(data, np.uint8)
            ends = np.flatnonzero(arr == 10)
            starts = np.empty_like(ends)
            starts[0] = 0
            starts[1:] = ends[:-1] + 1
            lens = ends - starts
            cr = np.zeros(len(ends), np.bool_)
            has = lens > 0
            cr[has] = arr[ends[has] - 1] == 13
            lens = lens - cr
            numbers = line0 + 1 + np.arange(len(ends), dtype=np.int64)
            line0 += len(ends)
            keep = lens > 0 if not (lens > 0).all() else None
            if keep is not None:  # blank lines: no records
                starts, lens, numbers = starts[keep], lens[keep], numbers[keep]
            if not len(starts):
                if not chunk:
                    return
                continue
            ok = lens == layout.width if layout.exact else lens >= layout.width
            yield numbers, _matrix(arr, starts, lens, ok, layout.width), np.where(ok, 0, lens), bool(arr.max() >= 128)
            if not chunk:
                return


def _matrix(arr: np.ndarray, starts: np.ndarray, lens: np.ndarray, ok: np.ndarray, width: int) -> np.ndarray:
    """The records' first ``width`` bytes as an n x width matrix: a view when
    every line is a good record at the same stride, else copied (a record of
    the wrong length left blank: its error is its length)."""
    n = len(starts)
    if n and ok.all():
        stride = int(starts[1] - starts[0]) if n > 1 else width + 1
        if n == 1 or (np.diff(starts) == stride).all():
            return np.lib.stride_tricks.as_strided(arr[starts[0]:], (n, width), (stride, 1), writeable=False)
    out = np.full((n, width), 32, np.uint8)
    good = np.flatnonzero(ok)
    span = np.arange(width, dtype=np.int64)
    for lo in range(0, len(good), 4096):  # the gather index in parts (4096 x width x 8 bytes)
        rows = good[lo:lo + 4096]
        out[rows] = arr[starts[rows, None].astype(np.int64) + span]
    return out


def _trimmed(cells: np.ndarray) -> pa.Array:
    """An n x w byte matrix as a string column, each cell without its leading and
    trailing blanks, a blank cell null (pyarrow.compute over the fixed-width cells)."""
    n, w = cells.shape
    data = np.ascontiguousarray(cells)
    raw = pa.StringArray.from_buffers(n, pa.py_buffer(np.arange(0, (n + 1) * w, w, dtype=np.int32)),
                                      pa.py_buffer(data))
    t = pc.ascii_trim(raw, " ")
    return pc.if_else(pc.equal(pc.binary_length(t), 0), pa.scalar(None, pa.string()), t)


def _wide(layout: Layout, recno: np.ndarray, m: np.ndarray, wrong: np.ndarray, high: bool, version,
          hospital_status) -> pa.RecordBatch:
    """A block of records -> a wide batch (engine.io.tabular's columns, as text:
    trimmed, blank cells null), with :data:`tabular.ROW_ERROR` set on a record
    that does not read and :data:`tabular.RECORD` its number; ``high``: the
    block has bytes that are not ASCII (somewhere: a name may)."""
    n = len(recno)
    errors = tabular._Errors(n)  # the first unreadable field of each record
    size = f"{layout.width}" if layout.exact else f"at least {layout.width}"
    errors.add(wrong > 0, "record", lambda i: f"record {recno[i]}: {wrong[i]} bytes long; a record of "
                                              f"{layout.name} is {size}")
    cols: dict[str, pa.Array] = {"record": pa.array(recno, pa.int64()).cast(pa.string())}
    for f in layout.fields:
        a = f.start - 1
        # a repeated field: all its cells as one (count x n) x width matrix, field by field
        if f.starts:  # positions of their own (a control-statement layout)
            cells = m[:, np.add.outer(np.array(f.starts) - 1, np.arange(f.width))]
        elif f.count == 1:
            cells = m[:, a:a + f.width].reshape(n, 1, f.width)
        else:
            cells = m[:, a:a + f.count * f.step].reshape(n, f.count, f.step)[:, :, :f.width]
        names = _names(f)
        if high:  # not ASCII: no code, date or number has such bytes
            hi = (cells >= 128).any(axis=2)
            if hi.any():
                cells = np.where(cells >= 128, np.uint8(ord("?")), cells)
                for k, name in enumerate(names):
                    errors.add(hi[:, k], name, lambda i, name=name: f"record {recno[i]}: {name} has bytes that are "
                                                                    "not ASCII text")
        if f.name == "sex":
            cols["sex"] = _mapped(cells[:, 0, 0], _SEX, errors, "sex", recno, "0 (unknown), 1 (male) or 2 (female)")
        elif f.name == "apply_hac_logic":
            byte = cells[:, 0, 0]
            status = _mapped(byte, _HAC, None, f.name, recno, "")
            bad = ~np.isin(byte, [ord("X"), ord("Z"), ord(" ")])
            errors.add(bad, f.name, lambda i: f"record {recno[i]}: apply_hac_logic must be X (exempt from POA "
                                              f"reporting), Z (requires POA reporting) or blank, not {chr(byte[i])!r}")
            if hospital_status is not None:
                status = pc.fill_null(status, hospital_status)
            cols["hospital_status"] = status
        else:
            flat = np.ascontiguousarray(cells.transpose(1, 0, 2)).reshape(f.count * n, f.width)
            text = _trimmed(flat)
            if f.name in _DIGITS:  # right-justified digits, zero- or blank-filled (blank: not given)
                what = _DIGITS[f.name]
                bad = ~pc.fill_null(pc.match_substring_regex(text, r"^[0-9]+$"), True).to_numpy(zero_copy_only=False)
                errors.add(bad, f.name, lambda i: f"record {recno[i]}: {f.name} must be digits ({what}), not "
                                                  f"{flat[i].tobytes().decode('ascii')!r}")
            for k, name in enumerate(names):
                cols[name] = text.slice(k * n, n)
    if version is not None:
        cols["version"] = pa.array(np.full(n, str(version), object), pa.string())
    cols[tabular.ROW_ERROR] = errors.array()
    cols[tabular.RECORD] = pa.array(recno, pa.int64())
    return pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols))


def _mapped(byte: np.ndarray, table: dict, errors, name: str, recno, what: str) -> pa.Array:
    """A one-byte code column through ``table`` (null where not in it; an error
    naming ``name`` there when ``errors`` is given)."""
    keys = np.array(list(table), np.uint8)
    values = pa.array(list(table.values()), pa.string())
    hit = byte[:, None] == keys[None, :]
    found = hit.any(axis=1)
    if errors is not None:
        errors.add(~found, name, lambda i: f"record {recno[i]}: {name} must be {what}, not {chr(byte[i])!r}")
    idx = pa.array(np.argmax(hit, axis=1).astype(np.int64), mask=~found)
    return values.take(idx)


# ---- claim dicts as records (a convenience for tests, benchmarks and examples) ---------------------

_SEX_CODE = {"U": "0", "M": "1", "F": "2"}
_HAC_CODE = {"exempt": "X", "not_exempt": "Z"}


def _date(v) -> str:
    if v in (None, ""):
        return " " * 10
    d = v if isinstance(v, _dt.date) else _dt.date.fromisoformat(str(v))
    return d.strftime("%m/%d/%Y")


def claims_records(claims, layout: Layout | None = None) -> tuple[bytes, list]:
    """Claim dicts (as ``Grouper.group`` takes them) as the records of CMS's
    batch layout (or ``layout``): lines of its width, ``\n`` after each; and
    the claims the layout cannot hold (more codes than it has fields, a code or
    id longer than its field, an age outside 0-999, a hospital status
    ``unknown`` or one the layout has no field for: none of these is written).
    A version is never written: the layouts have none.  Python per claim: not
    a fast path."""
    layout = layout or PC
    by = {f.name: f for f in layout.fields}
    out = []
    left = []
    for c in claims:
        rec = bytearray(b" " * layout.width)

        def put(start: int, text: str, width: int, right: bool = False) -> None:
            t = text.rjust(width, "0") if right else text.ljust(width)
            rec[start - 1:start - 1 + width] = t.encode("ascii")

        dxs = [c["pdx"]] + list(c.get("sdx") or [])
        pxs = [p["code"] if isinstance(p, dict) else p for p in c.get("procedures") or []]
        codes = [x["code"] if isinstance(x, dict) else x for x in dxs]
        poas = [(x.get("poa") or "") if isinstance(x, dict) else "" for x in dxs]
        hs = c.get("hospital_status")
        age = c.get("age")
        dx, px, poa = by["dx"], by.get("px"), by.get("poa")
        if (len(dxs) > dx.count or len(pxs) > (px.count if px else 0) or any(len(x) > dx.width for x in codes)
                or any(len(x) > 7 for x in pxs) or any(len(p) > 1 for p in poas)
                or (any(poas[:len(dxs)]) and (poa is None or len(dxs) > poa.count))
                or ("id" in by and len(str(c.get("id", ""))) > by["id"].width)
                or (hs is not None and (hs == "unknown" or "apply_hac_logic" not in by))
                or (age is not None and not 0 <= int(age) <= 999)
                or any(c.get(k) is not None and k not in by for k in ("admission_date", "discharge_date", "birth_date",
                                                                      "los", "admit_dx"))):
            left.append(c)
            continue

        def at(f: Field, k: int) -> int:
            return f.starts[k] if f.starts else f.start + k * f.step

        for name in ("id", "admit_dx"):
            if name in by and c.get(name):
                put(by[name].start, str(c[name]), by[name].width)
        for name in ("admission_date", "discharge_date", "birth_date"):
            if name in by:
                put(by[name].start, _date(c.get(name)), 10)
        put(by["discharge_status"].start, str(int(c["discharge_status"])), 2, right=True)
        if c.get("los") is not None:
            put(by["los"].start, str(int(c["los"])), 5, right=True)
        if age is not None:
            put(by["age"].start, str(int(age)), 3, right=True)
        put(by["sex"].start, _SEX_CODE[c["sex"]], 1)
        for k, (code, p) in enumerate(zip(codes, poas)):
            put(at(dx, k), code, dx.width)
            if poa is not None:
                put(at(poa, k), p, 1)
        for k, code in enumerate(pxs):
            put(at(px, k), code, 7)
        if hs:
            put(by["apply_hac_logic"].start, _HAC_CODE[hs], 1)
        out.append(bytes(rec) + b"\n")
    return b"".join(out), left
