"""CMS stage 3, marking: which codes made the DRG.

For one grouping stage (initial or final): the operands CMS finds true while
it evaluates the DRG's formula (:func:`_collect`), the diagnoses and
procedures that made them, in CMS's marking order (MCC, CC, then by code; the
principal procedure first), and the counters' own naming rules (multiple
significant trauma, fusion and stent counters, FOUR_VESSELS, BILATERAL with
its joints and satisfied clusters).  It owns :func:`_procedure_mdc` (whose
procedure suppression applies), which the final stage reads too.
:func:`_mark` is large and stays a call (see engine.grouping): the kernel
hands it only the arrays it reads (:func:`_mark_views`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..tables import KEY_ANY, KEY_BARE, KEY_SDX, KEY_SEV, SEV_CC, SEV_MCC, SEV_NONE
from .layout import (
    AFF_FINAL, AFF_INITIAL, MarkBatch, MarkOut, MarkScratch, MarkTables, _B_BILATERAL, _B_FOUR_DRUG,
    _B_FOUR_NON_DRUG, _B_FOUR_STENTS, _B_FOUR_VESSELS, _B_INCIDENT, _B_MULTFUSE, _B_MULTST, _B_ORPROC,
    _B_SGLANTCTR, _B_SGLANTSECTXCTR, _B_SGLPOST1CTR, _B_SGLPOSTFUSECTR, _B_SINGLEFUSIONCTR, _F_DEATH,
    _F_EXCLUDED, _SP_ARTERIAL, _SP_COUNTER, _SP_NORDRUGSTENT, _SP_NORSTENT, _SP_SGLANTFUSE, _SP_SGLANTSECTX,
    _SP_SGLPOSTFUSE, _SP_SGLPOSTFUSE1, _SP_SNGLFUSIONCTR,
)
from .preprocess import _dx_has, _has_attr
from .grouping import _eval


@njit(cache=True, _nrt=False, forceinline=False)
def _collect(n_op, n_a, n_b, f_lo, f_hi, key_kind, key_sev, stamp, supp, val, coll, keys, f, mdc, sev, gen):
    """Operand keys of formula ``f`` that CMS finds true while it evaluates ``f``
    (left to right, short-circuit), in formula order (deduplicated); returns how
    many were written to ``keys``; none when ``f`` is false.

    Not only the operands of the branch that made ``f`` true: an operand found
    true inside a branch that then failed counts too.  The public CMS results
    show it: DRG 518, ``(MCC & backneck) | discdevice | spinstim``, reached by
    ``spinstim`` without ``backneck``, names the MCC; DRG 5, ``intxp | (liverxp
    & MCC)``, reached by ``intxp``, does not (its right side is never looked
    at).  Operands under ``~`` never count."""
    lo = f_lo[f]
    hi = f_hi[f]
    if not _eval(n_op, n_a, n_b, f_lo, f_hi, key_kind, key_sev, stamp, supp, val, f, mdc, sev, gen):
        return 0
    for n in range(lo, hi):
        coll[n - lo] = False
    coll[hi - 1 - lo] = True
    for n in range(hi - 1, lo - 1, -1):
        r = n - lo
        if not coll[r]:
            continue
        op = n_op[n]
        a = n_a[n] - lo
        b = n_b[n] - lo
        if op == 1:  # (coll: evaluated) the right side only when the left is true
            coll[a] = True
            coll[b] = val[a]
        elif op == 2:  # the right side only when the left is false
            coll[a] = True
            coll[b] = not val[a]
    nk = 0
    for n in range(lo, hi):
        if n_op[n] == 0 and coll[n - lo] and val[n - lo]:
            key = n_a[n]
            dup = False
            for q in range(nk):
                if keys[q] == key:
                    dup = True
                    break
            if not dup and nk < len(keys):
                keys[nk] = key
                nk += 1
    return nk


@njit(cache=True, _nrt=False, forceinline=False)
def _sort_sdx(W, B, s0, ns):
    """CMS's marking order: MCC first, then CC, then the rest; ties by code, an
    invalid code after the valid ones, repeats in claim order.

    Each secondary dx is one int64 in ``W.s_order`` while it is sorted: severity
    rank, code and position packed so that one comparison orders two of them
    (rather than three data-dependent branches a step: severity, validity,
    code).  The positions are unpacked in place afterwards.  :func:`_mark`
    sorts only when an operand is left for a secondary dx to make."""
    for j in range(ns):
        c = B.sdx[s0 + j]
        W.s_order[j] = _order_key(np.int64(SEV_MCC - W.s_sev[j]), np.int64(c), j)
    _insertion_sort(W.s_order, ns)
    for a in range(ns):
        W.s_order[a] = W.s_order[a] & _POS_MASK


@njit(cache=True, _nrt=False, forceinline=False)
def _sort_px(W, B, p0, np_):
    """The procedures in code order (an invalid code last, repeats in claim
    order), packed and sorted as :func:`_sort_sdx` does."""
    for j in range(np_):
        W.p_order[j] = _order_key(np.int64(0), np.int64(B.px[p0 + j]), j)
    _insertion_sort(W.p_order, np_)
    for a in range(np_):
        W.p_order[a] = W.p_order[a] & _POS_MASK


@njit(cache=True, _nrt=False, forceinline=False)
def _px_before(px, p0, x, y):
    cx = px[p0 + x]
    cy = px[p0 + y]
    if cx < 0:
        return False
    if cy < 0:
        return True
    return cx < cy


@njit(cache=True, _nrt=False, forceinline=False)
def _px_marking_order(W, B, p0, np_):
    """CMS looks at the principal (first-listed) procedure first, then the
    others by code."""
    _sort_px(W, B, p0, np_)
    if np_ > 1:
        a0 = 0
        while W.p_order[a0] != 0:
            a0 += 1
        for a in range(a0, 0, -1):
            W.p_order[a] = W.p_order[a - 1]
        W.p_order[0] = 0


_POS_BITS = 24
_POS_MASK = (1 << _POS_BITS) - 1


@njit(cache=True, _nrt=False, forceinline=False)
def _order_key(rank, code, j):
    """``rank`` (0-3) above ``code`` (an invalid code, < 0, as the largest)
    above the position ``j``: distinct keys whose order is the marking order.
    (A claim has far fewer than 2**24 codes; a code index is below 2**32.)"""
    c = code if code >= 0 else np.int64(0xFFFFFFFF)
    return (rank << np.int64(56)) | (c << np.int64(_POS_BITS)) | np.int64(j)


@njit(cache=True, _nrt=False, forceinline=False)
def _insertion_sort(a, n):
    for k in range(1, n):
        x = a[k]
        b = k - 1
        while b >= 0 and a[b] > x:
            a[b + 1] = a[b]
            b -= 1
        a[b + 1] = x


@njit(cache=True, _nrt=False, forceinline=False)
def _px_has(pat_off, pat_attrs, p_pattern, j, attr):
    pat = p_pattern[j]
    if pat < 0:
        return False
    return _has_attr(pat_off, pat_attrs, pat, attr)


@njit(cache=True, _nrt=False, forceinline=False)
def _cl_has(pat_off, pat_attrs, cl_pattern, v, c, attr):
    pat = cl_pattern[v, c]
    if pat < 0:
        return False
    return _has_attr(pat_off, pat_attrs, pat, attr)


@njit(cache=True, _nrt=False, forceinline=False)
def _px_suppressed(p_supp, j, mdc):
    return 0 <= mdc < 32 and (p_supp[j] >> np.uint32(mdc)) & np.uint32(1)


@njit(cache=True, _nrt=False, forceinline=False)
def _mark_stents(T, O, W, p0, np_, stage, want):
    """FOUR_STENTS (and v40's FOUR_DRUG / FOUR_NON_DRUG_ELUTING_STENTS): CMS names
    every procedure that carries a stent count of the counted kind, duplicates
    included, in both stages (CMS v42.0: 02703GZ 02H03YZ names both although the
    first alone has four stents)."""
    for j in range(np_):
        pat = W.p_pattern[j]
        if pat < 0:
            continue
        n = 0
        kind = 0
        for q in range(T.pat_off[pat], T.pat_off[pat + 1]):
            at = T.pat_attrs[q]
            n += T.attr_stent[at]
            kind |= T.attr_special[at]
        if n > 0 and kind & want:
            O.px_aff[p0 + j] |= stage


@njit(cache=True, _nrt=False, forceinline=False)
def _mark_code(B, O, p0, np_, j, bit, k):
    """Name procedure ``j``'s code as CMS does when a counter names it: the
    principal procedure when it has that code and is not yet named, else the
    first of its first ``k`` later occurrences not yet named (none past the k-th)."""
    c = B.px[p0 + j]
    if B.px[p0] == c and not O.px_aff[p0] & bit:
        O.px_aff[p0] |= bit
        return
    seen = 0
    for q in range(1, np_):
        if B.px[p0 + q] == c:
            if not O.px_aff[p0 + q] & bit:
                O.px_aff[p0 + q] |= bit
                return
            seen += 1
            if seen >= k:
                return


@njit(cache=True, _nrt=False, forceinline=False)
def _principal_rank(W, B, p0, np_):
    """Where the principal procedure stands in plain code order (W.p_order holds
    it first, then the others by code): how many others come before it."""
    k = 0
    for a in range(1, np_):
        if _px_before(B.px, p0, W.p_order[a], 0):
            k += 1
    return k


@njit(cache=True, _nrt=False, forceinline=False)
def _in_code_order(W, a, k0):
    """The ``a``-th procedure in plain code order, the principal among the others."""
    if a < k0:
        return W.p_order[a + 1]
    if a == k0:
        return 0
    return W.p_order[a]


@njit(cache=True, _nrt=False, forceinline=False)
def _mark_counted(T, B, O, W, p0, np_, stage, want):
    """A counter's procedures: FOUR_VESSELS (``want`` 0) counts vessels over the
    procedures in code order (the principal among them) until four are reached;
    SINGLEFUSIONCTR (``want``: its special bit) counts every procedure carrying
    it.  Each counted one names its code: in the initial stage the principal or
    the code's first later occurrence, in the final stage also its second (never
    a third).  CMS v42.0, X 02H13YZ 02H13YZ: BOTH, FINAL; 02C03ZZ x3 then 02H03YZ,
    02H03YZ listed first: 02H03YZ and the first two 02C03ZZ only; v43.0,
    0210089 0SG34AJ 0SG34AJ 0SG34AJ 0SG834Z: -, BOTH, FINAL, -, BOTH.  The
    initial stage writes the final stage's names too (copied over unless HAC
    re-marks the claim)."""
    for rnd in range(2):
        if stage == AFF_INITIAL:
            bit = AFF_INITIAL if rnd == 0 else AFF_FINAL
        elif rnd == 0:
            bit = AFF_FINAL
        else:
            break
        k = 1 if bit == AFF_INITIAL else 2
        total = 0
        k0 = _principal_rank(W, B, p0, np_)
        for a in range(np_):
            if want == 0 and total >= 4:
                break
            j = _in_code_order(W, a, k0)
            pat = W.p_pattern[j]
            if pat < 0:
                continue
            n = 0
            for q in range(T.pat_off[pat], T.pat_off[pat + 1]):
                at = T.pat_attrs[q]
                if want == 0:
                    n += T.attr_vessel[at]
                elif T.attr_special[at] & want:
                    n = 1
            if n > 0:
                total += n
                _mark_code(B, O, p0, np_, j, bit, k)


@njit(cache=True, _nrt=False, forceinline=False)
def _mark(T, B, O, W, i, v, s0, ns, p0, np_, pdx_scheme, pdx_mdc, nsat, st, stage, gen):
    """Diagnosis and procedure marking of one stage (initial or final)."""
    win = st[7]
    if win < 0:
        return
    sev = st[2]
    if sev < 0:
        sev = SEV_NONE
    res_mdc = st[1] if st[1] >= 0 else 0
    # (the codes are put in marking order only when an operand is left to name one)
    sdx_sorted = False

    # -- diagnoses
    wsupp = T.f_supp[win]
    nk = _collect(T.n_op, T.n_a, T.n_b, T.f_lo, T.f_hi, T.key_kind, T.key_sev, W.stamp, W.supp, W.val, W.coll, W.keys, win, np.int64(res_mdc), np.int64(sev), gen)
    nk_win = nk  # (kept: the procedures' operands are these when their MDC is the same)
    for q in range(nk):
        W.keys_win[q] = W.keys[q]
    incident = T.builtin_attr[_B_INCIDENT]
    born_here_794 = T.f_drg[win] == 794 and _dx_has(T.sch_ops_off, T.sch_ops, T.sch_cat_off, T.sch_cat, pdx_scheme, incident, False)
    for q in range(nk):
        key = W.keys[q]
        kind = T.key_kind[key]
        at = T.key_attr[key]
        if (kind == KEY_BARE or kind == KEY_ANY) and at >= 0 and _dx_has(T.sch_ops_off, T.sch_ops, T.sch_cat_off, T.sch_cat, pdx_scheme, at, False):
            W.keys[q] = -1  # the principal dx already gives this operand: no secondary dx made it
        elif kind == KEY_SDX and (at == incident or born_here_794):
            # (a newborn born here in DRG 794: no secondary dx is named for the formula's
            # SDX: operand either -- the significant problem is named below, CMS: P0821
            # with P28.39 (mdc15fallthrough) and S14.131A (MCC) names S14.131A)
            # DRG 794's ``PDX:mdc15fallthrough & SDX:incident``: the principal dx is the
            # newborn's problem; CMS names no secondary dx for the birth-status one
            W.keys[q] = -1
    live = 0
    for q in range(nk):
        if W.keys[q] >= 0:
            live += 1
    if live > 0:
        _sort_sdx(W, B, s0, ns)
        sdx_sorted = True
    for a in range(ns if live > 0 else 0):
        if live == 0:
            break  # every operand named
        j = W.s_order[a]
        hit = -1
        for q in range(nk):
            key = W.keys[q]
            if key < 0:
                continue
            kind = T.key_kind[key]
            at = T.key_attr[key]
            if kind == KEY_SEV:
                # MCC/CC is made by a code that counted: not excluded, not suppressed
                # by the formula (CMS still names a HAC code here in the final DRG)
                ks = T.key_sev[key]
                if (ks == SEV_MCC or ks == SEV_CC) and W.s_sev[j] == ks and not (W.s_flags[j] & (_F_EXCLUDED | _F_DEATH)):
                    if not (wsupp != 0 and (W.s_supbits[j] & wsupp) != 0):
                        hit = q
                        break
                continue
            if (kind == KEY_BARE or kind == KEY_SDX or kind == KEY_ANY) and at >= 0 and _dx_has(T.sch_ops_off, T.sch_ops, T.sch_cat_off, T.sch_cat, W.s_scheme[j], at, True):
                hit = q
                break
        if hit >= 0:
            W.keys[hit] = -1
            live -= 1
            O.sdx_aff[s0 + j] |= stage

    # -- DRG 794 (neonate, other significant problems) for a newborn born here: the
    # secondary dx that comes first in marking order and is not itself a birth-status
    # (incident) code is the significant problem (CMS: P92.4 with P02.60 (incident) and
    # W22.042A names W22.042A); failing one, the first in marking order
    if T.f_drg[win] == 794 and _dx_has(T.sch_ops_off, T.sch_ops, T.sch_cat_off, T.sch_cat, pdx_scheme, T.builtin_attr[_B_INCIDENT], False):
        any_marked = False
        for j in range(ns):
            if O.sdx_aff[s0 + j] & stage:
                any_marked = True
        if not any_marked:
            if not sdx_sorted:
                _sort_sdx(W, B, s0, ns)
                sdx_sorted = True
            pick = -1
            for a in range(ns):
                j = W.s_order[a]
                if W.s_scheme[j] >= 0 and not _dx_has(T.sch_ops_off, T.sch_ops, T.sch_cat_off, T.sch_cat, W.s_scheme[j], T.builtin_attr[_B_INCIDENT], False):
                    pick = j
                    break
            if pick < 0:
                for a in range(ns):
                    j = W.s_order[a]
                    if W.s_scheme[j] >= 0:
                        pick = j
                        break
            if pick >= 0:
                O.sdx_aff[s0 + pick] |= stage

    # -- multiple significant trauma: the pre-MDC formula's MULTST is made by the
    # principal dx and secondary dxs of other body sites (in marking order)
    pre = st[4]
    if pre >= 0:
        nk = _collect(T.n_op, T.n_a, T.n_b, T.f_lo, T.f_hi, T.key_kind, T.key_sev, W.stamp, W.supp, W.val, W.coll, W.keys, pre, np.int64(0), np.int64(sev), gen)
        multst = T.attr_key[T.builtin_attr[_B_MULTST], 0]
        hit_multst = False
        for q in range(nk):
            if W.keys[q] == multst:
                hit_multst = True
        if hit_multst:
            if not sdx_sorted:
                _sort_sdx(W, B, s0, ns)
                sdx_sorted = True
            sites = _dx_sites(T, pdx_scheme)
            count = 1 if sites != 0 else 0
            for a in range(ns):
                if count >= 2:
                    break
                j = W.s_order[a]
                sj = _dx_sites(T, W.s_scheme[j])
                if sj != 0 and (sj & ~sites) != 0:
                    O.sdx_aff[s0 + j] |= stage
                    sites |= sj
                    count += 1

    # -- procedures
    mdc = _procedure_mdc(T.f_drg, T.f_reroute, win, pdx_mdc)
    if mdc == res_mdc:
        nk = nk_win
        for q in range(nk):
            W.keys[q] = W.keys_win[q]
    else:
        nk = _collect(T.n_op, T.n_a, T.n_b, T.f_lo, T.f_hi, T.key_kind, T.key_sev, W.stamp, W.supp, W.val, W.coll, W.keys, win, np.int64(mdc), np.int64(sev), gen)
    npk = 0
    for q in range(nk):
        key = W.keys[q]
        if T.key_kind[key] == KEY_BARE:
            W.keys[npk] = key
            npk += 1
    if npk > 0:
        _px_marking_order(W, B, p0, np_)
    # Fusion counters (SGLANTCTR: two single anterior fusions, ...): CMS names the
    # first procedure in marking order that carries the counted attribute and, when
    # that is the principal (first-listed) procedure, the next one too (a first-listed
    # unrelated procedure leaves one named); SINGLEFUSIONCTR names every procedure it
    # counted, as FOUR_VESSELS does (_mark_counted).
    np2 = 0
    for q in range(npk):
        key = W.keys[q]
        at = T.key_attr[key]
        want = 0
        if at < 0 or not T.attr_special[at] & _SP_COUNTER:
            W.keys[np2] = key  # (most operands: no counter)
            np2 += 1
            continue
        if at == T.builtin_attr[_B_SGLANTCTR]:
            want = _SP_SGLANTFUSE
        elif at == T.builtin_attr[_B_SGLPOST1CTR]:
            want = _SP_SGLPOSTFUSE1
        elif at == T.builtin_attr[_B_SGLANTSECTXCTR]:
            want = _SP_SGLANTSECTX
        elif at == T.builtin_attr[_B_SGLPOSTFUSECTR]:
            want = _SP_SGLPOSTFUSE
        elif at == T.builtin_attr[_B_MULTFUSE]:
            want = _SP_SGLANTFUSE | _SP_SGLPOSTFUSE1
        elif at == T.builtin_attr[_B_SINGLEFUSIONCTR]:
            _mark_counted(T, B, O, W, p0, np_, stage, _SP_SNGLFUSIONCTR)
            continue
        elif at == T.builtin_attr[_B_FOUR_VESSELS]:
            # (the claim's count, not a procedure's attribute: the other operands
            # name the first procedure that has them all)
            _mark_counted(T, B, O, W, p0, np_, stage, 0)
            continue
        elif at == T.builtin_attr[_B_FOUR_STENTS]:
            _mark_stents(T, O, W, p0, np_, stage, _SP_NORDRUGSTENT | _SP_NORSTENT)
            continue
        elif at == T.builtin_attr[_B_FOUR_DRUG]:
            _mark_stents(T, O, W, p0, np_, stage, _SP_NORDRUGSTENT)
            continue
        elif at == T.builtin_attr[_B_FOUR_NON_DRUG]:
            _mark_stents(T, O, W, p0, np_, stage, _SP_NORSTENT)
            continue
        if want == 0:
            W.keys[np2] = key
            np2 += 1
            continue
        n_mark = 2
        cnt = 0
        for a in range(np_):
            if cnt >= n_mark:
                break
            j = W.p_order[a]
            pat = W.p_pattern[j]
            has = False
            if pat >= 0:
                for r in range(T.pat_off[pat], T.pat_off[pat + 1]):
                    if T.attr_special[T.pat_attrs[r]] & want:
                        has = True
                        break
            if has:
                O.px_aff[p0 + j] |= stage
                cnt += 1
            elif a == 0:
                n_mark = 1  # the principal procedure does not carry it: one named
    npk = np2
    # BILATERAL: the procedures on two different joints make it
    bil_key = T.attr_key[T.builtin_attr[_B_BILATERAL], 0]
    for q in range(npk):
        if W.keys[q] == bil_key:
            # (until two joints are named: CMS names no third one), in plain code
            # order, the principal procedure among the others (CMS v40.1 and v43.1:
            # 0SRU0JZ 0SRR03Z 0SRC0JZ names 0SRC0JZ and 0SRR03Z)
            seen_sites = 0
            # (a joint the principal procedure is on names the principal, in every pass
            # below: CMS v41.0, 0SRR039 0SR9039 0SRC0JZ, both hips right, names 0SRR039
            # and 0SRC0JZ; v40.1, Z@6641 Z@1779 Z@6708 names Z@6641 and Z@6708)
            # (a cluster's name coded directly is read last, after the satisfied
            # clusters: CMS v42.1, 0RUG0JZ Z@5446 Z@1633 0SPB0BZ 0SRS03Z names the left
            # hip revision 0SPB0BZ + 0SRS03Z, then Z@1633)
            k0 = _principal_rank(W, B, p0, np_)
            sites0 = -1
            if W.p_pattern[0] >= 0 and not _px_suppressed(W.p_supp, 0, mdc):
                sites0 = _px_sites(T, W.p_pattern[0])
            seen_sites = _bilateral_pass(T, B, O, W, p0, np_, k0, mdc, sites0, seen_sites, stage, False)
            # then the satisfied clusters (a knee revision: removal + replacement), in the
            # order of their names (CMS: right hip 0SR904A with the left knee revision
            # cluster 0SPD0LZ + 0SRD0J9 names all three)
            prev = -1
            for _r in range(nsat):
                if _two_sites(seen_sites):
                    break
                r = _next_cluster(W.cl_sat, nsat, prev)
                prev = W.cl_sat[r]
                pat = T.cl_pattern[v, prev]
                if pat < 0:
                    continue
                sites = _px_sites(T, pat)
                if sites & ~seen_sites:
                    # (a cluster's name coded directly on that joint is named instead:
                    # CMS v42.1, 0SPB0BZ 0SRS03Z (left hip revision) 0SPD38Z 0SRU0JZ
                    # (left knee revision) Z@1633 (right hip) Z@5244 (left hip) names
                    # the knee revision and Z@5244)
                    jn = _coded_cluster_on(T, B, W, p0, np_, k0, mdc, sites & ~seen_sites)
                    if jn >= 0:
                        O.px_aff[p0 + (0 if _px_sites(T, W.p_pattern[jn]) == sites0 else jn)] |= stage
                    else:
                        _mark_cluster(O, W, p0, np_, r, stage)
                    seen_sites |= sites
            seen_sites = _bilateral_pass(T, B, O, W, p0, np_, k0, mdc, sites0, seen_sites, stage, True)
    if npk > 0:
        # From v41.0 on a non-O.R. principal procedure is looked at last here (CMS v42.1:
        # 02HK3JZ (non-O.R.) listed first with 0RSK0ZZ, both oth22, names 0RSK0ZZ;
        # listed second it still comes in code order: 02134AW 02HK3JZ 0RSK0ZZ names it)
        last = T.ver_nonor_principal_last[v]
        if last == 1 and np_ > 0 and B.px[p0] >= 0 and T.pr_cluster_name[B.px[p0]]:
            last = 0  # (v41.x: a cluster's name coded as the principal keeps its place)
        if np_ > 1 and last > 0 and W.p_order[0] == 0 \
                and not _px_has(T.pat_off, T.pat_attrs, W.p_pattern, 0, T.builtin_attr[_B_ORPROC]):
            for a in range(np_ - 1):
                W.p_order[a] = W.p_order[a + 1]
            W.p_order[np_ - 1] = 0
        done = False
        for a in range(np_):
            j = W.p_order[a]
            if _px_suppressed(W.p_supp, j, mdc):
                continue
            allk = True
            for q in range(npk):
                at = T.key_attr[W.keys[q]]
                if at < 0 or not _px_has(T.pat_off, T.pat_attrs, W.p_pattern, j, at):
                    allk = False
                    break
            if allk:
                O.px_aff[p0 + j] |= stage
                done = True
                break
        if not done:
            prev = -1
            for _r in range(nsat):
                r = _next_cluster(W.cl_sat, nsat, prev)
                c = W.cl_sat[r]
                prev = c
                allk = True
                for q in range(npk):
                    at = T.key_attr[W.keys[q]]
                    if at < 0 or not _cl_has(T.pat_off, T.pat_attrs, T.cl_pattern, v, c, at):
                        allk = False
                        break
                if allk:
                    _mark_cluster(O, W, p0, np_, r, stage)
                    done = True
                    break
        if not done:
            for q in range(npk):
                at = T.key_attr[W.keys[q]]
                if at < 0:
                    continue
                count = 0
                first = -1
                for a in range(np_):
                    j = W.p_order[a]
                    if not _px_suppressed(W.p_supp, j, mdc) and _px_has(T.pat_off, T.pat_attrs, W.p_pattern, j, at):
                        count += 1
                        if first < 0:
                            first = j
                if first >= 0:
                    O.px_aff[p0 + first] |= stage
                    continue
                prev = -1
                for _r in range(nsat):
                    r = _next_cluster(W.cl_sat, nsat, prev)
                    prev = W.cl_sat[r]
                    if _cl_has(T.pat_off, T.pat_attrs, T.cl_pattern, v, W.cl_sat[r], at):
                        _mark_cluster(O, W, p0, np_, r, stage)
                        break

    # -- stents (procedure function marking, evaluated outside any MDC), for a
    # formula with a stent count among its operands
    if not T.f_stents[win]:
        return
    nk = _collect(T.n_op, T.n_a, T.n_b, T.f_lo, T.f_hi, T.key_kind, T.key_sev, W.stamp, W.supp, W.val, W.coll, W.keys, win, np.int64(0), np.int64(sev), gen)
    has_stent = False
    has_art = False
    has_drug = False
    has_plain = False
    for q in range(nk):
        at = T.key_attr[W.keys[q]]
        if T.key_kind[W.keys[q]] != KEY_BARE or at < 0:
            continue
        if T.attr_stent[at] > 0:
            has_stent = True
        sp = T.attr_special[at]
        if sp & _SP_ARTERIAL:
            has_art = True
        if sp & _SP_NORDRUGSTENT:
            has_drug = True
        if sp & _SP_NORSTENT:
            has_plain = True
    if has_stent and has_art and (has_drug or has_plain):
        want = _SP_NORDRUGSTENT if has_drug else _SP_NORSTENT
        for j in range(np_):
            if O.px_aff[p0 + j] & stage:
                continue
            pat = W.p_pattern[j]
            if pat < 0:
                continue
            a_ok = False
            b_ok = False
            for q in range(T.pat_off[pat], T.pat_off[pat + 1]):
                sp = T.attr_special[T.pat_attrs[q]]
                if sp & _SP_ARTERIAL:
                    a_ok = True
                if sp & want:
                    b_ok = True
            if a_ok and b_ok:
                O.px_aff[p0 + j] |= stage


@njit(cache=True, _nrt=False, forceinline=False)
def _procedure_mdc(f_drg, f_reroute, f, pdx_mdc):
    """The MDC whose procedure suppression applies to the codes of formula ``f``:
    its reroute target, MDC 29 for the unrelated O.R. DRGs 981-983 and 987-989,
    else the principal dx's."""
    d = f_drg[f]
    if d == 981 or d == 982 or d == 983 or d == 987 or d == 988 or d == 989:
        return np.int64(29)
    mdc = np.int64(f_reroute[f])
    return mdc if mdc != 0 else np.int64(pdx_mdc)


