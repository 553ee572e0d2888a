"""Wide tables in (engine.io.tabular): the public claims as CSV, TSV, gzip, BOM,
other column names, Excel and CMS's batch layout group exactly as their JSON
twins; BOM NDJSON loses nothing; Latin-1 is refused; bad cells name their column."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")

from engine.io import tabular  # noqa: E402
from engine.io.textfile import TableError  # noqa: E402
from oracle import public_to_claim  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EVAL = Path(os.environ.get("FASTDRG_EVAL_DIR", REPO.parent / "shared" / "eval"))
if not (EVAL / "public_claims.jsonl").exists():
    EVAL = Path("/work/shared/eval")
FIVE = ("drg", "mdc", "initial_drg", "initial_mdc", "return_code")


def _records(name: str, limit: int | None = None) -> list[dict]:
    path = EVAL / name
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared public sets)")
    out = []
    with open(path) as f:
        for line in f:
            out.append(json.loads(line))
            if limit and len(out) >= limit:
                break
    return out


@pytest.fixture(scope="module")
def public():
    recs = _records("public_claims.jsonl", 3000) + _records("public_claims.jsonl")[-1500:] + \
        _records("public_hac.jsonl", 1500)
    return [public_to_claim(r) for r in recs]


def wide_rows(claims, names=None):
    return tabular.claims_wide(claims, names)


def write_csv(path: Path, head, rows, delimiter=",", bom=False, gz=False, lineterminator="\n"):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=lineterminator)
    w.writerow(head)
    w.writerows(rows)
    data = (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def group_file(grouper, path, columns=None, detail=True):
    src = tabular.open_table(str(path), columns)
    return [r for _, res in tabular.group_batches(grouper, src, detail=detail) for r in res.to_pylist()]


def assert_twins(grouper, claims, rows, detail=True):
    want = grouper.group(claims, detail=detail)
    assert len(rows) == len(want)
    for c, got, exp in zip(claims, rows, want):
        assert got["id"] == c["id"]
        if "error" in exp:
            assert got["error"] is not None, c["id"]
            continue
        assert got["error"] is None, (c["id"], got["error"])
        assert {k: got[k] for k in FIVE} == {k: exp[k] for k in FIVE}, c["id"]
        if detail:
            for k in ("pdx", "sdx", "procedures"):
                assert got[k] == exp[k], (c["id"], k)


# ---- parity: the public sets through every form ---------------------------------------------

def test_public_csv_groups_as_json_twins(grouper, public, tmp_path):
    head, rows = wide_rows(public)
    path = write_csv(tmp_path / "claims.csv", head, rows)
    assert_twins(grouper, public, group_file(grouper, path))


@pytest.mark.parametrize("form", ["gzip", "bom", "tsv", "bom_gzip_crlf"])
def test_public_csv_forms_group_as_json_twins(grouper, public, tmp_path, form):
    claims = public[:2500]
    head, rows = wide_rows(claims)
    if form == "gzip":
        path = write_csv(tmp_path / "claims.csv.gz", head, rows, gz=True)
    elif form == "bom":
        path = write_csv(tmp_path / "claims.csv", head, rows, bom=True)
    elif form == "tsv":
        path = write_csv(tmp_path / "claims.tsv", head, rows, delimiter="\t")
    else:
        path = write_csv(tmp_path / "claims.csv.gz", head, rows, bom=True, gz=True, lineterminator="\r\n")
    assert_twins(grouper, claims, group_file(grouper, path))


def test_public_csv_mapping_file_groups_as_json_twins(grouper, public, tmp_path):
    claims = public[:2500]
    names = {"id": "ACCOUNT", "version": "GROUPER_VER", "age": "AGE_YRS", "sex": "GENDER",
             "discharge_status": "DISCH_STAT", "hospital_status": "HOSP_POA_STATUS",
             "dx": "DIAG_{n}", "poa": "DIAG_POA_{n}", "px": "PROC_{n}"}
    head, rows = wide_rows(claims, names)
    path = write_csv(tmp_path / "export.csv", head, rows)
    m = tmp_path / "map.toml"
    m.write_text("\n".join(f'{k} = "{v}"' for k, v in names.items()) + "\n")
    assert_twins(grouper, claims, group_file(grouper, path, str(m)))


def test_public_xlsx_groups_as_json_twins(grouper, public, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    claims = public[:1200]
    head, rows = wide_rows(claims)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(head)
    for r in rows:
        ws.append([int(v) if k in (2, 4) else (v or None) for k, v in enumerate(r)])  # numbers as numbers
    path = tmp_path / "claims.xlsx"
    wb.save(path)
    assert_twins(grouper, claims, group_file(grouper, path))


def test_pandas_csv_windows_quoting(grouper, public, tmp_path):
    """A CSV as pandas writes it on Windows: CRLF, every cell quoted, a BOM (utf-8-sig), an index column."""
    pd = pytest.importorskip("pandas")
    claims = public[:1500]
    head, rows = wide_rows(claims)
    df = pd.DataFrame(rows, columns=head)
    path = tmp_path / "pandas.csv"
    df.to_csv(path, quoting=csv.QUOTE_ALL, lineterminator="\r\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert_twins(grouper, claims, group_file(grouper, path))


def test_pandas_xlsx(grouper, public, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("openpyxl")
    claims = public[:800]
    head, rows = wide_rows(claims)
    df = pd.DataFrame(rows, columns=head).replace("", None)
    df["age"] = df["age"].astype(int)
    df["discharge_status"] = df["discharge_status"].astype(int)
    path = tmp_path / "pandas.xlsx"
    df.to_excel(path, index=False)
    assert_twins(grouper, claims, group_file(grouper, path))


def test_claim_batches_for_other_commands(public, tmp_path):
    head, rows = wide_rows(public[:100])
    path = write_csv(tmp_path / "c.csv", head, rows)
    batches = list(tabular.claim_batches(str(path)))
    t = pa.Table.from_batches(batches)
    assert t.num_rows == 100
    assert {"id", "version", "age", "sex", "pdx", "sdx", "procedures", "cell_error"} <= set(t.schema.names)


# ---- dates, ages and codes -----------------------------------------------------------------------

def _one(tmp_path, text: str, name="c.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_dates_and_birth_date_age(grouper, tmp_path):
    text = ("id,discharge_date,admission_date,birth_date,sex,discharge_status,dx1,poa1,DX2,poa2,px1\n"
            "a,2025-10-10,2025-10-01,1950-10-02,M,1,I21.4,Y,E11.22,Y,02703DZ\n"
            "b,20251010,20251001,19501001,M,1,I214,Y,,,02703DZ\n"
            "c,10/10/2025,10/01/2025,10/01/1950,M,01,i214,y,e1122,y,02703dz\n")
    rows = group_file(grouper, _one(tmp_path, text))
    base = {"discharge_date": "2025-10-10", "admission_date": "2025-10-01", "sex": "M", "discharge_status": 1,
            "pdx": {"code": "I214", "poa": "Y"}, "procedures": ["02703DZ"]}
    claims = [dict(base, id="a", age=74, sdx=[{"code": "E1122", "poa": "Y"}]),
              dict(base, id="b", age=75, sdx=[]),
              dict(base, id="c", age=75, sdx=[{"code": "E1122", "poa": "Y"}])]
    assert_twins(grouper, claims, rows)


def test_bad_cell_names_its_column_rest_grouped(grouper, tmp_path):
    text = ("id,version,birth_date,admission_date,sex,discharge_status,dx1,dx2,dx3,dx4,dx5,dx6,dx7,px1\n"
            "ok1,43.1,1950-01-01,2025-10-01,M,1,I214,,E1122,,,,,02703DZ\n"
            "bad-dx,43.1,1950-01-01,2025-10-01,M,1,I214,E1122,,,,,E11 22,\n"
            "bad-birth,43.1,1950-13-45,2025-10-01,M,1,I214,,,,,,,\n"
            "late-birth,43.1,2026-01-01,2025-10-01,M,1,I214,,,,,,,\n"
            "ok2,43.1,1950-01-01,2025-10-01,F,1,I214,,,,,,,\n")
    rows = group_file(grouper, _one(tmp_path, text))
    by = {r["id"]: r for r in rows}
    assert by["ok1"]["error"] is None and by["ok1"]["drg"]
    assert by["ok2"]["error"] is None and by["ok2"]["drg"]
    assert by["bad-dx"]["error"]["field"] == "dx7"
    assert by["bad-dx"]["drg"] is None
    assert by["bad-birth"]["error"]["field"] == "birth_date"
    assert by["late-birth"]["error"]["field"] == "birth_date"


def test_missing_required_columns_named(tmp_path):
    p = _one(tmp_path, "id,age,dx1\n1,70,I214\n")
    with pytest.raises(TableError) as e:
        tabular.open_table(str(p))
    msg = str(e.value)
    assert "version or discharge_date" in msg and "sex" in msg and "discharge_status" in msg
    assert "id, age, dx1" in msg


def test_mapping_names_a_column_the_file_lacks(tmp_path):
    p = _one(tmp_path, "id,version,age,sex,discharge_status,dx1\n1,43.1,70,M,1,I214\n")
    m = tmp_path / "m.toml"
    m.write_text('pdx = "PRIN_DX"\n')
    with pytest.raises(TableError) as e:
        tabular.open_table(str(p), str(m))
    assert "PRIN_DX" in str(e.value)


def test_latin1_csv_refused(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes("id,version,age,sex,discharge_status,dx1,name\n1,43.1,70,M,1,I214,Jos\u00e9\n".encode("latin-1"))
    with pytest.raises(TableError) as e:
        tabular.open_table(str(p))
    assert "UTF-8" in str(e.value) and "iconv -f latin1 -t utf-8" in str(e.value)


# ---- the command line -------------------------------------------------------------------------------

def _cli(*argv, stdin=None):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "engine.cli", *argv], capture_output=True, env=env,
                          input=stdin, timeout=600)


def test_cli_csv_to_csv_ndjson_and_bad_input(public, tmp_path):
    claims = public[:300]
    head, rows = wide_rows(claims)
    src = write_csv(tmp_path / "claims.csv", head, rows, bom=True)
    out = tmp_path / "results.csv"
    r = _cli("group", str(src), "-o", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    with open(out, newline="") as f:
        got = list(csv.DictReader(f))
    assert len(got) == len(claims)
    assert got[0]["id"] == claims[0]["id"] and "drg" in got[0] and "dx25" in got[0]
    r = _cli("group", str(src), "-q")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert len(lines) == len(claims) and json.loads(lines[0])["id"] == claims[0]["id"]
    # the required columns missing: exit 2 naming them and the names seen
    bad = _one(tmp_path, "id,age,dx1\n1,70,I214\n", "bad.csv")
    r = _cli("group", str(bad))
    assert r.returncode == 2 and b"sex" in r.stderr and b"id, age, dx1" in r.stderr
    m = tmp_path / "m.toml"
    m.write_text('pdx = "PRIN_DX"\n')
    r = _cli("group", str(src), "--columns", str(m))
    assert r.returncode == 2 and b"PRIN_DX" in r.stderr


def test_cli_bom_ndjson_loses_nothing(public, tmp_path):
    claims = public[:50]
    body = b"\xef\xbb\xbf" + b"\n".join(json.dumps(c).encode() for c in claims) + b"\n"
    p = tmp_path / "bom.jsonl"
    p.write_bytes(body)
    r = _cli("group", str(p), "-q")
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(out) == 50 and not any("error" in o and o["error"].get("field") == "json" for o in out)
    assert out[0]["id"] == claims[0]["id"]
    gz = tmp_path / "bom.jsonl.gz"
    gz.write_bytes(gzip.compress(body))
    r = _cli("group", str(gz), "-q")
    assert r.returncode == 0 and len(r.stdout.decode().splitlines()) == 50


def test_cli_latin1_ndjson_refused(tmp_path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes('{"id": "Jos\u00e9", "version": "43.1"}\n'.encode("latin-1"))
    r = _cli("group", str(p), "-q")
    assert r.returncode == 2
    assert b"UTF-8" in r.stderr and b"iconv" in r.stderr


# ---- the service: JSON and NDJSON bodies with a BOM -------------------------------------------------

def test_service_bom_bodies_lose_nothing(grouper, public):
    import anyio
    import httpx
    import orjson

    from service.app import create_app
    from service.settings import Settings

    claims = public[:40]
    app = create_app(grouper=grouper, settings=Settings())
    bom = b"\xef\xbb\xbf"

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
            one = await c.post("/v1/group", content=bom + orjson.dumps(claims[0]),
                               headers={"content-type": "application/json"})
            batch = await c.post("/v1/group/batch", content=bom + orjson.dumps({"claims": claims}),
                                 headers={"content-type": "application/json"})
            body = bom + b"\n".join(orjson.dumps(x) for x in claims)

            async def pieces():  # the BOM itself cut across body messages
                yield body[:2]
                yield body[2:1000]
                yield body[1000:]

            stream = await c.post("/v1/group/stream", content=pieces())
            return one, batch, stream

    one, batch, stream = anyio.run(run)
    want = grouper.group(claims)
    assert one.status_code == 200 and one.json() == want[0]
    assert batch.status_code == 200
    assert stream.status_code == 200
    lines = [orjson.loads(x) for x in stream.content.splitlines()]
    assert lines == want
    assert batch.json()["results"] == want if isinstance(batch.json(), dict) else batch.json() == want


def test_cli_wide_results_row_for_row_xlsx_and_gzip(public, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    claims = public[:120]
    head, rows = wide_rows(claims)
    src = write_csv(tmp_path / "claims.csv", head, rows)
    r = _cli("group", str(src), "-o", str(tmp_path / "out.xlsx"), "-q")
    assert r.returncode == 0, r.stderr
    got = list(openpyxl.load_workbook(tmp_path / "out.xlsx", read_only=True).active.iter_rows(values_only=True))
    assert len(got) == 1 + len(claims)
    names = list(got[0])
    assert names[:len(head)] == head and {"drg", "mdc", "weight", "return_code", "error"} <= set(names)
    assert [g[0] for g in got[1:]] == [c["id"] for c in claims]  # row for row
    r = _cli("group", str(src), "-o", str(tmp_path / "out.csv.gz"), "-q")
    assert r.returncode == 0, r.stderr
    with gzip.open(tmp_path / "out.csv.gz", "rt", newline="") as f:
        back = list(csv.DictReader(f))
    assert [b["id"] for b in back] == [c["id"] for c in claims]


def test_cli_edit_csv(public, tmp_path):
    claims = public[:60]
    head, rows = wide_rows(claims)
    src = write_csv(tmp_path / "claims.csv", head, rows)
    r = _cli("edit", str(src), "-q")
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(out) == 60 and all("edit_type" in o or "error" in o or "edit_error" in o for o in out)


def test_ndjson_results_byte_for_byte_as_json_twins(grouper, public, tmp_path):
    """CSV in, NDJSON out: each line is the one the claim's JSON text gives (the JSON road)."""
    import orjson

    head, rows = wide_rows(public)
    path = write_csv(tmp_path / "claims.csv", head, rows, bom=True)
    src = tabular.open_table(str(path))
    got = b"".join(lines for lines, *_ in tabular.group_json(grouper, src))
    want = grouper.group_json_texts([orjson.dumps(c) for c in public], separator=b"\n").join(suffix=b"\n")
    assert got.splitlines() == want.splitlines()


