"""engine.fastcall: compiled calls typed once must never see other argument types.

A Bound calls numba's entry point without typing the arguments again, so an
argument of another type would be read as the first call's type.  The suite
runs with ``FASTDRG_CHECK_CALLS=1`` (conftest.py): each Bound call checks its
arguments against numba's typing.  These tests drive the text path's Bounds
with every kind of buffer a caller can hand the grouper; ``group_batch``'s Bound
(the caller's batch checked on every call) is checked by every test that groups
a batch.
"""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from numba import njit

from engine import fastcall, json_array_items
from engine.fastcall import Bound
from engine.parse import Texts

CLAIMS = [
    {"id": "a", "version": "43.1", "age": 60, "sex": "M", "discharge_status": 1, "pdx": "I5021",
     "sdx": ["E1122", "N179"], "procedures": ["02703DZ"]},
    {"id": "b", "version": "42.0", "age": 70, "sex": "F", "discharge_status": 2, "los": 1, "pdx": "J189",
     "sdx": [{"code": "E6601", "poa": "N"}], "procedures": []},
    {"id": "c", "version": "44.0", "age": 30, "sex": "F", "discharge_status": 1, "pdx": "O80", "sdx": [],
     "procedures": ["10E0XZZ"]},
]


@njit(cache=False)
def _first(a):
    return a[0]


def test_check_mode_is_on_in_the_suite():
    assert fastcall.CHECK


def test_bound_checks_unchecked_arguments_in_check_mode():
    b = Bound(_first)
    assert b(np.arange(3, dtype=np.int64)) == 0
    with pytest.raises(AssertionError):
        b(np.arange(3, dtype=np.float64))  # not a checked position: only check mode sees it


def test_bound_keys_checked_arguments_by_type():
    b = Bound(_first, checked=(0,))
    assert b(np.arange(1, 4, dtype=np.int64)) == 1
    assert b(np.array([2.5, 1.0])) == 2.5  # another type at a checked position: its own entry point
    assert b(np.arange(5, 8, dtype=np.int32)) == 5
    assert len(b._entries) == 3


def _buffers():
    """The same three claims as every kind of text the grouper takes."""
    lines = [orjson.dumps(c) for c in CLAIMS]
    body = orjson.dumps({"claims": CLAIMS})
    items = json_array_items(body, "claims", 100)
    spans = np.asarray(items.spans)
    return {
        "bytes list": lines,
        "items of bytes": items,
        "items of bytearray": Texts(bytearray(body), spans.copy()),
        "items of memoryview": Texts(memoryview(bytearray(body)), spans.copy()),
        "items, read-only spans": Texts(body, _read_only(spans)),
        "items, strided spans": Texts(body, np.asfortranarray(spans)),
    }


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("kind", ["bytes list", "items of bytes", "items of bytearray", "items of memoryview",
                                  "items, read-only spans", "items, strided spans"])
@pytest.mark.parametrize("edits", [False, True])
def test_text_path_bound_calls_take_any_buffer(grouper, kind, edits):
    texts = _buffers()[kind]
    want = [orjson.loads(d) for d in grouper.group_json_texts(_buffers()["bytes list"], edits=edits).documents]
    got = [orjson.loads(d) for d in grouper.group_json_texts(texts, edits=edits).documents]
    assert got == want
    assert got == grouper.group(CLAIMS, edits=edits)  # the dict path (group_batch's own Bound)
