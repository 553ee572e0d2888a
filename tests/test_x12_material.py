"""The 837I (005010X223A2) reader against material it did not write (ISSUE-26 section 5).

* our writer (tests/x12_files.py) follows the TR3: its files validate under pyx12's TR3 map,
  and pyx12 reads back from them what the writer meant (tests/x12_oracle.py, two readings);
* engine.io.x12.extract equals the oracle on every claim of the public sets written as 837I
  files of several delimiter sets and envelope shapes;
* Grouper.group_x12 groups every claim exactly as Grouper.group groups its JSON twin (all the
  twin's result fields: the five graded ones and the per-code detail), and says whether the
  billed DRG (HI*DR) is ours;
* the guide's own institutional examples as published in a public X12 parser's test suite
  (ICD-9 era) give a per-claim error naming the ICD-9 qualifier, never a crash; an 837P is
  refused as a professional claim;
* bad input (ISSUE-26 section 4): per-claim errors in TR3 terms with the rest of the file
  grouped; whole-file errors (X12Error) naming the segment.

The reader's tests skip while engine.io.x12 (or its extract / Grouper.group_x12) is missing.
The contract coded against (engine.io.x12, promised by its author):
``extract(data: bytes) -> list[dict]``, one dict per CLM in file order: ``{"id", "locator":
{"isa13", "gs06", "st02", "ordinal"}, "claim": <JSON claim> or None, "billed_drg", "error":
{"field", "reason"} or None}``; ``X12Error`` (``segment``, ``reason``) for a file refused whole;
``Grouper().group_x12(data)`` -> one result per CLM with ``id``, ``locator``, the JSON path's
result fields, ``billed_drg`` / ``billed_drg_matches`` when billed.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

import x12_files as X
import x12_oracle as O
from conftest import SHARED
from oracle import public_to_claim

pytest.importorskip("pyx12", reason="pyx12 (the dev extra) reads the 837I files independently")

DATA = Path(__file__).parent / "data" / "x12"
PUBLIC_HAC = SHARED / "eval" / "public_hac.jsonl"
FIVE = ("drg", "mdc", "initial_drg", "initial_mdc", "return_code")
#: the TR3's institutional examples as published in LinuxForHealth/x12's test suite (README)
TR3_EXAMPLES = ("two-claims-single-provider.837i", "ppo-repriced-claim.837i",
                "out-of-network-repriced-claim.837i", "institutional-claim.837i")
#: the printable delimiter sets (pyx12 refuses control characters as ISA11/ISA16)
PRINTABLE = ("star", "star_lf", "pipe_crlf", "caret", "newline_terminator")


# ------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def records(public_records) -> list[dict]:
    """public_claims.jsonl (14,000) then public_hac.jsonl (3,069)."""
    out = list(public_records)
    if PUBLIC_HAC.is_file():
        with open(PUBLIC_HAC) as fh:
            out += [json.loads(line) for line in fh if line.strip()]
    return out


def _same_patient_pairs(facts: list) -> list:
    """Every 25th claim moved under the previous claim's subscriber loop (the same patient,
    subscriber-is-patient, billed again): birth date and sex the previous claim's, the age
    what that birth date gives on this claim's admission.  Not where that patient would be born
    after this admission: the reader refuses such a claim (2010BA DMG02, birth after admission;
    test_rule_birth_after_admission_refused), while its JSON twin would carry a negative age."""
    out = list(facts)
    for k in range(1, len(out), 25):
        a, b = out[k - 1], out[k]
        if a.patient_loop or b.patient_loop or a.birth > b.effective_admission:
            continue
        b = X.replace_facts(b, share_patient=True, birth=a.birth, sex=a.sex, patient_loop=False)
        b.age = X.age_on(b.birth, b.effective_admission)
        out[k] = b
    return out


#: (name, delimiter set, shape, slice of the records, writer options)
PUBLIC_FILES = (
    ("star-1isa", "star", dict(), slice(0, 3000), {}),
    ("star_lf-3isa2gs3st", "star_lf", dict(interchanges=3, groups=2, sets=3), slice(3000, 6000), {}),
    ("pipe_crlf-2isa3gs2st-dependents", "pipe_crlf", dict(interchanges=2, groups=3, sets=2), slice(6000, 9000),
     {"patient": "dependent"}),
    ("caret-1isa2gs5st-ecodes_in_abf", "caret", dict(groups=2, sets=5, claims_per_provider=50),
     slice(9000, 12000), {"ecodes_in_abn": False}),
    ("control-2isa1gs2st-subscribers", "control", dict(interchanges=2, sets=2), slice(12000, 14000),
     {"patient": "subscriber", "omit_admission": 0.5}),
    ("newline_terminator-hac", "newline_terminator", dict(interchanges=2, groups=2, sets=2), slice(14000, None), {}),
)


@pytest.fixture(scope="module")
def public_files(records) -> dict[str, X.X12File]:
    """All the public claims as six 837I files of several delimiter sets and envelope shapes."""
    out = {}
    for name, delim, shape, part, opts in PUBLIC_FILES:
        chunk = records[part]
        base = part.start or 0
        facts = [X.prepare(r, base + i, seed=len(name), **opts) for i, r in enumerate(chunk)]
        out[name] = X.write_837i(_same_patient_pairs(facts), X.DELIMITER_SETS[delim], seed=len(name), **shape)
    return out


@pytest.fixture(scope="module")
def oracle_rows(public_files) -> dict[str, list[dict]]:
    """The oracle's fast reading of each public file (normalised), read once."""
    return {name: O.normalise(O.extract_fast(f.data)) for name, f in public_files.items()}


