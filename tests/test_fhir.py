"""FHIR R4 in and out (engine.io.fhir, service.routes.fhir; docs/fhir.md).

The 14,000 public claims written as Claims, as ExplanationOfBenefits and as encounter
Bundles (tests/fhir_resources.py) group exactly as their JSON twins and as CMS (five
fields and per-code detail), read in process; a sample takes the HTTP road.  Every bad
input gets an OperationOutcome naming the element; every answer is valid FHIR (the R4B
models); nothing of a name, an identifier, an address or a birth date comes back.
"""

from __future__ import annotations

import copy

import orjson
import pytest

pytest.importorskip("fhir.resources", reason="fhir.resources is not installed (pip install -e .)")

import fhir_resources as R  # noqa: E402
from cmsdiff import compare  # noqa: E402
from engine.io import fhir as F  # noqa: E402
from mismatch import report  # noqa: E402

KINDS = ("Claim", "ExplanationOfBenefit", "Encounter")


def as_fhir(rec: dict, kind: str) -> dict:
    return R.encounter_bundle(rec) if kind == "Encounter" else R.claim(rec, kind)


def read_one(doc: dict, expect: str | None = None, validate: bool = True) -> F.Item:
    mode, items = F.read_resource(doc, expect, validate)
    assert mode == "single" and len(items) == 1
    return items[0]


# ---- exactness: the public claims as FHIR ---------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_public_claims_as_fhir_group_as_json_twins_and_cms(grouper, public_records, kind):
    """All 14,000 through the reader's mapping (structure checked on a sample below: the check does
    not change what is read) and Grouper.group: the same result dict as the JSON twin, and CMS's
    five fields and per-code detail."""
    items = [read_one(as_fhir(rec, kind), kind, validate=False) for rec in public_records]
    refused = [(it.id, it.issues) for it in items if it.claim is None]
    assert not refused, refused[:3]
    got = grouper.group([it.claim for it in items])
    want = grouper.group([R.json_twin(rec) for rec in public_records])
    mismatches = []
    for rec, g, w in zip(public_records, got, want):
        if g != w:
            mismatches.append((rec["id"], {k: (g.get(k), w.get(k)) for k in set(g) | set(w) if g.get(k) != w.get(k)}))
        diff = compare(rec["expect"], g)
        if diff:
            mismatches.append((rec["id"], diff))
    if mismatches:
        pytest.fail(report(mismatches, len(public_records), f"public_claims as {kind}"), pytrace=False)


@pytest.mark.parametrize("kind", KINDS)
def test_structure_check_changes_nothing_read(public_records, kind):
    """A sample through fhir.resources: valid FHIR, and read the same with and without the check."""
    for rec in public_records[::200]:
        doc = as_fhir(rec, kind)
        checked, unchecked = read_one(doc, kind), read_one(doc, kind, validate=False)
        assert checked.issues == [] and checked.claim == unchecked.claim, rec["id"]


def test_claims_bundle_reads_each_claim_with_its_patient(public_records):
    recs = public_records[:50]
    mode, items = F.read_resource(R.claims_bundle(recs), "Claim")
    assert mode == "batch" and [it.id for it in items] == [r["id"] for r in recs]
    assert [it.claim for it in items] == [read_one(R.claim(r)).claim for r in recs]


# ---- the HTTP road -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(grouper):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    with TestClient(create_app(grouper=grouper, settings=Settings())) as c:
        yield c


def _params(doc: dict) -> dict:
    return {p["name"]: p for p in doc["parameter"]}


@pytest.mark.parametrize("kind", KINDS)
def test_http_group_answers_what_the_engine_road_answers(grouper, client, public_records, kind):
    sample = public_records[::700]
    for rec in sample:
        doc = as_fhir(rec, kind)
        r = client.post(f"/fhir/{kind}/$group", content=orjson.dumps(doc),
                        headers={"content-type": F.FHIR_MEDIA_TYPE})
        assert r.status_code == 200 and r.headers["content-type"].startswith(F.FHIR_MEDIA_TYPE)
        [(status, want)] = F.group_resources(grouper, [read_one(doc, kind)])
        assert status == 200 and r.json() == want
        p = _params(r.json())
        assert p["drg"]["valueCoding"]["code"] == f"{rec['expect']['drg']:03d}"
        assert p["drg"]["valueCoding"]["system"] == F.MSDRG
        assert p["returnCode"]["valueCode"] == rec["expect"]["rc"]


