"""Operations routes: liveness, readiness, Prometheus metrics.

Why liveness and readiness differ: ``/healthz`` answers 200 as soon as the
process serves HTTP, so an orchestrator does not kill a worker that is still
compiling its kernels; ``/readyz`` answers 503 until the engine is loaded,
so no traffic is routed to it before it can group. These routes never need
an API key.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import openapi as oa
from ..problems import problem_response

router = APIRouter(tags=["operations"])

_OK = b'{"status":"ok"}'
_READY = b'{"status":"ready"}'


@router.get(
    "/healthz",
    summary="Liveness",
    responses={200: oa.json_response("Health", "The process is serving.")},
    response_class=Response,
)
async def healthz() -> Response:
    return Response(_OK, media_type="application/json")


@router.get(
    "/readyz",
    summary="Readiness",
    description="503 until the grouping tables are loaded and the kernels compiled, then 200.",
    responses={
        200: oa.json_response("Health", "Ready to group.", {"status": "ready"}),
        503: oa.problem("Still loading (or the engine failed to load)."),
    },
    response_class=Response,
)
async def readyz(request: Request) -> Response:
    rt = request.app.state.runtime
    if rt.ready:
        return Response(_READY, media_type="application/json")
    if rt.load_error is not None:
        return problem_response(503, "engine-unavailable", "The grouping engine failed to load; see the service log.")
    return problem_response(503, "engine-loading", "The grouping engine is loading.", headers={"Retry-After": "2"})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Request counts and latency per route, claims by version and return code, batch sizes, in-flight requests.",
    responses={200: {"description": "Prometheus text format.", "content": {"text/plain": {}}}},
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
