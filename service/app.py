"""The ASGI application: ``create_app(grouper=None, settings=None)``.

Why a factory: uvicorn's multi-worker mode imports
``service.app:create_app`` in every worker process (``factory=True``), and
tests build apps with their own settings or a pre-built grouper. Nothing
happens at import time.

With no ``grouper`` the engine is loaded by the lifespan in a background
thread (see ``service.runtime``); a worker of several (``FASTDRG_WORKERS`` > 1)
waits for it before it takes connections; ``loader`` replaces ``engine.Grouper`` as
the thing called there (tests use it to control timing).

Why the routes are added to the app rather than included as routers:
FastAPI resolves an included router per request (its candidates, then the
route), which cost ~5 % of ``/v1/group`` throughput; the route modules
already carry the full paths and tags.

Why FastAPI's own OpenTelemetry hooks are off unless
``FASTDRG_OPENTELEMETRY`` is set: with them on, every request asks the
OpenTelemetry API whether a provider is installed (environment look-ups
included), another ~4 % of ``/v1/group``, for a service that reports through
``/metrics`` and installs no OpenTelemetry SDK. (Their log hook would also
record exception messages, which can quote claim values.)
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Callable

import anyio.to_thread
from fastapi import FastAPI

from . import __version__
from .metrics import Metrics, RequestMiddleware
from .openapi import install_openapi
from .problems import install_problem_handlers
from .routes import casemix, editing, fhir, grouping, ops, payment, reference
from . import ui
from .ui import analyze
from .runtime import Runtime
from .settings import Settings

__all__ = ["create_app"]

DESCRIPTION = """\
MS-DRG grouping as a service: CMS MS-DRG versions 40.0 to 44.0 (and any CMS release imported with
`fastdrg tables import`, see `GET /v1/versions`) on a compiled core.

* **EHR**: `POST /v1/group` with one encounter, get its DRG.
* **Clearinghouse**: `POST /v1/group/batch` (up to the configured claims per request) or
  `POST /v1/group/stream` (NDJSON, any size, streamed back as it is grouped).
* **FHIR R4**: `POST /fhir/Claim/$group` (also `ExplanationOfBenefit`, `Encounter`), answered in FHIR.
* **Operations**: `/healthz`, `/readyz`, `/metrics` (Prometheus).

Errors are RFC 7807 `application/problem+json` documents with the field path and reason.
When API keys are configured, every `/v1` route needs one
(`Authorization: Bearer <key>` or `X-API-Key: <key>`).
"""


def _telemetry(enabled: bool) -> dict[str, Any]:
    """FastAPI's ``telemetry`` argument: its OpenTelemetry hooks off unless enabled
    (nothing to pass to a FastAPI without them)."""
    if enabled or "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def create_app(
    grouper: Any = None,
    settings: Settings | None = None,
    *,
    loader: Callable[[], Any] | None = None,
) -> FastAPI:
    """Build the service. ``grouper``: a ready ``engine.Grouper`` (skips loading)."""
    settings = settings if settings is not None else Settings.from_env()
    metrics = Metrics()
    runtime = Runtime(settings, metrics, grouper=grouper, loader=loader)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime.start_loading()
        if settings.workers > 1:
            # One worker of several (``fastdrg serve --workers N``): it takes connections from the
            # shared socket only once it can group, or a worker started to replace one that died
            # would answer 503 to requests the others could serve. (``serve`` built the caches first.)
            await anyio.to_thread.run_sync(runtime.wait_ready)
        yield

    app = FastAPI(
        **_telemetry(settings.opentelemetry),
        title="fastdrg",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: service.ui serves them from local files (no CDN)
        redoc_url=None,
        openapi_tags=[
            {"name": "grouping", "description": "Assign MS-DRGs to claims."},
            {"name": "editing", "description": "The Medicare Code Editor: CMS's claim edits."},
            {"name": "reference", "description": "Versions, DRGs and codes as the grouper sees them."},
            {"name": "payment", "description": "What a DRG pays: Table 5 weights, transfers, what-if."},
            {"name": "operations", "description": "Probes and metrics; no API key needed."},
            {"name": "fhir", "description": "FHIR R4: Claims, ExplanationOfBenefits and encounter Bundles grouped "
                                            "by the $group operation (docs/fhir.md)."},
        ],
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.runtime = runtime
    install_problem_handlers(app)
    for module in (grouping, editing, reference, payment, ops, casemix, fhir, ui, analyze):
        app.router.routes.extend(module.router.routes)
    install_openapi(app, settings.auth_required)
    app.add_middleware(RequestMiddleware, metrics=metrics, settings=settings, access_log=settings.access_log)
    return app
