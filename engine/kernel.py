"""The numba-compiled grouping kernel: one claim at a time, many claims per call.

The stages follow the CMS grouper's own: **preprocess** (code attributes,
clusters, CC exclusions, the claim's operand set), **grouping** (pre-MDC
formulas, rerouting, the principal diagnosis' MDC), **marking** (which codes
made the DRG), **HAC** (hospital-acquired conditions under the hospital's POA
status) and **final** (grouping again without the HAC codes' CC/MCC).

Everything here is a plain ``@njit`` function over integer arrays:

* ``T`` – the read-only tables (a namedtuple of arrays, see
  :mod:`engine.tables`), shared by every thread;
* ``B`` – the encoded batch (claims as dense code ids, CSR offsets);
* ``O`` – the output columns, written once per claim;
* ``W`` – per-thread scratch, reused claim after claim.  The claim's operand
  set is a "generation stamped" array: ``stamp[key] == gen`` means present, so
  starting a new claim costs one increment, not a clear.

:func:`group_range` is the entry point; :func:`engine.grouper.Grouper` splits a
batch into chunks and runs them on all cores (the kernel releases the GIL).

Why some stages are ``inline="always"``: a call between compiled functions
passes every array of ``T``, ``B``, ``O`` and ``W`` as separate arguments on
the stack (~1,300 moves a call); for the stages called once per claim
(:func:`_group_claim`, :func:`_preprocess`, :func:`_final_extra`) that was
13 % of the kernel's time. Inlined at numba's IR level they cost nothing and
compile no slower, each having one caller. :func:`_group` (small) is inlined
at its two call sites too (compile unchanged, ~7 % faster). :func:`_mark`
(large, two callers) stays a call: inlining it doubled the cold compile
(79 s -> 143 s), and with one call site in a loop it still added 25 s.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

from .tables import (
    KEY_ANY, KEY_BARE, KEY_ONLY, KEY_PDX, KEY_SDX, KEY_SEV, RC, SEV_CC, SEV_MCC, SEV_NONE,
    SURG_NA, VERSIONS,
)

# ---- enumerations shared with engine.decode -------------------------------------------

# A code's effect on the DRG (bit 1 = initial, bit 2 = final).
AFF_NONE, AFF_INITIAL, AFF_FINAL, AFF_BOTH = 0, 1, 2, 3

# POA check outcome per diagnosis.
POA_NOT_CHECKED, POA_NOT_RECOGNIZED, POA_NOT_POA, POA_YES_POA, POA_EXEMPT = 0, 1, 2, 3, 4

# HAC status of one HAC category on one diagnosis.
HAC_NOT_ON_LIST, HAC_MET, HAC_NOT_MET, HAC_NA_EXCLUSION, HAC_NA_EXEMPT = 0, 1, 2, 3, 4

# Claim-level HAC status.
HS_NOT_APPLICABLE, HS_NO_CHANGE, HS_CHANGES, HS_UNGROUPABLE = 0, 1, 2, 3

# Hospital POA-reporting status.
HOSP_NOT_EXEMPT, HOSP_EXEMPT, HOSP_UNKNOWN = 0, 1, 2

SEX_MALE, SEX_FEMALE, SEX_UNKNOWN = 0, 1, 2

# Claim severity reported for DRGs 998/999, which take no CC/MCC split.
SEV_UNGROUPED = 3

MAX_HACS = 8       # HAC list entries per diagnosis (a code may carry several HAC operands)
MAX_CLUSTERS = 64  # satisfied clusters per claim (a uint64 membership mask per procedure)

_RC_INVALID_DSTAT = RC["INVALID_DISCHARGE_STATUS"]
_RC_DX_CANNOT_BE_PDX = RC["DX_CANNOT_BE_PDX"]
_RC_MISSING_POA = RC["HAC_MISSING_ONE_POA"]
_RC_N_OR_U = RC["HAC_STATUS_INVALID_POA_N_OR_U"]
_RC_INVALID_OR_1 = RC["HAC_STATUS_INVALID_POA_INVALID_OR_1"]
_RC_MULT = RC["HAC_STATUS_INVALID_MULT_HACS_POA_NOT_Y_W"]
_RC_UNGROUPABLE = RC["UNGROUPABLE"]
_V41 = VERSIONS.index(410)  # index of v41.0 in the tables' version axis

# attr_special bits (engine.tables.compile_tables)
_SP_NORDRUGSTENT, _SP_NORSTENT, _SP_SGLANTFUSE, _SP_SGLPOSTFUSE1 = 1, 2, 4, 8
_SP_SGLANTSECTX, _SP_SGLPOSTFUSE, _SP_SNGLFUSIONCTR, _SP_MCCALIVE = 16, 32, 64, 128
_SP_INCIDENT, _SP_ECODE, _SP_HAC06_SHOW, _SP_ORPROC_SRC = 256, 512, 1024, 2048
_SP_ARTERIAL, _SP_HAC11_PDX = 4096, 8192

# builtin_attr indices (engine.tables.BUILTIN_ATTRIBUTES order)
(_B_INVALID_PDX, _B_PDX_ECODE, _B_INVALID_SEX, _B_INVALID_DSTAT, _B_ANYDX, _B_MULTST,
 _B_MDC20, _B_ALIVE, _B_DIED, _B_AMA, _B_XFRNBA, _B_BILATERAL, _B_FOUR_NON_DRUG,
 _B_FOUR_DRUG, _B_FOUR_VESSELS, _B_FOUR_STENTS, _B_MULTFUSE, _B_SGLANTSECTXCTR,
 _B_SGLPOSTFUSECTR, _B_SINGLEFUSIONCTR, _B_SGLANTCTR, _B_SGLPOST1CTR, _B_ORPROC,
 _B_INCIDENT) = range(24)

TABLE_FIELDS = (
    "attr_key", "attr_bilateral_bit", "attr_vessel", "attr_stent", "attr_sigtrauma_bit",
    "attr_hac", "attr_hac_proc", "attr_supp_bit", "attr_special", "builtin_attr",
    "key_kind", "key_attr", "key_sev",
    "dx_scheme", "sch_mdc", "sch_sev", "sch_ops_off", "sch_ops", "sch_cat_off", "sch_cat",
    "sch_hac_off", "sch_hac", "dx_excl", "excl_off", "excl_codes", "dx_gender",
    "pat_off", "pat_attrs", "pr_pattern", "pr_cluster_name", "cl_pattern", "cl_active", "cl_supp", "cl_nchoice",
    "cl_mem_off", "cl_mem", "cl_mem_choice", "pr_cl_off", "pr_cl",
    "vm_off", "vm_formulas", "vh_off", "vh_formulas",
    "n_op", "n_a", "n_b", "f_lo", "f_hi", "f_req", "f_drg", "f_reroute", "f_surg", "f_rc", "f_supp",
    "valid_dstat", "ver_drg_logic", "ver_nonor_principal_last",
)
KernelTables = namedtuple("KernelTables", TABLE_FIELDS)

BATCH_FIELDS = (
    "ok", "ver", "sex", "dstat", "hosp", "pdx", "pdx_ecode", "pdx_poa",
    "sdx_off", "sdx", "sdx_poa", "px_off", "px",
    # read by the Medicare Code Editor (engine.editing), not by the grouping kernel
    "age", "los", "edit_date", "admit_dx",
)
KernelBatch = namedtuple("KernelBatch", BATCH_FIELDS)

OUT_FIELDS = (
    "init_drg", "init_mdc", "final_drg", "final_mdc", "rc", "init_sev", "final_sev",
    "med_surg", "hac_status", "pdx_aff", "pdx_hac11",
    "sdx_aff", "sdx_use_init", "sdx_use_final", "sdx_poa_err", "sdx_hac_num", "sdx_hac_status",
    "px_aff", "px_hac", "px_is_or",
)
KernelOut = namedtuple("KernelOut", OUT_FIELDS)

SCRATCH_FIELDS = (
    "gen", "stamp", "supp", "val", "coll", "keys", "hstamp",
    "s_scheme", "s_sev", "s_flags", "s_supbits", "s_order", "s_hac_num", "s_hac_status",
    "s_nhac", "s_mark",
    "p_pattern", "p_supp", "p_clmask", "p_order", "p_hac", "p_mark",
    "cl_list", "cl_sat", "choice_seen", "cum", "res", "st_i", "st_f",
)
Scratch = namedtuple("Scratch", SCRATCH_FIELDS)

# What marking reads.  _mark stays a call (see the module docstring), and a call
# copies every array it is handed: these views hand it 44 arrays instead of 117.
MarkTables = namedtuple("MarkTables", (
    "attr_bilateral_bit", "attr_key", "attr_sigtrauma_bit", "attr_special", "attr_stent", "attr_vessel",
    "builtin_attr", "cl_pattern", "f_drg", "f_hi", "f_lo", "f_reroute", "f_supp", "key_attr", "key_kind", "key_sev", "n_a", "n_b",
    "n_op", "pat_attrs", "pat_off", "pr_cluster_name", "sch_cat", "sch_cat_off", "sch_ops", "sch_ops_off",
    "ver_nonor_principal_last",
))
MarkBatch = namedtuple("MarkBatch", ("sdx", "px"))
MarkOut = namedtuple("MarkOut", ("sdx_aff", "px_aff"))
MarkScratch = namedtuple("MarkScratch", (
    "cl_sat", "coll", "keys", "p_clmask", "p_order", "p_pattern", "p_supp", "s_flags", "s_order", "s_scheme",
    "s_sev", "s_supbits", "stamp", "supp", "val",
))

# s_flags bits
_F_VALID, _F_EXCLUDED, _F_DEATH, _F_SHOW = 1, 2, 4, 8


# ======================================================================================
# unmanaged views
# ======================================================================================

@intrinsic
def _unmanaged(typingctx, tup):
    """The same tuple of arrays, each member without its NRT meminfo.

    numba reference-counts every array it passes between functions; with the
    tables, batch and scratch travelling as tuples of ~140 arrays, those atomic
    increments and decrements were over half the kernel's time, and both cores
    fought over the same table counters.  A view without meminfo is never
    counted.  The caller keeps the owning arrays alive for the view's lifetime:
    the entry point holds them for the whole call."""
    if not isinstance(tup, types.BaseTuple):
        return None

    def codegen(context, builder, signature, args):
        val = args[0]
        for k, ty in enumerate(signature.args[0].types):
            if isinstance(ty, types.Array):
                a = builder.extract_value(val, k)
                a = builder.insert_value(a, cgutils.get_null_value(a.type.elements[0]), 0)
                a = builder.insert_value(a, cgutils.get_null_value(a.type.elements[1]), 1)
                val = builder.insert_value(val, a, k)
        return val

    return tup(tup), codegen


@intrinsic
def _prefetch(typingctx, arr, index):
    """Ask the CPU to bring ``arr[index]`` (``index`` a tuple, one int per
    dimension) into cache, without waiting for it: ``prefetcht0``.

    The per-code tables (dx_scheme, dx_excl, dx_gender, pr_pattern, pr_cl_off:
    1-3 MB each, indexed by version and code) do not fit in L2, and a claim's
    codes are random rows of them.  Sampled, the instruction waiting on the
    secondary dx's ``dx_scheme`` row alone held 7.7 % of the kernel's samples:
    each secondary dx's long loop body kept the CPU from overlapping those
    loads.  Prefetched one claim ahead (:func:`group_range`) they arrive while
    the claim before is grouped: group_batch +7-9 % (A/B, generated claims).
    Two claims ahead with the first CC-exclusion probes of the next one was no
    better.  The llvm intrinsic name is for LLVM's opaque pointers (llvmlite
    is pinned)."""
    if not isinstance(arr, types.Array) or not isinstance(index, types.BaseTuple) or len(index) != arr.ndim:
        return None

    def codegen(context, builder, signature, args):
        aryty, idxty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [context.cast(builder, builder.extract_value(args[1], k), idxty[k], types.intp)
               for k in range(aryty.ndim)]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])  # read, keep in all levels, data
        return context.get_dummy_value()

    return types.void(arr, index), codegen


@njit(cache=True, _nrt=False, inline="always")
def _prefetch_claim(T, B, i):
    """Prefetch the per-code table rows claim ``i`` reads first (see :func:`_prefetch`)."""
    if not B.ok[i]:
        return
    v = B.ver[i]
    pdx = B.pdx[i]
    if pdx >= 0:
        _prefetch(T.dx_scheme, (v, pdx))
        _prefetch(T.dx_excl, (v, pdx))
        _prefetch(T.dx_gender, (v, pdx, 0))
    for q in range(B.sdx_off[i], B.sdx_off[i + 1]):
        code = B.sdx[q]
        if code >= 0:
            _prefetch(T.dx_scheme, (v, code))
    for q in range(B.px_off[i], B.px_off[i + 1]):
        code = B.px[q]
        if code >= 0:
            _prefetch(T.pr_pattern, (v, code))
            _prefetch(T.pr_cl_off, (v, code))


# ======================================================================================
# preprocess: the claim's operand set
# ======================================================================================

@njit(cache=True, _nrt=False)
def _put(stamp, supp_arr, key, supp, gen):
    """Light ``key`` with MDC-suppression mask ``supp``; masks of repeats are AND-ed
    (an operand is suppressed in an MDC only when every code giving it is)."""
    if key >= 0:
        if stamp[key] != gen:
            stamp[key] = gen
            supp_arr[key] = supp
        else:
            supp_arr[key] &= supp


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _has_attr(off, lst, idx, attr):
    for q in range(off[idx], off[idx + 1]):
        if lst[q] == attr:
            return True
    return False


@njit(cache=True, _nrt=False)
def _dx_has(ops_off, ops, cat_off, cat, scheme, attr, with_cat):
    if scheme < 0:
        return False
    if _has_attr(ops_off, ops, scheme, attr):
        return True
    if with_cat and _has_attr(cat_off, cat, scheme, attr):
        return True
    return False


@njit(cache=True, _nrt=False)
def _excluded(dx_excl, excl_off, excl_codes, v, pdx, sdx):
    """CC exclusion: a secondary dx is excluded when it is in the exclusion group
    of the principal dx."""
    if pdx < 0 or sdx < 0:
        return False
    g = dx_excl[v, pdx]
    if g < 0:
        return False
    lo = excl_off[g]
    hi = excl_off[g + 1]
    end = hi
    while lo < hi:
        mid = (lo + hi) >> 1
        if excl_codes[mid] < sdx:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and excl_codes[lo] == sdx


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False, inline="always")
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
            for q in range(T.sch_ops_off[sc], T.sch_ops_off[sc + 1]):
                at = T.sch_ops[q]
                sb = T.attr_supp_bit[at]
                if sb >= 0:
                    bits |= np.uint64(1) << np.uint64(sb)
                sp = T.attr_special[at]
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

    # -- the operand set
    sig = 0
    for j in range(ns):
        sc = W.s_scheme[j]
        if sc < 0:
            continue
        for q in range(T.sch_ops_off[sc], T.sch_ops_off[sc + 1]):
            at = T.sch_ops[q]
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, at, _0, _u0, gen, cum)
            _put(W.stamp, W.supp, T.attr_key[at, 1], _u0, gen)
            b = T.attr_sigtrauma_bit[at]
            if b >= 0:
                sig |= 1 << b
        for q in range(T.sch_cat_off[sc], T.sch_cat_off[sc + 1]):
            at = T.sch_cat[q]
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, at, _0, _u0, gen, cum)
            _put(W.stamp, W.supp, T.attr_key[at, 1], _u0, gen)
        for q in range(T.sch_hac_off[sc], T.sch_hac_off[sc + 1]):
            at = T.sch_hac[q]
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, at, _0, _u0, gen, cum)
            _put(W.stamp, W.supp, T.attr_key[at, 1], _u0, gen)

    non_eluting = 0
    eluting = 0
    single_fusion = 0
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
        weight = 0
        has_drug = False
        has_plain = False
        for q in range(T.pat_off[pat], T.pat_off[pat + 1]):
            at = T.pat_attrs[q]
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, at, _0, supp, gen, cum)
            st = T.attr_stent[at]
            if st > 0:
                weight = st
            sp = T.attr_special[at]
            if sp & _SP_NORDRUGSTENT:
                has_drug = True
            if sp & _SP_NORSTENT:
                has_plain = True
            if sp & _SP_SGLANTFUSE:
                single_fusion += 1
                single_ant += 1
            if sp & _SP_SGLPOSTFUSE1:
                single_fusion += 1
                single_post1 += 1
            if sp & _SP_SGLANTSECTX:
                anterior += 1
            if sp & _SP_SGLPOSTFUSE:
                posterior += 1
            if sp & _SP_SNGLFUSIONCTR:
                fusion_ctr += 1
        if has_drug:
            eluting += weight
        if has_plain:
            non_eluting += weight
    for r in range(nsat):
        pat = T.cl_pattern[v, W.cl_sat[r]]
        if pat < 0:
            continue
        for q in range(T.pat_off[pat], T.pat_off[pat + 1]):
            _add_attr(T.attr_key, T.attr_bilateral_bit, T.attr_vessel, W.stamp, W.supp, T.pat_attrs[q], _0, _u0, gen, cum)

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


# ======================================================================================
# grouping: formulas in rank order
# ======================================================================================

@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _is_hac_met(s_nhac, s_hac_status, j):
    for k in range(s_nhac[j]):
        if s_hac_status[j, k] == HAC_MET:
            return True
    return False


@njit(cache=True, _nrt=False)
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
    f_req = T.f_req
    stamp = W.stamp
    for q in range(base, end):
        f = T.vm_formulas[q]
        rk = f_req[f]
        if rk >= 0 and stamp[rk] != gen:
            continue  # an operand the formula cannot hold without is absent
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


@njit(cache=True, _nrt=False, inline="always")
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


# ======================================================================================
# HAC: hospital-acquired conditions
# ======================================================================================

@njit(cache=True, _nrt=False)
def _poa_invalid(poa):
    return not (poa == 89 or poa == 78 or poa == 85 or poa == 87)  # Y N U W


@njit(cache=True, _nrt=False)
def _poa_yes(poa):
    return poa == 89 or poa == 87  # Y W


@njit(cache=True, _nrt=False)
def _poa_error(poa):
    if poa == 89 or poa == 87:
        return POA_YES_POA
    if poa == 78 or poa == 85:
        return POA_NOT_POA
    return POA_NOT_RECOGNIZED


@njit(cache=True, _nrt=False)
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
    for j in range(ns):
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
            if not full_met:
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


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
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


# ======================================================================================
# the claim
# ======================================================================================

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
            O.px_is_or[p0 + j] = _has_attr(T.pat_off, T.pat_attrs, pat, T.builtin_attr[_B_ORPROC])

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


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
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


# ======================================================================================
# marking: which codes made the DRG
# ======================================================================================

@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _sort_sdx(W, B, s0, ns):
    """CMS's marking order: MCC first, then CC, then the rest; ties by code."""
    for j in range(ns):
        W.s_order[j] = j
    for a in range(1, ns):
        x = W.s_order[a]
        b = a - 1
        while b >= 0 and _sdx_before(W.s_sev, B.sdx, s0, x, W.s_order[b]):
            W.s_order[b + 1] = W.s_order[b]
            b -= 1
        W.s_order[b + 1] = x


