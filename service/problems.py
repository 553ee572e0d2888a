"""RFC 7807 problem details: the one error format every route answers with.

Why one format: an EHR integration or a clearinghouse pipeline parses our
errors by machine. Every error is ``application/problem+json`` with
``type``, ``title``, ``status``, ``detail`` and an ``errors`` list of
``{"field": <path>, "reason": <text>}`` so that a client can point at the
offending field (``pdx``, ``sdx[2].poa``, ``claims``); ``$`` is the body (or,
in a batch's error entry, the claim) as a whole, as the engine writes it.

Problem texts never quote claim content (codes, ages, ids): only field paths,
limits and reasons. The client sent the claim, but responses are logged by
proxies too, and claims are protected health information.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["Problem", "problem_response", "install_problem_handlers", "PROBLEM_MEDIA_TYPE"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_PREFIX = "urn:fastdrg:problem:"
log = logging.getLogger("fastdrg.service")

_TITLES = {
    400: "Malformed request",
    401: "Unauthenticated",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal error",
    503: "Service not ready",
}


class Problem(Exception):
    """Raise anywhere in a route to answer with a problem document.

    ``kind`` becomes the ``type`` URI (``urn:fastdrg:problem:<kind>``); ``errors``
    are ``(field, reason)`` pairs or ready dicts.
    """

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        errors: Iterable[tuple[str, str] | dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.errors = [e if isinstance(e, dict) else {"field": e[0], "reason": e[1]} for e in errors]
        self.headers = headers or {}
        self.title = title or _TITLES.get(status, "Error")

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": _TYPE_PREFIX + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            doc["errors"] = self.errors
        return doc

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.body()),
            status_code=self.status,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=self.headers,
        )


def problem_response(status: int, kind: str, detail: str, errors=(), headers=None) -> Response:
    return Problem(status, kind, detail, errors, headers).response()


def _loc_to_path(loc: Iterable[Any]) -> str:
    """``("query", "version")`` -> ``version``; ``("body", "claims", 3)`` -> ``claims[3]``."""
    path = ""
    for part in loc:
        if part in ("body", "query", "path", "header") and path == "":
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


async def _problem_handler(request: Request, exc: Problem) -> Response:
    return exc.response()


async def _validation_handler(request: Request, exc: RequestValidationError) -> Response:
    # FastAPI's own validation (query/path parameters). Reasons only, never the input.
    errors = [(_loc_to_path(e.get("loc", ())), e.get("msg", "invalid")) for e in exc.errors()]
    return problem_response(422, "invalid-parameter", "A request parameter is invalid.", errors)


async def _http_handler(request: Request, exc: StarletteHTTPException) -> Response:
    status = exc.status_code
    if status == 404:
        detail = "No such route. See /docs for the API."
    elif status == 405:
        detail = "This route does not accept that method."
    else:
        detail = str(exc.detail) if exc.detail else _TITLES.get(status, "Error")
    kind = {404: "not-found", 405: "method-not-allowed"}.get(status, f"http-{status}")
    return problem_response(status, kind, detail, headers=getattr(exc, "headers", None))


async def _unexpected_handler(request: Request, exc: Exception) -> Response:
    # A bug, not an input problem. Log the exception type only: messages and
    # tracebacks can carry claim values (a KeyError on a code, for one).
    route = getattr(request.scope.get("route"), "path", "unmatched")
    log.error("unhandled error", extra={"route": route, "error_type": type(exc).__name__})
    return problem_response(500, "internal-error", "The service failed to answer this request.")


def install_problem_handlers(app) -> None:
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
