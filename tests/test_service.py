"""In-process tests of the HTTP service: httpx against the ASGI app, with the real engine.

Every route and every error the service promises is exercised here; the
end-to-end test (test_e2e_serve.py) covers the real server process.
"""

from __future__ import annotations

import json
import logging
import threading

import httpx
import orjson
import pytest

from service.app import create_app
from service.logging import ACCESS_LOGGER, JSONFormatter
from service.settings import Settings, SettingsError

pytestmark = pytest.mark.anyio

from oracle import public_to_claim as to_claim  # noqa: E402  (one converter for every test)




GOOD = {
    "id": "t-1",
    "version": "43.1",
    "age": 70,
    "sex": "F",
    "discharge_status": 1,
    "pdx": {"code": "I50.21", "poa": "Y"},
    "sdx": [{"code": "n179", "poa": "Y"}],
    "procedures": [],
}


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def claims(public_records) -> list[dict]:
    return [to_claim(r) for r in public_records[:400]]


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


@pytest.fixture(scope="module")
def app(grouper):
    return create_app(grouper=grouper, settings=Settings())


@pytest.fixture
async def client(app):
    async with client_for(app) as c:
        yield c


def assert_problem(r: httpx.Response, status: int, field: str | None = None, kind: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    doc = r.json()
    assert doc["status"] == status and doc["title"] and doc["detail"] and doc["type"].startswith("urn:fastdrg:problem:")
    if kind is not None:
        assert doc["type"] == f"urn:fastdrg:problem:{kind}", doc
    if field is not None:
        assert any(e["field"] == field and e["reason"] for e in doc["errors"]), doc
    return doc


# ---- POST /v1/group --------------------------------------------------------------------------


async def test_single_claim_matches_engine(client, grouper, claims):
    for claim in claims[:40]:
        r = await client.post("/v1/group", content=orjson.dumps(claim), headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.json() == grouper.group([claim])[0]


async def test_concurrent_single_claims_each_get_their_own_result(client, grouper, claims):
    """Concurrent requests are grouped together (MicroBatcher); each answer must go to its request."""
    import asyncio

    picked = claims[:60] + [{**GOOD, "id": "bad", "version": "1.0"}] + claims[60:90]
    responses = await asyncio.gather(*(client.post("/v1/group", json=c) for c in picked))
    expected = grouper.group(claims[:90])
    for claim, r in zip(picked, responses):
        if claim["id"] == "bad":
            assert_problem(r, 422, "version")
        else:
            assert r.status_code == 200 and r.json() == expected[claims.index(claim)]


async def test_single_claim_accepts_dots_and_lower_case(client):
    r = await client.post("/v1/group", json=GOOD)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["id"] == "t-1" and doc["version"] == "43.1" and doc["drg"].isdigit() and doc["return_code"] == "OK"


async def test_single_malformed_json_is_400(client):
    assert_problem(await client.post("/v1/group", content=b'{"age": 7,'), 400, "$", "malformed-json")
    assert_problem(await client.post("/v1/group", content=b""), 400, "$", "malformed-json")
    assert_problem(await client.post("/v1/group", content=b"\xff\xfe"), 400, "$", "malformed-json")


async def test_single_non_object_is_422(client):
    for body in (b"[]", b"1", b'"claim"', b"null", b"[{}]"):
        assert_problem(await client.post("/v1/group", content=body), 422, "$", "invalid-claim")


async def test_single_engine_error_is_422_with_field(client):
    claim = dict(GOOD)
    del claim["pdx"]
    doc = assert_problem(await client.post("/v1/group", json=claim), 422, "pdx", "invalid-claim")
    assert "pdx" in doc["detail"]
    bad_poa = {**GOOD, "sdx": [{"code": "N179", "poa": "QQ"}]}  # one character ("Q") is grouped, as CMS does
    doc = assert_problem(await client.post("/v1/group", json=bad_poa), 422)
    assert doc["errors"][0]["field"].startswith("sdx[0]")
    assert_problem(await client.post("/v1/group", json={**GOOD, "age": "old"}), 422, "age")


async def test_single_unknown_version_is_422(client):
    assert_problem(await client.post("/v1/group", json={**GOOD, "version": "12.0"}), 422, "version", "unknown-version")


async def test_single_uncovered_discharge_date_is_422(client):
    claim = {k: v for k, v in GOOD.items() if k != "version"}
    claim["discharge_date"] = "1999-01-01"
    assert_problem(await client.post("/v1/group", json=claim), 422, "discharge_date", "uncovered-discharge-date")
    claim["discharge_date"] = "2026-05-01"
    r = await client.post("/v1/group", json=claim)
    assert r.status_code == 200 and r.json()["version"] == "43.1"


async def test_single_body_too_large_is_413(grouper):
    app = create_app(grouper=grouper, settings=Settings(max_claim_bytes=2048))
    big = {**GOOD, "sdx": [{"code": "N179", "poa": "Y"}] * 200}
    async with client_for(app) as c:
        doc = assert_problem(await c.post("/v1/group", json=big), 413, kind="body-too-large")
        assert "2048 bytes" in doc["detail"]

        async def chunks():  # no Content-Length: the limit is enforced while reading
            data = orjson.dumps(big)
            for i in range(0, len(data), 500):
                yield data[i:i + 500]

        assert_problem(await c.post("/v1/group", content=chunks()), 413, kind="body-too-large")
        assert (await c.post("/v1/group", json=GOOD)).status_code == 200


async def test_default_hospital_status(grouper, public_records):
    # Find a claim whose DRG depends on the hospital's POA-reporting status.
    cands = [to_claim(r) for r in public_records if r["expect"]["detail"].get("hac_status") not in (None, "NOT_APPLICABLE")]
    exempt = grouper.group([{**c, "hospital_status": "exempt"} for c in cands])
    not_exempt = grouper.group([{**c, "hospital_status": "not_exempt"} for c in cands])
    picked = [c for c, a, b in zip(cands, exempt, not_exempt) if a.get("drg") != b.get("drg")]
    if not picked:
        pytest.skip("no claim in the public set whose DRG depends on the hospital status")
    claim = {k: v for k, v in picked[0].items() if k != "hospital_status"}
    want_exempt = grouper.group([{**claim, "hospital_status": "exempt"}])[0]
    want_default = grouper.group([claim])[0]
    app = create_app(grouper=grouper, settings=Settings(default_hospital_status="exempt"))
    async with client_for(app) as c:
        assert (await c.post("/v1/group", json=claim)).json() == want_exempt
        r = await c.post("/v1/group/batch", json={"claims": [claim]})
        assert r.json()["results"] == [want_exempt]
        r = await c.post("/v1/group/stream", content=orjson.dumps(claim) + b"\n")
        assert orjson.loads(r.content) == want_exempt
        # An explicit status still wins.
        explicit = {**claim, "hospital_status": "not_exempt"}
        assert (await c.post("/v1/group", json=explicit)).json() == grouper.group([explicit])[0]
    async with client_for(create_app(grouper=grouper, settings=Settings())) as c:
        assert (await c.post("/v1/group", json=claim)).json() == want_default


# ---- POST /v1/group/batch ----------------------------------------------------------------------


async def test_batch_in_order_with_errors_in_place(client, grouper, claims):
    items: list = list(claims[:100])
    items.insert(3, [1, 2])
    items.insert(10, {"id": "no-pdx", "version": "43.1", "age": 5, "sex": "M", "discharge_status": 1})
    items.insert(20, {**GOOD, "id": "bad-version", "version": "1.0"})
    items.append("x")
    r = await client.post("/v1/group/batch", json={"claims": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == len(items)
    assert results[3]["error"]["field"] == "$"
    assert results[10] == {"id": "no-pdx", "error": results[10]["error"]} and results[10]["error"]["field"] == "pdx"
    assert results[20]["id"] == "bad-version" and results[20]["error"]["field"] == "version"
    assert "error" in results[-1]
    expected = grouper.group(claims[:100])
    got = [res for i, res in enumerate(results) if i not in (3, 10, 20, len(items) - 1)]
    assert got == expected


async def test_batch_empty(client):
    r = await client.post("/v1/group/batch", json={"claims": []})
    assert r.status_code == 200 and r.json() == {"results": []}


async def test_batch_envelope_errors(client):
    assert_problem(await client.post("/v1/group/batch", content=b"{"), 400, "$", "malformed-json")
    assert_problem(await client.post("/v1/group/batch", json=[GOOD]), 422, "$", "invalid-batch")
    assert_problem(await client.post("/v1/group/batch", json={}), 422, "claims", "invalid-batch")
    assert_problem(await client.post("/v1/group/batch", json={"claims": GOOD}), 422, "claims", "invalid-batch")
    assert_problem(await client.post("/v1/group/batch", json={"claims": [], "extra": 1}), 422, "extra")


async def test_batch_limits_are_413_and_point_to_stream(grouper):
    app = create_app(grouper=grouper, settings=Settings(max_batch_claims=5, max_body_bytes=4096))
    async with client_for(app) as c:
        doc = assert_problem(await c.post("/v1/group/batch", json={"claims": [GOOD] * 6}), 413, "claims", "batch-too-large")
        assert "5 claims" in doc["detail"] and "/v1/group/stream" in doc["detail"]
        r = await c.post("/v1/group/batch", json={"claims": [GOOD] * 5})
        assert r.status_code == 200 and len(r.json()["results"]) == 5
        big = {"claims": [{**GOOD, "sdx": [{"code": "N179", "poa": "Y"}] * 60}] * 3}
        doc = assert_problem(await c.post("/v1/group/batch", json=big), 413, kind="body-too-large")
        assert "4096 bytes" in doc["detail"] and "/v1/group/stream" in doc["detail"]


# ---- POST /v1/group/stream ---------------------------------------------------------------------


async def test_stream_one_line_per_line_in_order(client, grouper, claims):
    lines = [orjson.dumps(c) for c in claims[:150]]
    lines.insert(7, b"{not json")
    lines.insert(8, b"[1]")
    lines.insert(9, b"")  # blank lines are skipped, not answered
    lines.insert(10, b"   ")
    body = b"\n".join(lines)  # no trailing newline on the last line
    r = await client.post("/v1/group/stream", content=body, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert "content-length" not in r.headers  # streamed
    out = [orjson.loads(x) for x in r.content.splitlines()]
    assert len(out) == 152
    assert out[7]["error"]["field"] == "$" and "malformed JSON" in out[7]["error"]["reason"]
    assert out[8]["error"]["reason"] == "a claim must be a JSON object"
    assert out[:7] + out[9:] == grouper.group(claims[:150])


async def test_stream_chunked_upload_small_chunks(grouper, claims):
    """Lines cut across body messages, many engine chunks, an over-long line: all answered in order."""
    settings = Settings(stream_chunk_claims=7, max_claim_bytes=4096)
    app = create_app(grouper=grouper, settings=settings)
    long_line = orjson.dumps({**GOOD, "sdx": [{"code": "N179", "poa": "Y"}] * 400})
    lines = [orjson.dumps(c) for c in claims[:120]]
    lines.insert(50, long_line)
    body = b"\r\n".join(lines) + b"\r\n"

    async def pieces():
        for i in range(0, len(body), 333):
            yield body[i:i + 333]

    async with client_for(app) as c:
        r = await c.post("/v1/group/stream", content=pieces())
    out = [orjson.loads(x) for x in r.content.splitlines()]
    assert len(out) == 121
    assert "longer than 4096 bytes" in out[50]["error"]["reason"]
    assert out[:50] + out[51:] == grouper.group(claims[:120])


async def test_stream_empty_body(client):
    r = await client.post("/v1/group/stream", content=b"")
    assert r.status_code == 200 and r.content == b""


# ---- reference look-ups ------------------------------------------------------------------------


async def test_versions(client, grouper):
    r = await client.get("/v1/versions")
    assert r.status_code == 200
    doc = r.json()
    assert doc["latest"] == "44.0"
    got = {v["version"]: v for v in doc["versions"]}
    assert set(got) == set(grouper.versions)
    for v in grouper.version_ranges():
        assert got[v["version"]] == v
    assert doc["versions"][0]["version"] == "44.0"


async def test_drg_lookup(client, grouper):
    r = await client.get("/v1/drgs/291", params={"version": "43.1"})
    assert r.status_code == 200 and r.json() == grouper.drg_info("43.1", "291")
    assert r.json()["mdc"] == "05" and r.json()["med_surg"] == "MEDICAL"
    r = await client.get("/v1/drgs/1", params={"version": "431"})
    assert r.status_code == 200 and r.json()["drg"] == "001"
    assert (await client.get("/v1/drgs/291")).json()["version"] == "44.0"
    assert_problem(await client.get("/v1/drgs/0"), 404, "drg", "unknown-drg")
    assert_problem(await client.get("/v1/drgs/29x"), 422, "drg")
    assert_problem(await client.get("/v1/drgs/291", params={"version": "39.0"}), 422, "version", "unknown-version")


async def test_code_lookup(client, grouper):
    r = await client.get("/v1/codes/i50.21", params={"version": "43.1"})
    assert r.status_code == 200
    doc = r.json()
    want = grouper.code_info("43.1", "I5021")
    assert {k: doc[k] for k in want} == want
    assert doc["kind"] == "diagnosis" and doc["severity"] == "MCC" and doc["valid"] is True
    assert set(doc["validity"]) == set(grouper.versions) and all(doc["validity"].values())
    r = await client.get("/v1/codes/02703DZ")
    assert r.status_code == 200 and r.json()["kind"] == "procedure" and isinstance(r.json()["is_or"], bool)
    r = await client.get("/v1/codes/Q999999")
    assert r.status_code == 200 and r.json()["valid"] is False and not any(r.json()["validity"].values())
    # a truncated code is a well-formed code no version has (as in a claim), a malformed one is a 422
    assert (await client.get("/v1/codes/I5")).json()["valid"] is False
    assert_problem(await client.get("/v1/codes/I50-21"), 422, "code")
    assert_problem(await client.get("/v1/codes/I5021", params={"version": "nope"}), 422, "version")


# ---- probes, metrics, docs ---------------------------------------------------------------------


async def test_readiness_follows_engine_loading(grouper):
    release = threading.Event()

    def loader():
        release.wait(30)
        return grouper

    app = create_app(settings=Settings(), loader=loader)
    async with app.router.lifespan_context(app):
        async with client_for(app) as c:
            r = await c.get("/healthz")
            assert r.status_code == 200 and r.json() == {"status": "ok"}
            assert_problem(await c.get("/readyz"), 503, kind="engine-loading")
            r = await c.post("/v1/group", json=GOOD)
            assert_problem(r, 503, kind="engine-loading")
            assert r.headers["retry-after"]
            assert "fastdrg_engine_ready 0.0" in (await c.get("/metrics")).text
            release.set()
            assert app.state.runtime.wait_ready(30)
            r = await c.get("/readyz")
            assert r.status_code == 200 and r.json() == {"status": "ready"}
            assert (await c.post("/v1/group", json=GOOD)).status_code == 200
            assert "fastdrg_engine_ready 1.0" in (await c.get("/metrics")).text


async def test_readiness_when_engine_fails_to_load():
    def loader():
        raise RuntimeError("tables missing")

    app = create_app(settings=Settings(), loader=loader)
    async with app.router.lifespan_context(app):
        app.state.runtime.wait_ready(10)
        async with client_for(app) as c:
            assert (await c.get("/healthz")).status_code == 200
            assert_problem(await c.get("/readyz"), 503, kind="engine-unavailable")
            assert_problem(await c.get("/v1/versions"), 503, kind="engine-unavailable")


async def test_metrics(grouper, claims):
    app = create_app(grouper=grouper, settings=Settings())
    async with client_for(app) as c:
        await c.post("/v1/group", json=claims[0])
        await c.post("/v1/group", json={**GOOD, "version": "1.0"})
        await c.post("/v1/group/batch", json={"claims": claims[:30]})
        await c.post("/v1/group/stream", content=b"\n".join(orjson.dumps(x) for x in claims[:20]))
        await c.get("/v1/codes/I5021")
        await c.get("/v1/drgs/291")
        r = await c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'fastdrg_http_requests_total{method="POST",route="/v1/group",status="200"} 1.0' in text
    assert 'fastdrg_http_requests_total{method="POST",route="/v1/group",status="422"} 1.0' in text
    assert 'route="/v1/codes/{code}"' in text and 'route="/v1/drgs/{drg}"' in text
    assert 'fastdrg_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/group/batch"}' in text
    assert "fastdrg_http_requests_in_flight" in text
    assert 'fastdrg_batch_claims_sum{route="/v1/group/batch"} 30.0' in text
    assert 'fastdrg_batch_claims_sum{route="/v1/group/stream"} 20.0' in text
    assert 'fastdrg_claims_rejected_total{field="version"} 1.0' in text
    grouped = 0.0
    for line in text.splitlines():
        if line.startswith("fastdrg_claims_grouped_total{"):
            assert 'return_code="' in line and 'version="4' in line
            grouped += float(line.rsplit(" ", 1)[1])
    assert grouped == 51.0
    # Never a code, an id or an age.
    for secret in ("I5021", "I50.21", claims[0]["id"], claims[1]["id"], claims[0]["pdx"]["code"]):
        assert secret not in text


def test_request_tallies_flush_as_direct_observations_would():
    """The middleware tallies per route and flushes later (one prometheus_client update per
    route instead of five locked ones per request): the exposition must be what observing
    each request directly gives, bucket by bucket, and the in-flight gauge must come back
    to zero."""
    import asyncio

    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from service.metrics import _LATENCY_BUCKETS, Metrics

    durations = [0.0001, 0.0005, 0.0005000001, 0.001, 0.0031, 0.2, 59.9, 400.0, 0.0]
    m = Metrics()

    async def requests() -> None:
        for _ in durations:
            m.request_started()
        assert m.active == len(durations)
        for s in durations:
            m.observe_request("/v1/group", "POST", 200, s)
        assert m._flush_handle is not None  # pending, not yet in the metric objects

    asyncio.run(requests())
    m.flush()
    registry = CollectorRegistry()
    direct = Histogram("fastdrg_http_request_duration_seconds", "x", ("route", "method"),
                       buckets=_LATENCY_BUCKETS, registry=registry)
    for s in durations:
        direct.labels("/v1/group", "POST").observe(s)

    def samples(registry) -> list[str]:
        return [line for line in generate_latest(registry).decode().splitlines()
                if line.startswith("fastdrg_http_request_duration_seconds_")]

    assert samples(m.registry) == samples(registry)
    text = generate_latest(m.registry).decode()
    assert f'fastdrg_http_requests_total{{method="POST",route="/v1/group",status="200"}} {float(len(durations))}' in text
    assert "fastdrg_http_requests_in_flight 0.0" in text


async def test_openapi_and_docs(client):
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    paths = doc["paths"]
    for p in ("/v1/group", "/v1/group/batch", "/v1/group/stream", "/v1/versions", "/v1/drgs/{drg}",
              "/v1/codes/{code}", "/healthz", "/readyz", "/metrics"):
        assert p in paths, p
    single = paths["/v1/group"]["post"]
    assert single["requestBody"]["content"]["application/json"]["example"]["pdx"]
    assert single["responses"]["200"]["content"]["application/json"]["example"]["drg"]
    assert "application/problem+json" in single["responses"]["422"]["content"]
    assert "application/x-ndjson" in paths["/v1/group/stream"]["post"]["requestBody"]["content"]
    schemas = doc["components"]["schemas"]
    for name in ("Claim", "Result", "ClaimError", "BatchRequest", "BatchResponse", "Problem", "Versions", "DrgInfo", "CodeInfo"):
        assert name in schemas
    r = await client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


def test_openapi_examples_are_what_the_engine_answers(grouper):
    from service import openapi as oa

    assert grouper.group([oa.EXAMPLE_CLAIM])[0] == oa.EXAMPLE_RESULT
    second = oa.SCHEMAS["BatchRequest"]["example"]["claims"][1]
    assert grouper.group([second])[0] == oa.EXAMPLE_ERROR_ENTRY


async def test_unknown_route_and_method_are_problems(client):
    assert_problem(await client.get("/v2/group"), 404, kind="not-found")
    assert_problem(await client.get("/v1/group"), 405, kind="method-not-allowed")


# ---- authentication -----------------------------------------------------------------------------


async def test_api_keys(grouper, tmp_path):
    keyfile = tmp_path / "keys"
    keyfile.write_text("# ops keys\nfile-key\n")
    settings = Settings.from_env({"FASTDRG_API_KEYS": "k-one, k-two", "FASTDRG_API_KEYS_FILE": str(keyfile)})
    assert settings.auth_required and "k-one" not in repr(settings)
    app = create_app(grouper=grouper, settings=settings)
    async with client_for(app) as c:
        for path in ("/v1/versions", "/v1/drgs/291", "/v1/codes/I5021"):
            doc = assert_problem(await c.get(path), 401, kind="unauthenticated")
            assert "X-API-Key" in doc["detail"]
        r = await c.post("/v1/group", json=GOOD)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert_problem(await c.post("/v1/group", json=GOOD, headers={"Authorization": "Bearer k-three"}), 401)
        assert_problem(await c.post("/v1/group", json=GOOD, headers={"X-API-Key": "k-on"}), 401)
        assert_problem(await c.post("/v1/group", json=GOOD, headers={"Authorization": "Basic k-one"}), 401)
        assert (await c.post("/v1/group", json=GOOD, headers={"Authorization": "Bearer k-one"})).status_code == 200
        assert (await c.post("/v1/group", json=GOOD, headers={"X-API-Key": "k-two"})).status_code == 200
        assert (await c.get("/v1/versions", headers={"X-API-Key": "file-key"})).status_code == 200
        r = await c.post("/v1/group/stream", content=orjson.dumps(GOOD), headers={"X-API-Key": "k-two"})
        assert r.status_code == 200 and orjson.loads(r.content)["drg"]
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert (await c.get(path)).status_code == 200, path
        op = (await c.get("/openapi.json")).json()["paths"]["/v1/group"]["post"]
        assert op["security"]


# ---- robustness ---------------------------------------------------------------------------------

WEIRD_BODIES = [
    b"{}", b'{"pdx": null}', b'{"pdx": {"code": null}}', b'{"pdx": 5}', b'{"sdx": "I10"}', b'{"sdx": [null, 1, []]}',
    b'{"procedures": {"a": 1}}', b'{"age": 1e308}', b'{"age": -1}', b'{"age": 99999999999999999999}',
    b'{"sex": []}', b'{"discharge_status": {}}', b'{"version": true}', b'{"version": 43.1}', b'{"version": []}',
    b'{"discharge_date": "2026-02-30"}', b'{"discharge_date": 20260501}', b'{"hospital_status": "maybe"}',
    b'{"id": {"nested": [1, 2]}, "pdx": "\xe2\x98\x83"}', b'{"pdx": "' + b"A" * 5000 + b'"}',
    b"[" * 2000 + b"]" * 2000, b'{"a":' * 600 + b"1" + b"}" * 600, b"\x00", b'"\\ud800"', b"NaN", b"1" * 100,
]


async def test_no_input_makes_a_5xx(client):
    base = orjson.dumps({**GOOD})[:-1]
    for body in WEIRD_BODIES:
        merged = base + b"," + body[1:] if body.startswith(b"{") and body != b"{}" else body
        for payload in (body, merged):
            r = await client.post("/v1/group", content=payload)
            assert r.status_code < 500 and r.status_code in (200, 400, 422), (payload[:80], r.status_code, r.text)
    r = await client.post("/v1/group/batch", content=b'{"claims": [' + b",".join(b for b in WEIRD_BODIES if b.startswith(b"{")) + b"]}")
    assert r.status_code == 200 and all("error" in x or "drg" in x for x in r.json()["results"])
    r = await client.post("/v1/group/stream", content=b"\n".join(WEIRD_BODIES))
    assert r.status_code == 200 and len(r.content.splitlines()) == len(WEIRD_BODIES)


class _FaultyGrouper:
    """The real engine, except that ``group_json``/``group_json_texts`` raise on claims whose id is ``"boom"``.

    Fault injection for the service's isolation path only: grouping is still done by the real engine.
    """

    def __init__(self, real):
        self._real = real
        self.versions = real.versions

    def group_json(self, claims):
        if any(isinstance(c, dict) and c.get("id") == "boom" for c in claims):
            raise RuntimeError("injected fault I5021")
        return self._real.group_json(claims)

    def group_json_texts(self, texts, **kwargs):
        if any(b'"boom"' in t for t in texts):
            raise RuntimeError("injected fault I5021")
        return self._real.group_json_texts(texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self._real, name)


async def test_engine_exception_is_isolated_to_its_claim(grouper, caplog):
    app = create_app(grouper=_FaultyGrouper(grouper), settings=Settings())
    caplog.set_level(logging.INFO)
    async with client_for(app) as c:
        r = await c.post("/v1/group/batch", json={"claims": [GOOD, {**GOOD, "id": "boom"}, GOOD]})
        assert r.status_code == 200
        res = r.json()["results"]
        assert res[0]["drg"] and res[2]["drg"] and res[1]["id"] == "boom" and res[1]["error"]["reason"]
        assert_problem(await c.post("/v1/group", json={**GOOD, "id": "boom"}), 422)
        r = await c.post("/v1/group/stream", content=orjson.dumps(GOOD) + b"\n" + orjson.dumps({**GOOD, "id": "boom"}))
        assert [("error" in orjson.loads(x)) for x in r.content.splitlines()] == [False, True]
        assert "fastdrg_engine_failures_total 3.0" in (await c.get("/metrics")).text
    text = "\n".join(JSONFormatter().format(rec) for rec in caplog.records)
    assert "RuntimeError" in text and "I5021" not in text and "injected" not in text


class _UnreadingGrouper(_FaultyGrouper):
    """The real engine, except that its text path reads nothing (every document None)."""

    def group_json_texts(self, texts, **kwargs):
        from engine import JsonResults

        return JsonResults([None] * len(texts), [None] * len(texts), {})


async def test_single_claim_the_text_path_did_not_read_is_still_answered(grouper):
    """/v1/group never answers an empty 200: a JSON object the text path reports as
    unread goes through the dict path (and a non-object still gets its 422)."""
    app = create_app(grouper=_UnreadingGrouper(grouper), settings=Settings(default_hospital_status="exempt"))
    async with client_for(app) as c:
        r = await c.post("/v1/group", json=GOOD)
        assert r.status_code == 200 and r.json()["drg"] == grouper.group([{**GOOD, "hospital_status": "exempt"}])[0]["drg"]
        assert_problem(await c.post("/v1/group", content=b"[1]"), 422)
        assert_problem(await c.post("/v1/group", content=b"{x"), 400)


# ---- logging --------------------------------------------------------------------------------------


async def test_access_log_is_structured_and_free_of_claim_content(grouper, claims, caplog):
    app = create_app(grouper=grouper, settings=Settings())
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    async with client_for(app) as c:
        await c.post("/v1/group", json=claims[0])
        await c.post("/v1/group/batch", json={"claims": claims[:25]})
        await c.get(f"/v1/codes/{claims[0]['pdx']['code']}?version=43.1")
        await c.post("/v1/group", json={**GOOD, "age": "x"})
    records = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(records) == 4
    lines = [json.loads(JSONFormatter().format(r)) for r in records]
    assert lines[0]["route"] == "/v1/group" and lines[0]["status"] == 200 and lines[0]["claims"] == 1
    assert lines[0]["method"] == "POST" and lines[0]["duration_ms"] >= 0 and lines[0]["level"] == "info"
    assert lines[1]["claims"] == 25 and lines[1]["route"] == "/v1/group/batch"
    assert lines[2]["route"] == "/v1/codes/{code}"
    assert lines[3]["status"] == 422
    text = "\n".join(json.dumps(x) for x in lines)
    for c in claims[:25]:
        assert c["id"] not in text and c["pdx"]["code"] not in text
        assert f'"age": {c["age"]}' not in text


async def test_access_log_can_be_switched_off(grouper, caplog):
    app = create_app(grouper=grouper, settings=Settings(access_log=False))
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    async with client_for(app) as c:
        await c.get("/healthz")
    assert not [r for r in caplog.records if r.name == ACCESS_LOGGER]


def test_formatter_drops_unlisted_extra_and_exception_text():
    rec = logging.LogRecord("fastdrg.service", logging.ERROR, __file__, 1, "failed", None, None)
    rec.claim = {"pdx": "I5021"}
    rec.route = "/v1/group"
    try:
        raise KeyError("I5021")
    except KeyError:
        import sys

        rec.exc_info = sys.exc_info()
    out = json.loads(JSONFormatter().format(rec))
    assert out["route"] == "/v1/group" and out["error_type"] == "KeyError"
    assert "I5021" not in json.dumps(out)


# ---- settings ---------------------------------------------------------------------------------------


def test_settings_from_env():
    s = Settings.from_env({
        "FASTDRG_HOST": "0.0.0.0", "FASTDRG_PORT": "9000", "FASTDRG_WORKERS": "2",
        "FASTDRG_MAX_BATCH_CLAIMS": "50_000", "FASTDRG_MAX_BODY_BYTES": "1048576",
        "FASTDRG_MAX_CLAIM_BYTES": "65536", "FASTDRG_STREAM_CHUNK_CLAIMS": "1000",
        "FASTDRG_DEFAULT_HOSPITAL_STATUS": "EXEMPT", "FASTDRG_LOG_LEVEL": "WARNING",
        "FASTDRG_ACCESS_LOG": "false", "FASTDRG_GRACEFUL_TIMEOUT": "5", "FASTDRG_ENGINE_THREADS": "3",
        "FASTDRG_KERNEL_THREADS": "1", "FASTDRG_GC_TUNING": "off", "FASTDRG_OPENTELEMETRY": "on",
    })
    assert (s.host, s.port, s.workers, s.max_batch_claims, s.max_body_bytes) == ("0.0.0.0", 9000, 2, 50_000, 1048576)
    assert (s.max_claim_bytes, s.stream_chunk_claims, s.default_hospital_status) == (65536, 1000, "exempt")
    assert (s.log_level, s.access_log, s.graceful_timeout, s.engine_threads) == ("warning", False, 5.0, 3)
    assert (s.kernel_threads, s.gc_tuning, s.opentelemetry) == (1, False, True)
    assert not s.auth_required
    d = Settings.from_env({})
    assert d == Settings()
    assert not d.opentelemetry


def test_fastapi_opentelemetry_hooks_follow_the_setting():
    """Off by default: no per-request provider look-up, no exception messages in OpenTelemetry logs."""
    off = create_app(settings=Settings())
    assert off._native_telemetry.enabled() is False
    assert not any(off._telemetry[k] for k in ("tracing", "metrics", "logs"))
    on = create_app(settings=Settings(opentelemetry=True))
    assert all(on._telemetry[k] for k in ("tracing", "metrics", "logs"))


def test_routes_are_the_apps_own():
    """The route modules' routes sit on the app itself (an included router is resolved per
    request, ~5 % of /v1/group); every path answers as declared."""
    app = create_app(settings=Settings())
    paths = {(r.path, m) for r in app.router.routes if hasattr(r, "methods") for m in r.methods}
    for want in [("/v1/group", "POST"), ("/v1/group/batch", "POST"), ("/v1/group/stream", "POST"),
                 ("/v1/versions", "GET"), ("/v1/drgs/{drg}", "GET"), ("/v1/codes/{code}", "GET"),
                 ("/healthz", "GET"), ("/readyz", "GET"), ("/metrics", "GET")]:
        assert want in paths
    assert not any(type(r).__name__ == "_IncludedRouter" for r in app.router.routes)


@pytest.mark.parametrize("name,value", [
    ("FASTDRG_PORT", "http"), ("FASTDRG_PORT", "70000"), ("FASTDRG_WORKERS", "0"),
    ("FASTDRG_MAX_BATCH_CLAIMS", "-3"), ("FASTDRG_DEFAULT_HOSPITAL_STATUS", "sometimes"),
    ("FASTDRG_LOG_LEVEL", "loud"), ("FASTDRG_ACCESS_LOG", "perhaps"), ("FASTDRG_API_KEYS_FILE", "/nonexistent/keys"),
])
def test_settings_errors_name_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
