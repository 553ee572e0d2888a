"""The engine as the service sees it: loaded once, in the background, and called safely.

Why a background thread: ``engine.Grouper()`` builds or loads its tables and
compiles its numba kernels, which takes seconds. Loading it inside the
lifespan would keep uvicorn from answering anything — including ``/healthz``
— so an orchestrator would kill a healthy but warming container. Instead the
lifespan starts a thread and returns at once; ``/readyz`` answers 503 until
the thread has finished, and ``/v1`` routes answer 503 (with
``Retry-After``) meanwhile.

Why a limiter: grouping is CPU-bound. Batches and stream chunks run in worker
threads so the event loop keeps answering probes and small requests, but at
most ``FASTDRG_ENGINE_THREADS`` engine calls (default 2) run at once in a
process: two let one call's serial steps overlap the other's kernel work
(batches of 1,000 claims: ~8 % more claims a second than one at a time);
more threads than cores only add GIL contention. Scale out with workers.

Why the kernel threads run at a lower CPU priority (``FASTDRG_ENGINE_NICE``,
10 by default): the process's event loop answers ``/healthz``, ``/readyz`` and
single claims. Under load the cores are busy with the engine's kernel threads
(the compiled reading, grouping and writing of batches and stream chunks,
without the GIL); at the same priority the event loop would queue behind them
for a core and ``/healthz`` would take a hundred milliseconds and more (64
concurrent 10,000-claim batches, two workers on two shared cores: p95 85 ms
with ``FASTDRG_ENGINE_NICE=0``, 32 ms with 10; tests/test_faults.py). Linux
keeps a niceness per thread and a thread inherits its creator's, so the thread
that loads the engine lowers its own and then starts the kernel threads
(``engine.grouper.start_kernel_threads``). The threads that run the Python
around the kernels keep the normal priority: they hold the GIL, which the
event loop needs too, and a low-priority thread holding it would keep the loop
waiting whenever the machine is busy. Throughput is the same when nothing else
wants the CPU.

Why GC tuning (``FASTDRG_GC_TUNING``, on by default): the engine's tables
hold hundreds of thousands of long-lived Python objects, and every full
collection would walk them while a batch allocates millions of short-lived
result dicts. Freezing them once loaded and collecting the young generation
less often makes batches about 40 % faster. Applied when the runtime loads
the engine itself (a server process), not to a grouper handed in by a caller.

Why the fallback in ``Runtime.group``: the engine promises never to raise for
a bad claim. If it raises anyway (a bug), the batch is grouped again claim by
claim so one poisonous claim gets an error entry and the others their
results: no input makes a 5xx. Only the exception type is logged.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
from typing import Any, Callable

import anyio
import anyio.to_thread
import orjson
from engine import JsonResults

from .problems import Problem

__all__ = ["Runtime", "MicroBatcher", "ENGINE_FAILURE_REASON", "version_key"]

log = logging.getLogger("fastdrg.service")

ENGINE_FAILURE_REASON = "the grouper could not process this claim"


def _append(out: JsonResults, more: JsonResults) -> None:
    """Add the results of one more engine call to ``out`` (claim-by-claim fallbacks)."""
    out.documents.extend(more.documents)
    out.errors.extend(more.errors)
    for key, n in more.counts.items():
        out.counts[key] = out.counts.get(key, 0) + n


def background_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority by ``nice`` (Linux keeps niceness per
    thread, and threads it starts inherit it). Best effort."""
    if nice <= 0:
        return
    try:
        os.nice(nice)  # glibc: setpriority(PRIO_PROCESS, 0) = this thread on Linux
    except (OSError, AttributeError):  # not permitted, or no os.nice (Windows)
        pass


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for grouper versions: ``"43.1"`` -> ``(43, 1)``."""
    try:
        return tuple(int(p) for p in str(version).split("."))
    except ValueError:
        return (0,)


class Runtime:
    """Holds the grouper (or the fact that it is still loading / failed to load)."""

    def __init__(self, settings, metrics, grouper: Any = None, loader: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.grouper = grouper
        self.load_error: str | None = None
        self._loader = loader
        self._thread: threading.Thread | None = None
        self.limiter = anyio.CapacityLimiter(settings.engine_threads)
        self.batcher = MicroBatcher(self)
        self._versions: tuple[str, ...] = ()
        self.latest_version: str | None = None
        if grouper is not None:
            self._adopt(grouper, 0.0, tune_gc=False)  # the caller owns this process

    # -- loading -----------------------------------------------------------------------------
    def start_loading(self) -> None:
        """Start building the grouper in a daemon thread (idempotent)."""
        if self.grouper is not None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._load, name="fastdrg-engine-loader", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        background_priority(self.settings.engine_nice)
        start = time.perf_counter()
        try:
            if self._loader is not None:
                grouper = self._loader()
            else:
                from engine import Grouper
                from engine.grouper import start_kernel_threads

                grouper = Grouper(threads=self.settings.kernel_threads or None)
                grouper.warm_editor()  # the Medicare Code Editor's tables and kernel, before /readyz
                from engine.io.fhir_bundle import ready as fhir_bundles_ready

                # the compiled FHIR Bundle road, warm from numba's cache; at a first start compiled in
                # a child process while the service answers Bundles by the Python road
                fhir_bundles_ready(grouper)
                # the kernel threads, started now from this (background priority) thread, inherit it
                if grouper.threads > 1:
                    start_kernel_threads()
        except BaseException as exc:  # noqa: BLE001 - report any failure through /readyz
            self.load_error = type(exc).__name__
            log.error("engine failed to load", extra={"error_type": type(exc).__name__})
            return
        self._adopt(grouper, time.perf_counter() - start, tune_gc=self.settings.gc_tuning)

    def _adopt(self, grouper: Any, seconds: float, tune_gc: bool) -> None:
        versions = tuple(str(v) for v in grouper.versions)
        self._versions = versions
        self.latest_version = max(versions, key=version_key) if versions else None
        self.grouper = grouper
        if tune_gc:
            gc.collect()
            gc.freeze()
            gc.set_threshold(10_000, 20, 20)
        self.metrics.engine_ready.set(1)
        self.metrics.engine_load_seconds.set(seconds)
        if seconds:
            log.info("engine ready", extra={"load_seconds": round(seconds, 3), "version_count": len(versions)})
        sources = getattr(grouper, "version_source", None)
        if sources is not None:  # which versions are served from which source (engine.data)
            by_source: dict[str, list[str]] = {}
            for v in versions:
                by_source.setdefault(str(sources(v).get("source")), []).append(v)
            for source, vs in by_source.items():
                log.info("serving versions", extra={"source": source, "versions": ", ".join(vs)})

    def wait_ready(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.grouper is not None

    @property
    def ready(self) -> bool:
        return self.grouper is not None

    @property
    def versions(self) -> tuple[str, ...]:
        return self._versions

    def require(self) -> Any:
        """The grouper, or a 503 problem while it loads (or if it failed to)."""
        g = self.grouper
        if g is None:
            if self.load_error is not None:
                raise Problem(503, "engine-unavailable", "The grouping engine failed to load; see the service log.")
            raise Problem(
                503, "engine-loading", "The grouping engine is still loading; retry shortly.",
                headers={"Retry-After": "2"},
            )
        return g

    # -- calling -----------------------------------------------------------------------------
    def _pricing(self, base_rate) -> dict:
        """The engine's ``base_rate`` argument: the request's, else FASTDRG_BASE_RATE, else none."""
        rate = base_rate if base_rate is not None else self.settings.base_rate
        return {} if rate is None else {"base_rate": rate}

    def group(self, grouper: Any, claims: list, edits: bool = False, base_rate=None) -> JsonResults:
        """Group claims into JSON documents (``engine.Grouper.group_json``), never raising
        (``edits``: with the Medicare Code Editor's edits, counted in the metrics)."""
        if not claims:
            return JsonResults([], [], {})
        try:
            if edits:
                r = grouper.group_json(claims, edits=True, **self._pricing(base_rate))
                self.metrics.count_edits(getattr(r, "edit_counts", {}))
            else:
                r = grouper.group_json(claims, **self._pricing(base_rate))
            if len(r) != len(claims):
                raise RuntimeError("engine returned a result list of the wrong length")
            return r
        except Exception as exc:  # noqa: BLE001
            if len(claims) > 1:
                log.error("engine failed on a batch; grouping claim by claim", extra={"error_type": type(exc).__name__})
                return self._one_by_one(grouper, claims, edits, base_rate)
            failure = self._failure(exc, claims[0])
            return JsonResults([orjson.dumps(failure)], [failure["error"]], {})

    def group_texts(self, grouper: Any, texts: list, separator: bytes = b",", edits: bool = False,
                    base_rate=None) -> JsonResults:
        """Group claims given as JSON texts (``engine.Grouper.group_json_texts``),
        never raising; ``documents[i]`` is None for a text that is not a JSON object."""
        if not texts:
            return JsonResults([], [], {}, separator=separator)
        try:
            r = grouper.group_json_texts(texts, default_hospital_status=self.settings.default_hospital_status,
                                         separator=separator, **({"edits": True} if edits else {}),
                                         **self._pricing(base_rate))
            if edits:
                self.metrics.count_edits(getattr(r, "edit_counts", {}))
            if len(r) != len(texts):
                raise RuntimeError("engine returned a result list of the wrong length")
            return r
        except Exception as exc:  # noqa: BLE001 - engine bug: the dict path, claim by claim
            log.error("engine failed on a batch of texts; grouping claim by claim",
                      extra={"error_type": type(exc).__name__})
            out = JsonResults([], [], {}, separator=separator)
            for text in texts:
                try:
                    claim = orjson.loads(text)
                except orjson.JSONDecodeError:
                    claim = None
                if type(claim) is not dict:
                    out.documents.append(None)
                    out.errors.append(None)
                    continue
                if claim.get("hospital_status") is None and self.settings.default_hospital_status:
                    claim["hospital_status"] = self.settings.default_hospital_status
                _append(out, self.group(grouper, [claim], edits, base_rate))
            return out

    def _one_by_one(self, grouper: Any, claims: list, edits: bool = False, base_rate=None) -> JsonResults:
        out = JsonResults([], [], {})
        for claim in claims:
            _append(out, self.group(grouper, [claim], edits, base_rate))
        return out

    def _failure(self, exc: Exception, claim: Any) -> dict:
        self.metrics.engine_failures.inc()
        log.error("engine failed on a claim", extra={"error_type": type(exc).__name__})
        cid = claim.get("id") if isinstance(claim, dict) else None
        return {"id": cid, "error": {"field": "$", "reason": ENGINE_FAILURE_REASON}}

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run CPU-bound work in a worker thread, at most ``engine_threads`` at once."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)


class MicroBatcher:
    """Groups the single claims that arrive together in one engine call.

    Why: each engine call has a fixed cost (allocating the output columns,
    launching the compiled kernel) that dwarfs one claim's share. Under load,
    many ``/v1/group`` requests arrive within a few event-loop iterations; the
    first schedules a drain and the others join it, so 32 concurrent
    encounters cost about one call. The drain waits while new claims keep
    joining (an iteration or two, a few microseconds each), up to
    ``MAX_CLAIMS`` claims or ``MAX_DEFERRALS`` iterations; at low load a
    claim waits for nothing but those idle iterations.

    The drain runs on the event loop itself, like a single claim would: a
    small batch takes the engine less time than handing it to a thread (which
    would also fight the loop for the GIL).
    """

    MAX_CLAIMS = 64
    #: A drain runs after this many iterations without a new claim ...
    QUIET_ITERATIONS = 2
    #: ... or after this many iterations in all.
    MAX_DEFERRALS = 8

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.pending: list[tuple[dict, asyncio.Future]] = []
        self.scheduled = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._seen = 0
        self._quiet = 0
        self._deferrals = 0

    def submit(self, grouper: Any, claim: bytes) -> "asyncio.Future[tuple]":
        """Queue one claim's JSON text; the future gets (document, error) as
        ``Runtime.group_texts`` gives them."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a new event loop (tests): start afresh
            self.loop, self.pending, self.scheduled = loop, [], False
        fut = loop.create_future()
        self.pending.append((claim, fut))
        if not self.scheduled:
            self.scheduled = True
            self._seen, self._quiet, self._deferrals = len(self.pending), 0, 0
            loop.call_soon(self._tick, grouper)
        return fut

    def _tick(self, grouper: Any) -> None:
        n = len(self.pending)
        if n < self.MAX_CLAIMS and self._deferrals < self.MAX_DEFERRALS:
            self._quiet = 0 if n > self._seen else self._quiet + 1
            self._seen = n
            if self._quiet < self.QUIET_ITERATIONS:
                self._deferrals += 1
                self.loop.call_soon(self._tick, grouper)
                return
        self._drain(grouper)

    def _next_batch(self, grouper: Any) -> list:
        """The queued items to drain now (a next drain scheduled for the rest)."""
        batch = self.pending[: self.MAX_CLAIMS]
        self.pending = self.pending[self.MAX_CLAIMS:]
        if self.pending:
            self._seen, self._quiet, self._deferrals = len(self.pending), 0, 0
            self.loop.call_soon(self._tick, grouper)
        else:
            self.scheduled = False
        return batch

    def _drain(self, grouper: Any) -> None:
        batch = self._next_batch(grouper)
        try:
            grouped = self.runtime.group_texts(grouper, [claim for claim, _ in batch])
            self.runtime.metrics.count_grouped(grouped.counts, grouped.errors)
        except BaseException as exc:  # noqa: BLE001 - never leave a request waiting
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            raise
        for (_, fut), doc, error in zip(batch, grouped.documents, grouped.errors):
            if not fut.done():
                fut.set_result((doc, error))
