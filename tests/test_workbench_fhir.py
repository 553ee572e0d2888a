"""The workbench's paste box takes a FHIR Claim, ExplanationOfBenefit or encounter Bundle (issue 27):
the form is filled as docs/fhir.md maps the resource, and grouping it shows the DRG
POST /fhir/…/$group gives for the same resource.  Headless Chromium, as tests/test_browser.py."""

from __future__ import annotations

import json

import httpx
import pytest

pytest.importorskip("fhir.resources", reason="fhir.resources is not installed (pip install -e .)")

import fhir_resources as R  # noqa: E402
from engine.io import fhir as F  # noqa: E402
from test_browser import api_group, browser, check_result_shown, server, tab  # noqa: E402,F401 - fixtures


def _record(public_records) -> dict:
    return next(r for r in public_records if len(r["sdx"]) >= 2 and r["px"] and r["version"] >= 410)


@pytest.mark.parametrize("kind", ["Claim", "ExplanationOfBenefit", "Encounter"])
def test_pasted_fhir_resource_fills_the_form_as_the_reader_reads_it(tab, server, public_records, kind, tmp_path):
    rec = _record(public_records)
    doc = R.encounter_bundle(rec) if kind == "Encounter" else R.claim(rec, kind)
    page = tab.page
    tab.ready()
    page.fill("#paste", json.dumps(doc))
    page.focus("#paste")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-test=drg]")
    sent = page.evaluate("window.fastdrgWorkbench.state.lastClaim")
    [item] = F.read_resource(doc, kind)[1]
    read = item.claim
    for key in ("age", "sex", "hospital_status", "discharge_status", "pdx", "sdx", "procedures"):
        assert sent[key] == read[key], key
    assert sent.get("discharge_date", read["discharge_date"]) == read["discharge_date"]
    want = api_group(server, sent).json()
    check_result_shown(page, want)
    fhir = httpx.post(f"{server['base']}/fhir/{kind}/$group", json=doc, timeout=30).json()
    drg = next(p for p in fhir["parameter"] if p["name"] == "drg")["valueCoding"]["code"]
    assert drg == want["drg"]
    page.screenshot(path=str(tmp_path / f"fhir-{kind}.png"), full_page=True)
