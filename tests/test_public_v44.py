"""v44.0 (FY2027, discharges from 2026-10-01) on the public v44.0 claims.

No CMS v44.0 software is here: ../shared/eval/public_v44.jsonl carries 2,000
claims labelled by msdrg 1.2.0 (the one reference that has v44.0) on the five
graded fields, none with POA 1 or blank (where msdrg departs from CMS).  The
grouper must reproduce every line, except where msdrg's answer is one of its
*named* departures from the CMS rules established on v40.0-v43.1
(differential.KNOWN_RULES: e.g. it groups an invalid discharge status that an
MDC 15/20 formula tests, where CMS answers INVALID_DISCHARGE_STATUS): those are
judged by the rule, counted and printed; any other difference fails.  The
differential run (test_differential.py) covers v44.0 beyond these.
"""

from __future__ import annotations

import json

import pytest

from conftest import SHARED
from differential import KNOWN_RULES, classify
from mismatch import report
from oracle import GRADED_FIELDS, expect_fields, public_to_claim

PUBLIC_V44 = SHARED / "eval" / "public_v44.jsonl"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    if not PUBLIC_V44.is_file():
        pytest.skip(f"public v44.0 claims not found at {PUBLIC_V44} (shared/ must be a sibling of the repository)")
    with open(PUBLIC_V44) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_v44_is_the_newest_version(grouper):
    assert grouper.versions[-1] == "44.0"
    assert grouper.version_ranges()[-1] == {"version": "44.0", "first_discharge_date": "2026-10-01",
                                            "last_discharge_date": "2027-03-31",
                                            **{k: grouper.version_ranges()[-1][k]
                                               for k in grouper.version_ranges()[-1]
                                               if k not in ("version", "first_discharge_date",
                                                            "last_discharge_date")}}


def test_public_v44_five_fields(grouper, records):
    assert len(records) == 2_000
    claims = [public_to_claim(r) for r in records]
    results = grouper.group(claims)
    mismatches = []
    judged: dict[str, int] = {}
    for rec, claim, res in zip(records, claims, results):
        exp = expect_fields(rec)
        assert res.get("id") == rec["id"]
        if "error" in res:
            mismatches.append((rec["id"], {"error": (exp["return_code"], res["error"])}))
            continue
        assert res["version"] == "44.0"
        diff = {f: (exp[f], res.get(f)) for f in GRADED_FIELDS if res.get(f) != exp[f]}
        if diff:
            rule = classify(claim, res, exp)
            if rule in KNOWN_RULES:
                judged[rule] = judged.get(rule, 0) + 1
            else:
                mismatches.append((rec["id"], diff))
    print(f"\n{len(records)} v44.0 claims: {len(records) - sum(judged.values()) - len(mismatches)} equal to msdrg, "
          f"judged by named rules: {judged or 'none'}")
    if mismatches:
        pytest.fail(report(mismatches, len(records), "five graded fields vs msdrg v44.0"), pytrace=False)


def test_public_v44_by_discharge_date(grouper, records):
    """The same claims routed by discharge date (the FY2027 first half) group alike."""
    claims = []
    for k, r in enumerate(records[:500]):
        c = public_to_claim(r)
        del c["version"]
        c["discharge_date"] = ("2026-10-01", "2027-01-15", "2027-03-31")[k % 3]
        claims.append(c)
    by_version = grouper.group([public_to_claim(r) for r in records[:500]])
    assert grouper.group(claims) == by_version


def test_v44_new_and_retired_drgs(grouper):
    """FY2027 added DRGs (210-211, 361-362, 400, 403-404, 449, 523-525, 731-733) and
    retired others (258-262, 264, 466-468, 485-487, 736-741)."""
    for drg in (210, 211, 361, 362, 400, 403, 404, 449, 523, 524, 525, 731, 732, 733):
        assert grouper.drg_info("44.0", drg) is not None, drg
    for drg in (258, 259, 260, 261, 262, 264, 466, 467, 468, 485, 486, 487, 736, 737, 738, 739, 740, 741):
        assert grouper.drg_info("44.0", drg) is None, drg
        assert grouper.drg_info("43.1", drg) is not None, drg
