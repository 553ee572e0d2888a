"""Arrow in, Arrow out: ``Grouper.group_arrow`` and ``Grouper.group_frame``.

Why: payers and analytics teams hold claims as Arrow/Parquet/DataFrames.  Going
through a dict or a JSON line per claim is the slowest road the engine has;
here the columns' own buffers (string offsets and bytes, list offsets,
validity bitmaps) are read by compiled code straight into the kernel's batch
(:class:`engine.encode.Batch`), and the kernel's output columns become Arrow
arrays with numpy operations: no Python object per claim.

Reading, as the JSON reader (engine.parse) does it: the compiled code takes
the plain forms (known version labels, integer fields, the exact sex letters,
codes with or without a dot, any case, POA letters) and every row it cannot
take plainly -- a null where a value is required, a value out of range, a code
with spaces or non-ASCII characters, ... -- is cut out of the table, made into
a claim dict and sent through the Python encoder (engine.encode), which
normalises it or names the error.  So a row's answer, error message included,
is the one ``Grouper.group`` gives for the same claim, and a bad row never
spoils the rest.

Input columns (missing optional ones are absent or null): ``id`` (any type;
echoed as it is), ``version`` (``"43.1"`` or ``431``) or ``discharge_date``
(date, timestamp or ISO text), ``age``, ``sex``, ``discharge_status``,
``hospital_status``, ``pdx`` (a code string, then ``pdx_poa``, or
``struct<code, poa>``), ``admit_dx`` (string or struct), ``sdx``
(``list<string>`` or ``list<struct<code, poa>>``), ``procedures``
(``list<string>`` or ``list<struct<code>>``), ``los``.  Integer fields may be
any integer type, text of digits, or an integral float (how pandas holds an
integer column with gaps).

Output columns: see :func:`result_schema`.  Other modules add result columns
(weights, edits) by registering a provider in :data:`RESULT_COLUMNS`.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from .. import grouping as K
from .. import parse as P
from ..decode import (
    AFFECTS, CLAIM_SEVERITY, CODE_SEVERITY, HAC_STATUS, HAC_USAGE, MED_SURG, POA_ERROR, PROC_HAC,
)
from ..encode import (
    _SEX, ADMIT_ABSENT, HOSPITAL_STATUS, LOS_ABSENT, MAX_AGE, MAX_LOS, MIN_AGE, Batch, ClaimError, _int_field,
    date_days, encode_claims, parse_version, version_dates, version_for_date, version_start_days,
)
from ..pipeline import GrouperError
from ..tables import RETURN_CODES

#: Rows per batch handed to the kernel at most (a Table's chunks are cut to it).
ROWS = 65536

#: Extra result columns: name -> provider(grouper, batch, result, options) -> {column: pa.Array}.
#: A provider is used when its option is asked for (``edits=True`` uses "edits");
#: the payment and editing modules register theirs here.
RESULT_COLUMNS: dict[str, Callable] = {}



# ---- the compiled reader ------------------------------------------------------------------------

@njit(cache=True, nogil=True, _nrt=False)
def _read_codes(row_off, row_valid, null_row_bad, code_off, code_data, code_valid, poa_off, poa_data,
                poa_valid, has_poa, keys, ids, bits, fast, out_off, out_id, out_key, out_poa):
    """One code column (a code per row, or a list of them) from Arrow buffers.

    Row ``i``'s items are ``row_off[i]:row_off[i + 1]`` of the code (and POA)
    string arrays (``code_off`` into ``code_data``; ``*_valid`` per item).  A
    null row is an empty list, or (``null_row_bad``: the principal diagnosis)
    not read.  Writes each item's dense id (-1: unknown to the grouper), its
    code packed as :func:`engine.parse._code` packs it (its normal form, first
    character lowest) and its POA byte, in row order (``out_off``: CSR); a row
    with an item not in the plain form gets ``fast[i] = False`` (its items are
    written anyway: the caller replaces them)."""
    k = 0
    for i in range(len(row_valid)):
        out_off[i] = k
        if not row_valid[i]:
            if null_row_bad:
                fast[i] = False
            continue
        for j in range(row_off[i], row_off[i + 1]):
            key = np.uint64(0)
            poa = 32
            ok = code_valid[j] != 0
            if ok:
                n = 0
                at_only = True
                for r in range(code_off[j], code_off[j + 1]):
                    c = code_data[r]
                    if c == 46:  # '.'
                        continue
                    if 97 <= c <= 122:
                        c -= 32
                    if not ((48 <= c <= 57) or (65 <= c <= 90) or c == 64) or n == 8:
                        ok = False
                        break
                    if c != 64:
                        at_only = False
                    key |= np.uint64(c) << np.uint64(8 * n)
                    n += 1
                if n == 0 or at_only:
                    ok = False
            if ok and has_poa and poa_valid[j]:
                m = poa_off[j + 1] - poa_off[j]
                if m == 1:
                    c = poa_data[poa_off[j]]
                    if 97 <= c <= 122:
                        c -= 32
                    if c == 32 or c == 89 or c == 78 or c == 85 or c == 87 or c == 49:
                        poa = c
                    else:
                        ok = False
                elif m != 0:
                    ok = False
            if not ok:
                fast[i] = False
            out_key[k] = np.int64(key)
            out_id[k] = 0 if ok else -1  # 0: to look up below
            out_poa[k] = poa
            k += 1
    out_off[len(row_valid)] = k
    # The look-ups, in a loop of their own with the slots 8 codes ahead
    # prefetched: each is a likely cache miss in a table of megabytes, and
    # asked for early they overlap (inline amid the parsing, this reader
    # spent most of its time waiting for them).
    shift = np.uint64(64) - bits
    for j in range(k):
        if j + 8 < k and out_id[j + 8] == 0:
            h = (np.uint64(out_key[j + 8]) * P._HASH_MUL) >> shift
            K._prefetch(keys, (h,))
            K._prefetch(ids, (h,))
        if out_id[j] == 0:
            out_id[j] = P._lookup(keys, ids, bits, np.uint64(out_key[j]))


# ---- Arrow buffers as numpy ---------------------------------------------------------------------

_EMPTY_U8 = np.zeros(0, np.uint8)


def _valid(arr: pa.Array) -> np.ndarray:
    """Validity per element as uint8 (1: a value)."""
    n = len(arr)
    if arr.null_count == 0:
        return np.ones(n, np.uint8)
    if arr.null_count == n:
        return np.zeros(n, np.uint8)
    # only the bytes of this array's rows: a slice of a large table shares its bitmap
    lo = arr.offset
    raw = np.frombuffer(arr.buffers()[0], np.uint8)[lo >> 3:(lo + n + 7) >> 3]
    bits = np.unpackbits(raw, bitorder="little")
    return np.ascontiguousarray(bits[lo & 7:(lo & 7) + n])


def _plain(arr: pa.Array) -> pa.Array:
    """A dictionary or string-view array as its plain form."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if hasattr(pa.types, "is_string_view") and (pa.types.is_string_view(arr.type)
                                                or pa.types.is_binary_view(arr.type)):
        arr = arr.cast(pa.large_string())
    return arr


def _strings(arr: pa.Array):
    """(offsets int64[n + 1], bytes uint8, valid uint8[n]) of a string array."""
    arr = _plain(arr)
    n = len(arr)
    t = arr.type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)):
        raise TypeError(f"a string column expected, got {t}")
    bufs = arr.buffers()
    width = np.int64 if (pa.types.is_large_string(t) or pa.types.is_large_binary(t)) else np.int32
    off = np.frombuffer(bufs[1], width)[arr.offset:arr.offset + n + 1] if bufs[1] is not None else np.zeros(n + 1, width)
    off = off.astype(np.int64) if len(off) == n + 1 else np.zeros(n + 1, np.int64)
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None and bufs[2].size else _EMPTY_U8
    return off, data, _valid(arr)


