"""One test per CMS rule fixed against the official CMS grouper (issue 11).

Each claim is small and hand-built; its expected values are what the CMS grouper
(shared/cms-oracle) answered for it.  Every claim goes through the three roads
(group(), group_json_texts(), encode + group_batch + decode), which must agree.
These tests need no Java: the oracle's answers are written here.
"""

from __future__ import annotations

import orjson
import pytest

BASE = {"version": "43.1", "age": 50, "sex": "M", "discharge_status": 1,
        "hospital_status": "not_exempt", "pdx": "I214", "sdx": [], "procedures": []}


def claim(**kw) -> dict:
    c = dict(BASE)
    c.update(kw)
    return c


def group3(grouper, claims: list[dict]) -> list[dict]:
    """Group through the three roads; assert they agree; return group()'s results."""
    a = grouper.group(claims)
    texts = [orjson.dumps(c) for c in claims]
    b = [orjson.loads(d) for d in grouper.group_json_texts(texts).documents]
    batch = grouper.encode(claims)
    c = grouper.decode(batch, grouper.group_batch(batch))
    assert a == b == c
    return a


def five(r: dict) -> tuple:
    return r["drg"], r["mdc"], r["initial_drg"], r["initial_mdc"], r["return_code"]


def sdx_view(r: dict) -> list:
    return [(s["poa_error"], [[h["number"], h["status"]] for h in s["hacs"]]) for s in r["sdx"]]


def test_blank_poa_reads_like_poa_1(grouper):
    """Blank (" "), "", null and an absent POA are the same CMS input as "1"."""
    forms = [{"code": "T80211A", "poa": p} for p in ("1", " ", "", None)] + ["T80211A"]
    rs = group3(grouper, [claim(sdx=[f]) for f in forms])
    for r in rs:
        assert five(r) == ("999", "00", "281", "05", "HAC_MISSING_ONE_POA")
        assert sdx_view(r) == [("POA_NOT_RECOGNIZED", [[7, "HAC_CRITERIA_MET"]])]
        assert r["hac_status"] == "FINAL_DRG_UNGROUPABLE"


def test_unrecognised_poa_character_is_grouped_like_poa_1(grouper):
    """A POA character CMS does not know ("X", "E", "0") is grouped, POA_NOT_RECOGNIZED."""
    rs = group3(grouper, [claim(sdx=[{"code": "T80211A", "poa": p}]) for p in ("X", "E", "0")])
    for r in rs:
        assert five(r) == ("999", "00", "281", "05", "HAC_MISSING_ONE_POA")
        assert sdx_view(r) == [("POA_NOT_RECOGNIZED", [[7, "HAC_CRITERIA_MET"]])]
    assert [r["sdx"][0]["poa"] for r in rs] == ["X", "E", "0"]


def test_hac_sdx_operands_come_only_from_codes_not_poa_y_or_w(grouper):
    """CAUTI (HAC 06): the catheter code reported POA Y/W makes no UTI code a HAC."""
    for p in ("Y", "W"):
        (r,) = group3(grouper, [claim(sdx=[{"code": "N119", "poa": "N"}, {"code": "T83511A", "poa": p}])])
        assert five(r) == ("281", "05", "281", "05", "OK")
        assert r["hac_status"] == "NOT_APPLICABLE"
        assert sdx_view(r) == [("POA_RECOGNIZED_NOT_POA", [[0, "HAC_CRITERIA_NOT_MET"]]),
                               ("POA_RECOGNIZED_YES_POA", [[0, "HAC_CRITERIA_NOT_MET"]])]
    (r,) = group3(grouper, [claim(sdx=[{"code": "N119", "poa": "N"}, {"code": "T83511A", "poa": "N"}])])
    assert five(r) == ("282", "05", "281", "05", "OK")
    assert sdx_view(r) == [("POA_RECOGNIZED_NOT_POA", [[6, "HAC_CRITERIA_MET"]])] * 2
    # public_hac hac-4242-1344's shape: a blank-POA UTI code, the catheter code POA W
    (r,) = group3(grouper, [claim(version="40.0", age=67, pdx="H401332",
                                  sdx=[{"code": "N119", "poa": " "}, {"code": "I82411", "poa": "W"},
                                       {"code": "B3741", "poa": "N"}, {"code": "T83511A", "poa": "W"}],
                                  procedures=["0RG44K1", "5A1955Z"])])
    assert five(r) == ("982", "02", "982", "02", "OK")
    assert r["hac_status"] == "NOT_APPLICABLE"


def test_principal_only_hac_operand_makes_no_secondary_hac_candidate(grouper):
    """E66.01 (hac11_pdx only) as a secondary dx: not POA-checked, no HAC entry, any POA."""
    for v in ("40.0", "43.1"):
        rs = group3(grouper, [claim(version=v, pdx="I5020", sdx=[{"code": "E6601", "poa": p}])
                              for p in ("Y", "W", "N", "U", "1", " ")])
        for r in rs:
            assert five(r)[:2] == ("293", "05")
            assert sdx_view(r) == [("POA_NOT_CHECKED", [])]