def test_row_with_wrong_cell_count_gets_its_own_error_row(grouper, tmp_path):
    """The CSV reader cannot place a row with too few or too many cells: it gets a result row of
    its own, in place, whose error names the row (its line, the cells expected and seen); the rows
    around it group, in file order (NDJSON, Arrow, wide CSV)."""
    text = ("id,version,age,sex,discharge_status,dx1\nA1,43.1,70,M,1,I214\nA2,43.1,70,M,1\n\n"
            "A3,43.1,70,M,1,I214,extra\nA4,43.1,70,F,1,I214\n")
    p = _one(tmp_path, text)
    r = _cli("group", str(p), "--no-detail")
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(out) == 4
    assert out[0]["id"] == "A1" and out[0]["drg"] and out[3]["id"] == "A4" and out[3]["drg"]
    assert out[1]["error"]["field"] == "row" and "line 3: 5 cells, the header has 6" in out[1]["error"]["reason"]
    assert out[2]["error"]["field"] == "row" and "line 4: 7 cells, the header has 6" in out[2]["error"]["reason"]
    assert b"2 row(s)" in r.stderr and b"wrong number of cells" in r.stderr
    rows = group_file(grouper, p, detail=False)
    assert [x["id"] for x in rows] == ["A1", None, None, "A4"]
    assert [x["error"]["field"] if x["error"] else None for x in rows] == [None, "row", "row", None]
    r = _cli("group", str(p), "-o", str(tmp_path / "out.csv"), "-q")
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "out.csv", newline="") as f:
        back = list(csv.DictReader(f))
    assert [b["id"] for b in back] == ["A1", "", "", "A4"]
    assert back[1]["error"].startswith("row: line 3") and back[0]["error"] == ""


