"""The compiled road of batch Bundles (engine.io.fhir_bundle) against the Python road, its definition.

Whenever the compiled road answers a Bundle, its batch-response must be the Python road's
(engine.io.fhir.read_body + group_resources + batch_response), entry by entry; whenever it
cannot say exactly, it must answer None (the service then takes the Python road).  Checked on
the public claims written as Claims and EOBs (contained Patients and Bundle-entry Patients,
billed DRGs), on the structure mutants of tests/test_fhir_fast.py, on mapping mutants (valid
FHIR that read_claim refuses or reads in a particular way) and on JSON the tokenizer must not
take (escapes, non-ASCII, malformed text).
"""

from __future__ import annotations

import copy
import random

import orjson
import pytest

pytest.importorskip("fhir.resources", reason="fhir.resources is not installed (pip install -e .)")
pytest.importorskip("jsonschema_rs", reason="jsonschema_rs is not installed (pip install -e .)")

import fhir_resources as R  # noqa: E402
from engine.io import fhir as F  # noqa: E402
from engine.io import fhir_bundle as B  # noqa: E402
from engine.io import fhir_scan as S  # noqa: E402
from test_fhir_fast import _mutants  # noqa: E402

MAX = 10_000


def python_road(grouper, body: bytes, expect: str = "Claim") -> dict:
    """What the service answered before the compiled road (and answers when it declines)."""
    try:
        mode, items = F.read_body(body, expect, max_entries=MAX)
    except F.FhirInputError as exc:
        return {"status": F.status_of([exc.issue]), "doc": F.outcome([exc.issue])}
    answers = F.group_resources(grouper, items)
    if mode == "single":
        return {"status": answers[0][0], "doc": answers[0][1]}
    return {"status": 200, "doc": F.batch_response([({200: "200 OK", 400: "400 Bad Request",
                                                        422: "422 Unprocessable Entity"}.get(s, str(s)), d)
                                                       for s, d in answers])}


def compiled_road(grouper, body: bytes, expect: str = "Claim"):
    done = B.group_bundle(grouper, body, expect, MAX)
    return None if done is None else orjson.loads(done[0])


def assert_same(grouper, body: bytes, expect: str = "Claim", taken: bool | None = None) -> bool:
    fast = compiled_road(grouper, body, expect)
    if taken is not None:
        assert (fast is not None) == taken, B.road_of(body, expect, MAX)
    if fast is None:
        return False
    slow = python_road(grouper, body, expect)
    assert slow["status"] == 200
    assert len(fast["entry"]) == len(slow["doc"]["entry"])
    for k, (a, b) in enumerate(zip(fast["entry"], slow["doc"]["entry"])):
        assert a == b, f"entry {k}"
    assert fast == slow["doc"]
    return True


def answered(grouper, body: bytes, kind: str, what: str) -> bool:
    """assert_same, its failure naming ``what``: whether the compiled road answered."""
    try:
        return assert_same(grouper, body, kind)
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}") from None


def bundle(resources: list[dict], patients: list[dict] = (), full_urls: bool = False) -> bytes:
    entries = [{"fullUrl": f"urn:uuid:r{k}", "resource": r} if full_urls else {"resource": r}
               for k, r in enumerate(resources)]
    entries += [{"fullUrl": f"urn:uuid:p{k}", "resource": p} for k, p in enumerate(patients)]
    return orjson.dumps({"resourceType": "Bundle", "type": "batch", "entry": entries})


# ---- the public claims -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["Claim", "ExplanationOfBenefit"])
def test_compiled_road_answers_the_public_claims_as_the_python_road_contained_patients(grouper, public_records,
                                                                                        kind):
    for lo in range(0, len(public_records), 2000):
        recs = public_records[lo:lo + 2000]
        body = bundle([R.claim(r, kind, billed_drg=("%03d" % (k % 999 + 1) if k % 3 == 0 else None))
                       for k, r in enumerate(recs)])
        assert B.road_of(body, kind, MAX) == S.SLOW_NONE
        assert assert_same(grouper, body, kind, taken=True)


@pytest.mark.parametrize("kind", ["Claim", "ExplanationOfBenefit"])
def test_compiled_road_answers_the_public_claims_as_the_python_road_bundle_patients(grouper, public_records, kind):
    for lo in range(0, len(public_records), 2000):
        body = orjson.dumps(R.claims_bundle(public_records[lo:lo + 2000], kind))
        assert assert_same(grouper, body, kind, taken=True)


