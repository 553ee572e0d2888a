"""A part of a large Arrow table is read as its own rows (issue 29: group_arrow at 1,000,000 rows).

engine.io.arrow cuts a table into parts (slices); a slice of a list column
shares its parent's whole child array and validity bitmaps.  The reader takes
only the slice's items and bits: the same kernel batch as the same rows in a
table of their own, at any offset (bit offsets not a multiple of 8, null rows
and null codes included), and group_arrow answers every row as group() does.
"""

from __future__ import annotations

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="pyarrow not installed (pip install -e '.[dev]')")

from engine.io.arrow import claims_table, read_batch  # noqa: E402
from engine.synthetic import generate_claims  # noqa: E402

_FIELDS = ("ok", "ver", "sex", "dstat", "hosp", "pdx", "pdx_poa", "sdx_off", "sdx", "sdx_poa", "px_off", "px")


@pytest.fixture(scope="module")
def claims():
    made = generate_claims(300, seed=29)
    made[5]["sdx"] = None  # a null list row
    made[11]["procedures"] = [None, made[11]["procedures"][0] if made[11]["procedures"] else "0JHG3NZ"]
    made[12]["pdx"] = None
    return made


@pytest.mark.parametrize("lo,n", [(0, 37), (13, 50), (101, 64), (203, 97)])
def test_rule_arrow_slice_reads_only_its_rows(grouper, claims, lo, n):
    whole = claims_table(claims).combine_chunks().to_batches()[0]
    part = read_batch(grouper, whole.slice(lo, n)).batch
    own = read_batch(grouper, claims_table(claims[lo:lo + n]).combine_chunks().to_batches()[0]).batch
    for f in _FIELDS:
        assert np.array_equal(getattr(part, f), getattr(own, f)), f
    assert part.errors == own.errors


def test_rule_arrow_parts_of_a_table_group_as_group(grouper, claims):
    table = claims_table(claims * 4).combine_chunks()
    got = grouper.group_arrow(table).to_pylist()
    want = grouper.group(claims * 4, detail=False)
    assert [r["drg"] for r in got] == [w.get("drg") for w in want]
    assert [r["return_code"] for r in got] == [w.get("return_code") for w in want]
