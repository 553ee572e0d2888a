"""The grouping pipeline's public seam: a columnar batch through the kernel, on the thread pool.

Why a module of its own: every front door (the JSON reader in engine.grouper,
Arrow/Parquet in engine.io.arrow, X12 in engine.io.x12, ...) ends in the same
place: an encoded :class:`engine.encode.Batch` handed to the compiled grouping
kernel, cut in parts sized from the row count and the thread count, each part
on a thread of one shared pool.  :class:`Pipeline` is that place and the only
caller of the grouping kernel; a reader holds a Grouper's ``pipeline`` and
calls it, never the Grouper's private parts.  Imports point down only: this
module knows the kernel and the tables, not the Grouper nor any format.

Public surface: :class:`Pipeline` (``group``, ``group_here``, ``group_read``,
``parts``, ``part_size``, ``map``, ``submit``, ``tally``), :class:`BatchResult`,
:func:`refuse_unmatched`, :data:`NO_DRG`, :class:`GrouperError`.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import grouping as K
from . import parse as P
from . import tables as tb
from .encode import HOSPITAL_STATUS, Batch, version_label
from .fastcall import Bound

#: Claims per kernel chunk, at most: small enough to balance 2..N cores, large
#: enough that allocating a chunk's scratch and handing it to a thread is noise.
CHUNK = 2048
#: Claims per read/rendered part, at most.
PART = 8192
#: Below this many claims a batch stays on the calling thread (waking the pool
#: for a few claims costs more than it saves: single encounters).
SMALL = 256


class GrouperError(ValueError):
    """A request the grouper cannot serve (unknown version, uncovered date)."""


def _ranges(n: int, largest: int, threads: int) -> list[tuple[int, int]]:
    """``0:n`` cut for ``threads`` threads: parts of at most ``largest`` claims, and
    at least one part per thread once the batch is not small."""
    size = largest if threads == 1 else max(SMALL // 2, min(largest, -(-n // threads)))
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _threads() -> int:
    """Kernel threads: NUMBA_NUM_THREADS when set (the usual numba knob), else the
    cores this process may run on."""
    n = os.environ.get("NUMBA_NUM_THREADS")
    if n and n.isdigit() and int(n) > 0:
        return int(n)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One kernel thread pool per process, shared by every Grouper."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="fastdrg-kernel")
        return _POOL


def start_kernel_threads() -> int:
    """Start every kernel thread now, from the calling thread: on Linux they inherit its
    scheduling priority (the service starts them from a lower-priority thread). Threads
    already running are kept. Returns how many there are."""
    n = _threads()
    if n < 2:
        return n
    barrier = threading.Barrier(n)
    list(_pool().map(lambda _: barrier.wait(30), range(n)))  # n tasks at once: n threads
    return n


@dataclass
class BatchResult:
    """Kernel output columns (see engine.grouping.layout.OUT_FIELDS)."""

    columns: K.KernelOut

    def __getattr__(self, name):
        return getattr(self.__dict__["columns"], name)


#: A claim none of whose formulas (pre-MDC, then its MDC's) gives a DRG: the CMS
#: grouper refuses it ("Grouping failed to match to a DRG"; v40.0: "DRG description
#: is required"), so it is answered with this error, never with DRG 000.
NO_DRG = {"field": "$", "reason": "no DRG: none of the CMS formulas for this claim's MDC matches it "
                                  "(the CMS grouper refuses the claim: 'Grouping failed to match to a DRG')"}


def refuse_unmatched(batch, out) -> None:
    """After the kernel: claims it grouped to no DRG (initial or final DRG 0) are
    taken out of ``batch`` (``ok`` False, ``errors[i]`` :data:`NO_DRG` where the
    batch carries errors), as CMS refuses them."""
    bad = np.flatnonzero(batch.ok & ((out.init_drg == 0) | (out.final_drg == 0)))
    if len(bad):
        batch.ok[bad] = False
        errors = getattr(batch, "errors", None)
        if errors is not None:
            for i in bad.tolist():
                errors[i] = dict(NO_DRG)


def _max_codes(off: np.ndarray) -> int:
    return max(1, int(np.max(off[1:] - off[:-1])))


class Pipeline:
    """One set of tables' kernel, its per-thread scratch and the shared pool.

    ``threads``: kernel threads for batches of :data:`SMALL` claims or more.
    ``reader``: the compiled JSON reader's tables (engine.parse.read_batch), which
    other readers use to look codes up (``code_tables``)."""

    def __init__(self, tables, versions: tuple, threads: int):
        a = tables.arrays
        meta = tables.meta
        self.threads = threads
        self.versions = [version_label(v) for v in versions]
        derived = K.derived_tables(a)
        self.kernel_tables = K.KernelTables(**{f: derived[f] if f in derived else a[f] for f in K.TABLE_FIELDS})
        self._max_nodes = int(np.max(a["f_hi"] - a["f_lo"])) if len(a["f_hi"]) else 1
        self._n_keys = len(meta["key_names"])
        self._max_clusters_per_code = int(np.max(np.diff(a["pr_cl_off"], axis=1))) if a["pr_cl_off"].size else 1
        self._local = threading.local()  # per-thread kernel scratch
        dt, pt = P.CodeTable(meta["dx_codes"]), P.CodeTable(meta["pr_codes"])
        self.reader = (dt.keys, dt.ids, dt.bits, pt.keys, pt.ids, pt.bits, P.version_lookup(versions),
                       *P.CLAIM_KEYS, *P.name_table(HOSPITAL_STATUS), P.version_starts(versions),
                       P.version_ends(versions))
        # the kernel calls, each typed once (engine.fastcall): a batch the compiled
        # reader allocated has fixed types; a caller's batch (engine.encode's, Arrow's,
        # or one built by hand) is checked on every call
        self._read_group_call = Bound(K.group_range)
        self._batch_group_call = Bound(K.group_range, checked=(1,))

    @property
    def code_tables(self) -> tuple:
        """((dx keys, ids, bits), (procedure keys, ids, bits)): engine.parse.CodeTable's arrays."""
        r = self.reader
        return (r[0], r[1], r[2]), (r[3], r[4], r[5])

    # ---- parts and threads ----------------------------------------------------------
    def parts(self, n: int, largest: int = PART) -> list[tuple[int, int]]:
        """``0:n`` in parts of at most ``largest`` rows, one per thread at least once
        ``n`` is not small."""
        return _ranges(n, largest, self.threads if n >= SMALL else 1)

    def part_size(self, n: int, largest: int) -> int:
        """Rows per part for ``n`` rows cut for the threads: at most ``largest``, and
        as many parts as a multiple of the thread count (no thread left idle at the end)."""
        if self.threads == 1 or n < SMALL:
            return max(1, largest)
        count = -(-n // largest)
        count = -(-count // self.threads) * self.threads
        return max(SMALL // 2, -(-n // count))

    def map(self, fn, items):
        """``map(fn, items)`` on the kernel threads (compiled functions that release the GIL)."""
        if self.threads == 1 or len(items) < 2:
            return map(fn, items)
        return _pool().map(fn, items)

    def submit(self, fn, *args):
        """``fn(*args)`` on a kernel thread; a Future."""
        return _pool().submit(fn, *args)

    # ---- the kernel -----------------------------------------------------------------
    def sizes(self, max_sdx: int, max_px: int) -> tuple:
        """The kernel scratch (engine.grouping.new_scratch) for claims of up to
        ``max_sdx`` secondary dx and ``max_px`` procedures."""
        # candidate clusters of a claim: at most (procedures x clusters per code)
        return self._n_keys, self._max_nodes, int(max_sdx), int(max_px), int(max_px) * self._max_clusters_per_code

    def scratch(self, sizes) -> K.Scratch:
        """This thread's kernel scratch, grown when a batch needs more (allocating
        and zeroing it per call cost more than grouping a few claims)."""
        local = self._local
        have = getattr(local, "sizes", None)
        if have is None or any(a > b for a, b in zip(sizes, have)):
            local.sizes = tuple(sizes) if have is None else tuple(map(max, sizes, have))
            local.scratch = K.new_scratch(local.sizes)
        return local.scratch

    def group(self, batch: Batch) -> BatchResult:
        """The kernel over an encoded batch, in chunks on the pool once it is not
        small.  A claim none of whose formulas gives a DRG is refused as CMS
        refuses it (:func:`refuse_unmatched`)."""
        n = len(batch)
        if n < SMALL or self.threads == 1:
            return self.group_here(batch)
        out = K.new_output(n, len(batch.sdx), len(batch.px))
        kb = K.KernelBatch(*(getattr(batch, f) for f in K.BATCH_FIELDS))
        sizes = self.sizes(_max_codes(batch.sdx_off), _max_codes(batch.px_off))
        ranges = _ranges(n, CHUNK, self.threads)
        chunks = iter(ranges)

        def work():
            scratch = self.scratch(sizes)
            unmatched = 0
            for lo, hi in chunks:  # a shared iterator: next() is atomic under the GIL
                unmatched += self._batch_group_call(self.kernel_tables, kb, out, scratch, lo, hi)
            return unmatched

        futures = [_pool().submit(work) for _ in range(min(self.threads, len(ranges)))]
        if sum(f.result() for f in futures):
            refuse_unmatched(batch, out)
        return BatchResult(out)

    def group_here(self, batch: Batch) -> BatchResult:
        """:meth:`group` on the calling thread (a pool thread must not wait for the pool)."""
        n = len(batch)
        out = K.new_output(n, len(batch.sdx), len(batch.px))
        if n:
            kb = K.KernelBatch(*(getattr(batch, f) for f in K.BATCH_FIELDS))
            sizes = self.sizes(_max_codes(batch.sdx_off), _max_codes(batch.px_off))
            if self._batch_group_call(self.kernel_tables, kb, out, self.scratch(sizes), 0, n):
                refuse_unmatched(batch, out)
        return BatchResult(out)

    def group_read(self, batch, n: int, max_sdx: int, max_px: int) -> K.KernelOut:
        """The kernel on the calling thread over a batch engine.parse.read_batch
        allocated (its types fixed: no per-call check); unmatched claims refused."""
        out = K.new_output(n, len(batch.sdx), len(batch.px))
        if self._read_group_call(self.kernel_tables, batch, out, self.scratch(self.sizes(max_sdx, max_px)), 0, n):
            refuse_unmatched(batch, out)  # (left to the dict path, which answers the error)
        return out

    def tally(self, batch: Batch, result: BatchResult) -> dict:
        """Grouped claims by (version, return code)."""
        ok = batch.ok
        if len(ok) <= 16:  # a few claims (the service's single ones): numpy's per-call costs would dominate
            counts = {}
            for good, v, rc in zip(ok.tolist(), batch.ver.tolist(), result.columns.rc.tolist()):
                if good:
                    key = (self.versions[v], tb.RETURN_CODES[rc])
                    counts[key] = counts.get(key, 0) + 1
            return counts
        n_rc = len(tb.RETURN_CODES)
        counts = np.bincount(batch.ver[ok].astype(np.int64) * n_rc + result.columns.rc[ok],
                             minlength=len(self.versions) * n_rc)
        return {(self.versions[k // n_rc], tb.RETURN_CODES[k % n_rc]): c
                for k, c in zip(np.flatnonzero(counts).tolist(), counts[counts > 0].tolist())}


__all__ = ["Pipeline", "BatchResult", "GrouperError", "NO_DRG", "refuse_unmatched", "CHUNK", "PART", "SMALL"]