def _list_offsets(arr: pa.Array) -> np.ndarray:
    n = len(arr)
    width = np.int64 if pa.types.is_large_list(arr.type) else np.int32
    return np.frombuffer(arr.buffers()[1], width)[arr.offset:arr.offset + n + 1].astype(np.int64)


class _Unplain(Exception):
    """A column of a type the compiled reader does not take: every row goes the full way."""


def _code_column(col: pa.Array | None, poa_col: pa.Array | None, is_list: bool, want_poa: bool, n: int):
    """The arguments of :func:`_read_codes` for one code column (None: absent)."""
    if col is None:
        return None
    col = _plain(col)
    t = col.type
    if is_list:
        if not (pa.types.is_list(t) or pa.types.is_large_list(t)):
            raise _Unplain
        row_off = _list_offsets(col)
        row_valid = _valid(col)
        # the rows' own items: ``values`` of a sliced list is its parent's whole child
        # array (a part of a 1,000,000-row table would read all of it, part after part)
        items = col.values.slice(int(row_off[0]), int(row_off[-1] - row_off[0]))
        row_off = row_off - row_off[0]
    else:
        row_off = np.arange(n + 1, dtype=np.int64)
        row_valid = _valid(col)
        items = col
    items = _plain(items)
    poa = None
    if pa.types.is_struct(items.type):
        names = [items.type.field(k).name for k in range(items.type.num_fields)]
        if "code" not in names:
            raise _Unplain
        fields = dict(zip(names, items.flatten()))
        code = fields["code"]
        if want_poa and "poa" in fields:
            poa = fields["poa"]
        if not is_list:
            row_valid = row_valid & _valid(code)
    else:
        code = items
        poa = poa_col if (want_poa and not is_list) else None
    if not (pa.types.is_string(_plain(code).type) or pa.types.is_large_string(_plain(code).type)):
        raise _Unplain
    c_off, c_data, c_valid = _strings(code)
    if poa is not None:
        if not (pa.types.is_string(_plain(poa).type) or pa.types.is_large_string(_plain(poa).type)):
            raise _Unplain
        p_off, p_data, p_valid = _strings(poa)
    else:
        p_off, p_data, p_valid = np.zeros(1, np.int64), _EMPTY_U8, np.zeros(1, np.uint8)
    return row_off, row_valid, c_off, c_data, c_valid, p_off, p_data, p_valid, poa is not None


def _read(args, null_row_bad: bool, table, fast: np.ndarray, n: int):
    """:func:`_read_codes` over a column (or an empty column for None)."""
    if args is None:
        z = np.zeros(n + 1, np.int64)
        return z, np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.uint8)
    row_off, row_valid, c_off, c_data, c_valid, p_off, p_data, p_valid, has_poa = args
    total = int(np.sum((row_off[1:] - row_off[:-1])[row_valid != 0])) if n else 0
    out_off = np.zeros(n + 1, np.int64)
    out_id = np.empty(total, np.int32)
    out_key = np.empty(total, np.int64)
    out_poa = np.empty(total, np.uint8)
    keys, ids, bits = table
    _read_codes(row_off, row_valid, null_row_bad, c_off, c_data, c_valid, p_off, p_data, p_valid, has_poa,
                keys, ids, bits, fast, out_off, out_id, out_key, out_poa)
    return out_off, out_id, out_key, out_poa


# ---- scalar columns -----------------------------------------------------------------------------

def _by_value(col: pa.Array, fn, dtype, fast: np.ndarray) -> np.ndarray:
    """``fn(value)`` for each row through the column's distinct values (a few:
    versions, letters, status codes), not per row; a row whose value ``fn``
    rejects (None) or that is null is not fast."""
    col = _plain(col)
    enc = col.dictionary_encode() if not pa.types.is_dictionary(col.type) else col
    values = enc.dictionary.to_pylist()
    mapped = [fn(v) for v in values]
    table = np.array([0 if m is None else m for m in mapped] + [0], dtype)
    good = np.array([m is not None for m in mapped] + [False], np.bool_)
    idx = enc.indices.fill_null(len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
    fast &= good[idx]
    return table[idx]


def _int_value(lo: int, hi: int):
    """A value as the Python encoder reads an integer field (engine.encode._int_field:
    a whole number, its digit text, an integral float), None where it does not."""
    def fn(v):
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return None
        try:
            return _int_field(v, "", lo, hi)
        except ClaimError:
            return None
    return fn


def _ints(col: pa.Array, lo: int, hi: int, dtype, fast: np.ndarray) -> np.ndarray:
    """An integer field: integers in range (vectorised), else through its values."""
    col = _plain(col)
    if pa.types.is_integer(col.type):
        valid = _valid(col) != 0
        if pa.types.is_unsigned_integer(col.type):  # above 2**63 would wrap in int64
            u = col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.uint64)
            big = u > np.uint64(hi)
            v = np.where(big, 0, u).astype(np.int64)
            fast &= valid & ~big & (v >= lo)
        else:
            v = col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            fast &= valid & (v >= lo) & (v <= hi)
        return np.clip(v, lo, hi).astype(dtype)
    return _by_value(col, _int_value(lo, hi), dtype, fast)


def _dstats(col: pa.Array, fast: np.ndarray) -> np.ndarray:
    """Discharge statuses as encode_claims reads them: any whole number a Java
    int holds; one outside 0-99 (no UB-04 code) is -1, which CMS groups as an
    invalid discharge status."""
    v = _ints(col, MIN_AGE, MAX_AGE, np.int64, fast)
    return np.where((v >= 0) & (v <= 99), v, -1).astype(np.int16)


def _version_of(versions):
    def fn(v):
        try:
            return versions.index(parse_version(v, versions))
        except ClaimError:
            return None
    return fn


def _date_version(versions):
    def fn(v):
        try:
            return versions.index(version_for_date(v, versions))
        except ClaimError:
            return None
    return fn


def _versions(cols: dict, fast: np.ndarray, n: int, versions: tuple) -> np.ndarray:
    """Each row's index into ``versions`` (the Grouper's ``version_numbers``: the
    loaded tables' versions, imported ones included)."""
    ver = np.zeros(n, np.int8)
    have = np.zeros(n, np.bool_)
    vcol = cols.get("version")
    if vcol is not None:
        ok = np.ones(n, np.bool_)
        ver = _by_value(vcol, _version_of(versions), np.int8, ok)
        have = _valid(_plain(vcol)) != 0
        fast &= ok | ~have
    dcol = cols.get("discharge_date")
    if dcol is not None:
        dcol = _plain(dcol)
        if pa.types.is_timestamp(dcol.type):
            dcol = dcol.cast(pa.date32())
        ok = np.ones(n, np.bool_)
        if pa.types.is_date32(dcol.type) or pa.types.is_date64(dcol.type):
            days = dcol.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
            dv = np.full(n, -1, np.int64)
            epoch = _dt.date(1970, 1, 1)
            for k, v in enumerate(versions):
                lo, hi = ((d - epoch).days for d in version_dates(v))
                dv[(days >= lo) & (days <= hi)] = k
            ok = dv >= 0
            dver = np.maximum(dv, 0).astype(np.int8)
        else:
            dver = _by_value(dcol, _date_version(versions), np.int8, ok)
        use = ~have & (_valid(dcol) != 0)
        ver = np.where(use, dver, ver)
        fast &= ok | ~use
        have |= use
    fast &= have
    return ver


