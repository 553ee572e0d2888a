"""Kernel output columns to JSON bytes, compiled: the results without Python dicts.

Why: building a result dict per claim (and one per code inside it) in Python
cost five times the grouping itself, and the service then serialised those
dicts again.  Here one compiled pass writes every claim's result document into
one byte buffer, ``[doc0,doc1,...]``, copying pre-rendered JSON fragments (keys,
enumeration names, DRG titles) from a pool and formatting the numbers itself.
``orjson.loads`` of that buffer gives exactly the dicts
:func:`engine.decode.decode_results` builds (a test holds them equal), and the
service sends the slices as they are.  With the code editor's output
(engine.editing) the same pass writes its fields into each edited document:
every document is written once, edits or not.

The claim's ``id`` (any JSON value) and the code texts are the only per-claim
inputs from Python: ids are serialised with orjson, texts concatenated.  A
batch whose ids or texts this path cannot carry byte-exact (an id that is not a
str/int/bool, a code with non-ASCII characters) reports ``None`` and the caller
falls back to the Python decoder.
"""

from __future__ import annotations

import numpy as np
import orjson
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .decode import (
    AFFECTS, CLAIM_SEVERITY, CODE_SEVERITY, HAC_STATUS, HAC_USAGE, MED_SURG, POA_ERROR, PROC_HAC,
    _POA_TEXT,
)
from .editing import LOS_NOT_CHECKED
from .editing.kernel import EDIT_NAMES, EDIT_TYPES, N_EDITS
from .encode import version_label
from .fastcall import Bound
from .tables import MAX_VERSIONS, RETURN_CODES
from .payment import weights as PW

# ---- the fragment pool: static fragments first (their indices are compile-time constants)

_STATIC: list[bytes] = []


def _frag(text: str) -> int:
    _STATIC.append(text.encode())
    return len(_STATIC) - 1


def _names(names) -> int:
    """Quoted JSON strings for an enumeration; returns the index of the first."""
    base = len(_STATIC)
    _STATIC.extend(orjson.dumps(n) for n in names)
    return base


F_OPEN_ID = _frag('{"id":')
F_VERSION_AFTER_ID = _frag(',"version":')
F_OPEN_VERSION = _frag('{"version":')
F_DRG = _frag(',"drg":"')
F_MDC = _frag('","mdc":"')
F_IDRG = _frag('","initial_drg":"')
F_IMDC = _frag('","initial_mdc":"')
F_RC = _frag('","return_code":')
F_DDESC = _frag(',"drg_description":')
F_MDESC = _frag(',"mdc_description":')
F_PDX = _frag(',"pdx":{"code":"')
F_PDX_REST = _frag(',"severity_usage":{"initial":"NEITHER","final":"NEITHER"},'
                   '"poa_error":"POA_NOT_CHECKED","hacs":')
F_NO_HACS = _frag("[]}")
F_PDX_HAC11 = _frag('[{"number":11,"status":"NOT_ON_HAC_LIST"}]}')
F_SDX_OPEN = _frag(',"sdx":[')
F_CODE_FIRST = _frag('{"code":"')
F_CODE_NEXT = _frag(',{"code":"')
F_HAC_FIRST = _frag('{"number":')
F_HAC_NEXT = _frag(',{"number":')
F_STATUS = _frag(',"status":')
F_CLOSE_OBJ = _frag("}")
F_CLOSE_LIST_OBJ = _frag("]}")
F_PX_OPEN = _frag('],"procedures":[')
F_COMMA = _frag(",")
F_CLOSE_LIST = _frag("]")
F_NULL = _frag("null")
F_EMPTY_TEXT = _frag('""')
# the version labels: slots the FragmentPool fills with its tables' versions
B_VERSION = _names("" for _ in range(MAX_VERSIONS))
B_RC = _names(RETURN_CODES)
B_HAC_USAGE = _names(HAC_USAGE)
B_PROC_HAC = _names(name for _, name in PROC_HAC)


def _runs(template: str, *enums) -> int:
    """One fragment per combination of enumeration values: a run of the document
    written with one copy instead of one per key and value (the writer's cost is
    the number of copies).  Index: the values' positions, first enumeration most
    significant; returns the first fragment's index."""
    base = len(_STATIC)
    combos = [()]
    for names in enums:
        combos = [c + (n,) for c in combos for n in names]
    _STATIC.extend(template.format(*(orjson.dumps(v).decode() for v in c)).encode() for c in combos)
    return base


_POA_VALUES = [_POA_TEXT.get(b) for b in range(256)]
# the claim's severities, type and HAC status
R_CLAIM = _runs(',"severity":{{"initial":{},"final":{}}},"med_surg":{},"hac_status":{}',
                CLAIM_SEVERITY, CLAIM_SEVERITY, MED_SURG, HAC_STATUS)