def test_v40_lists_one_not_met_hac_entry_per_code(grouper):
    """K68.11 (HACs 11, 12, 13), POA N, no HAC met: v40.x one entry, v41.0+ one per HAC."""
    for v, n in (("40.0", 1), ("40.1", 1), ("41.0", 3), ("43.1", 3)):
        (r,) = group3(grouper, [claim(version=v, pdx="S82451K", sdx=[{"code": "K6811", "poa": "N"}])])
        assert five(r)[0] == "565"
        assert sdx_view(r) == [("POA_RECOGNIZED_NOT_POA", [[0, "HAC_CRITERIA_NOT_MET"]] * n)]


def test_principal_hac11_operand_is_listed_not_on_hac_list(grouper):
    """E66.01 as principal dx with K68.11 POA N and a bariatric procedure: HAC 11 met,
    and the principal dx lists [11, NOT_ON_HAC_LIST]."""
    for v in ("40.0", "43.1"):
        (r,) = group3(grouper, [claim(version=v, pdx="E6601", sdx=[{"code": "K6811", "poa": "N"}],
                                      procedures=["0D160ZA"])])
        assert five(r) == ("621", "10", "620", "10", "OK")
        assert r["pdx"]["hacs"] == [{"number": 11, "status": "NOT_ON_HAC_LIST"}]
        assert sdx_view(r) == [("POA_RECOGNIZED_NOT_POA", [[11, "HAC_CRITERIA_MET"]])]
        assert r["procedures"][0]["hac_usage"] == ["HAC_11"]


def test_procedure_hac_usage_on_a_hac_ungroupable_claim(grouper):
    """A HAC return code (DRG 999) still names the HAC each procedure took part in."""
    (r,) = group3(grouper, [claim(version="40.0", pdx="S82451K", sdx=[{"code": "K6811", "poa": "1"}],
                                  procedures=["0JWT0FZ"])])
    assert five(r) == ("999", "00", "982", "08", "HAC_MISSING_ONE_POA")
    assert r["hac_status"] == "FINAL_DRG_UNGROUPABLE"
    assert (r["procedures"][0]["affects_drg"], r["procedures"][0]["hac_usage"]) == ("INITIAL", ["HAC_13"])
    (r,) = group3(grouper, [claim(version="43.1", hospital_status="unknown", pdx="E6601",
                                  sdx=[{"code": "K6811", "poa": "N"}], procedures=["0D160ZA"])])
    assert five(r) == ("999", "00", "620", "10", "HAC_STATUS_INVALID_POA_N_OR_U")
    assert r["procedures"][0]["hac_usage"] == ["HAC_11"]


@pytest.mark.parametrize("age", [125, 130, 150, 1000, -1, -5, 2**31 - 1, -(2**31)])
def test_ages_outside_0_124_are_grouped(grouper, age):
    """CMS groups any age (its code editor flags one outside 0-124)."""
    (r,) = group3(grouper, [claim(age=age, sdx=[{"code": "K6811", "poa": "N"}])])
    assert five(r) == ("281", "05", "281", "05", "OK")


@pytest.mark.parametrize("dstat", [0, 8, 99, 100, 255, -1, "100"])
def test_unknown_discharge_status_is_grouped_invalid(grouper, dstat):
    """Any whole-number discharge status is grouped; one CMS does not know (0, 8, 99,
    and anything outside 0-99) gives INVALID_DISCHARGE_STATUS here (an AMI principal dx)."""
    (r,) = group3(grouper, [claim(discharge_status=dstat, sdx=[{"code": "K6811", "poa": "N"}])])
    assert five(r) == ("999", "00", "999", "00", "INVALID_DISCHARGE_STATUS")


@pytest.mark.parametrize("bad, field", [
    ({"age": 12.5}, "age"), ({"age": "old"}, "age"), ({"age": 2**31}, "age"),
    ({"discharge_status": "x1"}, "discharge_status"),
    ({"sdx": [{"code": "N179", "poa": "YY"}]}, "sdx[0].poa"),
])
def test_what_cannot_be_a_cms_input_is_an_error(grouper, bad, field):
    (r,) = grouper.group([claim(**bad)])
    assert r["error"]["field"] == field


def test_unknown_status_hospital_return_code_reads_the_hac_formula_over_every_code(grouper):
    """UNKNOWN POA status: the UTI code with the catheter code POA W is listed "not met"
    (the POA rule), yet CMS makes the claim ungroupable (its formula holds over every
    code); the claim's HAC status stays NOT_APPLICABLE (no HAC listed as met)."""
    for p in ("N", "1"):
        (r,) = group3(grouper, [claim(hospital_status="unknown",
                                      sdx=[{"code": "N119", "poa": p}, {"code": "T83511A", "poa": "W"}])])
        assert five(r) == ("999", "00", "281", "05", "HAC_STATUS_INVALID_MULT_HACS_POA_NOT_Y_W")
        assert r["hac_status"] == "NOT_APPLICABLE"
        assert [h for s in sdx_view(r) for h in s[1]] == [[0, "HAC_CRITERIA_NOT_MET"]] * 2
    (r,) = group3(grouper, [claim(hospital_status="unknown", sdx=[{"code": "N119", "poa": "N"}])])
    assert five(r) == ("281", "05", "281", "05", "OK")
    (r,) = group3(grouper, [claim(hospital_status="unknown", sdx=[{"code": "T83511A", "poa": "N"}])])
    assert five(r)[4] == "HAC_STATUS_INVALID_POA_N_OR_U" and r["hac_status"] == "FINAL_DRG_UNGROUPABLE"
    # NOT_EXEMPT reads the POA rule's answer: grouped
    (r,) = group3(grouper, [claim(sdx=[{"code": "N119", "poa": "1"}, {"code": "T83511A", "poa": "W"}])])
    assert five(r) == ("281", "05", "281", "05", "OK")


