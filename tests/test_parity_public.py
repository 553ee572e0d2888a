"""Parity with the official CMS grouper on the three public reference sets.

Every line of shared/eval/public_claims.jsonl (14,000), public_hac.jsonl (3,069,
aimed at the HAC logic: every POA value incl. blank, E66.01/K68.11 probes) and
public_edits.jsonl (16,400; its ``expect``, the CMS grouper's answer, incl. ages
above 124) carries the CMS result.  A grouper is exact when it reproduces, on
every line, the five graded fields AND the per-code detail (tests/cmsdiff.py,
``compare``).  Each set goes through the three roads a claim can take:
``group()``, ``group_json_texts()`` (the service's) and ``encode`` +
``group_batch`` + ``decode``.  Any difference fails.
"""

from __future__ import annotations

import json

import orjson
import pytest

from cmsdiff import SHARED, compare
from mismatch import report
from oracle import public_to_claim

SETS = {"public_claims": 14_000, "public_hac": 3_069, "public_edits": 16_400}


@pytest.fixture(scope="module", params=sorted(SETS))
def public_set(request):
    path = SHARED / "eval" / f"{request.param}.jsonl"
    if not path.is_file():
        pytest.skip(f"shared reference claims not found at {path} (shared/ must be a sibling of the repository)")
    with open(path) as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    assert len(records) == SETS[request.param]
    return request.param, records


def _road(grouper, road: str, claims: list[dict]) -> list[dict]:
    if road == "group":
        return grouper.group(claims)
    if road == "group_json_texts":
        docs = grouper.group_json_texts([orjson.dumps(c) for c in claims]).documents
        return [orjson.loads(d) for d in docs]
    batch = grouper.encode(claims)
    return grouper.decode(batch, grouper.group_batch(batch))


@pytest.mark.parametrize("road", ["group", "group_json_texts", "encode_group_batch_decode"])
def test_public_set_five_fields_and_detail(grouper, public_set, road):
    name, records = public_set
    claims = [public_to_claim(r) for r in records]
    results = _road(grouper, road, claims)
    assert len(results) == len(records)
    mismatches = []
    for rec, res in zip(records, results):
        assert res.get("id") == rec["id"], f"result order/id broken at {rec['id']}: {res.get('id')}"
        diff = compare(rec["expect"], res)
        if diff:
            mismatches.append((rec["id"], diff))
    if mismatches:
        pytest.fail(report(mismatches, len(records), f"{name} via {road}: five fields and detail vs CMS"),
                    pytrace=False)