def _day_of(v):
    try:
        return date_days(v, "discharge_date")
    except ClaimError:
        return None


def _dates(col: pa.Array, fast: np.ndarray, n: int):
    """A date column as days since 1970-01-01 and where it is given; a row whose
    date does not read is not fast."""
    col = _plain(col)
    given = _valid(col) != 0
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.date32())
    if pa.types.is_date32(col.type) or pa.types.is_date64(col.type):
        days = col.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        return days, given
    ok = np.ones(n, np.bool_)
    days = _by_value(col, _day_of, np.int64, ok)
    fast &= ok | ~given
    return days, given


def _scalars(cols: dict, fast: np.ndarray, n: int, default_h: int, versions: tuple) -> dict:
    out = {"ver": _versions(cols, fast, n, versions)}
    # age: any whole number (a Java int's range), as encode_claims takes it
    for name, read, dtype in (("age", lambda c: _ints(c, MIN_AGE, MAX_AGE, np.int32, fast), np.int32),
                              ("discharge_status", lambda c: _dstats(c, fast), np.int16)):
        col = cols.get(name)
        if col is None:
            fast[:] = False
            out[name] = np.zeros(n, dtype)
        else:
            out[name] = read(col)
    # the MCE's dates (engine.encode.claim_dates): los as given, else LOS_ABSENT; the
    # discharge date as days (checked even when a version is given); a row with an
    # admission_date goes the full way (the encoder derives its length of stay)
    col = cols.get("admission_date")
    if col is not None:
        fast &= _valid(_plain(col)) == 0
    col = cols.get("los")
    los = np.full(n, LOS_ABSENT, np.int32)
    if col is not None:
        given = _valid(_plain(col)) != 0
        ok = np.ones(n, np.bool_)
        v = _ints(col, 0, MAX_LOS, np.int32, ok)
        los = np.where(given, v, LOS_ABSENT).astype(np.int32)
        fast &= ok | ~given
    out["los"] = los
    starts = np.array([version_start_days(v) for v in versions], np.int32)
    edit = starts[out["ver"].astype(np.int64)]
    col = cols.get("discharge_date")
    if col is not None:
        days, given = _dates(col, fast, n)
        edit = np.where(given, days, edit).astype(np.int32)
    out["edit_date"] = edit.astype(np.int32)
    col = cols.get("sex")
    if col is None:
        fast[:] = False
        out["sex"] = np.zeros(n, np.int8)
    elif pa.types.is_integer(_plain(col).type):
        out["sex"] = _ints(col, 0, 2, np.int8, fast)
    else:
        out["sex"] = _by_value(col, lambda v: _SEX.get(v.strip().upper()) if isinstance(v, str) else None,
                               np.int8, fast)
    col = cols.get("hospital_status")
    if col is None:
        out["hosp"] = np.full(n, default_h, np.int8)
    else:
        ok = np.ones(n, np.bool_)
        h = _by_value(col, lambda v: HOSPITAL_STATUS.get(v.strip().lower()) if isinstance(v, str) else None,
                      np.int8, ok)
        null = _valid(_plain(col)) == 0
        out["hosp"] = np.where(null, default_h, h).astype(np.int8)
        fast &= ok | null
    return out


# ---- the full way for the rows the reader does not take -----------------------------------------

_CLAIM_COLUMNS = ("version", "discharge_date", "admission_date", "age", "sex", "discharge_status",
                  "hospital_status", "pdx", "pdx_poa", "admit_dx", "sdx", "procedures", "los")


def _claim_dicts(rb: pa.RecordBatch, rows: np.ndarray) -> list[dict]:
    """The claim dicts of ``rows``, as ``Grouper.group`` would be given them."""
    names = [c for c in _CLAIM_COLUMNS if c in rb.schema.names]
    sub = pa.Table.from_batches([rb.select(names)]).take(pa.array(rows, pa.int64()))
    claims = []
    for row in sub.to_pylist():
        poa = row.pop("pdx_poa", None)
        if poa is not None and isinstance(row.get("pdx"), str):
            row["pdx"] = {"code": row["pdx"], "poa": poa}
        claim = {}
        for key, value in row.items():
            if value is None:
                continue  # a null is a missing field
            if key in ("age", "discharge_status", "los") and isinstance(value, float) \
                    and math.isfinite(value) and value == int(value):
                value = int(value)
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if v is not None or k == "code"}
            elif isinstance(value, list):
                value = [{k: v for k, v in x.items() if v is not None or k == "code"} if isinstance(x, dict) else x
                         for x in value]
            claim[key] = value
        claims.append(claim)
    return claims


def _pack_texts(texts: list[str]) -> tuple[np.ndarray, bool]:
    """Codes (normal form) packed as the reader packs them; False when one is not
    ASCII of at most 8 characters (then the caller keeps the texts)."""
    if not texts:
        return np.zeros(0, np.int64), True
    try:
        return np.array(texts, dtype="S8").view("<i8").copy(), True
    except (UnicodeEncodeError, ValueError):
        return np.zeros(len(texts), np.int64), False


def _merge_csr(off_a, arrays_a, rows, off_b, arrays_b, keep_a):
    """Rows ``rows`` of a CSR (``off_a`` + ``arrays_a``) replaced by the rows of
    another (``off_b`` + ``arrays_b``, in the order of ``rows``)."""
    n = len(off_a) - 1
    len_a = off_a[1:] - off_a[:-1]
    lens = np.where(keep_a, len_a, 0)
    lens[rows] = off_b[1:] - off_b[:-1]
    off = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=off[1:])
    row_a = np.repeat(np.arange(n), len_a)
    within_a = np.arange(len(row_a)) - np.repeat(off_a[:-1], len_a)
    sel = keep_a[row_a]
    pos_a = off[row_a[sel]] + within_a[sel]
    len_b = off_b[1:] - off_b[:-1]
    row_b = np.repeat(rows, len_b)
    within_b = np.arange(len(row_b)) - np.repeat(off_b[:-1], len_b)
    pos_b = off[row_b] + within_b
    out = []
    for a, b in zip(arrays_a, arrays_b):
        m = np.empty(off[-1], a.dtype)
        m[pos_a] = a[sel]
        m[pos_b] = b
        out.append(m)
    return off, out


# ---- one record batch -----------------------------------------------------------------------

class ArrowBatch:
    """The kernel's :class:`Batch` for a record batch, with what the output needs
    beyond it: each code's normal form packed (``*_key``), and the texts of the
    few codes that do not pack (``texts``: (kind, position) -> text)."""

    def __init__(self, batch: Batch, keys: dict, texts: dict, extra: dict):
        self.batch = batch
        self.keys = keys
        self.texts = texts
        self.extra = extra


