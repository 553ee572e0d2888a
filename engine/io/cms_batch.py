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

#: the principal diagnosis is the first of the 25 diagnosis fields
_DX_NAMES = {"dx": ["pdx"] + [f"dx{k}" for k in range(2, 26)], "poa": ["pdx_poa"] + [f"poa{k}" for k in range(2, 26)]}
_SEX = {ord("0"): "U", ord("1"): "M", ord("2"): "F"}
_HAC = {ord("X"): "exempt", ord("Z"): "not_exempt"}
_DIGITS = {"age": "0-124, right-justified", "discharge_status": "the UB-04 code, 2 digits",
           "los": "days, right-justified"}


def _columns(version: bool) -> tabular.Columns:
    cols = tabular.Columns(derived_first=True, clean=True)
    for name in ("id", "admission_date", "discharge_date", "discharge_status", "los", "birth_date", "age",
                 "sex", "hospital_status", "admit_dx", "pdx", "pdx_poa"):
        cols.plain[name] = name
    if version:
        cols.plain["version"] = "version"
    cols.dx = {k: f"dx{k}" for k in range(2, 26)}
    cols.poa = {k: f"poa{k}" for k in range(2, 26)}
    cols.px = {k: f"px{k}" for k in range(1, 26)}
    return cols


def open_batch(path: str, grouper_version: str | None = None, hospital_status: str | None = None,
               block_bytes: int = BLOCK_BYTES) -> tabular.TableSource:
    """A file in CMS's batch layout opened for reading (gzip and a leading BOM
    are fine); ``grouper_version``: the version every record is grouped with
    (the layout has none; default: each record's discharge date picks it);
    ``hospital_status``: for records whose Apply-HAC-logic byte is blank
    (default: the grouper's).  TableError when the file cannot be opened."""
    try:
        with raw_stream(path) as f:
            f.read(1)
    except OSError as e:
        raise TableError(f"cannot read {path}: {e.strerror}") from None
    cols = _columns(grouper_version is not None)

    def batches():
        for recno, matrix, bad, high in _blocks(path, block_bytes):
            yield _wide(recno, matrix, bad, high, grouper_version, hospital_status)

    names = ["record"] + cols.names()
    src = tabular.TableSource(path, "cms-batch", names, cols, None, batches)
    src.hidden = ("birth_date",)  # read for the age, never echoed in wide results
    return src


# ---- records as a byte matrix ----------------------------------------------------------------