def test_wrong_cell_count_rows_placed_across_batches_and_at_the_end(grouper, tmp_path):
    """Bad rows in many record batches (small blocks), first and last in the file: each in place."""
    head = "id,version,age,sex,discharge_status,dx1\n"
    lines, want = [], []
    for k in range(3000):
        if k % 250 == 0 or k == 2999:
            lines.append(f"B{k},43.1,70\n")
            want.append(None)
        else:
            lines.append(f"G{k},43.1,70,M,1,I214\n")
            want.append(f"G{k}")
    p = _one(tmp_path, head + "".join(lines))
    src = tabular.open_table(str(p), block_bytes=4096)
    got = [r for _, res in tabular.group_batches(grouper, src) for r in res.to_pylist()]
    assert [r["id"] for r in got] == want
    assert all((r["error"] is not None) == (w is None) for r, w in zip(got, want))
    assert got[0]["error"]["reason"].startswith("line 2: 3 cells")


def test_poa_and_sex_errors_name_the_files_columns(grouper, tmp_path):
    p = _one(tmp_path, "ACCOUNT,VER,AGE,GENDER,STAT,PRIN_DX,DIAG_02,DIAG_POA_02\n"
                       "A1,43.1,70,M,1,I214,E1122,YY\nA2,43.1,70,X,1,I214,,\nA3,43.1,70,F,1,I214,E1122,Y\n")
    m = tmp_path / "m.toml"
    m.write_text('id = "ACCOUNT"\nversion = "VER"\nage = "AGE"\nsex = "GENDER"\ndischarge_status = "STAT"\n'
                 'pdx = "PRIN_DX"\ndx = "DIAG_{n}"\npoa = "DIAG_POA_{n}"\n')
    rows = group_file(grouper, p, str(m))
    assert rows[0]["error"]["field"] == "DIAG_POA_02"
    assert rows[1]["error"]["field"] == "GENDER"
    assert rows[2]["error"] is None and rows[2]["drg"]