@njit(cache=True, _nrt=False)
def _sdx_before(s_sev, sdx, s0, x, y):
    sx = s_sev[x]
    sy = s_sev[y]
    if sx != sy:
        return sx > sy
    cx = sdx[s0 + x]
    cy = sdx[s0 + y]
    if cx < 0:
        return False
    if cy < 0:
        return True
    return cx < cy


@njit(cache=True, _nrt=False)
def _sort_px(W, B, p0, np_):
    for j in range(np_):
        W.p_order[j] = j
    for a in range(1, np_):
        x = W.p_order[a]
        b = a - 1
        while b >= 0 and _px_before(B.px, p0, x, W.p_order[b]):
            W.p_order[b + 1] = W.p_order[b]
            b -= 1
        W.p_order[b + 1] = x


@njit(cache=True, _nrt=False)
def _px_before(px, p0, x, y):
    cx = px[p0 + x]
    cy = px[p0 + y]
    if cx < 0:
        return False
    if cy < 0:
        return True
    return cx < cy


@njit(cache=True, _nrt=False)
def _px_has(pat_off, pat_attrs, p_pattern, j, attr):
    pat = p_pattern[j]
    if pat < 0:
        return False
    return _has_attr(pat_off, pat_attrs, pat, attr)


@njit(cache=True, _nrt=False)
def _cl_has(pat_off, pat_attrs, cl_pattern, v, c, attr):
    pat = cl_pattern[v, c]
    if pat < 0:
        return False
    return _has_attr(pat_off, pat_attrs, pat, attr)


