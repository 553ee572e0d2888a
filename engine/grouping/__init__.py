"""The numba-compiled grouping kernel: one claim at a time, many claims per call.

The stages follow the CMS grouper's own, one module each: **preprocess**
(:mod:`.preprocess`: code attributes, clusters, CC exclusions, the claim's
operand set), **grouping** (:mod:`.grouping`: pre-MDC formulas, rerouting, the
principal diagnosis' MDC), **marking** (:mod:`.marking`: which codes made the
DRG), **HAC** (:mod:`.hac`: hospital-acquired conditions under the hospital's
POA status) and **final** (:mod:`.final`: grouping again without the HAC
codes' CC/MCC, and what the claim then reports).  :mod:`.kernel` runs them
claim by claim; :mod:`.layout` holds the array layouts and enumerations they
share, :mod:`.intrinsics` the LLVM-level helpers (unmanaged views, prefetch),
:mod:`.derived` the per-scheme and per-pattern tables built when a Pipeline is
made (each code's operand keys and flags, read instead of its attributes).

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

Why some stages are inlined: a call between compiled functions passes every
array of ``T``, ``B``, ``O`` and ``W`` as separate arguments on the stack
(~1,300 moves a call); for the stages called once per claim
(:func:`_group_claim`, :func:`_preprocess`, :func:`_hac`, :func:`_final_extra`) that was
13 % of the kernel's time (the call to :func:`_hac` alone: 0.3 µs of a claim's
2.3).  :func:`_group` (small) is inlined at its two call sites too (~7 %
faster), and so are the HAC lists' and the CC/MCC usage's reports
(:func:`_finish_hac_lists`, :func:`_usage`: a claim repeated alone 1.95 -> 1.86 µs)
and the prefetch (:func:`_prefetch_claim`).

How: the stages are ``forceinline=True`` (LLVM's ``alwaysinline``): each is
compiled as a function of its own and LLVM inlines it when it links the
kernel.  Only the claim driver :func:`_group_claim`, small without its stages,
is inlined by numba (``inline="always"``) into :func:`group_range`: inlined by
LLVM it made the kernel ~5 % slower (1.72 against 1.62 µs a claim repeated
alone).  Inlining everything at numba's IR level, as before issue 25, made
numba copy the driver with all its stages into :func:`group_range` and type it
there: 1.3 GB of the first start's 2.2 GB peak RSS and a third of its compile
(the kernel's compile now peaks at ~0.5 GB).  Every other function here says
``forceinline=False`` explicitly: numba hands an unset ``forceinline`` down from
the function being compiled to the callees it compiles meanwhile, which would
inline :func:`_mark` and the rest too.  :func:`_mark` (large, two callers)
stays a call: inlining it doubled the cold compile (79 s -> 143 s), and with
one call site in a loop it still added 25 s.

numba's on-disk cache checks a compiled function against its own source file
only, yet :func:`group_range` holds the code of every stage it calls or
inlines from the other modules here: the cache directory is named after the
bytes of these modules (:func:`engine.numba_cache.numba_cache_dir`), so a change
to any stage compiles the kernel anew instead of loading a stale one.

This package re-exports what the rest of the engine uses.
"""

from .derived import DERIVED_FIELDS, derived_tables
from .intrinsics import _prefetch
from .kernel import group_range
from .layout import (
    BATCH_FIELDS, TABLE_FIELDS, KernelBatch, KernelOut, KernelTables, Scratch, _B_ORPROC, new_output,
    new_scratch,
)

__all__ = ["BATCH_FIELDS", "DERIVED_FIELDS", "TABLE_FIELDS", "derived_tables", "KernelBatch", "KernelOut", "KernelTables", "Scratch", "_B_ORPROC",
           "_prefetch", "group_range", "new_output", "new_scratch"]
