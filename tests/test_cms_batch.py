"""CMS's batch input layout (engine.io.cms_batch): the public sets written as 835-byte records
group exactly as their JSON twins (five fields and per-code detail, through the Arrow road and
byte for byte through the JSON road); CMS's rules on dates (the worked-out age and stay override
the ones given); a bad record gets its own error naming the field and its record number, the rest
of the file groups; the command line reads it plain, gzip, with a BOM and CRLF."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys

import pytest

pa = pytest.importorskip("pyarrow")

from engine.io import cms_batch, tabular  # noqa: E402
from oracle import public_to_claim  # noqa: E402
from test_tabular import EVAL, FIVE, REPO  # noqa: E402
from test_tabular import assert_twins as _assert_twins  # noqa: E402


def _public(name: str) -> list[dict]:
    path = EVAL / name
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared public sets)")
    with open(path) as f:
        return [public_to_claim(json.loads(line)) for line in f]


def _files(claims, tmp_path: Path, tag: str):
    """The claims as batch files, one per (version, blank Apply-HAC-logic status): the layout holds
    no version (it is given for the file) and no code for a hospital status 'unknown' (a blank byte,
    the status given for the file). Yields (path, version, status for blank, the claims written)."""
    groups: dict = {}
    for c in claims:
        unknown = c.get("hospital_status") == "unknown"
        groups.setdefault((c["version"], unknown), []).append(c)
    written = 0
    for k, ((version, unknown), cs) in enumerate(sorted(groups.items())):
        plain = [{key: v for key, v in c.items() if not (unknown and key == "hospital_status")} for c in cs]
        data, left = cms_batch.claims_records(plain)
        kept = [c for c, p in zip(cs, plain) if not any(p is x for x in left)]
        path = tmp_path / f"{tag}-{k}.txt"
        path.write_bytes(data)
        written += len(kept)
        yield path, version, ("unknown" if unknown else None), kept
    assert written >= 0.97 * len(claims)  # only claims the layout cannot hold (> 24 secondary dx) are left out


@pytest.mark.parametrize("name", ["public_claims.jsonl", "public_hac.jsonl"])
def test_public_sets_in_cms_batch_layout_group_as_json_twins(grouper, tmp_path, name):
    """Every public claim the layout can hold, written as a record by our own writer, groups as its
    JSON twin: the Arrow road (five fields and detail) and the JSON road (each line byte for byte)."""
    import orjson

    for path, version, status, kept in _files(_public(name), tmp_path, "p"):
        src = cms_batch.open_batch(str(path), version, status)
        rows = [r for _, res in tabular.group_batches(grouper, src, detail=True) for r in res.to_pylist()]
        _assert_twins(grouper, kept, rows)
        src = cms_batch.open_batch(str(path), version, status)
        got = b"".join(lines for lines, *_ in tabular.group_json(grouper, src)).splitlines()
        want = grouper.group_json_texts([orjson.dumps(c) for c in kept], separator=b"\n").join(suffix=b"\n")
        assert got == want.splitlines()


def test_public_edits_in_cms_batch_layout_edit_as_json_twins(grouper, tmp_path):
    """The code editor's answer (--edits) through the layout is the JSON twin's, line for line."""
    import orjson

    claims = _public("public_edits.jsonl")[:4000]
    for path, version, status, kept in _files(claims, tmp_path, "e"):
        src = cms_batch.open_batch(str(path), version, status)
        got = b"".join(lines for lines, *_ in tabular.group_json(grouper, src, edits=True)).splitlines()
        want = grouper.group_json_texts([orjson.dumps(c) for c in kept], separator=b"\n", edits=True)
        assert got == want.join(suffix=b"\n").splitlines()


# ---- CMS's rules: dates, the worked-out age and stay, the version from the discharge date -----------

def test_worked_out_age_and_stay_override_the_given_ones(grouper, tmp_path):
    """CMS's layout: 'calculated age overrides entered age', 'calculated LOS overrides entered LOS';
    with no dates the given ones are used; the version comes from the discharge date."""
    base = {"sex": "M", "discharge_status": 1, "pdx": {"code": "I214", "poa": "Y"},
            "sdx": [{"code": "E1122", "poa": "Y"}], "procedures": ["02703DZ"], "hospital_status": "not_exempt"}
    written = [dict(base, id="dates", admission_date="2025-10-01", discharge_date="2025-10-10",
                    birth_date="1950-10-02", age=30, los=99),
               dict(base, id="given", discharge_date="2025-10-10", age=80, los=4)]
    data, left = cms_batch.claims_records(written)
    assert not left
    p = tmp_path / "b.txt"
    p.write_bytes(data)
    rows = [r for _, res in tabular.group_batches(grouper, cms_batch.open_batch(str(p)), detail=True)
            for r in res.to_pylist()]
    twins = [dict(base, id="dates", admission_date="2025-10-01", discharge_date="2025-10-10", age=74),
             dict(base, id="given", discharge_date="2025-10-10", age=80, los=4)]
    _assert_twins(grouper, twins, rows)
    assert rows[0]["version"] == rows[1]["version"] == grouper.group(twins)[0]["version"]


# ---- bad records ---------------------------------------------------------------------------------------

def _record(**put) -> bytearray:
    c = {"id": "OK", "age": 70, "sex": "M", "discharge_status": 1, "pdx": {"code": "I214", "poa": "Y"},
         "sdx": [{"code": "E1122", "poa": "Y"}, "I10"], "procedures": ["02703DZ"]}
    data, _ = cms_batch.claims_records([c])
    rec = bytearray(data[:-1])
    for start, text in put.values():
        rec[start - 1:start - 1 + len(text)] = text
    return rec


def test_bad_records_name_their_field_and_record_number_rest_grouped(grouper, tmp_path):
    good = _record()
    bad = {
        "age": _record(a=(101, b"1A3")),
        "sex": _record(a=(104, b"7")),
        "apply_hac_logic": _record(a=(737, b"Q")),
        "discharge_status": _record(a=(82, b"x1")),
        "dx3": _record(a=(128, b"E11 22 ")),  # the second secondary diagnosis: dx3
        "admission_date": _record(a=(62, b"13/45/2025"), b=(72, b"10/10/2025")),
        "px1": _record(a=(312, "0270\u00e9".encode("latin-1"))),
        "record": bytes(good[:700]),
    }
    lines = [bytes(good)]
    for rec in bad.values():
        lines += [bytes(rec), bytes(good)]
    p = tmp_path / "bad.txt"
    p.write_bytes(b"\n".join(lines[:1]) + b"\n\n" + b"\n".join(lines[1:]) + b"\n")  # a blank line 2: no record
    rows = [r for _, res in tabular.group_batches(grouper, cms_batch.open_batch(str(p), "43.1"))
            for r in res.to_pylist()]
    assert len(rows) == 1 + 2 * len(bad)
    assert all(r["error"] is None and r["drg"] for r in rows[0::2])
    for k, (name, r) in enumerate(zip(bad, rows[1::2])):
        number = 3 + 2 * k  # line numbers: record 1, a blank line 2, then bad and good in turn
        assert r["error"] is not None and r["error"]["field"] == name, (name, r["error"])
        assert r["error"]["reason"].startswith(f"record {number}: "), (name, r["error"])
        assert r["drg"] is None
    assert "700 bytes long" in rows[-2]["error"]["reason"]
    # the JSON road names the same fields, with the same record numbers
    out = [json.loads(x) for lines_, *_ in tabular.group_json(grouper, cms_batch.open_batch(str(p), "43.1"))
           for x in lines_.splitlines()]
    assert [o["error"]["field"] for o in out[1::2]] == list(bad)
    assert all(o["error"]["reason"].startswith(f"record {3 + 2 * k}: ") for k, o in enumerate(out[1::2]))


def test_no_version_and_no_discharge_date_is_each_records_error(grouper, tmp_path):
    p = tmp_path / "b.txt"
    p.write_bytes(bytes(_record()) + b"\n")
    rows = [r for _, res in tabular.group_batches(grouper, cms_batch.open_batch(str(p))) for r in res.to_pylist()]
    assert rows[0]["error"]["field"] in ("version", "discharge_date")
    assert rows[0]["error"]["reason"].startswith("record 1: ")


# ---- the command line ------------------------------------------------------------------------------------

def _cli(*argv):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "engine.cli", *argv], capture_output=True, env=env, timeout=600)


def test_cli_cms_batch_gzip_bom_crlf_to_ndjson_csv_parquet(grouper, tmp_path):
    claims = [c for c in _public("public_claims.jsonl") if c["version"] == "43.1"
              and c["hospital_status"] != "unknown"][:400]
    data, left = cms_batch.claims_records(claims)
    kept = [c for c in claims if not any(c is x for x in left)]
    p = tmp_path / "batch.txt.gz"
    p.write_bytes(gzip.compress(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")))
    r = _cli("group", "--format", "cms-batch", str(p), "--grouper-version", "43.1", "-q")
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    want = grouper.group(kept)
    assert [o["id"] for o in out] == [c["id"] for c in kept]
    assert [{k: o.get(k) for k in FIVE} for o in out] == [{k: w.get(k) for k in FIVE} for w in want]
    r = _cli("group", "--format", "cms-batch", str(p), "--grouper-version", "43.1", "-o", str(tmp_path / "o.csv"),
             "-q")
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "o.csv", newline="") as f:
        back = list(csv.DictReader(f))
    assert [b["record"] for b in back] == [str(k + 1) for k in range(len(kept))]
    assert [b["drg"] for b in back] == [w.get("drg") or "" for w in want]
    assert "birth_date" not in back[0]  # not echoed
    r = _cli("group", "--format", "cms-batch", str(p), "--grouper-version", "43.1",
             "-o", str(tmp_path / "o.parquet"), "-q")
    assert r.returncode == 0, r.stderr
    import pyarrow.parquet as pq

    t = pq.read_table(tmp_path / "o.parquet")
    assert t.column("drg").to_pylist() == [w.get("drg") for w in want]
    r = _cli("edit", "--format", "cms-batch", str(p), "--grouper-version", "43.1", "-q")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.decode().splitlines()) == len(kept)


def test_cli_cms_batch_missing_file_exits_2(tmp_path):
    r = _cli("group", "--format", "cms-batch", str(tmp_path / "nope.txt"))
    assert r.returncode == 2 and b"nope.txt" in r.stderr


def test_arrow_road_pdx_of_hac11_is_not_on_hac_list(grouper):
    """Found by the public HAC set through this layout: group_arrow's detail listed the principal dx
    of HAC 11 as HAC_CRITERIA_MET, where CMS (and the JSON road) say NOT_ON_HAC_LIST."""
    claim = {"id": "hac11", "version": "40.0", "age": 50, "sex": "M", "discharge_status": 1,
             "hospital_status": "not_exempt", "pdx": {"code": "E6601", "poa": "Y"},
             "sdx": [{"code": "K6811", "poa": "N"}], "procedures": ["0D160ZA"]}
    want = grouper.group([claim], detail=True)[0]["pdx"]["hacs"]
    assert want == [{"number": 11, "status": "NOT_ON_HAC_LIST"}]
    t = pa.Table.from_pylist([claim])
    got = grouper.group_arrow(t, detail=True).column("pdx").to_pylist()[0]["hacs"]
    assert got == want


# ---- a layout given as CMS's z/OS grouper utility's control statements (--layout) --------------------

CONTROL = """* a layout of our own, in the utility's statements (DDX ... positions, 4 digits each)
DDX""" + "".join(f"{7 + 8 * k:04d}" for k in range(13)) + """
DDX""" + "".join(f"{7 + 8 * k:04d}" for k in range(13, 25)) + """
SRG """ + " ".join(f"{232 + 7 * k:04d}" for k in range(25)) + """
AGE0001
SEX0004
DSP0005
POA""" + "".join(f"{207 + k:04d}" for k in range(25)) + """
ADT0000
DDT0000
SDT0000
RTC0410
MDC0412
DRG0414
"""


def test_control_statement_layout_groups_public_claims_as_json_twins(grouper, tmp_path):
    """The public claims written in a layout given by control statements (our writer, from the same
    Layout) group as their JSON twins; records may be longer than the layout reads."""
    ctl = tmp_path / "layout.ctl"
    ctl.write_text(CONTROL)
    layout = cms_batch.read_layout(str(ctl))
    assert layout.width == 406 and not layout.exact
    claims = [c for c in _public("public_claims.jsonl") if c["version"] == "42.1"
              and c["hospital_status"] == "not_exempt"][:1500]
    plain = [{k: v for k, v in c.items() if k != "hospital_status"} for c in claims]
    data, left = cms_batch.claims_records(plain, layout)
    kept = [c for c, p in zip(claims, plain) if not any(p is x for x in left)]
    assert len(kept) >= 0.97 * len(claims)
    p = tmp_path / "batch.txt"
    p.write_bytes(data.replace(b"\n", b"   trailing data the layout does not read\n"))
    src = cms_batch.open_batch(str(p), "42.1", "not_exempt", layout=str(ctl))
    rows = [r for _, res in tabular.group_batches(grouper, src, detail=True) for r in res.to_pylist()]
    assert [r["id"] for r in rows] == [None] * len(kept)  # this layout has no id
    for r, c in zip(rows, kept):
        r["id"] = c["id"]
    _assert_twins(grouper, kept, rows)
    # a record shorter than the layout reads: its error, the rest grouped
    p.write_bytes(data[:406] + b"\n" + data[407:407 + 200] + b"\n" + data[:406] + b"\n")
    rows = [r for _, res in tabular.group_batches(grouper, cms_batch.open_batch(str(p), "42.1", layout=layout))
            for r in res.to_pylist()]
    assert [r["error"]["field"] if r["error"] else None for r in rows] == [None, "record", None]
    assert "at least 406" in rows[1]["error"]["reason"] and rows[1]["error"]["reason"].startswith("record 2: ")


@pytest.mark.parametrize("text, named", [
    ("DDX0001\nAGE0010\nSEX0013\nDSP0014\nXYZ0020\n", "'XYZ'"),
    ("DDX0001\nAGE0010\nSEX0013\nDSP0014\nADT0020\n", "ADT"),
    ("DDX0001\nAGE0010\nDSP0014\n", "SEX"),
    ("DDX00A1\nAGE0010\nSEX0013\nDSP0014\n", "line 1: DDX"),
    ("DDX0001\nAGE0000\nSEX0013\nDSP0014\n", "line 2: AGE"),
    ("DDX0001\nPOA00090010\nAGE0011\nSEX0014\nDSP0015\n", "POA gives 2 positions for 1 DDX"),
])
def test_layout_file_errors_name_the_statement(tmp_path, text, named):
    ctl = tmp_path / "bad.ctl"
    ctl.write_text(text)
    with pytest.raises(cms_batch.TableError) as e:
        cms_batch.read_layout(str(ctl))
    assert named in str(e.value)


def test_cli_layout_file_errors_exit_2(tmp_path):
    ctl = tmp_path / "bad.ctl"
    ctl.write_text("DDX0001\nAGE0010\nSEX0013\nDSP0014\nDDT0072\n")
    data = tmp_path / "b.txt"
    data.write_bytes(b"I214    070" + b"1" + b"01\n")
    r = _cli("group", "--format", "cms-batch", str(data), "--layout", str(ctl), "--grouper-version", "43.1")
    assert r.returncode == 2 and b"DDT" in r.stderr and b"line 5" in r.stderr
    ctl.write_text("DDX0001\nAGE0009\nSEX0012\nDSP0013\n")
    r = _cli("group", "--format", "cms-batch", str(data), "--layout", str(ctl))  # no version, no dates
    assert r.returncode == 2 and b"--grouper-version" in r.stderr
    r = _cli("group", "--format", "cms-batch", str(data), "--layout", str(ctl), "--grouper-version", "43.1", "-q")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["drg"] and out["version"] == "43.1"


def test_cli_casemix_reads_cms_batch(grouper, tmp_path):
    """``fastdrg casemix --format cms-batch`` sums what the records' JSON twins sum."""
    import orjson

    claims = [c for c in _public("public_claims.jsonl") if c["version"] == "43.1"
              and c["hospital_status"] != "unknown"][:600]
    data, left = cms_batch.claims_records(claims)
    kept = [c for c in claims if not any(c is x for x in left)]
    p = tmp_path / "batch.txt"
    p.write_bytes(data)
    r = _cli("casemix", "--format", "cms-batch", str(p), "--grouper-version", "43.1", "--json",
             str(tmp_path / "s.json"), "--no-progress")
    assert r.returncode == 0, r.stderr
    got = json.loads((tmp_path / "s.json").read_text())
    assert got == json.loads(orjson.dumps(grouper.casemix([orjson.dumps(c) for c in kept])))
