"""The published contract: ``/openapi.json`` says exactly what the service does.

Client generators (what EHR integrators use) trust the document, so schemathesis
checks it both ways on every operation: everything the schema allows is accepted
(a claim that fits the Claim schema is grouped, never refused), everything it
forbids is refused with a 4xx problem, and every answer fits the schema of its
status and media type, with no 5xx. Requests go to the app in process (ASGI)
with the real engine.

The default run makes a few hundred cases per operation (a fixed seed:
derandomized, so a failure reproduces); ``-m slow`` makes thousands.

Rules the first run found, each now in the schema or the behaviour:
``rule_kind_null`` (an unknown code's ``kind`` is null), ``rule_claim_needs_version_or_date``,
``rule_procedure_members_ignored``, ``rule_drg_parameter_pattern``,
``rule_batch_entries_match_one_branch``, ``rule_stream_body_optional``,
``rule_integral_float_is_integer`` (JSON's 57.0 is the integer 57); each has a test below.
The merge of the code editor, payment and release branches added: ``rule_date_is_exactly_iso``
(2026-05-14 only, no time or basic form, in every path), ``rule_admission_not_after_discharge``
(the one rule the schema states in words: the run leaves those claims out),
``rule_edit_date_within_editor_dates`` (/v1/edit's own claim schema), ``rule_base_rate_form`` and
``rule_edits_parameter_form`` (the published forms of ?base_rate= and ?edits=),
``rule_results_are_exact`` (every member of a result, with edits and payment, is in its schema),
``rule_what_if_limit_per_list``, ``rule_stream_parameter_problems_documented``,
``rule_contract_names_the_served_versions`` (an imported release adds a version).
``schemathesis run`` from outside found ``rule_stay_from_dates_unbounded`` (two valid dates
centuries apart were refused as a stay above 99999 days, a bound the schema did not state).
"""

from __future__ import annotations

import json

import httpx
import orjson
import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install -e '.[dev]')")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks as st_checks  # noqa: E402

from service.app import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402

DEFAULT_CASES = 300
SLOW_CASES = 3000

#: ``schemathesis run --checks all``: every check it names (the stateful and authentication
#: ones find nothing to do here: the schema has no links and the app under test no API keys).
CHECKS = [
    st_checks.allow_header_conformance,
    st_checks.use_after_free,
    st_checks.ensure_resource_availability,
    st_checks.ignored_auth,
    st_checks.object_level_authorization,
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
    st_checks.negative_data_rejection,
    st_checks.positive_data_acceptance,
    st_checks.missing_required_header,
    st_checks.unsupported_method,
]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value):
    """The stream's body: NDJSON text (the schema says a string); other values as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()


def _stay_refused(claim) -> bool:
    """The one rule a JSON Schema cannot state (two dates compared): with no ``los``, an admission
    after the discharge is refused (rule_admission_not_after_discharge). Any longer stay is
    grouped (rule_stay_from_dates_unbounded)."""
    import datetime as dt

    if not isinstance(claim, dict) or claim.get("los") is not None:
        return False
    try:
        adm = dt.date.fromisoformat(claim["admission_date"])
        dis = dt.date.fromisoformat(claim["discharge_date"])
    except (KeyError, TypeError, ValueError):
        return False
    return adm > dis


@schemathesis.hook
def filter_body(ctx, body):
    """Leave out the claims only that rule refuses (a claim, or a what-if's claim)."""
    if isinstance(body, dict):
        return not (_stay_refused(body) or _stay_refused(body.get("claim")))
    return True


@pytest.fixture(scope="session")
def contract_app(grouper):
    return create_app(grouper=grouper, settings=Settings())


@pytest.fixture(scope="session")
def api_schema(contract_app):
    return schemathesis.openapi.from_asgi("/openapi.json", contract_app)


schema = schemathesis.pytest.from_fixture("api_schema")

_SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)


@schema.parametrize()
@settings(max_examples=DEFAULT_CASES, **_SETTINGS)
def test_contract(case):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=SLOW_CASES, **{**_SETTINGS, "derandomize": False})
def test_contract_long(case):
    case.call_and_validate(checks=CHECKS)


# ---- the rules the first run found ------------------------------------------------------------

pytestmark_anyio = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


def _doc(app) -> dict:
    return app.openapi()


