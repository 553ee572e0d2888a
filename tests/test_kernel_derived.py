"""The kernel's per-scheme and per-pattern tables (engine.grouping.derived, issue 29)
say what walking the attributes says: the same keys lit, the same flags, counts and
weights, for every scheme and pattern of the bundled tables."""

from __future__ import annotations

import numpy as np

from engine.grouping.derived import PAT_COUNTED
from engine.grouping.layout import _B_ORPROC


def _lists(off, lst, k):
    return [int(x) for x in lst[off[k]:off[k + 1]]]


def test_rule_scheme_keys_and_flags_are_its_attributes(grouper):
    T = grouper.pipeline.kernel_tables
    for s in range(len(T.sch_sev)):
        ops = _lists(T.sch_ops_off, T.sch_ops, s)
        every = ops + _lists(T.sch_cat_off, T.sch_cat, s) + _lists(T.sch_hac_off, T.sch_hac, s)
        keys = _lists(T.sch_key_off, T.sch_keys, s)
        assert len(keys) == len(set(keys)) and min(keys, default=0) >= 0
        assert set(keys) == {int(T.attr_key[at, c]) for at in every for c in (0, 1, 3) if T.attr_key[at, c] >= 0}
        bits = 0
        for at in ops:
            if T.attr_supp_bit[at] >= 0:
                bits |= 1 << int(T.attr_supp_bit[at])
        assert int(T.sch_supbits[s]) == bits
        spec = 0
        for at in ops:
            spec |= int(T.attr_special[at])
        assert int(T.sch_spec[s]) == spec
        assert int(T.sch_vessel[s]) == sum(int(T.attr_vessel[at]) for at in every)


def test_rule_pattern_keys_weight_counts_are_its_attributes(grouper):
    T = grouper.pipeline.kernel_tables
    orproc = int(T.builtin_attr[_B_ORPROC])
    for p in range(len(T.pat_off) - 1):
        attrs = _lists(T.pat_off, T.pat_attrs, p)
        keys = _lists(T.pat_key_off, T.pat_keys, p)
        assert set(keys) == {int(T.attr_key[at, c]) for at in attrs for c in (0, 3) if T.attr_key[at, c] >= 0}
        stents = [int(T.attr_stent[at]) for at in attrs if T.attr_stent[at] > 0]
        assert int(T.pat_weight[p]) == (stents[-1] if stents else 0)
        assert list(T.pat_cnt[p]) == [sum(1 for at in attrs if T.attr_special[at] & bit) for bit in PAT_COUNTED]
        assert bool(T.pat_is_or[p]) == (orproc in attrs)
        bil = 0
        for at in attrs:
            if T.attr_bilateral_bit[at] >= 0:
                bil |= 1 << int(T.attr_bilateral_bit[at])
        assert int(T.pat_bil[p]) == bil
    assert T.pat_cnt.dtype == np.int32