@pytest.mark.parametrize("kind", ["Claim", "ExplanationOfBenefit"])
def test_http_bundle_of_claims_is_a_batch_response_in_order(client, public_records, kind):
    recs = public_records[:40]
    r = client.post(f"/fhir/{kind}/$group?edits=true", json=R.claims_bundle(recs, kind))
    assert r.status_code == 200
    doc = r.json()
    assert doc["type"] == "batch-response" and len(doc["entry"]) == len(recs)
    for rec, entry in zip(recs, doc["entry"]):
        p = _params(entry["resource"])
        assert entry["response"]["status"] == "200 OK"
        assert p["id"]["valueId"] == rec["id"] and p["drg"]["valueCoding"]["code"] == f"{rec['expect']['drg']:03d}"
        assert "editType" in p


def test_billed_drg_matches(client, public_records):
    rec = public_records[0]
    right = f"{rec['expect']['drg']:03d}"
    for billed, matches in ((right, True), ("999" if right != "999" else "001", False)):
        r = client.post("/fhir/ExplanationOfBenefit/$group",
                        json=R.claim(rec, "ExplanationOfBenefit", billed_drg=billed))
        p = _params(r.json())
        assert p["billedDrg"]["valueCoding"] == {"system": F.MSDRG, "code": billed}
        assert p["billedDrgMatches"]["valueBoolean"] is matches


# ---- bad input: one precise OperationOutcome each --------------------------------------------------
@pytest.fixture(scope="module")
def rec(public_records):
    return next(r for r in public_records if r["sdx"] and r["px"])


def _outcome(r, status: int) -> dict:
    assert r.status_code == status, r.text
    doc = r.json()
    assert doc["resourceType"] == "OperationOutcome"
    return doc["issue"][0]


def test_no_principal_diagnosis(client, rec):
    doc = R.claim(rec)
    for dx in doc["diagnosis"]:
        dx["type"] = [{"coding": [{"system": F.C4BB_DIAGNOSIS_TYPE, "code": "other"}]}]
    issue = _outcome(client.post("/fhir/Claim/$group", json=doc), 422)
    assert issue["expression"] == ["Claim.diagnosis"] and "principal" in issue["diagnostics"]
    enc = R.encounter_bundle(rec)
    enc["entry"][1]["resource"]["diagnosis"][0]["rank"] = 7
    issue = _outcome(client.post("/fhir/Encounter/$group", json=enc), 422)
    assert issue["expression"] == ["Bundle.entry[1].resource.diagnosis"]


def test_icd9_or_unknown_code_system(client, rec):
    doc = R.claim(rec)
    doc["diagnosis"][1]["diagnosisCodeableConcept"]["coding"][0]["system"] = F.ICD9CM
    issue = _outcome(client.post("/fhir/Claim/$group", json=doc), 422)
    assert issue["expression"] == ["Claim.diagnosis[1].diagnosisCodeableConcept.coding[0].system"]
    assert "ICD-9" in issue["diagnostics"]
    doc = R.claim(rec)
    doc["procedure"][0]["procedureCodeableConcept"]["coding"][0]["system"] = "urn:example:local-codes"
    issue = _outcome(client.post("/fhir/Claim/$group", json=doc), 422)
    assert issue["expression"] == ["Claim.procedure[0].procedureCodeableConcept.coding.system"]


def test_no_patient(client, rec):
    doc = R.claim(rec)
    del doc["contained"]
    issue = _outcome(client.post("/fhir/Claim/$group", json=doc), 422)
    assert issue["expression"] == ["Claim.patient"]
    doc = R.claim(rec)
    del doc["patient"]  # patient is 1..1 in R4: not valid FHIR
    issue = _outcome(client.post("/fhir/Claim/$group", json=doc), 400)
    assert issue["code"] == "required" and issue["expression"] == ["Claim.patient"]


def test_date_no_version_covers(client, rec):
    doc = R.claim(rec)
    doc["supportingInfo"][0]["timingPeriod"] = {"start": "2011-05-23", "end": "2011-05-25"}
    issue = _outcome(client.post("/fhir/Claim/$group", json=doc), 422)
    assert issue["expression"] == ["Claim.supportingInfo[0].timingPeriod.end"]


def test_engine_error_points_at_the_element_that_fed_the_field(client, rec):
    doc = R.claim(rec)
    doc["diagnosis"][2]["diagnosisCodeableConcept"]["coding"][0]["code"] = "I50.21.XX.YY.ZZ"
    issue = _outcome(client.post("/fhir/Claim/$group", json=doc), 422)
    assert issue["expression"] == ["Claim.diagnosis[2].diagnosisCodeableConcept"]
    assert issue["diagnostics"].startswith("sdx[1]")


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"hello": "world"}', b'{"resourceType": "Claim"}',
                                  b'{"resourceType": "Nonsense"}', b'{"resourceType": "Claim", "status": 7}'])
