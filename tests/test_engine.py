"""Engine behaviour a user relies on beyond CMS parity: input handling, errors,
versions by date, and regressions found by the differential run."""

from __future__ import annotations

import json

import orjson
import pytest

from engine import GrouperError, version_for_date
from engine.decode import decode_results
from engine.synthetic import generate_claims

BASE = {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1,
        "hospital_status": "not_exempt", "pdx": "I5021", "sdx": ["N179"], "procedures": []}


def claim(**kw):
    c = dict(BASE)
    c.update(kw)
    return c


def test_result_shape(grouper):
    r = grouper.group([claim(id="a-1")])[0]
    assert r["id"] == "a-1" and r["version"] == "43.1"
    assert len(r["drg"]) == 3 and len(r["mdc"]) == 2 and r["mdc"] == "05"
    assert r["return_code"] == "OK"
    assert r["drg_description"] and r["mdc_description"]
    assert r["severity"]["final"] in ("MCC", "CC", "NON_CC")
    assert r["pdx"]["code"] == "I5021" and r["pdx"]["affects_drg"] == "BOTH"
    assert [s["code"] for s in r["sdx"]] == ["N179"]


def test_codes_with_dots_and_lower_case(grouper):
    a, b = grouper.group([claim(pdx="i50.21", sdx=["n17.9"]), claim()])
    assert (a["drg"], a["mdc"], a["return_code"]) == (b["drg"], b["mdc"], b["return_code"])
    assert a["pdx"]["code"] == "I5021"


def test_version_forms_and_dates(grouper):
    r1, r2, r3 = grouper.group([claim(version="43.1"), claim(version=431),
                                {**claim(), "version": None, "discharge_date": "2026-05-01"}])
    assert r1["drg"] == r2["drg"] == r3["drg"] and r3["version"] == "43.1"
    assert version_for_date("2022-10-01") == "40.0"
    assert version_for_date("2026-09-30") == "43.1"
    assert version_for_date("2026-10-01") == "44.0"
    assert version_for_date("2027-03-31") == "44.0"
    with pytest.raises(GrouperError):
        version_for_date("2027-04-01")  # past the last version's period: an error, never a fallback


@pytest.mark.parametrize("bad, field", [
    ({"pdx": None}, "pdx"),
    ({"age": "old"}, "age"),
    ({"age": 12.5}, "age"),
    ({"sex": "X"}, "sex"),
    ({"sex": []}, "sex"),  # unhashable: once raised TypeError out of group()
    ({"sex": {}}, "sex"),
    ({"version": "39.0"}, "version"),
    ({"discharge_status": "x1"}, "discharge_status"),  # 250 is grouped (INVALID_DISCHARGE_STATUS), as CMS does
    ({"hospital_status": "sometimes"}, "hospital_status"),
    ({"sdx": [{"code": "N179", "poa": "QQ"}]}, "sdx[0].poa"),  # "Q" is grouped (POA_NOT_RECOGNIZED), as CMS does
    ({"sdx": "N179"}, "sdx"),
    ({"procedures": [17]}, "procedures[0]"),
    ({"pdx": "I50-21!"}, "pdx"),
])
def test_malformed_claim_gets_error_and_spares_the_batch(grouper, bad, field):
    good1, bad_r, good2 = grouper.group([claim(id="g1"), claim(id="b", **bad), claim(id="g2")])
    assert bad_r["id"] == "b"
    assert bad_r["error"]["field"] == field and bad_r["error"]["reason"]
    assert "drg" not in bad_r
    assert good1["return_code"] == good2["return_code"] == "OK"


def test_uncovered_discharge_date_is_an_error(grouper):
    c = claim()
    del c["version"]
    c["discharge_date"] = "2019-01-01"
    r = grouper.group([c])[0]
    assert r["error"]["field"] == "discharge_date" and "not covered" in r["error"]["reason"]


def test_not_a_dict(grouper):
    assert grouper.group(["nope"])[0]["error"]["field"] == "$"


def test_unknown_code_is_cms_invalid_pdx_not_an_error(grouper):
    r = grouper.group([claim(pdx="Q9999")])[0]
    assert (r["drg"], r["mdc"], r["return_code"]) == ("999", "00", "INVALID_PDX")