def test_compiled_road_output_is_byte_for_byte_the_python_roads(grouper, public_records):
    body = bundle([R.claim(r) for r in public_records[:300]])
    fast = B.group_bundle(grouper, body, "Claim", MAX)
    assert fast is not None and fast[1] == 300
    assert fast[0] == orjson.dumps(python_road(grouper, body)["doc"])


def test_compiled_road_counts_what_it_grouped(grouper, public_records):
    body = bundle([R.claim(r) for r in public_records[:50]])
    _, n, counts = B.group_bundle(grouper, body, "Claim", MAX)
    assert n == 50 and sum(counts.values()) == 50
    docs = python_road(grouper, body)["doc"]["entry"]
    for (version, rc), c in counts.items():
        assert c == sum(1 for e in docs if {p["name"]: p for p in e["resource"]["parameter"]}["version"]
                        ["valueString"] == version and {p["name"]: p for p in e["resource"]["parameter"]}
                        ["returnCode"]["valueCode"] == rc)


def test_compiled_road_prices_as_the_python_road_with_a_base_rate(grouper, public_records):
    body = bundle([R.claim(r) for r in public_records[:200]])
    fast = B.group_bundle(grouper, body, "Claim", MAX, base_rate="6543.21")
    mode, items = F.read_body(body, "Claim", max_entries=MAX)
    slow = F.batch_response([("200 OK", d) for _, d in F.group_resources(grouper, items, base_rate="6543.21")])
    assert fast is not None and orjson.loads(fast[0]) == slow
    assert any(p["name"] == "paymentEstimate" for e in slow["entry"] for p in e["resource"]["parameter"])


def test_compiled_road_applies_the_default_hospital_status_as_the_service(grouper, public_records):
    claims = [R.claim(r) for r in public_records[:100]]
    for c in claims:
        c.pop("extension")
    body = bundle(claims)
    fast = B.group_bundle(grouper, body, "Claim", MAX, hospital_status="exempt")
    mode, items = F.read_body(body, "Claim", max_entries=MAX)
    for it in items:
        it.claim["hospital_status"] = "exempt"  # as service.routes.fhir._group does
    slow = F.batch_response([("200 OK", d) for _, d in F.group_resources(grouper, items)])
    assert fast is not None and orjson.loads(fast[0]) == slow


def test_compiled_road_reads_indented_json(grouper, public_records):
    body = orjson.dumps(orjson.loads(bundle([R.claim(r) for r in public_records[:20]])), option=orjson.OPT_INDENT_2)
    assert assert_same(grouper, body, taken=True)


def test_compiled_road_takes_an_entry_of_a_resource_alone_as_the_library_does():
    # the Python road checks the Bundle's shell with each entry's resource taken out: {} is a valid entry
    assert F.validate_resource({"resourceType": "Bundle", "type": "batch", "entry": [{}]}, "Bundle") == []


# ---- mutants: the compiled road answers the Python road's answer, or declines -------------------------
def test_structure_mutants_are_answered_as_the_python_road(grouper, public_records):
    good = [R.claim(r) for r in public_records[:2]]
    taken = seen = 0
    for name, res in _mutants(public_records):
        if res.get("resourceType") in ("Claim", "ExplanationOfBenefit"):
            kind = res["resourceType"]
            pair = [R.claim(r, kind) for r in public_records[:2]]
            body = bundle([pair[0], res, pair[1]])
        else:  # an Encounter, Condition or Procedure: as a contained resource of a Claim
            claim = copy.deepcopy(good[0])
            claim["contained"].append(res)
            kind, body = "Claim", bundle([good[1], claim])
        taken += answered(grouper, body, kind, f"mutant {name}")
        seen += 1
    declined = seen - taken
    assert taken > 0 and declined > 300
    print(f"structure mutants: {taken} taken (valid, equal), {declined} left to the Python road")


def _first_procedure(claim: dict) -> dict:
    """The first procedure's CodeableConcept (a procedure added when the claim has none)."""
    procedures = claim.setdefault("procedure", [{"sequence": 1, "procedureCodeableConcept": {"coding": [{}]}}])
    return procedures[0]["procedureCodeableConcept"]