def test_sex_unknown_takes_the_female_mdc_of_a_sex_specific_principal_dx(grouper):
    """S37.898A is MDC 13 for a woman, 12 for a man; CMS reports 13 for sex U."""
    for sex, mdc in (("U", "13"), ("F", "13"), ("M", "12")):
        (r,) = group3(grouper, [claim(sex=sex, pdx="S37898A", procedures=["0BYJ0Z2"])])
        assert five(r) == ("007", mdc, "007", mdc, "OK")


def _px_aff(r):
    return [p["affects_drg"] for p in r["procedures"]]


def test_fusion_counter_names_the_principal_procedure_and_the_next(grouper):
    """SGLANTCTR (two single anterior fusions, DRGs 447/448) and its kin: CMS names the first
    procedure in marking order (first-listed, then by code) that carries the attribute and,
    when that is the first-listed procedure, the next one too."""
    mcc = [{"code": "L89114", "poa": "Y"}]
    cases = [
        (["0RG6070", "0RG607J"], mcc, "447", ["BOTH", "BOTH"]),
        (["0RG6070", "0RG607J", "0RG60A0"], mcc, "447", ["BOTH", "BOTH", "NONE"]),
        (["0RG60A0", "0RG607J", "0RG6070"], mcc, "447", ["BOTH", "NONE", "BOTH"]),
        (["0UF68ZZ", "0RG6070", "0RG607J", "0RG60A0"], mcc, "447", ["NONE", "BOTH", "NONE", "NONE"]),
        (["0UF68ZZ", "0RG6071", "0RG60J1", "0RG60K1"], mcc, "447", ["NONE", "BOTH", "NONE", "NONE"]),
        (["XRGA0R7", "0UF68ZZ", "XRGB0R7", "XRGA3R7"], [], "447", ["BOTH", "NONE", "NONE", "BOTH"]),
        (["0RG6070", "0RG6070"], [], "448", ["BOTH", "BOTH"]),
        # SINGLEFUSIONCTR (DRG 428): every procedure it counted
        (["0RG6070", "0RG6071", "0RG60J0", "0RG60K1"], [], "428", ["BOTH"] * 4),
    ]
    for px, sdx, drg, aff in cases:
        (r,) = group3(grouper, [claim(pdx="S52209A", sdx=sdx, procedures=px)])
        assert (r["drg"], _px_aff(r)) == (drg, aff), px


def test_satisfied_clusters_are_marked_in_the_order_of_their_names(grouper):
    """Two revision clusters satisfied (hip Z@1803/Z@4965, knee Z@5019/Z@7250): CMS names
    the one that comes first by name, whatever the order on the claim."""
    sdx = [{"code": "T800XXA", "poa": "W"}]
    cases = [
        ("43.0", ["XRRH0L8", "0SPD38Z", "0SPA0JZ", "0SRR0JA"], ["NONE", "NONE", "BOTH", "BOTH"]),
        ("43.0", ["0SPC4JC", "0SRC0JA", "0SP94JZ"], ["NONE", "NONE", "BOTH"]),
        ("43.0", ["0SPC4JC", "0SRC0JA"], ["BOTH", "BOTH"]),
        ("43.0", ["XRRH0L8", "0SRR0JA"], ["BOTH", "NONE"]),
    ]
    for v, px, aff in cases:
        (r,) = group3(grouper, [claim(version=v, hospital_status="exempt", pdx="I2481", sdx=sdx, procedures=px)])
        assert (r["drg"], _px_aff(r)) == ("981", aff), px


def test_singlefusionctr_needs_an_anterior_and_a_posterior_fusion(grouper):
    """SINGLEFUSIONCTR (DRG 426-428): three or more single-level fusions, at least one
    anterior and one posterior; three anterior ones make SGLANTCTR (DRG 447) instead."""
    A = ["0RG6070", "0RG607J", "0RG60A0", "0RG60J0"]
    P = ["0RG6071", "0RG60J1", "0RG60K1", "0RG6371"]
    mcc = [{"code": "L89114", "poa": "Y"}]
    for px, drg in ((A[:3], "447"), (A[:2] + P[:1], "426"), (A[:1] + P[:2], "426"), (P[:3], "447"),
                    (A[:3] + P[:1], "426"), (A[:4], "447"), (P[:4], "447"), (A[:2] + P[:2], "426"),
                    (["0RG6070"] * 3, "447")):
        (r,) = group3(grouper, [claim(pdx="S52209A", sdx=mcc, procedures=px)])
        assert r["drg"] == drg, px