@njit(cache=True, _nrt=False)
def _px_suppressed(p_supp, j, mdc):
    return 0 <= mdc < 32 and (p_supp[j] >> np.uint32(mdc)) & np.uint32(1)


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _principal_rank(W, B, p0, np_):
    """Where the principal procedure stands in plain code order (W.p_order holds
    it first, then the others by code): how many others come before it."""
    k = 0
    for a in range(1, np_):
        if _px_before(B.px, p0, W.p_order[a], 0):
            k += 1
    return k


@njit(cache=True, _nrt=False)
def _in_code_order(W, a, k0):
    """The ``a``-th procedure in plain code order, the principal among the others."""
    if a < k0:
        return W.p_order[a + 1]
    if a == k0:
        return 0
    return W.p_order[a]


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _mark(T, B, O, W, i, v, s0, ns, p0, np_, pdx_scheme, pdx_mdc, nsat, st, stage, gen):
    """Diagnosis and procedure marking of one stage (initial or final)."""
    win = st[7]
    if win < 0:
        return
    sev = st[2]
    if sev < 0:
        sev = SEV_NONE
    res_mdc = st[1] if st[1] >= 0 else 0
    _sort_sdx(W, B, s0, ns)
    _sort_px(W, B, p0, np_)
    # CMS looks at the principal (first-listed) procedure first, then the others by code
    if np_ > 1:
        a0 = 0
        while W.p_order[a0] != 0:
            a0 += 1
        for a in range(a0, 0, -1):
            W.p_order[a] = W.p_order[a - 1]
        W.p_order[0] = 0

    # -- diagnoses
    wsupp = T.f_supp[win]
    nk = _collect(T.n_op, T.n_a, T.n_b, T.f_lo, T.f_hi, T.key_kind, T.key_sev, W.stamp, W.supp, W.val, W.coll, W.keys, win, np.int64(res_mdc), np.int64(sev), gen)
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
    for a in range(ns):
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
    nk = _collect(T.n_op, T.n_a, T.n_b, T.f_lo, T.f_hi, T.key_kind, T.key_sev, W.stamp, W.supp, W.val, W.coll, W.keys, win, np.int64(mdc), np.int64(sev), gen)
    npk = 0
    for q in range(nk):
        key = W.keys[q]
        if T.key_kind[key] == KEY_BARE:
            W.keys[npk] = key
            npk += 1
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
            for a in range(np_):
                if _two_sites(seen_sites):
                    break
                j = _in_code_order(W, a, k0)
                pat = W.p_pattern[j]
                if pat < 0 or _px_suppressed(W.p_supp, j, mdc) or T.pr_cluster_name[B.px[p0 + j]]:
                    continue
                sites = _px_sites(T, pat)
                if sites & ~seen_sites:
                    O.px_aff[p0 + (0 if sites == sites0 else j)] |= stage
                    seen_sites |= sites
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
            for a in range(np_):
                if _two_sites(seen_sites):
                    break
                j = _in_code_order(W, a, k0)
                pat = W.p_pattern[j]
                if pat < 0 or _px_suppressed(W.p_supp, j, mdc) or not T.pr_cluster_name[B.px[p0 + j]]:
                    continue
                sites = _px_sites(T, pat)
                if sites & ~seen_sites:
                    O.px_aff[p0 + (0 if sites == sites0 else j)] |= stage
                    seen_sites |= sites
    if npk > 0:
        # From v41.0 on a non-O.R. principal procedure is looked at last here (CMS v42.1:
        # 02HK3JZ (non-O.R.) listed first with 0RSK0ZZ, both oth22, names 0RSK0ZZ;
        # listed second it still comes in code order: 02134AW 02HK3JZ 0RSK0ZZ names it)
        last = T.ver_nonor_principal_last[v]
        if last == 1 and B.px[p0] >= 0 and T.pr_cluster_name[B.px[p0]]:
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

    # -- stents (procedure function marking, evaluated outside any MDC)
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