def _claim_mutations():
    dx_type = lambda code: [{"coding": [{"system": F.DIAGNOSIS_TYPE, "code": code}]}]  # noqa: E731
    return {
        "no principal": lambda c: c["diagnosis"][0].update(type=dx_type("other")),
        "two principals": lambda c: c["diagnosis"][1].update(type=dx_type("principal")),
        "principal also admitting": lambda c: c["diagnosis"][0]["type"].append(dx_type("admitting")[0]),
        "an admitting diagnosis": lambda c: c["diagnosis"][1].update(type=dx_type("admitting")),
        "admitting and other": lambda c: c["diagnosis"][1].update(type=dx_type("admitting") + dx_type("other")),
        "two admitting": lambda c: [c["diagnosis"][k].update(type=dx_type("admitting")) for k in (1, 2)],
        "external cause first": lambda c: c["diagnosis"][1].update(type=dx_type("externalcauseofinjury")),
        "a type coding without code": lambda c: c["diagnosis"][1]["type"][0]["coding"][0].pop("code"),
        "sequences reversed": lambda c: [d.update(sequence=100 - k) for k, d in enumerate(c["diagnosis"])],
        "equal sequences": lambda c: [d.update(sequence=7) for d in c["diagnosis"]],
        "procedures reversed": lambda c: [p.update(sequence=100 - k) for k, p in enumerate(c.get("procedure", []))],
        "diagnosisReference": lambda c: c["diagnosis"][1].update(diagnosisReference={"reference": "Condition/x"}),
        "icd-9 system": lambda c: c["diagnosis"][1]["diagnosisCodeableConcept"]["coding"][0].update(system=F.ICD9CM),
        "a second coding first": lambda c: c["diagnosis"][1]["diagnosisCodeableConcept"]["coding"].insert(
            0, {"system": "http://snomed.info/sct", "code": "123"}),
        "unknown dx code": lambda c: c["diagnosis"][1]["diagnosisCodeableConcept"]["coding"][0].update(code="ZZZ99"),
        "lower-case dx code": lambda c: c["diagnosis"][1]["diagnosisCodeableConcept"]["coding"][0].update(
            code="i50.21"),
        "unknown pdx": lambda c: c["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0].update(code="ZZZ99"),
        "poa bad": lambda c: c["diagnosis"][1]["onAdmission"]["coding"][0].update(code="X"),
        "poa two letters": lambda c: c["diagnosis"][1]["onAdmission"]["coding"][0].update(code="YY"),
        "poa absent": lambda c: c["diagnosis"][1].pop("onAdmission"),
        "poa without coding": lambda c: c["diagnosis"][1].update(onAdmission={"text": "yes"}),
        "poa 1": lambda c: c["diagnosis"][1]["onAdmission"]["coding"][0].update(code="1"),
        "no admission period": lambda c: c["supportingInfo"].pop(0),
        "admission period without start": lambda c: c["supportingInfo"][0]["timingPeriod"].pop("start"),
        "admission start partial": lambda c: c["supportingInfo"][0]["timingPeriod"].update(start="2020-03"),
        "discharge date partial": lambda c: c["supportingInfo"][0]["timingPeriod"].update(end="2020"),
        "discharge a dateTime": lambda c: c["supportingInfo"][0]["timingPeriod"].update(
            end=c["supportingInfo"][0]["timingPeriod"]["end"] + "T23:10:00-05:00"),
        "no discharge status": lambda c: c["supportingInfo"].pop(1),
        "discharge status other system": lambda c: c["supportingInfo"][1]["code"]["coding"][0].update(
            system="urn:x"),
        "discharge status without code": lambda c: c["supportingInfo"][1].pop("code"),
        "discharge status unknown": lambda c: c["supportingInfo"][1]["code"]["coding"][0].update(code="99"),
        "discharge status letters": lambda c: c["supportingInfo"][1]["code"]["coding"][0].update(code="ab"),
        "billed drg": lambda c: c["supportingInfo"].append({"sequence": 9, "category": {"coding": [
            {"system": F.SUPPORTING_INFO, "code": "drg"}]}, "code": {"coding": [{"system": F.MSDRG, "code": "291"}]}}),
        "billed drg letters": lambda c: c["supportingInfo"].append({"sequence": 9, "category": {"coding": [
            {"system": F.SUPPORTING_INFO, "code": "drg"}]}, "code": {"coding": [{"system": F.MSDRG, "code": "A1"}]}}),
        "billed drg other system": lambda c: c["supportingInfo"].append({"sequence": 9, "category": {"coding": [
            {"system": F.SUPPORTING_INFO, "code": "drg"}]}, "code": {"coding": [{"system": "urn:x", "code": "1"}]}}),
        "hospital status exempt": lambda c: c["extension"][0].update(valueCode="exempt"),
        "hospital status bad": lambda c: c["extension"][0].update(valueCode="maybe"),
        "hospital status absent": lambda c: c.pop("extension"),
        "hospital status as a string": lambda c: c["extension"][0].update(valueString="exempt") or
        c["extension"][0].pop("valueCode"),
        "no id": lambda c: c.pop("id"),
        "no patient": lambda c: c.pop("patient"),
        "patient not contained": lambda c: c["patient"].update(reference="#nobody"),
        "patient reference elsewhere": lambda c: c["patient"].update(reference="Patient/elsewhere"),
        "patient partial birth date": lambda c: c["contained"][0].update(birthDate="1950"),
        "patient born after admission": lambda c: c["contained"][0].update(birthDate="2100-01-01"),
        "patient gender other": lambda c: c["contained"][0].update(gender="other"),
        "patient gender absent": lambda c: c["contained"][0].pop("gender"),
        "patient born on the admission day": lambda c: c["contained"][0].update(
            birthDate=c["supportingInfo"][0]["timingPeriod"]["start"]),
        "contained not a patient": lambda c: c["contained"][0].update(resourceType="Condition"),
        "no procedures": lambda c: c.pop("procedure", None),
        "procedure reference": lambda c: c.setdefault("procedure", [{"sequence": 1}])[0].update(
            procedureReference={"reference": "Procedure/x"}),
        "procedure cpt": lambda c: _first_procedure(c).update(coding=[{"system": "http://www.ama-assn.org/go/cpt",
                                                                        "code": "99213"}]),
        "unknown procedure": lambda c: _first_procedure(c).update(coding=[{"system": F.ICD10PCS, "code": "ZZZZZZZ"}]),
        "an empty extension list": lambda c: c.update(extension=[]),
        "a null": lambda c: c.update(created=None),
    }


def test_mapping_mutants_are_answered_as_the_python_road(grouper, public_records):
    recs = [r for r in public_records[::500] if len(r["sdx"]) >= 3][:6]
    taken = seen = 0
    for name, mutate in _claim_mutations().items():
        for kind in ("Claim", "ExplanationOfBenefit"):
            for rec in recs:
                res = R.claim(rec, kind)
                mutate(res)
                body = bundle([R.claim(recs[0], kind), res])
                taken += answered(grouper, body, kind, f"mutant {name} ({kind}, {rec['id']})")
                seen += 1
    declined = seen - taken
    assert taken > 200 and declined > 100
    print(f"mapping mutants: {taken} taken (equal), {declined} left to the Python road")


def test_bundle_entry_patients_resolve_as_the_python_road(grouper, public_records):
    recs = public_records[:6]
    claims = [R.claim(r, contained=False) for r in recs]
    patients = [R._patient(r, R.dates(int(r["version"]))[0], f"pat-{r['id']}") for r in recs]
    assert assert_same(grouper, bundle(claims, patients), taken=True)
    # by fullUrl; a later entry with the same key wins (the Python road's lookup is a dict)
    claims[0]["patient"]["reference"] = "urn:uuid:p1"
    assert assert_same(grouper, bundle(claims, patients), taken=True)
    dup = copy.deepcopy(patients[1])
    dup["gender"] = "female" if dup["gender"] != "female" else "male"
    assert assert_same(grouper, bundle(claims, patients + [dup]), taken=True)
    # a reference to a Claim entry, to nothing, a bad Patient: the Python road answers
    claims[1]["patient"]["reference"] = "urn:uuid:r0"
    assert compiled_road(grouper, bundle(claims, patients)) is None
    claims[1]["patient"]["reference"] = "Patient/none"
    assert compiled_road(grouper, bundle(claims, patients)) is None
    claims[1]["patient"]["reference"] = f"Patient/pat-{recs[1]['id']}"
    patients[1]["birthDate"] = "1950-02-30"
    assert compiled_road(grouper, bundle(claims, patients)) is None


def test_bundle_level_cases_take_the_python_road(grouper, public_records):
    claims = [R.claim(r) for r in public_records[:3]]
    cases = {
        "no entry": {"resourceType": "Bundle", "type": "batch"},
        "an entry without resource": {"resourceType": "Bundle", "type": "batch", "entry": [{"fullUrl": "urn:x"}]},
        "an Encounter entry": {"resourceType": "Bundle", "type": "batch", "entry": [
            {"resource": claims[0]}, {"resource": R.encounter_bundle(public_records[0])["entry"][1]["resource"]}]},
        "an EOB in a Claim batch": {"resourceType": "Bundle", "type": "batch", "entry": [
            {"resource": claims[0]}, {"resource": R.claim(public_records[1], "ExplanationOfBenefit")}]},
        "fullUrl a number": {"resourceType": "Bundle", "type": "batch",
                             "entry": [{"fullUrl": 5, "resource": claims[0]}]},
        "no type": {"resourceType": "Bundle", "entry": [{"resource": claims[0]}]},
        "unknown Bundle element": {"resourceType": "Bundle", "type": "batch", "foo": 1,
                                   "entry": [{"resource": claims[0]}]},
        "only Patients": {"resourceType": "Bundle", "type": "batch",
                          "entry": [{"resource": claims[0]["contained"][0]}]},
        "a single Claim": claims[0],
    }
    for name, doc in cases.items():
        body = orjson.dumps(doc)
        assert compiled_road(grouper, body) is None, name
    body = bundle(claims)
    assert B.group_bundle(grouper, body, "Claim", 2) is None  # more entries than allowed: the 413
    assert B.group_bundle(grouper, body, "Encounter", MAX) is None


def test_text_the_tokenizer_leaves_to_orjson(grouper, public_records):
    claims = [R.claim(r) for r in public_records[:2]]
    body = bundle(claims)
    escaped = body.replace(b'"Doe"', b'"D\\u006fe"')
    non_ascii = body.replace(b'"Doe"', "\"Dö\"".encode())
    duplicate = body.replace(b'"status":"active"', b'"status":"active","status":"active"', 1)
    for case, text in (("escape", escaped), ("non-ASCII", non_ascii)):
        assert B.road_of(text, "Claim", MAX) == S.SLOW_JSON, case
    assert B.road_of(duplicate, "Claim", MAX) == S.SLOW_STRUCTURE
    assert compiled_road(grouper, duplicate) is None


def test_tokenizer_takes_no_text_orjson_refuses(public_records):
    t = B._tables()
    import numpy as np

    base = bundle([R.claim(r) for r in public_records[:1]])
    rnd = random.Random(27)
    alphabet = b'{}[]",:0123456789.-+eE \ntrufalsn\\x'
    taken = 0
    for _ in range(3000):
        text = bytearray(base)
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randrange(len(text))
            op = rnd.randrange(3)
            if op == 0:
                del text[at]
            elif op == 1:
                text.insert(at, rnd.choice(alphabet))
            else:
                text[at] = rnd.choice(alphabet)
        text = bytes(text)
        for strict in (True, False):
            tape = np.empty((len(text) + 16, 6), np.int32)
            if S.tokenize(np.frombuffer(text, np.uint8), tape, t.ktab, t.kbits, t.kblob, t.koff, strict) >= 0:
                orjson.loads(text)  # raises when the tokenizer took what is not JSON
                taken += 1
    assert taken > 100
    for text in (b"01", b"[1,]", b'{"a":1,}', b"[1 2]", b'{"a" 1}', b"tru", b"nul", b"1.", b"-", b"1e",
                 b'"a', b"[", b"{}}", b'{"a":1}x', b"", b" ", b"[-01]", b'{"a":"\x01"}'):
        tape = np.empty((len(text) + 16, 6), np.int32)
        assert S.tokenize(np.frombuffer(text, np.uint8), tape, t.ktab, t.kbits, t.kblob, t.koff, False) < 0, text


def test_warm_up_takes_the_whole_compiled_road(grouper):
    assert B.warm(grouper)


@pytest.mark.parametrize("kind", ["Claim", "ExplanationOfBenefit"])
def test_single_resource_road_answers_byte_for_byte_as_the_python_road(grouper, public_records, kind):
    """A single Claim/EOB read by the compiled road (as a Bundle's one entry), grouped as its JSON
    twin text and written back: the very bytes the Python road answers (every 4th public claim;
    every one of the 14,000 in a one-off run)."""
    for rec in public_records[::4]:
        body = orjson.dumps(R.claim(rec, kind))
        read = B.read_single(body, kind)
        assert read is not None, rec["id"]
        text, state = read
        res = grouper.group_json_texts([text], detail=True)
        assert res.errors[0] is None, rec["id"]
        mode, items = F.read_body(body, kind)
        status, want = F.group_resources(grouper, items)[0]
        assert status == 200 and B.write_single(grouper, state, res.documents[0]) == orjson.dumps(want), rec["id"]


def test_single_resource_road_leaves_what_it_does_not_read_to_the_python_road(public_records):
    """Not a Claim (a Patient, a Bundle, an Encounter), a patient named but not contained, broken JSON,
    trailing bytes: read_single declines and the Python road answers (its errors and all)."""
    claim = R.claim(public_records[0])
    elsewhere = {**claim, "contained": [], "patient": {"reference": "Patient/p"}}
    for body, kind in ((orjson.dumps(claim["contained"][0]), "Claim"), (orjson.dumps(R.claims_bundle(
            public_records[:2])), "Claim"), (orjson.dumps(claim), "Encounter"), (orjson.dumps(elsewhere), "Claim"),
            (orjson.dumps(claim)[:-1], "Claim"), (orjson.dumps(claim) + b"]}", "Claim"),
            (orjson.dumps(claim) + b'}],"link":[{"relation":"self","url":"u"', "Claim"),
            (orjson.dumps(claim) + b'}},{"resource":' + orjson.dumps(claim["contained"][0]), "Claim")):
        assert B.read_single(body, kind) is None


def test_compile_road_types_its_calls_as_group_bundle_does(grouper):
    """What the first start's child compiles (compile_road, no kernel) is what group_bundle then
    loads: one signature each, not a second compile in the service."""
    B.compile_road(grouper.version_numbers[-1])
    assert B.warm(grouper)
    for f in (S.tokenize, S.read_bundle, S.write_parameters):
        assert len(f.signatures) == 1, f.__name__


def test_road_not_cached_compiles_in_a_child_python_road_meanwhile(grouper, monkeypatch):
    """A first start: ready() is False (the Python road answers) and one child compiles the road;
    once numba's cache holds it, ready() warms it and is True."""
    import engine.coldstart as C

    class Fresh:  # a grouper the road has not been made ready for
        version_numbers = grouper.version_numbers

    started = []
    monkeypatch.setattr(B, "_COMPILING", [])
    monkeypatch.setattr(B, "cached", lambda: False)
    monkeypatch.setattr(C, "spawn", lambda line, args: started.append((line, args)) or "child")
    g = Fresh()
    assert not B.ready(g) and not B.ready(g)
    assert started == [("from engine.io.fhir_bundle import compile_road as f", [grouper.version_numbers[-1]])]
    monkeypatch.setattr(B, "cached", lambda: True)
    monkeypatch.setattr(B, "warm", lambda gr: gr is g)
    assert B.ready(g) and B.ready(g)


def test_tables_state_every_element_of_the_schemas():
    t = B._tables()
    assert {"Claim", "ExplanationOfBenefit", "Patient", "Bundle", "BundleEntry", "Coding"} <= set(t.type_names)
    assert t.names[:len(S.NAMES)] == list(S.NAMES)


def test_http_bundle_answers_what_the_python_road_answers(grouper, public_records):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    claims = [R.claim(r) for r in public_records[:40]]  # (more than the body read on the event loop)
    body = bundle(claims)
    assert B.road_of(body, "Claim", MAX) == S.SLOW_NONE
    with TestClient(create_app(grouper=grouper, settings=Settings())) as client:
        r = client.post("/fhir/Claim/$group", content=body, headers={"Content-Type": F.FHIR_MEDIA_TYPE})
    assert r.status_code == 200 and r.headers["content-type"].startswith(F.FHIR_MEDIA_TYPE)
    assert r.json() == python_road(grouper, body)["doc"]


def test_http_single_claim_takes_the_compiled_road_with_the_python_roads_bytes(grouper, public_records,
                                                                                monkeypatch):
    """``POST /fhir/Claim/$group`` with one Claim: read and written by the compiled road (its claim
    grouped by /v1/group's micro-batcher), the Python road's very bytes; a Claim it does not read
    (its patient not contained) is still answered, by the Python road."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    assert B.warm(grouper) and B.ready(grouper)
    taken = []
    write = B.write_single
    monkeypatch.setattr(B, "write_single", lambda *a: taken.append(1) or write(*a))
    claims = [R.claim(r) for r in public_records[:20]]
    elsewhere = {**claims[0], "contained": [], "patient": {"reference": "Patient/p"}}
    with TestClient(create_app(grouper=grouper, settings=Settings())) as client:
        for claim in claims + [elsewhere]:
            body = orjson.dumps(claim)
            r = client.post("/fhir/Claim/$group", content=body, headers={"Content-Type": F.FHIR_MEDIA_TYPE})
            mode, items = F.read_body(body, "Claim")
            status, want = F.group_resources(grouper, items)[0]
            assert r.status_code == status and r.content == orjson.dumps(want)
    assert len(taken) == len(claims)