def test_a_cluster_is_made_of_the_first_occurrence_of_each_code(grouper):
    """Knee revision cluster (0SPD4JC + 0SRW0JA) with duplicates: CMS names the first
    occurrence of each code; the duplicates are neither named nor marked on their own."""
    for px, aff in ((["0SPD4JC", "0SRW0JA", "0SPD4JC"], ["BOTH", "BOTH", "NONE"]),
                    (["0SPD4JC", "0SPD4JC", "0SRW0JA"], ["BOTH", "NONE", "BOTH"]),
                    (["0SPD4JC", "0SPD4JC", "0SRW0JA", "0SRW0JA"], ["BOTH", "NONE", "BOTH", "NONE"]),
                    (["0UF68ZZ", "0SPD4JC", "0SPD4JC", "0SRW0JA", "0SPD4JC"], ["BOTH", "NONE", "NONE", "NONE", "NONE"])):
        (r,) = group3(grouper, [claim(version="41.0", age=0, pdx="H65411", sdx=[{"code": "S52509M", "poa": "Y"}],
                                      procedures=px)])
        assert (r["drg"], r["mdc"], _px_aff(r)) == ("982", "03", aff), px


def test_drg794_newborn_born_here_names_the_first_secondary_dx_in_marking_order(grouper):
    """DRG 794 for a newborn born here (P08.21): CMS names the first secondary dx in marking
    order (the MCC S14.131A), not the one that gave the formula's SDX: operand (P28.39)."""
    for s14 in ("U", "Y"):
        (r,) = group3(grouper, [claim(age=1, pdx="P0821", sdx=[{"code": "S14131A", "poa": s14},
                                                                {"code": "S52552K", "poa": "Y"},
                                                                {"code": "P2839", "poa": " "}])])
        assert (r["drg"], r["mdc"]) == ("794", "15")
        assert [s["affects_drg"] for s in r["sdx"]] == ["BOTH", "NONE", "NONE"]


def test_drg794_newborn_born_here_skips_birth_status_secondary_dx(grouper):
    """DRG 794 for a newborn born here (P92.4, P08.21, Z38.00): the secondary dx named is the
    first in marking order that is not itself a birth-status (incident) code -- P02.60 is
    skipped for W22.042A, R50.9 or P28.39 (CMS, cms-500013-8504)."""
    cases = [  # (pdx, sdx, CMS affects_drg per sdx)
        ("P924", ["W22042A", "P0260"], ["BOTH", "NONE"]),
        ("P924", ["P0260", "W22042A"], ["NONE", "BOTH"]),
        ("P924", ["R509", "P0260"], ["BOTH", "NONE"]),
        ("P924", ["P0260", "P2839"], ["NONE", "BOTH"]),
        ("P924", ["W22042A", "P0260", "Z3800"], ["BOTH", "NONE", "NONE"]),
        ("P924", ["P0260", "S14131A", "W22042A"], ["NONE", "BOTH", "NONE"]),
        ("P0821", ["P0260", "W22042A"], ["NONE", "BOTH"]),
        ("Z3800", ["P0260", "W22042A"], ["NONE", "BOTH"]),
    ]
    claims = [claim(age=0, sex=0, discharge_status="51", pdx={"code": p, "poa": "Y"},
                    sdx=[{"code": c, "poa": "Y"} for c in sdx], procedures=["0UCG7ZZ"])
              for p, sdx, _ in cases]
    rs = group3(grouper, claims)
    for r, (_, _, aff) in zip(rs, cases):
        assert five(r)[:4] == ("794", "15", "794", "15")
        assert [s["affects_drg"] for s in r["sdx"]] == aff


def test_bilateral_marking_takes_satisfied_clusters_too(grouper):
    """DRG 461 (bilateral or multiple major joints): a right hip replacement and a left knee
    revision cluster (0SPD0LZ + 0SRD0J9, pattern "leftknee"): CMS names all three."""
    sdx = [{"code": "T800XXA", "poa": "W"}]
    (r,) = group3(grouper, [claim(version="42.0", sex="F", pdx="T84613A", sdx=sdx, hospital_status="exempt",
                                  procedures=["0SR904A", "05UN0KZ", "0SPD0LZ", "0SRD0J9"])])
    assert r["initial_drg"] == "461"
    assert _px_aff(r) == ["BOTH", "NONE", "BOTH", "BOTH"]


def test_bilateral_marking_stops_at_two_joints(grouper):
    """DRG 462 (BILATERAL) with three joint procedures (here cluster codes given as such):
    CMS names the first two joints in marking order and no third."""
    sdx = [{"code": "M84461S", "poa": "Y"}, {"code": "L89219", "poa": "W"}]
    (r,) = group3(grouper, [claim(version="40.1", sex="U", age=81, pdx="M50320", sdx=sdx,
                                  procedures=["0SJH0ZZ", "Z@6640", "0JR10KZ", "Z@1977", "0PS43ZZ",
                                              "0QHC05Z", "Z@6906", "Z@0474", "0JHG0VZ"])])
    assert r["drg"] == "462"
    assert _px_aff(r) == ["NONE", "BOTH", "NONE", "BOTH", "NONE", "NONE", "NONE", "NONE", "NONE"]