# a diagnosis' POA and effect (POA by byte value), then its usage, POA check and the HAC list's start
R_POA_AFF = _runs('","poa":{},"affects_drg":{}', _POA_VALUES, AFFECTS)
R_USAGE = _runs(',"severity_usage":{{"initial":{},"final":{}}},"poa_error":{},"hacs":[',
                CODE_SEVERITY, CODE_SEVERITY, POA_ERROR)
# a procedure's effect, O.R. flag and the HAC list's start
R_PX = _runs('","affects_drg":{},"is_or":{},"hac_usage":[', AFFECTS, (False, True))
# the code editor's fields (engine.editing), written first in an edited document
# and first in each of its code objects: ``{"edit_type":T,"edits":{NAME:count,...},
# "edit_date":D[,"not_checked":[...]],"id":...`` and ``{"edits":[NAME,...],"code":...``
F_OPEN = _frag("{")
F_ID_KEY = _frag('"id":')
F_VERSION_KEY = _frag('"version":')
R_EDIT_TYPE = _runs('"edit_type":{},"edits":{{', EDIT_TYPES)
B_EDIT_COUNT = _runs('{}:', EDIT_NAMES)
B_EDIT_COUNT_NEXT = _runs(',{}:', EDIT_NAMES)
F_EDIT_DATE = _frag('},"edit_date":"')
F_DATE_CLOSE = _frag('",')
F_DATE_CLOSE_NOT_CHECKED = _frag('","not_checked":' + orjson.dumps(LOS_NOT_CHECKED).decode() + ",")
F_PDX_NO_EDITS = _frag(',"pdx":{"edits":[],"code":"')
F_CODE_FIRST_NO_EDITS = _frag('{"edits":[],"code":"')
F_CODE_NEXT_NO_EDITS = _frag(',{"edits":[],"code":"')
F_PDX_EDITS = _frag(',"pdx":{"edits":[')
F_CODE_FIRST_EDITS = _frag('{"edits":[')
F_CODE_NEXT_EDITS = _frag(',{"edits":[')
B_EDIT_NAME = _names(EDIT_NAMES)
B_EDIT_NAME_NEXT = _runs(',{}', EDIT_NAMES)
F_EDITS_CODE = _frag('],"code":"')
assert F_PDX_EDITS - F_PDX_NO_EDITS == F_CODE_NEXT_EDITS - F_CODE_NEXT_NO_EDITS == 3  # _put_code_edits
N_STATIC = len(_STATIC)
N_CLAIM_SEV, N_MED_SURG, N_HAC_STATUS = len(CLAIM_SEVERITY), len(MED_SURG), len(HAC_STATUS)
N_AFFECTS, N_CODE_SEV, N_POA_ERROR = len(AFFECTS), len(CODE_SEVERITY), len(POA_ERROR)


#: An empty byte blob.  Every blob handed to the writer is read-only, like the
#: bytes it usually views: numba compiles a function once per argument type, and
#: a writable empty array would be a second writer, compiled at the first batch
#: that has (or lacks) ids or unknown codes.
_NO_BYTES = np.frombuffer(b"", np.uint8)


def _blob(texts: list):
    """ASCII texts concatenated, with offsets; None if any is not ASCII."""
    blob = "".join(texts)
    if not blob.isascii():
        return None
    off = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)), out=off[1:])
    return np.frombuffer(blob.encode("ascii"), np.uint8), off


class FragmentPool:
    """The static fragments plus the DRG and MDC titles of every version, as one
    byte array with offsets; built once per Grouper."""

    def __init__(self, meta: dict):
        frags = list(_STATIC)
        versions = list(meta["versions"])
        if len(versions) > MAX_VERSIONS:
            raise ValueError(f"more than {MAX_VERSIONS} grouper versions")
        for i, v in enumerate(versions):
            frags[B_VERSION + i] = orjson.dumps(version_label(v))
        n_v = len(versions)
        self.drg_desc = np.full(n_v * 1000, F_EMPTY_TEXT, np.int32)
        self.mdc_desc = np.full(n_v * 100, F_EMPTY_TEXT, np.int32)
        for table, index, width in ((meta["drg_descriptions"], self.drg_desc, 1000),
                                    (meta["mdc_descriptions"], self.mdc_desc, 100)):
            for key, text in table.items():
                v, code = (int(x) for x in key.split(":"))
                if v in versions and 0 <= code < width:
                    index[versions.index(v) * width + code] = len(frags)
                    frags.append(orjson.dumps(text))
        lengths = np.fromiter((len(f) for f in frags), np.int64, len(frags))
        self.longest = int(lengths.max())
        # the text of every known code, by dense id (what the result echoes for it)
        self.dx_text, self.dx_off = _blob(meta["dx_codes"])
        self.pr_text, self.pr_off = _blob(meta["pr_codes"])
        self.off = np.zeros(len(frags) + 1, np.int64)
        np.cumsum(lengths, out=self.off[1:])
        self.data = np.frombuffer(b"".join(frags), np.uint8)
        #: the arrays, in the writer's argument order
        self.arrays = (self.data, self.off, self.drg_desc, self.mdc_desc, self.dx_text, self.dx_off,
                       self.pr_text, self.pr_off)