@njit(cache=True, _nrt=False, forceinline=False)
def _dx_sites(T, scheme):
    """Bit mask of the significant-trauma body sites a diagnosis names."""
    m = 0
    if scheme >= 0:
        for q in range(T.sch_ops_off[scheme], T.sch_ops_off[scheme + 1]):
            b = T.attr_sigtrauma_bit[T.sch_ops[q]]
            if b >= 0:
                m |= 1 << b
    return m


@njit(cache=True, _nrt=False, forceinline=False)
def _px_sites(T, pat):
    """The joints (bilateral bits) of a procedure pattern."""
    sites = 0
    for r in range(T.pat_off[pat], T.pat_off[pat + 1]):
        b = T.attr_bilateral_bit[T.pat_attrs[r]]
        if b >= 0:
            sites |= 1 << b
    return sites


@njit(cache=True, _nrt=False, forceinline=False)
def _bilateral_pass(T, B, O, W, p0, np_, k0, mdc, sites0, seen_sites, stage, names):
    """One BILATERAL pass over the procedures in code order (the principal among
    them, ``k0``): the plain codes, or (``names``) the clusters' names coded
    directly; each on a joint not yet seen is named (the principal for its own
    joint, ``sites0``) until two joints are; the joints seen after it."""
    for a in range(np_):
        if _two_sites(seen_sites):
            break
        j = _in_code_order(W, a, k0)
        pat = W.p_pattern[j]
        if pat < 0 or _px_suppressed(W.p_supp, j, mdc) or T.pr_cluster_name[B.px[p0 + j]] != names:
            continue
        sites = _px_sites(T, pat)
        if sites & ~seen_sites:
            O.px_aff[p0 + (0 if sites == sites0 else j)] |= stage
            seen_sites |= sites
    return seen_sites