@njit(cache=True, _nrt=False)
def _procedure_mdc(f_drg, f_reroute, f, pdx_mdc):
    """The MDC whose procedure suppression applies to the codes of formula ``f``:
    its reroute target, MDC 29 for the unrelated O.R. DRGs 981-983 and 987-989,
    else the principal dx's."""
    d = f_drg[f]
    if d == 981 or d == 982 or d == 983 or d == 987 or d == 988 or d == 989:
        return np.int64(29)
    mdc = np.int64(f_reroute[f])
    return mdc if mdc != 0 else np.int64(pdx_mdc)


@njit(cache=True, _nrt=False)
def _dx_sites(T, scheme):
    """Bit mask of the significant-trauma body sites a diagnosis names."""
    m = 0
    if scheme >= 0:
        for q in range(T.sch_ops_off[scheme], T.sch_ops_off[scheme + 1]):
            b = T.attr_sigtrauma_bit[T.sch_ops[q]]
            if b >= 0:
                m |= 1 << b
    return m


@njit(cache=True, _nrt=False)
def _px_sites(T, pat):
    """The joints (bilateral bits) of a procedure pattern."""
    sites = 0
    for r in range(T.pat_off[pat], T.pat_off[pat + 1]):
        b = T.attr_bilateral_bit[T.pat_attrs[r]]
        if b >= 0:
            sites |= 1 << b
    return sites


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _two_sites(sites):
    """Two or more bilateral-site bits set."""
    return (sites & (sites - 1)) != 0


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _mark_cluster(O, W, p0, np_, r, stage):
    bit = np.uint64(1) << np.uint64(r)
    for j in range(np_):
        if W.p_clmask[j] & bit:
            O.px_aff[p0 + j] |= stage


