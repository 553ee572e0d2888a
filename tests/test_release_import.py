"""Importing CMS release files (engine.data): the same tables from either source,
a "future" release end to end, and every bad file refused without harm.

The release files are ../shared/cms-release/ (v43.1's data, as CMS ships them).
The future release is built here (tests/release_tools.py): every v43.1 entry
also labelled V450, packed into a msdrg-binary-access jar inside a release zip,
as CMS ships it.  Each test that imports uses a fresh data directory.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import httpx
import orjson
import pytest

from conftest import PUBLIC_CLAIMS, SHARED
from oracle import public_to_claim
from release_tools import also, jar_bytes, relabel, release_zip

RELEASE = SHARED / "cms-release"
BIN = RELEASE / "msdrg_combined.bin"
MCE_BIN = RELEASE / "mce" / "mce.bin"
METADATA = "Date/time: Thu Oct 01 09:00:00 EDT 2027\nBuilt from: test\nRevision: [1]\nEnvironment: TEST\n"

pytestmark = pytest.mark.skipif(not BIN.is_file(), reason=f"CMS release files not found at {RELEASE}")


def _import(paths, data_dir, capsys):
    from engine.cli import main

    rc = main(["tables", "import", *map(str, paths), "--data-dir", str(data_dir)])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def future_zip(tmp_path_factory):
    """A v45.0 release: the shared file with every v43.1 entry also labelled V450."""
    path = tmp_path_factory.mktemp("release") / "msdrg-45.0-release.zip"
    release_zip(path, relabel(BIN.read_bytes(), also(431, 450)), "45.0", METADATA)
    return path


@pytest.fixture(scope="module")
def future(tmp_path_factory, future_zip):
    """A fresh data directory with the future release imported, and its Grouper."""
    from engine import Grouper
    from engine.cli import main

    data_dir = tmp_path_factory.mktemp("data")
    assert main(["tables", "import", str(future_zip), "--data-dir", str(data_dir)]) == 0
    return data_dir, Grouper(data_dir=data_dir)


@pytest.fixture(scope="module")
def from_release(tmp_path_factory):
    """The shared release file imported: v40.0-v43.1 from CMS's data, v44.0 from msdrg."""
    from engine import Grouper
    from engine.cli import main

    data_dir = tmp_path_factory.mktemp("data")
    assert main(["tables", "import", str(BIN), "--data-dir", str(data_dir)]) == 0
    return Grouper(data_dir=data_dir)


def _records(path):
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ---- same tables from either source ------------------------------------------------------------

@pytest.mark.parametrize("versions", [
    (400, 431), pytest.param((401, 410, 411, 420, 421, 430), marks=pytest.mark.slow)])
def test_release_source_equals_msdrg_source(versions):
    """The release's records, decoded by our wire reader, hold the same content for
    every version as the msdrg package's file (ids resolved, order of evaluation kept)."""
    from engine.data.content import version_content
    from engine.data.release import decode_release, release_versions
    from engine.source import load_source

    rel = decode_release(BIN.read_bytes())
    pkg = load_source()
    assert release_versions(rel) == (400, 401, 410, 411, 420, 421, 430, 431)
    for v in versions:
        a, b = version_content(rel, v), version_content(pkg, v)
        assert [k for k in a if a[k] != b[k]] == [], v


def test_release_tables_group_every_public_set_alike(grouper, from_release):
    """Grouped with the tables compiled from the release (v40.0-v43.1) and with the
    package's, every public claim gets the same full result."""
    assert [r["source"] for r in from_release.version_ranges()] == ["cms-release"] * 8 + [
        grouper.version_source("44.0")["source"]]
    for path in (PUBLIC_CLAIMS, SHARED / "eval" / "public_hac.jsonl", SHARED / "eval" / "public_edits.jsonl"):
        claims = [public_to_claim(r) for r in _records(path)]
        a, b = grouper.group(claims), from_release.group(claims)
        bad = [c["id"] for c, x, y in zip(claims, a, b) if x != y]
        assert not bad, (path.name, len(bad), bad[:5])
    for version in from_release.versions[:8]:
        for drg in (1, 291, 470, 999):
            assert from_release.drg_info(version, drg) == grouper.drg_info(version, drg)


# ---- a future release, end to end --------------------------------------------------------------

