"""Case-mix analytics (issue 28): Grouper.casemix, the accumulator's merge, the doors.

The expected numbers are computed here independently, in plain Python over
``group()``'s result dicts (under each claim's version, and again under the
``to`` version) and Table 5 as engine.payment bundles it: the summary's counts,
CMI and shifts must equal them exactly.
"""

from __future__ import annotations

import collections
import json
from fractions import Fraction

import orjson
import pytest

from engine.analytics import CaseMix, CaseMixError
from engine.analytics.casemix import reason_key
from engine.payment import bundled_fy2026
from oracle import public_to_claim

TO = "43.1"
FY = 2026


@pytest.fixture(scope="module")
def claims(public_records) -> list[dict]:
    return [public_to_claim(r) for r in public_records]


@pytest.fixture(scope="module")
def results(grouper, claims):
    return grouper.group(claims, detail=False)


@pytest.fixture(scope="module")
def results_to(grouper, claims):
    return grouper.group([{**c, "version": TO} for c in claims], detail=False)


@pytest.fixture(scope="module")
def table5() -> dict[int, int]:
    t = bundled_fy2026()
    return {int(d): int(w) for d, w in zip(t.drg.tolist(), t.weight.tolist()) if w > 0}


def _cmi(drgs, table5):
    weighted = [table5[int(d)] for d in drgs if int(d) in table5]
    return (round(float(Fraction(sum(weighted), len(weighted) * 10_000)), 4) if weighted else None), len(weighted)


def test_casemix_counts_equal_group_results(grouper, claims, results):
    s = grouper.casemix(claims)
    ok = [r for r in results if "error" not in r]
    assert s["claims"] == len(claims) == 14_000
    assert s["grouped"] == len(ok)
    assert s["refused"]["total"] == len(claims) - len(ok)
    assert s["refused"]["by_reason"] == dict(collections.Counter(reason_key(r["error"]) for r in results
                                                                 if "error" in r))
    assert s["drgs"] == dict(collections.Counter(r["drg"] for r in ok))
    assert s["mdcs"] == dict(collections.Counter(r["mdc"] for r in ok))
    assert s["versions"] == dict(collections.Counter(r["version"] for r in ok))
    assert s["return_codes"] == dict(collections.Counter(r["return_code"] for r in ok))
    sev = collections.Counter(r["severity"]["final"] for r in ok)
    assert s["severity"] == {"MCC": sev["MCC"], "CC": sev["CC"], "none": sev["NON_CC"], "not_applicable": sev["NONE"]}
    assert s["med_surg"] == {k: collections.Counter(r["med_surg"] for r in ok)[k]
                             for k in ("MEDICAL", "SURGICAL", "NONE")}
    assert s["hac"]["claims"] == sum(r["hac_status"] != "NOT_APPLICABLE" for r in ok)
    # each claim weighed by its own version's Table 5 (the result's "weight")
    weights = [round(r["weight"] * 10_000) for r in ok if r.get("weight")]
    cmi = s["case_mix_index"]
    assert cmi["weighted_claims"] == len(weights)
    assert cmi["claims_without_weight"] == len(ok) - len(weights)
    assert cmi["value"] == round(float(Fraction(sum(weights), len(weights) * 10_000)), 4)
    assert cmi["fiscal_years"] == sorted({int(v.split(".")[0]) + 1983 for v in s["versions"]})


def test_casemix_one_table5_year(grouper, claims, results, table5):
    s = grouper.casemix(claims, weights=f"FY{FY}")
    ok = [r for r in results if "error" not in r]
    value, n = _cmi([r["drg"] for r in ok], table5)
    assert s["case_mix_index"]["value"] == value
    assert s["case_mix_index"]["weighted_claims"] == n
    assert s["case_mix_index"]["weights"] == "FY2026"
    for row in s["drg_detail"]:
        w = table5.get(int(row["drg"]))
        assert row["weight"] == (w / 10_000 if w else None)