# ---- per-batch inputs from Python -----------------------------------------------------------

_PLAIN_IDS = (str, int, bool)


def _unknown_texts(ids: np.ndarray, valid: np.ndarray, start, texts: list):
    """The texts of the codes the grouper does not know (id -1): they are echoed as
    given.  Returns ``(blob, lo, hi)``: position ``p``'s text is ``blob[lo[p]:hi[p]]``
    (an empty span for a known code); None when a text is not ASCII.  Position
    ``p`` of claim ``c`` has the text ``texts[c][p - start[c]]``, or ``texts[p]``
    when ``start`` is None."""
    lo = np.zeros(len(ids), np.int64)
    hi = np.zeros(len(ids), np.int64)
    pos = np.flatnonzero((ids < 0) & valid)
    if not len(pos):
        return _NO_BYTES, lo, hi
    if start is None:
        found = [texts[p] for p in pos.tolist()]
    else:
        claim = np.searchsorted(start, pos, "right") - 1
        found = [texts[c][p - start[c]] for c, p in zip(claim.tolist(), pos.tolist())]
    blob = _blob(found)
    if blob is None:
        return None
    lo[pos] = blob[1][:-1]
    hi[pos] = blob[1][1:]
    return blob[0], lo, hi


def render_results(batch, out, pool: FragmentPool, detail: bool = True, run_all=None,
                   separator: bytes = b",", ranges=None, payment=None, writer=None):
    """``(parts, spans)``: each part is ``(buffer, lo, hi)``, the JSON array of
    the results of claims ``lo:hi`` (``null`` for a claim the encoder rejected);
    claim ``i``'s document is ``buffer[spans[i, 0]:spans[i, 1]]`` of its part.
    ``None`` when the batch needs the Python decoder (claims read from JSON
    text: :func:`render_read`).  ``run_all(fn, items)``: runs ``fn`` over the parts (on
    threads, say); default: one after the other.  ``separator`` (one byte)
    stands between documents: ``b","`` for the JSON array, ``b"\\n"`` for NDJSON.
    ``ranges``: the parts as (lo, hi); default: one part.  ``payment``: the
    batch's engine.payment.weights.PayColumns, whose fields close each result
    (None: none).  ``writer``: the compiled writer to call (:func:`results_writer`)."""
    if len(separator) != 1:
        raise ValueError("the separator is one byte")
    sep = separator[0]
    n = len(batch)
    ids = batch.ids
    has_id = np.zeros(n, np.bool_)
    if any(x is not None for x in ids):
        parts = []
        for i, x in enumerate(ids):
            if x is None:
                parts.append(b"")
                continue
            if type(x) not in _PLAIN_IDS:
                return None
            try:
                parts.append(orjson.dumps(x))
            except orjson.JSONEncodeError:  # e.g. an int beyond 64 bits
                return None
            has_id[i] = True
        id_len = np.fromiter(map(len, parts), np.int64, n)
        id_blob = np.frombuffer(b"".join(parts), np.uint8)
        id_off = np.zeros(n + 1, np.int64)
        np.cumsum(id_len, out=id_off[1:])
        id_lo, id_hi = id_off[:-1], id_off[1:]
    else:
        id_blob = _NO_BYTES
        id_lo = id_hi = np.zeros(n, np.int64)
    if detail:
        every = np.ones(max(len(batch.sdx), len(batch.px)), np.bool_)
        pdx = _unknown_texts(batch.pdx, batch.ok, None, batch.pdx_text)
        sdx = _unknown_texts(batch.sdx, every[:len(batch.sdx)], batch.sdx_off, batch.sdx_text)
        px = _unknown_texts(batch.px, every[:len(batch.px)], batch.px_off, batch.px_text)
        if pdx is None or sdx is None or px is None:
            return None
    else:
        nothing = _NO_BYTES
        pdx = (nothing, np.zeros(n, np.int64), np.zeros(n, np.int64))
        sdx = (nothing, np.zeros(len(batch.sdx), np.int64), np.zeros(len(batch.sdx), np.int64))
        px = (nothing, np.zeros(len(batch.px), np.int64), np.zeros(len(batch.px), np.int64))
    args = (sep, *pool.arrays, *_columns(batch, out), id_blob, id_lo, id_hi, has_id, *pdx, *sdx, *px, bool(detail),
            *_payment_args(payment, n), *_edit_args(None, batch))
    spans = np.zeros((n, 2), np.int64)
    sdx_off, px_off = batch.sdx_off, batch.px_off

    def render(part):
        lo, hi = part
        size = (_room(pool, hi - lo, int(sdx_off[hi] - sdx_off[lo]), int(px_off[hi] - px_off[lo]), payment)
                + int(np.sum(id_hi[lo:hi] - id_lo[lo:hi]))
                + int(np.sum(pdx[2][lo:hi] - pdx[1][lo:hi]))
                + int(np.sum(sdx[2][sdx_off[lo]:sdx_off[hi]] - sdx[1][sdx_off[lo]:sdx_off[hi]]))
                + int(np.sum(px[2][px_off[lo]:px_off[hi]] - px[1][px_off[lo]:px_off[hi]])))
        return _write(spans, lo, hi, size, args, writer), lo, hi

    ranges = ranges or [(0, n)]
    parts = list(run_all(render, ranges) if run_all is not None and len(ranges) > 1 else map(render, ranges))
    return parts, spans