def test_future_release_engine(grouper, future, future_zip):
    _, g = future
    assert g.versions == ["40.0", "40.1", "41.0", "41.1", "42.0", "42.1", "43.0", "43.1", "44.0", "45.0"]
    src = g.version_source("45.0")
    assert src["source"] == "cms-release" and src["file"] == future_zip.name
    assert src["built"] == "Thu Oct 01 09:00:00 EDT 2027" and len(src["sha256"]) == 64
    assert g.version_source("44.0")["source"].startswith("msdrg")
    # v45.0 holds v43.1's tables: every v43.1 public claim groups alike, labelled 45.0
    claims = [public_to_claim(r) for r in _records(PUBLIC_CLAIMS) if r["version"] == 431][:2000]
    want = grouper.group(claims)
    got = g.group([{**c, "version": "45.0"} for c in claims])
    # the grouping is v43.1's; what it pays is FY2028's Table 5, which is not loaded (never FY2026's numbers)
    pay = ("fiscal_year", "weights_missing", "weight", "weight_uncapped", "gmlos", "amlos", "post_acute",
           "special_pay", "initial_weight", "transfer", "adjusted_weight", "payment_estimate")
    assert [{**{k: v for k, v in r.items() if k not in pay}, "version": "43.1"} for r in got] == \
        [{k: v for k, v in r.items() if k not in pay} for r in want]
    assert all(r["fiscal_year"] == 2028 and r["weight"] is None and "FY2028" in r["weights_missing"]
               for r in got if "error" not in r)
    # date routing: v45.0 from 2027-10-01; v44.1's period has no tables (an error, not a fallback)
    c = {k: v for k, v in claims[0].items() if k != "version"}
    assert g.group([{**c, "discharge_date": "2027-10-01"}])[0]["version"] == "45.0"
    assert g.group([{**c, "discharge_date": "2028-03-31"}])[0]["version"] == "45.0"
    assert g.group([{**c, "discharge_date": "2026-12-01"}])[0]["version"] == "44.0"
    for day in ("2027-04-01", "2028-04-01"):
        assert g.group([{**c, "discharge_date": day}])[0]["error"]["field"] == "discharge_date"
    assert g.version_for_date("2027-10-01") == "45.0" and grouper.version_for_date("2026-10-01") == "44.0"
    with pytest.raises(ValueError):
        grouper.version_for_date("2027-10-01")  # the package alone has no v45.0
    # the compiled reader takes "45.0" like any version
    doc = orjson.loads(g.group_json_texts([orjson.dumps({**claims[0], "version": "45.0"})]).documents[0])
    assert doc["version"] == "45.0" and doc["drg"] == want[0]["drg"]
    info = {k: v for k, v in g.drg_info("45.0", 291).items() if k not in pay}
    assert info == {**{k: v for k, v in grouper.drg_info("43.1", 291).items() if k not in pay}, "version": "45.0"}


def test_future_release_through_arrow(grouper, future, tmp_path):
    """An imported version (v45.0) through Arrow and Parquet as through group():
    by label, by number, routed from a discharge date (date32 and text), its
    title and edit date; v44.1's period is an error, not a fallback."""
    pa = pytest.importorskip("pyarrow")
    import datetime as dt

    from arrow_helpers import as_result

    data_dir, g = future
    claims = [public_to_claim(r) for r in _records(PUBLIC_CLAIMS) if r["version"] == 431][:300]
    claims = [{k: v for k, v in c.items() if k != "version"} for c in claims]
    by_date = [{**c, "discharge_date": "2027-10-01"} for c in claims] + [{**claims[0], "discharge_date": "2027-04-01"}]
    want = g.group(by_date, detail=False, edits=True)
    assert {w["version"] for w in want[:-1]} == {"45.0"} and want[-1]["error"]["field"] == "discharge_date"
    table = pa.table({
        "id": [c["id"] for c in by_date], "age": [c["age"] for c in by_date], "sex": [c["sex"] for c in by_date],
        "discharge_status": [c["discharge_status"] for c in by_date],
        "hospital_status": [c["hospital_status"] for c in by_date],
        "pdx": [c["pdx"] if isinstance(c["pdx"], str) else c["pdx"]["code"] for c in by_date],
        "pdx_poa": [None if isinstance(c["pdx"], str) else c["pdx"].get("poa") for c in by_date],
        "sdx": pa.array([[x if isinstance(x, dict) else {"code": x, "poa": None} for x in c["sdx"]] for c in by_date],
                        pa.list_(pa.struct([("code", pa.string()), ("poa", pa.string())]))),
        "procedures": pa.array([c["procedures"] for c in by_date], pa.list_(pa.string())),
        "discharge_date": [c["discharge_date"] for c in by_date],
    })
    for t in (table, table.set_column(table.schema.get_field_index("discharge_date"), "discharge_date",
                                      pa.array([dt.date.fromisoformat(c["discharge_date"]) for c in by_date]))):
        got = [as_result(r, False) for r in g.group_arrow(t, edits=True).to_pylist()]
        assert got == want
    by_version = table.drop_columns(["discharge_date"]).append_column("version", pa.array(["45.0"] * len(by_date)))
    want = g.group([{**c, "version": "45.0"} for c in claims], detail=False)
    assert [as_result(r, False) for r in g.group_arrow(by_version.slice(0, 300)).to_pylist()] == want
    by_number = by_version.set_column(by_version.schema.get_field_index("version"), "version",
                                      pa.array([450] * len(by_date), pa.int16()))
    assert [as_result(r, False) for r in g.group_arrow(by_number.slice(0, 300)).to_pylist()] == want
    # the command line loads the data directory's versions too
    import pyarrow.parquet as pq

    from engine.cli import main

    pq.write_table(by_version, tmp_path / "c.parquet")
    assert main(["group", str(tmp_path / "c.parquet"), "-o", str(tmp_path / "r.parquet"), "-q",
                 "--data-dir", str(data_dir)]) == 0
    assert set(pq.read_table(tmp_path / "r.parquet").column("version").to_pylist()) == {"45.0"}


