"""The compiled structure check (engine.io.fhir_fast) against fhir.resources, its definition.

Differential: on the public claims written as Claims, EOBs and encounter Bundles, and on
hundreds of mutated resources (wrong types, unknown elements, missing required elements,
bad dates and codes, choice [x] conflicts, arrays for objects), the compiled check never
accepts what fhir.resources refuses.  It may refuse what the library accepts (it is
stricter in places): such a resource is then judged by the library, so the answer is the
library's; those cases are only counted.
"""

from __future__ import annotations

import copy

import pytest

pytest.importorskip("fhir.resources", reason="fhir.resources is not installed (pip install -e .)")
pytest.importorskip("jsonschema_rs", reason="jsonschema_rs is not installed (pip install -e .)")

import fhir_resources as R  # noqa: E402
from engine.io import fhir as F  # noqa: E402
from engine.io.fhir_fast import fast_validator  # noqa: E402


def library_accepts(resource: dict) -> bool:
    try:
        F._model(resource.get("resourceType")).model_validate(resource)
    except Exception:  # noqa: BLE001 - pydantic's ValidationError (or the library's own failure)
        return False
    return F._null_at(resource, "X") is None  # the reader refuses nulls before the library


def fast_accepts(resource: dict) -> bool:
    check = fast_validator(resource["resourceType"])
    return check is not None and check(resource)


def resources_of(rec: dict) -> list[dict]:
    bundle = R.encounter_bundle(rec)
    return [R.claim(rec), R.claim(rec, "ExplanationOfBenefit"), *(e["resource"] for e in bundle["entry"])]


def test_fast_check_accepts_every_public_claim_in_every_form(public_records):
    refused = [(rec["id"], res["resourceType"]) for rec in public_records for res in resources_of(rec)
               if not fast_accepts(res)]
    assert not refused, f"{len(refused)} valid resources refused by the compiled check, e.g. {refused[:5]}"


def test_fast_check_and_library_agree_on_public_claims(public_records):
    for rec in public_records[::250]:
        for res in resources_of(rec):
            assert fast_accepts(res) == library_accepts(res), (rec["id"], res["resourceType"])


# ---- mutations -------------------------------------------------------------------------------------
def _set(path: tuple, value):
    def mutate(res):
        node = res
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
    return mutate


def _del(path: tuple):
    def mutate(res):
        node = res
        for p in path[:-1]:
            node = node[p]
        del node[path[-1]]
    return mutate


_CC = {"coding": [{"system": F.ICD10CM, "code": "I50.21"}]}

