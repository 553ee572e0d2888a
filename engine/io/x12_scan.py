"""The compiled pass of the 837I reader (engine.io.x12): bytes in, claims' JSON texts out.

Why a module of its own: it is the part that is compiled (numba, cached on
disk); engine.io.x12 around it is Python that turns its columns into results
and messages.  Everything here is self-contained (nothing compiled from other
modules), see :data:`_CACHE`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: numba's on-disk cache for this module's compiled code.  The code here calls
#: nothing compiled outside this file, so numba's own check of this file's
#: stamp keeps its cache right; it is not part of the kernel's cache key
#: (engine.numba_cache), so editing the reader never recompiles the kernel.
_CACHE = True

#: Codes kept per claim and list (secondary dx, external cause, procedures).
MAX_CODES = 256

# ---- whole-file errors (status of _scan) ----------------------------------------------------
_OK, _NOT_X12, _ISA, _TRUNCATED, _BAD_SEGMENT, _OUTSIDE, _SE_COUNT, _SE_CONTROL, _GE_COUNT, _GE_CONTROL, \
    _IEA_COUNT, _IEA_CONTROL, _NOT_837, _NOT_837I, _UNCLOSED, _OVERFLOW = range(16)

# ---- per-claim errors (c_err) -------------------------------------------------------------------
(CE_NONE, CE_ICD9, CE_NO_PDX, CE_TWO_PDX, CE_NO_BIRTH, CE_BAD_BIRTH, CE_BORN_LATER, CE_NO_PERIOD,
 CE_BAD_PERIOD, CE_BAD_ADMISSION, CE_ADMIT_AFTER, CE_NO_STATUS, CE_BAD_STATUS, CE_BAD_CODE, CE_TOO_MANY,
 CE_TWO_BBR, CE_TWO_ABJ) = range(17)


# ---- the compiled reader ------------------------------------------------------------------------

#: The texts the compiled writer puts between values (one buffer, read-only, frozen into the code).
_FRAGMENTS = ('{"id":', ',"discharge_date":', ',"admission_date":', ',"los":', ',"age":', ',"sex":',
              ',"discharge_status":', ',"pdx":', ',"admit_dx":', ',"sdx":[', '],"procedures":[', ']}', '{"code":',
              ',"poa":', "005010X223",
              # what _assemble writes into each result
              ',"locator":{"isa13":', ',"gs06":', ',"st02":', ',"ordinal":', '}', ',"billed_drg":',
              ',"billed_drg_matches":', 'true', 'false', 'null', '"drg":"')
(F_ID, F_DIS, F_ADM, F_LOS, F_AGE, F_SEX, F_DST, F_PDX, F_ADX, F_SDX, F_PX, F_END, F_CODE, F_POA, F_GUIDE,
 T_ISA, T_GS, T_ST, T_ORD, T_CLOSE, T_BILLED, T_MATCH, T_TRUE, T_FALSE, T_NULL, T_DRG) = range(len(_FRAGMENTS))
_FRAG = np.frombuffer("".join(_FRAGMENTS).encode("ascii"), np.uint8)
_FRAG_OFF = np.cumsum([0] + [len(f) for f in _FRAGMENTS]).astype(np.int64)


@njit(cache=_CACHE, nogil=True)
def _is_alnum(c):
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122)


@njit(cache=_CACHE, nogil=True)
def _eq(buf, lo, hi, a, b, c):
    """Whether buf[lo:hi] is the 1-3 letters a, b, c (0: none)."""
    n = hi - lo
    if a == 0:
        return n == 0
    if b == 0:
        return n == 1 and buf[lo] == a
    if c == 0:
        return n == 2 and buf[lo] == a and buf[lo + 1] == b
    return n == 3 and buf[lo] == a and buf[lo + 1] == b and buf[lo + 2] == c


@njit(cache=_CACHE, nogil=True)
def _same(buf, alo, ahi, blo, bhi):
    if ahi - alo != bhi - blo:
        return False
    for k in range(ahi - alo):
        if buf[alo + k] != buf[blo + k]:
            return False
    return True


@njit(cache=_CACHE, nogil=True)
def _int_of(buf, lo, hi):
    """Digits as an integer, -1 when not 1-9 digits (blanks around them allowed)."""
    while lo < hi and buf[lo] == 32:
        lo += 1
    while hi > lo and buf[hi - 1] == 32:
        hi -= 1
    if hi <= lo or hi - lo > 9:
        return -1
    v = 0
    for k in range(lo, hi):
        c = buf[k]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@njit(cache=_CACHE, nogil=True)
def _days(y, m, d):
    """Days since 1970-01-01 of a civil date (proleptic Gregorian)."""
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = m + 9 if m <= 2 else m - 3
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=_CACHE, nogil=True)
def _date8(buf, lo):
    """CCYYMMDD at buf[lo:lo+8] as (ok, year, month, day)."""
    v = 0
    for k in range(lo, lo + 8):
        c = buf[k]
        if c < 48 or c > 57:
            return False, 0, 0, 0
        v = v * 10 + (c - 48)
    y, m, d = v // 10000, (v // 100) % 100, v % 100
    if y < 1800 or m < 1 or m > 12 or d < 1:
        return False, 0, 0, 0
    dim = 31
    if m == 2:
        dim = 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    elif m == 4 or m == 6 or m == 9 or m == 11:
        dim = 30
    if d > dim:
        return False, 0, 0, 0
    return True, y, m, d


@njit(cache=_CACHE, nogil=True)
def _split(buf, lo, hi, sep, el_lo, el_hi):
    """buf[lo:hi]'s pieces between ``sep`` into el_lo/el_hi; returns how many
    (at most len(el_lo); the last takes the rest)."""
    n = 0
    cap = len(el_lo)
    start = lo
    for k in range(lo, hi):
        if buf[k] == sep and n < cap - 1:
            el_lo[n] = start
            el_hi[n] = k
            n += 1
            start = k + 1
    el_lo[n] = start
    el_hi[n] = hi
    return n + 1


@njit(cache=_CACHE, nogil=True)
def _component(buf, lo, hi, comp, want):
    """The ``want``-th (0-based) component of the element buf[lo:hi]: (lo, hi), (-1, -1) when absent."""
    k = 0
    start = lo
    for p in range(lo, hi):
        if buf[p] == comp:
            if k == want:
                return start, p
            k += 1
            start = p + 1
    if k == want:
        return start, hi
    return -1, -1


@njit(cache=_CACHE, nogil=True)
def _put(out, pos, frag):
    lo = _FRAG_OFF[frag]
    hi = _FRAG_OFF[frag + 1]
    for k in range(hi - lo):
        out[pos + k] = _FRAG[lo + k]
    return pos + hi - lo


@njit(cache=_CACHE, nogil=True)
def _put_str(out, pos, buf, lo, hi):
    """A JSON string of buf[lo:hi]: bytes outside printable ASCII, quotes and
    backslashes escaped as \\u00XX (a byte above 127 read as Latin-1)."""
    out[pos] = 34
    pos += 1
    for k in range(lo, hi):
        c = buf[k]
        if c < 32 or c > 126 or c == 34 or c == 92:
            out[pos] = 92
            out[pos + 1] = 117
            out[pos + 2] = 48
            out[pos + 3] = 48
            h = c >> 4
            out[pos + 4] = 48 + h if h < 10 else 87 + h
            h = c & 15
            out[pos + 5] = 48 + h if h < 10 else 87 + h
            pos += 6
        else:
            out[pos] = c
            pos += 1
    out[pos] = 34
    return pos + 1


@njit(cache=_CACHE, nogil=True)
def _put_int(out, pos, v):
    if v < 0:
        out[pos] = 45
        pos += 1
        v = -v
    digits = 1
    t = v
    while t >= 10:
        t //= 10
        digits += 1
    for k in range(digits - 1, -1, -1):
        out[pos + k] = 48 + v % 10
        v //= 10
    return pos + digits


@njit(cache=_CACHE, nogil=True)
def _put_date(out, pos, buf, lo):
    """"CCYY-MM-DD" from CCYYMMDD at buf[lo:]."""
    out[pos] = 34
    for k in range(4):
        out[pos + 1 + k] = buf[lo + k]
    out[pos + 5] = 45
    out[pos + 6] = buf[lo + 4]
    out[pos + 7] = buf[lo + 5]
    out[pos + 8] = 45
    out[pos + 9] = buf[lo + 6]
    out[pos + 10] = buf[lo + 7]
    out[pos + 11] = 34
    return pos + 12


@njit(cache=_CACHE, nogil=True)
def _code_ok(buf, lo, hi):
    """A code is there (what it holds is the engine's to judge, as for a JSON claim)."""
    for k in range(lo, hi):
        if buf[k] != 32:
            return True
    return False


@njit(cache=_CACHE, nogil=True)
def _put_dx(out, pos, buf, clo, chi, plo, phi):
    pos = _put(out, pos, F_CODE)
    pos = _put_str(out, pos, buf, clo, chi)
    if phi > plo:
        pos = _put(out, pos, F_POA)
        pos = _put_str(out, pos, buf, plo, phi)
    out[pos] = 125
    return pos + 1


@njit(cache=_CACHE, nogil=True)
def _finish(buf, out, pos, cap, claim, c_text, c_err, c_eref, c_patient, c_nabf,
            id_lo, id_hi, demo, period, admit, status, pdx, admit_dx, codes, n_codes, bbr_given, err, err_lo, err_hi):
    """The claim's checks and, when it passes them, its JSON text at out[pos:];
    returns the new position (-1: the buffer is too small)."""
    # demo: [birth_lo (-1 none; -2 DMG without a date), sex_lo, sex_hi, is_patient]
    # period: [from_lo, thru_lo] (-1 none, -2 malformed); admit: [lo] (-1 none, -2 malformed)
    c_patient[claim] = demo[3]
    if err == CE_NONE:
        if pdx[0] < 0:
            err = CE_NO_PDX
        elif period[0] == -1:
            err = CE_NO_PERIOD
        elif period[0] == -2:
            err = CE_BAD_PERIOD
        elif admit[0] == -2:
            err = CE_BAD_ADMISSION
        elif demo[0] == -1:
            err = CE_NO_BIRTH
        elif demo[0] == -2:
            err = CE_BAD_BIRTH
        elif status[0] == -1:
            err = CE_NO_STATUS
        elif status[0] == -2:
            err = CE_BAD_STATUS
    a_lo = admit[0] if admit[0] >= 0 else period[0]
    los = 0
    age = 0
    if err == CE_NONE:
        ok, ty, tm, td = _date8(buf, period[1])
        ok2, ay, am, ad = _date8(buf, a_lo)
        ok3, by, bm, bd = _date8(buf, demo[0])
        los = _days(ty, tm, td) - _days(ay, am, ad)
        age = ay - by - (1 if (am < bm or (am == bm and ad < bd)) else 0)
        if los < 0:
            err = CE_ADMIT_AFTER if admit[0] >= 0 else CE_BAD_PERIOD
        elif _days(ay, am, ad) < _days(by, bm, bd):
            err = CE_BORN_LATER
    c_nabf[claim] = 2 * n_codes[0] + (1 if bbr_given else 0)
    if err != CE_NONE:
        c_err[claim] = err
        c_eref[claim, 0] = err_lo
        c_eref[claim, 1] = err_hi
        return pos
    need = 400 + 6 * (id_hi - id_lo) + 7 * (demo[2] - demo[1])
    for k in range(2):
        need += 6 * (pdx[2 * k + 1] - pdx[2 * k]) + 6 * max(0, admit_dx[2 * k + 1] - admit_dx[2 * k])
    for lst in range(3):
        for k in range(n_codes[lst]):
            need += 24 + 6 * (codes[lst, k, 1] - codes[lst, k, 0])
            if lst < 2:
                need += 6 * (codes[lst, k, 3] - codes[lst, k, 2])
    if pos + need > cap:
        return -1
    start = pos
    pos = _put(out, pos, F_ID)
    pos = _put_str(out, pos, buf, id_lo, id_hi)
    pos = _put(out, pos, F_DIS)
    pos = _put_date(out, pos, buf, period[1])
    pos = _put(out, pos, F_ADM)
    pos = _put_date(out, pos, buf, a_lo)
    pos = _put(out, pos, F_LOS)
    pos = _put_int(out, pos, los)
    pos = _put(out, pos, F_AGE)
    pos = _put_int(out, pos, age)
    if demo[2] > demo[1]:
        pos = _put(out, pos, F_SEX)
        pos = _put_str(out, pos, buf, demo[1], demo[2])
    pos = _put(out, pos, F_DST)
    pos = _put_int(out, pos, status[0])
    pos = _put(out, pos, F_PDX)
    pos = _put_dx(out, pos, buf, pdx[0], pdx[1], pdx[2], pdx[3])
    if admit_dx[0] >= 0:
        pos = _put(out, pos, F_ADX)
        pos = _put_dx(out, pos, buf, admit_dx[0], admit_dx[1], admit_dx[2], admit_dx[3])
    pos = _put(out, pos, F_SDX)
    first = True
    for lst in range(2):  # ABF, then ABN
        for k in range(n_codes[lst]):
            if not first:
                out[pos] = 44
                pos += 1
            first = False
            pos = _put_dx(out, pos, buf, codes[lst, k, 0], codes[lst, k, 1], codes[lst, k, 2], codes[lst, k, 3])
    pos = _put(out, pos, F_PX)
    for k in range(n_codes[2]):  # BBR first (see _scan), then BBQ
        if k:
            out[pos] = 44
            pos += 1
        pos = _put(out, pos, F_CODE)
        pos = _put_str(out, pos, buf, codes[2, k, 0], codes[2, k, 1])
        out[pos] = 125
        pos += 1
    pos = _put(out, pos, F_END)
    c_text[claim, 0] = start
    c_text[claim, 1] = pos
    return pos


@njit(cache=_CACHE, nogil=True)
def _scan(buf, out, ccap):
    """Read an 837I file.  Returns (status, segment, ref_lo, ref_hi, a, b, n_claims,
    c_text, c_err, c_eref, c_patient, c_nabf, c_spans, written); c_spans[i] =
    [id, isa13, gs06, st02, billed DRG] as (lo, hi) pairs of ``buf`` (-1: none)."""
    n = len(buf)
    cap = len(out)
    c_text = np.full((ccap, 2), -1, np.int64)
    c_err = np.zeros(ccap, np.int32)
    c_eref = np.full((ccap, 2), -1, np.int64)
    c_patient = np.zeros(ccap, np.int8)
    c_nabf = np.zeros(ccap, np.int32)
    c_spans = np.full((ccap, 10), -1, np.int64)
    el_lo = np.empty(64, np.int64)
    el_hi = np.empty(64, np.int64)
    isa_lo = np.empty(17, np.int64)
    isa_hi = np.empty(17, np.int64)
    codes = np.zeros((3, MAX_CODES, 4), np.int64)  # ABF, ABN, procedures: code lo/hi, POA lo/hi
    n_codes = np.zeros(3, np.int64)
    pdx = np.full(4, -1, np.int64)
    admit_dx = np.full(4, -1, np.int64)
    period = np.full(2, -1, np.int64)
    admit = np.full(1, -1, np.int64)
    status = np.full(1, -1, np.int64)
    sub_demo = np.full(4, -1, np.int64)  # 2010BA: birth lo, sex lo, sex hi, 0
    pat_demo = np.full(4, -1, np.int64)  # 2010CA
    cur_demo = sub_demo
    px_other = np.empty((MAX_CODES, 2), np.int64)  # BBQ until the claim ends (BBR goes first)
    n_other = 0
    bbr = np.full(2, -1, np.int64)

    seg = 0  # segments read, the current one's number
    elem = 0
    comp = 0
    term = 0
    in_isa = False
    in_gs = False
    in_st = False
    n_groups = 0
    n_sets = 0
    n_segs = 0
    isa13 = (-1, -1)
    gs06 = (-1, -1)
    st02 = (-1, -1)
    gs08 = (-1, -1)
    level = 0  # HL03 of the current HL: 20, 22, 23
    in_claim = False
    in_lines = False  # 2400 (after LX): service lines, passed over
    claim = 0
    pos = 0
    err = 0
    err_lo = -1
    err_hi = -1
    id_lo = -1
    id_hi = -1
    p = 0
    # a UTF-8 byte-order mark, blanks and line breaks before the first ISA
    if n >= 3 and buf[0] == 0xEF and buf[1] == 0xBB and buf[2] == 0xBF:
        p = 3
    while True:
        while p < n and (buf[p] == 10 or buf[p] == 13 or buf[p] == 32 or buf[p] == 9 or buf[p] == 0):
            p += 1
        if p >= n:
            break
        seg += 1
        if p + 3 <= n and buf[p] == 73 and buf[p + 1] == 83 and buf[p + 2] == 65 and not in_isa:  # ISA
            if p + 4 > n:
                return _TRUNCATED, seg, p, n, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            elem = buf[p + 3]
            if _is_alnum(elem) or elem == 10 or elem == 13 or elem == 32:
                return _ISA, seg, p, p + 4, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            found = 0
            q = p + 3
            while q < n and found < 16:
                if buf[q] == elem:
                    isa_lo[found] = q + 1
                    if found:
                        isa_hi[found - 1] = q
                    found += 1
                q += 1
            if found < 16 or q + 1 >= n:
                return _ISA, seg, p, n, found, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            # q: just after the 16th separator; ISA16 is one character, the terminator follows
            comp = buf[q]
            term = buf[q + 1]
            isa_hi[15] = q + 1
            if _is_alnum(comp) or _is_alnum(term) or comp == elem or term == elem or comp == term:
                return _ISA, seg, p, q + 2, 16, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            isa13 = (isa_lo[12], isa_hi[12])
            while isa13[1] > isa13[0] and buf[isa13[1] - 1] == 32:
                isa13 = (isa13[0], isa13[1] - 1)
            in_isa = True
            n_groups = 0
            p = q + 2
            continue
        if not in_isa:
            if seg == 1:
                return _NOT_X12, seg, p, min(n, p + 3), 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            return _OUTSIDE, seg, p, p, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
        e = p
        while e < n and buf[e] != term:
            e += 1
        if e >= n:
            return _TRUNCATED, seg, p, n, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
        sid_lo = p
        sid_hi = p
        while sid_hi < e and buf[sid_hi] != elem:
            sid_hi += 1
        # a segment id: 2-3 upper-case letters or digits
        ok_id = 2 <= sid_hi - sid_lo <= 3
        for k in range(sid_lo, sid_hi):
            c = buf[k]
            if not ((65 <= c <= 90) or (48 <= c <= 57)):
                ok_id = False
        if not ok_id:
            return _BAD_SEGMENT, seg, p, e, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
        a0 = buf[sid_lo]
        a1 = buf[sid_lo + 1]
        a2 = buf[sid_lo + 2] if sid_hi - sid_lo == 3 else 0
        nxt = e + 1
        # the elements of the segments read (the others: their id is enough)
        ne = 1
        if (a0 == 72 and a1 == 73 and a2 == 0) or (a0 == 68 and a1 == 84 and a2 == 80) or \
                (a0 == 67 and a1 == 76) or (a0 == 72 and a1 == 76 and a2 == 0) or \
                (a0 == 68 and a1 == 77 and a2 == 71) or (a0 == 83 and (a1 == 84 or a1 == 69) and a2 == 0) or \
                (a0 == 71 and (a1 == 83 or a1 == 69) and a2 == 0) or (a0 == 73 and a1 == 69 and a2 == 65):
            ne = _split(buf, p, e, elem, el_lo, el_hi)
        # ---- the end of a claim: the next CLM, HL or SE (or anything of the envelope)
        ends_claim = (a0 == 67 and a1 == 76 and a2 == 77) or (a0 == 72 and a1 == 76 and a2 == 0) or \
                     (a0 == 83 and a1 == 69 and a2 == 0) or (a0 == 71 and a1 == 69 and a2 == 0) or \
                     (a0 == 73 and a1 == 69 and a2 == 65) or (a0 == 83 and a1 == 84 and a2 == 0) or \
                     (a0 == 71 and a1 == 83 and a2 == 0)
        if in_claim and ends_claim:
            k = 0  # the procedures: BBR first, then BBQ in file order
            if bbr[0] >= 0:
                codes[2, 0, 0] = bbr[0]
                codes[2, 0, 1] = bbr[1]
                k = 1
            for j in range(n_other):
                codes[2, k, 0] = px_other[j, 0]
                codes[2, k, 1] = px_other[j, 1]
                k += 1
            n_codes[2] = k
            pos = _finish(buf, out, pos, cap, claim, c_text, c_err, c_eref, c_patient, c_nabf, id_lo, id_hi,
                          cur_demo, period, admit, status, pdx, admit_dx, codes, n_codes, bbr[0] >= 0, err, err_lo,
                          err_hi)
            if pos < 0:
                return _OVERFLOW, seg, 0, 0, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, 0
            claim += 1
            in_claim = False
        if a0 == 73 and a1 == 69 and a2 == 65:  # IEA
            if in_gs:
                return _UNCLOSED, seg, p, e, 1, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            v = _int_of(buf, el_lo[1], el_hi[1]) if ne > 1 else -1
            if v != n_groups:
                return _IEA_COUNT, seg, p, e, v, n_groups, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            if ne < 3 or _int_of(buf, el_lo[2], el_hi[2]) != _int_of(buf, isa13[0], isa13[1]) or \
                    _int_of(buf, el_lo[2], el_hi[2]) < 0:
                if ne < 3 or not _same(buf, el_lo[2], el_hi[2], isa13[0], isa13[1]):
                    return _IEA_CONTROL, seg, p, e, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            in_isa = False
        elif a0 == 71 and a1 == 83 and a2 == 0:  # GS
            if in_gs:
                return _UNCLOSED, seg, p, e, 1, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            in_gs = True
            n_groups += 1
            n_sets = 0
            gs06 = (el_lo[6], el_hi[6]) if ne > 6 else (el_hi[ne - 1], el_hi[ne - 1])
            gs08 = (el_lo[8], el_hi[8]) if ne > 8 else (el_hi[ne - 1], el_hi[ne - 1])
        elif a0 == 71 and a1 == 69 and a2 == 0:  # GE
            if not in_gs or in_st:
                return _UNCLOSED if in_st else _OUTSIDE, seg, p, e, 2, 0, claim, c_text, c_err, c_eref, c_patient, \
                    c_nabf, c_spans, pos
            v = _int_of(buf, el_lo[1], el_hi[1]) if ne > 1 else -1
            if v != n_sets:
                return _GE_COUNT, seg, p, e, v, n_sets, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            if ne < 3 or not (_same(buf, el_lo[2], el_hi[2], gs06[0], gs06[1]) or
                              (_int_of(buf, el_lo[2], el_hi[2]) >= 0 and
                               _int_of(buf, el_lo[2], el_hi[2]) == _int_of(buf, gs06[0], gs06[1]))):
                return _GE_CONTROL, seg, p, e, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            in_gs = False
        elif a0 == 83 and a1 == 84 and a2 == 0:  # ST
            if not in_gs or in_st:
                return _UNCLOSED if in_st else _OUTSIDE, seg, p, e, 3, 0, claim, c_text, c_err, c_eref, c_patient, \
                    c_nabf, c_spans, pos
            if ne < 2 or not _eq(buf, el_lo[1], el_hi[1], 56, 51, 55):  # 837
                return _NOT_837, seg, el_lo[1] if ne > 1 else e, el_hi[1] if ne > 1 else e, 0, 0, claim, c_text, \
                    c_err, c_eref, c_patient, c_nabf, c_spans, pos
            vlo, vhi = gs08
            if ne > 3 and el_hi[3] > el_lo[3]:
                vlo, vhi = el_lo[3], el_hi[3]
            # 005010X223 (any addendum: A1, A2, A3)
            good = vhi - vlo >= 10
            if good:
                g0 = _FRAG_OFF[F_GUIDE]
                for k in range(10):
                    if buf[vlo + k] != _FRAG[g0 + k]:
                        good = False
            if not good:
                return _NOT_837I, seg, vlo, vhi, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            in_st = True
            n_sets += 1
            n_segs = 0
            st02 = (el_lo[2], el_hi[2]) if ne > 2 else (e, e)
            level = 0
            sub_demo[:] = -1
            sub_demo[3] = 0
            pat_demo[:] = -1
            cur_demo = sub_demo
        elif a0 == 83 and a1 == 69 and a2 == 0:  # SE
            if not in_st:
                return _OUTSIDE, seg, p, e, 4, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            n_segs += 1
            v = _int_of(buf, el_lo[1], el_hi[1]) if ne > 1 else -1
            if v != n_segs:
                return _SE_COUNT, seg, p, e, v, n_segs, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            if ne < 3 or not _same(buf, el_lo[2], el_hi[2], st02[0], st02[1]):
                return _SE_CONTROL, seg, p, e, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
            in_st = False
        elif not in_st:
            return _OUTSIDE, seg, p, e, 5, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
        elif a0 == 72 and a1 == 76 and a2 == 0:  # HL: a new level
            level = _int_of(buf, el_lo[3], el_hi[3]) if ne > 3 else 0
            in_lines = False
            if level == 22:
                sub_demo[:] = -1
                sub_demo[3] = 0
                cur_demo = sub_demo
            elif level == 23:
                pat_demo[:] = -1
                pat_demo[3] = 1
                cur_demo = pat_demo
            elif level == 20:
                sub_demo[:] = -1
                sub_demo[3] = 0
                pat_demo[:] = -1
                cur_demo = sub_demo
        elif a0 == 68 and a1 == 77 and a2 == 71 and not in_claim:  # DMG (2010BA or 2010CA)
            if level == 22 or level == 23:
                d = sub_demo if level == 22 else pat_demo
                d[0] = -2
                if ne > 2 and el_hi[2] - el_lo[2] == 8:
                    ok, y, m, dd = _date8(buf, el_lo[2])
                    if ok:
                        d[0] = el_lo[2]
                elif ne <= 2 or el_hi[2] == el_lo[2]:
                    d[0] = -1
                if ne > 3:
                    d[1] = el_lo[3]
                    d[2] = el_hi[3]
                else:
                    d[1] = 0
                    d[2] = 0
        elif a0 == 67 and a1 == 76 and a2 == 77:  # CLM: a claim starts
            if claim >= ccap:
                return _OVERFLOW, seg, 0, 0, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, 0
            in_claim = True
            in_lines = False
            id_lo = el_lo[1] if ne > 1 else e
            id_hi = el_hi[1] if ne > 1 else e
            c_spans[claim, 0] = id_lo
            c_spans[claim, 1] = id_hi
            c_spans[claim, 2] = isa13[0]
            c_spans[claim, 3] = isa13[1]
            c_spans[claim, 4] = gs06[0]
            c_spans[claim, 5] = gs06[1]
            c_spans[claim, 6] = st02[0]
            c_spans[claim, 7] = st02[1]
            n_codes[:] = 0
            pdx[:] = -1
            admit_dx[:] = -1
            period[:] = -1
            admit[0] = -1
            status[0] = -1
            bbr[:] = -1
            n_other = 0
            err = CE_NONE
            err_lo = -1
            err_hi = -1
        elif in_claim and a0 == 76 and a1 == 88 and a2 == 0:  # LX: 2400 service lines
            in_lines = True
        elif in_claim and not in_lines and a0 == 68 and a1 == 84 and a2 == 80 and ne > 3:  # DTP
            if _eq(buf, el_lo[1], el_hi[1], 52, 51, 52):  # 434 statement dates, RD8
                flo, fhi = el_lo[3], el_hi[3]
                period[0] = -2
                if fhi - flo == 17 and buf[flo + 8] == 45:
                    ok1, y, m, dd = _date8(buf, flo)
                    ok2, y, m, dd = _date8(buf, flo + 9)
                    if ok1 and ok2:
                        period[0] = flo
                        period[1] = flo + 9
                elif fhi - flo == 8:  # D8: one day
                    ok1, y, m, dd = _date8(buf, flo)
                    if ok1:
                        period[0] = flo
                        period[1] = flo
            elif _eq(buf, el_lo[1], el_hi[1], 52, 51, 53):  # 435 admission date/hour, D8 or DT
                flo, fhi = el_lo[3], el_hi[3]
                admit[0] = -2
                if fhi - flo == 8 or fhi - flo == 12:
                    ok1, y, m, dd = _date8(buf, flo)
                    if ok1:
                        admit[0] = flo
        elif in_claim and not in_lines and a0 == 67 and a1 == 76 and a2 == 49:  # CL1
            status[0] = -1
            if ne > 3 and el_hi[3] > el_lo[3]:
                v = _int_of(buf, el_lo[3], el_hi[3])
                status[0] = v if (v >= 0 and el_hi[3] - el_lo[3] <= 2) else -2
        elif in_claim and not in_lines and a0 == 72 and a1 == 73 and a2 == 0:  # HI
            for k in range(1, ne):
                lo, hi = el_lo[k], el_hi[k]
                if hi <= lo:
                    continue
                qlo, qhi = _component(buf, lo, hi, comp, 0)
                clo, chi = _component(buf, lo, hi, comp, 1)
                if clo < 0:
                    clo, chi = hi, hi
                plo, phi = _component(buf, lo, hi, comp, 8)
                if plo < 0:
                    plo, phi = hi, hi
                while phi > plo and buf[phi - 1] == 32:  # a blank POA: not reported
                    phi -= 1
                which = -1  # 0 ABK, 1 ABJ, 2 ABF, 3 ABN, 4 BBR, 5 BBQ, 6 DR, 9 ICD-9
                if _eq(buf, qlo, qhi, 65, 66, 75):
                    which = 0
                elif _eq(buf, qlo, qhi, 65, 66, 74):
                    which = 1
                elif _eq(buf, qlo, qhi, 65, 66, 70):
                    which = 2
                elif _eq(buf, qlo, qhi, 65, 66, 78):
                    which = 3
                elif _eq(buf, qlo, qhi, 66, 66, 82):
                    which = 4
                elif _eq(buf, qlo, qhi, 66, 66, 81):
                    which = 5
                elif _eq(buf, qlo, qhi, 68, 82, 0):
                    which = 6
                elif (_eq(buf, qlo, qhi, 66, 75, 0) or _eq(buf, qlo, qhi, 66, 74, 0) or _eq(buf, qlo, qhi, 66, 70, 0)
                      or _eq(buf, qlo, qhi, 66, 78, 0) or _eq(buf, qlo, qhi, 66, 82, 0)
                      or _eq(buf, qlo, qhi, 66, 81, 0)):
                    which = 9
                if which < 0:
                    continue  # occurrence, value, condition codes, ...: passed over
                if which == 6:
                    if c_spans[claim, 8] < 0:
                        c_spans[claim, 8] = clo
                        c_spans[claim, 9] = chi
                    continue
                if err != CE_NONE:
                    continue
                if which == 9:
                    err, err_lo, err_hi = CE_ICD9, qlo, qhi
                    continue
                if not _code_ok(buf, clo, chi):
                    err, err_lo, err_hi = CE_BAD_CODE, qlo, qhi
                    continue
                if which == 0:
                    if pdx[0] >= 0:
                        err, err_lo, err_hi = CE_TWO_PDX, qlo, qhi
                    pdx[0], pdx[1], pdx[2], pdx[3] = clo, chi, plo, phi
                elif which == 1:
                    if admit_dx[0] >= 0:
                        err, err_lo, err_hi = CE_TWO_ABJ, qlo, qhi
                    admit_dx[0], admit_dx[1], admit_dx[2], admit_dx[3] = clo, chi, plo, phi
                elif which == 2 or which == 3:
                    lst = which - 2
                    j = n_codes[lst]
                    if j >= MAX_CODES:
                        err, err_lo, err_hi = CE_TOO_MANY, qlo, qhi
                        continue
                    codes[lst, j, 0] = clo
                    codes[lst, j, 1] = chi
                    codes[lst, j, 2] = plo
                    codes[lst, j, 3] = phi
                    n_codes[lst] = j + 1
                elif which == 4:
                    if bbr[0] >= 0:
                        err, err_lo, err_hi = CE_TWO_BBR, qlo, qhi
                    bbr[0], bbr[1] = clo, chi
                else:
                    if n_other >= MAX_CODES - 1:
                        err, err_lo, err_hi = CE_TOO_MANY, qlo, qhi
                        continue
                    px_other[n_other, 0] = clo
                    px_other[n_other, 1] = chi
                    n_other += 1
        if in_st:
            n_segs += 1
        p = nxt
    if in_isa or in_gs or in_st:
        return _TRUNCATED, seg + 1, n, n, 1 if in_st else (2 if in_gs else 3), 0, claim, c_text, c_err, c_eref, \
            c_patient, c_nabf, c_spans, pos
    if seg == 0:
        return _NOT_X12, 0, 0, 0, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos
    return _OK, seg, 0, 0, 0, 0, claim, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, pos


@njit(cache=_CACHE, nogil=True)
def _find_drg(doc, lo, hi):
    """The final DRG of a result document doc[lo:hi] (its first ``"drg":"NNN"``), -1 when none."""
    plo = _FRAG_OFF[T_DRG]
    m = _FRAG_OFF[T_DRG + 1] - plo
    for p in range(lo, hi - m - 3):
        found = True
        for k in range(m):
            if doc[p + k] != _FRAG[plo + k]:
                found = False
                break
        if found:
            v = 0
            for k in range(p + m, p + m + 3):
                c = doc[k]
                if c < 48 or c > 57:
                    return -1
                v = v * 10 + (c - 48)
            return v
    return -1


@njit(cache=_CACHE, nogil=True)
def _assemble(data, docs, ends, taken, own, own_off, spans, billed_fields, base, out):
    """Each claim's result, in file order, one a line: a taken claim's document
    from ``docs`` (the pipeline's, in order, the k-th ending at ``ends[k]``) with its place in the
    file (and billed DRG) written in before its closing brace; a claim the file
    codes wrongly takes its document from ``own`` (``own_off``, in order) and
    gets the same.  Claim ``i`` is the file's ``base + i + 1``-th.  Returns (bytes written, -1: ``out`` too small; billed DRGs;
    billed DRGs that differ)."""
    n = len(taken)
    q = 0
    t = 0
    r = 0
    pos = 0
    cap = len(out)
    billed_n = 0
    differ = 0
    for i in range(n):
        if taken[i]:
            e = ends[t]
            t += 1
            src = docs
            lo, hi = q, e
            q = e + 1
        else:
            src = own
            lo, hi = own_off[r], own_off[r + 1]
            r += 1
        s = spans[i]
        need = hi - lo + 120 + 6 * (s[3] - s[2] + s[5] - s[4] + s[7] - s[6]) + (6 * (s[9] - s[8]) if s[8] >= 0 else 0)
        if pos + need > cap:
            return -1, billed_n, differ
        out[pos:pos + hi - 1 - lo] = src[lo:hi - 1]
        pos += hi - 1 - lo
        pos = _put(out, pos, T_ISA)
        pos = _put_str(out, pos, data, s[2], s[3])
        pos = _put(out, pos, T_GS)
        pos = _put_str(out, pos, data, s[4], s[5])
        pos = _put(out, pos, T_ST)
        pos = _put_str(out, pos, data, s[6], s[7])
        pos = _put(out, pos, T_ORD)
        pos = _put_int(out, pos, base + i + 1)
        pos = _put(out, pos, T_CLOSE)
        if billed_fields and s[8] >= 0:
            blo, bhi = s[8], s[9]
            while blo < bhi and data[blo] == 32:
                blo += 1
            while bhi > blo and data[bhi - 1] == 32:
                bhi -= 1
            billed_n += 1
            pos = _put(out, pos, T_BILLED)
            pos = _put_str(out, pos, data, blo, bhi)
            pos = _put(out, pos, T_MATCH)
            drg = _find_drg(src, lo, hi) if taken[i] else -1
            if drg < 0:
                pos = _put(out, pos, T_NULL)
            else:
                b = _int_of(data, blo, bhi)
                if b == drg:
                    pos = _put(out, pos, T_TRUE)
                else:
                    pos = _put(out, pos, T_FALSE)
                    differ += 1
        out[pos] = 125
        out[pos + 1] = 10
        pos += 2
    return pos, billed_n, differ