def test_a_cc_excluded_hac_code_makes_no_other_code_a_hac(grouper):
    """The catheter code (HAC 06's hac06_sdx) repeating the principal dx is CC-excluded
    (HAC_NOT_APPLICABLE_EXCLUSION): the blank-POA UTI code N30.00 is not met (CMS)."""
    (r,) = group3(grouper, [claim(version="42.0", age=98, hospital_status="unknown", pdx="T83518A",
                                  sdx=[{"code": "T83518A", "poa": "N"}, {"code": "N3000", "poa": " "}])])
    assert r["sdx"][1]["hacs"] == [{"number": 0, "status": "HAC_CRITERIA_NOT_MET"}]
    assert r["sdx"][0]["hacs"] == [{"number": 6, "status": "HAC_NOT_APPLICABLE_EXCLUSION"}]
    # the UNKNOWN-status return code still reads the formula over every code
    assert (r["drg"], r["initial_drg"], r["return_code"], r["hac_status"]) == (
        "999", "699", "HAC_STATUS_INVALID_MULT_HACS_POA_NOT_Y_W", "NOT_APPLICABLE")


def test_a_non_or_principal_procedure_is_named_last_from_v41(grouper):
    """DRG 909 (``oth22``: other O.R. procedures for injuries), all answers from CMS.
    From v41.0 a non-O.R. principal (first-listed) procedure (02HK3JZ, pacemaker lead) is
    looked at after every other procedure when naming the one that made an operand; v40.x
    looks at it first.  Listed second it keeps its place in code order, and alone (or
    only duplicates of it behind) it is still the one named."""
    base = dict(age=26, sex="F", pdx={"code": "T384X5S", "poa": "Y"}, hospital_status="exempt")
    cases = (
        ("42.1", ["02HK3JZ", "0RSK0ZZ"], ["NONE", "BOTH"]),
        ("41.0", ["02HK3JZ", "0SRR03A", "0RSK0ZZ", "02134AW"], ["NONE", "NONE", "BOTH", "NONE"]),
        ("42.1", ["02HK3JZ", "0SRR03A"], ["NONE", "BOTH"]),
        ("42.1", ["02HK3JZ", "02HK3JZ", "0RSK0ZZ"], ["NONE", "BOTH", "NONE"]),
        ("42.1", ["02HK3JZ"], ["BOTH"]),
        ("42.1", ["02134AW", "02HK3JZ", "0RSK0ZZ"], ["NONE", "BOTH", "NONE"]),
        ("42.1", ["02134AW", "0RSK0ZZ", "02HK3JZ"], ["NONE", "NONE", "BOTH"]),
        ("42.1", ["0SRR03A", "02HK3JZ", "0RSK0ZZ"], ["BOTH", "NONE", "NONE"]),
        ("42.1", ["0SRR03A", "0RSK0ZZ"], ["BOTH", "NONE"]),
        ("40.0", ["02HK3JZ", "0RSK0ZZ"], ["BOTH", "NONE"]),
        ("40.1", ["02HK3JZ", "0RSK0ZZ"], ["BOTH", "NONE"]),
        ("40.0", ["02134AW", "02HK3JZ", "0RSK0ZZ"], ["NONE", "BOTH", "NONE"]),
    )
    rs = group3(grouper, [claim(version=v, procedures=px, **base) for v, px, _ in cases])
    for (v, px, aff), r in zip(cases, rs):
        assert (r["drg"], r["mdc"], _px_aff(r)) == ("909", "21", aff), (v, px)
    # the differential run's claim (cms-500003-6800): DRG 907, 0RSK0ZZ named
    sdx = [{"code": "O9202", "poa": "Y"}, {"code": "S61322A", "poa": "W"}, "J9851",
           {"code": "T3370XS", "poa": "Y"}, {"code": "S59031P", "poa": "Y"}, {"code": "S82464C", "poa": "Y"},
           {"code": "S45099A", "poa": "W"}, {"code": "T76A1XS", "poa": "Y"}, {"code": "K6811", "poa": ""},
           {"code": "O2240", "poa": "Y"}]
    (r,) = group3(grouper, [claim(version="42.1", discharge_status="83", sdx=sdx,
                                  procedures=["02HK3JZ", "0SRR03A", "0RSK0ZZ", "02134AW"], **base)])
    assert (r["drg"], r["mdc"], _px_aff(r)) == ("907", "21", ["NONE", "NONE", "BOTH", "NONE"])


# codes for the stent and vessel counters (v42.0 attributes): stent1 with 1/2/3/4 vessels,
# a vessel count without a stent (1/2 vessels), four stents, and one that counts nothing
_CTR = dict(X="0Q9100Z", a="02H03YZ", b="02H13YZ", c="02723DZ", d="02733DZ", z="02C03ZZ", y="02C14ZZ",
            f="02703GZ")
