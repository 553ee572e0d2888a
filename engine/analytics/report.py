"""The case-mix report: one self-contained HTML file (opens from disk; fetches nothing).

Why this shape: the summary (engine.analytics.casemix) is embedded as JSON, and
one renderer, ``static/casemix.js``, draws the charts and the tables beneath
them, here and in the service's workbench, so both show the same thing.  The
charts are Plotly's: ``plotly.min.js`` comes inside the ``plotly`` package
(a core dependency) and is inlined, never fetched from a CDN (docs/casemix.md
says why Plotly).  A Content-Security-Policy in the page forbids every request,
so even a stray URL in a library could not leave the machine.
"""

from __future__ import annotations

import html
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import orjson

STATIC = Path(__file__).resolve().parent / "static"
#: The page loads nothing: inline scripts and styles only, no connections, images as data: only.
REPORT_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
              "font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'")


def plotly_js_path() -> Path:
    """plotly.min.js as the plotly package ships it (ImportError when plotly is missing)."""
    return Path(str(files("plotly") / "package_data" / "plotly.min.js"))


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    return plotly_js_path().read_text(encoding="utf-8")


def _script(text: str) -> str:
    # a script element ends at the first "</script": none may appear inside
    return text.replace("</script", "<\\/script")


def render_html(summary: dict, title: str = "Case-mix report", source: str | None = None) -> str:
    """The report of ``summary`` as one HTML document (str)."""
    data = orjson.dumps(summary).decode().replace("</", "<\\/")
    meta = [f"fastdrg case-mix summary, schema {summary.get('schema')}"]
    if source:
        meta.append(f"file: {source}")
    if summary.get("empty"):
        meta.append("the file holds no claims")
    cmp_ = summary.get("compare")
    if cmp_:
        meta.append(f"compared with grouper {cmp_['to']}")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{REPORT_CSP}\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)}</title>"
        f"<style>{(STATIC / 'casemix.css').read_text(encoding='utf-8')}</style></head>"
        "<body><main class=\"cm-report\">"
        f"<h1>{html.escape(title)}</h1><p class=\"cm-meta\">{html.escape(' · '.join(meta))}</p>"
        "<noscript><p class=\"cm-empty\">The charts and tables are drawn by the page's own script; "
        "the summary is also in the JSON file written beside this report (--json).</p></noscript>"
        "<div id=\"casemix\"></div></main>"
        f"<script type=\"application/json\" id=\"casemix-data\">{data}</script>"
        f"<script>{_script(_plotly_js())}</script>"
        f"<script>{_script((STATIC / 'casemix.js').read_text(encoding='utf-8'))}</script>"
        "<script>CaseMixCharts.draw(JSON.parse(document.getElementById(\"casemix-data\").textContent),"
        " document.getElementById(\"casemix\"));</script>"
        "</body></html>\n"
    )


def write_report(summary: dict, path, title: str = "Case-mix report", source: str | None = None) -> None:
    Path(path).write_text(render_html(summary, title, source), encoding="utf-8")


__all__ = ["render_html", "write_report", "plotly_js_path", "REPORT_CSP", "STATIC"]
