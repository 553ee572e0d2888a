"""CMS stage 1, preprocess: the claim's operand set.

Everything grouping reads about a claim is computed here once: each code's
attributes (and their MDC suppression), the satisfied procedure clusters, the
secondary diagnoses' severity, flags and HAC candidates, CC exclusions by the
principal dx, the built-in operands (discharge status, counters, sex
conflicts) and the principal dx's MDC.  It also owns the small attribute
lookups (:func:`_has_attr`, :func:`_dx_has`) the later stages reuse.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..tables import SEV_NONE
from .layout import (
    HAC_NOT_ON_LIST, MAX_CLUSTERS, MAX_HACS, SEX_FEMALE, SEX_MALE, SEX_UNKNOWN, _B_ALIVE, _B_AMA, _B_ANYDX,
    _B_BILATERAL, _B_DIED, _B_FOUR_DRUG, _B_FOUR_NON_DRUG, _B_FOUR_STENTS, _B_FOUR_VESSELS, _B_INCIDENT,
    _B_INVALID_DSTAT, _B_INVALID_PDX, _B_INVALID_SEX, _B_MDC20, _B_MULTFUSE, _B_MULTST, _B_PDX_ECODE,
    _B_SGLANTCTR, _B_SGLANTSECTXCTR, _B_SGLPOST1CTR, _B_SGLPOSTFUSECTR, _B_SINGLEFUSIONCTR, _B_XFRNBA,
    _F_DEATH, _F_EXCLUDED, _F_SHOW, _F_VALID, _SP_HAC06_SHOW, _SP_HAC11_PDX, _SP_MCCALIVE, _SP_NORDRUGSTENT,
    _SP_NORSTENT,
)


@njit(cache=True, _nrt=False, forceinline=False)
def _put(stamp, supp_arr, key, supp, gen):
    """Light ``key`` with MDC-suppression mask ``supp``; masks of repeats are AND-ed
    (an operand is suppressed in an MDC only when every code giving it is)."""
    if key >= 0:
        if stamp[key] != gen:
            stamp[key] = gen
            supp_arr[key] = supp
        else:
            supp_arr[key] &= supp


@njit(cache=True, _nrt=False, forceinline=False)
def _add_attr(attr_key, bilateral_bit, vessel, stamp, supp_arr, attr, prefix_col, supp, gen, cum):
    """Light the keys of one attribute as CMS's mask builder does: the prefixed
    key (``PDX:x``/``ONLY:x``, or the bare one), ``ANY:x``, and the bare ``x``."""
    if prefix_col == 0:
        _put(stamp, supp_arr, attr_key[attr, 0], supp, gen)
    else:
        _put(stamp, supp_arr, attr_key[attr, prefix_col], supp, gen)
        _put(stamp, supp_arr, attr_key[attr, 0], supp, gen)
    _put(stamp, supp_arr, attr_key[attr, 3], supp, gen)
    b = bilateral_bit[attr]
    if b >= 0:
        cum[0] |= 1 << b
    cum[1] += vessel[attr]


@njit(cache=True, _nrt=False, forceinline=False)
def _has_attr(off, lst, idx, attr):
    for q in range(off[idx], off[idx + 1]):
        if lst[q] == attr:
            return True
    return False


@njit(cache=True, _nrt=False, forceinline=False)
def _dx_has(ops_off, ops, cat_off, cat, scheme, attr, with_cat):
    if scheme < 0:
        return False
    if _has_attr(ops_off, ops, scheme, attr):
        return True
    if with_cat and _has_attr(cat_off, cat, scheme, attr):
        return True
    return False


@njit(cache=True, _nrt=False, forceinline=False)
def _excluded(dx_excl, excl_off, excl_codes, v, pdx, sdx):
    """CC exclusion: a secondary dx is excluded when it is in the exclusion group
    of the principal dx (a sorted run of ``excl_codes``).

    The search halves the run with a select rather than a branch: its steps
    depend only on the run's length, so they are predicted (a branch on each
    comparison mispredicted about every other step, several times per CC/MCC
    code)."""
    if pdx < 0 or sdx < 0:
        return False
    g = dx_excl[v, pdx]
    if g < 0:
        return False
    base = excl_off[g]
    n = excl_off[g + 1] - base
    if n <= 0:
        return False
    while n > 1:
        half = n >> 1
        base = base + half if excl_codes[base + half] <= sdx else base
        n -= half
    return excl_codes[base] == sdx


@njit(cache=True, _nrt=False, forceinline=False)
def _clusters(T, B, W, v, p0, np_):
    """Satisfied clusters: every choice of the cluster is on the claim.  Component
    procedures seen up to the point of satisfaction take the cluster's MDC
    suppression and its membership.  Returns the number of satisfied clusters."""
    ncand = 0
    for j in range(np_):
        code = B.px[p0 + j]
        if code < 0:
            continue
        for q in range(T.pr_cl_off[v, code], T.pr_cl_off[v, code + 1]):
            c = T.pr_cl[q]
            dup = False
            for r in range(ncand):
                if W.cl_list[r] == c:
                    dup = True
                    break
            if not dup and ncand < len(W.cl_list):
                W.cl_list[ncand] = c
                ncand += 1
    nsat = 0
    for r in range(ncand):
        c = W.cl_list[r]
        if not T.cl_active[v, c]:
            continue
        nch = T.cl_nchoice[c]
        for h in range(nch):
            W.choice_seen[h] = False
        seen = 0
        sat_at = -1
        for j in range(np_):
            code = B.px[p0 + j]
            if code < 0:
                continue
            for q in range(T.cl_mem_off[c], T.cl_mem_off[c + 1]):
                if T.cl_mem[q] == code:
                    ch = T.cl_mem_choice[q]
                    if not W.choice_seen[ch]:
                        W.choice_seen[ch] = True
                        seen += 1
                    break
            if seen == nch:
                sat_at = j
                break
        if sat_at < 0 or nsat >= MAX_CLUSTERS:
            continue
        W.cl_sat[nsat] = c
        bit = np.uint64(1) << np.uint64(nsat)
        nsat += 1
        # every procedure whose code is among the chosen ones takes the cluster's MDC
        # suppression (duplicates included); the cluster is made of (marks) the first
        # occurrence of each, not the duplicates (CMS: [D, D, W] names D once, and W)
        for j in range(np_):
            code = B.px[p0 + j]
            if code < 0:
                continue
            chosen = False
            first = True
            for jj in range(sat_at + 1):
                if B.px[p0 + jj] == code:
                    for q in range(T.cl_mem_off[c], T.cl_mem_off[c + 1]):
                        if T.cl_mem[q] == code:
                            chosen = True
                            break
                    first = jj == j
                    break
            if chosen:
                W.p_supp[j] |= T.cl_supp[c]
                if first:
                    W.p_clmask[j] |= bit
    return nsat


@njit(cache=True, _nrt=False, forceinline=True)
def _preprocess(T, B, W, i, v, s0, ns, p0, np_, gen):
    """Attributes, clusters, exclusions and the operand set of claim ``i``.
    Returns (pdx scheme, pdx MDC or -1, sex conflict, number of satisfied clusters)."""
    # typed (not literal) constants: numba compiles a callee once per argument
    # type, and a literal 0 or 2 is a type of its own
    _0 = np.int64(0)
    _2 = np.int64(2)
    _4 = np.int64(4)
    _u0 = np.uint32(0)
    cum = W.cum  # bilateral mask, vessel count
    cum[0] = 0
    cum[1] = 0
    dstat = B.dstat[i]
    dstat_valid = 0 <= dstat < 100 and T.valid_dstat[dstat]
    pdx = B.pdx[i]
    pdx_scheme = T.dx_scheme[v, pdx] if pdx >= 0 else -1

    # -- procedures and clusters
    for j in range(np_):
        code = B.px[p0 + j]
        W.p_pattern[j] = T.pr_pattern[v, code] if code >= 0 else -1
        W.p_supp[j] = 0
        W.p_clmask[j] = 0
        W.p_hac[j] = 0
        W.p_mark[j] = 0
    nsat = _clusters(T, B, W, v, p0, np_)

    # -- secondary diagnoses
    for j in range(ns):
        code = B.sdx[s0 + j]
        sc = T.dx_scheme[v, code] if code >= 0 else -1
        W.s_scheme[j] = sc
        W.s_mark[j] = 0
        W.s_nhac[j] = 0
        fl = 0
        sev = SEV_NONE
        bits = np.uint64(0)
        if sc >= 0:
            fl |= _F_VALID
            sev = T.sch_sev[sc]
            bits = T.sch_supbits[sc]  # (its operands' flags, engine.grouping.derived)
            sp = T.sch_spec[sc]
            if sp & _SP_HAC06_SHOW:
                fl |= _F_SHOW
            if (sp & _SP_MCCALIVE) and dstat == 20:
                fl |= _F_DEATH
            for q in range(T.sch_hac_off[sc], T.sch_hac_off[sc + 1]):
                at = T.sch_hac[q]
                h = T.attr_hac[at]
                if T.attr_special[at] & _SP_HAC11_PDX:
                    # a principal-dx-only HAC operand (E66.01's hac11_pdx) makes no
                    # secondary dx a HAC candidate: CMS neither POA-checks nor lists it
                    continue
                dup = False
                for k in range(W.s_nhac[j]):
                    if W.s_hac_num[j, k] == h:
                        dup = True  # a HAC category is listed once, however many operands name it
                if h >= 0 and not dup and W.s_nhac[j] < MAX_HACS:
                    k = W.s_nhac[j]
                    W.s_hac_num[j, k] = h
                    W.s_hac_status[j, k] = HAC_NOT_ON_LIST
                    W.s_nhac[j] = k + 1
        # the exclusion matters only to a CC/MCC or a HAC code (a binary search: skipped for the rest)
        if (sev != SEV_NONE or W.s_nhac[j] > 0) and _excluded(T.dx_excl, T.excl_off, T.excl_codes, v, pdx, code):
            fl |= _F_EXCLUDED
        W.s_flags[j] = fl
        W.s_sev[j] = sev
        W.s_supbits[j] = bits

    # -- the operand set.  Each scheme's and pattern's keys and flags come precomputed
    # (engine.grouping.derived): a key's suppression mask is the AND of its codes'
    # masks, whatever their order, and a secondary dx's is 0 (it suppresses nothing)
    sig = 0
    bil = 0
    ves = 0
    stamp = W.stamp
    supp_arr = W.supp
    for j in range(ns):
        sc = W.s_scheme[j]
        if sc < 0:
            continue
        for q in range(T.sch_key_off[sc], T.sch_key_off[sc + 1]):
            key = T.sch_keys[q]
            stamp[key] = gen
            supp_arr[key] = 0
        sig |= T.sch_sig[sc]
        bil |= T.sch_bil[sc]
        ves += T.sch_vessel[sc]

    non_eluting = 0
    eluting = 0
    anterior = 0
    posterior = 0
    fusion_ctr = 0
    single_ant = 0
    single_post1 = 0
    for j in range(np_):
        pat = W.p_pattern[j]
        if pat < 0:
            continue
        supp = W.p_supp[j]
        for q in range(T.pat_key_off[pat], T.pat_key_off[pat + 1]):
            key = T.pat_keys[q]
            old = supp_arr[key]
            supp_arr[key] = (old & supp) if stamp[key] == gen else supp
            stamp[key] = gen
        bil |= T.pat_bil[pat]
        ves += T.pat_vessel[pat]
        sp = T.pat_spec[pat]
        weight = T.pat_weight[pat]
        if sp & _SP_NORDRUGSTENT:
            eluting += weight
        if sp & _SP_NORSTENT:
            non_eluting += weight
        single_ant += T.pat_cnt[pat, 0]
        single_post1 += T.pat_cnt[pat, 1]
        anterior += T.pat_cnt[pat, 2]
        posterior += T.pat_cnt[pat, 3]
        fusion_ctr += T.pat_cnt[pat, 4]
    single_fusion = single_ant + single_post1
    for r in range(nsat):
        pat = T.cl_pattern[v, W.cl_sat[r]]
        if pat < 0:
            continue
        for q in range(T.pat_key_off[pat], T.pat_key_off[pat + 1]):
            key = T.pat_keys[q]
            stamp[key] = gen
            supp_arr[key] = 0
        bil |= T.pat_bil[pat]
        ves += T.pat_vessel[pat]
    cum[0] |= bil
    cum[1] += ves

    pdx_mdc = -1
    sex_conflict = False
    if pdx_scheme >= 0:
        sc = pdx_scheme
        for q in range(T.sch_ops_off[sc], T.sch_ops_off[sc + 1]):
            at = T.sch_ops[q]
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, at, _0, _u0, gen, cum)
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, at, _2, _u0, gen, cum)
            b = T.attr_sigtrauma_bit[at]
            if b >= 0:
                sig |= 1 << b
        for q in range(T.sch_hac_off[sc], T.sch_hac_off[sc + 1]):
            at = T.sch_hac[q]
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, at, _0, _u0, gen, cum)
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, at, _2, _u0, gen, cum)
        for q in range(T.sch_cat_off[sc], T.sch_cat_off[sc + 1]):
            at = T.sch_cat[q]
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, at, _0, _u0, gen, cum)
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, at, _2, _u0, gen, cum)
        pdx_mdc = T.sch_mdc[sc]
        g_f = T.dx_gender[v, pdx, 0]
        g_m = T.dx_gender[v, pdx, 1]
        if g_f != -2 or g_m != -2:
            sex = B.sex[i]
            if sex == SEX_MALE and g_m >= 0:
                pdx_mdc = g_m
            elif sex == SEX_FEMALE and g_f >= 0:
                pdx_mdc = g_f
            else:
                sex_conflict = True
                if sex == SEX_UNKNOWN and g_f >= 0:
                    pdx_mdc = g_f  # sex U: CMS takes the female MDC (S37.898A: MDC 13, not 12)
    else:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_INVALID_PDX], _2, _u0, gen, cum)
    if B.pdx_ecode[i]:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_PDX_ECODE], _2, _u0, gen, cum)
    if pdx_scheme >= 0 and _dx_has(T.sch_ops_off, T.sch_ops, T.sch_cat_off, T.sch_cat, pdx_scheme, T.builtin_attr[_B_INCIDENT], False):
        only = True
        for j in range(ns):
            sc = W.s_scheme[j]
            if sc >= 0 and not _dx_has(T.sch_ops_off, T.sch_ops, T.sch_cat_off, T.sch_cat, sc, T.builtin_attr[_B_INCIDENT], False):
                only = False
                break
        if only:
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_INCIDENT], _4, _u0, gen, cum)
    if B.sex[i] == SEX_UNKNOWN and sex_conflict:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_INVALID_SEX], _0, _u0, gen, cum)
    if pdx_mdc == 20:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_MDC20], _0, _u0, gen, cum)
    if dstat != 20:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_ALIVE], _0, _u0, gen, cum)
    if dstat == 7:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_AMA], _0, _u0, gen, cum)
    if dstat == 20:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_DIED], _0, _u0, gen, cum)
    if dstat == 2 or dstat == 5 or dstat == 66 or dstat == 82 or dstat == 85 or dstat == 94:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_XFRNBA], _0, _u0, gen, cum)
    if not dstat_valid:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_INVALID_DSTAT], _0, _u0, gen, cum)
    _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_ANYDX], _0, _u0, gen, cum)
    nsig = 0
    for b in range(8):
        if sig & (1 << b):
            nsig += 1
    if nsig >= 2:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_MULTST], _0, _u0, gen, cum)
    nbil = 0
    for b in range(6):
        if cum[0] & (1 << b):
            nbil += 1
    if nbil > 1:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_BILATERAL], _0, _u0, gen, cum)
    if non_eluting >= 4:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_FOUR_NON_DRUG], _0, _u0, gen, cum)
    if eluting >= 4:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_FOUR_DRUG], _0, _u0, gen, cum)
    if cum[1] >= 4:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_FOUR_VESSELS], _0, _u0, gen, cum)
    if eluting + non_eluting >= 4:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_FOUR_STENTS], _0, _u0, gen, cum)
    if single_fusion > 1:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_MULTFUSE], _0, _u0, gen, cum)
    if anterior > 1:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_SGLANTSECTXCTR], _0, _u0, gen, cum)
    if posterior > 1:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_SGLPOSTFUSECTR], _0, _u0, gen, cum)
    if fusion_ctr >= 3 and single_ant >= 1 and posterior >= 1:  # three single fusions, anterior and posterior both
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_SINGLEFUSIONCTR], _0, _u0, gen, cum)
    if single_ant >= 2:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_SGLANTCTR], _0, _u0, gen, cum)
    if single_post1 >= 2:
        _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.builtin_attr[_B_SGLPOST1CTR], _0, _u0, gen, cum)
    return pdx_scheme, pdx_mdc, sex_conflict, nsat
