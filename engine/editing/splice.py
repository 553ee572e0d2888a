"""The MCE's fields written into the grouper's rendered JSON documents, compiled.

Why: the service's ``?edits=true`` path answers from the compiled writer's
JSON (engine.render); reading each document back into a dict to add the
edits and writing it again cost ten times grouping it.  This copies each
document once, inserting the editor's fields: ``"edit_type"``, ``"edits"``,
``"edit_date"`` (and ``"not_checked"``) first, ``"edits": [...]`` first in each
code object: the pdx, each sdx and each procedure, in the document's order,
each the next ``{"code":`` (which can only be structure: a quote inside a JSON
string is escaped).  Documents of claims not edited are copied as they
are.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..render import _copy
from .kernel import EDIT_NAMES, EDIT_TYPES, N_EDITS

_FRAGMENTS = (
    [b'"edit_type":"' + t.encode() + b'","edits":{' for t in EDIT_TYPES]  # 0-3
    + [b'"' + n.encode() + b'":' for n in EDIT_NAMES]  # 4 ..
    + [b'},"edit_date":"', b'",', b'"not_checked":["INCONSISTENT_WITH_LENGTH_OF_STAY"],', b'"edits":[',
       b'],', b'"' + b'","'.join(n.encode() for n in EDIT_NAMES) + b'"']
)
_F_NAME = 4
_F_DATE = 4 + N_EDITS
_F_CLOSE_DATE = _F_DATE + 1
_F_NOT_CHECKED = _F_DATE + 2
_F_EDITS_OPEN = _F_DATE + 3
_F_EDITS_CLOSE = _F_DATE + 4


def fragments() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(fragment blob, offsets, name blob, name offsets) for :func:`splice`."""
    off = np.zeros(len(_FRAGMENTS) + 1, np.int64)
    np.cumsum([len(f) for f in _FRAGMENTS], out=off[1:])
    names = [b'"' + n.encode() + b'"' for n in EDIT_NAMES]
    noff = np.zeros(len(names) + 1, np.int64)
    np.cumsum([len(x) for x in names], out=noff[1:])
    return (np.frombuffer(b"".join(_FRAGMENTS), np.uint8), off, np.frombuffer(b"".join(names), np.uint8), noff)


@njit(cache=True, nogil=True)
def _put(dst, at, src, a, b):
    n = b - a
    if n > 0 and at + n <= len(dst):
        _copy(dst, at, src, a, n)
    return at + n


@njit(cache=True, nogil=True)
def _byte(dst, at, c):
    if at < len(dst):
        dst[at] = c
    return at + 1


