"""Arrow, Parquet, pandas and polars in and out (engine.io.arrow): results equal
to Grouper.group()'s on every field, bad rows answered as group() answers them.

The public claims go through each road; a table of awkward rows (nulls, case,
dots, spaces, non-ASCII, out-of-range values) checks that every row gets
group()'s answer for the same claim, error message included, and spoils none
of the others.
"""

from __future__ import annotations

import datetime as dt

import pytest

pa = pytest.importorskip("pyarrow", reason="pyarrow not installed (pip install -e '.[dev]')")
pq = pytest.importorskip("pyarrow.parquet")

from arrow_helpers import as_result, public_table  # noqa: E402


@pytest.fixture(scope="module")
def public(public_records):
    return public_table(public_records)


@pytest.fixture(scope="module")
def expected(grouper, public):
    _, claims = public
    return {True: grouper.group(claims, detail=True), False: grouper.group(claims, detail=False)}


def _check(rows, expected, detail):
    got = [as_result(r, detail) for r in rows]
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert not bad, f"{len(bad)} rows differ from group(); first: {bad[0]}"


@pytest.mark.parametrize("detail", [False, True])
def test_public_claims_through_arrow_equal_group(grouper, public, expected, detail):
    table, _ = public
    out = grouper.group_arrow(table, detail=detail)
    assert out.num_rows == table.num_rows
    assert pa.types.is_dictionary(out.schema.field("drg_description").type)
    assert out.column("error").null_count == out.num_rows
    _check(out.to_pylist(), expected[detail], detail)


def test_public_claims_through_parquet_file_command(grouper, public, expected, tmp_path):
    from engine.cli import main

    table, _ = public
    src, dst = tmp_path / "claims.parquet", tmp_path / "results.parquet"
    pq.write_table(table, src, row_group_size=3000)
    assert main([ "group", str(src), "-o", str(dst), "--detail", "--chunk", "5000", "-q"]) == 0
    _check(pq.read_table(dst).to_pylist(), expected[True], True)


def test_public_claims_through_pandas_and_polars(grouper, public, expected):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    table, _ = public
    out = grouper.group_frame(table.to_pandas())
    assert isinstance(out, pd.DataFrame)
    _check(pa.Table.from_pandas(out, preserve_index=False).to_pylist(), expected[False], False)
    out = grouper.group_frame(pl.from_arrow(table), detail=True)
    assert isinstance(out, pl.DataFrame)
    _check(out.to_dicts(), expected[True], True)
    # edits=True: the edits map as polars and pandas give it back
    _, claims = public
    want = grouper.group(claims[:2000], detail=True, edits=True)
    _check(grouper.group_frame(pl.from_arrow(table.slice(0, 2000)), detail=True, edits=True).to_dicts(), want, True)
    out = grouper.group_frame(table.slice(0, 2000).to_pandas(), edits=True)
    from arrow_helpers import _as_dict

    assert [(r["edit_type"], _as_dict(r["edits"]), r["edit_date"].isoformat()) for r in out.to_dict("records")] == [
        (w["edit_type"], w["edits"], w["edit_date"]) for w in want]


def test_chunked_sliced_and_other_column_types(grouper, public, expected):
    """A table of many chunks, a slice, pdx as struct<code, poa>, sdx as
    list<string>, large strings, dictionary columns, integer versions and
    discharge dates: the same answers."""
    table, claims = public
    n = 2000
    part = table.slice(500, n)
    chunked = pa.concat_tables([part.slice(k, 7) for k in range(0, n, 7)])
    _check(grouper.group_arrow(chunked, detail=True).to_pylist(), expected[True][500:500 + n], True)
    pdx = pa.StructArray.from_arrays([part.column("pdx").combine_chunks(), part.column("pdx_poa").combine_chunks()],
                                     names=["code", "poa"])
    versions = [int(v.replace(".", "")) for v in part.column("version").to_pylist()]
    other = pa.table({
        "id": part.column("id"),
        "version": pa.array(versions, pa.int16()),
        "age": part.column("age").cast(pa.float64()),
        "sex": part.column("sex").dictionary_encode(),
        "discharge_status": part.column("discharge_status").cast(pa.string()),
        "hospital_status": part.column("hospital_status").cast(pa.large_string()),
        "pdx": pdx,
        "sdx": part.column("sdx"),
        "procedures": pa.array([[{"code": c} for c in p] for p in part.column("procedures").to_pylist()],
                               pa.list_(pa.struct([("code", pa.large_string())]))),
    })
    _check(grouper.group_arrow(other, detail=True).to_pylist(), expected[True][500:500 + n], True)
    # discharge dates instead of versions (the first day each version covers)
    from engine.encode import version_dates

    dates = [version_dates(v)[0] for v in versions]
    by_date = other.drop_columns(["version"]).append_column("discharge_date", pa.array(dates, pa.date32()))
    _check(grouper.group_arrow(by_date).to_pylist(), expected[False][500:500 + n], False)
    by_text = by_date.set_column(by_date.schema.get_field_index("discharge_date"), "discharge_date",
                                 pa.array([d.isoformat() for d in dates]))
    _check(grouper.group_arrow(by_text).to_pylist(), expected[False][500:500 + n], False)