def test_latin1_past_the_first_megabyte_refused(tmp_path):
    """Bytes that are not UTF-8 after the part checked up front stop the read with the same message."""
    good = "A{k},43.1,70,M,1,I214\n"
    body = "id,version,age,sex,discharge_status,dx1\n" + "".join(good.format(k=k) for k in range(80_000))
    p = tmp_path / "late.csv"
    p.write_bytes(body.encode() + "Z1,43.1,70,M,1,I214,Jos\u00e9\n".replace(",Jos\u00e9", "\u00e9").encode("latin-1"))
    assert p.stat().st_size > (1 << 20)
    src = tabular.open_table(str(p))
    with pytest.raises(TableError) as e:
        for _ in src.batches():
            pass
    assert "UTF-8" in str(e.value) and "iconv" in str(e.value)
    r = _cli("group", str(p), "-o", str(tmp_path / "out.csv"), "-q")
    assert r.returncode == 2 and b"iconv" in r.stderr


def test_service_latin1_body_is_a_400_saying_not_utf8_and_how_to_convert(grouper, public):
    """A JSON body in Latin-1 (bytes that are not UTF-8) is a 4xx that says so and how to convert it,
    as the command line does; an NDJSON stream answers such a line with that error in its place."""
    import anyio
    import httpx
    import orjson

    from service.app import create_app
    from service.settings import Settings

    app = create_app(grouper=grouper, settings=Settings())
    claim = dict(public[0], id="Jos\u00e9")
    latin1 = orjson.dumps(claim).decode().encode("latin-1")
    batch = ('{"claims":[' + orjson.dumps(public[1]).decode() + "," + latin1.decode("latin-1") + "]}").encode("latin-1")
    stream_body = orjson.dumps(public[1]) + b"\n" + latin1 + b"\n" + orjson.dumps(public[2]) + b"\n"

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
            h = {"content-type": "application/json"}
            one = await c.post("/v1/group", content=latin1, headers=h)
            one_edits = await c.post("/v1/group?edits=true", content=latin1, headers=h)
            many = await c.post("/v1/group/batch", content=batch, headers=h)
            stream = await c.post("/v1/group/stream", content=stream_body)
            return one, one_edits, many, stream

    one, one_edits, many, stream = anyio.run(run)
    for r in (one, one_edits, many):
        assert 400 <= r.status_code < 500, r.status_code
        text = r.text
        assert "not UTF-8" in text and "iconv -f latin1 -t utf-8" in text, text
        assert "Jos" not in text  # the body is never echoed
    assert stream.status_code == 200
    lines = [orjson.loads(x) for x in stream.content.splitlines()]
    assert len(lines) == 3 and lines[0].get("drg") and lines[2].get("drg")
    assert "not UTF-8" in lines[1]["error"]["reason"] and "iconv" in lines[1]["error"]["reason"]