def _blocks(path: str, block_bytes: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
    """(record numbers, an n x 835 byte matrix, the records' lengths where not
    835 else 0, whether any byte is not ASCII) for each block of whole lines of
    the file; a blank line is no record (but counts in the numbering)."""
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
            yield numbers, _matrix(arr, starts, lens), np.where(lens == PC_RECORD, 0, lens), bool(arr.max() >= 128)
            if not chunk:
                return


def _matrix(arr: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The records as an n x 835 byte matrix: a view when every line is a
    record of the same stride, else copied (a record of the wrong length left
    blank: its error is its length)."""
    n = len(starts)
    if (lens == PC_RECORD).all() and n:
        stride = int(starts[1] - starts[0]) if n > 1 else PC_RECORD + 1
        if n == 1 or (np.diff(starts) == stride).all():
            return np.lib.stride_tricks.as_strided(arr[starts[0]:], (n, PC_RECORD), (stride, 1), writeable=False)
    out = np.full((n, PC_RECORD), 32, np.uint8)
    good = np.flatnonzero(lens == PC_RECORD)
    span = np.arange(PC_RECORD, dtype=np.int64)
    for lo in range(0, len(good), 4096):  # the gather index in parts (4096 x 835 x 8 bytes)
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


class _RowErrors:
    """The first unreadable field of each record."""

    def __init__(self, n: int):
        self.bad = np.zeros(n, np.bool_)
        self.field = np.empty(n, object)
        self.reason = np.empty(n, object)

    def add(self, mask: np.ndarray, field_: str, reason) -> None:
        new = mask & ~self.bad
        if new.any():
            self.bad |= new
            self.field[new] = field_
            if callable(reason):
                for i in np.flatnonzero(new).tolist():
                    self.reason[i] = reason(i)
            else:
                self.reason[new] = reason


def _wide(recno: np.ndarray, m: np.ndarray, wrong: np.ndarray, high: bool, version,
          hospital_status) -> pa.RecordBatch:
    """A block of records -> a wide batch (engine.io.tabular's columns, as text:
    trimmed, blank cells null), with :data:`tabular.ROW_ERROR` set on a record
    that does not read and :data:`tabular.RECORD` its number; ``high``: the
    block has bytes that are not ASCII (somewhere: a name may)."""
    n = len(recno)
    errors = _RowErrors(n)
    errors.add(wrong > 0, "record", lambda i: f"record {recno[i]}: {wrong[i]} bytes long; a record of "
                                              f"CMS's batch layout is {PC_RECORD}")
    cols: dict[str, pa.Array] = {"record": pa.array(recno, pa.int64()).cast(pa.string())}
    for f in PC_LAYOUT:
        a = f.start - 1
        # a repeated field: all its cells as one (count x n) x width matrix, field by field
        cells = m[:, a:a + f.count * f.step].reshape(n, f.count, f.step)[:, :, :f.width] if f.count > 1 \
            else m[:, a:a + f.width].reshape(n, 1, f.width)
        names = [f.name] if f.count == 1 else \
            [_DX_NAMES[f.name][k] if f.name in _DX_NAMES else f"{f.name}{k + 1}" for k in range(f.count)]
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
    cols[tabular.ROW_ERROR] = tabular.row_errors(errors.field, errors.reason, errors.bad)
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


def claims_records(claims) -> tuple[bytes, list]:
    """Claim dicts (as ``Grouper.group`` takes them) as the records of CMS's
    batch layout (lines of 835 bytes, ``\\n`` after each) and the claims that
    the layout cannot hold (more than 24 secondary diagnoses or 25 procedures,
    a code longer than the field, an id longer than 17, an age outside 0-999, a
    hospital status ``unknown``: it has no code here; a version is not written:
    the layout has none).  Python per claim: not a fast path."""
    out = []
    left = []
    for c in claims:
        rec = bytearray(b" " * PC_RECORD)

        def put(start: int, text: str, width: int, right: bool = False) -> None:
            t = text.rjust(width, "0") if right else text.ljust(width)
            rec[start - 1:start - 1 + width] = t.encode("ascii")

        dxs = [c["pdx"]] + list(c.get("sdx") or [])
        pxs = [p["code"] if isinstance(p, dict) else p for p in c.get("procedures") or []]
        codes = [x["code"] if isinstance(x, dict) else x for x in dxs]
        poas = [(x.get("poa") or "") if isinstance(x, dict) else "" for x in dxs]
        hs = c.get("hospital_status")
        age = c.get("age")
        if (len(dxs) > 25 or len(pxs) > 25 or any(len(x) > 7 for x in codes + pxs) or len(str(c.get("id", ""))) > 17
                or any(len(p) > 1 for p in poas) or hs == "unknown"
                or (age is not None and not 0 <= int(age) <= 999)):
            left.append(c)
            continue
        put(45, str(c.get("id", "")), 17)
        put(62, _date(c.get("admission_date")), 10)
        put(72, _date(c.get("discharge_date")), 10)
        put(82, str(int(c["discharge_status"])), 2, right=True)
        if c.get("los") is not None:
            put(86, str(int(c["los"])), 5, right=True)
        put(91, _date(c.get("birth_date")), 10)
        if age is not None:
            put(101, str(int(age)), 3, right=True)
        put(104, _SEX_CODE[c["sex"]], 1)
        if c.get("admit_dx"):
            put(105, c["admit_dx"], 7)
        for k, (code, poa) in enumerate(zip(codes, poas)):
            put(112 + 8 * k, code, 7)
            put(119 + 8 * k, poa, 1)
        for k, code in enumerate(pxs):
            put(312 + 7 * k, code, 7)
        if hs:
            put(737, _HAC_CODE[hs], 1)
        out.append(bytes(rec) + b"\n")
    return b"".join(out), left
