"""Claims from JSON text to a batch, compiled: the service's input without Python dicts.

Why: for a clearinghouse batch, parsing each claim into a dict and encoding
the dict in Python cost more than grouping it.  This module reads the JSON text
of a claim straight into the batch columns, looking codes up in open-addressing
hash tables over the packed code bytes.

It reads a strict subset, exactly: an object of the claim fields of
:mod:`engine.encode` (and nothing else), with plain values — version as
``"43.1"`` or ``431``, integers without sign/fraction/leading zeros (or as a
string of up to 3 digits, ``"01"``), the exact upper-case ``sex``, the
``hospital_status`` names in any case, codes the grouper knows (a dot
and lower case allowed) or unknown codes already in their normal form (echoed
as written), POA ``Y N U W 1``, blank or null, an ``id`` that is an ASCII
string without escapes or an integer.  Everything else — another field, an
escape, a value out of range, an unknown code written with a dot or lower
case, a malformed document —
is reported back as *not read* and goes through ``orjson`` and the Python
encoder, which normalise it or name the error.  So the fast path can only
agree with the full one (a test holds them equal), and it never has to
judge JSON it does not understand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from .grouping import KernelBatch
from .tables import VERSIONS

# claim keys (bit positions of the "seen" mask)
_KEYS = ("id", "version", "discharge_date", "age", "sex", "discharge_status", "hospital_status",
         "pdx", "admit_dx", "sdx", "procedures", "los", "admission_date")
(K_ID, K_VERSION, K_DATE, K_AGE, K_SEX, K_DSTAT, K_HOSP, K_PDX, K_ADMIT, K_SDX, K_PROCS, K_LOS,
 K_ADMISSION) = range(len(_KEYS))
#: as engine.encode.MAX_LOS, ADMIT_ABSENT
_MAX_LOS = 99999
_ADMIT_ABSENT = -2
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing
NOT_READ, READ = 0, 1


class CodeTable:
    """Open-addressing hash table: packed code -> dense id (``keys == 0``: empty)."""

    def __init__(self, codes: list):
        size = 1 << max(4, (2 * len(codes) - 1).bit_length())
        self.bits = np.uint64(size.bit_length() - 1)
        self.keys = np.zeros(size, np.uint64)
        self.ids = np.full(size, -1, np.int32)
        # codes of at most 8 ASCII characters (the only ones the reader produces),
        # packed as _code packs them, first character lowest: "S8" pads with zero
        # bytes, read little-endian
        ids = np.array([i for i, c in enumerate(codes) if 0 < len(c) <= 8 and c.isascii()], np.int64)
        packed = np.array([codes[i] for i in ids.tolist()], dtype="S8").view("<u8")
        _insert(self.keys, self.ids, packed, ids, self.bits)


@njit(cache=True, _nrt=False)
def _insert(keys, ids, packed, dense, bits):
    mask = np.uint64(len(keys) - 1)
    for n in range(len(packed)):
        h = (packed[n] * _HASH_MUL) >> (np.uint64(64) - bits)
        while keys[h] != 0:
            h = (h + np.uint64(1)) & mask
        keys[h] = packed[n]
        ids[h] = dense[n]


def version_lookup(versions=VERSIONS) -> np.ndarray:
    """``v`` (e.g. 431) -> its index in ``versions`` (the tables' ``meta["versions"]``;
    default the pinned package's), -1 for a version the tables do not hold."""
    out = np.full(1000, -1, np.int8)
    for i, v in enumerate(versions):
        out[v] = i
    return out


def version_starts(versions=VERSIONS) -> np.ndarray:
    """Version index -> the first day of its period, days since 1970-01-01 (the
    MCE's edit date for a claim without a discharge date)."""
    from .encode import version_start_days
    return np.array([version_start_days(v) for v in versions], np.int32)


def version_ends(versions=VERSIONS) -> np.ndarray:
    """Version index -> the last day of its period, days since 1970-01-01: with
    :func:`version_starts`, the periods a claim's discharge date picks its version
    from when it gives none (engine.encode.version_for_date's rule)."""
    from .encode import version_end_days
    return np.array([version_end_days(v) for v in versions], np.int32)


def name_table(names) -> tuple[np.ndarray, np.ndarray]:
    """Names as one byte array with offsets (for ``_match``)."""
    names = [n.encode() for n in names]
    off = np.zeros(len(names) + 1, np.int64)
    np.cumsum([len(n) for n in names], out=off[1:])
    return np.frombuffer(b"".join(names), np.uint8), off


CLAIM_KEYS = name_table(_KEYS)


# ---- the compiled reader ------------------------------------------------------------------------
# Every reader takes the buffer and a position and returns the next position, or -1 for "not read".

@njit(cache=True, _nrt=False)
def _ws(buf, p, end):
    while p < end:
        c = buf[p]
        if c != 32 and c != 9 and c != 10 and c != 13:
            break
        p += 1
    return p


@njit(cache=True, _nrt=False)
def _next_item(buf, p, end, close):
    """After an item of an object or array: (start of the next item, True) after a
    comma, (just past ``close``, False) at the end, (-1, False) for anything else."""
    p = _ws(buf, p, end)
    if p < end and buf[p] == 44:  # ','
        return _ws(buf, p + 1, end), True
    if p < end and buf[p] == close:
        return p + 1, False
    return -1, False


_OBJECT_END = np.int64(125)  # '}'  (typed, not literal: one compiled _next_item)
_ARRAY_END = np.int64(93)  # ']'


@njit(cache=True, _nrt=False)
def _plain_string(buf, p, end):
    """End of a string without escapes or control/non-ASCII bytes starting at ``p``
    (an opening quote), or -1."""
    if p >= end or buf[p] != 34:
        return -1
    p += 1
    while p < end:
        c = buf[p]
        if c == 34:
            return p + 1
        if c == 92 or c < 32 or c > 126:
            return -1
        p += 1
    return -1


@njit(cache=True, _nrt=False)
def _integer(buf, p, end, out):
    """A non-negative JSON integer of at most 9 digits, no leading zero: writes
    out[0], returns the next position or -1."""
    start = p
    v = 0
    while p < end and 48 <= buf[p] <= 57:
        v = v * 10 + (buf[p] - 48)
        p += 1
    n = p - start
    if n == 0 or n > 9 or (n > 1 and buf[start] == 48):
        return -1
    if p < end and (buf[p] == 46 or buf[p] == 101 or buf[p] == 69):  # . e E: not an integer
        return -1
    out[0] = v
    return p


@njit(cache=True, _nrt=False)
def _date(buf, p, end, out):
    """A date string exactly ``"YYYY-MM-DD"`` (a real day, year 1970-2199): out[0] =
    days since 1970-01-01; the next position, or -1 (the full path reads any other form)."""
    if p + 12 > end or buf[p] != 34 or buf[p + 5] != 45 or buf[p + 8] != 45 or buf[p + 11] != 34:
        return -1
    for r in range(1, 11):
        if r != 5 and r != 8 and not 48 <= buf[p + r] <= 57:
            return -1
    y = (buf[p + 1] - 48) * 1000 + (buf[p + 2] - 48) * 100 + (buf[p + 3] - 48) * 10 + (buf[p + 4] - 48)
    m = (buf[p + 6] - 48) * 10 + (buf[p + 7] - 48)
    d = (buf[p + 9] - 48) * 10 + (buf[p + 10] - 48)
    if y < 1970 or y > 2199 or m < 1 or m > 12 or d < 1:
        return -1
    leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
    mdays = 29 if (m == 2 and leap) else (28 if m == 2 else (30 if (m == 4 or m == 6 or m == 9 or m == 11) else 31))
    if d > mdays:
        return -1
    # days from civil (proleptic Gregorian), March-based year
    yy = y - 1 if m <= 2 else y
    era = yy // 400
    yoe = yy - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    out[0] = era * 146097 + doe - 719468
    return p + 12


@njit(cache=True, _nrt=False)
def _literal(buf, p, end, a, b, c, d):
    """The 4-byte literal ``null`` / ``true`` (a..d), or -1."""
    if p + 4 <= end and buf[p] == a and buf[p + 1] == b and buf[p + 2] == c and buf[p + 3] == d:
        return p + 4
    return -1


@njit(cache=True, _nrt=False)
def _is_null(buf, p, end):
    return _literal(buf, p, end, 110, 117, 108, 108) >= 0


@njit(cache=True, _nrt=False)
def _code(buf, p, end, out):
    """A code string, dots dropped and lower case raised, packed for
    :func:`_lookup`: out[0] = the packed code, out[7] = 1 if the text is not in
    normal form (then an unknown code is not read: the echo must be the normal
    form), out[5]:out[6] = its text (echoed for an unknown code), out[1] = 1 if
    it starts with V/W/X/Y.  -1 when not read: not a plain string, a character
    a code cannot have, longer than 8.

    The look-up comes later, for all the codes of a claim in one loop: each is a
    likely cache miss in a table of megabytes, and independent look-ups in a row
    overlap their misses where one per code amid the parsing did not."""
    q = _plain_string(buf, p, end)
    if q < 0:
        return -1
    k = np.uint64(0)
    n = 0
    first = 0
    changed = False
    at_only = True
    for r in range(p + 1, q - 1):
        c = buf[r]
        if c == 46:  # '.'
            changed = True
            continue
        if 97 <= c <= 122:
            c -= 32
            changed = True
        if not ((48 <= c <= 57) or (65 <= c <= 90) or c == 64):
            return -1
        if c != 64:
            at_only = False
        if n == 8:
            return -1
        if n == 0:
            first = c
        k |= np.uint64(c) << np.uint64(8 * n)
        n += 1
    if n == 0 or at_only:
        return -1
    out[1] = 1 if (first == 86 or first == 87 or first == 88 or first == 89) else 0
    out[0] = np.int64(k)  # at most 8 ASCII bytes: the top bit is clear
    out[7] = 1 if changed else 0
    out[5] = p + 1
    out[6] = q - 1
    return q


@njit(cache=True, _nrt=False)
def _lookup(keys, ids, bits, packed):
    """The dense id of a packed code (:func:`_code`), -1 when the grouper does not know it."""
    k = np.uint64(packed)
    mask = np.uint64(len(keys) - 1)
    h = (k * _HASH_MUL) >> (np.uint64(64) - bits)
    while keys[h] != 0:
        if keys[h] == k:
            return np.int64(ids[h])
        h = (h + np.uint64(1)) & mask
    return np.int64(-1)


@njit(cache=True, _nrt=False)
def _poa(buf, p, end, out):
    """POA: null, "", " ", "Y", "N", "U", "W", "1" -> out[0] (the byte the encoder
    stores), or -1."""
    if _is_null(buf, p, end):
        out[0] = 32
        return p + 4
    q = _plain_string(buf, p, end)
    if q < 0:
        return -1
    n = q - p - 2
    if n == 0:
        out[0] = 32
        return q
    if n != 1:
        return -1
    c = buf[p + 1]
    if c == 32 or c == 89 or c == 78 or c == 85 or c == 87 or c == 49:
        out[0] = c
        return q
    return -1


@njit(cache=True, _nrt=False)
def _match(buf, p, end, kblob, koff, fold):
    """A plain string that is one of the names in (kblob, koff) -> (next, index);
    index -1 for another string, next -1 for no plain string.  ``fold``: upper
    case in the text matches lower case in the names."""
    q = _plain_string(buf, p, end)
    if q < 0:
        return -1, -1
    n = q - p - 2
    for k in range(len(koff) - 1):
        if koff[k + 1] - koff[k] != n:
            continue
        same = True
        for r in range(n):
            c = buf[p + 1 + r]
            if fold and 65 <= c <= 90:
                c += 32
            if kblob[koff[k] + r] != c:
                same = False
                break
        if same:
            return q, k
    return q, -1


@njit(cache=True, _nrt=False)
def _dx(buf, p, end, out, want_poa):
    """A diagnosis: a code string, or {"code": ..., "poa": ...} (either order).
    out as :func:`_code` gives it, and out[2] the POA byte."""
    out[2] = 32
    if p < end and buf[p] == 34:
        return _code(buf, p, end, out)
    if p >= end or buf[p] != 123:
        return -1
    p = _ws(buf, p + 1, end)
    seen = 0
    tmp = out[3:5]
    while True:
        q = _plain_string(buf, p, end)
        if q < 0:
            return -1
        n = q - p - 2
        if n == 4 and buf[p + 1] == 99 and buf[p + 2] == 111 and buf[p + 3] == 100 and buf[p + 4] == 101:
            field = 1  # code
        elif n == 3 and buf[p + 1] == 112 and buf[p + 2] == 111 and buf[p + 3] == 97 and want_poa:
            field = 2  # poa
        else:
            return -1
        if seen & field:
            return -1
        seen |= field
        p = _ws(buf, q, end)
        if p >= end or buf[p] != 58:
            return -1
        p = _ws(buf, p + 1, end)
        if field == 1:
            p = _code(buf, p, end, out)
        else:
            p = _poa(buf, p, end, tmp)
            out[2] = tmp[0]
        if p < 0:
            return -1
        p, more = _next_item(buf, p, end, _OBJECT_END)
        if p < 0:
            return -1
        if not more:
            return p if seen & 1 else -1  # "code" is required


@njit(cache=True, _nrt=False)
def _claim(buf, p, end, dx_keys, dx_ids, dx_bits, ver_index, ver_start, ver_end, kblob, koff,
           hblob, hoff, default_h, i, head, tmp, sdx_key, sdx_chg, sdx_poa, sdx_text, ns, px_key, px_chg, px_text, npx):
    """One claim object in buf[p:end].  Writes head[i, :] = (ver, sex, dstat, hosp,
    pdx, ecode, pdx_poa, id_lo, id_hi, pdx text lo, hi, pdx not in normal form, age, los (-1: not
    given), discharge date (days since 1970, -1: not given), admit dx (packed code, -2: not given),
    admission date (as the discharge date))
    and appends its codes at sdx_*[ns:], px_*[npx:] (packed, not yet looked up:
    :func:`read_claims` does that; the text span of each at *_text[...]).
    A claim without a version takes the version whose period (``ver_start`` to
    ``ver_end``, by version index) holds its discharge date, as
    engine.encode.version_for_date does; a date no loaded version covers is
    not read (the full path names it).
    Returns (read?, codes appended to sdx, to px)."""
    p = _ws(buf, p, end)
    if p >= end or buf[p] != 123:
        return False, 0, 0
    p = _ws(buf, p + 1, end)
    seen = 0
    head[i, 3] = default_h
    head[i, 7] = -1
    head[i, 8] = -1
    head[i, 13] = -1  # los: not given
    head[i, 14] = -1  # discharge date: not given
    head[i, 15] = _ADMIT_ABSENT  # admit dx (packed code until read_claims looks it up)
    head[i, 16] = -1  # admission date: not given
    n_s = 0
    n_p = 0
    if p < end and buf[p] == 125:
        return False, 0, 0  # {}: no fields, the full path names the first missing one
    while True:
        p, k = _match(buf, p, end, kblob, koff, False)
        if p < 0 or k < 0 or (seen >> k) & 1:
            return False, 0, 0
        seen |= 1 << k
        p = _ws(buf, p, end)
        if p >= end or buf[p] != 58:
            return False, 0, 0
        p = _ws(buf, p + 1, end)
        null = _is_null(buf, p, end)
        if null and (k == K_ID or k == K_VERSION or k == K_DATE or k == K_HOSP or k == K_ADMIT
                     or k == K_SDX or k == K_PROCS or k == K_LOS or k == K_ADMISSION):
            p += 4
            if k == K_VERSION:
                seen &= ~(1 << K_VERSION)
            elif k == K_DATE:
                seen &= ~(1 << K_DATE)
        elif k == K_ID:
            q = _plain_string(buf, p, end)
            if q < 0:
                negative = p < end and buf[p] == 45
                q = _integer(buf, p + 1 if negative else p, end, tmp)
                if negative and tmp[0] == 0:
                    return False, 0, 0  # -0: orjson writes it back as 0
            if q < 0:
                return False, 0, 0
            head[i, 7] = p
            head[i, 8] = q
            p = q
        elif k == K_VERSION:
            if p < end and buf[p] == 34:
                # "NN.N"
                if not (p + 6 <= end and buf[p + 5] == 34 and buf[p + 3] == 46
                        and 48 <= buf[p + 1] <= 57 and 48 <= buf[p + 2] <= 57 and 48 <= buf[p + 4] <= 57):
                    return False, 0, 0
                v = (buf[p + 1] - 48) * 100 + (buf[p + 2] - 48) * 10 + (buf[p + 4] - 48)
                p += 6
            else:
                p = _integer(buf, p, end, tmp)
                v = tmp[0]
                if p < 0 or v >= 1000:
                    return False, 0, 0
            if ver_index[v] < 0:
                return False, 0, 0
            head[i, 0] = ver_index[v]
        elif k == K_DATE or k == K_ADMISSION:
            p = _date(buf, p, end, tmp)  # discharge_date (without a version: picks it, below)
            if p < 0:
                return False, 0, 0
            head[i, 14 if k == K_DATE else 16] = tmp[0]
        elif k == K_LOS:
            p = _integer(buf, p, end, tmp)
            if p < 0 or tmp[0] > _MAX_LOS:
                return False, 0, 0
            head[i, 13] = tmp[0]
        elif k == K_AGE or k == K_DSTAT:
            if p < end and buf[p] == 34:  # "01": a UB-04 code as text, read as its number
                q = _plain_string(buf, p, end)
                if q < 0 or q - p - 2 < 1 or q - p - 2 > 3:
                    return False, 0, 0
                v = 0
                for r in range(p + 1, q - 1):
                    if not 48 <= buf[r] <= 57:
                        return False, 0, 0
                    v = v * 10 + (buf[r] - 48)
                tmp[0] = v
                p = q
            else:
                p = _integer(buf, p, end, tmp)
            if p < 0 or (k == K_DSTAT and tmp[0] > 99):  # any age is grouped (engine.encode.MAX_AGE)
                return False, 0, 0
            if k == K_DSTAT:
                head[i, 2] = tmp[0]
            else:
                head[i, 12] = tmp[0]
        elif k == K_SEX:
            if not (p + 3 <= end and buf[p] == 34 and buf[p + 2] == 34):
                return False, 0, 0
            c = buf[p + 1]
            if c == 77:
                head[i, 1] = 0
            elif c == 70:
                head[i, 1] = 1
            elif c == 85:
                head[i, 1] = 2
            else:
                return False, 0, 0
            p += 3
        elif k == K_HOSP:
            p, h = _match(buf, p, end, hblob, hoff, True)  # the full path lower-cases it
            if p < 0 or h < 0:
                return False, 0, 0
            head[i, 3] = h
        elif k == K_PDX or k == K_ADMIT:
            p = _dx(buf, p, end, tmp, True)
            if p < 0:
                return False, 0, 0
            if k == K_PDX:
                head[i, 4] = tmp[0]
                head[i, 5] = tmp[1]
                head[i, 6] = tmp[2]
                head[i, 9] = tmp[5]
                head[i, 10] = tmp[6]
                head[i, 11] = tmp[7]
            else:
                head[i, 15] = tmp[0]  # looked up in read_claims: an unknown one goes the full path
        else:  # sdx, procedures: arrays
            if p >= end or buf[p] != 91:
                return False, 0, 0
            p = _ws(buf, p + 1, end)
            if p < end and buf[p] == 93:
                p += 1
            else:
                is_dx = k == K_SDX
                while True:
                    if is_dx:
                        p = _code_into(buf, p, end, tmp, is_dx, sdx_key, sdx_chg, sdx_poa, sdx_text, ns + n_s)
                        n_s += 1
                    else:
                        p = _code_into(buf, p, end, tmp, is_dx, px_key, px_chg, sdx_poa, px_text, npx + n_p)
                        n_p += 1
                    if p < 0:
                        return False, 0, 0
                    p, more = _next_item(buf, p, end, _ARRAY_END)
                    if p < 0:
                        return False, 0, 0
                    if not more:
                        break
        p, more = _next_item(buf, p, end, _OBJECT_END)
        if p < 0:
            return False, 0, 0
        if not more:
            break
    if _ws(buf, p, end) != end:
        return False, 0, 0
    need = (1 << K_AGE) | (1 << K_SEX) | (1 << K_DSTAT) | (1 << K_PDX)
    if seen & need != need:
        return False, 0, 0  # missing (or null) fields: the full path names them
    if not (seen >> K_VERSION) & 1:  # no version: the one whose period holds the discharge date
        d = head[i, 14]
        if d < 0:
            return False, 0, 0  # neither: the full path names it
        vi = -1
        for q in range(len(ver_start)):
            if ver_start[q] <= d <= ver_end[q]:
                vi = q
                break
        if vi < 0:
            return False, 0, 0  # no loaded version covers it: the full path names it
        head[i, 0] = vi
    if head[i, 13] < 0 and head[i, 16] >= 0 and head[i, 14] >= 0:  # los from the two dates
        los = head[i, 14] - head[i, 16]
        if los < 0:
            return False, 0, 0  # the full path names the error
        # a stay the dates give is not bounded by _MAX_LOS (the los field's bound; engine.encode.claim_dates)
        head[i, 13] = los
    return True, n_s, n_p


@njit(cache=True, _nrt=False)
def _code_into(buf, p, end, tmp, is_dx, packed, changed, poa, texts, at):
    """One item of an ``sdx`` or ``procedures`` array into row ``at`` of its
    columns (``poa`` is written for diagnoses only); the position after the
    item, or -1 when it is not read (or the columns are full)."""
    if at >= len(packed):
        return -1
    p = _dx(buf, p, end, tmp, is_dx)
    if p < 0:
        return -1
    packed[at] = tmp[0]
    changed[at] = tmp[7]
    if is_dx:
        poa[at] = tmp[2]
    texts[at, 0] = tmp[5]
    texts[at, 1] = tmp[6]
    return p


@njit(cache=True, nogil=True, _nrt=False)
def read_claims(buf, spans, dx_keys, dx_ids, dx_bits, pr_keys, pr_ids, pr_bits, ver_index, ver_start, ver_end,
                kblob, koff, hblob, hoff, default_h, status, head, sdx_off, sdx, sdx_key, sdx_chg, sdx_poa, sdx_text,
                px_off, px, px_key, px_chg, px_text, tmp):
    """Read claim ``i`` from ``buf[spans[i, 0]:spans[i, 1]]`` for every ``i``: status[i]
    READ (columns written) or NOT_READ (nothing kept).  Each claim is parsed, then
    its codes are looked up in one loop (see :func:`_code`)."""
    ns = 0
    npx = 0
    for i in range(len(spans)):
        sdx_off[i] = ns
        px_off[i] = npx
        ok, a, b = _claim(buf, spans[i, 0], spans[i, 1], dx_keys, dx_ids, dx_bits, ver_index, ver_start, ver_end,
                          kblob, koff,
                          hblob, hoff, default_h, i, head, tmp, sdx_key, sdx_chg, sdx_poa, sdx_text, ns,
                          px_key, px_chg, px_text, npx)
        if ok:
            # an unknown code not written in its normal form is not read (the full path names it)
            d = _lookup(dx_keys, dx_ids, dx_bits, head[i, 4])
            bad = d < 0 and head[i, 11] != 0
            head[i, 4] = d
            if head[i, 15] != _ADMIT_ABSENT:
                d = _lookup(dx_keys, dx_ids, dx_bits, head[i, 15])
                bad |= d < 0  # an unknown admit dx: the full path keeps its text
                head[i, 15] = d
            for j in range(ns, ns + a):
                d = _lookup(dx_keys, dx_ids, dx_bits, sdx_key[j])
                bad |= d < 0 and sdx_chg[j] != 0
                sdx[j] = d
            for j in range(npx, npx + b):
                d = _lookup(pr_keys, pr_ids, pr_bits, px_key[j])
                bad |= d < 0 and px_chg[j] != 0
                px[j] = d
            ok = not bad
        if ok:
            status[i] = READ
            ns += a
            npx += b
        else:
            status[i] = NOT_READ
    sdx_off[len(spans)] = ns
    px_off[len(spans)] = npx


@njit(cache=True, nogil=True)
def read_batch(buf, spans, reader, hospital):
    """:func:`read_claims` into new columns, allocated here (in compiled code: a
    part of a batch costs one hand-over from Python, which matters for the
    service's micro-batches of a few claims).

    ``reader``: the reader's tables, as ``Grouper`` keeps them.  Returns the
    kernel's batch (a claim not read is not ``ok``); for the writer, spans of
    ``buf``: each claim's id (``lo < 0``: none) and principal dx text, each
    secondary dx and procedure text; and, for the kernel's scratch, the most
    secondary dx and procedures on one claim (at least 1)."""
    (dx_keys, dx_ids, dx_bits, pr_keys, pr_ids, pr_bits, ver_index, kblob, koff, hblob, hoff, ver_start, ver_end) = reader
    n = len(spans)
    cap = (spans[n - 1, 1] - spans[0, 0]) // 3 + 1 if n else 1  # a code takes 3 bytes at least ("A")
    status = np.zeros(n, np.int8)
    head = np.zeros((n, 17), np.int64)  # columns: see _claim
    sdx_off = np.zeros(n + 1, np.int64)
    px_off = np.zeros(n + 1, np.int64)
    # bounds, not sizes: left unwritten (a page is only touched when a code lands on it)
    sdx = np.empty(cap, np.int32)
    sdx_key = np.empty(cap, np.int64)
    sdx_chg = np.empty(cap, np.uint8)
    sdx_poa = np.empty(cap, np.uint8)
    px = np.empty(cap, np.int32)
    px_key = np.empty(cap, np.int64)
    px_chg = np.empty(cap, np.uint8)
    sdx_text = np.empty((cap, 2), np.int64)
    px_text = np.empty((cap, 2), np.int64)
    read_claims(buf, spans, dx_keys, dx_ids, dx_bits, pr_keys, pr_ids, pr_bits, ver_index, ver_start, ver_end,
                kblob, koff, hblob, hoff,
                hospital, status, head, sdx_off, sdx, sdx_key, sdx_chg, sdx_poa, sdx_text, px_off, px, px_key, px_chg,
                px_text, np.zeros(8, np.int64))
    ns = sdx_off[n]
    npx = px_off[n]
    edit_date = np.empty(n, np.int32)
    for i in range(n):
        edit_date[i] = head[i, 14] if head[i, 14] >= 0 else ver_start[head[i, 0]]
    batch = KernelBatch(
        status == READ, head[:, 0].astype(np.int8), head[:, 1].astype(np.int8), head[:, 2].astype(np.int16),
        head[:, 3].astype(np.int8), head[:, 4].astype(np.int32), head[:, 5] != 0, head[:, 6].astype(np.uint8),
        sdx_off, sdx[:ns].copy(), sdx_poa[:ns].copy(), px_off, px[:npx].copy(),
        head[:, 12].astype(np.int32), head[:, 13].astype(np.int32), edit_date, head[:, 15].astype(np.int32),
    )
    # contiguous copies: the writer is compiled for contiguous spans (a strided
    # view would compile it a second time)
    texts = (np.ascontiguousarray(head[:, 7]), np.ascontiguousarray(head[:, 8]),
             np.ascontiguousarray(head[:, 9]), np.ascontiguousarray(head[:, 10]),
             np.ascontiguousarray(sdx_text[:ns, 0]), np.ascontiguousarray(sdx_text[:ns, 1]),
             np.ascontiguousarray(px_text[:npx, 0]), np.ascontiguousarray(px_text[:npx, 1]))
    max_sdx = 1
    max_px = 1
    for i in range(n):
        max_sdx = max(max_sdx, sdx_off[i + 1] - sdx_off[i])
        max_px = max(max_px, px_off[i + 1] - px_off[i])
    return batch, texts, max_sdx, max_px


# ---- a JSON array inside an envelope, cut into its items ---------------------------------------

@njit(cache=True, _nrt=False)
def _skip_string(buf, p, end):
    """End of the string starting at ``p`` (a quote), escapes skipped; -1 if unterminated."""
    p += 1
    while p < end:
        c = buf[p]
        if c == 92:
            p += 2
            continue
        if c == 34:
            return p + 1
        p += 1
    return -1


@njit(cache=True, _nrt=False)
def _skip_value(buf, p, end):
    """End of the value starting at ``p``, found by brackets and strings only (the
    items are read strictly afterwards); -1 if it does not close."""
    if p >= end:
        return -1
    c = buf[p]
    if c == 34:
        return _skip_string(buf, p, end)
    if c == 123 or c == 91:
        depth = 0
        while p < end:
            c = buf[p]
            if c == 34:
                p = _skip_string(buf, p, end)
                if p < 0:
                    return -1
                continue
            if c == 123 or c == 91:
                depth += 1
            elif c == 125 or c == 93:
                depth -= 1
                if depth == 0:
                    return p + 1
            p += 1
        return -1
    while p < end:  # number or literal
        c = buf[p]
        if c == 44 or c == 93 or c == 125 or c == 32 or c == 9 or c == 10 or c == 13:
            break
        p += 1
    return p


@njit(cache=True, nogil=True, _nrt=False)
def _array_items(buf, key, spans):
    """``{"<key>": [item, ...]}`` exactly (whitespace allowed): writes the items'
    spans, returns their number; -1 for any other shape or too many items."""
    end = len(buf)
    p = _ws(buf, 0, end)
    if p >= end or buf[p] != 123:
        return -1
    p = _ws(buf, p + 1, end)
    q = _plain_string(buf, p, end)
    if q < 0 or q - p - 2 != len(key):
        return -1
    for r in range(len(key)):
        if buf[p + 1 + r] != key[r]:
            return -1
    p = _ws(buf, q, end)
    if p >= end or buf[p] != 58:
        return -1
    p = _ws(buf, p + 1, end)
    if p >= end or buf[p] != 91:
        return -1
    p = _ws(buf, p + 1, end)
    n = 0
    if p < end and buf[p] == 93:
        p += 1
    else:
        while True:
            q = _skip_value(buf, p, end)
            if q < 0 or n >= len(spans):
                return -1
            spans[n, 0] = p
            spans[n, 1] = q
            n += 1
            p, more = _next_item(buf, q, end, _ARRAY_END)
            if p < 0:
                return -1
            if not more:
                break
    p = _ws(buf, p, end)
    if p >= end or buf[p] != 125:
        return -1
    if _ws(buf, p + 1, end) != end:
        return -1
    return n


class Texts(Sequence):
    """JSON texts that are spans of one buffer: ``texts[k]`` is
    ``buffer[spans[k, 0]:spans[k, 1]]``, cut on demand.  The grouper reads them
    straight from the buffer (a batch body is not cut into a thousand bytes
    objects only to be joined again)."""

    def __init__(self, buffer: bytes, spans: np.ndarray):
        self.buffer = buffer
        self.spans = spans

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        a, b = self.spans[k].tolist()
        return self.buffer[a:b]

    def __eq__(self, other) -> bool:
        return isinstance(other, (list, tuple, Texts)) and list(self) == list(other)


def array_items(body: bytes, key: str, limit: int) -> Texts | None:
    """The items of the array in a body of the exact shape ``{"<key>": [...]}``, as
    JSON texts (bytes), when there are at most ``limit``; None otherwise (another
    shape, too many items, a bracket that does not close): the caller then parses
    the body in full, and answers its errors.  Items are cut by brackets and
    strings, not validated: reading them is the caller's next step."""
    buf = np.frombuffer(body, np.uint8)
    spans = np.zeros((max(0, min(limit, len(body) // 2 + 1)), 2), np.int64)
    n = _array_items(buf, np.frombuffer(key.encode(), np.uint8), spans)
    if n < 0:
        return None
    return Texts(body, spans[:n])