def test_future_release_cli(future, tmp_path, capsys):
    from engine.cli import main

    data_dir, _ = future
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id":"a","discharge_date":"2027-10-01","age":67,"sex":"F","discharge_status":1,'
                    b'"pdx":"I5021","sdx":["N170"]}\n{"id":"b","version":"45.0","age":67,"sex":"F",'
                    b'"discharge_status":1,"pdx":"I5021"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["group", str(src), "-o", str(out), "-q", "--data-dir", str(data_dir)]) == 0
    docs = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [d["version"] for d in docs] == ["45.0", "45.0"] and docs[0]["drg"] == "291"
    capsys.readouterr()
    assert main(["tables", "list", "--json", "--data-dir", str(data_dir)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[-1]["version"] == "45.0" and rows[-1]["source"] == "cms-release"
    assert set(rows[-1]) == {"version", "source", "file", "sha256", "built", "editor_source", "editor_file"}
    assert [r["version"] for r in rows if r["source"].startswith("msdrg")] == ["44.0"]
    assert main(["tables", "list", "--data-dir", str(data_dir)]) == 0
    assert "45.0" in capsys.readouterr().out


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_future_release_service(future, caplog):
    import logging

    from service.app import create_app

    _, g = future
    with caplog.at_level(logging.INFO):
        app = create_app(grouper=g)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
            doc = (await c.get("/v1/versions")).json()
            assert doc["latest"] == "45.0"
            top = doc["versions"][0]
            assert top["version"] == "45.0" and top["source"] == "cms-release"
            assert top["first_discharge_date"] == "2027-10-01" and top["last_discharge_date"] == "2028-03-31"
            assert set(top) >= {"version", "source", "file", "sha256", "built"}
            claim = {"id": "x", "discharge_date": "2027-10-01", "age": 67, "sex": "F", "discharge_status": 1,
                     "pdx": "I5021", "sdx": ["N170"]}
            r = await c.post("/v1/group", json=claim)
            assert r.status_code == 200 and r.json()["version"] == "45.0" and r.json()["drg"] == "291"
            r = await c.get("/v1/drgs/291", params={"version": "45.0"})
            assert r.status_code == 200 and r.json()["version"] == "45.0"
            r = await c.get("/v1/codes/I5021", params={"version": "450"})
            assert r.status_code == 200 and r.json()["validity"]["45.0"] is True
    served = [r for r in caplog.records if r.getMessage() == "serving versions"]
    assert {getattr(r, "source") for r in served} == {"cms-release", g.version_source("44.0")["source"]}


# ---- safe import -------------------------------------------------------------------------------

def _state(data_dir):
    """Everything in the data directory (names and bytes)."""
    return {str(p.relative_to(data_dir)): p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def imported_once(tmp_path_factory, future_zip):
    from engine.cli import main

    d = tmp_path_factory.mktemp("used") / "data"
    assert main(["tables", "import", str(future_zip), "--data-dir", str(d)]) == 0
    return d


@pytest.fixture
def used_dir(tmp_path, imported_once):
    """A data directory already holding an import (the tables in use)."""
    import shutil

    return Path(shutil.copytree(imported_once, tmp_path / "data"))


def _refused(paths, data_dir, capsys, *words):
    before = _state(data_dir)
    rc, out, err = _import(paths, data_dir, capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]
    assert _state(data_dir) == before  # the tables in use untouched, nothing left behind
    return lines[0]


def test_truncated_file_is_refused(used_dir, tmp_path, capsys):
    bad = tmp_path / "msdrg_combined.bin"
    bad.write_bytes(BIN.read_bytes()[:1_000_003])
    _refused([bad], used_dir, capsys, "msdrg_combined.bin", "not a well-formed protobuf")


def test_truncated_zip_is_refused(used_dir, future_zip, tmp_path, capsys):
    bad = tmp_path / "msdrg-45.0-release.zip"
    bad.write_bytes(future_zip.read_bytes()[: future_zip.stat().st_size // 2])
    _refused([bad], used_dir, capsys, "msdrg-45.0-release.zip", "truncated or corrupt")


def test_corrupt_file_is_refused(used_dir, tmp_path, capsys):
    raw = bytearray(BIN.read_bytes()[:200_000])
    raw[0:64] = bytes(range(200, 256)) + bytes(8)
    bad = tmp_path / "corrupt.bin"
    bad.write_bytes(bytes(raw))
    _refused([bad], used_dir, capsys, "corrupt.bin")


def test_jar_without_the_data_is_refused(used_dir, tmp_path, capsys):
    bad = tmp_path / "msdrg-binary-access-45.0.jar"
    bad.write_bytes(jar_bytes(None))
    _refused([bad], used_dir, capsys, "msdrg-binary-access-45.0.jar", "no MS-DRG")


@pytest.mark.parametrize("name", ["README.md", "data.proto"])
def test_file_of_the_wrong_kind_is_refused(used_dir, name, capsys):
    _refused([RELEASE / name], used_dir, capsys, name)


def test_mce_data_as_grouper_data_is_refused(used_dir, tmp_path, capsys):
    if not MCE_BIN.is_file():
        pytest.skip("no mce.bin")
    bad = tmp_path / "msdrg_combined.bin"
    bad.write_bytes(MCE_BIN.read_bytes())
    _refused([bad], used_dir, capsys, "msdrg_combined.bin", "not an MS-DRG release")


def test_two_files_one_version_different_content_is_refused(used_dir, tmp_path, capsys):
    """The shared file and a release whose v43.1 is v43.0's tables, given together."""
    other = tmp_path / "other.zip"
    release_zip(other, relabel(BIN.read_bytes(), lambda v: [] if v == 431 else ([430, 431] if v == 430 else [v])),
                "43.1")
    line = _refused([BIN, other], used_dir, capsys, "other.zip", "v43.1", "different content", "msdrg_combined.bin")
    assert line.startswith("fastdrg: cannot import")


@pytest.mark.slow
def test_same_content_twice_is_fine(tmp_path, future_zip, capsys):
    """The release zip and the bare file it carries v40.0-v43.1 of, together: same content."""
    rc, out, err = _import([BIN, future_zip], tmp_path / "d", capsys)
    assert rc == 0, err


def test_mce_release_is_imported_as_records(tmp_path, capsys):
    """The code editor's jar: its records stored in the documented form (engine.data.mce)."""
    if not MCE_BIN.is_file():
        pytest.skip("no mce.bin")
    from engine.data import store

    jar = tmp_path / "MCE-2.0-43.1.jar"
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("mce.bin", MCE_BIN.read_bytes())
        z.writestr("bin-info.txt", (RELEASE / "mce" / "bin-info.txt").read_text())
    rc, out, err = _import([jar], tmp_path / "d", capsys)
    assert rc == 0, err
    (imp,) = store.mce_imports(tmp_path / "d")
    assert imp["file"] == jar.name and imp["built"] == "2026-01-13 23:30:07.455"
    assert imp["last_date"] == "2026-09-30" and "through 2026-09-30" in out  # its termination date
    records = json.loads(open(imp["records"]).read())
    assert len(records["icd10_dx"]) > 70_000 and len(records["icd10_pcs"]) > 70_000
    assert {"code", "start", "end", "flags"} == set(records["icd10_dx"][0])