def render_read(batch, out, pool: FragmentPool, buf, texts, text_bytes: int, detail: bool = True,
                separator: bytes = b",", payment=None, edits=None, writer=None):
    """``(buffer, spans)`` for claims read from JSON text by
    :func:`engine.parse.read_batch`: ids and unknown codes are echoed from the
    text ``buf`` (``texts``: their spans, as ``read_batch`` gives them; they add
    at most ``text_bytes``), a claim not read is written as ``null``.  The rest
    as :func:`render_results`.  ``edits``: ``(edited, EditOut)``, the code
    editor's output (engine.editing) and which claims carry it: their documents
    open with its fields and each code object with its ``edits`` (None: none).
    ``writer``: the compiled writer to call (an engine.fastcall.Bound of it)."""
    if len(separator) != 1:
        raise ValueError("the separator is one byte")
    n = len(batch.ok)
    id_lo, id_hi, pdx_lo, pdx_hi, sdx_lo, sdx_hi, px_lo, px_hi = texts
    args = (separator[0], *pool.arrays, *_columns(batch, out), buf, id_lo, id_hi, id_lo >= 0,
            buf, pdx_lo, pdx_hi, buf, sdx_lo, sdx_hi, buf, px_lo, px_hi, bool(detail), *_payment_args(payment, n),
            *_edit_args(edits, batch))
    spans = np.zeros((n, 2), np.int64)
    size = _room(pool, n, len(batch.sdx), len(batch.px), payment, edits is not None) + text_bytes
    return _write(spans, 0, n, size, args, writer), spans


def read_writer() -> Bound:
    """The compiled writer for one Grouper's :func:`render_read` calls, typed
    once (engine.fastcall): its arguments are the Grouper's fragment pool, the
    columns of engine.parse.read_batch, the kernel and the payment and editor
    kernels (their types fixed where they are allocated), and the text buffer,
    which the Grouper makes read-only where it cuts it."""
    return Bound(_render)


#: The writer's arguments whose types :func:`render_results` does not fix itself:
#: the caller's batch columns (engine.encode's, or a batch built by hand), the
#: echoed texts' bytes (read-only when there are some) and the payment pool (the
#: tables' read-only bytes, or an empty stand-in).  Its other arguments are the
#: Grouper's pool, the kernel's columns and arrays it makes itself.
_PER_CALL = frozenset((
    "ok", "ver", "pdx", "pdx_poa", "sdx_off", "sdx", "sdx_poa", "px_off", "px",
    "id_blob", "pdx_text", "sdx_text", "px_text", "pay_pool",
))


def results_writer() -> Bound:
    """The compiled writer for one Grouper's :func:`render_results` calls, typed
    once (engine.fastcall) but for the arguments of :data:`_PER_CALL`, checked on
    every call: typing its ~75 arguments cost more than writing a few claims."""
    code = _render.py_func.__code__
    names = code.co_varnames[:code.co_argcount]
    return Bound(_render, checked=tuple(i for i, name in enumerate(names) if name in _PER_CALL))


