"""The workbench in a real browser: Debian's headless Chromium driven by Playwright.

Starts ``fastdrg serve`` as a process (as test_e2e_serve.py does), opens ``/`` at
1366x768, types stays as a coder would (keyboard: fields, Tab, Enter), and checks that
what the page shows equals what the API answers for the same claim: the DRG and MDC,
initial and final DRG when a HAC changed it, the return code of an ungroupable stay,
each code's CC/MCC badge, and the problem of a claim the service refuses. Every request
the browser makes is recorded: none may leave the service's origin (the page, /docs and
/redoc). The page keeps nothing in the browser's storage, and the server's log never
names a code typed.

A screenshot per case goes to the test's tmp_path; with ``FASTDRG_WORKBENCH_SCREENSHOT``
set to a path (e.g. docs/workbench.png) the HAC case is also saved there, for the README.

The browser: ``/usr/bin/chromium`` (or ``FASTDRG_CHROMIUM``), from Debian's ``chromium``
package, which ``.ci/run`` installs when it is missing. Playwright is pointed at it with
``executable_path``; it never downloads a browser. Without either, the tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from test_e2e_serve import REPO, free_port, serve_command

pytestmark = pytest.mark.timeout(900)

CHROMIUM = os.environ.get("FASTDRG_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

#: A stay where a HAC changes the DRG (public reference claim 431-3114): S82423C, not POA,
#: is HAC 05 (falls and trauma), so its MCC does not count for the final DRG (432 -> 433).
HAC_STAY = {
    "version": "43.1", "age": 18, "sex": "M", "discharge_status": "90", "hospital_status": "not_exempt",
    "pdx": {"code": "K709", "poa": "Y"},
    "sdx": [{"code": "P7884", "poa": "Y"}, {"code": "C7A00", "poa": "N"}, {"code": "S82423C", "poa": "N"},
            {"code": "K05211", "poa": "Y"}, {"code": "S36032D", "poa": "N"}],
    "procedures": [],
}
#: Heart failure with an MCC and a CC the principal dx does not exclude, and a stent.
PASTED_LINE = "I50.21 N17.0:Y E11.22:Y 02703DZ"
#: Ungroupable: the principal dx is no code of the version (DRG 999, INVALID_PDX).
UNGROUPABLE = {"version": "43.1", "age": 50, "sex": "F", "discharge_status": "01",
               "pdx": {"code": "Q9999", "poa": "Y"}, "sdx": [], "procedures": []}


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not installed ({exc}); pip install -e '.[dev]'"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return (f"no Chromium at {CHROMIUM} (install Debian's chromium package: .ci/run does it, "
                "or set FASTDRG_CHROMIUM)")
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _skip_reason()
    if reason:
        print(f"\nSKIP browser tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, grouper):
    # ``grouper`` has built the table and kernel caches the server loads.
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve-ui") / "server.log"
    env = dict(os.environ)
    env.update({"FASTDRG_LOG_LEVEL": "info", "PYTHONUNBUFFERED": "1"})
    env.pop("FASTDRG_API_KEYS", None)
    cmd = serve_command() + ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            proc.kill()
            pytest.fail(f"server never became ready; log:\n{log_path.read_text()[-4000:]}")
        yield {"base": base, "log": log_path, "proc": proc}
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


class Page:
    """One browser tab on the workbench, with every request it makes recorded."""

    def __init__(self, browser, base: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1366, "height": 768})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def guard(route):  # anything leaving the origin is recorded above and refused here
            if route.request.url.startswith(base + "/") or route.request.url.startswith("data:"):
                route.continue_()
            else:
                route.abort()

        self.page.route("**/*", guard)

    def open(self, path: str = "/") -> None:
        self.page.goto(self.base + path)

    def ready(self) -> None:
        self.open("/")
        self.page.wait_for_selector("#status[data-kind=ok]", timeout=30000)

    def outside(self) -> list[str]:
        return [u for u in self.requests if not (u.startswith(self.base + "/") or u.startswith("data:"))]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser, server):
    t = Page(browser, server["base"])
    yield t
    assert t.outside() == [], t.outside()
    assert t.errors == [], t.errors
    t.close()


def copied(page, start: str, timeout: float = 10.0) -> None:
    """Wait until the page has copied a text starting with ``start`` (copy() sets it once the
    clipboard write settles; polled from here: the page's CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if str(page.evaluate("window.fastdrgWorkbench.state.copied")).startswith(start):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing starting with {start!r} was copied")


def api_group(server, claim: dict) -> httpx.Response:
    """The API's answer to the request the page makes: ``?edits=true`` (the service has the code editor)."""
    return httpx.post(server["base"] + "/v1/group?edits=true", json=claim, timeout=30)


def type_stay(page, claim: dict) -> None:
    """Type a stay field by field, as a coder would (keyboard only)."""
    page.select_option("#version", claim["version"])
    page.click("#age")
    page.keyboard.type(str(claim["age"]))
    page.keyboard.press("Tab")
    page.keyboard.type(claim["sex"])  # a select takes the typed letter
    page.fill("#discharge_status", "")
    page.click("#discharge_status")
    page.keyboard.type(str(claim["discharge_status"]))
    if claim.get("hospital_status"):
        page.select_option("#hospital_status", claim["hospital_status"])
    pdx = page.locator("#pdx-row .code")
    pdx.click()
    page.keyboard.type(claim["pdx"]["code"])
    page.locator("#pdx-row .poa").select_option(claim["pdx"]["poa"])
    for i, d in enumerate(claim["sdx"]):
        row = page.locator("#sdx-rows .row").nth(i)
        row.locator(".code").click()
        page.keyboard.type(d["code"])
        row.locator(".poa").select_option(d["poa"])
    for i, code in enumerate(claim["procedures"]):
        page.locator("#px-rows .row").nth(i).locator(".code").click()
        page.keyboard.type(code)


def shown_codes(page) -> dict[str, str]:
    """code -> the CC/MCC cell's text, per row of the result table."""
    out = {}
    for row in page.locator(".codes-table tbody tr").all():
        code = row.get_attribute("data-code")
        out[code] = row.locator("td").nth(3).inner_text().strip()
    return out


SEV_TEXT = {"MCC": "MCC", "CC": "CC", "NEITHER": "", "CC_EXCLUDED": "CC · excluded by the principal dx",
            "MCC_EXCLUDED": "MCC · excluded by the principal dx",
            "CC_EXCLUDED_BY_DRG_LOGIC": "CC · not counted by the DRG's logic",
            "MCC_EXCLUDED_BY_DRG_LOGIC": "MCC · not counted by the DRG's logic"}


def expected_severity(usage: dict) -> str:
    if usage["initial"] == usage["final"]:
        return SEV_TEXT[usage["final"]]
    return f"{SEV_TEXT[usage['initial']] or 'none'} → {SEV_TEXT[usage['final']] or 'none'}"


def check_result_shown(page, want: dict) -> None:
    assert page.locator("[data-test=drg]").inner_text() == want["drg"]
    assert want["drg_description"] in page.locator(".drg").last.inner_text()
    assert f"MDC {want['mdc']}" in page.locator(".drg").last.inner_text()
    if want["initial_drg"] != want["drg"]:
        assert page.locator("[data-test=initial-drg]").inner_text() == want["initial_drg"]
    else:
        assert page.locator("[data-test=initial-drg]").count() == 0
    if want["return_code"] != "OK":
        assert want["return_code"] in page.locator("[data-test=return-code]").inner_text()
    shown = shown_codes(page)
    for d in [want["pdx"], *want["sdx"]]:
        assert shown[d["code"]] == expected_severity(d["severity_usage"]), (d["code"], shown[d["code"]])
    for p in want["procedures"]:
        assert shown[p["code"]] == ("O.R." if p["is_or"] else "non-O.R.")


def test_hac_stay_typed(tab, server, tmp_path):
    """A stay whose DRG a HAC changed: initial and final side by side, as the API answers."""
    want = api_group(server, HAC_STAY).json()
    assert want["initial_drg"] != want["drg"] and want["hac_status"] == "FINAL_DRG_CHANGES"
    page = tab.page
    tab.ready()
    type_stay(page, HAC_STAY)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-test=drg]")
    sent = page.evaluate("window.fastdrgWorkbench.state.lastClaim")
    assert api_group(server, sent).json() == want  # the page sent the stay that was typed
    check_result_shown(page, want)
    assert "HAC" in page.locator("[data-test=hac-status]").inner_text()
    hac_row = page.locator('.codes-table tr[data-code="S82423C"]')
    assert "HAC 05" in hac_row.inner_text() and "criteria met" in hac_row.inner_text()
    page.wait_for_timeout(300)  # the initial DRG's title arrives after
    page.screenshot(path=str(tmp_path / "hac.png"), full_page=True)
    target = os.environ.get("FASTDRG_WORKBENCH_SCREENSHOT")
    if target:
        page.screenshot(path=target)
    # nothing kept in the browser
    kept = page.evaluate("localStorage.length + sessionStorage.length + document.cookie.length")
    assert kept == 0


