"""The Medicare Code Editor against CMS's own MCE on ../shared/eval/public_edits.jsonl
(``expect_mce``): edit type, every count, every diagnosis's edit list, at 100%."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SHARED

PUBLIC_EDITS = SHARED / "eval" / "public_edits.jsonl"


def eval_claim(r: dict) -> dict:
    """A record of ../shared/eval (CMS oracle format) as a fastdrg claim."""
    c = {"id": r["id"], "version": r["version"], "age": r["age"], "sex": r["sex"], "discharge_status": r["dstat"],
         "pdx": {"code": r["pdx"], "poa": r.get("pdx_poa")},
         "sdx": [{"code": code, "poa": poa} for code, poa in r.get("sdx", [])], "procedures": r.get("px", [])}
    if "los" in r:
        c["los"] = r["los"]
    if r.get("discharge_date"):
        d = str(r["discharge_date"])
        c["discharge_date"] = f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 else d
    return c


def as_expect(result: dict) -> dict:
    """A result of Grouper.edit in the shape of ``expect_mce`` (CMS lists no edits
    on procedures: they are counted at the claim level only)."""
    return {"edit_type": result["edit_type"], "edits": result["edits"], "pdx": result["pdx"]["edits"],
            "sdx": [s["edits"] for s in result["sdx"]], "px": [[] for _ in result["procedures"]]}


@pytest.fixture(scope="module")
def edit_records():
    if not PUBLIC_EDITS.is_file():
        pytest.skip(f"shared reference claims not found at {PUBLIC_EDITS}")
    with open(PUBLIC_EDITS) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _age_over_limit(grouper, claims):
    """Claims the encoder rejects for an age above 124 (the grouper's own range until
    its age validation is widened): the editor still edits them, through the kernel
    on the batch with the age put back."""
    batch = grouper.encode([{**c, "age": min(c["age"], 124)} for c in claims])
    batch.age[:] = np.array([c["age"] for c in claims], np.int16)
    out = grouper.edit_batch(batch)
    return grouper.editor.results(batch, out, lambda i: (batch.ids[i], batch.pdx_text[i], batch.sdx_text[i],
                                                         batch.px_text[i]))


def test_public_edits_exact(grouper, edit_records):
    claims = [eval_claim(r) for r in edit_records]
    results = grouper.edit(claims)
    over = [k for k, res in enumerate(results) if "error" in res]
    for k in over:  # only an age the encoder does not take yet
        assert results[k]["error"]["field"] == "age" and claims[k]["age"] > 124, results[k]
    for k, res in zip(over, _age_over_limit(grouper, [claims[k] for k in over])):
        results[k] = res
    wrong = [(r["id"], r["expect_mce"], as_expect(res)) for r, res in zip(edit_records, results)
             if as_expect(res) != r["expect_mce"]]
    assert not wrong, f"{len(wrong)} of {len(edit_records)} differ; first: {wrong[:3]}"
    assert len(results) == 16400


def test_group_with_edits_matches_edit(grouper, edit_records):
    claims = [eval_claim(r) for r in edit_records[:3000]]
    edited = grouper.edit(claims)
    grouped = grouper.group(claims, edits=True)
    plain = grouper.group(claims)
    for e, g, p in zip(edited, grouped, plain):
        if "error" in e:
            assert "error" in g
            continue
        assert g["edit_type"] == e["edit_type"] and g["edits"] == e["edits"]
        assert g["pdx"]["edits"] == e["pdx"]["edits"]
        assert [s["edits"] for s in g["sdx"]] == [s["edits"] for s in e["sdx"]]
        assert [s["edits"] for s in g["procedures"]] == [s["edits"] for s in e["procedures"]]
        # the grouping result itself is unchanged
        strip = {k: v for k, v in g.items() if k not in ("edit_type", "edits", "edit_date", "not_checked")}
        for key in ("pdx",):
            strip[key] = {k: v for k, v in g[key].items() if k != "edits"}
        strip["sdx"] = [{k: v for k, v in s.items() if k != "edits"} for s in g["sdx"]]
        strip["procedures"] = [{k: v for k, v in s.items() if k != "edits"} for s in g["procedures"]]
        assert strip == p


def test_los_not_given_is_not_checked(grouper):
    base = {"id": "los", "version": "43.1", "age": 50, "sex": "M", "discharge_status": 1, "pdx": "J9600",
            "procedures": ["5A1955Z"]}
    no_los, short, long_ = grouper.edit([base, {**base, "los": 2}, {**base, "los": 5}])
    assert no_los["not_checked"] == ["INCONSISTENT_WITH_LENGTH_OF_STAY"]
    assert "INCONSISTENT_WITH_LENGTH_OF_STAY" not in no_los["edits"]
    assert short["edits"].get("INCONSISTENT_WITH_LENGTH_OF_STAY") == 1 and "not_checked" not in short
    assert short["procedures"][0]["edits"] == ["INCONSISTENT_WITH_LENGTH_OF_STAY"]
    assert "INCONSISTENT_WITH_LENGTH_OF_STAY" not in long_["edits"]
    by_dates = grouper.edit([{**base, "admission_date": "2026-05-01", "discharge_date": "2026-05-03"}])[0]
    assert by_dates["edits"].get("INCONSISTENT_WITH_LENGTH_OF_STAY") == 1


def test_edit_date_outside_the_mce_is_an_error(grouper):
    base = {"id": 7, "version": "43.1", "age": 50, "sex": "M", "discharge_status": 1, "pdx": "J9600", "los": 3}
    late, early, ok = grouper.edit([{**base, "discharge_date": "2027-04-01"},
                                    {**base, "discharge_date": "2021-01-01"}, base])
    assert late["error"]["field"] == "discharge_date" and "2027-03-31" in late["error"]["reason"]
    assert early["error"]["field"] == "discharge_date"
    assert ok["edit_date"] == "2026-04-01"
    g = grouper.group([{**base, "discharge_date": "2027-04-01"}], edits=True)[0]
    assert g["edit_error"]["field"] == "discharge_date" and g["drg"]


def test_json_paths_equal_the_dict_path(grouper, edit_records):
    """group_json / group_json_texts with edits (the edits written into the rendered
    JSON in compiled code) answer as group(edits=True) does, on every kind of claim."""
    import orjson

    claims = [eval_claim(r) for r in edit_records[:1500] if r["age"] <= 124]
    base = {"version": "43.1", "age": 50, "sex": "M", "discharge_status": 1, "pdx": "J9600", "los": 3}
    claims += [
        {**base, "id": '"pdx":{"code":', "sdx": ["ZZZ99", "J9600"], "procedures": ["5A1955Z", "0Z"]},
        {**base, "id": "unknown-pdx", "pdx": "QQ999", "sdx": ["QQ999", "q.q999", "A00"]},
        {**base, "id": "late", "discharge_date": "2027-05-01"},
        {**base, "id": "no-los", "los": None, "procedures": ["5A1955Z"]},
        {**base, "id": "bad", "pdx": None},
        {**base, "id": "dict-path", "pdx": "j96.00", "sex": "m"},
    ]
    for detail in (True, False):
        want = grouper.group(claims, detail=detail, edits=True)
        texts = [orjson.dumps(c) for c in claims] + [b"not json"]
        got = grouper.group_json_texts(texts, detail=detail, edits=True)
        assert [orjson.loads(d) for d in got.documents[:-1]] == want
        assert got.documents[-1] is None
        assert orjson.loads(b"[" + got.join({len(claims): b"0"}) + b"]")[:-1] == want
        gj = grouper.group_json(claims, detail=detail, edits=True)
        assert [orjson.loads(d) for d in gj.documents] == want
        fired = {}
        for r in want:
            for k, v in (r.get("edits") or {}).items():
                fired[k] = fired.get(k, 0) + v
        assert gj.edit_counts == fired
        plain = grouper.group_json(claims, detail=detail)
        assert gj.counts == plain.counts


def test_editor_stops_where_the_grouper_lacks_a_code(grouper):
    """A grouper code list without a code the MCE has: the editor's range ends the day
    before that code is valid (a clear error there, never a false INVALID_CODE)."""
    from engine.editing.source import load_mce_source
    from engine.editing.tables import compile_mce

    src = load_mce_source()
    meta = grouper.tables.meta
    full = compile_mce(src, meta["dx_codes"], meta["pr_codes"]).meta
    assert full["last_date"] == "2027-03-31"
    lacking = compile_mce(src, [c for c in meta["dx_codes"] if c != "A000"], meta["pr_codes"]).meta
    assert lacking["last_date"] == "2022-09-30"
