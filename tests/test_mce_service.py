"""The Medicare Code Editor through the service (POST /v1/edit, /v1/edit/batch,
?edits=true on the grouping routes, /metrics) and the CLI (fastdrg edit,
fastdrg group --edits): public_edits.jsonl at 100% through each."""

from __future__ import annotations

import orjson
import pytest

from service.app import create_app
from service.settings import Settings
from test_mce_parity import as_expect, eval_claim
from test_mce_service_helpers import client_for  # noqa: F401  (re-exported below)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def records(edit_records):
    # the claims the encoder takes today (ages above 124 wait for the grouper's wider age range)
    return [r for r in edit_records if r["age"] <= 124]


@pytest.fixture(scope="module")
def app(grouper):
    return create_app(grouper=grouper, settings=Settings(max_batch_claims=20000, max_body_bytes=64 << 20))


@pytest.fixture
async def client(app):
    async with client_for(app) as c:
        yield c


from test_mce_parity import edit_records  # noqa: E402,F401  (the module fixture)


def _check(records, results):
    assert len(results) == len(records)
    wrong = [(r["id"], r["expect_mce"], as_expect(x)) for r, x in zip(records, results)
             if "error" in x or as_expect(x) != r["expect_mce"]]
    assert not wrong, f"{len(wrong)} differ; first: {wrong[:2]}"


async def test_edit_batch_route_public_edits_exact(client, records):
    body = orjson.dumps({"claims": [eval_claim(r) for r in records]})
    resp = await client.post("/v1/edit/batch", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text[:500]
    _check(records, resp.json()["results"])


async def test_group_batch_with_edits_public_edits_exact(client, records):
    some = records[:4000]
    body = orjson.dumps({"claims": [eval_claim(r) for r in some]})
    resp = await client.post("/v1/group/batch?edits=true", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 200
    results = resp.json()["results"]
    _check(some, results)
    plain = (await client.post("/v1/group/batch", content=body, headers={"content-type": "application/json"})).json()
    assert "edits" not in plain["results"][0]
    for x, p in zip(results, plain["results"]):  # the grouping itself is the same
        assert (x["drg"], x["return_code"], x["mdc"]) == (p["drg"], p["return_code"], p["mdc"])


async def test_edit_one_and_group_one_with_edits(client, records):
    r = records[0]
    one = await client.post("/v1/edit", json=eval_claim(r))
    assert one.status_code == 200 and as_expect(one.json()) == r["expect_mce"]
    g = await client.post("/v1/group?edits=true", json=eval_claim(r))
    assert g.status_code == 200 and as_expect(g.json()) == r["expect_mce"] and g.json()["drg"]
    bad = await client.post("/v1/edit", json={**eval_claim(r), "pdx": None})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "pdx"
    q = await client.post("/v1/group?edits=maybe", json=eval_claim(r))
    assert q.status_code == 400
    not_obj = await client.post("/v1/edit", content=b"[1]", headers={"content-type": "application/json"})
    assert not_obj.status_code == 422


async def test_stream_with_edits(client, records):
    some = records[:500]
    body = b"".join(orjson.dumps(eval_claim(r)) + b"\n" for r in some) + b"not json\n"
    resp = await client.post("/v1/group/stream?edits=true", content=body,
                             headers={"content-type": "application/x-ndjson"})
    lines = [orjson.loads(x) for x in resp.content.splitlines() if x.strip()]
    assert len(lines) == len(some) + 1 and "error" in lines[-1]
    _check(some, lines[:-1])


async def test_metrics_count_edits_by_name(client, records):
    await client.post("/v1/edit/batch", json={"claims": [eval_claim(r) for r in records[:200]]})
    text = (await client.get("/metrics")).text
    assert 'fastdrg_mce_edits_total{edit="UNSPECIFIED"}' in text
    assert records[0]["pdx"] not in text  # names and counts only, no claim content


async def test_openapi_has_an_example_per_edit_family(client):
    doc = (await client.get("/openapi.json")).json()
    op = doc["paths"]["/v1/edit"]["post"]
    examples = op["requestBody"]["content"]["application/json"]["examples"]
    assert {"codes", "age_sex", "principal_dx", "coverage", "obstetric_and_length_of_stay", "claim"} <= set(examples)
    assert "/v1/edit/batch" in doc["paths"]
    params = doc["paths"]["/v1/group/batch"]["post"]["parameters"]
    assert any(p["name"] == "edits" for p in params)
    assert "EditResult" in doc["components"]["schemas"]


async def test_openapi_examples_are_the_engine_s_answers(client):
    from service.routes.editing import EDIT_EXAMPLES

    for name, (claim, result) in EDIT_EXAMPLES.items():
        got = (await client.post("/v1/edit", json=claim)).json()
        assert got == result, name