def test_cli_casemix_reads_wide_tables_bad_rows_refused_by_column(grouper, public, tmp_path):
    """``fastdrg casemix`` takes what ``fastdrg group`` takes: a wide CSV's summary is its JSON twins'
    summary; a bad row is counted refused under its column's reason (no line number, no value)."""
    import orjson

    claims = public[:2000]
    head, rows = wide_rows(claims)
    bad_code, bad_age = list(rows[0]), list(rows[1])
    bad_code[head.index("dx7")] = "E11 22"
    bad_age[head.index("age")] = "ab"
    path = write_csv(tmp_path / "claims.csv.gz", head, rows + [bad_code, bad_age, ["short", "43.1"]], gz=True,
                     bom=True)
    r = _cli("casemix", str(path), "--json", str(tmp_path / "s.json"), "--to", "43.1", "--no-progress")
    assert r.returncode == 0, r.stderr
    got = json.loads((tmp_path / "s.json").read_text())
    want = json.loads(orjson.dumps(grouper.casemix([orjson.dumps(c) for c in claims], to="43.1")))
    refused = got.pop("refused")
    keys = list(refused["by_reason"])
    assert refused["total"] == want["refused"]["total"] + 3
    assert any(k.startswith("age: ") for k in keys) and any(k.startswith("row: ") for k in keys), keys
    assert "E11 22" not in json.dumps(refused) and "line " not in json.dumps(refused)
    assert got["claims"] == want["claims"] + 3
    for k in want:
        if k not in ("refused", "claims"):
            assert got[k] == want[k], k