def test_not_fhir_at_all(client, body):
    r = client.post("/fhir/Claim/$group", content=body)
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"


def test_a_bundle_mixing_good_and_bad_resources(client, public_records):
    recs = public_records[:4]
    bundle = R.claims_bundle(recs)
    claims = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim"]
    claims[1]["resource"]["status"] = 12  # not valid FHIR
    for dx in claims[2]["resource"]["diagnosis"]:  # valid FHIR, no principal diagnosis
        dx["type"] = []
    bundle["entry"].append({"resource": {"resourceType": "Observation"}})
    r = client.post("/fhir/Claim/$group", json=bundle)
    assert r.status_code == 200
    entries = r.json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["200 OK", "400 Bad Request", "422 Unprocessable Entity",
                                                           "200 OK", "422 Unprocessable Entity"]
    assert entries[1]["resource"]["issue"][0]["expression"] == ["Claim.status"]
    assert entries[2]["resource"]["issue"][0]["expression"] == ["Claim.diagnosis"]
    assert _params(entries[3]["resource"])["id"]["valueId"] == recs[3]["id"]


def test_bundle_past_the_batch_limit_is_413(grouper, public_records):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    app = create_app(grouper=grouper, settings=Settings.from_env({"FASTDRG_MAX_BATCH_CLAIMS": "3"}))
    with TestClient(app) as c:
        r = c.post("/fhir/Claim/$group", json=R.claims_bundle(public_records[:2]))  # 4 entries: 2 Patients
        issue = _outcome(r, 413)
        assert issue["code"] == "too-costly" and issue["expression"] == ["Bundle.entry"]


def test_service_refusals_are_operation_outcomes(client, rec):
    r = client.post("/fhir/Claim/$group?edits=perhaps", json=R.claim(rec))
    assert _outcome(r, 400)["expression"] == ["edits"]
    r = client.post("/fhir/ExplanationOfBenefit/$group", json=R.claim(rec, "Claim"))
    assert _outcome(r, 422)["code"] == "not-supported"


# ---- every answer is valid FHIR; nothing personal comes back ------------------------------------------
def _valid(doc: dict) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(doc["resourceType"]).model_validate(doc)
    for entry in doc.get("entry") or ():
        _valid(entry["resource"])