CLAIM_MUTATIONS = {
    "date month 13": _set(("billablePeriod", "start"), "2026-13-45"),
    "date Feb 30": _set(("billablePeriod", "end"), "2026-02-30"),
    "date one-digit month": _set(("billablePeriod", "end"), "2026-1-05"),
    "date with slashes": _set(("billablePeriod", "end"), "05/14/2026"),
    "date a number": _set(("billablePeriod", "end"), 20260514),
    "dateTime without zone": _set(("created",), "2026-05-14T10:00:00"),
    "dateTime hour 25": _set(("created",), "2026-05-14T25:00:00Z"),
    "dateTime fine": _set(("created",), "2026-05-14T10:00:00+02:00"),
    "dateTime year only": _set(("created",), "2026"),
    "code with a leading space": _set(("status",), " active"),
    "code with two spaces": _set(("status",), "act  ive"),
    "code empty": _set(("status",), ""),
    "code a number": _set(("status",), 1),
    "coding code with a tab": _set(("diagnosis", 0, "diagnosisCodeableConcept", "coding", 0, "code"), "I50\t 21"),
    "coding code empty": _set(("diagnosis", 0, "diagnosisCodeableConcept", "coding", 0, "code"), ""),
    "system with a space": _set(("diagnosis", 0, "diagnosisCodeableConcept", "coding", 0, "system"), "http://a b"),
    "system empty": _set(("diagnosis", 0, "diagnosisCodeableConcept", "coding", 0, "system"), ""),
    "string empty": _set(("provider", "display"), ""),
    "string only a vertical tab": _set(("provider", "display"), "\u000b"),
    "string a number": _set(("provider", "display"), 12),
    "id with underscore": _set(("id",), "a_b"),
    "id 65 characters": _set(("id",), "a" * 65),
    "sequence a string": _set(("diagnosis", 0, "sequence"), "1"),
    "sequence zero": _set(("diagnosis", 0, "sequence"), 0),
    "sequence negative": _set(("diagnosis", 0, "sequence"), -1),
    "sequence a fraction": _set(("diagnosis", 0, "sequence"), 1.5),
    "sequence 1.0": _set(("diagnosis", 0, "sequence"), 1.0),
    "sequence huge": _set(("diagnosis", 0, "sequence"), 2 ** 40),
    "sequence boolean": _set(("diagnosis", 0, "sequence"), True),
    "boolean a string": _set(("insurance", 0, "focal"), "true"),
    "boolean a number": _set(("insurance", 0, "focal"), 1),
    "unknown element at the root": _set(("foo",), 1),
    "unknown element in a diagnosis": _set(("diagnosis", 0, "foo"), "x"),
    "unknown element in a coding": _set(("diagnosis", 0, "diagnosisCodeableConcept", "coding", 0, "foo"), "x"),
    "unknown element in the contained Patient": _set(("contained", 0, "foo"), "x"),
    "fhir_comments at the root": _set(("fhir_comments",), "hello"),
    "missing patient": _del(("patient",)),
    "missing status": _del(("status",)),
    "missing created": _del(("created",)),
    "missing use": _del(("use",)),
    "missing provider": _del(("provider",)),
    "missing insurance": _del(("insurance",)),
    "missing type": _del(("type",)),
    "missing diagnosis sequence": _del(("diagnosis", 0, "sequence")),
    "missing diagnosis[x]": _del(("diagnosis", 0, "diagnosisCodeableConcept")),
    "missing supportingInfo category": _del(("supportingInfo", 0, "category")),
    "missing resourceType": _del(("resourceType",)),
    "status only as _status extension": lambda r: (r.pop("status"), r.update(
        _status={"extension": [{"url": "http://x", "valueCode": "unknown"}]})),
    "choice conflict diagnosis[x]": _set(("diagnosis", 0, "diagnosisReference"), {"reference": "Condition/1"}),
    "choice conflict timing[x]": _set(("supportingInfo", 0, "timingDate"), "2026-05-14"),
    "choice value[x] in an extension twice": _set(("extension", 0, "valueString"), "x"),
    "extension without url": _del(("extension", 0, "url")),
    "array for an object": _set(("patient",), [{"reference": "#pat"}]),
    "object for an array": _set(("diagnosis",), {"sequence": 1, "diagnosisCodeableConcept": _CC}),
    "array for a primitive": _set(("status",), ["active"]),
    "object for a primitive": _set(("status",), {"value": "active"}),
    "empty array": _set(("identifier",), []),
    "empty object": _set(("billablePeriod",), {}),
    "null element": _set(("status",), None),
    "null in an array": _set(("diagnosis", 0), None),
    "a resource in place of an element": _set(("provider",), {"resourceType": "Patient"}),
    "contained Patient birthDate Feb 30": _set(("contained", 0, "birthDate"), "1950-02-30"),
    "contained Patient birthDate partial": _set(("contained", 0, "birthDate"), "1950-02"),
    "contained Patient gender with a space": _set(("contained", 0, "gender"), "fe male"),
    "contained Patient deceased conflict": lambda r: r["contained"][0].update(deceasedBoolean=False,
                                                                               deceasedDateTime="2026"),
    "contained resource without resourceType": _del(("contained", 0, "resourceType")),
    "contained of an unknown type": _set(("contained", 0, "resourceType"), "Nonsense"),
    "contained Organization": _set(("contained", 1), {"resourceType": "Organization", "id": "o", "name": "x"}),
    "contained a string": _set(("contained", 0), "Patient"),
    "decimal a string": _set(("total",), {"value": "12.5", "currency": "USD"}),
    "decimal fine": _set(("total",), {"value": 12.5, "currency": "USD"}),
    "meta lastUpdated an instant": _set(("meta",), {"lastUpdated": "2026-05-14T10:00:00Z"}),
    "meta lastUpdated a date": _set(("meta",), {"lastUpdated": "2026-05-14"}),
    "primitive extension on a coding code": _set(("diagnosis", 0, "diagnosisCodeableConcept", "coding", 0,
                                                  "_code"), {"extension": [{"url": "http://x", "valueCode": "a"}]}),
    "text narrative": _set(("text",), {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}),
}

ENCOUNTER_MUTATIONS = {
    "class a list": _set(("class",), [{"code": "IMP"}]),
    "missing class": _del(("class",)),
    "missing status": _del(("status",)),
    "status with a space": _set(("status",), "fin ished"),
    "period end Feb 30": _set(("period", "end"), "2026-02-30"),
    "rank zero": _set(("diagnosis", 0, "rank"), 0),
    "rank a string": _set(("diagnosis", 0, "rank"), "1"),
    "diagnosis without condition": _del(("diagnosis", 0, "condition")),
    "extension valueCode and valueString": _set(("diagnosis", 0, "extension", 0, "valueString"), "Y"),
    "extension valueCode with spaces": _set(("diagnosis", 0, "extension", 0, "valueCode"), "Y  N"),
    "unknown element in hospitalization": _set(("hospitalization", "foo"), 1),
}