def read_batch(grouper, rb: pa.RecordBatch) -> ArrowBatch:
    """A record batch of claims -> the kernel's batch (see the module doc)."""
    n = rb.num_rows
    cols = {name: rb.column(k) for k, name in enumerate(rb.schema.names)}
    fast = np.ones(n, np.bool_)
    default_h = HOSPITAL_STATUS[grouper.default_hospital_status]
    dx_t, pr_t = grouper.pipeline.code_tables
    try:
        sc = _scalars(cols, fast, n, default_h, grouper.version_numbers)
        pdx_args = _code_column(cols.get("pdx"), cols.get("pdx_poa"), False, True, n)
        if pdx_args is None:
            fast[:] = False
        pdx = _read(pdx_args, True, dx_t, fast, n)
        admit = _read(_code_column(cols.get("admit_dx"), None, False, True, n), False, dx_t, fast, n)
        sdx = _read(_code_column(cols.get("sdx"), None, True, True, n), False, dx_t, fast, n)
        px = _read(_code_column(cols.get("procedures"), None, True, False, n), False, pr_t, fast, n)
    except _Unplain:
        fast[:] = False
        sc = {"ver": np.zeros(n, np.int8), "age": np.zeros(n, np.int32), "discharge_status": np.zeros(n, np.int16),
              "los": np.zeros(n, np.int32), "sex": np.zeros(n, np.int8), "hosp": np.zeros(n, np.int8),
              "edit_date": np.zeros(n, np.int32)}
        pdx = admit = sdx = px = _read(None, False, dx_t, fast, n)
    # the principal dx: one per fast row (a null one made the row not fast)
    pdx_id = np.full(n, -1, np.int32)
    pdx_key = np.zeros(n, np.int64)
    pdx_poa = np.full(n, 32, np.uint8)
    one = (pdx[0][1:] - pdx[0][:-1]) == 1
    pdx_id[one] = pdx[1][pdx[0][:-1][one]]
    pdx_key[one] = pdx[2][pdx[0][:-1][one]]
    pdx_poa[one] = pdx[3][pdx[0][:-1][one]]
    admit_id = np.full(n, ADMIT_ABSENT, np.int32)
    has_admit = (admit[0][1:] - admit[0][:-1]) == 1
    admit_id[has_admit] = admit[1][admit[0][:-1][has_admit]]
    admit_text = [None] * n
    given = np.flatnonzero(has_admit & fast)  # its normal form, as the encoder keeps it
    if len(given):
        keys = admit[2][admit[0][:-1][given]]
        for r, t in zip(given.tolist(), _code_texts(keys, {}, "").to_pylist()):
            admit_text[r] = t

    errors = [None] * n
    texts = {}
    ok = fast.copy()
    sdx_off, (sdx_id, sdx_key, sdx_poa) = sdx[0], sdx[1:]
    px_off, (px_id, px_key) = px[0], (px[1], px[2])
    rows = np.flatnonzero(~fast)
    if len(rows):
        claims = _claim_dicts(rb, rows)
        t = grouper.tables
        b = encode_claims(claims, t.dx_index, t.pr_index, grouper.default_hospital_status,
                          grouper.version_numbers)
        ok[rows] = b.ok
        sc["ver"][rows] = b.ver
        sc["sex"][rows] = b.sex
        sc["discharge_status"][rows] = b.dstat
        sc["hosp"][rows] = b.hosp
        sc["age"][rows] = b.age
        sc["los"][rows] = b.los
        sc["edit_date"][rows] = b.edit_date
        admit_id[rows] = b.admit_dx
        for r, t in zip(rows.tolist(), b.admit_text):
            admit_text[r] = t
        pdx_id[rows] = b.pdx
        pdx_poa[rows] = b.pdx_poa
        good = b.ok
        pk, plain = _pack_texts([x if x is not None else "" for x in b.pdx_text])
        pdx_key[rows] = pk
        if not plain:
            texts.update((("pdx", int(r)), x) for r, x in zip(rows, b.pdx_text))
        for k, (r, c) in enumerate(zip(rows.tolist(), claims)):
            if not good[k]:
                errors[r] = b.errors[k]
        s_texts = [x for lst in b.sdx_text for x in lst]
        p_texts = [x for lst in b.px_text for x in lst]
        s_key, s_plain = _pack_texts(s_texts)
        p_key, p_plain = _pack_texts(p_texts)
        keep = fast
        new_sdx_off, (sdx_id, sdx_key, sdx_poa) = _merge_csr(sdx_off, (sdx_id, sdx_key, sdx_poa), rows, b.sdx_off,
                                                              (b.sdx, s_key, b.sdx_poa), keep)
        new_px_off, (px_id, px_key) = _merge_csr(px_off, (px_id, px_key), rows, b.px_off, (b.px, p_key), keep)
        if not s_plain:
            pos = np.concatenate([np.arange(new_sdx_off[r], new_sdx_off[r + 1]) for r in rows]).tolist()
            texts.update((("sdx", p), x) for p, x in zip(pos, s_texts))
        if not p_plain:
            pos = np.concatenate([np.arange(new_px_off[r], new_px_off[r + 1]) for r in rows]).tolist()
            texts.update((("px", p), x) for p, x in zip(pos, p_texts))
        sdx_off, px_off = new_sdx_off, new_px_off
    ecode = np.isin(pdx_key & 0xFF, np.array([86, 87, 88, 89], np.int64))
    if len(rows):
        ecode[rows] = b.pdx_ecode
    batch = Batch(
        ok=ok, ver=sc["ver"], sex=sc["sex"], dstat=sc["discharge_status"], hosp=sc["hosp"], pdx=pdx_id,
        pdx_ecode=ecode, pdx_poa=pdx_poa, sdx_off=sdx_off, sdx=sdx_id, sdx_poa=sdx_poa, px_off=px_off, px=px_id,
        ids=[None] * n, errors=errors, pdx_text=None, sdx_text=None, px_text=None,
        age=sc["age"], los=sc["los"], edit_date=sc["edit_date"], admit_dx=admit_id, admit_text=admit_text,
    )
    extra = {}
    return ArrowBatch(batch, {"pdx": pdx_key, "sdx": sdx_key, "px": px_key}, texts, extra)


# ---- output -------------------------------------------------------------------------------------

class _Titles:
    """The DRG and MDC titles of every version, each once, with a table
    (version, code) -> index (built once per Grouper)."""

    def __init__(self, meta: dict, versions: tuple):
        names: dict[str, int] = {"": 0}
        self.drg = np.zeros((len(versions), 1000), np.int32)
        self.mdc = np.zeros((len(versions), 100), np.int32)
        for table, index, width in ((meta["drg_descriptions"], self.drg, 1000),
                                    (meta["mdc_descriptions"], self.mdc, 100)):
            for key, text in table.items():
                v, code = (int(x) for x in key.split(":"))
                if v in versions and 0 <= code < width:
                    index[versions.index(v), code] = names.setdefault(text, len(names))
        self.names = pa.array(list(names), pa.string())


def _titles(grouper) -> _Titles:
    t = grouper.__dict__.get("_arrow_titles")
    if t is None:
        t = grouper.__dict__["_arrow_titles"] = _Titles(grouper.tables.meta, grouper.version_numbers)
    return t


_DRG_TEXT = pa.array([f"{d:03d}" for d in range(1000)], pa.string())
_MDC_TEXT = pa.array([f"{m:02d}" for m in range(100)], pa.string())


def _dict(indices: np.ndarray, names, mask: np.ndarray | None, plain: bool = False) -> pa.Array:
    """Indices into ``names`` as a dictionary array (``plain``: as strings)."""
    dictionary = names if isinstance(names, pa.Array) else pa.array(list(names), pa.string())
    arr = pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32), pa.int32(),
                                                  mask=mask), dictionary)
    return arr.cast(pa.string()) if plain else arr


