"""CMS stage 4, HAC: hospital-acquired conditions under the hospital's POA status.

After the initial grouping and marking: each secondary dx's HAC categories
evaluated under its POA indicator and the hospital's POA-reporting status
(:func:`_hac`, which returns the claim's HAC return code), the procedures a met
procedure-related HAC touched, and the HAC list each diagnosis reports
(:func:`_finish_hac_lists`).  The final grouping (engine.grouping.final and
:func:`engine.grouping.grouping._group`) reads the statuses set here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..tables import KEY_SDX, KEY_SEV
from .layout import (
    HAC_MET, HAC_NA_EXCLUSION, HAC_NA_EXEMPT, HAC_NOT_MET, HOSP_EXEMPT, HOSP_NOT_EXEMPT, MAX_HACS, POA_EXEMPT,
    POA_NOT_POA, POA_NOT_RECOGNIZED, POA_YES_POA, _F_EXCLUDED, _F_SHOW, _RC_INVALID_OR_1, _RC_MISSING_POA,
    _RC_MULT, _RC_N_OR_U, _SP_HAC06_SHOW, _SP_HAC11_PDX, _V41,
)
from .grouping import _eval


@njit(cache=True, _nrt=False, forceinline=False)
def _poa_invalid(poa):
    return not (poa == 89 or poa == 78 or poa == 85 or poa == 87)  # Y N U W


@njit(cache=True, _nrt=False, forceinline=False)
def _poa_yes(poa):
    return poa == 89 or poa == 87  # Y W


@njit(cache=True, _nrt=False, forceinline=False)
def _poa_error(poa):
    if poa == 89 or poa == 87:
        return POA_YES_POA
    if poa == 78 or poa == 85:
        return POA_NOT_POA
    return POA_NOT_RECOGNIZED


@njit(cache=True, _nrt=False, forceinline=True)
def _hac(T, B, W, O, i, v, s0, ns, p0, np_, hosp, gen):
    """Evaluate every HAC category of every secondary dx under the hospital's POA
    status.  Returns an ungroupable return code, or 0."""
    if hosp == HOSP_EXEMPT:
        for j in range(ns):
            if W.s_nhac[j] > 0:
                O.sdx_poa_err[s0 + j] = POA_EXEMPT
                for k in range(W.s_nhac[j]):
                    W.s_hac_status[j, k] = HAC_NA_EXEMPT
        return 0
    # A HAC formula's SDX: operands are those of the secondary dx that may be
    # hospital-acquired (POA not Y/W): CAUTI's catheter code reported POA Y/W
    # makes no UTI code a HAC (hstamp: the SDX keys they light, this claim).
    # A CC-excluded one (HAC_NOT_APPLICABLE_EXCLUSION) lights none either (CMS: the
    # catheter code repeating the principal dx makes no blank-POA UTI code a HAC).
    # Only _eval_hac reads them, for a secondary dx that is a HAC candidate with POA not
    # Y/W and not CC-excluded: most claims have none and light nothing.
    evaluated = False
    for j in range(ns):
        if W.s_nhac[j] > 0 and not _poa_yes(B.sdx_poa[s0 + j]) and not (W.s_flags[j] & _F_EXCLUDED):
            evaluated = True
            break
    for j in range(ns):
        if not evaluated:
            break
        sc = W.s_scheme[j]
        if sc < 0 or _poa_yes(B.sdx_poa[s0 + j]) or (W.s_flags[j] & _F_EXCLUDED):
            continue
        for q in range(T.sch_hac_off[sc], T.sch_hac_off[sc + 1]):
            key = T.attr_key[T.sch_hac[q], 1]
            if key >= 0:
                W.hstamp[key] = gen
        for q in range(T.sch_ops_off[sc], T.sch_ops_off[sc + 1]):
            key = T.attr_key[T.sch_ops[q], 1]
            if key >= 0:
                W.hstamp[key] = gen
        for q in range(T.sch_cat_off[sc], T.sch_cat_off[sc + 1]):
            key = T.attr_key[T.sch_cat[q], 1]
            if key >= 0:
                W.hstamp[key] = gen
    hac6_not_show = False
    invalid_poa_on_claim = False
    full_met = False  # a HAC formula true over all the claim's codes (see below)
    full_poa = 0
    met_any = False
    met_non6 = False
    hac6_invalid = False
    for j in range(ns):
        nh = W.s_nhac[j]
        if nh == 0:
            continue
        poa = B.sdx_poa[s0 + j]
        for k in range(nh):
            O.sdx_poa_err[s0 + j] = _poa_error(poa)
            if _poa_yes(poa):
                W.s_hac_status[j, k] = HAC_NOT_MET
                continue
            if W.s_flags[j] & _F_EXCLUDED:
                W.s_hac_status[j, k] = HAC_NA_EXCLUSION
                continue
            h = W.s_hac_num[j, k]
            status = HAC_NOT_MET
            for q in range(T.vh_off[v * 32 + h], T.vh_off[v * 32 + h + 1]):
                if _eval_hac(T.n_op, T.n_a, T.n_b, T.f_lo, T.f_hi, T.key_kind, W.stamp, W.hstamp, W.val, T.vh_formulas[q], gen):
                    status = HAC_MET
                    break
            W.s_hac_status[j, k] = status
            if not full_met and hosp != HOSP_NOT_EXEMPT:
                # an UNKNOWN-status hospital's return code reads the formula over every
                # code, whatever their POA (CMS: the UTI code with the catheter code POA W
                # is "not met" in the list, yet the claim is ungroupable)
                full = status == HAC_MET
                if not full:
                    for q in range(T.vh_off[v * 32 + h], T.vh_off[v * 32 + h + 1]):
                        if _eval(T.n_op, T.n_a, T.n_b, T.f_lo, T.f_hi, T.key_kind, T.key_sev, W.stamp, W.supp, W.val, T.vh_formulas[q], np.int64(0), np.int64(-1), gen):
                            full = True
                            break
                if full:
                    full_met = True
                    full_poa = poa
            if _poa_invalid(poa):
                invalid_poa_on_claim = True
            if status == HAC_MET:
                met_any = True
                if h == 6:
                    if not (W.s_flags[j] & _F_SHOW):
                        hac6_not_show = True
                    if _poa_invalid(poa):
                        hac6_invalid = True
                else:
                    met_non6 = True
    if not hac6_not_show:
        # HAC 06 counts only through a code that is not on the "show" list
        for j in range(ns):
            sc = W.s_scheme[j]
            if sc < 0:
                continue
            show = False
            for q in range(T.sch_hac_off[sc], T.sch_hac_off[sc + 1]):
                if T.attr_special[T.sch_hac[q]] & _SP_HAC06_SHOW:
                    show = True
            if show:
                for k in range(W.s_nhac[j]):
                    if W.s_hac_num[j, k] == 6:
                        W.s_hac_status[j, k] = HAC_NOT_MET
    # procedures touched by a met procedure-related HAC
    for j in range(ns):
        for k in range(W.s_nhac[j]):
            if W.s_hac_status[j, k] != HAC_MET:
                continue
            h = W.s_hac_num[j, k]
            bit = _hac_proc_bit(h)
            if bit == 0:
                continue
            for p in range(np_):
                pat = W.p_pattern[p]
                if pat < 0:
                    continue
                for q in range(T.pat_off[pat], T.pat_off[pat + 1]):
                    if T.attr_hac_proc[T.pat_attrs[q]] == h:
                        W.p_hac[p] |= bit
    if hosp == HOSP_NOT_EXEMPT:
        if not met_any:
            return 0
        if (met_non6 and invalid_poa_on_claim) or (hac6_not_show and hac6_invalid):
            return _RC_MISSING_POA
        return 0
    # unknown POA status: stricter, and over every code (full_met, above).
    # CMS counts every secondary dx here, whatever its POA: two or more codes on
    # the claim make a met HAC "multiple HACs, POA not Y/W".
    if not full_met:
        return 0
    if ns >= 2:
        return _RC_MULT
    if full_poa == 78 or full_poa == 85:
        return _RC_N_OR_U
    return _RC_INVALID_OR_1


@njit(cache=True, _nrt=False, forceinline=False)
def _eval_hac(n_op, n_a, n_b, f_lo, f_hi, key_kind, stamp, hstamp, val, f, gen):
    """Value of HAC formula ``f``: as :func:`_eval` outside any MDC and without a
    severity, its ``SDX:`` operands read from ``hstamp`` (see :func:`_hac`)."""
    lo = f_lo[f]
    hi = f_hi[f]
    for n in range(lo, hi):
        op = n_op[n]
        r = n - lo
        if op == 0:
            key = n_a[n]
            kk = key_kind[key]
            if kk == KEY_SEV:
                val[r] = False
            elif kk == KEY_SDX:
                val[r] = hstamp[key] == gen
            else:
                val[r] = stamp[key] == gen
        elif op == 1:
            val[r] = val[n_a[n] - lo] and val[n_b[n] - lo]
        elif op == 2:
            val[r] = val[n_a[n] - lo] or val[n_b[n] - lo]
        else:
            val[r] = not val[n_a[n] - lo]
    return val[hi - 1 - lo]


@njit(cache=True, _nrt=False, forceinline=False)
def _hac_proc_bit(h):
    if h == 8:
        return 1
    if h == 10:
        return 2
    if h == 11:
        return 4
    if h == 12:
        return 8
    if h == 13:
        return 16
    if h == 14:
        return 32
    return 0


@njit(cache=True, _nrt=False, forceinline=True)
def _finish_hac_lists(T, W, O, i, s0, ns, pdx_scheme, v):
    """The HAC list each diagnosis reports, as CMS reports it after evaluation."""
    any11 = False
    for j in range(ns):
        nh = W.s_nhac[j]
        if nh == 0:
            continue
        out = 0
        criteria = False
        seen6 = False
        poa_yw = W.s_flags[j] >= 0 and O.sdx_poa_err[s0 + j] == POA_YES_POA
        for k in range(nh):
            h = W.s_hac_num[j, k]
            s = W.s_hac_status[j, k]
            if s == HAC_MET and not poa_yw:
                if h == 6:
                    if seen6:
                        criteria = True
                        continue
                    seen6 = True
                if out < MAX_HACS:
                    O.sdx_hac_num[s0 + j, out] = h
                    O.sdx_hac_status[s0 + j, out] = s
                    out += 1
                if h == 11:
                    any11 = True
                criteria = True
                continue
            if s == HAC_NOT_MET and poa_yw:
                if out < MAX_HACS:
                    O.sdx_hac_num[s0 + j, out] = 0
                    O.sdx_hac_status[s0 + j, out] = s
                    out += 1
                criteria = True
                break
            if s == HAC_NA_EXCLUSION:
                if out < MAX_HACS:
                    O.sdx_hac_num[s0 + j, out] = h
                    O.sdx_hac_status[s0 + j, out] = s
                    out += 1
                criteria = True
                continue
            if s == HAC_NA_EXEMPT:
                if out < MAX_HACS:
                    O.sdx_hac_num[s0 + j, out] = 0
                    O.sdx_hac_status[s0 + j, out] = s
                    out += 1
                criteria = True
        if not criteria:
            for k in range(nh):
                if k > 0 and v < _V41:
                    break  # v40.0/v40.1 list one "criteria not met" entry per code, later versions one per HAC
                if out < MAX_HACS:
                    O.sdx_hac_num[s0 + j, out] = 0
                    O.sdx_hac_status[s0 + j, out] = W.s_hac_status[j, k]
                    out += 1
    if any11 and pdx_scheme >= 0:
        for q in range(T.sch_ops_off[pdx_scheme], T.sch_ops_off[pdx_scheme + 1]):
            if T.attr_special[T.sch_ops[q]] & _SP_HAC11_PDX:
                O.pdx_hac11[i] = True
        for q in range(T.sch_hac_off[pdx_scheme], T.sch_hac_off[pdx_scheme + 1]):
            if T.attr_special[T.sch_hac[q]] & _SP_HAC11_PDX:
                O.pdx_hac11[i] = True