def test_casemix_compare_equals_both_versions(grouper, claims, results, results_to, table5):
    s = grouper.casemix(claims, to=TO)
    c = s["compare"]
    both = [(a, b) for a, b in zip(results, results_to) if "error" not in a and "error" not in b]
    assert c["to"] == TO and c["weights"] == "FY2026"  # the newest loaded year by default
    assert c["claims"] == len(both)
    assert c["refused_by_target"] == sum("error" not in a and "error" in b for a, b in zip(results, results_to))
    assert (c["cmi_from"], c["weighted_from"]) == _cmi([a["drg"] for a, _ in both], table5)
    assert (c["cmi_to"], c["weighted_to"]) == _cmi([b["drg"] for _, b in both], table5)
    pairs = collections.Counter((a["drg"], b["drg"]) for a, b in both if a["drg"] != b["drg"])
    assert c["changed"] == sum(pairs.values())
    assert {(x["from"], x["to"]): x["claims"] for x in c["shifts"]} == dict(pairs)
    for x in c["shifts"]:
        f, t = table5.get(int(x["from"])), table5.get(int(x["to"]))
        assert x["weight_change"] == ((t - f) / 10_000 if f and t else None)
    moved = [abs(x["weight_moved"]) for x in c["shifts"] if x["weight_moved"] is not None]
    assert moved == sorted(moved, reverse=True)  # by total weight moved
    # the codes behind the shifts: on claims that moved, known to both versions
    on_moved = collections.Counter()
    for claim, a, b in zip(claims, results, results_to):
        if "error" not in a and "error" not in b and a["drg"] != b["drg"]:
            codes = {x if isinstance(x, str) else x["code"] for x in [claim["pdx"], *claim["sdx"]]}
            on_moved.update(codes | set(claim["procedures"]))
    assert c["changed_codes"]
    for row in c["changed_codes"]:
        assert on_moved[row["code"]] >= row["claims"]
        assert grouper.code_info(TO, row["code"])["valid"]


def test_casemix_unknown_codes_in_target_counted_and_listed(grouper, claims, results):
    s = grouper.casemix(claims, to=TO)
    valid = {}

    def known(version, code):
        key = (version, code)
        if key not in valid:
            valid[key] = grouper.code_info(version, code)["valid"]
        return valid[key]

    per_code = collections.Counter()
    n_claims = 0
    for claim, r in zip(claims, results):
        if "error" in r:
            continue
        codes = {("diagnosis", x if isinstance(x, str) else x["code"]) for x in [claim["pdx"], *claim["sdx"]]}
        codes |= {("procedure", x) for x in claim["procedures"]}
        lost = {(k, code) for k, code in codes if known(claim["version"], code) and not known(TO, code)}
        n_claims += bool(lost)
        per_code.update(lost)
    u = s["compare"]["unknown_codes"]
    assert u["claims"] == n_claims > 0
    assert u["distinct"] == len(per_code)
    for row in u["codes"]:
        assert per_code[(row["kind"], row["code"])] == row["claims"]


def test_casemix_merge_is_exact(grouper, claims):
    whole = CaseMix.for_grouper(grouper, to=TO, edits=False).add(grouper, claims)
    parts = [CaseMix.for_grouper(grouper, to=TO).add(grouper, claims[a:a + 4_321])
             for a in range(0, len(claims), 4_321)]
    merged = parts[0]
    for p in parts[1:]:  # through the state form too, as Spark carries a partition's sums
        merged.merge(CaseMix.from_state(json.loads(json.dumps(p.to_state()))))
    assert merged.summary(grouper) == whole.summary(grouper)


def test_casemix_merge_refuses_unlike_sums(grouper):
    with pytest.raises(ValueError, match="cannot merge"):
        CaseMix.for_grouper(grouper, to=TO).merge(CaseMix.for_grouper(grouper))