@njit(cache=True, _nrt=False, inline="always")
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
        for j in range(ns):
            for k in range(MAX_HACS):
                if O.sdx_hac_status[s0 + j, k] == HAC_MET:
                    nmet += 1
        if nmet > 0:
            if O.init_drg[i] == O.final_drg[i]:
                O.hac_status[i] = HS_NO_CHANGE
            elif O.final_drg[i] == 999:
                O.hac_status[i] = HS_UNGROUPABLE
            else:
                O.hac_status[i] = HS_CHANGES


def new_scratch(sizes) -> Scratch:
    """Per-thread scratch for claims of up to ``sizes`` = (keys, formula nodes,
    secondary dx, procedures, candidate clusters).  Reusable call after call:
    the operand set is generation-stamped (``gen`` only grows) and every other
    array is written before it is read, claim by claim."""
    keys, nodes, n_sdx, n_px, n_clusters = (int(x) for x in sizes)
    return Scratch(
        np.zeros(1, np.int64), np.zeros(keys, np.int64), np.zeros(keys, np.uint32),
        np.zeros(nodes, np.bool_), np.zeros(nodes, np.bool_), np.zeros(nodes, np.int32),
        np.zeros(keys, np.int64),
        np.zeros(n_sdx, np.int32), np.zeros(n_sdx, np.int8), np.zeros(n_sdx, np.int8),
        np.zeros(n_sdx, np.uint64), np.zeros(n_sdx, np.int32),
        np.zeros((n_sdx, MAX_HACS), np.int16), np.zeros((n_sdx, MAX_HACS), np.int8),
        np.zeros(n_sdx, np.int8), np.zeros(n_sdx, np.int8),
        np.zeros(n_px, np.int32), np.zeros(n_px, np.uint32), np.zeros(n_px, np.uint64),
        np.zeros(n_px, np.int32), np.zeros(n_px, np.uint8), np.zeros(n_px, np.int8),
        np.zeros(max(64, n_clusters), np.int32), np.zeros(MAX_CLUSTERS, np.int32),
        np.zeros(64, np.bool_), np.zeros(2, np.int64), np.zeros(3, np.int32),
        np.zeros(8, np.int32), np.zeros(8, np.int32),
    )