def _code_texts(keys: np.ndarray, texts: dict, kind: str) -> pa.Array:
    """Packed codes as a string array (the few codes that do not pack from ``texts``)."""
    raw = np.ascontiguousarray(keys, np.int64).view(np.uint8).reshape(-1, 8)
    nz = raw != 0
    lengths = nz.sum(axis=1)
    off = np.zeros(len(keys) + 1, np.int32)
    np.cumsum(lengths, out=off[1:])
    data = raw[nz]
    arr = pa.StringArray.from_buffers(len(keys), pa.py_buffer(off), pa.py_buffer(data.tobytes()))
    mine = {p: x for (k, p), x in texts.items() if k == kind}
    if mine:
        values = arr.to_pylist()
        for p, x in mine.items():
            values[p] = x
        arr = pa.array(values, pa.string())
    return arr


#: a POA byte's text, as group() echoes it (engine.decode): any printable character; blank: null
_POA_CHARS = [chr(c) if 33 <= c <= 126 else "" for c in range(256)]


def _poa_text(poa: np.ndarray) -> pa.Array:
    p = poa.astype(np.int32)
    return _dict(p, _POA_CHARS, (p < 33) | (p > 126), plain=True)


def _list(off: np.ndarray, values: pa.Array, mask: np.ndarray | None = None) -> pa.Array:
    offsets = pa.array(off.astype(np.int32), pa.int32())
    return pa.ListArray.from_arrays(offsets, values, mask=pa.array(mask) if mask is not None and mask.any() else None)


def _struct(arrays: dict, mask: np.ndarray | None = None, always: bool = False) -> pa.Array:
    return pa.StructArray.from_arrays(list(arrays.values()), names=list(arrays),
                                      mask=pa.array(mask) if mask is not None and (always or mask.any()) else None)


_HAC_ITEM = pa.struct([("number", pa.int16()), ("status", pa.string())])


def _detail(ab: ArrowBatch, out: K.KernelOut, bad: np.ndarray) -> dict:
    b = ab.batch
    n = len(b)
    ns, npx = len(b.sdx), len(b.px)
    # the principal dx
    sev0 = np.zeros(n, np.int32)
    # the principal dx of HAC 11 is listed NOT_ON_HAC_LIST, as CMS (and engine.decode) give it
    hac11 = out.pdx_hac11.astype(bool)
    hacs = pa.array([{"number": 11, "status": "NOT_ON_HAC_LIST"}], _HAC_ITEM)
    h_off = np.zeros(n + 1, np.int64)
    np.cumsum(hac11, out=h_off[1:])
    pdx = _struct({
        "code": _code_texts(ab.keys["pdx"], ab.texts, "pdx"),
        "poa": _poa_text(b.pdx_poa),
        "affects_drg": _dict(out.pdx_aff.astype(np.int32), AFFECTS, None, plain=True),
        "severity_usage": _struct({"initial": _dict(sev0, CODE_SEVERITY, None, plain=True),
                                   "final": _dict(sev0, CODE_SEVERITY, None, plain=True)}),
        "poa_error": _dict(sev0, POA_ERROR, None, plain=True),
        "hacs": _list(h_off, hacs.take(pa.array(np.zeros(int(h_off[-1]), np.int32)))),
    }, bad)
    # secondary dx: hacs are each row's entries before the first -1 status
    st = out.sdx_hac_status
    valid = st >= 0
    valid &= np.cumprod(valid, axis=1).astype(bool)
    h_off = np.zeros(ns + 1, np.int64)
    np.cumsum(valid.sum(axis=1), out=h_off[1:])
    hac_vals = _struct({"number": pa.array(out.sdx_hac_num[valid].astype(np.int16), pa.int16()),
                        "status": _dict(st[valid].astype(np.int32), HAC_USAGE, None, plain=True)})
    sdx_items = _struct({
        "code": _code_texts(ab.keys["sdx"], ab.texts, "sdx"),
        "poa": _poa_text(b.sdx_poa),
        "affects_drg": _dict(out.sdx_aff.astype(np.int32), AFFECTS, None, plain=True),
        "severity_usage": _struct({"initial": _dict(out.sdx_use_init.astype(np.int32), CODE_SEVERITY, None, True),
                                   "final": _dict(out.sdx_use_final.astype(np.int32), CODE_SEVERITY, None, True)}),
        "poa_error": _dict(out.sdx_poa_err.astype(np.int32), POA_ERROR, None, plain=True),
        "hacs": _list(h_off, hac_vals),
    })
    # procedures: hac_usage names in PROC_HAC order
    bits = np.array([bit for bit, _ in PROC_HAC], np.uint8)
    has = (out.px_hac[:, None] & bits[None, :]) != 0
    u_off = np.zeros(npx + 1, np.int64)
    np.cumsum(has.sum(axis=1), out=u_off[1:])
    which = np.broadcast_to(np.arange(len(PROC_HAC), dtype=np.int32), has.shape)[has]
    px_items = _struct({
        "code": _code_texts(ab.keys["px"], ab.texts, "px"),
        "affects_drg": _dict(out.px_aff.astype(np.int32), AFFECTS, None, plain=True),
        "is_or": pa.array(out.px_is_or.astype(bool), pa.bool_()),
        "hac_usage": _list(u_off, _dict(which, [name for _, name in PROC_HAC], None, plain=True)),
    })
    return {"pdx": pdx, "sdx": _list(b.sdx_off, sdx_items, bad), "procedures": _list(b.px_off, px_items, bad)}


_ERROR = pa.struct([("field", pa.string()), ("reason", pa.string())])
_ESTIMATE = pa.struct([("amount", pa.float64()), ("base_rate", pa.float64()), ("note", pa.string())])
#: the payment columns (engine.payment), after ``error``: as group()'s result fields
_WEIGHT_FIELDS = [
    ("fiscal_year", pa.int32()), ("weights_missing", pa.string()), ("weight", pa.float64()),
    ("weight_uncapped", pa.float64()), ("gmlos", pa.float64()), ("amlos", pa.float64()),
    ("post_acute", pa.bool_()), ("special_pay", pa.bool_()), ("initial_weight", pa.float64()),
    ("transfer", None), ("adjusted_weight", pa.float64()), ("payment_estimate", _ESTIMATE),
]
_EDITS_MAP = pa.map_(pa.string(), pa.int32())
#: the code editor's columns (engine.editing), after the weights, with ``edits=True``
_EDIT_FIELDS = [("edit_type", None), ("edits", _EDITS_MAP), ("edit_date", pa.date32()),
                ("not_checked", pa.list_(pa.string())), ("edit_error", _ERROR)]