def test_casemix_bad_input_counted_under_reason(grouper, claims):
    texts = [orjson.dumps(c) for c in claims[:50]] + [b"{not json", b"[1, 2]", b'{"version": "43.1", "age": 3}',
                                                      orjson.dumps({**claims[0], "age": "old"})]
    s = grouper.casemix(texts)
    assert s["claims"] == 54
    by = s["refused"]["by_reason"]
    assert by["json: invalid JSON"] == 1
    assert by["json: a claim must be a JSON object"] == 1
    assert by["age: must be an integer"] == 1
    assert sum(by.values()) == s["refused"]["total"] == 54 - s["grouped"]
    assert s["grouped"] == sum("error" not in r for r in grouper.group(claims[:50]))


def test_casemix_unknown_to_or_year_names_what_is_loaded(grouper, claims):
    with pytest.raises(CaseMixError, match="loaded: 40.0"):
        grouper.casemix(claims[:3], to="39.0")
    with pytest.raises(CaseMixError, match="loaded: FY2026"):
        grouper.casemix(claims[:3], weights="FY1999")
    with pytest.raises(CaseMixError, match="not a fiscal year"):
        grouper.casemix(claims[:3], weights="next")


def test_casemix_empty_input(grouper):
    s = grouper.casemix([], to=TO)
    assert s["empty"] is True and s["claims"] == 0 and s["grouped"] == 0
    assert s["case_mix_index"]["value"] is None and s["drgs"] == {}
    assert s["compare"]["changed"] == 0


def test_casemix_transfers_with_los(grouper):
    base = {"version": "43.1", "age": 70, "sex": "F", "pdx": "I214", "sdx": ["I5021"], "procedures": []}
    claims = [{**base, "discharge_status": st, "los": los}
              for st, los in ((1, 5), (2, 1), (2, 9), (3, 1), (62, 2), (2, None), (1, None))]
    claims = [{k: v for k, v in c.items() if v is not None} for c in claims]
    results = grouper.group(claims, detail=False)
    s = grouper.casemix(claims)["transfers"]
    assert s["claims_with_los"] == 5
    assert s["acute"] == sum(r["transfer"] == "acute" for r in results)
    assert s["post_acute"] == sum(r["transfer"] == "post_acute" for r in results)
    adjusted = [round(r["adjusted_weight"] * 10_000) for r in results if r["adjusted_weight"] is not None]
    assert s["adjusted_claims"] == len(adjusted)
    assert s["adjusted_cmi"] == round(float(Fraction(sum(adjusted), len(adjusted) * 10_000)), 4)
    assert s["without_los"] == sum(r["transfer"] in ("acute", "post_acute") and r["adjusted_weight"] is None
                                   for r in results)


def test_casemix_edits_by_name(grouper, claims):
    some = claims[:500]
    s = grouper.casemix(some, edits=True)
    fired = collections.Counter()
    for r in grouper.group(some, detail=False, edits=True):
        if "error" not in r:
            fired.update(r.get("edits") or {})
    assert s["edits"]["by_name"] == {k: v for k, v in fired.items() if v}


def test_casemix_batch_and_arrow_roads_agree(grouper, claims):
    want = grouper.casemix(claims[:2000], to=TO)
    assert grouper.casemix(grouper.encode(claims[:2000]), to=TO) == want
    pa = pytest.importorskip("pyarrow")
    rows = claims[:2000]
    table = pa.Table.from_pylist([{**c, "pdx": c["pdx"] if isinstance(c["pdx"], str) else c["pdx"]["code"],
                                   "sdx": [x if isinstance(x, str) else x["code"] for x in c["sdx"]]}
                                  for c in rows])
    plain = [{**c, "pdx": c["pdx"] if isinstance(c["pdx"], str) else c["pdx"]["code"],
              "sdx": [x if isinstance(x, str) else x["code"] for x in c["sdx"]]} for c in rows]
    want_plain = grouper.casemix(plain, to=TO)
    assert grouper.casemix(table, to=TO) == want_plain
    assert grouper.casemix(table[:600], edits=True) == grouper.casemix(plain[:600], edits=True)
    pytest.importorskip("pandas")
    assert grouper.casemix(table.to_pandas(), to=TO) == want_plain  # a DataFrame, as group_frame reads it