def test_pasted_line_and_copy(tab, server, tmp_path):
    """A line of codes pasted fills the form (dx then procedures, POA after a colon); Enter groups."""
    page = tab.page
    tab.ready()
    page.fill("#age", "67")
    page.select_option("#sex", "F")
    page.fill("#paste", PASTED_LINE)
    page.focus("#paste")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-test=drg]")
    sent = page.evaluate("window.fastdrgWorkbench.state.lastClaim")
    assert sent["pdx"]["code"] == "I5021" and [d["code"] for d in sent["sdx"]] == ["N170", "E1122"]
    assert [d["poa"] for d in sent["sdx"]] == ["Y", "Y"] and sent["procedures"] == ["02703DZ"]
    want = api_group(server, sent).json()
    check_result_shown(page, want)
    # titles come from /v1/codes
    assert "Acute systolic" in page.locator('.codes-table tr[data-code="I5021"]').inner_text()
    page.click("#copy-json")  # copy() sets state.copied once the clipboard write settles
    copied(page, "{")
    assert page.evaluate("JSON.parse(window.fastdrgWorkbench.state.copied)") == want
    page.click("#copy-curl")
    copied(page, "curl")
    curl = page.evaluate("window.fastdrgWorkbench.state.copied")
    assert curl.startswith("curl -sS -X POST '" + server["base"] + "/v1/group?edits=true'") and '"I5021"' in curl
    page.screenshot(path=str(tmp_path / "pasted.png"), full_page=True)


