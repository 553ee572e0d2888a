"""CMS stage 2, grouping: formulas in rank order.

A formula evaluated over the claim's operand set (:func:`_eval`), the claim's
CC/MCC level for one formula (:func:`_severity`, without the HAC codes in the
final grouping), the first formula of an MDC that holds (:func:`_group_mdc`),
and the grouping itself (:func:`_group`): pre-MDC formulas, else the principal
dx's MDC, then up to two reroutes.  The kernel runs it twice: the initial
grouping and, when a HAC criterion is met, the final one, whose severity
leaves out the met HAC codes (:func:`_is_hac_met`, here rather than in
engine.grouping.hac, which evaluates its formulas with :func:`_eval`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..tables import KEY_SEV, SEV_NONE
from .layout import HAC_MET, _F_DEATH, _F_EXCLUDED, _RC_UNGROUPABLE


@njit(cache=True, _nrt=False, forceinline=False)
def _eval(n_op, n_a, n_b, f_lo, f_hi, key_kind, key_sev, stamp, supp, val, f, mdc, sev, gen):
    """Value of formula ``f`` in MDC ``mdc`` with claim severity ``sev``
    (``-1``: no severity operand present, as during HAC evaluation)."""
    lo = f_lo[f]
    hi = f_hi[f]
    for n in range(lo, hi):
        op = n_op[n]
        r = n - lo
        if op == 0:
            key = n_a[n]
            if key_kind[key] == KEY_SEV:
                val[r] = sev == key_sev[key]
            elif stamp[key] == gen:
                val[r] = not (mdc < 32 and (supp[key] >> np.uint32(mdc)) & np.uint32(1))
            else:
                val[r] = False
        elif op == 1:
            val[r] = val[n_a[n] - lo] and val[n_b[n] - lo]
        elif op == 2:
            val[r] = val[n_a[n] - lo] or val[n_b[n] - lo]
        else:
            val[r] = not val[n_a[n] - lo]
    return val[hi - 1 - lo]


@njit(cache=True, _nrt=False, forceinline=False)
def _severity(s_flags, s_supbits, s_sev, s_nhac, s_hac_status, ns, supp_bits, final):
    """The claim's CC/MCC level for one formula: the highest secondary dx that is
    not CC-excluded, not death-excluded, not suppressed by the formula and (in
    the final grouping) not a hospital-acquired condition."""
    best = SEV_NONE
    for j in range(ns):
        if s_flags[j] & (_F_EXCLUDED | _F_DEATH):
            continue
        if supp_bits != 0 and (s_supbits[j] & supp_bits) != 0:
            continue
        if final and _is_hac_met(s_nhac, s_hac_status, j):
            continue
        s = s_sev[j]
        if s > best:
            best = s
    return best


@njit(cache=True, _nrt=False, forceinline=False)
def _is_hac_met(s_nhac, s_hac_status, j):
    for k in range(s_nhac[j]):
        if s_hac_status[j, k] == HAC_MET:
            return True
    return False


@njit(cache=True, _nrt=False, forceinline=False)
def _group_mdc(T, W, v, mdc, ns, final, gen, res):
    """First formula of ``mdc`` (rank order) that holds: res = [formula, severity, rc]."""
    res[0] = -1
    res[1] = SEV_NONE
    res[2] = 0
    if mdc < 0 or mdc >= 100:
        return False
    base = T.vm_off[v * 100 + mdc]
    end = T.vm_off[v * 100 + mdc + 1]
    sev0 = _severity(W.s_flags, W.s_supbits, W.s_sev, W.s_nhac, W.s_hac_status, ns, np.uint64(0), final)
    vm_req = T.vm_req  # (each listed formula's f_req, in list order: engine.grouping.derived)
    stamp = W.stamp
    for q in range(base, end):
        rk = vm_req[q]
        if rk >= 0 and stamp[rk] != gen:
            continue  # an operand the formula cannot hold without is absent
        f = T.vm_formulas[q]
        sb = T.f_supp[f]
        sev = sev0 if sb == 0 else _severity(W.s_flags, W.s_supbits, W.s_sev, W.s_nhac, W.s_hac_status, ns, sb, final)
        if _eval(T.n_op, T.n_a, T.n_b, T.f_lo, T.f_hi, T.key_kind, T.key_sev, W.stamp, W.supp, W.val, f, mdc, np.int64(sev), gen):
            if T.f_drg[f] == 0 and T.f_reroute[f] == 0:
                if T.f_rc[f] > 0:
                    res[0] = f
                    res[1] = sev
                    res[2] = T.f_rc[f]
                    return True
                continue
            res[0] = f
            res[1] = sev
            return True
    return False


@njit(cache=True, _nrt=False, forceinline=True)
def _group(T, W, v, pdx_mdc, ns, final, gen, st):
    """Pre-MDC formulas, else the principal dx's MDC; then up to two reroutes.

    st (int32[8]) receives: drg, mdc, severity, rc, pre formula, reroute formula,
    pdx formula, the formula that gave the DRG."""
    res = W.res
    for q in range(8):
        st[q] = -1
    st[3] = 0
    _group_mdc(T, W, v, np.int64(0), ns, final, gen, res)
    if res[2] > 0:
        st[3] = res[2]
        return
    f = res[0]
    from_pre = f >= 0
    mdc = pdx_mdc if pdx_mdc >= 0 else 0
    if from_pre:
        st[4] = f
    elif pdx_mdc >= 0:
        _group_mdc(T, W, v, np.int64(pdx_mdc), ns, final, gen, res)
        if res[2] > 0:
            st[3] = res[2]
            return
        f = res[0]
        st[6] = f
    if f < 0:
        st[3] = _RC_UNGROUPABLE
        return
    drg = T.f_drg[f]
    sev = res[1]
    st[7] = f
    # A pre-MDC reroute (trauma -> 24, HIV -> 25) names the claim's MDC; a reroute
    # from the principal dx's MDC (unrelated O.R. -> 29) keeps the principal dx's.
    for hop in range(2):
        rr = T.f_reroute[f]
        if rr == 0:
            break
        _group_mdc(T, W, v, np.int64(rr), ns, final, gen, res)
        if res[2] > 0:
            st[3] = res[2]
            return
        if res[0] < 0:
            break
        f = res[0]
        drg = T.f_drg[f]
        sev = res[1]
        st[5] = f
        st[7] = f
        if hop == 0 and from_pre:
            mdc = rr
    st[0] = drg
    st[1] = mdc
    st[2] = sev
