"""Claim texts to result documents in one compiled call: read, group, write.

Why: :meth:`engine.grouper.Grouper.group_json_texts` used to run the reader
(:mod:`engine.parse`), the kernel (:mod:`engine.kernel`) and the writer
(:mod:`engine.render`) as three compiled calls glued by Python, each handed
its arrays and namedtuples from Python.  Handing numba ~200 arrays and
allocating ~60 numpy arrays cost ~350 µs a call: for the service's single
claims (a micro-batch of a few claims a call) that was more than grouping
them.  Here one compiled function does the three stages over a part of the
batch, allocating its columns inside compiled code, and the Python layer only
cuts the batch into parts and wraps the buffers.

The stages are the same functions the separate calls use (``read_claims``,
``group_range``, ``_render``): this module adds no grouping, reading or
writing rule of its own.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import kernel as K
from . import parse as P
from . import render as R


@njit(cache=True, nogil=True)
def run_part(buf, spans, reader, hospital, T, sizes, pool, longest, sep, detail, n_versions, n_rc):
    """Claims ``spans[i]`` of ``buf`` read, grouped and written as JSON.

    ``reader``: the reader's tables (see ``Grouper._reader``); ``hospital``:
    the default hospital status; ``T``: the kernel tables; ``sizes``: (operand
    keys, formula nodes, clusters per procedure code); ``pool``: the writer's
    fragments (``FragmentPool.arrays()``).

    Returns ``(status, out, end, doc_spans, counts)``: ``status[i]`` is
    ``parse.READ`` or ``parse.NOT_READ`` (written as ``null``, for the caller to
    answer), the documents are ``out[doc_spans[i, 0]:doc_spans[i, 1]]`` (JSON
    array ``out[:end]``), and ``counts[v * n_rc + rc]`` tallies the grouped
    claims by version and return code."""
    (dx_keys, dx_ids, dx_bits, pr_keys, pr_ids, pr_bits, ver_index, kblob, koff, hblob, hoff) = reader
    n = len(spans)
    text_bytes = spans[n - 1, 1] - spans[0, 0] if n else 0
    cap = text_bytes // 3 + 1  # a code takes 3 bytes at least ("A")

    # -- read
    status = np.zeros(n, np.int8)
    head = np.zeros((n, 11), np.int64)  # columns: see engine.parse._claim
    sdx_off = np.zeros(n + 1, np.int64)
    px_off = np.zeros(n + 1, np.int64)
    sdx = np.zeros(cap, np.int32)
    sdx_poa = np.zeros(cap, np.uint8)
    px = np.zeros(cap, np.int32)
    sdx_text = np.zeros((cap, 2), np.int64)
    px_text = np.zeros((cap, 2), np.int64)
    P.read_claims(buf, spans, dx_keys, dx_ids, dx_bits, pr_keys, pr_ids, pr_bits, ver_index, kblob, koff,
                  hblob, hoff, hospital, status, head, sdx_off, sdx, sdx_poa, sdx_text, px_off, px, px_text,
                  np.zeros(8, np.int64))
    ns = sdx_off[n]
    npx = px_off[n]
    ok = status == P.READ
    B = K.KernelBatch(
        ok, head[:, 0].astype(np.int8), head[:, 1].astype(np.int8), head[:, 2].astype(np.int16),
        head[:, 3].astype(np.int8), head[:, 4].astype(np.int32), head[:, 5] != 0, head[:, 6].astype(np.uint8),
        sdx_off, sdx[:ns].copy(), sdx_poa[:ns].copy(), px_off, px[:npx].copy(),
    )

    # -- group
    O = K.new_output(n, ns, npx)
    max_sdx = 1
    max_px = 1
    for i in range(n):
        max_sdx = max(max_sdx, sdx_off[i + 1] - sdx_off[i])
        max_px = max(max_px, px_off[i + 1] - px_off[i])
    W = K.new_scratch((sizes[0], sizes[1], max_sdx, max_px, max_px * sizes[2]))
    K.group_range(T, B, O, W, np.int64(0), np.int64(n))

    # -- write: ids and unknown codes are echoed from the text, so the text's
    # length bounds what they add
    doc_spans = np.zeros((n, 2), np.int64)
    size = 2 + n * (600 + 2 * longest) + ns * 300 + npx * 150 + text_bytes
    out = np.empty(size, np.uint8)
    end = _write(out, doc_spans, n, sep, pool, B, O, buf, head, sdx_text, px_text, ns, npx, detail)
    if end > size:  # the estimate was short: once more, with the exact size
        out = np.empty(end, np.uint8)
        end = _write(out, doc_spans, n, sep, pool, B, O, buf, head, sdx_text, px_text, ns, npx, detail)

    counts = np.zeros(n_versions * n_rc, np.int64)
    for i in range(n):
        if ok[i]:
            counts[np.int64(B.ver[i]) * n_rc + O.rc[i]] += 1
    return status, out, end, doc_spans, counts


@njit(cache=True, nogil=True)
def _write(out, doc_spans, n, sep, pool, B, O, buf, head, sdx_text, px_text, ns, npx, detail):
    data, off, drg_desc, mdc_desc, dx_text, dx_off, pr_text, pr_off = pool
    return R._render(
        out, doc_spans, np.int64(0), np.int64(n), sep, data, off, drg_desc, mdc_desc, dx_text, dx_off, pr_text, pr_off,
        B.ok, B.ver, B.pdx, B.pdx_poa, B.sdx_off, B.sdx, B.sdx_poa, B.px_off, B.px,
        O.init_drg, O.init_mdc, O.final_drg, O.final_mdc, O.rc, O.init_sev, O.final_sev,
        O.med_surg, O.hac_status, O.pdx_aff, O.pdx_hac11,
        O.sdx_aff, O.sdx_use_init, O.sdx_use_final, O.sdx_poa_err, O.sdx_hac_num, O.sdx_hac_status,
        O.px_aff, O.px_hac, O.px_is_or,
        buf, head[:, 7], head[:, 8], head[:, 7] >= 0, buf, head[:, 9], head[:, 10],
        buf, sdx_text[:ns, 0], sdx_text[:ns, 1], buf, px_text[:npx, 0], px_text[:npx, 1], detail,
    )