_AFF = {"B": "BOTH", "F": "FINAL", "-": "NONE"}


def _counter_cases(grouper, cases, version="42.0", sdx=()):
    for combo, drg, marks in cases:
        c = claim(version=version, age=60, sex="M", pdx="I2510", sdx=list(sdx),
                  procedures=[_CTR[ch] for ch in combo])
        (r,) = group3(grouper, [c])
        assert (r["drg"], _px_aff(r)) == (drg, [_AFF[m] for m in marks]), combo


@pytest.mark.parametrize("version", ["40.0", "41.1", "42.0", "43.1"])
def test_four_vessels_counter_names_the_codes_counted_in_code_order(grouper, version):
    """FOUR_VESSELS (DRG 321 from v41.0; DRGs 246/248 in v40): CMS counts vessels over the
    procedures in code order, the principal among them, until four, and names each counted
    one's code: the principal or the code's first later occurrence in the initial stage,
    its second too in the final stage, never a third.  Answers of the CMS grouper."""
    cases = [
        ("Xbb", "-BF"), ("Xbbb", "-BF-"), ("Xabc", "-B-B"), ("Xbd", "--B"), ("Xcac", "-B-F"),
        ("Xyby", "-BBF"), ("bbyy", "B-BF"), ("byyy", "BBF-"), ("yby", "BBB"), ("zzzzb", "BBF-B"),
        ("Xaazzz", "-B-BF-"), ("Xazzzz", "-BBF--"),
    ]
    if version == "43.1":  # (there 02C03ZZ and 02C14ZZ lead elsewhere: DRG 360)
        cases = cases[:5]
    for combo, marks in cases:
        c = claim(version=version, age=60, sex="M", pdx="I2510", procedures=[_CTR[ch] for ch in combo])
        (r,) = group3(grouper, [c])
        # (v40: DRG 246/248, "(NORstent & FOUR_VESSELS)"; from v41.0: DRG 321)
        assert r["drg"] in ("246", "248", "321") and _px_aff(r) == [_AFF[m] for m in marks], combo


def test_four_stents_names_every_stent_procedure_and_an_mcc_names_no_counter(grouper):
    """FOUR_STENTS, met before FOUR_VESSELS in ``MCC | FOUR_STENTS | FOUR_VESSELS``: CMS names
    every procedure with a stent count, duplicates too; with an MCC neither counter names
    any (the first procedure that is arterial or percutaneous and has a stent is named)."""
    _counter_cases(grouper, [("Xfa", "321", "-BB"), ("Xfff", "321", "-BBB"), ("Xaaaaz", "321", "-BBBB-"),
                             ("Xfzb", "321", "-B-B")])
    _counter_cases(grouper, [("Xbb", "321", "-B-"), ("Xzzzb", "321", "----B"), ("Xaaaaz", "321", "-B----")],
                   sdx=[{"code": "J9601", "poa": "Y"}])


def test_bilateral_marking_reads_the_procedures_in_code_order(grouper):
    """BILATERAL (DRG 461, MCC & BILATERAL): the two joints are named in plain code order,
    the principal (first-listed) procedure among the others, not ahead of them; a
    cluster's name coded directly is a procedure like any other.  Answers of the CMS
    grouper (v40.1 and v43.1 alike; cms-500031-3650)."""
    lknee, rhip, rknee, lhip = "0SRU0JZ", "0SRR03Z", "0SRC0JZ", "0SRE0JZ"
    mcc = [{"code": "J9601", "poa": "Y"}]
    cases = (
        ([lknee, rhip, rknee], ["NONE", "BOTH", "BOTH"]),
        ([lknee, rknee, rhip], ["NONE", "BOTH", "BOTH"]),
        ([rhip, lknee, rknee], ["BOTH", "NONE", "BOTH"]),
        ([lknee, rhip, rknee, lhip], ["NONE", "NONE", "BOTH", "BOTH"]),
        (["Z@7238", "Z@1683", "Z@6981"], ["NONE", "BOTH", "BOTH"]),
        (["Z@7238", rhip, rknee], ["NONE", "BOTH", "BOTH"]),
    )
    for version in ("40.1", "43.1"):
        for px, aff in cases:
            if version == "43.1" and px[0].startswith("Z@"):
                continue  # (v43.1 groups those to DRG 466)
            (r,) = group3(grouper, [claim(version=version, age=60, pdx="M1610", sdx=mcc, procedures=px)])
            assert (r["drg"], _px_aff(r)) == ("461", aff), (version, px)