@njit(cache=True, _nrt=False, forceinline=False)
def _coded_cluster_on(T, B, W, p0, np_, k0, mdc, sites):
    """The first procedure, in code order, that is a cluster's name coded directly
    and is on one of ``sites`` (-1: none)."""
    for a in range(np_):
        j = _in_code_order(W, a, k0)
        pat = W.p_pattern[j]
        if pat >= 0 and T.pr_cluster_name[B.px[p0 + j]] and not _px_suppressed(W.p_supp, j, mdc) \
                and _px_sites(T, pat) & sites:
            return j
    return -1


@njit(cache=True, _nrt=False, forceinline=False)
def _two_sites(sites):
    """Two or more bilateral-site bits set."""
    return (sites & (sites - 1)) != 0


@njit(cache=True, _nrt=False, forceinline=False)
def _next_cluster(cl_sat, nsat, prev):
    """The satisfied cluster with the smallest id above ``prev`` (its position in
    ``cl_sat``): CMS looks at satisfied clusters in the order of their names (the
    hip revision Z@1803 before the knee revision Z@5019, whatever the claim's order)."""
    r = -1
    for rr in range(nsat):
        c = cl_sat[rr]
        if c > prev and (r < 0 or c < cl_sat[r]):
            r = rr
    return r


@njit(cache=True, _nrt=False, forceinline=False)
def _mark_cluster(O, W, p0, np_, r, stage):
    bit = np.uint64(1) << np.uint64(r)
    for j in range(np_):
        if W.p_clmask[j] & bit:
            O.px_aff[p0 + j] |= stage