CLAIM = {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I5021"}


@pytest.mark.anyio
async def test_rule_kind_null(contract_app):
    kind = _doc(contract_app)["components"]["schemas"]["CodeInfo"]["properties"]["kind"]
    async with client_for(contract_app) as c:
        r = await c.get("/v1/codes/Q999999")
    assert r.json()["kind"] is None and None in kind["enum"]


@pytest.mark.anyio
async def test_rule_claim_needs_version_or_date(contract_app):
    claim = _doc(contract_app)["components"]["schemas"]["Claim"]
    assert claim["then"]["required"] == ["discharge_date"]
    async with client_for(contract_app) as c:
        no_version = {k: v for k, v in CLAIM.items() if k != "version"}
        r = await c.post("/v1/group", json=no_version)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "version"
        r = await c.post("/v1/group", json={**no_version, "discharge_date": "2026-05-14"})
        assert r.status_code == 200 and r.json()["version"] == "43.1"


@pytest.mark.anyio
async def test_rule_procedure_members_ignored(contract_app):
    proc = _doc(contract_app)["components"]["schemas"]["Procedure"]
    assert "poa" not in proc["anyOf"][1]["properties"] and "ignored" in proc["description"]
    async with client_for(contract_app) as c:
        r = await c.post("/v1/group", json={**CLAIM, "procedures": [{"code": "02703DZ", "poa": "Q", "x": 1}]})
    assert r.status_code == 200 and r.json()["procedures"][0]["code"] == "02703DZ"


@pytest.mark.anyio
async def test_rule_drg_parameter_pattern(contract_app):
    params = _doc(contract_app)["paths"]["/v1/drgs/{drg}"]["get"]["parameters"]
    drg = next(p for p in params if p["name"] == "drg")
    assert drg["schema"]["pattern"] == "^[0-9]{1,3}$"
    version = next(p for p in params if p["name"] == "version")
    assert "43\\.1" in version["schema"]["pattern"]


@pytest.mark.anyio
async def test_rule_batch_entries_match_one_branch(contract_app):
    jsonschema = pytest.importorskip("jsonschema")
    doc = _doc(contract_app)
    async with client_for(contract_app) as c:
        r = await c.post("/v1/group/batch", json={"claims": [CLAIM, {"id": "x", "age": 1}]})
    results = r.json()["results"]
    schemas = doc["components"]["schemas"]
    resolver = {"components": doc["components"]}
    for entry, want in zip(results, ("Result", "ClaimError")):
        for name in ("Result", "ClaimError"):
            valid = jsonschema.Draft202012Validator({**schemas[name], **resolver}).is_valid(entry)
            assert valid == (name == want), (name, entry)


@pytest.mark.anyio
async def test_rule_stream_body_optional(contract_app):
    body = _doc(contract_app)["paths"]["/v1/group/stream"]["post"]["requestBody"]
    assert body["required"] is False
    async with client_for(contract_app) as c:
        r = await c.post("/v1/group/stream")
    assert r.status_code == 200 and r.content == b""


@pytest.mark.parametrize("field,value", [("age", 70.0), ("discharge_status", 1.0), ("sex", 1.0), ("version", 431.0)])
def test_rule_integral_float_is_integer(grouper, field, value):
    """JSON Schema reads 70.0 as an integer, so the engine does too."""
    want = grouper.group([CLAIM])[0]
    assert grouper.group([{**CLAIM, field: value}])[0] == want
    text = orjson.dumps({**CLAIM, field: value})
    assert orjson.loads(grouper.group_json_texts([text]).documents[0]) == want


# ---- the merged routes: code editor, payment, releases ----------------------------------------


@pytest.mark.parametrize("text", ["2026-05-14T00:00:00", "20260514", "2026-05-14x", " 2026-05-14", "2026-W20-4"])
def test_rule_date_is_exactly_iso(grouper, text):
    """A date is exactly YYYY-MM-DD, in the schema and in both of the engine's paths."""
    import re

    from service.openapi import ISO_DATE_PATTERN

    assert not re.search(ISO_DATE_PATTERN, text)
    for claim in ({**CLAIM, "discharge_date": text}, {**CLAIM, "admission_date": text, "discharge_date": "2026-05-14"},
                  {k: v for k, v in {**CLAIM, "discharge_date": text}.items() if k != "version"}):
        assert "error" in grouper.group([claim])[0]
        doc = orjson.loads(grouper.group_json_texts([orjson.dumps(claim)]).documents[0])
        assert "error" in doc
    assert "error" not in grouper.group([{**CLAIM, "discharge_date": "2026-05-14"}])[0]


@pytest.mark.anyio
async def test_rule_admission_not_after_discharge(contract_app):
    desc = _doc(contract_app)["components"]["schemas"]["Claim"]["properties"]["admission_date"]["description"]
    assert "after the discharge is refused" in desc
    stay = {**CLAIM, "admission_date": "2026-05-15", "discharge_date": "2026-05-14"}
    async with client_for(contract_app) as c:
        r = await c.post("/v1/group", json=stay)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "admission_date"
        r = await c.post("/v1/group", json={**stay, "los": 3})  # los wins: the dates are not compared
        assert r.status_code == 200


@pytest.mark.anyio
async def test_rule_stay_from_dates_unbounded(contract_app, grouper):
    """Any two valid dates in order are a stay, however long (99999 bounds ``los`` as written):
    every route the schema lets such a claim into groups it, edits it and prices it."""
    stay = {**CLAIM, "admission_date": "0002-01-02", "discharge_date": "2026-04-01", "discharge_status": 2}
    days = (__import__("datetime").date(2026, 4, 1) - __import__("datetime").date(2, 1, 2)).days
    assert days > 99999
    want = grouper.group([{**CLAIM, "discharge_status": 2}])[0]
    for got in (grouper.group([stay], edits=True)[0],
                orjson.loads(grouper.group_json_texts([orjson.dumps(stay)]).documents[0])):
        assert "error" not in got and got["drg"] == want["drg"]
    async with client_for(contract_app) as c:
        for path, body in (("/v1/group?edits=true&base_rate=6000", stay), ("/v1/edit", stay),
                           ("/v1/what-if", {"claim": stay, "add_sdx": ["N179"]})):
            r = await c.post(path, json=body)
            assert r.status_code == 200, (path, r.text)
        r = await c.post("/v1/group?base_rate=6000", json=stay)
        short = await c.post("/v1/group?base_rate=6000", json={**stay, "admission_date": "2026-04-01"})
    # an acute transfer after a stay that long is paid the full weight; after none, less
    assert r.json()["adjusted_weight"] == r.json()["weight"] > short.json()["adjusted_weight"]


@pytest.mark.anyio
async def test_rule_edit_date_within_editor_dates(contract_app, grouper):
    import re

    schemas = _doc(contract_app)["components"]["schemas"]
    body = _doc(contract_app)["paths"]["/v1/edit"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/EditClaim")
    pattern = schemas["EditClaim"]["allOf"][1]["properties"]["discharge_date"]["anyOf"][0]["pattern"]
    first, last = grouper.version_ranges()[-1]["first_discharge_date"], grouper.version_ranges()[0]["last_discharge_date"]
    assert re.search(pattern, first) and re.search(pattern, last)
    async with client_for(contract_app) as c:
        r = await c.post("/v1/edit", json={**CLAIM, "discharge_date": "2019-01-01"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "discharge_date"
        r = await c.post("/v1/edit", json={**CLAIM, "discharge_date": last})
        assert r.status_code == 200
        r = await c.post("/v1/group?edits=true", json={**CLAIM, "discharge_date": "2019-01-01"})
        assert r.status_code == 200 and r.json()["edit_error"]["field"] == "discharge_date"


@pytest.mark.anyio
@pytest.mark.parametrize("raw,ok", [("6000", True), ("6000.5", True), ("0.01", True), ("10000000", True),
                                    ("", True), (" 6000", False), ("1e3", False), ("6_000", False),
                                    ("6000.001", False), ("0", False), ("10000000.01", False), ("+5", False)])
async def test_rule_base_rate_form(contract_app, raw, ok):
    import re

    params = _doc(contract_app)["paths"]["/v1/group"]["post"]["parameters"]
    pattern = next(p for p in params if p["name"] == "base_rate")["schema"]["pattern"]
    assert bool(re.search(pattern, raw)) == ok
    async with client_for(contract_app) as c:
        for path, body in (("/v1/group", CLAIM), ("/v1/what-if", {"claim": CLAIM})):
            r = await c.post(path, params={"base_rate": raw}, json=body)
            assert (r.status_code == 200) == ok, (path, raw, r.text)


@pytest.mark.anyio
@pytest.mark.parametrize("raw,ok", [("true", True), ("False", True), ("1", True), ("no", True), ("", True),
                                    (" true", False), ("on", False), ("2", False)])
async def test_rule_edits_parameter_form(contract_app, raw, ok):
    import re

    params = _doc(contract_app)["paths"]["/v1/group/batch"]["post"]["parameters"]
    pattern = next(p for p in params if p["name"] == "edits")["schema"]["pattern"]
    assert bool(re.search(pattern, raw)) == ok
    async with client_for(contract_app) as c:
        r = await c.post("/v1/group/batch", params={"edits": raw}, json={"claims": [CLAIM]})
    assert (r.status_code == 200) == ok


@pytest.mark.anyio
async def test_rule_results_are_exact(contract_app):
    """Results with edits and a payment estimate, the editor's, the what-if's, /v1/versions' and
    /v1/drgs' answers fit their schemas, which admit no member they do not list."""
    jsonschema = pytest.importorskip("jsonschema")
    doc = _doc(contract_app)
    schemas = doc["components"]["schemas"]

    def check(name, value):
        assert schemas[name].get("additionalProperties") is False
        jsonschema.Draft202012Validator({**schemas[name], "components": doc["components"]}).validate(value)

    stay = {**CLAIM, "sdx": [{"code": "N17.9", "poa": "Y"}], "procedures": ["5A1955Z"], "los": 2,
            "discharge_status": 2}
    async with client_for(contract_app) as c:
        r = await c.post("/v1/group?edits=true&base_rate=6000", json=stay)
        check("Result", r.json())
        assert r.json()["payment_estimate"]["amount"] > 0 and "edits" in r.json()["pdx"]
        check("EditResult", (await c.post("/v1/edit", json=stay)).json())
        check("WhatIfResponse", (await c.post("/v1/what-if?base_rate=6000", json={
            "claim": stay, "add_sdx": ["J96.01", 5], "add_procedures": ["0270"], "remove": ["N179", "Q000"]})).json())
        check("Versions", (await c.get("/v1/versions")).json())
        check("DrgInfo", (await c.get("/v1/drgs/291")).json())


@pytest.mark.anyio
async def test_rule_what_if_limit_per_list(contract_app):
    """At most 500 changes of each kind: the schema's maxItems (a total could not be stated)."""
    schema = _doc(contract_app)["components"]["schemas"]["WhatIfRequest"]["properties"]
    assert all(schema[k]["anyOf"][0]["maxItems"] == 500 for k in ("add_sdx", "add_procedures", "remove"))
    body = {"claim": {**CLAIM, "sdx": ["E1122"]}, "add_sdx": ["N179", "J9601"], "remove": ["E1122"] * 500}
    async with client_for(contract_app) as c:
        r = await c.post("/v1/what-if", json=body)
        assert r.status_code == 200 and len(r.json()["changes"]) == 502
        r = await c.post("/v1/what-if", json={**body, "remove": ["E1122"] * 501})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "remove"


@pytest.mark.anyio
async def test_rule_stream_parameter_problems_documented(contract_app):
    responses = _doc(contract_app)["paths"]["/v1/group/stream"]["post"]["responses"]
    async with client_for(contract_app) as c:
        r = await c.post("/v1/group/stream?edits=maybe", content=b"")
        assert r.status_code == 400 and "400" in responses
        r = await c.post("/v1/group/stream?base_rate=-1", content=b"")
        assert r.status_code == 422 and "422" in responses


def test_rule_contract_names_the_served_versions():
    """An imported CMS release can add a version (docs/releases.md): the document states the
    versions the service serves, not only the bundled ones."""
    import re

    from service import openapi as oa

    doc = {"components": {"schemas": oa.SCHEMAS}, "paths": {"/v1/drgs/{drg}": {"get": {"parameters": [
        {"name": "version", "in": "query", "schema": dict(oa._VERSION_PARAM)}]}}}}
    assert oa.for_versions(doc, oa.VERSION_NUMBERS) is doc
    more = oa.for_versions(doc, [*oa.VERSION_NUMBERS, 450])
    schemas = more["components"]["schemas"]
    assert schemas["Result"]["properties"]["version"]["enum"][0] == "45.0"
    assert 450 in schemas["Claim"]["properties"]["version"]["anyOf"][1]["enum"]
    assert re.search(schemas["Claim"]["properties"]["version"]["anyOf"][0]["pattern"], "45.0")
    dates = schemas["Claim"]["then"]["properties"]["discharge_date"]["pattern"]
    assert re.search(dates, "2028-03-31") and not re.search(dates, "2028-04-01")
    param = more["paths"]["/v1/drgs/{drg}"]["get"]["parameters"][0]["schema"]["pattern"]
    assert re.search(param, "450") and re.search(param, "45.0")
    assert oa.SCHEMAS["Result"]["properties"]["version"]["enum"][0] == "44.0"  # the module's own: untouched