def _weight_columns(grouper, b: Batch, out, cents) -> dict:
    """group()'s payment fields as columns, from the pricing pass
    (``grouper.payment.columns``) and Table 5's arrays: numpy over the batch, no
    Python per row.  Numbers are float64: Table 5's ten-thousandths (and the
    estimate's cents) divided once, the same float group()'s JSON carries; null
    where group() has null (and on a rejected row)."""
    from ..payment.table5 import SCALE
    from ..payment.weights import ESTIMATE_NOTE, TRANSFER, _FLAG_POST, _FLAG_SPECIAL

    pt = grouper.payment
    pay = pt.columns(b, out, cents)
    n = len(b)
    bad = ~b.ok
    vi = b.ver.astype(np.int64)
    loaded = pt.loaded[vi]
    fy = np.array(pt.fiscal_years, np.int32)[vi] if n else np.zeros(0, np.int32)
    cols = {"fiscal_year": pa.array(fy, pa.int32(), mask=bad)}
    missing = [f"Table 5 FY{y} is not loaded" for y in pt.fiscal_years]
    cols["weights_missing"] = _dict(vi, missing, bad | loaded, plain=True)

    def at(drg):
        d = drg.astype(np.int64)
        inside = (d >= 0) & (d < 1000)
        dc = np.clip(d, 0, 999)
        has = ~bad & loaded & inside & (pt.weight[vi, dc] > 0)
        return dc, has

    def num(table, dc, has):
        return pa.array(table[vi, dc].astype(np.float64) / SCALE, pa.float64(), mask=~has)

    dc, has = at(out.final_drg)
    cols["weight"] = num(pt.weight, dc, has)
    cols["weight_uncapped"] = num(pt.weight_uncapped, dc, has)
    cols["gmlos"] = num(pt.gmlos, dc, has)
    cols["amlos"] = num(pt.amlos, dc, has)
    flags = pt.flags[vi, dc]
    cols["post_acute"] = pa.array((flags & _FLAG_POST) != 0, pa.bool_(), mask=~has)
    cols["special_pay"] = pa.array((flags & _FLAG_SPECIAL) != 0, pa.bool_(), mask=~has)
    idc, ihas = at(out.init_drg)
    cols["initial_weight"] = num(pt.weight, idc, ihas)
    tr = pay.transfer.astype(np.int64)
    cols["transfer"] = _dict(np.minimum(tr, 2), TRANSFER, bad | (tr > 2))
    cols["adjusted_weight"] = pa.array(pay.adjusted.astype(np.float64) / SCALE, pa.float64(),
                                       mask=bad | (pay.adjusted < 0))
    no_pay = bad | (pay.payment < 0)
    cols["payment_estimate"] = _struct({
        "amount": pa.array(pay.payment.astype(np.float64) / 100, pa.float64()),
        "base_rate": pa.array(np.full(n, pay.base_cents / 100, np.float64), pa.float64()),
        "note": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)),
                                               pa.array([ESTIMATE_NOTE])).cast(pa.string()),
    }, no_pay, always=True)
    return cols, pay


def _code_text_of(ab: "ArrowBatch", kind: str, pos: int) -> str:
    """One code's normal form (the editor's duplicate check of an unknown pdx)."""
    t = ab.texts.get((kind, pos))
    if t is not None:
        return t
    return int(ab.keys[kind][pos]).to_bytes(8, "little").rstrip(b"\0").decode("ascii", "replace")


def _edit_columns(grouper, ab: "ArrowBatch") -> tuple[dict, object, np.ndarray]:
    """The code editor (``grouper.editor.run``) over the batch, as columns: its
    ``edit_type``, ``edits`` (map name -> count, in CMS's alphabetical order, as
    group(edits=True)'s dict), ``edit_date``, ``not_checked`` and, for a row
    edited as of a date outside the editor's range, ``edit_error``.  Returns the
    columns, the editor's output and which rows were edited."""
    from ..editing import EDIT_NAMES, EDIT_TYPES, LOS_NOT_CHECKED

    ed = grouper.editor
    b = ab.batch
    n = len(b)
    so = b.sdx_off

    def texts(i):
        return (_code_text_of(ab, "pdx", i), [_code_text_of(ab, "sdx", j) for j in range(int(so[i]), int(so[i + 1]))])

    eout = ed.run(b, texts=texts)
    inr = ed.in_range(b)
    edited = b.ok & inr
    off_rows = np.flatnonzero(b.ok & ~inr).tolist()
    cols = {"edit_type": _dict(eout.edit_type.astype(np.int64), EDIT_TYPES, ~edited)}
    counts = eout.counts
    fired = counts > 0
    fired &= edited[:, None]
    m_off = np.zeros(n + 1, np.int32)
    np.cumsum(fired.sum(axis=1), out=m_off[1:])
    which = np.broadcast_to(np.arange(len(EDIT_NAMES), dtype=np.int32), fired.shape)[fired]
    keys = _dict(which, EDIT_NAMES, None, plain=True)
    items = pa.array(counts[fired].astype(np.int32), pa.int32())
    cols["edits"] = pa.MapArray.from_arrays(pa.array(m_off, pa.int32()), keys, items, mask=pa.array(~edited))
    cols["edit_date"] = pa.array(b.edit_date.astype(np.int32), pa.int32(), mask=~edited).cast(pa.date32())
    nc = edited & (b.los < 0)
    nc_off = np.zeros(n + 1, np.int32)
    np.cumsum(nc, out=nc_off[1:])
    nc_vals = _dict(np.zeros(int(nc_off[-1]), np.int32), LOS_NOT_CHECKED, None, plain=True)
    cols["not_checked"] = _list(nc_off, nc_vals, ~nc)
    errs = [None] * n
    for i in off_rows:
        errs[i] = ed.range_error(b, i)
    cols["edit_error"] = pa.array(errs, _ERROR) if off_rows else pa.nulls(n, _ERROR)
    return cols, eout, edited


def _mask_lists(masks: np.ndarray, rows_edited: np.ndarray) -> pa.Array:
    """Per-code edit bit masks as lists of edit names (alphabetical, as
    engine.editing.mask_names gives them); null where the claim was not edited."""
    from ..editing import EDIT_NAMES

    bits = ((masks.astype(np.uint64)[:, None] >> np.arange(len(EDIT_NAMES), dtype=np.uint64)[None, :])
            & np.uint64(1)).astype(bool)
    bits &= rows_edited[:, None]
    off = np.zeros(len(masks) + 1, np.int64)
    np.cumsum(bits.sum(axis=1), out=off[1:])
    which = np.broadcast_to(np.arange(len(EDIT_NAMES), dtype=np.int32), bits.shape)[bits]
    return _list(off, _dict(which, EDIT_NAMES, None, plain=True), ~rows_edited)


def _with_field(arr: pa.Array, name: str, values: pa.Array) -> pa.Array:
    """A struct array with one more field (its validity kept)."""
    fields = [arr.field(k) for k in range(arr.type.num_fields)] + [values]
    names = [arr.type.field(k).name for k in range(arr.type.num_fields)] + [name]
    mask = None
    if arr.null_count:
        mask = pa.array(_valid(arr) == 0)
    return pa.StructArray.from_arrays(fields, names=names, mask=mask)


def _add_code_edits(det: dict, b: Batch, eout, edited: np.ndarray) -> dict:
    """The detail columns with each code's ``edits`` (null on a claim not edited)."""
    pdx = _with_field(det["pdx"], "edits", _mask_lists(eout.pdx_mask, edited))
    lens_s = b.sdx_off[1:] - b.sdx_off[:-1]
    lens_p = b.px_off[1:] - b.px_off[:-1]
    out = {"pdx": pdx}
    for name, masks, lens in (("sdx", eout.sdx_mask, lens_s), ("procedures", eout.px_mask, lens_p)):
        lst = det[name]
        items = _with_field(lst.values, "edits", _mask_lists(masks, np.repeat(edited, lens)))
        offs = np.frombuffer(lst.buffers()[1], np.int32)[lst.offset:lst.offset + len(lst) + 1]
        bad = _valid(lst) == 0
        out[name] = _list(offs.astype(np.int64), items, bad)
    return out