def test_every_answer_validates_against_the_r4_models(client, public_records, rec):
    bad = R.claim(rec)
    bad["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["system"] = F.ICD9CM
    answers = [
        client.get("/fhir/metadata"), client.get("/fhir/OperationDefinition/group"),
        client.post("/fhir/Claim/$group?edits=true&base_rate=6500", json=R.claim(rec, billed_drg="291")),
        client.post("/fhir/Encounter/$group", json=R.encounter_bundle(rec)),
        client.post("/fhir/Claim/$group", json=R.claims_bundle(public_records[:5])),
        client.post("/fhir/Claim/$group", json=bad), client.post("/fhir/Claim/$group", content=b"{"),
    ]
    for r in answers:
        _valid(r.json())


def test_no_name_identifier_address_or_birth_date_in_the_answer(client, rec):
    for kind in KINDS:
        doc = as_fhir(rec, kind)
        text = client.post(f"/fhir/{kind}/$group?edits=true", json=doc).text
        patient = R._patient(rec, R.dates(int(rec["version"]))[0])
        for secret in ("Doe", "Jane", "MRN-0042", "1 Main St", "Springfield", "CLM-SECRET-1", patient["birthDate"]):
            assert secret not in text, (kind, secret)


def test_api_key_guards_the_operations_not_the_metadata(grouper, rec):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    app = create_app(grouper=grouper, settings=Settings.from_env({"FASTDRG_API_KEYS": "k1"}))
    with TestClient(app) as c:
        assert c.get("/fhir/metadata").status_code == 200
        assert c.post("/fhir/Claim/$group", json=R.claim(rec)).status_code == 401
        assert c.post("/fhir/Claim/$group", json=R.claim(rec), headers={"X-API-Key": "k1"}).status_code == 200


def test_grouped_resources_are_counted_without_content(client, rec):
    def grouped() -> float:
        text = client.get("/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("fastdrg_claims_grouped_total{"))

    before = grouped()
    client.post("/fhir/Claim/$group", json=R.claim(rec))
    assert grouped() == before + 1
    assert rec["id"] not in client.get("/metrics").text


def test_hac_parts_carry_each_hac_number_and_status(grouper):
    """A HAC claim (shared/eval/public_hac.jsonl): each diagnosis's HACs as (number, status) parts."""
    from cmsdiff import SHARED
    from oracle import public_to_claim

    path = SHARED / "eval" / "public_hac.jsonl"
    if not path.is_file():
        pytest.skip(f"shared HAC claims not found at {path}")
    recs = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    rec = next(r for r in recs if any(x[5] for x in r["expect"]["detail"]["sdx"]))
    result = grouper.group([public_to_claim(rec)])[0]
    doc = F.parameters(F.Item("Claim", "x"), result)
    got = [[(_params({"parameter": h["part"]})["number"]["valueInteger"],
             _params({"parameter": h["part"]})["status"]["valueCode"])
            for h in part["part"] if h["name"] == "hac"]
           for part in doc["parameter"] if part["name"] == "diagnosis"]
    want = [[(h["number"], h["status"]) for h in d["hacs"]] for d in [result["pdx"], *result["sdx"]]]
    assert got == want and any(want)
    _valid(doc)


def test_reader_does_not_touch_what_it_is_given(rec):
    doc = R.encounter_bundle(rec)
    before = copy.deepcopy(doc)
    read_one(doc, "Encounter")
    assert doc == before


# ---- published examples (HL7 R4, CARIN BB; tests/data/fhir/README.md) -------------------------------
DATA = __import__("pathlib").Path(__file__).parent / "data" / "fhir"


def _example(name: str) -> dict:
    return orjson.loads((DATA / name).read_bytes())


def _expressions(r) -> list:
    return [e for issue in r.json()["issue"] for e in issue.get("expression", ())]


@pytest.mark.parametrize("name, route, lacks", [
    ("claim-example-institutional.json", "Claim", ["Claim.billablePeriod", "Claim.patient"]),
    ("ExplanationOfBenefit-EOBInpatient1.json", "ExplanationOfBenefit", ["ExplanationOfBenefit.patient"]),
    ("ExplanationOfBenefit_InpatientEOBExample1.json", "ExplanationOfBenefit",
     ["ExplanationOfBenefit.supportingInfo[2].timingPeriod.end", "ExplanationOfBenefit.patient"]),
])
def test_published_examples_are_fhir_and_name_what_they_lack(client, name, route, lacks):
    doc = _example(name)
    assert F.validate_resource(doc, doc["resourceType"]) == []  # valid R4 as published
    r = client.post(f"/fhir/{route}/$group", json=doc)
    assert r.status_code == 422 and _expressions(r) == lacks


def test_carin_inpatient_example_groups_once_what_it_lacks_is_given(client):
    """CARIN's inpatient EOB completed one element at a time: each answer names the next one, then a DRG."""
    eob = _example("ExplanationOfBenefit_InpatientEOBExample1.json")
    patient = {"resourceType": "Patient", "id": "ExamplePatient1", "gender": "male", "birthDate": "1955-01-01"}
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"fullUrl": "urn:uuid:eob", "resource": eob}, {"resource": patient}]}

    def post():
        r = client.post("/fhir/ExplanationOfBenefit/$group", json=bundle)
        assert r.status_code == 200
        return r.json()["entry"][0]["resource"]

    period = eob["supportingInfo"][2]["timingPeriod"]
    assert post()["issue"][0]["expression"] == ["ExplanationOfBenefit.supportingInfo[2].timingPeriod.end"]
    period["end"] = "2017-05-25"  # 2017: no bundled grouper version covers it
    issue = post()["issue"][0]
    assert issue["expression"] == ["ExplanationOfBenefit.supportingInfo"] and "discharge status" in issue["diagnostics"]
    eob["supportingInfo"].append({"sequence": 4, "category": {"coding": [
        {"system": F.SUPPORTING_INFO, "code": "discharge-status"}]}, "code": {"coding": [
            {"system": F.NUBC_DISCHARGE, "code": "01"}]}})
    issue = post()["issue"][0]
    assert issue["expression"] == ["ExplanationOfBenefit.supportingInfo[2].timingPeriod.end"]  # uncovered date
    period.update(start="2026-05-23", end="2026-05-25")
    doc = post()
    p = _params(doc)
    assert p["drg"]["valueCoding"]["system"] == F.MSDRG and p["returnCode"]["valueCode"] == "OK"
    principal = next(x for x in doc["parameter"] if x["name"] == "diagnosis")
    assert _params({"parameter": principal["part"]})["code"]["valueCoding"]["code"] == "I214"
