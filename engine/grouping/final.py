"""CMS stage 5, final: what the claim reports after the final grouping.

How each secondary dx counted as CC/MCC in the initial and the final DRG
(:func:`_usage`), and after final marking (:func:`_final_extra`): the HAC codes
and procedures that changed the DRG, the principal dx's marking, the
procedures' HAC flags and the claim's HAC status.  The final grouping itself
is :func:`engine.grouping.grouping._group` again, without the HAC codes'
CC/MCC (run by engine.grouping.kernel only when a HAC criterion is met).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..tables import SEV_NONE
from .layout import (
    AFF_BOTH, AFF_FINAL, HAC_MET, HOSP_EXEMPT, HS_CHANGES, HS_NO_CHANGE, HS_UNGROUPABLE, MAX_HACS, _F_DEATH,
    _F_EXCLUDED,
)
from .grouping import _is_hac_met
from .hac import _hac_proc_bit
from .marking import _procedure_mdc, _px_suppressed


@njit(cache=True, _nrt=False, forceinline=True)
def _usage(T, W, O, v, s0, ns, win_i, win_f, hosp, final_grouped):
    """How each secondary dx counted as CC/MCC in the initial and final DRG:
    0 NEITHER, 1 CC, 2 MCC, 3 CC_EXCLUDED, 4 MCC_EXCLUDED (CC exclusion by the
    principal dx), 5 CC_/6 MCC_EXCLUDED_BY_DRG_LOGIC (the DRG formula's severity
    suppression, or death for codes that count only when alive)."""
    supp_i = T.f_supp[win_i] if win_i >= 0 else np.uint64(0)
    supp_f = T.f_supp[win_f] if win_f >= 0 else np.uint64(0)
    drg_logic = T.ver_drg_logic[v]
    for j in range(ns):
        s = W.s_sev[j]
        fl = W.s_flags[j]
        if s == SEV_NONE:
            O.sdx_use_init[s0 + j] = 0
            O.sdx_use_final[s0 + j] = 0
            continue
        for stage in range(2):
            supp = supp_i if stage == 0 else supp_f
            if fl & _F_EXCLUDED:
                u = 2 + s
            elif fl & _F_DEATH:
                u = 0  # counts only when alive
            elif (drg_logic and supp != 0 and (W.s_supbits[j] & supp) != 0):
                u = 4 + s
            elif stage == 1 and hosp != HOSP_EXEMPT and _is_hac_met(W.s_nhac, W.s_hac_status, j):
                u = 0
            else:
                u = s
            if stage == 0:
                O.sdx_use_init[s0 + j] = u
            else:
                O.sdx_use_final[s0 + j] = u


@njit(cache=True, _nrt=False, forceinline=True)
def _final_extra(T, B, O, W, i, s0, ns, p0, np_, pdx_mdc, st_i, st_f, hosp):
    """After final marking: HAC codes that changed the DRG, the principal dx,
    per-code CC/MCC usage and the claim's HAC status."""
    wi = st_i[7]
    wf = st_f[7]
    differ = wi >= 0 and wf >= 0 and T.f_drg[wi] != T.f_drg[wf]
    if differ:  # the HAC codes that changed the DRG
        for j in range(ns):
            if _is_hac_met(W.s_nhac, W.s_hac_status, j):
                O.sdx_aff[s0 + j] |= AFF_FINAL
    if O.rc[i] == 0:
        O.pdx_aff[i] = AFF_BOTH
    if differ and wf >= 0:
        mdc = _procedure_mdc(T.f_drg, T.f_reroute, wf, pdx_mdc)
        for j in range(np_):
            hb = W.p_hac[j]
            if hb == 0 or _px_suppressed(W.p_supp, j, mdc):
                continue
            for j2 in range(ns):
                for k in range(W.s_nhac[j2]):
                    if W.s_hac_status[j2, k] == HAC_MET and (_hac_proc_bit(W.s_hac_num[j2, k]) & hb):
                        O.px_aff[p0 + j] |= AFF_FINAL
    for j in range(np_):
        O.px_hac[p0 + j] = W.p_hac[j]
    # claim HAC status
    if hosp != HOSP_EXEMPT:
        nmet = 0
        for j in range(ns):  # (a code's list holds at most one entry per HAC of the code)
            for k in range(min(W.s_nhac[j], MAX_HACS)):
                if O.sdx_hac_status[s0 + j, k] == HAC_MET:
                    nmet += 1
        if nmet > 0:
            if O.init_drg[i] == O.final_drg[i]:
                O.hac_status[i] = HS_NO_CHANGE
            elif O.final_drg[i] == 999:
                O.hac_status[i] = HS_UNGROUPABLE
            else:
                O.hac_status[i] = HS_CHANGES