# ---- the command line --------------------------------------------------------------------------

def _cli(*args):
    from engine.cli import main

    return main(["casemix", *map(str, args), "--no-progress"])


def test_cli_casemix_summary_equals_engine(grouper, claims, tmp_path, capsys):
    src = tmp_path / "claims.jsonl"
    src.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in claims[:3000]) + b"\n{broken\n")
    assert _cli(src, "-o", tmp_path / "r.html", "--json", tmp_path / "s.json", "--to", TO, "--chunk", 700) == 0
    got = json.loads((tmp_path / "s.json").read_text())
    want = grouper.casemix([orjson.dumps(c) for c in claims[:3000]] + [b"{broken"], to=TO)
    assert got == json.loads(orjson.dumps(want))
    assert got["refused"]["by_reason"] == {"json: invalid JSON": 1}
    page = (tmp_path / "r.html").read_text()
    assert "Content-Security-Policy" in page and "casemix-data" in page
    assert "<script src" not in page and "<link" not in page  # self-contained: nothing loaded from anywhere


def test_cli_casemix_parquet(grouper, claims, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [{**c, "pdx": c["pdx"] if isinstance(c["pdx"], str) else c["pdx"]["code"],
             "sdx": [x if isinstance(x, str) else x["code"] for x in c["sdx"]]} for c in claims[:2500]]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "c.parquet")
    assert _cli(tmp_path / "c.parquet", "--json", tmp_path / "s.json", "--to", TO, "--chunk", 1000) == 0
    got = json.loads((tmp_path / "s.json").read_text())
    assert got == json.loads(orjson.dumps(grouper.casemix(rows, to=TO)))


def test_cli_casemix_unknown_version_or_year_exits_2(tmp_path, capsys):
    src = tmp_path / "c.jsonl"
    src.write_text("")
    assert _cli(src, "--json", tmp_path / "s.json", "--to", "39.0") == 2
    assert "loaded: 40.0" in capsys.readouterr().err
    assert _cli(src, "--json", tmp_path / "s.json", "--weights", "FY2001") == 2
    assert "loaded: FY2026" in capsys.readouterr().err
    assert _cli(tmp_path / "missing.jsonl", "--json", tmp_path / "s.json") == 2


def test_cli_casemix_empty_file_gives_empty_report(tmp_path):
    src = tmp_path / "c.jsonl"
    src.write_text("\n\n")
    assert _cli(src, "-o", tmp_path / "r.html", "--json", tmp_path / "s.json") == 0
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["empty"] is True and s["claims"] == 0
    assert "the file holds no claims" in (tmp_path / "r.html").read_text()  # said in the page itself


# ---- the service ---------------------------------------------------------------------------------

@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def service(grouper):
    import httpx

    from service.app import create_app
    from service.settings import Settings

    app = create_app(grouper=grouper, settings=Settings())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


@pytest.mark.anyio
async def test_service_casemix_ndjson_and_batch(service, grouper, claims):
    some = claims[:1500]
    want = json.loads(orjson.dumps(grouper.casemix(some, to=TO, weights=FY)))
    body = b"\n".join(orjson.dumps(c) for c in some)
    async with service as c:
        r = await c.post(f"/v1/casemix?to={TO}&weights=FY{FY}", content=body,
                         headers={"content-type": "application/x-ndjson"})
        assert r.status_code == 200, r.text
        assert r.json() == want
        r = await c.post(f"/v1/casemix?to={TO}&weights={FY}", json={"claims": some})
        assert r.status_code == 200 and r.json() == want
        r = await c.post("/v1/casemix", json={"claims": [some[0], 7, "x"]})
        s = r.json()
        assert s["claims"] == 3 and s["refused"]["by_reason"] == {"json: a claim must be a JSON object": 2}
        r = await c.post("/v1/casemix?edits=true", content=b"")
        assert r.status_code == 200 and r.json()["empty"] is True and r.json()["edits"]["by_name"] == {}
        doc = (await c.get("/openapi.json")).json()
        assert "/v1/casemix" in doc["paths"] and "CaseMixSummary" in doc["components"]["schemas"]