def new_output(n: int, n_sdx: int, n_px: int) -> KernelOut:
    """Output columns for ``n`` claims with ``n_sdx``/``n_px`` codes, initialised to
    "nothing happened" (AFF_NONE, POA_NOT_CHECKED, no HAC: -1, severity NON_CC /
    NEITHER): the kernel writes only what differs."""
    return KernelOut(
        np.zeros(n, np.int16), np.zeros(n, np.int16), np.zeros(n, np.int16), np.zeros(n, np.int16),
        np.zeros(n, np.int8), np.zeros(n, np.int8), np.zeros(n, np.int8), np.zeros(n, np.int8),
        np.zeros(n, np.int8), np.zeros(n, np.int8), np.zeros(n, np.bool_),
        np.zeros(n_sdx, np.int8), np.zeros(n_sdx, np.int8), np.zeros(n_sdx, np.int8), np.zeros(n_sdx, np.int8),
        np.full((n_sdx, MAX_HACS), -1, np.int16), np.full((n_sdx, MAX_HACS), -1, np.int8),
        np.zeros(n_px, np.int8), np.zeros(n_px, np.uint8), np.zeros(n_px, np.bool_),
    )


@njit(cache=True, nogil=True)
def group_range(T, B, O, W, lo, hi):
    """Group claims ``lo:hi`` on the calling thread, with a scratch of its own
    (:func:`new_scratch`, big enough for every claim of the range).  ``O`` must
    come from :func:`new_output` (the kernel writes only what
    differs from its initial values).

    It releases the GIL: :class:`engine.grouper.Grouper` runs chunks of a large
    batch on a thread pool, one chunk per core at a time.  (Python threads
    rather than numba's ``prange``: the parallel compile pipeline re-optimised
    the whole kernel a second time, a third of the cold start.)"""
    Tu = _unmanaged(T)
    Bu = _unmanaged(B)
    Ou = _unmanaged(O)
    Wu = _unmanaged(W)
    M = _mark_views(Tu, Bu, Ou, Wu)
    for i in range(lo, hi):
        if i + 1 < hi:
            _prefetch_claim(Tu, Bu, i + 1)
        if Bu.ok[i]:
            _group_claim(Tu, Bu, Ou, Wu, M, i)


@njit(cache=True, _nrt=False)
def _mark_views(T, B, O, W):
    """The arrays marking reads (MarkTables, MarkBatch, MarkOut, MarkScratch), built
    once per call of :func:`group_range`."""
    return (
        MarkTables(T.attr_bilateral_bit, T.attr_key, T.attr_sigtrauma_bit, T.attr_special, T.attr_stent,
                   T.attr_vessel, T.builtin_attr, T.cl_pattern, T.f_drg, T.f_hi, T.f_lo, T.f_reroute, T.f_supp, T.key_attr,
                   T.key_kind, T.key_sev, T.n_a, T.n_b, T.n_op, T.pat_attrs, T.pat_off, T.pr_cluster_name,
                   T.sch_cat, T.sch_cat_off,
                   T.sch_ops, T.sch_ops_off, T.ver_nonor_principal_last),
        MarkBatch(B.sdx, B.px),
        MarkOut(O.sdx_aff, O.px_aff),
        MarkScratch(W.cl_sat, W.coll, W.keys, W.p_clmask, W.p_order, W.p_pattern, W.p_supp, W.s_flags, W.s_order,
                    W.s_scheme, W.s_sev, W.s_supbits, W.stamp, W.supp, W.val),
    )
