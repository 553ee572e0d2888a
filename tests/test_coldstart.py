"""Issue 25, item 4: a lighter first start.

The stages called once per claim are inlined by LLVM (``forceinline=True``),
not at numba's IR level (``inline="always"``, which made numba hold the whole
kernel as one IR: 2.2 GB at the first start); only the claim driver
``_group_claim``, without its stages, is still inlined by numba into ``group_range``.  numba hands an unset
``forceinline`` down from the function it compiles to the callees it compiles
meanwhile, so every compiled function of engine/grouping/ must say it.
"""

from __future__ import annotations

# engine first: it sets NUMBA_CACHE_DIR, which numba reads when it is first imported
from engine.grouping import final, grouping, hac, intrinsics, kernel, marking, preprocess
from numba.core.registry import CPUDispatcher  # noqa: E402

#: The stages LLVM inlines (each called once per claim, or small): engine/grouping/__init__.py.
INLINED = {"_preprocess", "_hac", "_final_extra", "_group", "_finish_hac_lists", "_usage",
           "_prefetch_claim"}


def _dispatchers():
    for module in (final, grouping, hac, intrinsics, kernel, marking, preprocess):
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == module.__name__:
                yield name, obj


def test_kernel_stages_inlined_by_llvm_not_numba_ir():
    found = dict(_dispatchers())
    assert INLINED <= set(found), INLINED - set(found)
    for name, disp in found.items():
        opts = disp.targetoptions
        if name == "_group_claim":  # the claim driver alone is inlined by numba: its IR is small without its stages
            assert opts.get("inline") == "always" and "forceinline" not in opts
            continue
        assert opts.get("inline", "never") == "never", f"{name}: inline={opts.get('inline')!r} (numba IR inlining)"
        if name == "group_range":  # the entry point: nobody inlines it, it hands nothing down
            assert not opts.get("forceinline")
            continue
        assert "forceinline" in opts, f"{name}: forceinline unset, inherited from whichever caller compiles it first"
        assert opts["forceinline"] is (name in INLINED), name



def test_first_start_child_compiles_the_readers_own_signature(grouper):
    """engine.coldstart's child compiles the reader, the text path's writer and the code
    editor's kernel for the very types the Grouper (and the service's warm-up) calls them
    with (else it would compile them for nothing)."""
    import orjson

    from engine import parse as P
    from engine.coldstart import _compile_reader

    claim = {"version": grouper.versions[-1], "age": 60, "sex": "M", "discharge_status": 1, "pdx": "I5021"}
    grouper.group_json_texts(P.array_items(orjson.dumps({"claims": [claim]}), "claims", 1))
    grouper.group_json_texts([orjson.dumps(claim)])
    grouper.warm_editor()
    from engine import render as R
    from engine.editing import kernel as E

    compiled = [P.read_batch, R._render] + [f for f in vars(E).values() if hasattr(f, "signatures")]
    before = [set(f.signatures) for f in compiled]
    _compile_reader(str(grouper.cache_dir), None, None)  # the reader, the writer and the editor's kernel
    assert [set(f.signatures) for f in compiled] == before


def test_first_start_no_child_when_reader_cached(grouper):
    from engine.coldstart import start_reader

    assert start_reader(grouper.cache_dir, None, None) is None  # the session's Grouper compiled or loaded it