def _columns(batch, out) -> tuple:
    """The batch's and the kernel's columns, in the writer's argument order."""
    o = out
    return (
        batch.ok, batch.ver, batch.pdx, batch.pdx_poa, batch.sdx_off, batch.sdx, batch.sdx_poa,
        batch.px_off, batch.px,
        o.init_drg, o.init_mdc, o.final_drg, o.final_mdc, o.rc, o.init_sev, o.final_sev,
        o.med_surg, o.hac_status, o.pdx_aff, o.pdx_hac11,
        o.sdx_aff, o.sdx_use_init, o.sdx_use_final, o.sdx_poa_err, o.sdx_hac_num, o.sdx_hac_status,
        o.px_aff, o.px_hac, o.px_is_or,
    )


def _room(pool: FragmentPool, n: int, n_sdx: int, n_px: int, payment=None, edits: bool = False) -> int:
    """Bytes for ``n`` results with these codes, but for ids, echoed code texts,
    long HAC lists (codes: 8 bytes at most each) and many edits."""
    extra = 0 if payment is None else n * (2 * payment.tables.longest + 400)
    if edits:
        extra += n * 200 + (n + n_sdx + n_px) * 40
    return 2 + n * (600 + 2 * pool.longest) + n_sdx * 300 + n_px * 150 + extra


_NO_INT32 = np.zeros(0, np.int32)
_NO_INT64 = np.zeros(0, np.int64)
_NO_INT8 = np.zeros(0, np.int8)


def _payment_args(payment, n: int) -> tuple:
    """The writer's payment arguments (engine.payment): its fragment pool and the
    batch's columns; empty arrays and ``False`` when the results carry none."""
    if payment is None:
        return (_NO_BYTES, _NO_INT64, _NO_INT32, _NO_INT32, _NO_INT8, _NO_INT64, _NO_INT64, np.int64(-1), False)
    return (*payment.writer_args(), True)


_NO_BOOL = np.zeros(0, np.bool_)
_NO_UINT32 = np.zeros(0, np.uint32)
_NO_COUNTS = np.zeros((0, N_EDITS), np.int32)


def _edit_args(edits, batch) -> tuple:
    """The writer's code-editor arguments: which claims carry edits, the editor's
    columns (engine.editing.kernel.EditOut), the claims' length of stay and edit
    date; empty arrays and ``False`` when the results carry none."""
    if edits is None:
        return (_NO_BOOL, _NO_INT8, _NO_COUNTS, _NO_UINT32, _NO_UINT32, _NO_UINT32, _NO_INT32, _NO_INT32, False)
    edited, e = edits
    return (edited, e.edit_type, e.counts, e.pdx_mask, e.sdx_mask, e.px_mask, batch.los, batch.edit_date, True)


def _write(spans, lo: int, hi: int, size: int, args: tuple, writer=None):
    """The writer (``writer``, else :func:`_render`) over claims ``lo:hi`` into
    ``size`` bytes, once more with the exact size when that was short; the JSON
    array as a memoryview."""
    writer = writer or _render
    buf = np.empty(size, np.uint8)
    end = writer(buf, spans, lo, hi, *args)
    if end > size:
        buf = np.empty(end, np.uint8)
        end = writer(buf, spans, lo, hi, *args)
    return buf.data[:end]


# ---- the compiled writer ----------------------------------------------------------------------

@intrinsic
def _copy(typingctx, dst, at, src, start, n):
    """``dst[at:at + n] = src[start:start + n]`` as one memcpy, for byte arrays whose
    bounds the caller has checked.  A numba loop over the bytes cost ~3 cycles a
    byte (each index wraps negatives); fragments are 10-200 bytes and the
    copies were most of the writer's time."""
    if not (isinstance(dst, types.Array) and isinstance(src, types.Array)
            and dst.dtype == types.uint8 and src.dtype == types.uint8):
        return None

    def codegen(context, builder, signature, args):
        d, at_, s, start_, n_ = args
        ta, tat, tb, tst, tn = signature.args
        i64 = types.int64
        dptr = builder.gep(context.make_array(ta)(context, builder, d).data, [context.cast(builder, at_, tat, i64)])
        sptr = builder.gep(context.make_array(tb)(context, builder, s).data, [context.cast(builder, start_, tst, i64)])
        cgutils.raw_memcpy(builder, dptr, sptr, context.cast(builder, n_, tn, i64), 1)
        return context.get_dummy_value()

    return types.void(dst, at, src, start, n), codegen


@njit(cache=True, _nrt=False)
def _put(buf, pos, pool, off, k):
    """Copy fragment ``k``; past the buffer's end only count (the caller retries)."""
    a = off[k]
    n = off[k + 1] - a
    if pos + n <= len(buf):
        _copy(buf, pos, pool, a, n)
    return pos + n


