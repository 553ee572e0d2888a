"""Parity with the official CMS grouper on the public reference claims.

Every line of shared/eval/public_claims.jsonl carries the CMS result; a
grouper is exact when it reproduces the five graded fields on every line.
A second test holds the per-code detail to the same standard. All claims go
through one ``group()`` call (the batch path is what production uses).
"""

from __future__ import annotations

import pytest

from mismatch import report
from oracle import GRADED_FIELDS, expect_fields, public_to_claim


@pytest.fixture(scope="module")
def grouped(grouper, public_records):
    claims = [public_to_claim(r) for r in public_records]
    results = grouper.group(claims)
    assert len(results) == len(claims)
    return list(zip(public_records, results))


def test_public_claims_five_fields(grouped):
    mismatches = []
    for rec, res in grouped:
        exp = expect_fields(rec)
        assert res.get("id") == rec["id"], f"result order/id broken at {rec['id']}: {res.get('id')}"
        if "error" in res:
            mismatches.append((rec["id"], {"error": (exp["return_code"], res["error"])}))
            continue
        diff = {f: (exp[f], res.get(f)) for f in GRADED_FIELDS if res.get(f) != exp[f]}
        if diff:
            mismatches.append((rec["id"], diff))
    if mismatches:
        pytest.fail(report(mismatches, len(grouped), "five graded fields vs CMS"), pytrace=False)


def _hacs(entry) -> list:
    return [[h["number"], h["status"]] for h in entry.get("hacs") or []]


def _dx_diff(prefix: str, exp_row: list, got: dict | None, diff: dict) -> None:
    code, affects, sev_i, sev_f, poa_error, hacs = exp_row
    if got is None:
        diff[f"{prefix}"] = (code, None)
        return
    usage = got.get("severity_usage") or {}
    for name, e, g in (
        ("code", code, got.get("code")),
        ("affects_drg", affects, got.get("affects_drg")),
        ("severity_usage.initial", sev_i, usage.get("initial")),
        ("severity_usage.final", sev_f, usage.get("final")),
        ("poa_error", poa_error, got.get("poa_error")),
        ("hacs", [list(h) for h in hacs], _hacs(got)),
    ):
        if e != g:
            diff[f"{prefix}.{name}"] = (e, g)


def detail_diff(rec: dict, res: dict) -> dict:
    """``{field path: (CMS, ours)}`` for the per-claim and per-code detail."""
    d = rec["expect"]["detail"]
    if "error" in res:
        return {"error": (None, res["error"])}
    diff = {}
    sev = res.get("severity") or {}
    for name, e, g in (
        ("severity.initial", d["initial_severity"], sev.get("initial")),
        ("severity.final", d["final_severity"], sev.get("final")),
        ("med_surg", d["final_med_surg"], res.get("med_surg")),
        ("hac_status", d["hac_status"], res.get("hac_status")),
    ):
        if e != g:
            diff[name] = (e, g)
    _dx_diff("pdx", d["pdx"], res.get("pdx"), diff)
    sdx = res.get("sdx") or []
    if len(sdx) != len(d["sdx"]):
        diff["len(sdx)"] = (len(d["sdx"]), len(sdx))
    for k, row in enumerate(d["sdx"]):
        _dx_diff(f"sdx[{k}]", row, sdx[k] if k < len(sdx) else None, diff)
    px = res.get("procedures") or []
    if len(px) != len(d["px"]):
        diff["len(procedures)"] = (len(d["px"]), len(px))
    for k, (code, affects, hac_usage) in enumerate(d["px"]):
        got = px[k] if k < len(px) else None
        if got is None:
            diff[f"px[{k}]"] = (code, None)
            continue
        for name, e, g in (
            ("code", code, got.get("code")),
            ("affects_drg", affects, got.get("affects_drg")),
            ("hac_usage", list(hac_usage), list(got.get("hac_usage") or [])),
        ):
            if e != g:
                diff[f"px[{k}].{name}"] = (e, g)
    return diff


#: Per-code detail differences not yet explained, each named exactly (claim id ->
#: field paths).  Any other difference fails, and so does an entry here that has
#: started to match (remove it): the list can only shrink.  Empty since the
#: marking reproduces CMS on all 14,000 (see engine.kernel._collect and the
#: birth-status operand in engine.kernel._mark).
KNOWN_DETAIL_GAPS: dict[str, set] = {}


def test_public_claims_detail(grouped):
    mismatches = []
    fixed = []
    for rec, res in grouped:
        diff = detail_diff(rec, res)
        known = KNOWN_DETAIL_GAPS.get(rec["id"], set())
        if known - set(diff):
            fixed.append(rec["id"])
        unexplained = {k: v for k, v in diff.items() if k not in known}
        if unexplained:
            mismatches.append((rec["id"], unexplained))
    if mismatches:
        pytest.fail(report(mismatches, len(grouped), "per-code detail vs CMS"), pytrace=False)
    assert not fixed, f"known gaps now match CMS, remove them from KNOWN_DETAIL_GAPS: {fixed}"