def test_group_equals_encode_batch_decode(grouper):
    claims = [claim(id=str(i), sdx=["N179", "E1122"][: i % 3]) for i in range(50)]
    b = grouper.encode(claims)
    assert grouper.decode(b, grouper.group_batch(b)) == grouper.group(claims)


def test_empty_batch(grouper):
    assert grouper.group([]) == []
    assert grouper.group_json([]).documents == []


def test_compiled_json_writer_equals_the_python_decoder(grouper):
    """decode() reads back the compiled JSON writer's output (engine.render); the
    Python decoder is the reference and the fallback.  Equal on generated claims
    with edge cases, ids of every plain JSON kind, unknown codes and rejected
    claims, with and without per-code detail; group_json's documents are group()'s
    results serialised."""
    claims = generate_claims(3000, seed=7)
    ids = [None, "enc-1", 'quote"back\\slash', "é ü \u2028", 12, -5, 2**63 - 1, True, False]
    for i, c in enumerate(claims):
        if isinstance(c, dict):
            c["id"] = ids[i % len(ids)]
    claims += [claim(pdx="Q9999", sdx=["ZZZ99", "N179"], procedures=["XXXXXXX", "02703DZ"]),
               claim(age="x", id="bad"), claim(pdx=None), claim(id=0, sdx=[])]
    b = grouper.encode(claims)
    r = grouper.group_batch(b)
    for detail in (True, False):
        assert grouper.decode(b, r, detail) == decode_results(b, r.columns, grouper.tables.meta, detail,
                                                              grouper.payment.columns(b, r.columns))
    assert [orjson.loads(d) for d in grouper.group_json(claims).documents] == grouper.group(claims)


def test_json_writer_falls_back_for_what_it_cannot_carry(grouper):
    claims = [claim(id=1.5), claim(id=[1, "a"]), claim(pdx="Ä1234"), claim(id=2**70), claim(id="plain")]
    results = grouper.group(claims)
    assert results[0]["id"] == 1.5 and results[1]["id"] == [1, "a"] and results[3]["id"] == 2**70
    # ICD-10 codes are ASCII: a code with another letter is not a code (the contract's pattern)
    assert results[2]["error"] == {"field": "pdx", "reason": "not an ICD-10 code: 'Ä1234'"}
    docs = grouper.group_json(claims).documents
    assert [orjson.loads(d) for d in docs[:3]] == results[:3]
    assert json.loads(docs[3])["id"] == 2**70 and orjson.loads(docs[4]) == results[4]


def test_group_json_counts_and_errors(grouper):
    out = grouper.group_json([claim(), claim(version="40.0"), claim(age="x"), claim(pdx="Q9999")])
    assert out.counts == {("43.1", "OK"): 1, ("40.0", "OK"): 1, ("43.1", "INVALID_PDX"): 1}
    assert [e if e is None else e["field"] for e in out.errors] == [None, None, "age", None]


def test_many_candidate_clusters_regression(grouper):
    """A claim whose procedures take part in more than 64 clusters once lost
    clusters past the 64th (found by the differential run against msdrg:
    revision of hip replacement grouped as 465 instead of 468)."""
    c = {"version": "42.1", "age": 80, "sex": "M", "discharge_status": 90, "pdx": "S42144G",
         "sdx": [], "procedures": ["0L9T3ZX", "0JH839Z", "02H43JZ", "0SP94JZ", "0SR906Z"]}
    assert grouper.group([c])[0]["drg"] == "468"


def _affects(result) -> dict:
    return {s["code"]: s["affects_drg"] for s in result["sdx"]}