@pytest.mark.anyio
async def test_service_casemix_unknown_version_or_year_is_422(service, claims):
    body = orjson.dumps(claims[0])
    async with service as c:
        r = await c.post("/v1/casemix?to=39.0", content=body)
        assert r.status_code == 422 and "loaded: 40.0" in r.json()["detail"]
        assert r.json()["errors"][0]["field"] == "to"
        r = await c.post("/v1/casemix?weights=FY2001", content=body)
        assert r.status_code == 422 and "loaded: FY2026" in r.json()["detail"]
        r = await c.post("/v1/casemix?weights=soon", content=body)
        assert r.status_code == 422
        r = await c.post("/v1/casemix", content=b"{", headers={"content-type": "application/json"})
        assert r.status_code == 400


def test_casemix_refused_reasons_carry_no_claim_values(grouper):
    base = {"version": "43.1", "age": 60, "sex": "M", "discharge_status": 1, "pdx": "I5021"}
    claims = [{**base, "pdx": "ZZ$$9"}, {**base, "version": "12.7"},
              {k: v for k, v in {**base, "discharge_date": "2031-01-02"}.items() if k != "version"},
              {**base, "sdx": [{"code": "E1122", "poa": "YY"}]}, {**base, "sdx": ["N179", {"code": "E1122", "poa": "NN"}]}]
    by = grouper.casemix(claims)["refused"]["by_reason"]
    text = json.dumps(by)
    for value in ("ZZ$$9", "12.7", "2031-01-02", "YY", "NN"):
        assert value not in text
    assert sum(by.values()) == 5
    assert by["sdx[].poa: POA must be one character (Y, N, U, W, 1, ...) or blank"] == 2  # counted together


@pytest.mark.anyio
async def test_service_casemix_default_hospital_status(grouper):
    import httpx

    from service.app import create_app
    from service.settings import Settings

    # a HAC stay (tests/test_browser.py's HAC_STAY) whose hospital status comes from the service's default
    stay = {"version": "43.1", "age": 18, "sex": "M", "discharge_status": "90",
            "pdx": {"code": "K709", "poa": "Y"},
            "sdx": [{"code": "P7884", "poa": "Y"}, {"code": "C7A00", "poa": "N"}, {"code": "S82423C", "poa": "N"},
                    {"code": "K05211", "poa": "Y"}, {"code": "S36032D", "poa": "N"}], "procedures": []}
    app = create_app(grouper=grouper, settings=Settings.from_env({"FASTDRG_DEFAULT_HOSPITAL_STATUS": "exempt"}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
        got = (await c.post("/v1/casemix", content=orjson.dumps(stay))).json()
        grouped = (await c.post("/v1/group", json=stay)).json()
    assert got["drgs"] == {grouped["drg"]: 1}
    assert got["drgs"] == grouper.casemix([{**stay, "hospital_status": "exempt"}])["drgs"]
    assert got["drgs"] != grouper.casemix([{**stay, "hospital_status": "not_exempt"}])["drgs"]


def test_rule_casemix_example_is_the_answer(grouper):
    """/openapi.json's example of POST /v1/casemix's answer is what the engine answers for the
    documented request example (test_workbench: every route's docs carry an example)."""
    from service import openapi as oa
    from service.routes.casemix import EXAMPLE_SUMMARY

    assert grouper.casemix(oa.SCHEMAS["BatchRequest"]["example"]["claims"]) == EXAMPLE_SUMMARY