@njit(cache=True, nogil=True)
def _int(dst, at, v):
    d = 1
    while d * 10 <= v:
        d *= 10
    while d > 0:
        at = _byte(dst, at, 48 + v // d % 10)
        d //= 10
    return at


@njit(cache=True, nogil=True)
def _date(dst, at, days):
    """days since 1970-01-01 as YYYY-MM-DD (civil from days)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    at = _byte(dst, at, 48 + y // 1000 % 10)
    at = _byte(dst, at, 48 + y // 100 % 10)
    at = _byte(dst, at, 48 + y // 10 % 10)
    at = _byte(dst, at, 48 + y % 10)
    at = _byte(dst, at, 45)
    at = _byte(dst, at, 48 + m // 10)
    at = _byte(dst, at, 48 + m % 10)
    at = _byte(dst, at, 45)
    at = _byte(dst, at, 48 + d // 10)
    return _byte(dst, at, 48 + d % 10)


@njit(cache=True, nogil=True)
def _find_code(buf, a, b):
    """The next '{"code":' in buf[a:b], or -1 ('{' is rare in a result: a tight scan)."""
    for p in range(a, b - 7):
        if buf[p] == 123 and buf[p + 1] == 34 and buf[p + 2] == 99 and buf[p + 3] == 111 and buf[p + 4] == 100 \
                and buf[p + 5] == 101 and buf[p + 6] == 34 and buf[p + 7] == 58:
            return p
    return -1


@njit(cache=True, nogil=True)
def _names(dst, at, fblob, foff, nblob, noff, mask):
    at = _put(dst, at, fblob, foff[_F_EDITS_OPEN], foff[_F_EDITS_OPEN + 1])
    first = True
    for e in range(N_EDITS):
        if mask >> e & 1:
            if not first:
                at = _byte(dst, at, 44)
            first = False
            at = _put(dst, at, nblob, noff[e], noff[e + 1])
    return _put(dst, at, fblob, foff[_F_EDITS_CLOSE], foff[_F_EDITS_CLOSE + 1])


@njit(cache=True, nogil=True)
def splice(buf, spans, edited, counts, edit_type, pdx_mask, sdx_off, sdx_mask, px_off, px_mask, los, edit_date,
           fblob, foff, nblob, noff, sep, dst, out_spans):
    """``[doc<sep>doc...]`` from ``buf``'s documents (``spans``), with the edits of
    each ``edited`` claim; returns the bytes needed (> len(dst): call again)."""
    at = _byte(dst, 0, 91)
    n = len(spans)
    for i in range(n):
        if i:
            at = _byte(dst, at, sep)
        a = spans[i, 0]
        b = spans[i, 1]
        out_spans[i, 0] = at
        if not edited[i]:
            at = _put(dst, at, buf, a, b)
            out_spans[i, 1] = at
            continue
        at = _byte(dst, at, 123)
        t = edit_type[i]
        at = _put(dst, at, fblob, foff[t], foff[t + 1])
        first = True
        for e in range(N_EDITS):
            c = counts[i, e]
            if c:
                if not first:
                    at = _byte(dst, at, 44)
                first = False
                at = _put(dst, at, fblob, foff[_F_NAME + e], foff[_F_NAME + e + 1])
                at = _int(dst, at, c)
        at = _put(dst, at, fblob, foff[_F_DATE], foff[_F_DATE + 1])
        at = _date(dst, at, edit_date[i])
        at = _put(dst, at, fblob, foff[_F_CLOSE_DATE], foff[_F_CLOSE_DATE + 1])
        if los[i] < 0:
            at = _put(dst, at, fblob, foff[_F_NOT_CHECKED], foff[_F_NOT_CHECKED + 1])
        # the code objects, in order: the pdx, each sdx, each procedure (each is
        # the next '{"code":' of the document; none without per-code detail)
        p = a + 1
        s_lo = sdx_off[i]
        n_s = sdx_off[i + 1] - s_lo
        x_lo = px_off[i]
        total = 1 + n_s + px_off[i + 1] - x_lo
        for k in range(total):
            r = _find_code(buf, p, b)
            if r < 0:
                break
            at = _put(dst, at, buf, p, r + 1)
            if k == 0:
                m = pdx_mask[i]
            elif k <= n_s:
                m = sdx_mask[s_lo + k - 1]
            else:
                m = px_mask[x_lo + k - 1 - n_s]
            at = _names(dst, at, fblob, foff, nblob, noff, m)
            p = r + 1
        at = _put(dst, at, buf, p, b)
        out_spans[i, 1] = at
    return _byte(dst, at, 93)


def splice_part(buf, spans, edited, batch, out, frags, separator: bytes):
    """(new buffer as a memoryview, new spans) for one rendered part."""
    spans = np.ascontiguousarray(spans)
    n = len(spans)
    out_spans = np.zeros((n, 2), np.int64)
    size = len(buf) + n * 600 + (len(batch.sdx) + len(batch.px)) * 120 + 16
    src = np.frombuffer(buf, np.uint8)
    args = (src, spans, edited, out.counts, out.edit_type, out.pdx_mask, batch.sdx_off, out.sdx_mask, batch.px_off,
            out.px_mask, batch.los, batch.edit_date, *frags, separator[0])
    dst = np.empty(size, np.uint8)
    end = splice(*args, dst, out_spans)
    if end > size:
        dst = np.empty(end, np.uint8)
        end = splice(*args, dst, out_spans)
    return dst.data[:end], out_spans
