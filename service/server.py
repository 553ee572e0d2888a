"""``serve()``: run the service under uvicorn — what ``fastdrg serve`` calls.

Why uvicorn with uvloop and httptools: they are the fastest event loop and
HTTP parser uvicorn offers, and the service's per-request overhead is
dominated by them. Uvicorn's access log is off (it prints raw paths, which
can hold codes); ``service.metrics.RequestMiddleware`` logs instead.

Workers: with ``workers > 1`` uvicorn spawns processes that each import
``service.app:create_app``. Before that, ``serve`` builds the engine's table
cache and compiled kernels once, in a child process, so the workers only
load them (they share the cache directory, ``FASTDRG_CACHE_DIR``, and the
page cache) instead of all building them at once; and it points
``PROMETHEUS_MULTIPROC_DIR`` at a shared directory so ``/metrics`` sums all
workers.

Shutdown: on SIGTERM uvicorn stops accepting connections (with workers, the
supervisor closes its copy of the socket too, so new connections are refused),
lets in-flight requests (streams included) finish for up to
``FASTDRG_GRACEFUL_TIMEOUT`` seconds, and returns; ``serve`` then returns
normally so the process exits 0.
(Uvicorn re-raises the signal it caught once it has shut down; ``serve``
installs a handler that absorbs it, or the exit status would be 143.)
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
from typing import Any

from .settings import LOG_LEVELS, Settings, SettingsError

__all__ = ["serve", "uvicorn_config", "warm_engine"]

log = logging.getLogger("fastdrg.service")


def uvicorn_config(settings: Settings, app: Any = None):
    """The uvicorn ``Config`` for these settings (``app``: instance, or the factory import string)."""
    import uvicorn

    from .logging import log_config

    return uvicorn.Config(
        app if app is not None else "service.app:create_app",
        factory=app is None,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=log_config(settings.log_level),
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=settings.graceful_timeout or None,
        backlog=2048,
    )


def warm_engine(timeout: float = 1800.0) -> bool:
    """Build the engine's table cache and kernels in a child process; True on success."""
    code = "from engine import Grouper; Grouper()"
    try:
        done = subprocess.run([sys.executable, "-c", code], timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("engine warm-up failed", extra={"error_type": type(exc).__name__})
        return False
    if done.returncode != 0:
        log.error("engine warm-up failed", extra={"error_type": f"exit status {done.returncode}"})
        return False
    return True


def _absorb(signum, frame) -> None:  # noqa: ARG001
    """Absorbs the signal uvicorn re-raises after a graceful shutdown."""


def _supervisor_class():
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        """Uvicorn's worker supervisor (it restarts a worker that dies or stops answering its
        health check), which also closes its own copy of the listening socket before it asks the
        workers to drain: each worker closes its copy as it starts draining, so the port then
        refuses new connections instead of queueing them for nobody until the last worker exits."""

        def terminate_all(self) -> None:
            for sock in self.sockets:
                sock.close()
            super().terminate_all()

    return Supervisor


def serve(
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    log_level: str | None = None,
    *,
    settings: Settings | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT, then drain and return. Arguments override ``FASTDRG_*``."""
    settings = (settings or Settings.from_env()).with_overrides(
        host=host, port=port, workers=workers, log_level=log_level.lower() if log_level else None
    )
    if settings.log_level not in LOG_LEVELS:
        raise SettingsError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {settings.log_level!r}")
    if settings.workers < 1:
        raise SettingsError(f"workers must be at least 1, got {settings.workers}")
    if not 0 <= settings.port <= 65535:
        raise SettingsError(f"port must be between 0 and 65535, got {settings.port}")

    import uvicorn

    from .logging import configure_logging

    configure_logging(settings.log_level)
    log.info("starting", extra={"host": settings.host, "port": settings.port, "workers": settings.workers})
    previous = {sig: signal.signal(sig, _absorb) for sig in (signal.SIGTERM, signal.SIGINT)}
    cleanup = None
    saved_workers: str | None = os.environ.get("FASTDRG_WORKERS")
    try:
        if settings.workers > 1:
            if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                cleanup = tempfile.TemporaryDirectory(prefix="fastdrg-metrics-")
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = cleanup.name
            warm_engine()
            # each worker builds its own app from the environment: it must know it is one of several
            os.environ["FASTDRG_WORKERS"] = str(settings.workers)
            config = uvicorn_config(settings)  # import string: each worker builds its own app
        else:
            from .app import create_app

            config = uvicorn_config(settings, create_app(settings=settings))
        server = uvicorn.Server(config)
        if config.workers > 1:
            sock = config.bind_socket()
            _supervisor_class()(config, sockets=[sock]).run()
        else:
            server.run()
            if not server.started:
                raise SystemExit(3)  # could not bind or start: uvicorn has logged why
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if cleanup is not None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            cleanup.cleanup()
        if saved_workers is None:
            os.environ.pop("FASTDRG_WORKERS", None)
        else:
            os.environ["FASTDRG_WORKERS"] = saved_workers
    log.info("stopped")
