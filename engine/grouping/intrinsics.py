"""LLVM-level helpers of the kernel, below numba's own language.

:func:`_unmanaged` takes the arrays out of numba's reference counting (the
entry point's views), :func:`_prefetch` asks the CPU for a table row ahead of
its use, and :func:`_prefetch_claim` prefetches the rows the next claim reads
first.  Kept apart from the CMS stages: they change how fast a claim is
grouped, never what it is grouped to.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic


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


@njit(cache=True, _nrt=False, forceinline=True)
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