def test_a_cluster_name_coded_as_principal_keeps_its_place_in_v41(grouper):
    """The non-O.R. principal procedure looked at last (from v41.0): in v41.x a cluster's
    name coded directly as the principal procedure (Z@1027, Z@1028: bladur, no O.R.
    attribute) is not moved; from v42.0 it is.  DRG 664, answers of the CMS grouper
    (cms-500003-1263)."""
    for version, px, aff in (
        ("41.0", ["Z@1027", "0TWB47Z"], ["BOTH", "NONE"]),
        ("41.1", ["Z@1028", "0CRV8JZ", "0TWB47Z"], ["BOTH", "NONE", "NONE"]),
        ("42.0", ["Z@1027", "0TWB47Z"], ["NONE", "BOTH"]),
        ("42.1", ["Z@1028", "0THD3LZ"], ["NONE", "BOTH"]),
        ("40.1", ["Z@1028", "0TWB47Z"], ["BOTH", "NONE"]),
    ):
        (r,) = group3(grouper, [claim(version=version, age=0, sex="F", pdx="Q600", procedures=px)])
        assert (r["drg"], _px_aff(r)) == ("664", aff), (version, px)


def test_bilateral_marking_names_the_principal_for_its_own_joint(grouper):
    """BILATERAL: the joints come in code order, but a joint the principal (first-listed)
    procedure is on names the principal, not an earlier code on the same joint
    (0SRR039 and 0SR9039 are both right hip).  CMS v41.0 (hac-4242-1906)."""
    mcc = [{"code": "J9601", "poa": "Y"}]
    for px, aff in ((["0SRR039", "0SR9039", "0SRC0JZ"], ["BOTH", "NONE", "BOTH"]),
                    (["0VLF0CZ", "0SRR039", "0SR9039", "0SRC0JZ"], ["NONE", "NONE", "BOTH", "BOTH"]),
                    (["0SRR039", "0SRC0JZ", "0SR9039", "0SRU0JZ"], ["BOTH", "BOTH", "NONE", "NONE"]),
                    (["0SRR039", "0SR9039", "0SRU0JZ"], ["BOTH", "NONE", "BOTH"])):
        (r,) = group3(grouper, [claim(version="41.0", age=60, pdx="M1610", sdx=mcc, procedures=px)])
        assert (r["drg"], _px_aff(r)) == ("461", aff), px


def test_bilateral_reads_codes_then_clusters_then_cluster_names_coded_directly(grouper):
    """BILATERAL: procedure codes first, then the satisfied clusters (by name), then the
    clusters' names coded directly (Z@...); a joint reached by a satisfied cluster is
    named by a cluster's name coded on that joint when there is one.  Joints: Z@1633,
    Z@5168 right hip; Z@1911, Z@5244 left hip; Z@2040 left knee; Z@5446 right knee;
    0SPB0BZ + 0SRS03Z and 0SPB48Z + 0SRE0JA satisfy a left hip revision, 0SPD38Z +
    0SRU0JZ a left knee revision; Z@6641 and Z@1779 right hip, Z@6708 left hip.  Answers
    of the CMS grouper, v40.1 and v42.1 alike (cms-500057-2318, cms-500027-9180,
    cms-500060-6786, cms-500068-8363)."""
    mcc = [{"code": "J9601", "poa": "Y"}]
    cases = (
        (mcc, ["0RUG0JZ", "Z@5446", "Z@1633", "0SPB0BZ", "0SRS03Z"], "461", "--BBB"),
        ([], ["08P03CZ", "Z@5446", "0SPB0BZ", "0SRS03Z", "Z@2040"], "462", "--BBB"),
        ([], ["08P03CZ", "Z@1633", "Z@2040", "Z@5244"], "462", "-BB-"),
        ([], ["08P03CZ", "Z@5168", "Z@5244", "0SPB48Z", "0SRE0JA"], "462", "-BB--"),
        ([], ["08P03CZ", "Z@1911", "Z@2040", "0SPD38Z", "0SRU0JZ"], "462", "-BB--"),
        ([], ["08P03CZ", "0SPB0BZ", "0SRS03Z", "0SPD38Z", "0SRU0JZ", "Z@1633", "Z@5244"], "462", "---BB-B"),
        # the principal's own joint names the principal in these passes too (cms-500068-8363)
        (mcc, ["Z@6641", "Z@1779", "Z@6708"], "461", "B-B"),
        (mcc, ["Z@5244", "0SPB0BZ", "0SRS03Z", "Z@1911", "Z@1633"], "461", "B---B"),
    )
    for version in ("40.1", "42.1"):
        for sdx, px, drg, marks in cases:
            aff = ["BOTH" if m == "B" else "NONE" for m in marks]
            (r,) = group3(grouper, [claim(version=version, age=60, pdx="M1610", sdx=sdx, procedures=px)])
            assert (r["drg"], _px_aff(r)) == (drg, aff), (version, px)


