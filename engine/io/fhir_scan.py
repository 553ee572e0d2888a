"""The compiled pass of the FHIR batch road (engine.io.fhir_bundle): JSON bytes to a tape of
tokens, the structure check of FHIR resources over that tape, Claims/EOBs mapped to our claims'
JSON texts, and the grouper's result documents written as ``Parameters``.

Why a module of its own: it is the part that is compiled (numba, cached on disk);
engine.io.fhir_bundle around it is Python that builds its tables and hands it bytes.
It calls two compiled helpers of engine.parse and engine.render, see :data:`_CACHE`.

Every function answers "not taken" (a negative number, False) for anything it does not
state exactly; the caller then takes the Python road (engine.io.fhir), which decides.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# the compiled JSON reader's blank skipper and the result writer's memcpy: both modules are part of
# the kernel's cache key (engine.numba_cache), so a change to them starts a fresh cache for this one too
from ..parse import _ws
from ..render import _copy as _memcpy

#: numba's on-disk cache for this module's compiled code.  What it calls from outside this file
#: (engine.parse's ``_ws``, engine.render's memcpy) is in the kernel's cache key (engine.numba_cache):
#: numba's own check of this file's stamp, and that key, keep its cache right; this file is not in
#: the key (no literal ``cache=True``), so editing it never recompiles the kernel.
_CACHE = True

# ---- the tape -----------------------------------------------------------------------------------
#: token kinds
K_OBJ, K_ARR, K_STR, K_NUM, K_TRUE, K_FALSE, K_NULL, K_KEY = range(1, 9)
#: tape columns: kind, first byte (a string's: after its quote), end (a string's: its closing
#: quote; a container's: after its bracket), the token after the subtree, key id (a KEY's), flags
C_KIND, C_START, C_END, C_NEXT, C_KEYID, C_FLAGS = range(6)
#: flags: a string with an escape or a byte >= 0x80; a number with a fraction; with an exponent
F_RAW, F_FRACTION, F_EXPONENT = 1, 2, 4
_MAX_DEPTH = 64
#: byte classes inside a string: 0 an ordinary byte, 1 the closing quote, 2 a backslash, 3 a
#: control byte (not JSON), 4 a byte of a non-ASCII character
_IN_STRING = np.zeros(256, np.uint8)
_IN_STRING[:32] = 3
_IN_STRING[34] = 1
_IN_STRING[92] = 2
_IN_STRING[128:] = 4
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def _pointer(context, builder, array_type, array, offset, offset_type):
    """An i8* to ``array[offset]`` (codegen of the intrinsics below)."""
    data = context.make_array(array_type)(context, builder, array).data
    at = builder.gep(data, [context.cast(builder, offset, offset_type, types.int64)])
    return builder.bitcast(at, ir.IntType(8).as_pointer())


def _libc(builder, name: str, returns, *args):
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(returns, list(args)), name)


@intrinsic
def _memeq(typingctx, a, alo, b, blo, n):
    """``a[alo:alo + n] == b[blo:blo + n]`` by the C library's memcmp (byte arrays, bounds checked
    by the caller): names and code systems are compared at every element."""
    if not (isinstance(a, types.Array) and isinstance(b, types.Array)
            and a.dtype == types.uint8 and b.dtype == types.uint8):
        return None

    def codegen(context, builder, signature, args):
        t_a, t_alo, t_b, t_blo, t_n = signature.args
        ptr = ir.IntType(8).as_pointer()
        memcmp = _libc(builder, "memcmp", ir.IntType(32), ptr, ptr, ir.IntType(64))
        res = builder.call(memcmp, [_pointer(context, builder, t_a, args[0], args[1], t_alo),
                                    _pointer(context, builder, t_b, args[2], args[3], t_blo),
                                    context.cast(builder, args[4], t_n, types.int64)])
        return builder.icmp_signed("==", res, ir.Constant(ir.IntType(32), 0))

    return types.boolean(a, alo, b, blo, n), codegen


@intrinsic
def _memchr(typingctx, a, lo, n, byte):
    """The offset of the first ``byte`` in ``a[lo:lo + n]`` from ``lo``, -1 when none (the C
    library's memchr: strings are scanned for blanks at every element)."""
    if not (isinstance(a, types.Array) and a.dtype == types.uint8):
        return None

    def codegen(context, builder, signature, args):
        t_a, t_lo, t_n, t_b = signature.args
        ptr = ir.IntType(8).as_pointer()
        i64 = ir.IntType(64)
        memchr = _libc(builder, "memchr", ptr, ptr, ir.IntType(32), i64)
        start = _pointer(context, builder, t_a, args[0], args[1], t_lo)
        found = builder.call(memchr, [start, context.cast(builder, args[3], t_b, types.int32),
                                      context.cast(builder, args[2], t_n, types.int64)])
        at = builder.sub(builder.ptrtoint(found, i64), builder.ptrtoint(start, i64))
        return builder.select(builder.icmp_unsigned("==", found, ir.Constant(ptr, None)), ir.Constant(i64, -1), at)

    return types.int64(a, lo, n, byte), codegen


@njit(cache=_CACHE, nogil=True, _nrt=False)
def fnv(buf, lo, hi, h):
    for k in range(lo, hi):
        h = (h ^ np.uint64(buf[k])) * _FNV_PRIME
    return h


@njit(cache=_CACHE, nogil=True, _nrt=False)
def key_slot(buf, lo, hi, kbits):
    """A name's first slot in the names' hash table: from its length and four of its bytes (a
    hash of every byte cost half the tokenizing; the probe compares the whole name)."""
    n = hi - lo
    h = np.uint64(n)
    if n > 0:
        h = h * np.uint64(257) + np.uint64(buf[lo])
        h = h * np.uint64(257) + np.uint64(buf[hi - 1])
        h = h * np.uint64(257) + np.uint64(buf[lo + n // 2])
        h = h * np.uint64(257) + np.uint64(buf[lo + n // 3])
    return (h * np.uint64(0x9E3779B97F4A7C15)) >> (np.uint64(64) - kbits)


@njit(cache=_CACHE, nogil=True, _nrt=False)
def key_id(buf, lo, hi, ktab, kbits, kblob, koff):
    """The id of the name ``buf[lo:hi]`` in the names' hash table, -1 when not one of them."""
    mask = np.uint64(len(ktab) - 1)
    s = key_slot(buf, lo, hi, kbits)
    while True:
        k = ktab[s]
        if k < 0:
            return -1
        a = koff[k]
        if koff[k + 1] - a == hi - lo and _memeq(kblob, a, buf, lo, hi - lo):
            return k
        s = (s + np.uint64(1)) & mask


@njit(cache=_CACHE, nogil=True)
def tokenize(buf, tape, ktab, kbits, kblob, koff, strict):
    """Tokens of the JSON document ``buf`` into ``tape`` (pre-order); their number, -1 when the
    text is not JSON as this reads it (``strict``: a string with an escape or a non-ASCII byte is
    not read either), -2 when the tape is full."""
    n = len(buf)
    cap = tape.shape[0]
    cls = _IN_STRING
    stack = np.empty(_MAX_DEPTH, np.int64)
    depth = 0
    t = 0
    state = 0  # 0 a value, 1 after a value, 2 a key or "}", 3 a value or "]", 4 a key
    p = _ws(buf, 0, n)
    while p < n:
        c = buf[p]
        if state == 1:
            if depth == 0:
                return -1
            top = stack[depth - 1]
            if c == 44:  # ,
                state = 4 if tape[top, C_KIND] == K_OBJ else 0
                p = _ws(buf, p + 1, n)
                continue
            if (c == 125 and tape[top, C_KIND] == K_OBJ) or (c == 93 and tape[top, C_KIND] == K_ARR):
                tape[top, C_END] = p + 1
                tape[top, C_NEXT] = t
                depth -= 1
                p = _ws(buf, p + 1, n)
                continue
            return -1
        if state == 2 and c == 125 or state == 3 and c == 93:
            top = stack[depth - 1]
            tape[top, C_END] = p + 1
            tape[top, C_NEXT] = t
            depth -= 1
            state = 1
            p = _ws(buf, p + 1, n)
            continue
        if t >= cap:
            return -2
        tape[t, C_KEYID] = -1
        tape[t, C_FLAGS] = 0
        if state == 2 or state == 4:  # a key
            if c != 34:
                return -1
            q = p + 1
            while q < n and cls[buf[q]] == 0:
                q += 1
            if q >= n or buf[q] != 34:
                return -1
            tape[t, C_KIND] = K_KEY
            tape[t, C_START] = p + 1
            tape[t, C_END] = q
            tape[t, C_NEXT] = t + 1
            tape[t, C_KEYID] = key_id(buf, p + 1, q, ktab, kbits, kblob, koff)
            t += 1
            p = _ws(buf, q + 1, n)
            if p >= n or buf[p] != 58:
                return -1
            p = _ws(buf, p + 1, n)
            state = 0
            continue
        # a value
        tape[t, C_START] = p
        if c == 123 or c == 91:
            if depth >= _MAX_DEPTH:
                return -1
            tape[t, C_KIND] = K_OBJ if c == 123 else K_ARR
            stack[depth] = t
            depth += 1
            t += 1
            state = 2 if c == 123 else 3
            p = _ws(buf, p + 1, n)
            continue
        if c == 34:
            q = p + 1
            flags = 0
            while q < n:
                k = cls[buf[q]]
                if k == 0:
                    q += 1
                    continue
                if k == 1:
                    break
                if k == 3 or strict:
                    return -1
                flags = F_RAW
                if k == 2:  # an escape: one of JSON's (the text is the engine's own: not checked further)
                    q += 1
                    if q >= n:
                        return -1
                    e = buf[q]
                    if e == 117:
                        if q + 4 >= n:
                            return -1
                        for j in range(q + 1, q + 5):
                            h = buf[j]
                            if not (48 <= h <= 57 or 65 <= h <= 70 or 97 <= h <= 102):
                                return -1
                        q += 4
                    elif not (e == 34 or e == 92 or e == 47 or e == 98 or e == 102 or e == 110 or e == 114
                              or e == 116):
                        return -1
                q += 1
            if q >= n:
                return -1
            tape[t, C_KIND] = K_STR
            tape[t, C_START] = p + 1
            tape[t, C_END] = q
            tape[t, C_FLAGS] = flags
            p = q + 1
        elif c == 45 or (48 <= c <= 57):
            q = p + 1 if c == 45 else p
            if q >= n or not (48 <= buf[q] <= 57):
                return -1
            if buf[q] == 48:
                q += 1
            else:
                while q < n and 48 <= buf[q] <= 57:
                    q += 1
            flags = 0
            if q < n and buf[q] == 46:
                q += 1
                if q >= n or not (48 <= buf[q] <= 57):
                    return -1
                while q < n and 48 <= buf[q] <= 57:
                    q += 1
                flags |= F_FRACTION
            if q < n and (buf[q] == 101 or buf[q] == 69):
                q += 1
                if q < n and (buf[q] == 43 or buf[q] == 45):
                    q += 1
                if q >= n or not (48 <= buf[q] <= 57):
                    return -1
                while q < n and 48 <= buf[q] <= 57:
                    q += 1
                flags |= F_EXPONENT
            tape[t, C_KIND] = K_NUM
            tape[t, C_END] = q
            tape[t, C_FLAGS] = flags
            p = q
        elif c == 116 and p + 4 <= n and buf[p + 1] == 114 and buf[p + 2] == 117 and buf[p + 3] == 101:
            tape[t, C_KIND] = K_TRUE
            p += 4
            tape[t, C_END] = p
        elif c == 102 and p + 5 <= n and buf[p + 1] == 97 and buf[p + 2] == 108 and buf[p + 3] == 115 \
                and buf[p + 4] == 101:
            tape[t, C_KIND] = K_FALSE
            p += 5
            tape[t, C_END] = p
        elif c == 110 and p + 4 <= n and buf[p + 1] == 117 and buf[p + 2] == 108 and buf[p + 3] == 108:
            tape[t, C_KIND] = K_NULL
            p += 4
            tape[t, C_END] = p
        else:
            return -1
        if p < n:  # a literal or number runs into the next token only through a separator
            b = buf[p]
            if not (b == 44 or b == 93 or b == 125 or b == 32 or b == 9 or b == 10 or b == 13 or b == 58
                    or tape[t, C_KIND] == K_STR):
                return -1
        tape[t, C_NEXT] = t + 1
        t += 1
        state = 1
        p = _ws(buf, p, n)
    if depth != 0 or state != 1 or t == 0:
        return -1
    return t


@njit(cache=_CACHE, nogil=True, _nrt=False)
def member(tape, t, key):
    """The value token of member ``key`` of object ``t``, -1 when it has none."""
    c = t + 1
    end = tape[t, C_NEXT]
    while c < end:
        if tape[c, C_KEYID] == key:
            return c + 1
        c = tape[c + 1, C_NEXT]
    return -1


@njit(cache=_CACHE, nogil=True, _nrt=False)
def str_is(buf, tape, v, sblob, soff, k):
    """Token ``v`` is the string constant ``k``."""
    if v < 0 or tape[v, C_KIND] != K_STR:
        return False
    a = soff[k]
    lo = tape[v, C_START]
    if tape[v, C_END] - lo != soff[k + 1] - a:
        return False
    return _memeq(buf, lo, sblob, a, soff[k + 1] - a)


@njit(cache=_CACHE, nogil=True, _nrt=False)
def same_text(buf, alo, ahi, blo, bhi):
    return ahi - alo == bhi - blo and _memeq(buf, alo, buf, blo, ahi - alo)


# ---- the structure check ------------------------------------------------------------------------
#: element kinds (engine.io.fhir_bundle's tables); an element of a FHIR type is E_TYPE + its index
(E_DONE, E_STRING, E_CODE, E_ID, E_URI, E_DATE, E_DATETIME, E_INSTANT, E_DECIMAL, E_INTEGER, E_UNSIGNED,
 E_POSITIVE, E_BOOLEAN, E_RESOURCE_TYPE, E_RESOURCE, E_ENTRY_RESOURCE) = range(16)
E_TYPE = 100


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _digits(buf, lo, k):
    v = 0
    for j in range(lo, lo + k):
        c = buf[j]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + c - 48
    return v


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _month_days(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


@njit(cache=_CACHE, nogil=True, _nrt=False)
def date_form(buf, lo, hi):
    """0 a year, 1 a year-month, 2 a full date (calendar-valid), 3 a full date with a time and a
    zone as FHIR's instant writes it; -1 none of them."""
    n = hi - lo
    if n < 4:
        return -1
    y = _digits(buf, lo, 4)
    if y <= 0:  # (year 0000 is not one)
        return -1
    if n == 4:
        return 0
    if n < 7 or buf[lo + 4] != 45:
        return -1
    m = _digits(buf, lo + 5, 2)
    if m < 1 or m > 12:
        return -1
    if n == 7:
        return 1
    if n < 10 or buf[lo + 7] != 45:
        return -1
    d = _digits(buf, lo + 8, 2)
    if d < 1 or d > _month_days(y, m):
        return -1
    if n == 10:
        return 2
    p = lo + 10
    if n < 20 or buf[p] != 84 or buf[p + 3] != 58 or buf[p + 6] != 58:
        return -1
    hh = _digits(buf, p + 1, 2)
    mi = _digits(buf, p + 4, 2)
    ss = _digits(buf, p + 7, 2)
    if hh < 0 or hh > 23 or mi < 0 or mi > 59 or ss < 0 or ss > 59:
        return -1
    p += 9
    if buf[p] == 46:
        k = 0
        p += 1
        while p < hi and 48 <= buf[p] <= 57:
            p += 1
            k += 1
        if k < 1 or k > 6:
            return -1
    if p >= hi:
        return -1
    if buf[p] == 90:
        return 3 if p + 1 == hi else -1
    if (buf[p] != 43 and buf[p] != 45) or hi - p != 6 or buf[p + 3] != 58:
        return -1
    zh = _digits(buf, p + 1, 2)
    zm = _digits(buf, p + 4, 2)
    if zh < 0 or zm < 0 or zm > 59 or zh > 14 or (zh == 14 and zm != 0):
        return -1
    return 3


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _primitive(buf, tape, v, e):
    kind = tape[v, C_KIND]
    if e == E_BOOLEAN:
        return kind == K_TRUE or kind == K_FALSE
    if e >= E_DECIMAL and e <= E_POSITIVE:
        if kind != K_NUM:
            return False
        flags = tape[v, C_FLAGS]
        lo = tape[v, C_START]
        hi = tape[v, C_END]
        if e == E_DECIMAL:
            return flags == 0 or (flags == F_FRACTION and hi - lo <= 17)
        if flags != 0 or hi - lo > 11:
            return False
        neg = buf[lo] == 45
        x = _digits(buf, lo + 1 if neg else lo, hi - lo - 1 if neg else hi - lo)
        if neg:
            x = -x
        if e == E_INTEGER:
            return -2147483648 <= x <= 2147483647
        return (0 if e == E_UNSIGNED else 1) <= x <= 2147483647
    if kind != K_STR or tape[v, C_FLAGS] != 0:
        return False
    lo = tape[v, C_START]
    hi = tape[v, C_END]
    if hi <= lo:
        return False
    if e == E_STRING:
        return True
    if e == E_CODE:  # no blank at either end, single blanks inside
        j = lo
        while j < hi:
            k = _memchr(buf, j, hi - j, 32)
            if k < 0:
                return True
            j += k
            if j == lo or j == hi - 1 or buf[j + 1] == 32:
                return False
            j += 1
        return True
    if e == E_URI:
        return _memchr(buf, lo, hi - lo, 32) < 0
    if e == E_ID:
        if hi - lo > 255:
            return False
        for j in range(lo, hi):
            c = buf[j]
            if not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 45 or c == 46):
                return False
        return True
    form = date_form(buf, lo, hi)
    if e == E_DATE:
        return 0 <= form <= 2
    if e == E_DATETIME:
        return form >= 0
    if e == E_INSTANT:
        return form == 3
    return False


@njit(cache=_CACHE, nogil=True, _nrt=False)
def check(buf, tape, root, root_type, expect, stamp, field_of, f_kind, f_many, req_off, req, grp_off, grp_req,
          grp_mem_off, grp_mem, type_rt, rt_types, sblob, soff, rt_key):
    """Whether the resource at token ``root`` is of FHIR type ``root_type`` as the tables state
    it (engine.io.fhir_bundle: fhir.resources' models through engine.io.fhir_fast's schema, or
    stricter).  ``expect``, ``stamp``: scratch the size of the tape and of the fields."""
    expect[root] = E_TYPE + root_type
    t = root
    end = tape[root, C_NEXT]
    while t < end:
        kind = tape[t, C_KIND]
        if kind == K_KEY:
            t += 1
            continue
        e = expect[t]
        if e == E_DONE:
            t += 1
            continue
        if e == E_ENTRY_RESOURCE:  # a Bundle entry's resource: checked on its own
            if kind != K_OBJ:
                return False
            t = tape[t, C_NEXT]
            continue
        if e == E_RESOURCE:  # a contained resource: its type by its resourceType
            if kind != K_OBJ:
                return False
            v = member(tape, t, rt_key)
            e = -1
            for j in range(len(rt_types)):
                if str_is(buf, tape, v, sblob, soff, type_rt[rt_types[j]]):
                    e = E_TYPE + rt_types[j]
            if e < 0:
                return False
        if e >= E_TYPE:
            if kind != K_OBJ:
                return False
            ty = e - E_TYPE
            c = t + 1
            stop = tape[t, C_NEXT]
            members = 0
            entry_resource = False
            while c < stop:
                key = tape[c, C_KEYID]
                if key < 0:
                    return False
                f = field_of[ty, key]
                if f < 0 or stamp[f] == t:
                    return False
                stamp[f] = t
                v = c + 1
                fk = f_kind[f]
                if fk != E_ENTRY_RESOURCE:
                    members += 1
                else:
                    entry_resource = True
                if f_many[f]:
                    if tape[v, C_KIND] != K_ARR or tape[v, C_NEXT] == v + 1:
                        return False
                    expect[v] = E_DONE
                    i = v + 1
                    while i < tape[v, C_NEXT]:
                        expect[i] = fk
                        i = tape[i, C_NEXT]
                elif fk == E_RESOURCE_TYPE:
                    if type_rt[ty] < 0 or not str_is(buf, tape, v, sblob, soff, type_rt[ty]):
                        return False
                    expect[v] = E_DONE
                else:
                    expect[v] = fk
                c = tape[v, C_NEXT]
            if members == 0 and not entry_resource:  # (an entry of a resource alone: the library
                return False                            # takes the shell's {}, tests/test_fhir_bundle.py)
            for j in range(req_off[ty], req_off[ty + 1]):
                if stamp[req[j]] != t:
                    return False
            for g in range(grp_off[ty], grp_off[ty + 1]):
                count = 0
                for j in range(grp_mem_off[g], grp_mem_off[g + 1]):
                    if stamp[grp_mem[j]] == t:
                        count += 1
                if count > 1 or (count == 0 and grp_req[g]):
                    return False
            t += 1
            continue
        if not _primitive(buf, tape, t, e):
            return False
        t += 1
    return True


# ---- names and constants ------------------------------------------------------------------------
#: member names the compiled code reads by id (their ids are their positions: the names' table
#: of engine.io.fhir_bundle puts them first, then every element name of the structure tables)
NAMES = ("resourceType", "id", "patient", "reference", "contained", "supportingInfo", "category", "coding",
         "system", "code", "timingPeriod", "billablePeriod", "start", "end", "diagnosis", "sequence", "type",
         "diagnosisCodeableConcept", "diagnosisReference", "onAdmission", "procedure", "procedureCodeableConcept",
         "procedureReference", "extension", "url", "valueCode", "birthDate", "gender", "entry", "fullUrl",
         "resource",
         # the grouper's result documents
         "version", "drg", "drg_description", "mdc", "mdc_description", "initial_drg", "initial_mdc",
         "return_code", "severity", "initial", "final", "med_surg", "hac_status", "weight", "adjusted_weight",
         "payment_estimate", "amount", "pdx", "sdx", "procedures", "poa", "affects_drg", "severity_usage",
         "poa_error", "hacs", "number", "status", "edits", "is_or", "hac_usage", "edit_type")
(N_RT, N_ID, N_PATIENT, N_REFERENCE, N_CONTAINED, N_SUPPORTING, N_CATEGORY, N_CODING, N_SYSTEM, N_CODE,
 N_TIMING_PERIOD, N_BILLABLE, N_START, N_END, N_DIAGNOSIS, N_SEQUENCE, N_TYPE, N_DX_CONCEPT, N_DX_REFERENCE,
 N_ON_ADMISSION, N_PROCEDURE, N_PX_CONCEPT, N_PX_REFERENCE, N_EXTENSION, N_URL, N_VALUE_CODE, N_BIRTH,
 N_GENDER, N_ENTRY, N_FULL_URL, N_RESOURCE,
 R_VERSION, R_DRG, R_DRG_DESC, R_MDC, R_MDC_DESC, R_INITIAL_DRG, R_INITIAL_MDC, R_RETURN_CODE, R_SEVERITY,
 R_INITIAL, R_FINAL, R_MED_SURG, R_HAC_STATUS, R_WEIGHT, R_ADJUSTED_WEIGHT, R_PAYMENT, R_AMOUNT, R_PDX, R_SDX,
 R_PROCEDURES, R_POA, R_AFFECTS, R_SEVERITY_USAGE, R_POA_ERROR, R_HACS, R_NUMBER, R_STATUS, R_EDITS, R_IS_OR,
 R_HAC_USAGE, R_EDIT_TYPE) = range(len(NAMES))

#: string constants (the caller passes them as one blob, these first, then each FHIR type's
#: resourceType name); engine.io.fhir's code systems and category codes, in this order
CONSTANTS_HEAD = ("icd10cm", "icd10pcs", "msdrg", "nubc_discharge", "hospital_status_extension",
                  "admissionperiod", "discharge-status", "drg", "principal", "externalcauseofinjury", "admitting",
                  "female", "male", "Patient", "not_exempt", "exempt", "unknown", "Claim", "ExplanationOfBenefit",
                  "Bundle")
(S_ICD10CM, S_ICD10PCS, S_MSDRG, S_NUBC, S_HS_EXT, S_ADMISSIONPERIOD, S_DISCHARGE_STATUS, S_DRG, S_PRINCIPAL,
 S_EXTERNAL, S_ADMITTING, S_FEMALE, S_MALE, S_PATIENT, S_NOT_EXEMPT, S_EXEMPT, S_UNKNOWN, S_CLAIM, S_EOB,
 S_BUNDLE) = range(len(CONSTANTS_HEAD))

#: why a Bundle is left to the Python road (tests and the docs name them; never an answer)
(SLOW_NONE, SLOW_JSON, SLOW_SHAPE, SLOW_ENTRY, SLOW_STRUCTURE, SLOW_MAPPING, SLOW_FULL) = range(7)


# ---- the claims' JSON texts -----------------------------------------------------------------------
_CLAIM_FRAGS = (',"id":"', ',"hospital_status":"', ',"discharge_date":"', ',"admission_date":"', ',"age":',
                ',"sex":"', ',"discharge_status":"', ',"pdx":{"code":"', ',"poa":"', '}', ',"admit_dx":"',
                ',"sdx":[', '{"code":"', ',', '],"procedures":[', '"', ']}')
(W_ID, W_HS, W_DIS, W_ADM, W_AGE, W_SEX, W_DSTAT, W_PDX, W_POA, W_CLOSE, W_ADMIT, W_SDX, W_CODE, W_COMMA,
 W_PX, W_QUOTE, W_END) = range(len(_CLAIM_FRAGS))
_CF = np.frombuffer("".join(_CLAIM_FRAGS).encode("ascii"), np.uint8)
_CF_OFF = np.cumsum([0] + [len(f) for f in _CLAIM_FRAGS]).astype(np.int64)


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _frag(out, p, blob, off, k):
    a = off[k]
    n = off[k + 1] - a
    _memcpy(out, p, blob, a, n)
    return p + n


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _copy(out, p, buf, lo, hi):
    if hi > lo:
        _memcpy(out, p, buf, lo, hi - lo)
    return p + hi - lo


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _copy_str(out, p, buf, tape, v):
    return _copy(out, p, buf, tape[v, C_START], tape[v, C_END])


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _int(out, p, x):
    if x < 0:
        out[p] = 45
        p += 1
        x = -x
    digits = 1
    y = x
    while y >= 10:
        y //= 10
        digits += 1
    for j in range(digits - 1, -1, -1):
        out[p + j] = 48 + x % 10
        x //= 10
    return p + digits


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _codings(tape, concept):
    """The ``coding`` array token of CodeableConcept token ``concept``, -1 when none."""
    if concept < 0 or tape[concept, C_KIND] != K_OBJ:
        return -1
    return member(tape, concept, N_CODING)


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _codings_with(buf, tape, concept, sblob, soff, code_k):
    """Whether CodeableConcept token ``concept`` has a coding whose code is constant ``code_k``."""
    codings = _codings(tape, concept)
    if codings < 0:
        return False
    c = codings + 1
    while c < tape[codings, C_NEXT]:
        if tape[c, C_KIND] == K_OBJ and str_is(buf, tape, member(tape, c, N_CODE), sblob, soff, code_k):
            return True
        c = tape[c, C_NEXT]
    return False


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _concept_code(buf, tape, concept, sblob, soff, system_k):
    """engine.io.fhir._concept_code: the code token of the first coding (of system constant
    ``system_k``; -1: any) that has a code; -1 when none."""
    codings = _codings(tape, concept)
    if codings < 0:
        return -1
    c = codings + 1
    while c < tape[codings, C_NEXT]:
        if tape[c, C_KIND] == K_OBJ:
            code = member(tape, c, N_CODE)
            if code >= 0 and tape[code, C_KIND] == K_STR and (
                    system_k < 0 or str_is(buf, tape, member(tape, c, N_SYSTEM), sblob, soff, system_k)):
                return code
        c = tape[c, C_NEXT]
    return -1


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _supporting(buf, tape, res, sblob, soff, category_k):
    """engine.io.fhir._supporting: the first supportingInfo item of the category, -1 when none."""
    infos = member(tape, res, N_SUPPORTING)
    if infos < 0:
        return -1
    c = infos + 1
    while c < tape[infos, C_NEXT]:
        if _codings_with(buf, tape, member(tape, c, N_CATEGORY), sblob, soff, category_k):
            return c
        c = tape[c, C_NEXT]
    return -1


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _full_date(buf, tape, v):
    """(year, month, day) of a date or dateTime token of a full date (engine.io.fhir._date), y 0: none."""
    if v < 0 or tape[v, C_KIND] != K_STR or tape[v, C_END] - tape[v, C_START] < 10:
        return 0, 0, 0
    lo = tape[v, C_START]
    if date_form(buf, lo, lo + 10) != 2:
        return 0, 0, 0
    return _digits(buf, lo, 4), _digits(buf, lo + 5, 2), _digits(buf, lo + 8, 2)


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _code_of(buf, tape, owner, concept_key, reference_key, sblob, soff, system_k):
    """engine.io.fhir._choice_code taken: the code token of ``owner``'s CodeableConcept in
    ``system_k``; -1 for every case it refuses (the Python road names them)."""
    if member(tape, owner, reference_key) >= 0:
        return -1
    concept = member(tape, owner, concept_key)
    codings = _codings(tape, concept)
    if codings < 0:
        return -1
    c = codings + 1
    while c < tape[codings, C_NEXT]:
        if tape[c, C_KIND] == K_OBJ and str_is(buf, tape, member(tape, c, N_SYSTEM), sblob, soff, system_k):
            code = member(tape, c, N_CODE)
            if code < 0 or tape[code, C_KIND] != K_STR or tape[code, C_END] == tape[code, C_START]:
                return -1
            return code
        c = tape[c, C_NEXT]
    return -1


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _num(buf, tape, v):
    lo = tape[v, C_START]
    hi = tape[v, C_END]
    neg = buf[lo] == 45
    if hi - lo > 12:
        return -(1 << 40)
    x = _digits(buf, lo + 1 if neg else lo, hi - lo - 1 if neg else hi - lo)
    return -x if neg else x


#: items of a Claim's diagnosis or procedure list read at most (more: the Python road)
MAX_ITEMS = 1024


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _ordered(buf, tape, arr, items, keys):
    """engine.io.fhir._sequence's order of the items of array token ``arr`` (by integer
    sequence, then position) into ``items``: their number, -1 when an item's sequence is not an
    integer or there are more than ``len(items)``."""
    n = 0
    c = arr + 1
    while c < tape[arr, C_NEXT]:
        s = member(tape, c, N_SEQUENCE) if tape[c, C_KIND] == K_OBJ else -1
        if s < 0 or tape[s, C_KIND] != K_NUM or tape[s, C_FLAGS] != 0 or n >= len(items):
            return -1
        x = _num(buf, tape, s)
        j = n
        while j > 0 and keys[j - 1] > x:  # insertion: stable, so equal sequences keep their order
            keys[j] = keys[j - 1]
            items[j] = items[j - 1]
            j -= 1
        keys[j] = x
        items[j] = c
        n += 1
        c = tape[c, C_NEXT]
    return n


@njit(cache=_CACHE, nogil=True, _nrt=False)
def map_claim(buf, tape, res, patient, sblob, soff, out, p, info, work):
    """engine.io.fhir.read_claim, for a Claim/EOB (valid FHIR) whose Patient is token
    ``patient``: its claim's JSON text written at ``out[p:]``; the end, or -1 when read_claim
    would refuse it or anything is not as this reads it (the Python road answers).
    ``info``: [id token, billed DRG code token] (-1: none); ``work``: int64 scratch, (6, MAX_ITEMS)."""
    cf = _CF
    co = _CF_OFF
    # hospital status (engine.io.fhir._hospital_status: the first extension of its url)
    hs = -1
    exts = member(tape, res, N_EXTENSION)
    if exts >= 0:
        c = exts + 1
        while c < tape[exts, C_NEXT]:
            if str_is(buf, tape, member(tape, c, N_URL), sblob, soff, S_HS_EXT):
                hs = member(tape, c, N_VALUE_CODE)
                if hs >= 0 and not (str_is(buf, tape, hs, sblob, soff, S_NOT_EXEMPT)
                                    or str_is(buf, tape, hs, sblob, soff, S_EXEMPT)
                                    or str_is(buf, tape, hs, sblob, soff, S_UNKNOWN)):
                    return -1
                break
            c = tape[c, C_NEXT]
    # dates
    info_k = _supporting(buf, tape, res, sblob, soff, S_ADMISSIONPERIOD)
    period = member(tape, info_k, N_TIMING_PERIOD) if info_k >= 0 else member(tape, res, N_BILLABLE)
    if period < 0 or tape[period, C_KIND] != K_OBJ:
        return -1
    end = member(tape, period, N_END)
    ey, em, ed = _full_date(buf, tape, end)
    if ey == 0:
        return -1
    start = member(tape, period, N_START)
    ay, am, ad = ey, em, ed
    if start >= 0:
        ay, am, ad = _full_date(buf, tape, start)
        if ay == 0:
            return -1
    # the patient
    by, bm, bd = _full_date(buf, tape, member(tape, patient, N_BIRTH))
    if by == 0:
        return -1
    age = ay - by - (1 if am < bm or (am == bm and ad < bd) else 0)
    gender = member(tape, patient, N_GENDER)
    sex = 70 if str_is(buf, tape, gender, sblob, soff, S_FEMALE) else \
        77 if str_is(buf, tape, gender, sblob, soff, S_MALE) else 85
    # discharge status, billed DRG
    k = _supporting(buf, tape, res, sblob, soff, S_DISCHARGE_STATUS)
    if k < 0:
        return -1
    code = member(tape, k, N_CODE)
    status = _concept_code(buf, tape, code, sblob, soff, S_NUBC)
    if status < 0 or tape[status, C_END] == tape[status, C_START]:
        status = _concept_code(buf, tape, code, sblob, soff, -1)
    if status < 0:
        return -1
    k = _supporting(buf, tape, res, sblob, soff, S_DRG)
    info[1] = _concept_code(buf, tape, member(tape, k, N_CODE), sblob, soff, S_MSDRG) if k >= 0 else -1
    # diagnoses
    dxs = member(tape, res, N_DIAGNOSIS)
    if dxs < 0:
        return -1
    order = work[0]
    codes = work[2]
    poas = work[3]
    roles = work[4]  # 0 principal, 1 admitting, 2 other, 3 external
    n = _ordered(buf, tape, dxs, order, work[1])
    if n < 0:
        return -1
    principal = -1
    admitting = -1
    for j in range(n):
        dx = order[j]
        has_p = False
        has_x = False
        has_a = False
        other = False
        types = member(tape, dx, N_TYPE)
        if types >= 0:
            t = types + 1
            while t < tape[types, C_NEXT]:
                codings = member(tape, t, N_CODING)
                if codings >= 0:
                    c = codings + 1
                    while c < tape[codings, C_NEXT]:
                        v = member(tape, c, N_CODE)
                        if str_is(buf, tape, v, sblob, soff, S_PRINCIPAL):
                            has_p = True
                            other = True
                        elif str_is(buf, tape, v, sblob, soff, S_EXTERNAL):
                            has_x = True
                            other = True
                        elif str_is(buf, tape, v, sblob, soff, S_ADMITTING):
                            has_a = True
                        else:
                            other = True
                        c = tape[c, C_NEXT]
                t = tape[t, C_NEXT]
        role = 0 if has_p else 3 if has_x else 1 if (has_a and not other) else 2
        codes[j] = _code_of(buf, tape, dx, N_DX_CONCEPT, N_DX_REFERENCE, sblob, soff, S_ICD10CM)
        if codes[j] < 0:
            return -1
        poas[j] = -1
        on = member(tape, dx, N_ON_ADMISSION)
        if on >= 0:
            v = _concept_code(buf, tape, on, sblob, soff, -1)
            if v < 0 or tape[v, C_END] - tape[v, C_START] != 1:
                return -1
            b = buf[tape[v, C_START]]
            if not (b == 89 or b == 78 or b == 85 or b == 87 or b == 49):
                return -1
            poas[j] = v
        roles[j] = role
        if role == 0:
            if principal >= 0:
                return -1
            principal = j
            if has_a and admitting < 0:
                admitting = j
        elif role == 1:
            if admitting < 0:
                admitting = j
    if principal < 0:
        return -1
    # procedures
    pxs = member(tape, res, N_PROCEDURE)
    px_order = work[1]
    px_codes = work[5]
    n_px = 0
    if pxs >= 0:
        n_px = _ordered(buf, tape, pxs, px_order, px_codes)
        if n_px < 0:
            return -1
    for j in range(n_px):
        px_codes[j] = _code_of(buf, tape, px_order[j], N_PX_CONCEPT, N_PX_REFERENCE, sblob, soff, S_ICD10PCS)
        if px_codes[j] < 0:
            return -1
    # the text: each field after a comma, the first comma made the opening brace
    first = p
    rid = member(tape, res, N_ID)
    info[0] = rid
    if rid >= 0:
        p = _frag(out, p, cf, co, W_ID)
        p = _copy_str(out, p, buf, tape, rid)
        p = _frag(out, p, cf, co, W_QUOTE)
    if hs >= 0:
        p = _frag(out, p, cf, co, W_HS)
        p = _copy_str(out, p, buf, tape, hs)
        p = _frag(out, p, cf, co, W_QUOTE)
    p = _frag(out, p, cf, co, W_DIS)
    p = _copy(out, p, buf, tape[end, C_START], tape[end, C_START] + 10)
    p = _frag(out, p, cf, co, W_QUOTE)
    if start >= 0:
        p = _frag(out, p, cf, co, W_ADM)
        p = _copy(out, p, buf, tape[start, C_START], tape[start, C_START] + 10)
        p = _frag(out, p, cf, co, W_QUOTE)
    p = _frag(out, p, cf, co, W_AGE)
    p = _int(out, p, age)
    p = _frag(out, p, cf, co, W_SEX)
    out[p] = sex
    p = _frag(out, p + 1, cf, co, W_QUOTE)
    p = _frag(out, p, cf, co, W_DSTAT)
    p = _copy_str(out, p, buf, tape, status)
    p = _frag(out, p, cf, co, W_QUOTE)
    p = _frag(out, p, cf, co, W_PDX)
    p = _dx_text(out, p, buf, tape, codes[principal], poas[principal])
    if admitting >= 0:
        p = _frag(out, p, cf, co, W_ADMIT)
        p = _copy_str(out, p, buf, tape, codes[admitting])
        p = _frag(out, p, cf, co, W_QUOTE)
    p = _frag(out, p, cf, co, W_SDX)
    m = 0
    for pass_ in range(2):  # the others, then the external causes (engine.io.fhir._claim_diagnoses)
        for j in range(n):
            if roles[j] == (2 if pass_ == 0 else 3):
                if m:
                    p = _frag(out, p, cf, co, W_COMMA)
                p = _frag(out, p, cf, co, W_CODE)
                p = _dx_text(out, p, buf, tape, codes[j], poas[j])
                m += 1
    p = _frag(out, p, cf, co, W_PX)
    for j in range(n_px):
        if j:
            p = _frag(out, p, cf, co, W_COMMA)
        p = _frag(out, p, cf, co, W_QUOTE)
        p = _copy_str(out, p, buf, tape, px_codes[j])
        p = _frag(out, p, cf, co, W_QUOTE)
    p = _frag(out, p, cf, co, W_END)
    out[first] = 123
    return p


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _dx_text(out, p, buf, tape, code, poa):
    """A diagnosis object's rest after its opening '{"code":"': the code, its POA, the brace."""
    p = _copy_str(out, p, buf, tape, code)
    p = _frag(out, p, _CF, _CF_OFF, W_QUOTE)
    if poa >= 0:
        p = _frag(out, p, _CF, _CF_OFF, W_POA)
        p = _copy_str(out, p, buf, tape, poa)
        p = _frag(out, p, _CF, _CF_OFF, W_QUOTE)
    return _frag(out, p, _CF, _CF_OFF, W_CLOSE)


# ---- the batch Bundle ----------------------------------------------------------------------------
@njit(cache=_CACHE, nogil=True, _nrt=False)
def _text_hash(buf, lo, hi):
    return fnv(buf, lo, hi, _FNV_OFFSET)


@njit(cache=_CACHE, nogil=True)
def read_bundle(buf, tape, want, max_entries, tables, out, spans, info, expect, kb):
    """A batch Bundle of Claims (``want`` S_CLAIM) or EOBs (S_EOB) and the Patients they name,
    tokenized in ``tape``: each Claim's claim JSON text into ``out`` (``spans[i]``: item i's),
    ``info[i]``: its id and billed DRG code tokens.  Returns (SLOW_NONE, items) when every
    entry is taken, else (the reason, 0): the Python road answers the Bundle.  ``tables``:
    engine.io.fhir_bundle's structure tables; ``expect`` (int16, a row of the tape's each) and
    ``kb`` (bytes, as many as ``buf``'s and 16): scratch."""
    (field_of, f_kind, f_many, req_off, req, grp_off, grp_req, grp_mem_off, grp_mem, type_rt, rt_types, sblob,
     soff, bundle_type, patient_type, claim_type, eob_type) = tables
    if tape[0, C_KIND] != K_OBJ or not str_is(buf, tape, member(tape, 0, N_RT), sblob, soff, S_BUNDLE):
        return SLOW_SHAPE, 0
    entries = member(tape, 0, N_ENTRY)
    if entries < 0 or tape[entries, C_KIND] != K_ARR:
        return SLOW_SHAPE, 0
    m = 0
    e = entries + 1
    while e < tape[entries, C_NEXT]:
        m += 1
        e = tape[e, C_NEXT]
    if m == 0 or m > max_entries:
        return SLOW_SHAPE, 0
    stamp = np.full(len(f_kind), -1, np.int64)
    if not check(buf, tape, 0, bundle_type, expect, stamp, field_of, f_kind, f_many, req_off, req, grp_off,
                 grp_req, grp_mem_off, grp_mem, type_rt, rt_types, sblob, soff, N_RT):
        return SLOW_STRUCTURE, 0
    # the entries: their resources, checked, and the keys a reference names them by
    res_of = np.empty(m, np.int64)
    is_patient = np.zeros(m, np.bool_)
    key_lo = np.empty(2 * m, np.int64)
    key_hi = np.empty(2 * m, np.int64)
    key_entry = np.empty(2 * m, np.int64)
    key_hash = np.empty(2 * m, np.uint64)
    kp = 0  # the Type/id keys, written out in kb
    nk = 0
    items = 0
    e = entries + 1
    for k in range(m):
        res = member(tape, e, N_RESOURCE)
        if res < 0 or tape[res, C_KIND] != K_OBJ:
            return SLOW_ENTRY, 0
        rt = member(tape, res, N_RT)
        if str_is(buf, tape, rt, sblob, soff, S_PATIENT):
            is_patient[k] = True
            ty = patient_type
        elif str_is(buf, tape, rt, sblob, soff, want):
            ty = claim_type if want == S_CLAIM else eob_type
            items += 1
        else:
            return SLOW_ENTRY, 0
        if not check(buf, tape, res, ty, expect, stamp, field_of, f_kind, f_many, req_off, req, grp_off, grp_req,
                     grp_mem_off, grp_mem, type_rt, rt_types, sblob, soff, N_RT):
            return SLOW_STRUCTURE, 0
        res_of[k] = res
        url = member(tape, e, N_FULL_URL)
        if url >= 0:  # (a string: checked as a uri)
            key_lo[nk] = tape[url, C_START]
            key_hi[nk] = tape[url, C_END]
            key_entry[nk] = -1 - k  # in buf
            nk += 1
        rid = member(tape, res, N_ID)
        if rid >= 0:
            lo = kp
            kp = _copy_str(kb, kp, buf, tape, rt)
            kb[kp] = 47
            kp = _copy_str(kb, kp + 1, buf, tape, rid)
            key_lo[nk] = lo
            key_hi[nk] = kp
            key_entry[nk] = k  # in kb
            nk += 1
        e = tape[e, C_NEXT]
    if items == 0:
        return SLOW_SHAPE, 0
    # the keys' table: the last entry of a key wins (engine.io.fhir._bundle_lookup is a dict)
    size = 16
    while size < 4 * nk:
        size *= 2
    slot = np.full(size, -1, np.int64)
    slot_entry = np.empty(size, np.int64)
    for j in range(nk):
        if key_entry[j] < 0:
            h = _text_hash(buf, key_lo[j], key_hi[j])
        else:
            h = _text_hash(kb, key_lo[j], key_hi[j])
        key_hash[j] = h
        s = np.int64(h & np.uint64(size - 1))
        while slot[s] >= 0:
            o = slot[s]
            if key_hash[o] == h and _same_key(buf, kb, key_lo, key_hi, key_entry, o, j):
                break
            s = (s + 1) & (size - 1)
        slot[s] = j
        slot_entry[s] = key_entry[j] if key_entry[j] >= 0 else -1 - key_entry[j]
    # each Claim: its Patient, then its claim text
    work = np.empty((6, MAX_ITEMS), np.int64)
    i = 0
    p = 0
    for k in range(m):
        if is_patient[k]:
            continue
        res = res_of[k]
        if p + (tape[res, C_END] - tape[res, C_START]) + 512 > len(out):
            return SLOW_FULL, 0
        ref = member(tape, member(tape, res, N_PATIENT), N_REFERENCE) if member(tape, res, N_PATIENT) >= 0 else -1
        if ref < 0 or tape[ref, C_KIND] != K_STR:
            return SLOW_MAPPING, 0
        lo = tape[ref, C_START]
        hi = tape[ref, C_END]
        patient = -1
        if hi > lo and buf[lo] == 35:  # "#id": a contained resource
            contained = member(tape, res, N_CONTAINED)
            if contained >= 0:
                c = contained + 1
                while c < tape[contained, C_NEXT]:
                    cid = member(tape, c, N_ID)
                    if cid >= 0 and same_text(buf, tape[cid, C_START], tape[cid, C_END], lo + 1, hi):
                        patient = c
                        break
                    c = tape[c, C_NEXT]
            if patient < 0 or not str_is(buf, tape, member(tape, patient, N_RT), sblob, soff, S_PATIENT):
                return SLOW_MAPPING, 0
        else:
            h = _text_hash(buf, lo, hi)
            s = np.int64(h & np.uint64(size - 1))
            while slot[s] >= 0:
                o = slot[s]
                if key_hash[o] == h:
                    if key_entry[o] < 0:
                        same = same_text(buf, key_lo[o], key_hi[o], lo, hi)
                    else:
                        same = _same_between(kb, key_lo[o], key_hi[o], buf, lo, hi)
                    if same:
                        if not is_patient[slot_entry[s]]:
                            return SLOW_MAPPING, 0
                        patient = res_of[slot_entry[s]]
                        break
                s = (s + 1) & (size - 1)
            if patient < 0:
                return SLOW_MAPPING, 0
        spans[i, 0] = p
        p = map_claim(buf, tape, res, patient, sblob, soff, out, p, info[i], work)
        if p < 0:
            return SLOW_MAPPING, 0
        spans[i, 1] = p
        i += 1
    return SLOW_NONE, items


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _same_between(a, alo, ahi, b, blo, bhi):
    return ahi - alo == bhi - blo and _memeq(a, alo, b, blo, ahi - alo)


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _same_key(buf, kb, key_lo, key_hi, key_entry, x, y):
    if key_entry[x] >= 0:
        if key_entry[y] >= 0:
            return _same_between(kb, key_lo[x], key_hi[x], kb, key_lo[y], key_hi[y])
        return _same_between(kb, key_lo[x], key_hi[x], buf, key_lo[y], key_hi[y])
    if key_entry[y] >= 0:
        return _same_between(buf, key_lo[x], key_hi[x], kb, key_lo[y], key_hi[y])
    return _same_between(buf, key_lo[x], key_hi[x], buf, key_lo[y], key_hi[y])


# ---- the Parameters ------------------------------------------------------------------------------
#: engine.io.fhir.parameters / batch_response as orjson writes them, cut where values go
#: (``{MSDRG}`` and the other systems are filled in by engine.io.fhir_bundle)
PARAM_FRAGS = (
    '{"resourceType":"Bundle","type":"batch-response","entry":[', ']}', ',',
    '{"resource":{"resourceType":"Parameters","parameter":[', ']},"response":{"status":"200 OK"}}',
    '{"name":"id","valueId":"', '"},',
    '{"name":"version","valueString":', '},',
    '{"name":"drg","valueCoding":{"system":"{MSDRG}","code":', ',"display":', '}},',
    '{"name":"mdc","valueCoding":{"system":"{MSDRG}","code":',
    '{"name":"initialDrg","valueCoding":{"system":"{MSDRG}","code":', ',"display":"', '"',
    '{"name":"initialMdc","valueCoding":{"system":"{MSDRG}","code":',
    '{"name":"returnCode","valueCode":', '}',
    ',{"name":"severity","part":[{"name":"initial","valueCode":', '},{"name":"final","valueCode":', '}]}',
    ',{"name":"medSurg","valueCode":', ',{"name":"hacStatus","valueCode":', ',{"name":"weight","valueDecimal":',
    ',{"name":"adjustedWeight","valueDecimal":', ',{"name":"paymentEstimate","valueMoney":{"value":',
    ',"currency":"USD"}}',
    ',{"name":"billedDrg","valueCoding":{"system":"{MSDRG}","code":"', '"}},{"name":"billedDrgMatches","valueBoolean":',
    'true', 'false', 'null',
    ',{"name":"diagnosis","part":[{"name":"sequence","valueInteger":', '},{"name":"role","valueCode":"principal"}',
    '},{"name":"role","valueCode":"secondary"}', ',{"name":"code","valueCoding":{"system":"{ICD10CM}","code":',
    ',{"name":"poa","valueCode":', ',{"name":"affectsDrg","valueCode":', ',{"name":"severityInitial","valueCode":',
    ',{"name":"severityFinal","valueCode":', ',{"name":"poaError","valueCode":',
    ',{"name":"hac","part":[{"name":"number","valueInteger":', '},{"name":"status","valueCode":',
    ',{"name":"edit","valueCode":',
    ',{"name":"procedure","part":[{"name":"sequence","valueInteger":',
    '},{"name":"code","valueCoding":{"system":"{ICD10PCS}","code":', ',{"name":"isOr","valueBoolean":',
    ',{"name":"hacUsage","valueCode":', ']}',
)
(P_OPEN, P_CLOSE, P_COMMA, P_ENTRY, P_ENTRY_END, P_ID, P_ID_END, P_VERSION, P_END1, P_DRG, P_DISPLAY, P_END2,
 P_MDC, P_INITIAL_DRG, P_DISPLAY_Q, P_QUOTE, P_INITIAL_MDC, P_RETURN_CODE, P_END0, P_SEVERITY, P_FINAL, P_END_PART,
 P_MED_SURG, P_HAC_STATUS, P_WEIGHT, P_ADJUSTED, P_PAYMENT, P_PAYMENT_END, P_BILLED, P_MATCHES, P_TRUE, P_FALSE,
 P_NULL, P_DX, P_PRINCIPAL, P_SECONDARY, P_DX_CODE, P_POA, P_AFFECTS, P_SEV_INITIAL, P_SEV_FINAL, P_POA_ERROR,
 P_HAC, P_HAC_STATUS_CODE, P_EDIT, P_PX, P_PX_CODE, P_IS_OR, P_HAC_USAGE, P_PARTS_END) = range(len(PARAM_FRAGS))


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _gather(tape, t, slots, value):
    """``slots[key] = value`` for each member of object ``t`` whose key is one of NAMES: with
    ``value`` -1 after ``value`` True, the slots are clear again (O(1) members, not scans)."""
    c = t + 1
    end = tape[t, C_NEXT]
    while c < end:
        k = tape[c, C_KEYID]
        if 0 <= k < len(slots):
            slots[k] = c + 1 if value else -1
        c = tape[c + 1, C_NEXT]


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _raw(out, p, buf, tape, v):
    """Token ``v`` as it is written (a string with its quotes)."""
    kind = tape[v, C_KIND]
    if kind == K_STR:
        return _copy(out, p, buf, tape[v, C_START] - 1, tape[v, C_END] + 1)
    return _copy(out, p, buf, tape[v, C_START], tape[v, C_END])


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _part(out, p, fb, fo, frag, buf, tape, v):
    """Fragment ``frag`` (a part's name and value key), token ``v`` as written, the part's brace."""
    p = _frag(out, p, fb, fo, frag)
    p = _raw(out, p, buf, tape, v)
    return _frag(out, p, fb, fo, P_END0)


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _truthy(buf, tape, v):
    """Python's truth of the JSON value at token ``v`` (-1: absent, false)."""
    if v < 0:
        return False
    kind = tape[v, C_KIND]
    if kind == K_NULL or kind == K_FALSE:
        return False
    if kind == K_TRUE:
        return True
    if kind == K_STR:
        return tape[v, C_END] > tape[v, C_START]
    if kind == K_OBJ or kind == K_ARR:
        return tape[v, C_NEXT] > v + 1
    for j in range(tape[v, C_START], tape[v, C_END]):  # a number: any non-zero digit of its mantissa
        c = buf[j]
        if c == 101 or c == 69:
            break
        if 49 <= c <= 57:
            return True
    return False


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _given(tape, v):
    """``v`` is not None (present, not null)."""
    return v >= 0 and tape[v, C_KIND] != K_NULL


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _code_value(tape, v):
    """engine.io.fhir._codes keeps it: not None and not ''."""
    return _given(tape, v) and not (tape[v, C_KIND] == K_STR and tape[v, C_END] == tape[v, C_START])


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _digits_of(buf, tape, v):
    """A string token of 1-9 ASCII digits as its number, -1 otherwise."""
    if v < 0 or tape[v, C_KIND] != K_STR:
        return -1
    n = tape[v, C_END] - tape[v, C_START]
    if n < 1 or n > 9:
        return -1
    return _digits(buf, tape[v, C_START], n)


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _codes_part(out, p, buf, tape, arr, fb, fo, frag):
    """A ``valueCode`` part (fragment ``frag``) per item of array ``arr`` that is neither null
    nor ''; -1 when ``arr`` is truthy and not an array."""
    if not _truthy(buf, tape, arr):
        return p
    if tape[arr, C_KIND] != K_ARR:
        return -1
    c = arr + 1
    while c < tape[arr, C_NEXT]:
        if _code_value(tape, c):
            p = _part(out, p, fb, fo, frag, buf, tape, c)
        c = tape[c, C_NEXT]
    return p


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _code_part(out, p, buf, tape, x, seq, role, fb, fo, ds):
    """engine.io.fhir._dx_part (``role`` 0 principal, 1 secondary) or _px_part (``role`` 2) of
    result code object ``x``; -1 for a value it would not write the same way."""
    if tape[x, C_KIND] != K_OBJ:
        return -1
    _gather(tape, x, ds, True)  # (its members, in ds; cleared below)
    if role == 2:
        p = _px_fields(out, p, buf, tape, seq, fb, fo, ds)
    else:
        p = _dx_fields(out, p, buf, tape, seq, role == 0, fb, fo, ds)
    if p >= 0:
        p = _codes_part(out, p, buf, tape, ds[R_EDITS], fb, fo, P_EDIT)
    if p >= 0:
        p = _frag(out, p, fb, fo, P_PARTS_END)
    _gather(tape, x, ds, False)
    return p


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _dx_fields(out, p, buf, tape, seq, principal, fb, fo, ds):
    code = ds[N_CODE]
    if code < 0 or tape[code, C_KIND] != K_STR:
        return -1
    usage = ds[R_SEVERITY_USAGE]
    if _truthy(buf, tape, usage):
        if tape[usage, C_KIND] != K_OBJ:
            return -1
    else:
        usage = -1
    p = _frag(out, p, fb, fo, P_DX)
    p = _int(out, p, seq)
    p = _frag(out, p, fb, fo, P_PRINCIPAL if principal else P_SECONDARY)
    p = _part(out, p, fb, fo, P_DX_CODE, buf, tape, code)
    p = _frag(out, p, fb, fo, P_END0)
    v = ds[R_POA]
    if _truthy(buf, tape, v):
        p = _part(out, p, fb, fo, P_POA, buf, tape, v)
    for j in range(4):
        if j == 0:
            v, frag = ds[R_AFFECTS], P_AFFECTS
        elif j == 1:
            v, frag = (member(tape, usage, R_INITIAL) if usage >= 0 else -1), P_SEV_INITIAL
        elif j == 2:
            v, frag = (member(tape, usage, R_FINAL) if usage >= 0 else -1), P_SEV_FINAL
        else:
            v, frag = ds[R_POA_ERROR], P_POA_ERROR
        if _code_value(tape, v):
            p = _part(out, p, fb, fo, frag, buf, tape, v)
    hacs = ds[R_HACS]
    if _truthy(buf, tape, hacs):
        if tape[hacs, C_KIND] != K_ARR:
            return -1
        c = hacs + 1
        while c < tape[hacs, C_NEXT]:
            if tape[c, C_KIND] != K_OBJ:
                return -1
            number = member(tape, c, R_NUMBER)
            status = member(tape, c, R_STATUS)
            if number < 0 or tape[number, C_KIND] != K_NUM or tape[number, C_FLAGS] != 0 or status < 0 \
                    or tape[status, C_KIND] != K_STR:
                return -1
            p = _frag(out, p, fb, fo, P_HAC)
            p = _raw(out, p, buf, tape, number)
            p = _frag(out, p, fb, fo, P_HAC_STATUS_CODE)
            p = _raw(out, p, buf, tape, status)
            p = _frag(out, p, fb, fo, P_END_PART)
            c = tape[c, C_NEXT]
    return p


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _px_fields(out, p, buf, tape, seq, fb, fo, ds):
    code = ds[N_CODE]
    if code < 0 or tape[code, C_KIND] != K_STR:
        return -1
    p = _frag(out, p, fb, fo, P_PX)
    p = _int(out, p, seq)
    p = _part(out, p, fb, fo, P_PX_CODE, buf, tape, code)
    p = _frag(out, p, fb, fo, P_END0)
    v = ds[R_AFFECTS]
    if _code_value(tape, v):
        p = _part(out, p, fb, fo, P_AFFECTS, buf, tape, v)
    v = ds[R_IS_OR]
    if v >= 0:
        p = _frag(out, p, fb, fo, P_IS_OR)
        p = _frag(out, p, fb, fo, P_TRUE if _truthy(buf, tape, v) else P_FALSE)
        p = _frag(out, p, fb, fo, P_END0)
    usage = ds[R_HAC_USAGE]
    if _truthy(buf, tape, usage):
        if tape[usage, C_KIND] != K_ARR:
            return -1
        c = usage + 1
        while c < tape[usage, C_NEXT]:
            kind = tape[c, C_KIND]
            if kind == K_STR:
                if tape[c, C_END] > tape[c, C_START]:
                    p = _part(out, p, fb, fo, P_HAC_USAGE, buf, tape, c)
            elif kind == K_NUM and tape[c, C_FLAGS] == 0:  # str(5): "5"
                p = _frag(out, p, fb, fo, P_HAC_USAGE)
                p = _frag(out, p, fb, fo, P_QUOTE)
                p = _raw(out, p, buf, tape, c)
                p = _frag(out, p, fb, fo, P_QUOTE)
                p = _frag(out, p, fb, fo, P_END0)
            else:
                return -1
            c = tape[c, C_NEXT]
    return p


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _version_index(buf, tape, v, ver_index):
    """A version label token ("43.1") -> its index in the titles' table, -1 when not one."""
    if v < 0 or tape[v, C_KIND] != K_STR:
        return -1
    lo = tape[v, C_START]
    hi = tape[v, C_END]
    if hi - lo < 3 or hi - lo > 4 or buf[hi - 2] != 46:
        return -1
    major = _digits(buf, lo, hi - lo - 2)
    minor = _digits(buf, hi - 1, 1)
    if major < 0 or minor < 0:
        return -1
    return ver_index[major * 10 + minor]


@njit(cache=_CACHE, nogil=True)
def write_parameters(rbuf, rtape, ibuf, itape, info, ver_index, titles, tblob, fb, fo, out):
    """The grouper's result documents (``rbuf``: a JSON array, tokenized in ``rtape``), one per
    Claim of the input (``ibuf``/``itape``; ``info[i]``: its id and billed DRG code tokens),
    written as engine.io.fhir.batch_response of engine.io.fhir.parameters: the length
    written into ``out``, -1 when a document holds what this does not write the same way (the
    Python road answers), -2 when ``out`` is too small."""
    if rtape[0, C_KIND] != K_ARR:
        return -1
    p = _frag(out, 0, fb, fo, P_OPEN)
    rs = np.full(len(NAMES), -1, np.int64)  # the result's members, then a code's (_gather)
    ds = np.full(len(NAMES), -1, np.int64)
    i = 0
    r = 1
    while r < rtape[0, C_NEXT]:
        if i >= len(info) or rtape[r, C_KIND] != K_OBJ:
            return -1
        if p + 4096 + 12 * (rtape[r, C_END] - rtape[r, C_START]) > len(out):  # (each document's
            return -2                                                          # most: the caller retries)
        _gather(rtape, r, rs, True)
        p = _result(rbuf, rtape, r, rs, ds, i, p, ibuf, itape, info, ver_index, titles, tblob, fb, fo, out)
        _gather(rtape, r, rs, False)
        if p < 0:
            return -1
        i += 1
        r = rtape[r, C_NEXT]
    if i != len(info):
        return -1
    return _frag(out, p, fb, fo, P_CLOSE)


@njit(cache=_CACHE, nogil=True, _nrt=False)
def _result(rbuf, rtape, r, rs, ds, i, p, ibuf, itape, info, ver_index, titles, tblob, fb, fo, out):
    """Result ``r`` (its members in ``rs``) as the batch-response entry of Claim ``i``: the end, or -1."""
    if i:
        p = _frag(out, p, fb, fo, P_COMMA)
    p = _frag(out, p, fb, fo, P_ENTRY)
    rid = info[i, 0]
    if rid >= 0:
        p = _frag(out, p, fb, fo, P_ID)
        p = _copy_str(out, p, ibuf, itape, rid)
        p = _frag(out, p, fb, fo, P_ID_END)
    version = rs[R_VERSION]
    drg = rs[R_DRG]
    mdc = rs[R_MDC]
    initial = rs[R_INITIAL_DRG]
    initial_mdc = rs[R_INITIAL_MDC]
    rc = rs[R_RETURN_CODE]
    vi = _version_index(rbuf, rtape, version, ver_index)
    d = _digits_of(rbuf, rtape, initial)
    if vi < 0 or d < 0 or d > 999 or drg < 0 or rtape[drg, C_KIND] != K_STR or mdc < 0 \
            or rtape[mdc, C_KIND] != K_STR or initial_mdc < 0 or rtape[initial_mdc, C_KIND] != K_STR or rc < 0 \
            or rs[R_EDIT_TYPE] >= 0:
        return -1
    p = _frag(out, p, fb, fo, P_VERSION)
    p = _raw(out, p, rbuf, rtape, version)
    p = _frag(out, p, fb, fo, P_END1)
    for j in range(2):
        code = drg if j == 0 else mdc
        desc = rs[R_DRG_DESC if j == 0 else R_MDC_DESC]
        p = _frag(out, p, fb, fo, P_DRG if j == 0 else P_MDC)
        p = _raw(out, p, rbuf, rtape, code)
        if _truthy(rbuf, rtape, desc):
            if rtape[desc, C_KIND] != K_STR:
                return -1
            p = _frag(out, p, fb, fo, P_DISPLAY)
            p = _raw(out, p, rbuf, rtape, desc)
        p = _frag(out, p, fb, fo, P_END2)
    p = _frag(out, p, fb, fo, P_INITIAL_DRG)
    p = _raw(out, p, rbuf, rtape, initial)
    title = titles[vi * 1000 + d]
    if titles[vi * 1000 + d + 1] > title:
        p = _frag(out, p, fb, fo, P_DISPLAY_Q)
        p = _copy(out, p, tblob, title, titles[vi * 1000 + d + 1])
        p = _frag(out, p, fb, fo, P_QUOTE)
    p = _frag(out, p, fb, fo, P_END2)
    p = _frag(out, p, fb, fo, P_INITIAL_MDC)
    p = _raw(out, p, rbuf, rtape, initial_mdc)
    p = _frag(out, p, fb, fo, P_END2)
    p = _part(out, p, fb, fo, P_RETURN_CODE, rbuf, rtape, rc)
    sev = rs[R_SEVERITY]
    if _truthy(rbuf, rtape, sev):
        if rtape[sev, C_KIND] != K_OBJ:
            return -1
    else:
        sev = -1
    for j in range(2):
        p = _frag(out, p, fb, fo, P_SEVERITY if j == 0 else P_FINAL)
        v = member(rtape, sev, R_INITIAL if j == 0 else R_FINAL) if sev >= 0 else -1
        if v >= 0:
            p = _raw(out, p, rbuf, rtape, v)
        else:
            p = _frag(out, p, fb, fo, P_NULL)
    p = _frag(out, p, fb, fo, P_END_PART)
    for j in range(2):
        v = member(rtape, r, R_MED_SURG if j == 0 else R_HAC_STATUS)
        if _truthy(rbuf, rtape, v):
            p = _part(out, p, fb, fo, P_MED_SURG if j == 0 else P_HAC_STATUS, rbuf, rtape, v)
    for j in range(2):
        v = member(rtape, r, R_WEIGHT if j == 0 else R_ADJUSTED_WEIGHT)
        if _given(rtape, v):
            p = _part(out, p, fb, fo, P_WEIGHT if j == 0 else P_ADJUSTED, rbuf, rtape, v)
    pay = rs[R_PAYMENT]
    if pay >= 0 and rtape[pay, C_KIND] == K_OBJ:
        v = member(rtape, pay, R_AMOUNT)
        if _given(rtape, v):
            p = _frag(out, p, fb, fo, P_PAYMENT)
            p = _raw(out, p, rbuf, rtape, v)
            p = _frag(out, p, fb, fo, P_PAYMENT_END)
    billed = info[i, 1]
    if billed >= 0:
        b = _digits_of(ibuf, itape, billed)
        g = _digits_of(rbuf, rtape, drg)
        if b < 0 or g < 0:
            return -1
        p = _frag(out, p, fb, fo, P_BILLED)
        p = _copy_str(out, p, ibuf, itape, billed)
        p = _frag(out, p, fb, fo, P_MATCHES)
        p = _frag(out, p, fb, fo, P_TRUE if b == g else P_FALSE)
        p = _frag(out, p, fb, fo, P_END0)
    pdx = rs[R_PDX]
    if _truthy(rbuf, rtape, pdx):
        p = _code_part(out, p, rbuf, rtape, pdx, 1, 0, fb, fo, ds)
        if p < 0:
            return -1
    for j in range(2):
        arr = member(rtape, r, R_SDX if j == 0 else R_PROCEDURES)
        if not _truthy(rbuf, rtape, arr):
            continue
        if rtape[arr, C_KIND] != K_ARR:
            return -1
        c = arr + 1
        k = 0
        while c < rtape[arr, C_NEXT]:
            if j == 0:
                p = _code_part(out, p, rbuf, rtape, c, k + 2, 1, fb, fo, ds)
            else:
                p = _code_part(out, p, rbuf, rtape, c, k + 1, 2, fb, fo, ds)
            if p < 0:
                return -1
            k += 1
            c = rtape[c, C_NEXT]
    return _frag(out, p, fb, fo, P_ENTRY_END)