@njit(cache=True, _nrt=False, forceinline=False)
def _mark_views(T, B, O, W):
    """The arrays marking reads (MarkTables, MarkBatch, MarkOut, MarkScratch), built
    once per call of :func:`group_range`."""
    return (
        MarkTables(T.attr_bilateral_bit, T.attr_key, T.attr_sigtrauma_bit, T.attr_special, T.attr_stent,
                   T.attr_vessel, T.builtin_attr, T.cl_pattern, T.f_drg, T.f_hi, T.f_lo, T.f_reroute, T.f_stents,
                   T.f_supp, T.key_attr,
                   T.key_kind, T.key_sev, T.n_a, T.n_b, T.n_op, T.pat_attrs, T.pat_off, T.pr_cluster_name,
                   T.sch_cat, T.sch_cat_off,
                   T.sch_ops, T.sch_ops_off, T.ver_nonor_principal_last),
        MarkBatch(B.sdx, B.px),
        MarkOut(O.sdx_aff, O.px_aff),
        MarkScratch(W.cl_sat, W.coll, W.keys, W.keys_win, W.p_clmask, W.p_order, W.p_pattern, W.p_supp, W.s_flags, W.s_order,
                    W.s_scheme, W.s_sev, W.s_supbits, W.stamp, W.supp, W.val),
    )
