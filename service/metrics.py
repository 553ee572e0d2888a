"""Prometheus metrics, and the ASGI middleware that records every request.

Why a pure ASGI middleware rather than ``BaseHTTPMiddleware``: it adds a few
microseconds per request instead of a task and a memory stream, which
matters on a route that answers in well under a millisecond.

The same middleware writes the structured access log line and enforces the
API key on ``/v1`` (see ``service.auth``), so each request pays for one
wrapper, not three.

Labels are bounded and carry no PHI: route *templates* (``/v1/drgs/{drg}``,
not the path), methods, status codes, grouper versions and return codes
(both small enumerations from the engine), and top-level claim field names
from a fixed list. Never a code, an id or an age.

With several workers each process has its own counters; ``service.server``
then points ``PROMETHEUS_MULTIPROC_DIR`` at a shared directory so that
``/metrics`` on any worker reports the sum over all of them.

Why per-request figures are tallied first and handed to prometheus_client
later: each prometheus_client update takes a lock (five per request: the
in-flight gauge up and down, the request counter, the histogram's sum and
bucket), ~4 % of ``/v1/group``'s time. The middleware adds to plain
per-route tallies on the event loop; ``Metrics.flush`` moves them into the
metric objects in one step per route, before every ``/metrics`` answer and at
most a second after a request ends (so another worker's scrape sees them).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import time
from collections import Counter as _Tally
from typing import Any, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics

from .auth import KEYED_PATHS, check_api_key
from .logging import ACCESS_LOGGER

__all__ = ["Metrics", "RequestMiddleware", "CLAIM_FIELDS"]

#: Claim fields that may appear as a metric label (error counts by field).
CLAIM_FIELDS = frozenset(
    {
        "$", "id", "version", "discharge_date", "age", "sex", "discharge_status", "hospital_status",
        "pdx", "admit_dx", "sdx", "procedures", "claims",
    }
)

# The *_created series double the output and tell an operator nothing here.
disable_created_metrics()

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_BATCH_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)


def _field_label(path: Any) -> str:
    """``sdx[3].code`` -> ``sdx``; unknown or odd paths -> ``other``."""
    if not isinstance(path, str):
        return "other"
    head = path.split("[", 1)[0].split(".", 1)[0]
    return head if head in CLAIM_FIELDS else "other"


class Metrics:
    """The service's metric family objects, on a registry of their own.

    A registry per app keeps test apps independent; in multi-process mode the
    values live in ``PROMETHEUS_MULTIPROC_DIR`` and ``render()`` aggregates them.
    """

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "fastdrg_http_requests_total", "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"), registry=r,
        )
        self.latency = Histogram(
            "fastdrg_http_request_duration_seconds", "Time to answer an HTTP request, by route template.",
            ("route", "method"), buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.in_flight = Gauge(
            "fastdrg_http_requests_in_flight", "HTTP requests being answered now.",
            registry=r, multiprocess_mode="livesum",
        )
        self.claims = Counter(
            "fastdrg_claims_grouped_total", "Claims grouped, by grouper version and return code.",
            ("version", "return_code"), registry=r,
        )
        self.rejected = Counter(
            "fastdrg_claims_rejected_total", "Claims answered with an error entry, by top-level field.",
            ("field",), registry=r,
        )
        self.batch_size = Histogram(
            "fastdrg_batch_claims", "Claims per batch or stream request.",
            ("route",), buckets=_BATCH_BUCKETS, registry=r,
        )
        self.engine_ready = Gauge(
            "fastdrg_engine_ready", "1 once the grouping tables are loaded and the kernels compiled.",
            registry=r, multiprocess_mode="min",
        )
        self.engine_load_seconds = Gauge(
            "fastdrg_engine_load_seconds", "Seconds the engine took to load in this worker.",
            registry=r, multiprocess_mode="max",
        )
        self.engine_failures = Counter(
            "fastdrg_engine_failures_total", "Engine calls that raised (a bug; the claims got error entries).",
            registry=r,
        )
        self.edits = Counter(
            "fastdrg_mce_edits_total", "Medicare Code Editor edits fired, by edit name (CMS's names).",
            ("edit",), registry=r,
        )
        # Children for the hot routes, resolved once: .labels() costs a dict lookup and a lock.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._claim_children: dict[tuple[Any, Any], Any] = {}
        #: Requests being answered now (the in-flight gauge, as of the last flush).
        self.active = 0
        #: (route, method, status) -> [requests, seconds, per-bucket counts] not yet flushed.
        self._tally: dict[tuple[str, str, int], list] = {}
        self._flush_handle: asyncio.TimerHandle | None = None

    #: Longest a request's figures wait for a flush when nobody scrapes this worker.
    FLUSH_SECONDS = 1.0

    def request_started(self) -> None:
        self.active += 1

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """A request ended (event-loop thread only): tallied, flushed within FLUSH_SECONDS."""
        self.active -= 1
        key = (route, method, status)
        t = self._tally.get(key)
        if t is None:
            t = self._tally[key] = [0, 0.0, [0] * (len(_LATENCY_BUCKETS) + 1)]
        t[0] += 1
        t[1] += seconds
        t[2][bisect.bisect_left(_LATENCY_BUCKETS, seconds)] += 1  # the first bucket with seconds <= le
        if self._flush_handle is None:
            try:
                self._flush_handle = asyncio.get_running_loop().call_later(self.FLUSH_SECONDS, self.flush)
            except RuntimeError:  # no event loop (a direct call): at once
                self.flush()

    def flush(self) -> None:
        """Move the request tallies into the metric objects (event-loop thread)."""
        handle, self._flush_handle = self._flush_handle, None
        if handle is not None:
            handle.cancel()
        tally, self._tally = self._tally, {}
        for key, (n, seconds, buckets) in tally.items():
            pair = self._children.get(key)
            if pair is None:
                route, method, status = key
                pair = (self.requests.labels(route, method, str(status)), self.latency.labels(route, method))
                self._children[key] = pair
            pair[0].inc(n)
            # prometheus_client's Histogram.observe adds to _sum and to one of _buckets
            # (the first le >= the value); these are the same additions, n at a time
            hist = pair[1]
            hist._sum.inc(seconds)
            for i, c in enumerate(buckets):
                if c:
                    hist._buckets[i].inc(c)
        self.in_flight.set(self.active)

    def count_grouped(self, counts: dict, errors: Iterable) -> None:
        """Count one engine call: ``counts`` maps (version, return code) to grouped
        claims, ``errors`` holds the error object of each rejected claim (None for
        a grouped one)."""
        for key, n in counts.items():
            child = self._claim_children.get(key)
            if child is None:
                child = self.claims.labels(str(key[0]), str(key[1]))
                self._claim_children[key] = child
            child.inc(n)
        tally: _Tally = _Tally()
        for err in errors:
            if err is not None:
                tally[_field_label(err.get("field") if isinstance(err, dict) else None)] += 1
        for field, n in tally.items():
            self.rejected.labels(field).inc(n)

    def count_edits(self, fired: dict) -> None:
        """Count the MCE edits of one engine call (``{EDIT_NAME: count}``; names only)."""
        for name, n in fired.items():
            if n:
                self.edits.labels(str(name)).inc(n)

    def render(self) -> tuple[bytes, str]:
        self.flush()
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestMiddleware:
    """Per request: API-key check on ``/v1``, in-flight gauge, metrics, one access log line.

    Routes report how many claims they handled by setting
    ``scope["fastdrg.claims"]``; the route template comes from
    ``scope["route"]``, which FastAPI sets when it matches.
    """

    def __init__(self, app, metrics: Metrics, settings, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.key_digests = settings.api_key_digests
        self.log = logging.getLogger(ACCESS_LOGGER)
        self.access_log = access_log

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_box = [500]

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        metrics = self.metrics
        metrics.request_started()
        try:
            if self.key_digests and scope["path"].startswith(KEYED_PATHS) and not check_api_key(scope, self.key_digests):
                from .auth import unauthenticated_response

                await unauthenticated_response()(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - start
            route_obj = scope.get("route")
            route = route_obj.path if route_obj is not None else "unmatched"
            method = scope["method"]
            status = status_box[0]
            metrics.observe_request(route, method, status, seconds)
            if self.access_log and self.log.isEnabledFor(logging.INFO):
                # makeRecord + handle rather than .info(): skips the caller lookup, a third of the cost.
                log = self.log
                log.handle(
                    log.makeRecord(
                        log.name, logging.INFO, "", 0, "request", None, None,
                        extra={
                            "route": route,
                            "method": method,
                            "status": status,
                            "duration_ms": round(seconds * 1000, 3),
                            "claims": scope.get("fastdrg.claims", 0),
                        },
                    )
                )