def test_a_claim_no_formula_matches_is_refused_as_cms_refuses_it(grouper):
    """A claim none of whose formulas gives a DRG (a neurostimulator generator 0JH83EZ with
    a spinal lead 00HV3MZ under a skin principal dx, v40.0 and v42.x) is refused: the CMS
    grouper raises ("Grouping failed to match to a DRG"; v40.0 "DRG description is
    required"), so the answer is an error for the whole claim ("$"), never DRG 000; the
    batch's other claims are grouped (cms-500080-1508, cms-500099-4580)."""
    from engine.grouper import NO_DRG

    px = ["0JH83EZ", "00HV3MZ"]
    claims = [claim(version=v, pdx="L703", procedures=px) for v in ("40.0", "42.0", "42.1")]
    claims += [claim(version="42.0", pdx="J95811", sdx=[{"code": "T80311A", "poa": "U"}],
                     procedures=["02HK33Z", "0JH83EZ", "00HV4MZ"])]  # (and before any HAC logic)
    claims += [claim(version="42.1", pdx="L703", procedures=px[:1]), claim(version="43.1", pdx="L703", procedures=px)]
    rs = group3(grouper, claims)
    assert [r.get("error") for r in rs[:4]] == [NO_DRG] * 4
    assert [(r["drg"], r["return_code"]) for r in rs[4:]] == [("983", "OK"), ("983", "OK")]


def test_singlefusionctr_names_each_counted_code_as_four_vessels_does(grouper):
    """SINGLEFUSIONCTR (DRG 426-428: three or more single-level fusions) names each fusion's
    code as FOUR_VESSELS does: the principal, else the code's first later occurrence in
    the initial stage, also its second in the final stage, never a third.  0SG34AJ,
    0SG04AJ anterior, 0SG834Z, 0SG0471 posterior single-level fusions.  Answers of the CMS
    grouper, v43.0 (cms-500095-9291)."""
    a, p, a2, p2 = "0SG34AJ", "0SG834Z", "0SG04AJ", "0SG0471"
    base = dict(version="43.0", age=10, discharge_status=50, hospital_status="exempt",
                pdx={"code": "T84614A", "poa": "N"}, sdx=[{"code": "J9859", "poa": "Y"}])
    mark = {"B": "BOTH", "F": "FINAL", "-": "NONE"}
    for px, drg, marks in (
        (["0210089", a, a, a, p], "426", "-BF-B"),
        ([a, a, p], "426", "BBB"),
        (["0210089", p, p, a], "426", "-BFB"),
        (["0210089", a, p, a2, p2, a, a2], "426", "-BBBBFF"),
        ([p, a, a2, a, p2, p], "426", "BBBFBB"),
        ([a, p, a, a], "426", "BBBF"),
    ):
        (r,) = group3(grouper, [claim(**base, procedures=px)])
        assert (r["drg"], _px_aff(r)) == (drg, [mark[m] for m in marks]), px
    (r,) = group3(grouper, [claim(**{**base, "sdx": []}, procedures=["0210089", a, p, a])])
    assert (r["drg"], _px_aff(r)) == ("428", ["NONE", "BOTH", "BOTH", "FINAL"])


def test_a_hac_ungroupable_claim_names_the_counters_codes_initial_only(grouper):
    """A claim a HAC return code makes ungroupable (final DRG 999) has no final names: a
    counter's codes (FOUR_VESSELS, SINGLEFUSIONCTR), which the initial stage names for both
    stages, are INITIAL only.  A secondary dx without a valid POA in a not-exempt hospital
    (HAC_MISSING_ONE_POA).  Answers of the CMS grouper (cms-500024-879, cms-500046-8482,
    cms-500047-1571)."""
    sdx = [{"code": "T80211A", "poa": " "}]
    for version, pdx, px, marks in (
        ("43.1", "I214", ["02703ZZ", "02713ZZ", "02723ZZ", "02733ZZ"], "I---"),
        ("43.1", "I214", ["02733F6", "02703ZZ"], "II"),
        ("43.0", "T84614A", ["0210089", "0SG34AJ", "0SG34AJ", "0SG834Z"], "-I-I"),
    ):
        (r,) = group3(grouper, [claim(version=version, pdx=pdx, sdx=sdx, procedures=px)])
        assert r["drg"] == "999" and r["return_code"] == "HAC_MISSING_ONE_POA"
        assert _px_aff(r) == [{"I": "INITIAL", "-": "NONE"}[m] for m in marks], px


def test_a_v41_claim_without_procedures_reads_no_principal_procedure(grouper):
    """The v41.x rule that keeps a cluster's name coded as the principal procedure in its
    place reads the principal procedure only when the claim has one: a v41.0 claim with no
    procedure whose DRG formula names procedure operands used to read past the batch's
    (empty) procedure column (a segmentation fault on syn-0-15465 of the engine benchmark's
    claims).  CMS v41.0: DRG 281, I21.21 and H59.312 named."""
    c = claim(version="41.0", age=19, sex="F", discharge_status=7, pdx={"code": "I50814", "poa": "U"},
              sdx=[{"code": "I2121", "poa": "Y"}, {"code": "M84759S", "poa": "Y"}, {"code": "H59312", "poa": "Y"}])
    for version in ("41.0", "41.1"):
        batch = grouper.encode([{**c, "version": version}])
        assert len(batch.px) == 0
        (r,) = grouper.decode(batch, grouper.group_batch(batch))
        assert (r["drg"], [s["affects_drg"] for s in r["sdx"]]) == ("281", ["BOTH", "NONE", "BOTH"])
        assert group3(grouper, [{**c, "version": version}]) == [r]
