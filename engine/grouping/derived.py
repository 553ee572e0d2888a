"""Per-scheme and per-pattern tables the kernel reads instead of walking attributes (issue 29).

The operand set of a claim is lit code by code: each secondary dx's scheme
(its operand, category and HAC attribute lists) and each procedure's pattern
(its attribute list) lit two or three keys per attribute, each through a
branch on whether the key was already lit, and summed the attributes' flags
(MDC suppression bits, special bits, stent weights, fusion counts, bilateral
joints, vessels) attribute by attribute.  All of that depends on the scheme or
the pattern alone, so it is computed here once, from the tables' own arrays,
when a Pipeline is made:

* ``sch_keys`` (CSR by scheme, ``sch_key_off``): the keys a secondary dx of the
  scheme lights (``attr_key`` columns bare, ANY and SDX of every attribute of
  its three lists, each once); ``sch_supbits`` (its MDC-suppression mask),
  ``sch_spec`` (its operands' special bits OR-ed), ``sch_sig`` (significant
  trauma sites of its operands), ``sch_bil`` and ``sch_vessel`` (bilateral
  joints and vessel count of its three lists);
* ``vm_req``: the required operand (``f_req``) of each formula of ``vm_formulas``;
* ``pat_keys`` (CSR by pattern, ``pat_key_off``): the keys a procedure or a
  satisfied cluster of the pattern lights (bare and ANY, each once);
  ``pat_spec``, ``pat_weight`` (the stent count the kernel took: the last
  positive one in attribute order), ``pat_cnt`` (how many of its attributes
  carry each fusion counter's bit), ``pat_bil``, ``pat_vessel`` and
  ``pat_is_or`` (the built-in O.R. procedure attribute).

A key's MDC suppression is the AND of the masks of every code that lights it
(engine.grouping.preprocess._put), so the order codes light keys in, and a key
listed twice, change nothing: the kernel's operand set is the same.
"""

from __future__ import annotations

import numpy as np

from .layout import (
    _B_ORPROC, _SP_SGLANTFUSE, _SP_SGLANTSECTX, _SP_SGLPOSTFUSE, _SP_SGLPOSTFUSE1, _SP_SNGLFUSIONCTR,
)

#: pat_cnt's columns: single anterior fusion, single posterior fusion (1), anterior
#: with secondary cervical/thoracic, posterior fusion, single fusion counter
PAT_COUNTED = (_SP_SGLANTFUSE, _SP_SGLPOSTFUSE1, _SP_SGLANTSECTX, _SP_SGLPOSTFUSE, _SP_SNGLFUSIONCTR)

DERIVED_FIELDS = (
    "sch_key_off", "sch_keys", "sch_supbits", "sch_spec", "sch_sig", "sch_bil", "sch_vessel",
    "pat_key_off", "pat_keys", "pat_spec", "pat_weight", "pat_cnt", "pat_bil", "pat_vessel", "pat_is_or",
    "vm_req",
)


def _rows(off, lst, k):
    return lst[off[k]:off[k + 1]].tolist()


def _csr(lists, dtype):
    off = np.zeros(len(lists) + 1, np.int64)
    off[1:] = np.cumsum([len(x) for x in lists])
    flat = np.array([x for row in lists for x in row], dtype)
    return off, flat


def _keys(attr_key, attrs, cols):
    seen = []
    for at in attrs:
        for c in cols:
            key = int(attr_key[at, c])
            if key >= 0 and key not in seen:
                seen.append(key)
    return seen


def _bits(flag, attrs):
    m = 0
    for at in attrs:
        b = int(flag[at])
        if b >= 0:
            m |= 1 << b
    return m


def derived_tables(a) -> dict:
    """The arrays of :data:`DERIVED_FIELDS` from the tables' arrays ``a``."""
    attr_key = np.asarray(a["attr_key"])
    special = np.asarray(a["attr_special"]).astype(np.int64)
    bil = np.asarray(a["attr_bilateral_bit"])
    vessel = np.asarray(a["attr_vessel"]).astype(np.int64)
    stent = np.asarray(a["attr_stent"]).astype(np.int64)
    sig = np.asarray(a["attr_sigtrauma_bit"])
    supp_bit = np.asarray(a["attr_supp_bit"])
    out = {}

    n_sch = len(a["sch_sev"])
    keys, supbits, spec, sigs, bils, vessels = [], [], [], [], [], []
    for s in range(n_sch):
        ops = _rows(a["sch_ops_off"], a["sch_ops"], s)
        every = ops + _rows(a["sch_cat_off"], a["sch_cat"], s) + _rows(a["sch_hac_off"], a["sch_hac"], s)
        keys.append(_keys(attr_key, every, (0, 3, 1)))
        supbits.append(_bits(supp_bit, ops))
        spec.append(int(np.bitwise_or.reduce(special[ops])) if ops else 0)
        sigs.append(_bits(sig, ops))
        bils.append(_bits(bil, every))
        vessels.append(int(vessel[every].sum()) if every else 0)
    out["sch_key_off"], out["sch_keys"] = _csr(keys, np.int32)
    out["sch_supbits"] = np.array(supbits, np.uint64)
    out["sch_spec"] = np.array(spec, np.int32)
    out["sch_sig"] = np.array(sigs, np.int32)
    out["sch_bil"] = np.array(bils, np.int32)
    out["sch_vessel"] = np.array(vessels, np.int32)

    n_pat = len(a["pat_off"]) - 1
    orproc = int(a["builtin_attr"][_B_ORPROC])
    keys, spec, weight, cnt, bils, vessels, is_or = [], [], [], [], [], [], []
    for p in range(n_pat):
        attrs = _rows(a["pat_off"], a["pat_attrs"], p)
        keys.append(_keys(attr_key, attrs, (0, 3)))
        spec.append(int(np.bitwise_or.reduce(special[attrs])) if attrs else 0)
        w = 0
        for at in attrs:
            if stent[at] > 0:
                w = int(stent[at])
        weight.append(w)
        cnt.append([sum(1 for at in attrs if special[at] & bit) for bit in PAT_COUNTED])
        bils.append(_bits(bil, attrs))
        vessels.append(int(vessel[attrs].sum()) if attrs else 0)
        is_or.append(orproc in attrs)
    out["pat_key_off"], out["pat_keys"] = _csr(keys, np.int32)
    out["pat_spec"] = np.array(spec, np.int32)
    out["pat_weight"] = np.array(weight, np.int32)
    out["pat_cnt"] = np.array(cnt, np.int32).reshape(n_pat, len(PAT_COUNTED))
    out["pat_bil"] = np.array(bils, np.int32)
    out["pat_vessel"] = np.array(vessels, np.int32)
    out["pat_is_or"] = np.array(is_or, np.bool_)
    # the required operand of each formula of an MDC's list, in list order (one read
    # per formula the grouping skips, not two dependent ones)
    out["vm_req"] = np.asarray(a["f_req"])[np.asarray(a["vm_formulas"])].astype(np.int32)
    return out