def _sample(records, n: int, seed: int, tr3_only: bool = True) -> list[dict]:
    """``n`` records drawn at random (with every POA value and both external-cause places), the
    ones within the TR3's repeat counts when ``tr3_only``."""
    rng = random.Random(seed)
    pool = [r for r in records if len(r["sdx"]) <= 24] if tr3_only else list(records)
    return rng.sample(pool, n)


@pytest.fixture(scope="module")
def reader():
    mod = pytest.importorskip("engine.io.x12",
                              reason="engine.io.x12 (the 837I reader of ISSUE-26) is not in this branch yet")
    if not hasattr(mod, "extract") or not hasattr(mod, "X12Error"):
        pytest.skip("engine.io.x12 has no extract() / X12Error yet (the inspection API the tests code against)")
    return mod


@pytest.fixture(scope="module")
def group_x12(grouper):
    if not hasattr(grouper, "group_x12"):
        pytest.skip("Grouper.group_x12 (ISSUE-26) is not in this branch yet")
    return grouper.group_x12


def _tokens(field: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+", field or "")


def _names(field: str, expected: tuple) -> bool:
    """Every expected TR3 name starts a word of ``field`` ("BK" in "2300 HI BK", not in "ABK")."""
    words = _tokens(field)
    return all(any(w.upper().startswith(t) for w in words) for t in expected)


def _diff(got: list[dict], want: list[dict], what: str, show: int = 3) -> str:
    bad = [(k, g, w) for k, (g, w) in enumerate(zip(got, want)) if g != w]
    lines = [f"{what}: {len(bad)} of {len(want)} claims differ (lengths {len(got)} / {len(want)})"]
    for k, g, w in bad[:show]:
        lines.append(f"  claim #{k + 1}\n    got:  {g}\n    want: {w}")
    return "\n".join(lines)


# --------------------------------------------------- (a) the writer follows the TR3 (pyx12)

@pytest.mark.parametrize("delim", PRINTABLE)
def test_writer_files_validate_under_pyx12(records, delim):
    """60 random claims a delimiter set (300 in all), in several envelopes, with subscriber
    and patient loops: pyx12 finds no error against the 005010X223A2 map."""
    k = PRINTABLE.index(delim)
    facts = [X.prepare(r, i, seed=k) for i, r in enumerate(_sample(records, 60, seed=k))]
    assert not any(f.beyond_tr3 for f in facts)
    shape = [dict(), dict(interchanges=2, groups=2, sets=2), dict(groups=3, sets=1),
             dict(interchanges=3), dict(sets=4)][k]
    f = X.write_837i(_same_patient_pairs(facts), X.DELIMITER_SETS[delim], seed=k, **shape)
    assert O.validate(f.data) == []


def test_writer_billed_drg_and_bad_qualifiers_are_what_pyx12_expects(records):
    """HI*DR validates; an ICD-9 qualifier validates too (the 5010 map still lists BK, BF, ...:
    refusing them is the grouper's business); POA 1 does not (5010 knows N, U, W, Y only)."""
    recs = _sample(records, 6, seed=7)
    facts = [X.prepare(r, i, billed_drg="291") for i, r in enumerate(recs)]
    assert O.validate(X.write_837i(facts).data) == []
    icd9 = [X.replace_facts(f, qualifiers={"ABK": "BK", "ABF": "BF"}) for f in facts]
    assert O.validate(X.write_837i(icd9).data) == []
    with_one = [X.replace_facts(f, pdx_poa="1", poa_one="1") for f in facts]
    errors = O.validate(X.write_837i(with_one).data)
    assert errors and all("Present on Admission" in e.get("err_str", "") for e in errors)


def test_writer_beyond_tr3_is_flagged_and_fails_validation(records):
    """More than 24 other diagnoses: a third HI*ABF, which pyx12 reports (TR3 repeat 2)."""
    big = [r for r in records if len(r["sdx"]) > 30][:2]
    facts = [X.prepare(r, i) for i, r in enumerate(big)]
    assert all(f.beyond_tr3 for f in facts)
    errors = O.validate(X.write_837i(facts).data)
    assert any("exceeded max count" in e.get("err_str", "") for e in errors)


def test_control_character_delimiters_are_refused_by_pyx12_only_in_the_isa(records):
    """pyx12 flags control characters as ISA11/ISA16; the segment reader still reads the file
    (the reader must too: the delimiters are whatever the ISA declares)."""
    recs = _sample(records, 20, seed=3)
    f = X.write_837i([X.prepare(r, i) for i, r in enumerate(recs)], X.DELIMITER_SETS["control"])
    assert O.validate(f.data)
    assert O.normalise(O.extract_fast(f.data)) == O.normalise(f.expected())


# --------------------------------------------- the oracle reads back what the writer meant

@pytest.mark.parametrize("delim", ("star", "pipe_crlf", "control", "newline_terminator"))
def test_map_oracle_reads_back_the_writer(records, delim):
    """pyx12's walk of the TR3 map (loops and HI segments placed by the map, not by us) reads
    every field the writer meant, for 50 claims of each of four delimiter sets."""
    k = len(delim)
    facts = [X.prepare(r, i, seed=k) for i, r in enumerate(_sample(records, 50, seed=100 + k, tr3_only=False))]
    f = X.write_837i(_same_patient_pairs(facts), X.DELIMITER_SETS[delim], interchanges=2, groups=2, sets=2)
    assert O.normalise(O.extract_map(f.data)) == O.normalise(f.expected())


def test_x12sdk_reads_back_the_writer(records):
    """A third reading, x12sdk's typed 837I models (its own walk of subscriber and dependent
    branches), on 60 claims of the kinds it accepts (sex M or F, admission dates D8)."""
    pytest.importorskip("x12sdk", reason="x12sdk (the dev extra): typed 837I models")
    pool = [r for r in _sample(records, 200, seed=77) if r["sex"] in "MF"][:60]
    facts = [X.replace_facts(X.prepare(r, i, seed=77), admission_format="D8") for i, r in enumerate(pool)]
    f = X.write_837i(_same_patient_pairs(facts), X.DELIMITER_SETS["star_lf"], groups=2, sets=2)
    got = O.normalise(O.extract_x12sdk(f.data))
    want = O.normalise(f.expected())
    for w in want:
        w["locator"] = {"st02": w["locator"]["st02"]}  # x12sdk drops the ISA and GS envelopes
    assert got == want, _diff(got, want, "x12sdk")


def test_fast_oracle_reads_back_the_writer_on_every_public_claim(public_files, oracle_rows):
    """The fast reading (pyx12's segment reader, which also checks every SE/GE/IEA count and
    control number) on all 17,069 public claims in six files."""
    for name, f in public_files.items():
        got = oracle_rows[name]
        want = O.normalise(f.expected())
        assert got == want, _diff(got, want, name)


def test_public_files_have_the_envelopes_asked_for(public_files):
    for name, delim, shape, part, opts in PUBLIC_FILES:
        f = public_files[name]
        d = X.DELIMITER_SETS[delim]
        ids = [s.split(d.element)[0] for _, s in X.segment_numbers(f.data, d)]
        n_isa = shape.get("interchanges", 1)
        n_gs = n_isa * shape.get("groups", 1)
        assert (ids.count("ISA"), ids.count("IEA")) == (n_isa, n_isa), name
        assert (ids.count("GS"), ids.count("GE")) == (n_gs, n_gs), name
        assert ids.count("ST") == ids.count("SE") == n_gs * shape.get("sets", 1), name
        assert ids.count("CLM") == len(f.facts)
        assert ids.count("HL") > len(f.facts)  # providers, subscribers and patients


def test_dates_pick_the_record_version_and_ages_are_whole_years(records):
    """The discharge date of each claim lies in its record's version period (by the engine's
    own rule, engine.version_for_date) and the birth date gives the age on the admission."""
    from engine import version_for_date

    for i, r in enumerate(records[::17]):
        f = X.prepare(r, i)
        v = int(r["version"])
        assert version_for_date(f.discharge.isoformat()) == f"{v // 10}.{v % 10}", r["id"]
        assert X.age_on(f.birth, f.effective_admission) == r["age"]
        assert X.age_on(f.subscriber_birth, f.effective_admission) != r["age"] or f.subscriber_sex != f.sex
        assert f.statement_from <= f.discharge and f.admission <= f.statement_from


def test_rule_birth_after_admission_refused(reader, records):
    """A patient born after the admission (DMG02 later than DTP*435) is the claim's own error,
    naming the demographic segment; the claims around it are read."""
    facts = [X.prepare(r, i, seed=7) for i, r in enumerate(_sample(records, 3, seed=71, tr3_only=True))]
    late = facts[1].effective_admission + __import__("datetime").timedelta(days=3)
    facts[1] = X.replace_facts(facts[1], birth=late)
    got = reader.extract(X.write_837i(facts).data)
    assert [e["error"] is None for e in got] == [True, False, True]
    assert "DMG02" in got[1]["error"]["field"] and "birth" in got[1]["error"]["reason"]


def test_twins_group_as_the_records(grouper, records):
    """Written as 837I, a claim groups as the record it came from (five fields), for every
    record whose hospital status is the default (NON_EXEMPT: the 837I carries none): the
    discharge date picks the record's version, the POA 1 left blank groups alike, the external
    causes moved after the other diagnoses change nothing."""
    recs = [r for r in records[::2] if r["hospital_status"] == "NON_EXEMPT"]
    twins = [X.twin(X.prepare(r, i)) for i, r in enumerate(recs)]
    got = grouper.group(twins)
    want = grouper.group([public_to_claim(r) for r in recs])
    bad = [(r["id"], {k: g.get(k) for k in FIVE}, {k: w.get(k) for k in FIVE})
           for r, g, w in zip(recs, got, want) if any(g.get(k) != w.get(k) for k in FIVE)]
    assert not bad, f"{len(bad)} of {len(recs)}: {bad[:3]}"


# -------------------------------------------------- (b) the reader equals the oracle

@pytest.mark.parametrize("name", [p[0] for p in PUBLIC_FILES])
def test_extract_equals_oracle_on_public_files(reader, public_files, oracle_rows, name):
    """Every claim of the public sets, every field.  (The public claims with more than 24
    other diagnoses are written with a third or fourth HI*ABF, beyond the TR3's repeat count
    of 2: read all of them, in order; see test_more_than_24_other_diagnoses_read_in_order.)"""
    f = public_files[name]
    got = O.normalise(reader.extract(f.data))
    want = oracle_rows[name]
    assert got == want, _diff(got, want, name)


def test_extract_equals_map_oracle_on_a_sample(reader, records):
    facts = [X.prepare(r, i, seed=5) for i, r in enumerate(_sample(records, 80, seed=55, tr3_only=False))]
    f = X.write_837i(_same_patient_pairs(facts), X.DELIMITER_SETS["pipe_crlf"], interchanges=2, sets=3)
    got = O.normalise(reader.extract(f.data))
    assert got == O.normalise(O.extract_map(f.data)), _diff(got, O.normalise(O.extract_map(f.data)), "map")


def test_more_than_24_other_diagnoses_read_in_order(reader, records):
    """The TR3 holds 24 other diagnoses (two HI*ABF of 12); CMS's edge claims carry up to 40.
    Written as further HI*ABF segments, they are read, all and in file order -- never dropped
    silently (were the reader to refuse them, it would have to be this claim's own error)."""
    big = [r for r in records if len(r["sdx"]) > 30][:5]
    facts = [X.prepare(r, i, ecodes_in_abn=False) for i, r in enumerate(big)]
    f = X.write_837i(facts)
    rows = reader.extract(f.data)
    assert [len(r["claim"]["sdx"]) for r in rows] == [len(r["sdx"]) for r in big]
    assert O.normalise(rows) == O.normalise(f.expected())


def test_extract_reads_any_addendum_in_gs08(reader, records):
    """005010X223, A1, A2 and A3 in GS08/ST03 read alike."""
    facts = [X.prepare(r, i) for i, r in enumerate(_sample(records, 5, seed=9))]
    want = O.normalise(X.write_837i(facts).expected())
    for version in ("005010X223", "005010X223A1", "005010X223A2", "005010X223A3"):
        assert O.normalise(reader.extract(X.write_837i(facts, version=version).data)) == want, version


def test_extract_and_group_x12_carry_no_phi(reader, group_x12, records):
    """Names, member ids, addresses, medical record numbers (all written with a ZZ... mark)
    and birth dates reach no result."""
    facts = [X.prepare(r, i) for i, r in enumerate(_sample(records, 40, seed=11))]
    f = X.write_837i(facts, interchanges=2)
    text = json.dumps(reader.extract(f.data)) + json.dumps(group_x12(f.data), default=str)
    for token in X.PHI_TOKENS:
        assert token not in text
    claim_dates = {d for x in facts for d in (x.admission, x.discharge, x.statement_from)}
    for b in {d for x in facts for d in (x.birth, x.subscriber_birth)} - claim_dates:
        assert b.isoformat() not in text and b.strftime("%Y%m%d") not in text


# ----------------------------------------------------- (c) group_x12 equals group(twin)

def _compare_grouping(grouper, group_x12, f: X.X12File) -> list:
    twins = [X.twin(x) for x in f.facts]
    want = grouper.group(twins)
    got = group_x12(f.data)
    assert len(got) == len(want), (len(got), len(want))
    bad = []
    for g, w, loc in zip(got, want, f.locators):
        if g.get("locator") != loc or any(g.get(k) != v for k, v in w.items()):
            bad.append((w.get("id"), {k: (g.get(k), v) for k, v in w.items() if g.get(k) != v},
                        g.get("locator"), loc))
    return bad


@pytest.mark.parametrize("name", [p[0] for p in PUBLIC_FILES])
def test_group_x12_equals_group_of_twins(grouper, group_x12, public_files, name):
    """Every result field of the JSON twin's (five graded fields, severity, per-code detail,
    descriptions, version), the id and the locator: 100 %."""
    bad = _compare_grouping(grouper, group_x12, public_files[name])
    assert not bad, f"{len(bad)} claims differ; first: {bad[:3]}"


def test_billed_drg_matches(grouper, group_x12, records):
    """HI*DR with our DRG: billed_drg_matches true; with another DRG: false; no HI*DR: no
    billed_drg (or None)."""
    recs = _sample(records, 300, seed=21)
    facts = [X.prepare(r, i) for i, r in enumerate(recs)]
    ours = [r["drg"] for r in grouper.group([X.twin(x) for x in facts])]
    billed = []
    for k, (x, drg) in enumerate(zip(facts, ours)):
        b = None if k % 3 == 2 else drg if k % 3 == 0 else f"{int(drg) % 998 + 1:03d}"
        billed.append(b)
        facts[k] = X.replace_facts(x, billed_drg=b)
    f = X.write_837i(facts, sets=3)
    got = group_x12(f.data)
    for g, b, drg in zip(got, billed, ours):
        assert g.get("billed_drg") == b, g.get("id")
        if b is None:
            assert g.get("billed_drg_matches") is None, g.get("id")
        else:
            assert g.get("billed_drg_matches") is (b == drg), (g.get("id"), b, drg)


# --------------------------- (4) the guide's institutional examples, published by others

@pytest.mark.parametrize("name", TR3_EXAMPLES)
def test_tr3_examples_give_per_claim_icd9_errors(reader, name):
    """Each claim of the guide's ICD-9-era examples comes back with its own error naming the
    qualifier at fault (BK: an ICD-9 principal diagnosis) -- or, in the two files that write
    their components with '>' while ISA16 says ':', naming the HI segment without a principal
    diagnosis it can read; the one whose control numbers disagree (ST02 000017712, SE02 987654)
    and which has a segment 'HI:BF:4019' may be refused whole, naming a segment.  Never a crash."""
    data = (DATA / name).read_bytes()
    try:
        rows = reader.extract(data)
    except reader.X12Error as e:
        assert name == "institutional-claim.837i", f"{name} refused whole: {e}"
        assert isinstance(e.segment, int) and e.segment > 0 and e.reason
        return
    ids = re.findall(r"CLM\*([^*]+)\*", data.decode())
    assert [r["id"] for r in rows] == ids
    for r in rows:
        assert r["claim"] is None and r["error"], r
        field = r["error"]["field"]
        if name in ("ppo-repriced-claim.837i", "out-of-network-repriced-claim.837i"):
            assert _names(field, ("HI",)), field
        else:
            assert _names(field, ("HI", "BK")), field
        assert r["error"]["reason"]


@pytest.mark.parametrize("name", TR3_EXAMPLES)
def test_tr3_examples_group_x12_per_claim(reader, group_x12, name):
    data = (DATA / name).read_bytes()
    try:
        results = group_x12(data)
    except reader.X12Error as e:
        assert name == "institutional-claim.837i" and isinstance(e.segment, int)
        return
    assert results and all(r.get("error") and "drg" not in r for r in results)


def test_837p_is_refused_as_professional(reader):
    data = (DATA / "demo.example1.837").read_bytes()
    with pytest.raises(reader.X12Error) as info:
        reader.extract(data)
    assert re.search(r"professional|837P|X222", str(info.value.reason), re.I), info.value.reason


# ----------------------------------------------------------- (5) bad input, per claim

def test_bad_claims_file_is_what_the_oracle_says(records):
    f, cases = X.bad_claims_file(records)
    rows = O.extract_fast(f.data)
    assert [r["id"] for r in rows] == [c.facts.id for c in cases]
    for r, c in zip(rows, cases):
        if c.error_tokens is None or c.at == "group":
            assert r["error"] is None
        else:
            assert r["error"] and _names(r["error"]["field"], c.error_tokens), (r, c.error_tokens)
    assert O.normalise(O.extract_map(f.data)) == O.normalise(rows)


def test_bad_claims_get_their_own_errors_in_tr3_terms(reader, records):
    f, cases = X.bad_claims_file(records)
    rows = reader.extract(f.data)
    assert [r["id"] for r in rows] == [c.facts.id for c in cases]
    assert [r["locator"] for r in rows] == f.locators
    for r, c in zip(rows, cases):
        if c.error_tokens is None:
            assert r["error"] is None, r
            assert O.normalise([r])[0]["claim"] == O.normalise([{"claim": X.twin(c.facts)}])[0]["claim"]
        elif c.at == "extract":
            assert r["error"] and r["claim"] is None, r
            assert _names(r["error"]["field"], c.error_tokens), (r["error"], c.error_tokens)
            assert r["error"]["reason"]


def test_bad_claims_spoil_nothing_else_in_group_x12(grouper, group_x12, records):
    f, cases = X.bad_claims_file(records)
    results = group_x12(f.data)
    assert [r.get("id") for r in results] == [c.facts.id for c in cases]
    good = [c for c in cases if c.error_tokens is None]
    want = dict(zip([c.facts.id for c in good], grouper.group([X.twin(c.facts) for c in good])))
    for r, c in zip(results, cases):
        if c.error_tokens is None:
            assert all(r.get(k) == v for k, v in want[c.facts.id].items()), c.facts.id
        else:
            assert r.get("error") and "drg" not in r, r
            assert _names(r["error"]["field"], c.error_tokens), (r["error"], c.error_tokens)


# ----------------------------------------------------------- (5) bad input, whole file

def test_whole_file_cases_are_what_the_oracle_says(records):
    for name, (data, segment, _) in X.whole_file_cases(records).items():
        with pytest.raises(O.OracleError) as info:
            O.extract_fast(data)
        if segment is not None:
            assert info.value.segment == segment, name


@pytest.mark.parametrize("case", ["se_count_mismatch", "ge_count_mismatch", "iea_count_mismatch",
                                  "truncated_after_a_segment", "truncated_mid_segment",
                                  "not_x12_text", "not_x12_json", "empty"])
def test_whole_file_errors_name_the_segment(reader, records, case):
    """X12Error, never another exception; a count that disagrees names its trailer's segment
    number (1-based, counted over the whole file from the first ISA)."""
    data, segment, word = X.whole_file_cases(records)[case]
    with pytest.raises(reader.X12Error) as info:
        reader.extract(data)
    e = info.value
    assert e.reason and isinstance(e.reason, str)
    if segment is not None:
        assert e.segment == segment, (case, e.segment, e.reason)
    if word:
        assert word in e.reason.lower()


def test_bad_input_files_on_disk_are_the_generators(records, tmp_path):
    """tests/data/x12/bad/ (for whoever reads the reader's failures) is what the generators
    write today (rewrite it with ``python tests/x12_files.py``)."""
    X.write_bad_inputs(records[:14000], tmp_path)
    on_disk = DATA / "bad"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in on_disk.iterdir())
    for p in tmp_path.iterdir():
        assert p.read_bytes() == (on_disk / p.name).read_bytes(), p.name
