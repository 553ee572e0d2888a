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


def test_edits_without_an_editor_is_a_clear_error(grouper, public):
    from engine import GrouperError

    table, _ = public
    with pytest.raises(GrouperError, match="edits"):
        grouper.group_arrow(table.slice(0, 3), edits=True)


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