def result_batch(grouper, rb: pa.RecordBatch, ab: ArrowBatch, result, detail: bool, options: dict) -> pa.RecordBatch:
    """The results of one record batch as Arrow columns."""
    b = ab.batch
    out = result.columns
    n = len(b)
    bad = ~b.ok
    ver = b.ver.astype(np.int64)
    titles = _titles(grouper)
    fd, fm = out.final_drg.astype(np.int64), out.final_mdc.astype(np.int64)
    cols = {}
    if "id" in rb.schema.names:
        cols["id"] = rb.column(rb.schema.get_field_index("id"))
    else:
        cols["id"] = pa.nulls(n, pa.string())
    cols["version"] = _dict(ver, grouper.versions, bad, plain=True)
    cols["drg"] = _dict(fd, _DRG_TEXT, bad, plain=True)
    cols["mdc"] = _dict(fm, _MDC_TEXT, bad, plain=True)
    cols["initial_drg"] = _dict(out.init_drg.astype(np.int64), _DRG_TEXT, bad, plain=True)
    cols["initial_mdc"] = _dict(out.init_mdc.astype(np.int64), _MDC_TEXT, bad, plain=True)
    cols["return_code"] = _dict(out.rc.astype(np.int64), RETURN_CODES, bad)
    cols["drg_description"] = _dict(titles.drg[ver, fd], titles.names, bad)
    cols["mdc_description"] = _dict(titles.mdc[ver, fm], titles.names, bad)
    cols["severity_initial"] = _dict(out.init_sev.astype(np.int64), CLAIM_SEVERITY, bad)
    cols["severity_final"] = _dict(out.final_sev.astype(np.int64), CLAIM_SEVERITY, bad)
    cols["med_surg"] = _dict(out.med_surg.astype(np.int64), MED_SURG, bad)
    cols["hac_status"] = _dict(out.hac_status.astype(np.int64), HAC_STATUS, bad)
    if bad.any():
        errs = [e if e is not None else None for e in b.errors]
        cols["error"] = pa.array(errs, _ERROR)
    else:
        cols["error"] = pa.nulls(n, _ERROR)
    cents = options.get("cents", grouper.price_cents())
    cols.update(_weight_columns(grouper, b, out, cents)[0])
    eout = None
    if options.get("edits"):
        ecols, eout, edited = _edit_columns(grouper, ab)
        cols.update(ecols)
    for name, provider in RESULT_COLUMNS.items():
        if options.get(name):
            cols.update(provider(grouper, b, result, options))
    if detail:
        det = _detail(ab, out, bad)
        if eout is not None:
            det = _add_code_edits(det, b, eout, edited)
        cols.update(det)
    return pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols))


_DICT = pa.dictionary(pa.int32(), pa.string())
_DX_DETAIL = pa.struct([
    ("code", pa.string()), ("poa", pa.string()), ("affects_drg", pa.string()),
    ("severity_usage", pa.struct([("initial", pa.string()), ("final", pa.string())])),
    ("poa_error", pa.string()), ("hacs", pa.list_(_HAC_ITEM)),
])
_PX_DETAIL = pa.struct([("code", pa.string()), ("affects_drg", pa.string()), ("is_or", pa.bool_()),
                        ("hac_usage", pa.list_(pa.string()))])


def result_schema(id_type: pa.DataType = pa.string(), detail: bool = False, plain: bool = False,
                  edits: bool = False) -> pa.Schema:
    """The columns of group_arrow's results (``plain``: the dictionary-encoded
    ones as plain strings, as Spark takes them): the grouping's, ``error``, the
    payment columns, with ``edits`` the code editor's, and with ``detail`` the
    per-code columns (each code with its ``edits`` too).  Providers in
    :data:`RESULT_COLUMNS` append theirs before the detail."""
    d = pa.string() if plain else _DICT
    fields = [("id", id_type), ("version", pa.string()), ("drg", pa.string()), ("mdc", pa.string()),
              ("initial_drg", pa.string()), ("initial_mdc", pa.string()), ("return_code", d),
              ("drg_description", d), ("mdc_description", d), ("severity_initial", d), ("severity_final", d),
              ("med_surg", d), ("hac_status", d), ("error", _ERROR)]
    fields += [(name, t or d) for name, t in _WEIGHT_FIELDS]
    if edits:
        fields += [(name, t or d) for name, t in _EDIT_FIELDS]
    if detail:
        dx, px = _DX_DETAIL, _PX_DETAIL
        if edits:
            names = pa.list_(pa.string())
            dx = pa.struct(list(dx) + [pa.field("edits", names)])
            px = pa.struct(list(px) + [pa.field("edits", names)])
        fields += [("pdx", dx), ("sdx", pa.list_(dx)), ("procedures", pa.list_(px))]
    return pa.schema(fields)


