"""The workbench's "Analyze a file" view (``GET /analyze``): a file of claims to ``POST /v1/casemix``,
drawn with the same charts and tables as the ``fastdrg casemix`` HTML report.

Why its own page: the workbench is one stay at a time; this is a file. Its charts are the
report's renderer (``engine/analytics/static/casemix.js``) over Plotly's ``plotly.min.js``
from the installed ``plotly`` package: both served from here, so nothing comes from a CDN.
Plotly sets inline styles on what it draws, so this page's policy allows inline *styles*
(never inline or outside scripts, never an outside connection)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from engine.analytics.report import STATIC as REPORT_STATIC, plotly_js_path

from ..problems import Problem
from . import STATIC, _files

#: PAGE_CSP with inline styles allowed (Plotly's): still same-origin scripts and connections only.
ANALYZE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

router = APIRouter(include_in_schema=False)


def _asset(name: str):
    if name in ("analyze.js", "analyze.css"):
        return STATIC / name
    if name in ("casemix.js", "casemix.css"):
        return REPORT_STATIC / name
    if name == "plotly.min.js":
        try:
            return plotly_js_path()
        except ImportError:
            return None
    return None


@router.get("/analyze")
async def analyze_page(request: Request) -> Response:
    return _files.response(request, STATIC / "analyze.html", ANALYZE_CSP, "no-cache")


@router.get("/ui/analyze/{name}")
async def analyze_asset(request: Request, name: str) -> Response:
    path = _asset(name)
    if path is None or not path.is_file():
        raise Problem(404, "not-found", "No such file.")
    return _files.response(request, path, ANALYZE_CSP, "no-cache" if name != "plotly.min.js" else "public, max-age=86400")