def test_ungroupable_stay_from_json(tab, server, tmp_path):
    """A claim's JSON pasted; the principal dx is no code: the page marks it and shows DRG 999."""
    import json

    page = tab.page
    tab.ready()
    page.fill("#paste", json.dumps(UNGROUPABLE))
    page.focus("#paste")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-test=drg]")
    want = api_group(server, UNGROUPABLE).json()
    assert want["drg"] == "999" and want["return_code"] == "INVALID_PDX"
    check_result_shown(page, want)
    pdx = page.locator("#pdx-row .code")
    page.wait_for_function("document.querySelector('#pdx-row .code').getAttribute('aria-invalid') === 'true'")
    assert pdx.get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(tmp_path / "ungroupable.png"), full_page=True)


def test_refused_claim_points_at_the_field(tab, server, tmp_path):
    """A stay the service refuses (no age): the problem is shown and the field marked."""
    page = tab.page
    tab.ready()
    page.locator("#pdx-row .code").fill("I5021")
    page.locator("#pdx-row .code").press("Enter")
    page.wait_for_selector(".problem")
    sent = page.evaluate("window.fastdrgWorkbench.state.lastClaim")
    want = api_group(server, sent)
    assert want.status_code == 422
    assert want.json()["detail"] in page.locator(".problem").inner_text()
    assert page.locator("#age").get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(tmp_path / "refused.png"), full_page=True)


def test_edits_shown_when_the_service_has_a_code_editor(tab, server, tmp_path):
    doc = httpx.get(server["base"] + "/openapi.json").json()
    params = [p["name"] for p in doc["paths"]["/v1/group"]["post"].get("parameters", [])]
    if "edits" not in params:
        pytest.skip("this service has no code editor yet (/v1/group?edits=true arrives with the mce branch)")
    page = tab.page
    tab.ready()
    claim = {**UNGROUPABLE, "pdx": {"code": "I5021", "poa": "Y"}, "sex": "M", "sdx": [{"code": "O80", "poa": "Y"}]}
    page.fill("#paste", __import__("json").dumps(claim))
    page.focus("#paste")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-test=drg]")
    want = httpx.post(server["base"] + "/v1/group?edits=true", json=claim).json()
    if want.get("edits"):
        page.wait_for_selector("[data-test=edits]")
    page.screenshot(path=str(tmp_path / "edits.png"), full_page=True)