def test_marking_names_an_operand_found_true_in_a_branch_that_failed(grouper):
    """CMS evaluates a formula left to right and names every operand it found
    true on the way (the public claims 431-2943 and pub-edge-1427 showed it):
    DRG 518 ``(MCC & backneck) | discdevice | spinstim`` reached by the
    neurostimulator still names the MCC; DRG 5 ``intxp | (liverxp & MCC)``
    reached by the intestinal transplant never looks at the MCC."""
    r = grouper.group([claim(version="43.1", age=75, pdx="M21731", procedures=["Z@4583"],
                             sdx=[{"code": "F12151", "poa": "Y"}, {"code": "I7113", "poa": "Y"}])])[0]
    assert (r["drg"], r["severity"]["initial"]) == ("518", "MCC")
    assert _affects(r) == {"F12151": "NONE", "I7113": "BOTH"}
    r = grouper.group([claim(version="42.1", age=50, sex="M", pdx="H509", procedures=["0DYE0Z0"],
                             sdx=[{"code": "S22080B", "poa": "Y"}])])[0]
    assert (r["drg"], r["severity"]["initial"]) == ("005", "MCC")
    assert _affects(r) == {"S22080B": "NONE"}


def test_marking_names_no_birth_status_secondary_dx(grouper):
    """DRG 794 by ``PDX:mdc15fallthrough & SDX:incident``: CMS names the
    principal dx only, not the secondary dx on the birth-status list (public
    claims 431-865 and pub-edge-447)."""
    r = grouper.group([claim(version="43.1", age=89, pdx="P761",
                             sdx=[{"code": "T82867A", "poa": "Y"}, {"code": "L819", "poa": "Y"}])])[0]
    assert r["drg"] == "794" and r["pdx"]["affects_drg"] == "BOTH"
    assert _affects(r) == {"T82867A": "NONE", "L819": "NONE"}


def test_reference_lookups(grouper):
    info = grouper.drg_info("43.1", "291")
    assert info["mdc"] == "05" and info["med_surg"] == "MEDICAL" and info["description"]
    assert grouper.drg_info("43.1", "0") is None
    dx = grouper.code_info("43.1", "I50.21")
    assert dx["kind"] == "diagnosis" and dx["valid"] and dx["severity"] == "MCC" and dx["mdc"] == "05"
    px = grouper.code_info("43.1", "02703DZ")
    assert px["kind"] == "procedure" and px["valid"]
    assert grouper.code_info("43.1", "Q9999")["valid"] is False
    with pytest.raises(GrouperError):
        grouper.code_info("12.0", "I5021")


def test_kernel_scratch_reused_across_calls(grouper):
    """Each thread keeps its kernel scratch from call to call (engine.grouper
    Grouper._scratch): many small calls, on the calling thread and on the pool,
    give what one call gives."""
    claims = generate_claims(3000, seed=5)
    whole = grouper.group(claims)
    pieces = []
    for lo, size in ((0, 7), (7, 1), (8, 600), (608, 13), (621, 2379)):
        pieces += grouper.group(claims[lo:lo + size])
    assert pieces == whole


def test_writer_and_kernel_compiled_once_for_every_batch_shape(grouper):
    """Regression: an empty blob (no ids, no unknown codes) was a writable array,
    a non-empty one read-only, and the text path passed strided spans: numba
    compiled the JSON writer once per such shape, a 15-30 s stall at the first
    batch of a new shape (after the image's warm-up).  Every path now hands the
    writer and the kernel arguments of one type each."""
    from engine import grouping, render

    shapes = [
        [claim()],  # no id, every code known
        [claim(id="x"), claim(id=7)],  # ids
        [claim(pdx="Q9999ZZ", sdx=["ZZZ1"], procedures=["ZZZZZZZ"])],  # unknown codes echoed
    ]
    for claims in shapes:
        batch = grouper.encode(claims)  # the Python encoder's batch (group() reads dicts as text)
        grouper.decode(batch, grouper.group_batch(batch))
        grouper.group(claims)
        grouper.group_json(claims)
        grouper.group_json_texts([orjson.dumps(c) for c in claims])
        grouper.group(claims, detail=False)
    assert len(render._render.signatures) == 1, render._render.signatures
    assert len(grouping.group_range.signatures) == 1, grouping.group_range.signatures