@njit(cache=True, _nrt=False)
def _put_bytes(buf, pos, src, a, b):
    n = b - a
    if n > 0 and pos + n <= len(buf):
        _copy(buf, pos, src, a, n)
    return pos + n


@njit(cache=True, _nrt=False)
def _put_code(buf, pos, code, table, table_off, given, lo, hi):
    """A code's text: the grouper's own for a known code (id >= 0), else as given."""
    if code >= 0:
        return _put_bytes(buf, pos, table, table_off[code], table_off[code + 1])
    return _put_bytes(buf, pos, given, lo, hi)


@njit(cache=True, _nrt=False)
def _put_digits(buf, pos, value, width):
    """``value`` in decimal, zero-padded to ``width`` digits (0: as many as it takes)."""
    if value < 0:
        if pos < len(buf):
            buf[pos] = 45  # '-'
        pos += 1
        value = -value
    nd = 1
    p = 10
    while p <= value:
        nd += 1
        p *= 10
    if nd < width:
        nd = width
    if pos + nd <= len(buf):
        for q in range(nd - 1, -1, -1):
            buf[pos + q] = 48 + value % 10
            value //= 10
    return pos + nd


@njit(cache=True, _nrt=False)
def _put_decimal(buf, pos, value, decimals):
    """``value / 10**decimals`` (value >= 0) as JSON writes that float: the
    shortest digits, at least one decimal ("2.0", "1.25")."""
    scale = np.int64(1)
    for _ in range(decimals):
        scale *= 10
    pos = _put_digits(buf, pos, value // scale, np.int64(0))
    frac = value % scale
    width = decimals
    while width > 1 and frac % 10 == 0:
        frac //= 10
        width -= 1
    if pos < len(buf):
        buf[pos] = 46  # '.'
    pos += 1
    return _put_digits(buf, pos, frac, width)


@njit(cache=True, _nrt=False)
def _put_payment(buf, pos, i, pool, off, final, init, transfer, adjusted, amount, base_cents):
    """Claim ``i``'s payment fields (engine.payment.weights: the pool's static fragments first)."""
    pos = _put(buf, pos, pool, off, np.int64(final[i]))
    pos = _put(buf, pos, pool, off, np.int64(init[i]))
    pos = _put(buf, pos, pool, off, np.int64(PW.P_TRANSFER + transfer[i]))
    pos = _put(buf, pos, pool, off, np.int64(PW.P_ADJUSTED))
    if adjusted[i] < 0:
        pos = _put(buf, pos, pool, off, np.int64(PW.P_NULL))
    else:
        pos = _put_decimal(buf, pos, np.int64(adjusted[i]), np.int64(4))
    if amount[i] < 0:
        return _put(buf, pos, pool, off, np.int64(PW.P_PAY_NULL))
    pos = _put(buf, pos, pool, off, np.int64(PW.P_PAY_OPEN))
    pos = _put_decimal(buf, pos, np.int64(amount[i]), np.int64(2))
    pos = _put(buf, pos, pool, off, np.int64(PW.P_PAY_BASE))
    pos = _put_decimal(buf, pos, np.int64(base_cents), np.int64(2))
    return _put(buf, pos, pool, off, np.int64(PW.P_PAY_CLOSE))


@njit(cache=True, _nrt=False)
def _put_date(buf, pos, days):
    """Days since 1970-01-01 as YYYY-MM-DD (the civil date of a day number)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    pos = _put_digits(buf, pos, y, np.int64(4))
    if pos < len(buf):
        buf[pos] = 45  # '-'
    pos = _put_digits(buf, pos + 1, m, np.int64(2))
    if pos < len(buf):
        buf[pos] = 45
    return _put_digits(buf, pos + 1, d, np.int64(2))


@njit(cache=True, _nrt=False)
def _put_edit_head(buf, pos, pool, off, i, e_type, e_counts, e_los, e_date):
    """Claim ``i``'s ``"edit_type"``, ``"edits"``, ``"edit_date"`` (and
    ``"not_checked"`` without a length of stay), each followed by a comma."""
    pos = _put(buf, pos, pool, off, np.int64(R_EDIT_TYPE + e_type[i]))
    first = True
    for e in range(N_EDITS):
        c = e_counts[i, e]
        if c:
            pos = _put(buf, pos, pool, off, np.int64((B_EDIT_COUNT if first else B_EDIT_COUNT_NEXT) + e))
            pos = _put_digits(buf, pos, np.int64(c), np.int64(0))
            first = False
    pos = _put(buf, pos, pool, off, np.int64(F_EDIT_DATE))
    pos = _put_date(buf, pos, np.int64(e_date[i]))
    return _put(buf, pos, pool, off, np.int64(F_DATE_CLOSE_NOT_CHECKED if e_los[i] < 0 else F_DATE_CLOSE))


@njit(cache=True, _nrt=False)
def _put_code_edits(buf, pos, pool, off, opening, mask):
    """A code object's opening (``opening``: its ``F_*_EDITS`` fragment) with the
    edits of ``mask`` (bit e: EDIT_NAMES[e]), up to its code's text."""
    if mask == 0:  # the usual case: one copy (each *_NO_EDITS fragment is 3 after its *_EDITS one)
        return _put(buf, pos, pool, off, opening - 3)
    pos = _put(buf, pos, pool, off, opening)
    first = True
    for e in range(N_EDITS):
        if mask >> e & 1:
            pos = _put(buf, pos, pool, off, np.int64((B_EDIT_NAME if first else B_EDIT_NAME_NEXT) + e))
            first = False
    return _put(buf, pos, pool, off, np.int64(F_EDITS_CODE))