def test_docs_render_offline(tab, server, tmp_path):
    """Swagger UI and ReDoc render with every request on the service's own origin."""
    page = tab.page
    tab.open("/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30000)
    assert page.locator(".swagger-ui .opblock").count() >= 10
    page.screenshot(path=str(tmp_path / "docs.png"))
    tab.open("/redoc")
    page.wait_for_selector("h2:has-text('Group one claim')", timeout=30000)
    page.screenshot(path=str(tmp_path / "redoc.png"))


def test_first_paint_and_layout(tab, server):
    """The page fits 1366x768 (no horizontal scroll) and paints fast (printed; timings never gate)."""
    page = tab.page
    tab.ready()
    paint = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null")
    print(f"\nworkbench first contentful paint: {paint} ms")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator("#claim").bounding_box()["height"] <= 768


def test_server_log_names_no_code(browser, server):
    """After the cases above: the server's log holds no code that was typed (nor the pasted line)."""
    text = Path(server["log"]).read_text()
    for code in ("K709", "S82423C", "I5021", "N170", "02703DZ", "Q9999", "I50.21"):
        assert code not in text, code


def test_edits_weights_and_what_if_are_the_apis(tab, server, tmp_path):
    """The code editor's edits (``?edits=true``), the weights and ``POST /v1/what-if``: the page
    shows what the service answers (no interception: the real routes)."""
    import json

    base = server["base"]
    page = tab.page
    claim = {"version": "43.1", "age": 70, "sex": "F", "discharge_status": "02", "los": 1,
             "pdx": {"code": "I5021", "poa": "Y"}, "sdx": [{"code": "N170", "poa": "Y"}, {"code": "Z370", "poa": "Y"}],
             "procedures": []}
    want = httpx.post(base + "/v1/group?edits=true", json=claim).json()
    assert want["edits"] and want["weight"] is not None and want["transfer"] == "acute"
    what_if = httpx.post(base + "/v1/what-if", json={"claim": claim, "add_sdx": [], "add_procedures": [],
                                                     "remove": ["N170", "Z370"]}).json()
    sent = {}

    def record(route):
        sent[route.request.url.split("?")[0].rsplit("/", 1)[-1]] = json.loads(route.request.post_data)
        route.fallback()

    page.route("**/v1/group?edits=true", record)
    page.route("**/v1/what-if", record)
    tab.ready()
    page.wait_for_selector("#status:has-text('code editor')")
    page.fill("#paste", json.dumps(claim))
    page.focus("#paste")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-test=edits]")
    assert sent["group"]["los"] == 1  # the length of stay is sent: the API reads it

    def label(name):
        return name.replace("_", " ").lower().capitalize()

    for d in [want["pdx"], *want["sdx"]]:
        shown = page.locator(f'.codes-table tr[data-code="{d["code"]}"] .edits').inner_text()
        for name in d["edits"]:
            assert label(name) in shown, (d["code"], name, shown)
        if not d["edits"]:
            assert shown == "", d["code"]
    box = page.locator("[data-test=edits]").inner_text()
    for name in want["edits"]:
        assert label(name) in box, name
    for key in ("weight", "adjusted_weight"):
        assert float(page.locator(f"[data-test={key}]").inner_text()) == want[key], key
    page.wait_for_selector("[data-test=what-if] tbody tr")
    assert sent["what-if"]["remove"] == ["N170", "Z370"] and sent["what-if"]["claim"]["pdx"]["code"] == "I5021"
    rows = page.locator("[data-test=what-if] tbody tr").all_inner_texts()
    assert len(rows) == len(what_if["changes"])
    for change in what_if["changes"]:
        row = next(r for r in rows if f"{change['change']} {change['code']}" in r)
        assert change["drg"] in row
        if change["drg_changes"]:
            assert "DRG changes" in row
    page.screenshot(path=str(tmp_path / "edits-weights-what-if.png"), full_page=True)
