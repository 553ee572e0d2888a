"""The service's payment surface: weights in results, ?base_rate= and FASTDRG_BASE_RATE,
/v1/what-if, weights in /v1/versions and /v1/drgs (engine.payment behind them)."""

from __future__ import annotations

import httpx
import pytest

from service.app import create_app
from service.settings import Settings, SettingsError

pytestmark = pytest.mark.anyio

CLAIM = {"version": "43.1", "age": 70, "sex": "F", "discharge_status": "02", "los": 1, "pdx": "I5021",
         "sdx": [{"code": "J9601", "poa": "Y"}], "procedures": []}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


@pytest.fixture
async def client(grouper):
    async with client_for(create_app(grouper=grouper, settings=Settings())) as c:
        yield c


async def test_group_carries_weights_and_base_rate(client, grouper):
    r = await client.post("/v1/group", json=CLAIM)
    assert r.status_code == 200
    doc = r.json()
    assert doc == grouper.group([CLAIM])[0]
    assert doc["weight"] == 1.2838 and doc["transfer"] == "acute" and doc["adjusted_weight"] == 0.6757
    assert doc["payment_estimate"] is None
    r = await client.post("/v1/group?base_rate=6000", json=CLAIM)
    assert r.json()["payment_estimate"]["amount"] == 4054.2
    r = await client.post("/v1/group/batch?base_rate=6000.00", json={"claims": [CLAIM, {**CLAIM, "los": None}]})
    res = r.json()["results"]
    assert res[0]["payment_estimate"]["amount"] == 4054.2 and res[1]["payment_estimate"] is None
    for bad in ("abc", "-5", "1.234"):
        r = await client.post(f"/v1/group?base_rate={bad}", json=CLAIM)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "base_rate"


async def test_base_rate_setting(grouper):
    settings = Settings.from_env({"FASTDRG_BASE_RATE": "5000"})
    async with client_for(create_app(grouper=grouper, settings=settings)) as c:
        r = await c.post("/v1/group", json=CLAIM)
        assert r.json()["payment_estimate"]["amount"] == 3378.5  # 5000 x 0.6757
        r = await c.post("/v1/group?base_rate=6000", json=CLAIM)  # the request's own wins
        assert r.json()["payment_estimate"]["amount"] == 4054.2
    with pytest.raises(SettingsError, match="FASTDRG_BASE_RATE"):
        Settings.from_env({"FASTDRG_BASE_RATE": "lots"})


async def test_what_if_route(client, grouper):
    body = {"claim": {**CLAIM, "sdx": []}, "add_sdx": ["J9601", {"code": "N179", "poa": "Y"}],
            "add_procedures": ["5A1955Z"], "remove": ["Z999"]}
    r = await client.post("/v1/what-if", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    want = grouper.what_if(body["claim"], {k: body[k] for k in ("add_sdx", "add_procedures", "remove")})
    assert doc == want
    assert doc["changes"][0]["drg"] == "291" and doc["changes"][0]["counts_as"] == "MCC"
    assert doc["changes"][0]["weight_delta"] == round(1.2838 - doc["claim"]["weight"], 4)
    assert doc["changes"][-1]["error"]["reason"] == "not on the claim"


@pytest.mark.parametrize("body,status,field", [
    (b"{", 400, "$"),
    (b"[]", 422, "$"),
    (b'{"claim": 5}', 422, "claim"),
    (b'{"claim": {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1}}', 422, "claim.pdx"),
    (b'{"claim": {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I10"}, "add": []}',
     422, "add"),
    (b'{"claim": {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I10"}, "add_sdx": "I10"}',
     422, "add_sdx"),
])
async def test_what_if_refusals(client, body, status, field):
    r = await client.post("/v1/what-if", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"] == field for e in r.json()["errors"]), r.json()


async def test_versions_and_drgs_show_weights(client):
    r = await client.get("/v1/versions")
    by = {v["version"]: v for v in r.json()["versions"]}
    assert by["43.1"]["weights"] is True and by["43.1"]["fiscal_year"] == 2026
    assert by["42.1"]["weights"] is False and by["42.1"]["fiscal_year"] == 2025
    r = await client.get("/v1/drgs/291?version=43.1")
    d = r.json()
    assert (d["weight"], d["gmlos"], d["amlos"], d["post_acute"], d["special_pay"]) == (1.2838, 3.8, 5.0, True, False)
    r = await client.get("/v1/drgs/291?version=42.1")
    assert r.json()["weight"] is None and r.json()["weights_missing"] == "Table 5 FY2025 is not loaded"


async def test_stream_base_rate(client):
    body = b"\n".join(__import__("orjson").dumps(c) for c in (CLAIM, {**CLAIM, "discharge_status": 1})) + b"\n"
    r = await client.post("/v1/group/stream?base_rate=6000", content=body,
                          headers={"content-type": "application/x-ndjson"})
    lines = [__import__("orjson").loads(x) for x in r.content.splitlines()]
    assert [x["payment_estimate"]["amount"] for x in lines] == [4054.2, 7702.8]
    r = await client.post("/v1/group/stream?base_rate=nope", content=body,
                          headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 422