def _record_batches(data) -> list[pa.RecordBatch]:
    if isinstance(data, pa.RecordBatch):
        return [data] if data.num_rows <= ROWS else [data.slice(k, ROWS) for k in range(0, data.num_rows, ROWS)]
    if isinstance(data, pa.Table):
        if data.num_rows and data.column(0).num_chunks > max(1, data.num_rows // 8192):
            data = data.combine_chunks()  # many small chunks: one kernel call for many
        return data.to_batches(max_chunksize=ROWS)
    raise TypeError(f"group_arrow takes a pyarrow Table or RecordBatch, not {type(data).__name__}")


#: options result_batch itself answers: the code editor's columns, the base rate in cents
_BUILT_IN = ("edits", "cents")


def check_options(options: dict) -> None:
    for name, wanted in options.items():
        if wanted and name not in RESULT_COLUMNS and name not in _BUILT_IN:
            raise GrouperError(f"{name}=True: this build of fastdrg has no {name} to add to the results")


#: Rows per part a record batch is cut into for the kernel threads (each part is
#: read, grouped and written on one thread).  Large: around its compiled reader
#: and kernel a part makes ~150 pyarrow and numpy calls holding the GIL (~2 ms),
#: which the other threads wait for.  ``bench_arrow.py`` (200,000 claims, 2
#: threads), group_arrow against group_batch: parts of 2,048 rows 41 %, 8,192
#: 65-67 %, 16,384 70-73 %, 32,768 76-77 %; 50,000 69 %, 65,536 61 %.
PART = 32768


def _count(grouper, ab: ArrowBatch, result, counts: dict) -> None:
    for (_version, rc), c in grouper.pipeline.tally(ab.batch, result).items():
        counts[rc] = counts.get(rc, 0) + c
    errors = ab.batch.errors
    for i in np.flatnonzero(~ab.batch.ok).tolist():
        key = "ERROR:" + str(errors[i].get("field"))
        counts[key] = counts.get(key, 0) + 1


def group_record_batches(grouper, rb, detail: bool = False, counts: dict | None = None,
                         **options) -> list[pa.RecordBatch]:
    """Record batch(es) of claims (one, or a list) -> record batches of results,
    in order: cut in parts of :data:`PART` rows at most, each read, grouped and
    written on a kernel thread (the reader and the writer run in parallel as
    the kernel does).  ``counts``, when given, is added the grouped claims by
    return code and the rejected ones by ``ERROR:<field>`` (the command line's
    summary)."""
    rbs = [rb] if isinstance(rb, pa.RecordBatch) else list(rb)
    total = sum(b.num_rows for b in rbs)
    size = grouper.pipeline.part_size(total, PART)
    parts = []
    for b in rbs:
        n = b.num_rows
        if n <= size:
            parts.append(b)
        else:
            parts.extend(b.slice(lo, min(size, n - lo)) for lo in range(0, n, size))

    def run(piece):
        ab = read_batch(grouper, piece)
        result = grouper.pipeline.group_here(ab.batch)
        return result_batch(grouper, piece, ab, result, detail, options), ab, result

    done = list(grouper.pipeline.map(run, parts)) if total >= 512 else [run(piece) for piece in parts]
    if counts is not None:
        for _, ab, result in done:
            _count(grouper, ab, result, counts)
    return [d[0] for d in done]


def group_record_batch(grouper, rb: pa.RecordBatch, detail: bool = False, counts: dict | None = None,
                       **options) -> pa.RecordBatch:
    """One record batch of claims -> one of results, on the calling thread."""
    ab = read_batch(grouper, rb)
    result = grouper.pipeline.group_here(ab.batch)
    if counts is not None:
        _count(grouper, ab, result, counts)
    return result_batch(grouper, rb, ab, result, detail, options)


def _options(grouper, edits: bool, base_rate) -> dict:
    """group_arrow's options: the editor, and the base rate as group() takes it
    (dollars; default the Grouper's; GrouperError when it is not one)."""
    return {"edits": bool(edits), "cents": grouper.price_cents(base_rate)}


def group_arrow(grouper, data, detail: bool = False, edits: bool = False, base_rate=None) -> pa.Table:
    """See :meth:`engine.Grouper.group_arrow`."""
    options = _options(grouper, edits, base_rate)
    check_options(options)
    batches = group_record_batches(grouper, _record_batches(data), detail, **options)
    if not batches:
        schema = group_record_batch(grouper, _EMPTY_CLAIM, detail, **options).schema
        return schema.empty_table()
    return pa.Table.from_batches(batches)


_EMPTY_CLAIM = pa.RecordBatch.from_pydict({"id": pa.array([], pa.string())})


# ---- DataFrames ---------------------------------------------------------------------------------

def group_frame(grouper, df, detail: bool = False, edits: bool = False, base_rate=None):
    """A pandas or polars DataFrame of claims -> a DataFrame of results of the same library."""
    module = type(df).__module__.split(".")[0]
    if module == "polars":
        import polars as pl

        table = df.to_arrow()  # zero-copy for numeric and string columns
        return pl.from_arrow(group_arrow(grouper, table, detail, edits, base_rate))
    if module == "pandas":
        table = pa.Table.from_pandas(df, preserve_index=False)
        return group_arrow(grouper, table, detail, edits, base_rate).to_pandas()
    raise TypeError(f"group_frame takes a pandas or polars DataFrame, not {type(df).__name__}")


# ---- Parquet files ------------------------------------------------------------------------------

def group_parquet(grouper, source, destination, detail: bool = False, batch_rows: int = ROWS,
                  progress=None, counts: dict | None = None, case_mix: list | None = None, **options) -> int:
    """Group a Parquet file of claims into a Parquet file of results, streaming:
    record batches of ``batch_rows`` are read, cut into parts of :data:`PART`
    rows, and each part is read, grouped and written (to Arrow) on a kernel
    thread, a few parts in flight at most, while this thread reads the next
    record batch and writes finished parts to the file (pyarrow releases the
    GIL for both).  Memory stays bounded whatever the file's size.  Returns the
    rows written; ``progress(rows)`` is called as parts are written; ``case_mix``,
    when given (``[0, 0]``), is added the sum of the final DRGs' weights
    (1/10,000) and the claims with a weight (the command line's case-mix index)."""
    import pyarrow.parquet as pq
    from collections import deque

    check_options(options)
    pf = pq.ParquetFile(source)
    writer = None
    done = 0
    window = max(2, 2 * grouper.threads)

    def run(piece):
        ab = read_batch(grouper, piece)
        result = grouper.pipeline.group_here(ab.batch)
        return result_batch(grouper, piece, ab, result, detail, options), ab, result

    def finish(out):
        nonlocal writer, done
        rb, ab, result = out
        if counts is not None:
            _count(grouper, ab, result, counts)
        if case_mix is not None:
            b, d = ab.batch, result.columns.final_drg.astype(np.int64)
            w = grouper.payment.weight[b.ver.astype(np.int64), np.clip(d, 0, 999)]
            w = w[b.ok & (d >= 0) & (d < 1000) & (w > 0)]
            case_mix[0] += int(w.sum())
            case_mix[1] += len(w)
        if writer is None:
            writer = pq.ParquetWriter(destination, rb.schema)
        writer.write_batch(rb)
        done += rb.num_rows
        if progress is not None:
            progress(rb.num_rows)

    pending: deque = deque()
    try:
        for rb in pf.iter_batches(batch_size=batch_rows):
            for lo in range(0, rb.num_rows, PART):
                piece = rb.slice(lo, min(PART, rb.num_rows - lo))
                if grouper.threads == 1:
                    finish(run(piece))
                    continue
                pending.append(grouper.pipeline.submit(run, piece))
                while len(pending) >= window:
                    finish(pending.popleft().result())
        while pending:
            finish(pending.popleft().result())
        if writer is None:  # no rows: an empty file with the results' columns
            empty = pa.RecordBatch.from_pylist([], schema=pf.schema_arrow)
            writer = pq.ParquetWriter(destination, group_record_batch(grouper, empty, detail, None, **options).schema)
    finally:
        for f in pending:
            f.cancel()
        if writer is not None:
            writer.close()
    return done


# ---- claim dicts as a table (a convenience for tests, benchmarks and examples) -------------------

_DX = pa.struct([("code", pa.string()), ("poa", pa.string())])
CLAIM_SCHEMA = pa.schema([
    ("id", pa.string()), ("version", pa.string()), ("discharge_date", pa.string()), ("age", pa.int64()),
    ("sex", pa.string()), ("discharge_status", pa.int64()), ("hospital_status", pa.string()), ("pdx", _DX),
    ("admit_dx", _DX), ("sdx", pa.list_(_DX)), ("procedures", pa.list_(pa.string())),
])


def claims_table(claims) -> pa.Table:
    """Claim dicts (as ``Grouper.group`` takes them) as a table of
    :data:`CLAIM_SCHEMA`: codes as ``struct<code, poa>``, versions as text.
    Python per claim: for tests and examples, not a fast path.  Claims must be
    well-formed for their values to fit the columns' types."""
    def dx(x):
        if x is None:
            return None
        return {"code": x.get("code"), "poa": x.get("poa")} if isinstance(x, dict) else {"code": x, "poa": None}

    cols = {name: [] for name in CLAIM_SCHEMA.names}
    for c in claims:
        cid = c.get("id")
        cols["id"].append(None if cid is None else str(cid))
        v = c.get("version")
        cols["version"].append(None if v is None else str(v))
        d = c.get("discharge_date")
        cols["discharge_date"].append(None if d is None else str(d))
        for name in ("age", "discharge_status", "hospital_status"):
            cols[name].append(c.get(name))
        sex = c.get("sex")
        cols["sex"].append({0: "M", 1: "F", 2: "U"}.get(sex, sex) if type(sex) is int else sex)
        cols["pdx"].append(dx(c.get("pdx")))
        cols["admit_dx"].append(dx(c.get("admit_dx")))
        cols["sdx"].append([dx(x) for x in c.get("sdx") or []])
        cols["procedures"].append([x.get("code") if isinstance(x, dict) else x for x in c.get("procedures") or []])
    fields = []
    for field in CLAIM_SCHEMA:
        values = cols[field.name]
        if not all(_fits(v, field.type) for v in values):  # e.g. sex as 0/1/2, a status as "01"
            cols[field.name] = values = [None if v is None else str(v) for v in values]
            field = field.with_type(pa.string())
        fields.append(field)
    return pa.table(cols, schema=pa.schema(fields))


def _fits(v, t) -> bool:
    if v is None or not (pa.types.is_integer(t) or pa.types.is_string(t)):
        return True
    return type(v) is int if pa.types.is_integer(t) else type(v) is str
