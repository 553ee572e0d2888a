"""The coder's workbench (``GET /``) and the offline API docs (``/docs``, ``/redoc``).

Why it exists: coders and CDI specialists group one stay at a time and want to
see *why* a DRG came out (which code made the MCC, which CC the principal dx
excluded, what a HAC changed). The workbench is one page that calls only the
public API (``/openapi.json``, ``/v1/versions``, ``/v1/codes``, ``/v1/group``;
and the code editor and what-if routes when the running service has them).

Why everything is served from here: hospital networks are often closed to the
internet, so nothing may come from a CDN. The page is plain HTML/CSS/JS in
``static/`` (no build step, no web font); Swagger UI and ReDoc are the files
bundled by the pinned ``fastapi-offline`` package (its static files only). Every
answer carries a Content-Security-Policy that allows the page's own origin and
nothing else, so a browser would refuse an outside fetch even if one slipped in.

Privacy: the page keeps the claim in memory only (no storage, no cookies) and
these routes log nothing beyond the access log's route template.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import Response

from ..problems import Problem

__all__ = ["router", "STATIC", "vendor_dir"]

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
#: The workbench's own files: same origin only, no inline script or style.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
#: Swagger UI and ReDoc start from an inline script (FastAPI's pages); still nothing from outside.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")
_VENDOR_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
#: ReDoc's sidebar footer shows Redocly's logo from their CDN (unconditionally, hidden when it
#: fails to load): served as an empty data: image instead, so the page fetches nothing outside.
_VENDOR_PATCHES = {"redoc.standalone.js": [(b'"https://cdn.redoc.ly/redoc/logo-mini.svg"', b'"data:,"')]}
_PAGE_FILES = ("app.js", "app.css")


def vendor_dir() -> Path | None:
    """fastapi-offline's static folder (Swagger UI and ReDoc), without importing the package."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "static"
    return path if path.is_dir() else None


class _Files:
    """Files read once and kept with their gzip form (the bundles are large; most browsers take gzip)."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[bytes, bytes]] = {}

    def get(self, path: Path) -> tuple[bytes, bytes]:
        hit = self._cache.get(path)
        if hit is None:
            raw = path.read_bytes()
            for old, new in _VENDOR_PATCHES.get(path.name, ()):
                raw = raw.replace(old, new)
            hit = self._cache[path] = (raw, gzip.compress(raw, 6, mtime=0))
        return hit

    def response(self, request: Request, path: Path, csp: str, cache: str) -> Response:
        raw, packed = self.get(path)
        headers = {"cache-control": cache, "content-security-policy": csp, "x-content-type-options": "nosniff",
                   "referrer-policy": "no-referrer", "vary": "accept-encoding"}
        media = _TYPES.get(path.suffix, "application/octet-stream")
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["content-encoding"] = "gzip"
            return Response(packed, media_type=media, headers=headers)
        return Response(raw, media_type=media, headers=headers)


_files = _Files()
router = APIRouter(include_in_schema=False)


@router.get("/")
async def workbench(request: Request) -> Response:
    return _files.response(request, STATIC / "index.html", PAGE_CSP, "no-cache")


@router.get("/ui/{name}")
async def page_asset(request: Request, name: str) -> Response:
    if name not in _PAGE_FILES:
        raise Problem(404, "not-found", "No such file.")
    return _files.response(request, STATIC / name, PAGE_CSP, "no-cache")


@router.get("/ui/vendor/{name}")
async def vendor_asset(request: Request, name: str) -> Response:
    folder = vendor_dir()
    if name not in _VENDOR_FILES or folder is None:
        raise Problem(404, "not-found", "No such file.")
    return _files.response(request, folder / name, DOCS_CSP, "public, max-age=86400")


def _docs_page(html: Response) -> Response:
    html.headers["content-security-policy"] = DOCS_CSP
    html.headers["referrer-policy"] = "no-referrer"
    return html


@router.get("/docs")
async def swagger_ui(request: Request) -> Response:
    return _docs_page(get_swagger_ui_html(
        openapi_url="/openapi.json", title="fastdrg - API",
        swagger_js_url="/ui/vendor/swagger-ui-bundle.js", swagger_css_url="/ui/vendor/swagger-ui.css",
        swagger_favicon_url="/ui/vendor/favicon.png",
        swagger_ui_parameters={"validatorUrl": None, "defaultModelsExpandDepth": 0, "displayRequestDuration": True,
                               "tryItOutEnabled": True},
    ))


@router.get("/redoc")
async def redoc(request: Request) -> Response:
    return _docs_page(get_redoc_html(
        openapi_url="/openapi.json", title="fastdrg - API", redoc_js_url="/ui/vendor/redoc.standalone.js",
        redoc_favicon_url="/ui/vendor/favicon.png", with_google_fonts=False,
    ))
