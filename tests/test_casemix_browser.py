"""Case-mix in headless Chromium (issue 28): the workbench's "Analyze a file" view end to end,
and the ``fastdrg casemix`` HTML report opened from disk.

Driven as tests/test_browser.py drives the workbench (Debian's /usr/bin/chromium through
Playwright, its server fixture): every request the page makes is recorded and anything
leaving the service's origin (the report: leaving the file) fails the test. The numbers
shown must equal Grouper.casemix's for the same claims. With FASTDRG_CASEMIX_SCREENSHOT set
(e.g. docs/casemix.png) the report's screenshot is saved there, for the README.
"""

from __future__ import annotations

import os

import orjson
import pytest

from oracle import public_to_claim
from test_browser import ARGS, CHROMIUM, Page, browser, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(900)

CHARTS = ("drgs", "mdcs", "capture", "cmi", "shifts")


@pytest.fixture(scope="module")
def claims_file(tmp_path_factory, public_records):
    claims = [public_to_claim(r) for r in public_records[:3000]]
    path = tmp_path_factory.mktemp("casemix") / "claims.jsonl"
    path.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in claims) + b"not json\n")
    return path, claims


def _charts_drawn(page) -> dict:
    return page.eval_on_selector_all(
        ".cm-chart", "els => Object.fromEntries(els.map(e => [e.dataset.chart, "
        "e.querySelectorAll('.main-svg').length > 0 && e.querySelectorAll('.bars path, .point path').length]))")


def _card(page, key: str) -> str:
    return page.text_content(f".cm-card[data-key={key}] .cm-card-value").strip()


def test_analyze_a_file_in_the_workbench(browser, server, claims_file, grouper):  # noqa: F811
    path, claims = claims_file
    want = grouper.casemix([orjson.dumps(c) for c in claims] + [b"not json"], to="43.1")
    tab = Page(browser, server["base"])
    try:
        tab.open("/")
        tab.page.click("text=Analyze a file")
        tab.page.wait_for_selector("#to option[value='43.1']", state="attached", timeout=30000)
        tab.page.set_input_files("#file", str(path))
        tab.page.select_option("#to", "43.1")
        tab.page.click("#run")
        tab.page.wait_for_selector("#cm-chart-shifts .main-svg", timeout=120000)
        drawn = _charts_drawn(tab.page)
        assert all(drawn.get(c) for c in CHARTS), drawn
        assert _card(tab.page, "claims") == f"{want['claims']:,}" == "3,001"
        assert _card(tab.page, "grouped") == f"{want['grouped']:,}"
        assert _card(tab.page, "refused") == "1"
        assert _card(tab.page, "cmi") == f"{want['case_mix_index']['value']:.4f}"
        assert _card(tab.page, "cmi-to") == f"{want['compare']['cmi_to']:.4f}"
        assert _card(tab.page, "changed") == f"{want['compare']['changed']:,}"
        first = tab.page.text_content("#cm-drgs table tbody tr td")
        assert first == want["drg_detail"][0]["drg"]
        assert tab.outside() == [] and tab.errors == []
        # a file dropped on the page is taken as one picked
        dt = tab.page.evaluate_handle("t => { const d = new DataTransfer(); "
                                      "d.items.add(new File([t], 'dropped.jsonl')); return d; }",
                                      "\n".join(orjson.dumps(c).decode() for c in claims[:40]))
        tab.page.dispatch_event("#drop", "drop", {"dataTransfer": dt})
        tab.page.select_option("#to", "")
        tab.page.click("#run")
        from playwright.sync_api import expect  # (the page's policy forbids evaluating strings: no wait_for_function)

        expect(tab.page.locator(".cm-card[data-key=claims] .cm-card-value")).to_have_text("40", timeout=60000)
        assert "dropped.jsonl" in tab.page.text_content("#status")
        assert tab.page.query_selector("#cm-chart-shifts") is None  # no comparison asked
    finally:
        tab.close()


def test_report_renders_offline_with_its_charts(browser, claims_file, tmp_path):  # noqa: F811
    from engine.cli import main

    path, _ = claims_file
    report = tmp_path / "report.html"
    assert main(["casemix", str(path), "-o", str(report), "--to", "43.1", "--no-progress", "-q"]) == 0
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(report.as_uri())
        page.wait_for_selector("#cm-chart-shifts .main-svg", timeout=60000)
        drawn = _charts_drawn(page)
        assert all(drawn.get(c) for c in CHARTS), drawn
        assert _card(page, "claims") == "3,001"
        assert requests == [report.as_uri()] and errors == []  # nothing left the page
        page.emulate_media(media="print")
        assert page.is_visible("#cm-drgs table")  # the tables print beneath the charts
        page.emulate_media(media="screen")
        shot = os.environ.get("FASTDRG_CASEMIX_SCREENSHOT")
        if shot:
            page.screenshot(path=shot)
    finally:
        context.close()