CONDITION_MUTATIONS = {
    "missing subject": _del(("subject",)),
    "code a string": _set(("code",), "I50.21"),
    "onset conflict": lambda r: r.update(onsetDateTime="2026", onsetString="x"),
    "recordedDate a date": _set(("recordedDate",), "2026-05-14"),
}

PROCEDURE_MUTATIONS = {
    "missing status": _del(("status",)),
    "performed conflict": lambda r: r.update(performedDateTime="2026", performedString="x"),
    "performedDateTime Feb 30": _set(("performedDateTime",), "2026-02-30"),
}


def _mutants(public_records):
    recs = [r for r in public_records[::700] if len(r["sdx"]) >= 2 and r["px"]][:12]
    for rec in recs:
        for kind in ("Claim", "ExplanationOfBenefit"):
            for name, mutate in CLAIM_MUTATIONS.items():
                res = R.claim(rec, kind)
                try:
                    mutate(res)
                except (KeyError, IndexError):
                    continue
                yield f"{kind}: {name}", res
        entries = [e["resource"] for e in R.encounter_bundle(rec)["entry"]]
        for rt, table in (("Encounter", ENCOUNTER_MUTATIONS), ("Condition", CONDITION_MUTATIONS),
                          ("Procedure", PROCEDURE_MUTATIONS)):
            base = next(r for r in entries if r["resourceType"] == rt)
            for name, mutate in table.items():
                res = copy.deepcopy(base)
                mutate(res)
                yield f"{rt}: {name}", res


def test_fast_check_never_accepts_what_the_library_refuses(public_records):
    count, stricter, false_accepts = 0, set(), []
    for name, res in _mutants(public_records):
        count += 1
        fast = isinstance(res.get("resourceType"), str) and fast_accepts(res)
        lib = library_accepts(res)
        if fast and not lib:
            false_accepts.append(name)
        elif lib and not fast:
            stricter.add(name)
    assert count >= 300
    assert not false_accepts, f"accepted by the compiled check, refused by fhir.resources: {sorted(set(false_accepts))}"
    print(f"{count} mutants; the compiled check is stricter (the library decides) on: {sorted(stricter)}")


def test_a_resource_the_fast_check_refuses_is_named_by_the_library(public_records):
    res = R.claim(public_records[0])
    res["billablePeriod"]["start"] = "2026-13-45"
    issues = F.validate_resource(res, "Claim")
    assert issues and issues[0].not_fhir
    assert issues[0].expression == "Claim.billablePeriod.start"


def test_a_valid_resource_the_fast_check_is_stricter_on_is_accepted(public_records):
    res = R.claim(public_records[0])
    res["identifier"][0]["_value"] = {"extension": [{"url": "http://x", "valueString": "y"}]}
    assert not fast_accepts(res) and library_accepts(res)
    assert F.validate_resource(res, "Claim") == []


def test_gc_paused_restores_the_collector_when_the_last_block_ends():
    import gc
    import threading

    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def other():
        with F.gc_paused():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other)
    with F.gc_paused():
        assert not gc.isenabled()
        t.start()
        inside.wait(10)
    assert not gc.isenabled()  # the other block is still open
    release.set()
    t.join(10)
    assert gc.isenabled()
    try:
        with F.gc_paused():
            raise ValueError("x")
    except ValueError:
        pass
    assert gc.isenabled()


def test_concurrent_single_requests_grouped_together_each_get_their_own_answer(grouper, public_records):
    """Single-resource requests arriving together share one engine call (service.routes.fhir._Batcher);
    each answer is the one its resource gets alone, a bad one among them included."""
    import asyncio

    import httpx
    import orjson

    from service.app import create_app
    from service.settings import Settings

    recs = public_records[:: len(public_records) // 24][:24]
    docs = [R.claim(rec) for rec in recs]
    docs[5] = {**docs[5], "status": " active"}
    want = []
    for doc in docs:
        _, items = F.read_resource(doc, "Claim")
        want.append(F.group_resources(grouper, items)[0])
    app = create_app(grouper=grouper, settings=Settings())

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
            return await asyncio.gather(*(c.post("/fhir/Claim/$group", content=orjson.dumps(d),
                                                 headers={"content-type": F.FHIR_MEDIA_TYPE}) for d in docs))

    got = asyncio.run(run())
    for r, (status, doc) in zip(got, want):
        assert r.status_code == status and r.json() == doc
    assert got[5].status_code == 400 and got[5].json()["issue"][0]["expression"] == ["Claim.status"]