# Fragment ids and widths go to the helpers as np.int64(...): a bare constant is a
# numba literal type, and each literal would compile a helper of its own.
@njit(cache=True, nogil=True, _nrt=False)
def _render(buf, spans, lo, hi, sep, pool, off, drg_desc, mdc_desc, dx_text, dx_off, pr_text, pr_off,
            ok, ver, pdx, pdx_poa, sdx_off, sdx, sdx_poa, px_off, px,
            init_drg, init_mdc, final_drg, final_mdc, rc, init_sev, final_sev,
            med_surg, hac_status, pdx_aff, pdx_hac11,
            sdx_aff, use_init, use_final, poa_err, hac_num, hac_st,
            px_aff, px_hac, px_is_or,
            id_blob, id_lo, id_hi, has_id, pdx_text, pdx_lo, pdx_hi, sdx_text, sdx_lo, sdx_hi,
            px_text, px_lo, px_hi, detail,
            pay_pool, pay_off, pay_final, pay_init, pay_transfer, pay_adjusted, pay_amount, base_cents, priced,
            edited, e_type, e_counts, e_pdx, e_sdx, e_px, e_los, e_date, editing):
    if len(buf) > 0:
        buf[0] = 91  # '['
    pos = 1
    for i in range(lo, hi):
        if i > lo:
            if pos < len(buf):
                buf[pos] = sep
            pos += 1
        spans[i, 0] = pos
        if not ok[i]:
            pos = _put(buf, pos, pool, off, np.int64(F_NULL))
            spans[i, 1] = pos
            continue
        ed = editing and edited[i]
        if ed:  # the code editor's fields first
            pos = _put(buf, pos, pool, off, np.int64(F_OPEN))
            pos = _put_edit_head(buf, pos, pool, off, i, e_type, e_counts, e_los, e_date)
        if has_id[i]:
            pos = _put(buf, pos, pool, off, np.int64(F_ID_KEY if ed else F_OPEN_ID))
            pos = _put_bytes(buf, pos, id_blob, id_lo[i], id_hi[i])
            pos = _put(buf, pos, pool, off, np.int64(F_VERSION_AFTER_ID))
        else:
            pos = _put(buf, pos, pool, off, np.int64(F_VERSION_KEY if ed else F_OPEN_VERSION))
        v = ver[i]
        pos = _put(buf, pos, pool, off, np.int64(B_VERSION + v))
        pos = _put(buf, pos, pool, off, np.int64(F_DRG))
        pos = _put_digits(buf, pos, np.int64(final_drg[i]), np.int64(3))
        pos = _put(buf, pos, pool, off, np.int64(F_MDC))
        pos = _put_digits(buf, pos, np.int64(final_mdc[i]), np.int64(2))
        pos = _put(buf, pos, pool, off, np.int64(F_IDRG))
        pos = _put_digits(buf, pos, np.int64(init_drg[i]), np.int64(3))
        pos = _put(buf, pos, pool, off, np.int64(F_IMDC))
        pos = _put_digits(buf, pos, np.int64(init_mdc[i]), np.int64(2))
        pos = _put(buf, pos, pool, off, np.int64(F_RC))
        pos = _put(buf, pos, pool, off, np.int64(B_RC + rc[i]))
        pos = _put(buf, pos, pool, off, np.int64(F_DDESC))
        d = final_drg[i]
        pos = _put(buf, pos, pool, off, np.int64(drg_desc[v * 1000 + d] if 0 <= d < 1000 else F_EMPTY_TEXT))
        pos = _put(buf, pos, pool, off, np.int64(F_MDESC))
        m = final_mdc[i]
        pos = _put(buf, pos, pool, off, np.int64(mdc_desc[v * 100 + m] if 0 <= m < 100 else F_EMPTY_TEXT))
        pos = _put(buf, pos, pool, off, np.int64(
            R_CLAIM + ((init_sev[i] * N_CLAIM_SEV + final_sev[i]) * N_MED_SURG + med_surg[i]) * N_HAC_STATUS
            + hac_status[i]))
        if detail:
            if ed:
                pos = _put_code_edits(buf, pos, pool, off, np.int64(F_PDX_EDITS), e_pdx[i])
            else:
                pos = _put(buf, pos, pool, off, np.int64(F_PDX))
            pos = _put_code(buf, pos, pdx[i], dx_text, dx_off, pdx_text, pdx_lo[i], pdx_hi[i])
            pos = _put(buf, pos, pool, off, np.int64(R_POA_AFF + pdx_poa[i] * N_AFFECTS + pdx_aff[i]))
            pos = _put(buf, pos, pool, off, np.int64(F_PDX_REST))
            pos = _put(buf, pos, pool, off, np.int64(F_PDX_HAC11 if pdx_hac11[i] else F_NO_HACS))
            pos = _put(buf, pos, pool, off, np.int64(F_SDX_OPEN))
            for j in range(sdx_off[i], sdx_off[i + 1]):
                if ed:
                    pos = _put_code_edits(buf, pos, pool, off, np.int64(
                        F_CODE_FIRST_EDITS if j == sdx_off[i] else F_CODE_NEXT_EDITS), e_sdx[j])
                else:
                    pos = _put(buf, pos, pool, off, np.int64(F_CODE_FIRST if j == sdx_off[i] else F_CODE_NEXT))
                pos = _put_code(buf, pos, sdx[j], dx_text, dx_off, sdx_text, sdx_lo[j], sdx_hi[j])
                pos = _put(buf, pos, pool, off, np.int64(R_POA_AFF + sdx_poa[j] * N_AFFECTS + sdx_aff[j]))
                pos = _put(buf, pos, pool, off, np.int64(
                    R_USAGE + (use_init[j] * N_CODE_SEV + use_final[j]) * N_POA_ERROR + poa_err[j]))
                for k in range(hac_num.shape[1]):
                    s = hac_st[j, k]
                    if s < 0:
                        break
                    pos = _put(buf, pos, pool, off, np.int64(F_HAC_FIRST if k == 0 else F_HAC_NEXT))
                    pos = _put_digits(buf, pos, np.int64(hac_num[j, k]), np.int64(0))
                    pos = _put(buf, pos, pool, off, np.int64(F_STATUS))
                    pos = _put(buf, pos, pool, off, np.int64(B_HAC_USAGE + s))
                    pos = _put(buf, pos, pool, off, np.int64(F_CLOSE_OBJ))
                pos = _put(buf, pos, pool, off, np.int64(F_CLOSE_LIST_OBJ))
            pos = _put(buf, pos, pool, off, np.int64(F_PX_OPEN))
            for j in range(px_off[i], px_off[i + 1]):
                if ed:
                    pos = _put_code_edits(buf, pos, pool, off, np.int64(
                        F_CODE_FIRST_EDITS if j == px_off[i] else F_CODE_NEXT_EDITS), e_px[j])
                else:
                    pos = _put(buf, pos, pool, off, np.int64(F_CODE_FIRST if j == px_off[i] else F_CODE_NEXT))
                pos = _put_code(buf, pos, px[j], pr_text, pr_off, px_text, px_lo[j], px_hi[j])
                pos = _put(buf, pos, pool, off, np.int64(R_PX + px_aff[j] * 2 + (1 if px_is_or[j] else 0)))
                hb = px_hac[j]
                first = True
                for b in range(6):
                    if hb & (1 << b):
                        if not first:
                            pos = _put(buf, pos, pool, off, np.int64(F_COMMA))
                        pos = _put(buf, pos, pool, off, np.int64(B_PROC_HAC + b))
                        first = False
                pos = _put(buf, pos, pool, off, np.int64(F_CLOSE_LIST_OBJ))
            pos = _put(buf, pos, pool, off, np.int64(F_CLOSE_LIST))
        if priced:  # engine.payment: the weights, transfer, adjusted weight and estimate
            pos = _put_payment(buf, pos, i, pay_pool, pay_off, pay_final, pay_init, pay_transfer, pay_adjusted,
                               pay_amount, base_cents)
        pos = _put(buf, pos, pool, off, np.int64(F_CLOSE_OBJ))
        spans[i, 1] = pos
    if pos < len(buf):
        buf[pos] = 93  # ']'
    return pos + 1