# every row: (arrow columns, the same claim as group() takes it)
_BASE = {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I5021"}
_ROWS = [
    ({}, {}),
    ({"pdx": None}, {"pdx": None}),
    ({"version": "99.9"}, {"version": "99.9"}),
    ({"version": None}, {"version": None}),
    ({"version": None, "discharge_date": "2019-01-01"}, {"version": None, "discharge_date": "2019-01-01"}),
    ({"version": None, "discharge_date": "2025-12-01"}, {"version": None, "discharge_date": "2025-12-01"}),
    ({"sex": "X"}, {"sex": "X"}),
    ({"sex": " m "}, {"sex": " m "}),
    ({"sdx": ["i50.21", "n17.9"]}, {"sdx": ["i50.21", "n17.9"]}),
    ({"sdx": [" N179 "]}, {"sdx": [" N179 "]}),
    ({"sdx": ["ZZZ.9"]}, {"sdx": ["ZZZ.9"]}),
    ({"sdx": ["N179", None]}, {"sdx": ["N179", None]}),
    ({"sdx": ["@@@"]}, {"sdx": ["@@@"]}),
    ({"sdx": ["N1799999999"]}, {"sdx": ["N1799999999"]}),
    ({"age": 200}, {"age": 200}),
    ({"age": None}, {"age": None}),
    ({"procedures": ["02703dz", "0JH60DZ"]}, {"procedures": ["02703dz", "0JH60DZ"]}),
    ({"pdx_poa": "y"}, {"pdx": {"code": "I5021", "poa": "y"}}),
    ({"pdx_poa": "X"}, {"pdx": {"code": "I5021", "poa": "X"}}),
    ({"pdx": "É123"}, {"pdx": "É123"}),
    ({"pdx": "V0001XA"}, {"pdx": "V0001XA"}),
    ({"discharge_status": 100}, {"discharge_status": 100}),
    ({"hospital_status": "EXEMPT", "sdx": [{"code": "N179", "poa": "N"}]},
     {"hospital_status": "EXEMPT", "sdx": [{"code": "N179", "poa": "N"}]}),
    ({"hospital_status": "nowhere"}, {"hospital_status": "nowhere"}),
    ({"sdx": None, "procedures": None}, {"sdx": None, "procedures": None}),
]


def test_bad_rows_get_group_answers_and_spoil_nothing(grouper):
    sdx_type = pa.list_(pa.struct([("code", pa.string()), ("poa", pa.string())]))
    cols = {k: [] for k in ("id", "version", "discharge_date", "age", "sex", "discharge_status", "hospital_status",
                            "pdx", "pdx_poa", "sdx", "procedures")}
    claims = []
    for k, (arrow, claim) in enumerate(_ROWS * 3):  # each row thrice, among the others
        row = {**_BASE, "id": f"r{k}", **arrow}
        for name in cols:
            value = row.get(name)
            if name == "sdx" and value is not None:
                value = [x if isinstance(x, dict) or x is None else {"code": x, "poa": None} for x in value]
            cols[name].append(value)
        c = {**_BASE, "id": f"r{k}", **claim}
        if c.get("sdx"):  # as the Arrow column holds them: {"code"} structs
            c["sdx"] = [{"code": x} if isinstance(x, str) else x for x in c["sdx"]]
        claims.append({key: v for key, v in c.items() if v is not None})
    table = pa.table({**cols, "sdx": pa.array(cols["sdx"], sdx_type),
                      "procedures": pa.array(cols["procedures"], pa.list_(pa.string()))})
    expected = grouper.group(claims, detail=True)
    assert any("error" in e for e in expected) and any("error" not in e for e in expected)
    for detail in (False, True):
        out = grouper.group_arrow(table, detail=detail)
        got = [as_result(r, detail) for r in out.to_pylist()]
        want = expected if detail else [
            {k: v for k, v in e.items() if k not in ("pdx", "sdx", "procedures")} for e in expected]
        for g, e, c in zip(got, want, claims):
            assert g == e, c


@pytest.mark.parametrize("detail", [False, True])
def test_public_claims_with_edits_equal_group_with_edits(grouper, public, detail):
    """edits=True: the code editor's edit_type, edits (a map name -> count),
    edit_date, not_checked and per-code edits equal group(edits=True)'s."""
    table, claims = public
    rows = slice(0, 6000)
    want = grouper.group(claims[rows], detail=detail, edits=True)
    out = grouper.group_arrow(table.slice(0, 6000), detail=detail, edits=True)
    assert out.schema == __import__("engine.io.arrow", fromlist=["x"]).result_schema(pa.string(), detail, edits=True)
    assert any(w.get("edits") for w in want)
    _check(out.to_pylist(), want, detail)


def test_weights_with_a_base_rate_equal_group(grouper, public):
    """base_rate= as group()'s: payment_estimate {amount, base_rate, note}; a bad one is a GrouperError."""
    from engine import GrouperError

    table, claims = public
    want = grouper.group(claims[:3000], detail=False, base_rate=6000.5)
    out = grouper.group_arrow(table.slice(0, 3000), base_rate=6000.5)
    assert out.column("payment_estimate").null_count < out.num_rows
    _check(out.to_pylist(), want, False)
    pl = pytest.importorskip("polars")
    _check(grouper.group_frame(pl.from_arrow(table.slice(0, 3000)), base_rate=6000.5).to_dicts(), want, False)
    with pytest.raises(GrouperError, match="base_rate"):
        grouper.group_arrow(table.slice(0, 3), base_rate=-1)


def test_parquet_command_with_edits(grouper, public, tmp_path):
    from engine.cli import main

    table, claims = public
    src, dst = tmp_path / "claims.parquet", tmp_path / "results.parquet"
    pq.write_table(table.slice(0, 3000), src)
    assert main(["group", str(src), "-o", str(dst), "--detail", "--edits", "-q"]) == 0
    _check(pq.read_table(dst).to_pylist(), grouper.group(claims[:3000], detail=True, edits=True), True)


def test_parquet_summary_prints_the_case_mix_index(grouper, public, tmp_path, capsys):
    """As the NDJSON summary: the mean final-DRG weight of the claims that have one."""
    from engine.cli import main

    table, claims = public
    src, dst = tmp_path / "claims.parquet", tmp_path / "results.parquet"
    pq.write_table(table.slice(0, 500), src)
    capsys.readouterr()
    assert main(["group", str(src), "-o", str(dst), "--no-progress"]) == 0
    err = capsys.readouterr().err
    weights = [r["weight"] for r in grouper.group(claims[:500], detail=False) if r.get("weight") is not None]
    assert weights
    assert (f"case-mix index (mean weight of {len(weights)} claims with a weight): "
            f"{round(sum(w * 10_000 for w in weights)) / len(weights) / 10_000:.4f}") in err


# ages and discharge statuses: any whole number a Java int holds (engine.encode MIN_AGE/MAX_AGE);
# a status outside 0-99 is grouped as an invalid one (-1), as encode_claims reads them
_AGES = [0, 70, 124, 125, -1, -5, 200, 32767, 32768, 40000, 2**31 - 1, -(2**31), 2**31, -(2**31) - 1, 2**40, None]
_DSTATS = [1, 0, 99, 100, -1, -3, 150, 32767, 40000, 2**31 - 1, -(2**31), 2**31, 2**40, None]


def _age_rows():
    rows = [(a, 1) for a in _AGES] + [(70, d) for d in _DSTATS] + [(a, d) for a, d in zip(_AGES, _DSTATS)]
    claims = []
    for k, (age, dstat) in enumerate(rows):
        c = {"id": f"a{k}", "version": "43.1", "sex": "M", "pdx": "I5021", "sdx": ["N179"], "los": 3,
             "procedures": ["02703DZ"]}
        if age is not None:
            c["age"] = age
        if dstat is not None:
            c["discharge_status"] = dstat
        claims.append(c)
    return rows, claims


@pytest.mark.parametrize("form", ["int64", "text", "float", "uint64"])
def test_any_whole_number_age_and_discharge_status_as_group(grouper, form):
    """Rule: CMS groups any whole-number age and discharge status (a Java int);
    the Arrow reader reads each form as encode_claims does, so group_arrow
    equals group() on every field, the editor's too (INVALID_AGE,
    INVALID_DISCHARGE_STATUS), for negative, >124, >32767, too large and null."""
    rows, claims = _age_rows()
    ages = [r[0] for r in rows]
    dstats = [r[1] for r in rows]
    if form == "int64":
        age_col, ds_col = pa.array(ages, pa.int64()), pa.array(dstats, pa.int64())
    elif form == "text":  # digits as text; also ten significant digits and a sign, which encode reads its way
        ages = [None if a is None else str(a) for a in ages]
        dstats = [None if d is None else f"{d:03d}" if d is not None and 0 <= d < 100 else str(d) for d in dstats]
        age_col, ds_col = pa.array(ages, pa.string()), pa.array(dstats, pa.string())
        claims = [{**c, **({"age": a} if a is not None else {}), **({"discharge_status": d} if d is not None else {})}
                  for c, a, d in zip(claims, ages, dstats)]
    elif form == "float":  # pandas' integers with gaps
        age_col, ds_col = pa.array(ages, pa.float64()), pa.array(dstats, pa.float64())
        claims = [{**c, **({"age": float(a)} if a is not None else {}),
                   **({"discharge_status": float(d)} if d is not None else {})}
                  for c, a, d in zip(claims, ages, dstats)]
    else:  # unsigned: the negative ones left out, 2**64 - 1 added (it would wrap in int64)
        keep = [k for k, (a, d) in enumerate(rows) if (a is None or a >= 0) and (d is None or d >= 0)]
        claims = [claims[k] for k in keep] + [{**claims[0], "id": "u", "age": 2**64 - 1}]
        ages = [ages[k] for k in keep] + [2**64 - 1]
        dstats = [dstats[k] for k in keep] + [1]
        age_col, ds_col = pa.array(ages, pa.uint64()), pa.array(dstats, pa.uint64())
    table = pa.table({
        "id": [c["id"] for c in claims], "version": ["43.1"] * len(claims), "age": age_col, "sex": ["M"] * len(claims),
        "discharge_status": ds_col, "pdx": ["I5021"] * len(claims), "los": pa.array([3] * len(claims), pa.int32()),
        "sdx": pa.array([["N179"]] * len(claims), pa.list_(pa.string())),
        "procedures": pa.array([["02703DZ"]] * len(claims), pa.list_(pa.string())),
    })
    want = grouper.group(claims, detail=True, edits=True)
    assert any("error" in w for w in want) and sum("error" not in w for w in want) > len(want) // 2
    _check(grouper.group_arrow(table, detail=True, edits=True).to_pylist(), want, True)
    _check(grouper.group_arrow(table).to_pylist(), grouper.group(claims, detail=False), False)
    # the batch: age int32, statuses outside 0-99 as -1, as the Python encoder's
    from engine.io.arrow import read_batch

    import numpy as np

    got, enc = read_batch(grouper, table.to_batches()[0]).batch, grouper.encode(claims)
    assert got.age.dtype == np.int32 and (got.ok == enc.ok).all() and got.errors == enc.errors
    for name in ("age", "dstat"):
        assert np.array_equal(getattr(got, name)[enc.ok], getattr(enc, name)[enc.ok]), name


def test_v44_by_version_and_by_discharge_date(grouper, public):
    """Versions are the loaded tables' (Grouper.version_numbers), v44.0 among them:
    by label, by number and routed from a discharge date."""
    import datetime as dt

    table, claims = public
    part = table.slice(0, 200)
    c44 = [{**c, "version": "44.0"} for c in claims[:200]]
    want = grouper.group(c44, detail=False)
    assert {w["version"] for w in want if "error" not in w} == {"44.0"}
    v = part.set_column(part.schema.get_field_index("version"), "version", pa.array(["44.0"] * 200))
    _check(grouper.group_arrow(v).to_pylist(), want, False)
    v = part.set_column(part.schema.get_field_index("version"), "version", pa.array([440] * 200, pa.int32()))
    _check(grouper.group_arrow(v).to_pylist(), want, False)
    d = part.drop_columns(["version"]).append_column("discharge_date", pa.array([dt.date(2026, 12, 1)] * 200))
    _check(grouper.group_arrow(d).to_pylist(), want, False)
    late = d.set_column(d.schema.get_field_index("discharge_date"), "discharge_date",
                        pa.array(["2027-04-01"] * 200))
    assert grouper.group_arrow(late).column("error").to_pylist()[0]["field"] == "discharge_date"


def test_version_parsing_takes_the_loaded_versions():
    """An imported version (450) by label, number, integral float and text, in
    the Arrow reader's version parsing and engine.encode.parse_version alike."""
    import numpy as np

    from engine.encode import parse_version
    from engine.io.arrow import _versions

    versions = (431, 440, 450)
    for v in ("45.0", 450, 450.0, "450", 45.0):
        assert parse_version(v, versions) == 450, v
    col = pa.array(["45.0", "44.0", "46.0", None])
    fast = np.ones(4, np.bool_)
    assert _versions({"version": col}, fast, 4, versions).tolist()[:2] == [2, 1]
    assert fast.tolist() == [True, True, False, False]
    fast = np.ones(3, np.bool_)
    dates = pa.array([dt.date(2027, 10, 1), dt.date(2026, 10, 1), dt.date(2027, 4, 1)])
    assert _versions({"discharge_date": dates}, fast, 3, versions).tolist()[:2] == [2, 1]
    assert fast.tolist() == [True, True, False]
    fast = np.ones(2, np.bool_)
    assert _versions({"discharge_date": pa.array(["2028-03-31", "2027-04-01"])}, fast, 2, versions).tolist()[0] == 2
    assert fast.tolist() == [True, False]


def test_engine_io_has_no_static_version_list():
    """engine/io reads the versions of the loaded tables, never engine.tables.VERSIONS."""
    import pathlib

    import engine.io

    for path in pathlib.Path(engine.io.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "VERSIONS" not in text.replace("_VERSIONS", ""), path.name


def test_empty_and_wrong_inputs(grouper, public, tmp_path):
    table, _ = public
    assert grouper.group_arrow(table.slice(0, 0)).num_rows == 0
    with pytest.raises(TypeError):
        grouper.group_arrow([{"pdx": "I5021"}])
    from engine.cli import main

    src = tmp_path / "c.parquet"
    pq.write_table(table.slice(0, 10), src)
    assert main(["group", str(src), "-o", str(tmp_path / "r.jsonl"), "-q"]) == 2
    assert main(["group", str(tmp_path / "none.parquet"), "-o", str(tmp_path / "r.parquet"), "-q"]) == 2


def test_result_schema_is_what_group_arrow_gives(grouper, public):
    from engine.io.arrow import result_schema

    table, _ = public
    for detail in (False, True):
        assert grouper.group_arrow(table.slice(0, 50), detail=detail).schema == result_schema(pa.string(), detail)
        assert grouper.group_arrow(table.slice(0, 50), detail=detail, edits=True).schema == result_schema(
            pa.string(), detail, edits=True)


def test_mce_claim_fields_equal_the_encoders(grouper):
    """age, los, edit_date and admit_dx (the MCE's fields) as the Python encoder
    reads the same claims, from each form the Arrow columns take."""
    import numpy as np

    from engine.io.arrow import read_batch

    base = {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I5021"}
    rows = [
        {}, {"los": 5}, {"los": 0}, {"los": 100000}, {"discharge_date": "2026-05-01"},
        {"discharge_date": "2026-13-01"}, {"discharge_date": "2026-05-01", "admission_date": "2026-04-20"},
        {"discharge_date": "2026-05-01", "admission_date": "2026-05-03"}, {"admission_date": "2026-05-03"},
        {"los": 3, "discharge_date": "2026-05-02"}, {"admit_dx": "R079"}, {"admit_dx": "r07.9"},
        {"admit_dx": "ZZZ9"}, {"admit_dx": "zz.z9"}, {"admit_dx": "@@"}, {"version": None, "discharge_date": "2025-11-02"},
    ]
    claims = [{**base, "id": str(k), **r} for k, r in enumerate(rows)]
    claims = [{k: v for k, v in c.items() if v is not None} for c in claims]
    cols = {}
    for name in ("id", "version", "age", "sex", "discharge_status", "pdx", "discharge_date", "admission_date",
                 "los", "admit_dx"):
        cols[name] = [c.get(name) for c in claims]
    table = pa.table(cols)
    want = grouper.encode(claims)
    for form in ("text", "date"):
        t = table
        if form == "date":  # the valid dates as date32; the invalid one's row as text elsewhere
            keep = [k for k, c in enumerate(claims) if c.get("discharge_date") != "2026-13-01"]
            t = table.take(keep).set_column(table.schema.get_field_index("discharge_date"), "discharge_date",
                                            table.take(keep).column("discharge_date").cast(pa.date32()))
            w = grouper.encode([claims[k] for k in keep])
        else:
            w = want
        got = read_batch(grouper, t.to_batches()[0]).batch
        assert got.errors == w.errors
        ok = w.ok
        assert (got.ok == ok).all()
        for name in ("age", "los", "edit_date", "admit_dx"):
            assert np.array_equal(getattr(got, name)[ok], getattr(w, name)[ok]), name
        assert [x for x, o in zip(got.admit_text, ok) if o] == [x for x, o in zip(w.admit_text, ok) if o]
    assert grouper.group_arrow(table).column("error").to_pylist() == [
        r.get("error") for r in grouper.group(claims, detail=False)]
