"""The kernel's data layout: what every grouping stage agrees on.

The namedtuples of arrays the compiled code is handed (the tables ``T``, the
batch ``B``, the output ``O``, the per-thread scratch ``W``, and the views
marking reads), their field lists, the enumerations the output columns hold
(shared with engine.decode), the tables' bit flags and built-in attribute
indices, and the constructors of the output columns and the scratch.  No
compiled code: the stages import from here, never from each other's layouts.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..tables import RC, VERSIONS


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
_SP_ARTERIAL, _SP_HAC11_PDX, _SP_COUNTER = 4096, 8192, 16384

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
    "n_op", "n_a", "n_b", "f_lo", "f_hi", "f_req", "f_drg", "f_reroute", "f_surg", "f_rc", "f_supp", "f_stents",
    "valid_dstat", "ver_drg_logic", "ver_nonor_principal_last",
    # derived from the above when a Pipeline is made (engine.grouping.derived)
    "sch_key_off", "sch_keys", "sch_supbits", "sch_spec", "sch_sig", "sch_bil", "sch_vessel",
    "pat_key_off", "pat_keys", "pat_spec", "pat_weight", "pat_cnt", "pat_bil", "pat_vessel", "pat_is_or",
    "vm_req",
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
    "gen", "stamp", "supp", "val", "coll", "keys", "keys_win", "hstamp",
    "s_scheme", "s_sev", "s_flags", "s_supbits", "s_order", "s_hac_num", "s_hac_status",
    "s_nhac", "s_mark",
    "p_pattern", "p_supp", "p_clmask", "p_order", "p_hac", "p_mark",
    "cl_list", "cl_sat", "choice_seen", "cum", "res", "st_i", "st_f",
)
Scratch = namedtuple("Scratch", SCRATCH_FIELDS)

# What marking reads.  _mark stays a call (see engine.grouping's docstring), and a call
# copies every array it is handed: these views hand it 48 arrays instead of 125.
MarkTables = namedtuple("MarkTables", (
    "attr_bilateral_bit", "attr_key", "attr_sigtrauma_bit", "attr_special", "attr_stent", "attr_vessel",
    "builtin_attr", "cl_pattern", "f_drg", "f_hi", "f_lo", "f_reroute", "f_stents", "f_supp", "key_attr", "key_kind", "key_sev", "n_a", "n_b",
    "n_op", "pat_attrs", "pat_off", "pr_cluster_name", "sch_cat", "sch_cat_off", "sch_ops", "sch_ops_off",
    "ver_nonor_principal_last",
))
MarkBatch = namedtuple("MarkBatch", ("sdx", "px"))
MarkOut = namedtuple("MarkOut", ("sdx_aff", "px_aff"))
MarkScratch = namedtuple("MarkScratch", (
    "cl_sat", "coll", "keys", "keys_win", "p_clmask", "p_order", "p_pattern", "p_supp", "s_flags", "s_order", "s_scheme",
    "s_sev", "s_supbits", "stamp", "supp", "val",
))

# s_flags bits
_F_VALID, _F_EXCLUDED, _F_DEATH, _F_SHOW = 1, 2, 4, 8


def new_scratch(sizes) -> Scratch:
    """Per-thread scratch for claims of up to ``sizes`` = (keys, formula nodes,
    secondary dx, procedures, candidate clusters).  Reusable call after call:
    the operand set is generation-stamped (``gen`` only grows) and every other
    array is written before it is read, claim by claim."""
    keys, nodes, n_sdx, n_px, n_clusters = (int(x) for x in sizes)
    return Scratch(
        np.zeros(1, np.int64), np.zeros(keys, np.int64), np.zeros(keys, np.uint32),
        np.zeros(nodes, np.bool_), np.zeros(nodes, np.bool_), np.zeros(nodes, np.int32), np.zeros(nodes, np.int32),
        np.zeros(keys, np.int64),
        np.zeros(n_sdx, np.int32), np.zeros(n_sdx, np.int8), np.zeros(n_sdx, np.int8),
        np.zeros(n_sdx, np.uint64), np.zeros(n_sdx, np.int64),
        np.zeros((n_sdx, MAX_HACS), np.int16), np.zeros((n_sdx, MAX_HACS), np.int8),
        np.zeros(n_sdx, np.int8), np.zeros(n_sdx, np.int8),
        np.zeros(n_px, np.int32), np.zeros(n_px, np.uint32), np.zeros(n_px, np.uint64),
        np.zeros(n_px, np.int64), np.zeros(n_px, np.uint8), np.zeros(n_px, np.int8),
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