def test_numba_cache_dir_changes_when_a_grouping_stage_changes(tmp_path):
    """numba checks a cached function against its own source file only, yet
    engine.grouping's group_range (grouping/kernel.py) holds the code of the other
    stage modules: the default NUMBA_CACHE_DIR is named after the bytes of every
    module that goes into compiled code (engine.numba_cache), so an edited stage
    is compiled anew, never served stale.  A NUMBA_CACHE_DIR set explicitly (the
    Docker image, docker/build.sh, Spark) is kept."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from engine.numba_cache import ENGINE_DIR, kernel_sources, numba_cache_dir

    cache = tmp_path / "cache"
    copy = tmp_path / "src" / "engine"
    shutil.copytree(ENGINE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    here = numba_cache_dir(cache, ENGINE_DIR)
    assert here.parent == cache and here.name.startswith("numba-")
    assert numba_cache_dir(cache, copy) == here  # named by the sources' bytes, wherever they are
    sources = kernel_sources(copy)
    stages = sorted(p.relative_to(copy).as_posix() for p in (copy / "grouping").glob("*.py"))
    assert "grouping/marking.py" in stages and "grouping/kernel.py" in stages
    assert set(stages) | {"editing/kernel.py", "parse.py", "render.py", "tables.py"} <= set(sources)
    assert "cli.py" not in sources and "grouper.py" not in sources  # no compiled code: edits recompile nothing

    def with_one_byte_changed(rel):
        path = copy / rel
        data = path.read_bytes()
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        try:
            return numba_cache_dir(cache, copy)
        finally:
            path.write_bytes(data)

    for rel in stages + ["editing/kernel.py", "parse.py", "tables.py"]:
        assert with_one_byte_changed(rel) != here, rel
    assert with_one_byte_changed("cli.py") == here
    assert numba_cache_dir(cache, copy) == here

    # what engine/__init__.py does with it, in fresh processes (numba reads its cache location once)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["FASTDRG_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(ENGINE_DIR.parent)] + [p for p in [env.get("PYTHONPATH")] if p])
    show = "import engine, numba; print(numba.config.CACHE_DIR)"
    for extra, want in (({}, here), ({"NUMBA_CACHE_DIR": str(tmp_path / "mine")}, tmp_path / "mine")):
        done = subprocess.run([sys.executable, "-c", show], env={**env, **extra}, capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr
        assert Path(done.stdout.strip()) == want


def test_marking_order_rule_packed_sort():
    """CMS's marking order of secondary dx (MCC, then CC, then the rest; by code
    within a level; an invalid code after the valid ones; repeats in claim
    order), and of procedures (by code, invalid last), as the kernel sorts them:
    one packed int64 key per code (engine.grouping.marking._order_key)."""
    import numpy as np

    from engine.grouping.marking import _POS_MASK, _insertion_sort, _order_key

    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(0, 40))
        sev = rng.integers(0, 3, n)
        code = rng.choice(np.array([-1, 0, 5, 5, 17, 90_000, 2**31 - 1]), n)
        keys = np.array([_order_key(np.int64(2 - s), np.int64(c), j) for j, (s, c) in enumerate(zip(sev, code))],
                        dtype=np.int64)
        _insertion_sort(keys, n)
        got = [int(k) & _POS_MASK for k in keys]
        expected = sorted(range(n), key=lambda j: (-int(sev[j]), code[j] < 0, int(code[j]), j))
        assert got == expected


def test_cc_exclusion_rule_search_matches_membership():
    """CC exclusion: a secondary dx is excluded when it is in the principal
    dx's exclusion group, a sorted run of codes (the kernel's select-based
    halving search, engine.grouping.preprocess._excluded)."""
    import numpy as np

    from engine.grouping.preprocess import _excluded

    rng = np.random.default_rng(11)
    groups = [np.unique(rng.integers(0, 500, int(rng.integers(0, 60)))) for _ in range(40)]
    off = np.zeros(len(groups) + 1, np.int64)
    off[1:] = np.cumsum([len(g) for g in groups])
    codes = np.concatenate(groups).astype(np.int32)
    dx_excl = np.full((1, len(groups) + 1), -1, np.int16)
    dx_excl[0, :len(groups)] = np.arange(len(groups))
    for pdx in range(len(groups) + 1):
        members = set(groups[pdx].tolist()) if pdx < len(groups) else set()
        for sdx in range(-1, 505):
            assert _excluded(dx_excl, off, codes, 0, pdx, sdx) == (sdx >= 0 and sdx in members), (pdx, sdx)
