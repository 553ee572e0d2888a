"""The claim driver: the CMS stages in their order, claim after claim.

:func:`_group_claim` runs one claim through preprocess, the initial grouping
and marking, HAC, the final grouping and marking and the final reports, and
writes its output columns; :func:`group_range` is the compiled entry point
(engine.grouper.Grouper and engine.io.arrow call it), which builds the
unmanaged views and prefetches each next claim.  The stages live in their
own modules of engine.grouping; this one only sequences them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..tables import SURG_NA
from .layout import (
    AFF_FINAL, AFF_INITIAL, HAC_MET, HS_UNGROUPABLE, MAX_HACS, SEV_UNGROUPED, _RC_DX_CANNOT_BE_PDX,
    _RC_INVALID_DSTAT, _RC_UNGROUPABLE, _SP_ECODE, _SP_MCCALIVE,
)
from .intrinsics import _prefetch_claim, _unmanaged
from .preprocess import _preprocess
from .grouping import _group, _is_hac_met
from .hac import _finish_hac_lists, _hac
from .marking import _mark, _mark_views
from .final import _final_extra, _usage


@njit(cache=True, _nrt=False, inline="always")
def _group_claim(T, B, O, W, M, i):
    v = B.ver[i]
    s0 = B.sdx_off[i]
    ns = B.sdx_off[i + 1] - s0
    p0 = B.px_off[i]
    np_ = B.px_off[i + 1] - p0
    hosp = B.hosp[i]
    gen = W.gen[0] + 1
    W.gen[0] = gen

    # O arrives initialised (new_output): NONE / NOT_CHECKED / -1 / 0
    O.med_surg[i] = SURG_NA

    pdx_scheme, pdx_mdc, sex_conflict, nsat = _preprocess(T, B, W, i, v, s0, ns, p0, np_, gen)

    for j in range(np_):
        pat = W.p_pattern[j]
        if pat >= 0:
            O.px_is_or[p0 + j] = T.pat_is_or[pat]

    # -- initial grouping
    rc = 0
    dstat = B.dstat[i]
    dstat_valid = 0 <= dstat < 100 and T.valid_dstat[dstat]
    if not dstat_valid:
        for j in range(ns):
            sc = W.s_scheme[j]
            if sc >= 0:
                for q in range(T.sch_ops_off[sc], T.sch_ops_off[sc + 1]):
                    if T.attr_special[T.sch_ops[q]] & _SP_MCCALIVE:
                        rc = _RC_INVALID_DSTAT
    if rc == 0 and pdx_scheme >= 0:
        for q in range(T.sch_ops_off[pdx_scheme], T.sch_ops_off[pdx_scheme + 1]):
            if T.attr_special[T.sch_ops[q]] & _SP_ECODE:
                rc = _RC_DX_CANNOT_BE_PDX
    st_i = W.st_i
    if rc == 0:
        _group(T, W, v, pdx_mdc, ns, np.bool_(False), gen, st_i)
        if st_i[3] > 0 and st_i[3] != _RC_UNGROUPABLE:
            rc = st_i[3]
    if rc != 0:
        O.init_drg[i] = 999
        O.init_mdc[i] = 0
        O.final_drg[i] = 999
        O.final_mdc[i] = 0
        O.rc[i] = rc
        O.init_sev[i] = SEV_UNGROUPED
        O.final_sev[i] = SEV_UNGROUPED
        return  # ungroupable before grouping: no code counted, no HAC evaluated
    if st_i[3] == _RC_UNGROUPABLE:
        O.init_drg[i] = 999
        O.init_mdc[i] = 0
        O.init_sev[i] = SEV_UNGROUPED
    else:
        O.init_drg[i] = st_i[0]
        O.init_mdc[i] = st_i[1]
        O.init_sev[i] = SEV_UNGROUPED if st_i[0] == 998 else st_i[2]
        O.pdx_aff[i] = AFF_INITIAL

    _mark(M[0], M[1], M[2], M[3], i, v, s0, ns, p0, np_, pdx_scheme, pdx_mdc, nsat, st_i, np.int64(AFF_INITIAL), gen)

    # -- HAC
    hrc = _hac(T, B, W, O, i, v, s0, ns, p0, np_, hosp, gen)
    if hrc != 0:
        O.final_drg[i] = 999
        O.final_mdc[i] = 0
        O.rc[i] = hrc
        O.final_sev[i] = SEV_UNGROUPED
        _finish_hac_lists(T, W, O, i, s0, ns, pdx_scheme, v)
        _usage(T, W, O, v, s0, ns, st_i[7], st_i[7], hosp, np.bool_(False))  # no final DRG: the initial one's logic
        for j in range(np_):  # CMS still names the met HACs a procedure took part in
            O.px_hac[p0 + j] = W.p_hac[j]
            O.px_aff[p0 + j] &= ~AFF_FINAL  # (no final DRG: no final names, the counters' included)
        # "final DRG ungroupable" when a HAC is listed as met; an UNKNOWN-status claim
        # made ungroupable by a formula the POA rule then turned down lists none
        for j in range(ns):
            for k in range(MAX_HACS):
                if O.sdx_hac_status[s0 + j, k] == HAC_MET:
                    O.hac_status[i] = HS_UNGROUPABLE
        return

    # -- final grouping: the initial one without the CC/MCC of HAC codes, so the
    # same as the initial one when no HAC criteria are met (most claims)
    st_f = W.st_f
    hac_met = False
    for j in range(ns):
        if _is_hac_met(W.s_nhac, W.s_hac_status, j):
            hac_met = True
            break
    if hac_met:
        _group(T, W, v, pdx_mdc, ns, np.bool_(True), gen, st_f)
    else:
        for q in range(8):
            st_f[q] = st_i[q]
    if st_f[3] == _RC_UNGROUPABLE or st_f[3] > 0:
        O.final_drg[i] = 999
        O.final_mdc[i] = 0
        O.rc[i] = st_f[3]
    else:
        O.final_drg[i] = st_f[0]
        O.final_mdc[i] = st_f[1]
        O.final_sev[i] = SEV_UNGROUPED if st_f[0] == 998 else st_f[2]
        O.rc[i] = 0
        O.med_surg[i] = T.f_surg[st_f[7]]
    # marking reads the grouping's MDC, severity, pre-MDC formula and DRG formula and
    # nothing of HAC: the same four mark the same codes (every claim without a met
    # HAC criterion, and those whose HAC codes did not change them)
    remark = hac_met and (st_f[1] != st_i[1] or st_f[2] != st_i[2] or st_f[4] != st_i[4] or st_f[7] != st_i[7])
    if remark:
        for j in range(np_):  # (the initial stage wrote the counters' final names)
            O.px_aff[p0 + j] &= ~AFF_FINAL
        _mark(M[0], M[1], M[2], M[3], i, v, s0, ns, p0, np_, pdx_scheme, pdx_mdc, nsat, st_f, np.int64(AFF_FINAL), gen)
    else:
        for j in range(ns):
            if O.sdx_aff[s0 + j] & AFF_INITIAL:
                O.sdx_aff[s0 + j] |= AFF_FINAL
        for j in range(np_):
            if O.px_aff[p0 + j] & AFF_INITIAL:
                O.px_aff[p0 + j] |= AFF_FINAL
    if st_f[3] != 0:
        O.final_sev[i] = SEV_UNGROUPED
    _finish_hac_lists(T, W, O, i, s0, ns, pdx_scheme, v)
    _usage(T, W, O, v, s0, ns, st_i[7], st_f[7], hosp, np.bool_(True))
    _final_extra(T, B, O, W, i, s0, ns, p0, np_, pdx_mdc, st_i, st_f, hosp)


@njit(cache=True, nogil=True)
def group_range(T, B, O, W, lo, hi):
    """Group claims ``lo:hi`` on the calling thread, with a scratch of its own
    (:func:`new_scratch`, big enough for every claim of the range).  ``O`` must
    come from :func:`new_output` (the kernel writes only what
    differs from its initial values).

    It releases the GIL: :class:`engine.grouper.Grouper` runs chunks of a large
    batch on a thread pool, one chunk per core at a time.  (Python threads
    rather than numba's ``prange``: the parallel compile pipeline re-optimised
    the whole kernel a second time, a third of the cold start.)

    Returns how many of the claims it grouped got no DRG (initial or final
    DRG 0): the caller refuses those (engine.grouper.refuse_unmatched) and,
    when none did, need not look."""
    Tu = _unmanaged(T)
    Bu = _unmanaged(B)
    Ou = _unmanaged(O)
    Wu = _unmanaged(W)
    M = _mark_views(Tu, Bu, Ou, Wu)
    unmatched = 0
    for i in range(lo, hi):
        if i + 1 < hi:
            _prefetch_claim(Tu, Bu, i + 1)
        if Bu.ok[i]:
            _group_claim(Tu, Bu, Ou, Wu, M, i)
            if Ou.init_drg[i] == 0 or Ou.final_drg[i] == 0:
                unmatched += 1
    return unmatched
