"""FHIR R4 routes under ``/fhir``: ``GET /fhir/metadata``, ``GET /fhir/OperationDefinition/group``
and the ``$group`` operation on Claim, ExplanationOfBenefit and Encounter (docs/fhir.md).

The reading and writing of FHIR is the engine's (``engine.io.fhir``); this module reads
the body with the JSON routes' bounds, reads a small body on the event loop (a single resource is then
grouped with the others arriving with it, ``_Batcher``), a larger one and its grouping in a
worker thread (a batch Bundle first through the engine's compiled road,
``engine.io.fhir_bundle``, which answers it or declines), and answers ``application/fhir+json``: a ``Parameters``, a batch-response ``Bundle`` or an
``OperationOutcome`` (4xx) whose ``issue.expression`` names the element at fault.  The
service's own refusals (body too large, a bad ``?edits=``, the engine still loading) are
OperationOutcomes too.  Nothing of the body is logged: the access log line names the route.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from engine.io import fhir as F
from engine.io import fhir_bundle as FB

from .. import openapi as oa
from ..problems import Problem
from ..runtime import MicroBatcher
from .grouping import _BASE_RATE_PARAM, _EDITS_PARAMETER, _edits, base_rate_param, read_body

router = APIRouter(prefix="/fhir", tags=["fhir"])
log = logging.getLogger("fastdrg.service")

_ISSUE_CODES = {400: "structure", 401: "security", 404: "not-found", 413: "too-costly", 422: "processing",
                503: "transient"}


def fhir_response(doc: dict | bytes | memoryview, status: int = 200, headers: dict | None = None) -> Response:
    """A FHIR resource (a dict, or its JSON already written: bytes or a memoryview) as the response."""
    body = doc if isinstance(doc, (bytes, memoryview)) else orjson.dumps(doc)
    return Response(body, status_code=status, media_type=F.FHIR_MEDIA_TYPE, headers=headers)


def _problem_outcome(p: Problem) -> Response:
    """A service refusal (``Problem``) as an OperationOutcome with the same status."""
    code = _ISSUE_CODES.get(p.status, "processing")
    issues = [F.Issue(code, e.get("field") or "$", f"{p.detail} {e.get('reason', '')}".strip()) for e in p.errors] \
        or [F.Issue(code, "$", p.detail)]
    return fhir_response(F.outcome(issues), p.status, p.headers)


def _group(rt, grouper, items: list, edits: bool, rate) -> list[tuple[int, dict]]:
    """The items grouped (``engine.io.fhir.group_resources``), never raising: an engine
    failure is retried item by item, and an item that still fails gets an outcome."""
    default = rt.settings.default_hospital_status
    if default is not None:
        for it in items:
            if it.claim is not None and it.claim.get("hospital_status") is None:
                it.claim["hospital_status"] = default
    rate = rate if rate is not None else rt.settings.base_rate
    try:
        return F.group_resources(grouper, items, edits, rate)
    except Exception as exc:  # noqa: BLE001 - an engine bug: never a 5xx, never the others spoiled
        log.error("engine failed on FHIR resources; grouping one by one", extra={"error_type": type(exc).__name__})
    out = []
    for it in items:
        try:
            out += F.group_resources(grouper, [it], edits, rate)
        except Exception:  # noqa: BLE001
            rt.metrics.engine_failures.inc()
            out.append((422, F.outcome([F.Issue("exception", it.resource_type,
                                                "the grouper could not process this resource")])))
    return out


_STATUS_TEXT = {200: "200 OK", 400: "400 Bad Request", 422: "422 Unprocessable Entity"}


def _count(metrics, answers: list[tuple[int, dict]]) -> None:
    """The grouped claims by version and return code, and the refused ones, in the service's
    claim counters (labels carry no content of the resources)."""
    counts: dict = {}
    refused = []
    for status, doc in answers:
        if status != 200:
            refused.append({"field": "$"})
            continue
        p = {x["name"]: x for x in doc["parameter"]}
        key = (p["version"]["valueString"], p["returnCode"]["valueCode"])
        counts[key] = counts.get(key, 0) + 1
    metrics.count_grouped(counts, refused)


def _bundle_road(rt, grouper, body: bytes, expect: str, rate):
    """A batch Bundle through the engine's compiled road (``engine.io.fhir_bundle``): (200, the
    batch-response bytes, claims), or None when the Bundle takes the Python road (which
    answers it, errors and all)."""
    settings = rt.settings
    try:
        if not FB.ready(grouper):  # a first start: the road still compiling in a child process
            return None
        done = FB.group_bundle(grouper, body, expect, settings.max_batch_claims, settings.default_hospital_status,
                               rate if rate is not None else settings.base_rate)
    except Exception as exc:  # noqa: BLE001 - a bug of the compiled road: the Python road answers
        log.error("FHIR Bundle road failed; the Python road answers", extra={"error_type": type(exc).__name__})
        return None
    if done is None:
        return None
    data, n, counts = done
    rt.metrics.count_grouped(counts, [])
    return 200, data, n


async def _single_road(rt, grouper, body: bytes, expect: str) -> bytes | None:
    """One Claim or EOB through the engine's compiled reader and writer
    (``engine.io.fhir_bundle.read_single``/``write_single``), its claim grouped by
    ``/v1/group``'s micro-batcher with the JSON requests that arrive with it: the
    ``Parameters`` bytes, or None when the Python road answers (it then reads the body
    afresh, errors and all)."""
    try:
        if not FB.ready(grouper):  # a first start: the road still compiling in a child process
            return None
        read = FB.read_single(body, expect)
    except Exception as exc:  # noqa: BLE001 - a bug of the compiled road: the Python road answers
        log.error("FHIR single road failed; the Python road answers", extra={"error_type": type(exc).__name__})
        return None
    if read is None:
        return None
    text, state = read
    document, error = await rt.batcher.submit(grouper, text)  # counted in the metrics by the batcher
    if error is not None or document is None:
        return None
    try:
        return FB.write_single(grouper, state, document)
    except Exception as exc:  # noqa: BLE001
        log.error("FHIR single road failed; the Python road answers", extra={"error_type": type(exc).__name__})
        return None


#: a body up to this size is read on the event loop and, when it is one resource, grouped with
#: the other single resources that arrive with it (_Batcher); a larger one goes to a worker thread
_INLINE_BYTES = 32 * 1024


class _Batcher(MicroBatcher):
    """Single-resource ``$group`` requests that arrive together, grouped in one engine call.

    Why: ``Grouper.group`` has a fixed cost per call that is several times one claim's.  The
    JSON route's ``MicroBatcher`` queues claims as JSON text; this one queues the FHIR reader's
    Items (same timing: it drains on the event loop after a few idle iterations or 64 Items)
    and answers each (status, Parameters or OperationOutcome)."""

    def _drain(self, grouper) -> None:
        batch = self._next_batch(grouper)
        try:
            with F.gc_paused():
                answers = _group(self.runtime, grouper, [it for it, _ in batch], False, None)
                _count(self.runtime.metrics, answers)
        except Exception as exc:  # noqa: BLE001 - never leave a request waiting
            answers = [(422, F.outcome([F.Issue("exception", it.resource_type, "the resource could not be "
                                                "grouped")])) for it, _ in batch]
            log.error("FHIR batch failed", extra={"error_type": type(exc).__name__})
        for (_, fut), answer in zip(batch, answers):
            if not fut.done():
                fut.set_result(answer)


def _batcher(rt) -> _Batcher:
    b = getattr(rt, "_fhir_batcher", None)
    if b is None:
        b = rt._fhir_batcher = _Batcher(rt)
    return b


async def _operation(request: Request, expect: str) -> Response:
    try:
        rt = request.app.state.runtime
        grouper = rt.require()
        settings = rt.settings
        body = await read_body(request, settings.max_body_bytes, "a FHIR body (FASTDRG_MAX_BODY_BYTES)",
                               "Send larger sets of claims as several Bundles.")
        edits = _edits(request)
        rate = base_rate_param(request)
    except Problem as p:
        return _problem_outcome(p)

    read = None
    if len(body) <= _INLINE_BYTES and rate is None and not edits:
        answer = await _single_road(rt, grouper, body, expect)
        if answer is not None:
            request.scope["fastdrg.claims"] = 1
            return fhir_response(answer)
        with F.gc_paused():  # a small body: read on the event loop, as /v1/group reads a claim
            try:
                read = F.read_body(body, expect, max_entries=settings.max_batch_claims)
            except Exception:  # noqa: BLE001 - FhirInputError or a reader bug: the worker path answers it
                read = None
        if read is not None and read[0] == "single":
            status, doc = await _batcher(rt).submit(grouper, read[1][0])
            request.scope["fastdrg.claims"] = 1
            return fhir_response(doc, status)

    def work():
        with F.gc_paused():
            return _work()

    def _work():
        if read is None and not edits:
            done = _bundle_road(rt, grouper, body, expect, rate)
            if done is not None:
                return done
        try:
            mode, items = read or F.read_body(body, expect, max_entries=settings.max_batch_claims)
        except F.FhirInputError as exc:
            return F.status_of([exc.issue]), F.outcome([exc.issue]), 0
        except Exception as exc:  # noqa: BLE001 - a reader bug: never a 5xx, only the type logged
            log.error("FHIR reader failed", extra={"error_type": type(exc).__name__})
            return 422, F.outcome([F.Issue("exception", expect, "the resource could not be read")]), 0
        answers = _group(rt, grouper, items, edits, rate)
        _count(rt.metrics, answers)
        if mode == "single":
            status, doc = answers[0]
            return status, doc, 1
        return 200, F.batch_response([(_STATUS_TEXT.get(s, f"{s}"), doc) for s, doc in answers]), len(items)

    status, doc, n = await rt.run(work)
    request.scope["fastdrg.claims"] = n
    return fhir_response(doc, status)


# ---- the published schemas (service.openapi merges them into /openapi.json) -------------------
#: A FHIR ``code``: no blank at either end, single blanks inside, as fhir.resources checks it (its
#: ``\s`` is Unicode's White_Space, written out here: JSON Schema's ``\s`` is ECMAScript's).
_WS = "\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_FHIR_CODE = {"type": "string", "pattern": f"^[^{_WS}]+([{_WS}][^{_WS}]+)*$"}
#: A diagnosis or procedure code both FHIR (a code: no blanks) and the engine (oa.CODE_PATTERN) read.
_ICD_CODE = {"type": "string", "pattern": "^(?=[.@]*[A-Za-z0-9])\\.*[A-Za-z0-9@](\\.*[A-Za-z0-9@]){0,7}\\.*$",
             "example": "I50.21"}


def _closed(required: list, **properties) -> dict:
    return {"type": "object", "required": required, "additionalProperties": False, "properties": properties}


def _one_coding(system: str, code: dict) -> dict:
    return _closed(["coding"], coding={"type": "array", "minItems": 1,
                                       "items": _closed(["system", "code"], system={"const": system}, code=code)})


_ENCOUNTER_EXAMPLE = {
    "resourceType": "Bundle", "type": "collection",
    "entry": [
        {"fullUrl": "urn:uuid:patient", "resource": {"resourceType": "Patient", "gender": "female",
                                                     "birthDate": "1958-03-02"}},
        {"fullUrl": "urn:uuid:encounter", "resource": {
            "resourceType": "Encounter", "status": "finished", "class": {"code": "IMP"},
            "subject": {"reference": "urn:uuid:patient"}, "period": {"end": "2026-05-14"},
            "diagnosis": [{"condition": {"reference": "urn:uuid:condition"}, "rank": 1}],
            "hospitalization": {"dischargeDisposition": {"coding": [{"system": F.NUBC_DISCHARGE, "code": "01"}]}}}},
        {"fullUrl": "urn:uuid:condition", "resource": {
            "resourceType": "Condition", "subject": {"reference": "urn:uuid:patient"},
            "code": {"coding": [{"system": F.ICD10CM, "code": "I50.21"}]}}},
    ],
}

FHIR_SCHEMAS = {
    "FhirResource": {"type": "object", "required": ["resourceType"],
                     "properties": {"resourceType": {"type": "string"}},
                     "description": "A FHIR R4 resource (application/fhir+json)."},
    "FhirOperationOutcome": {
        "type": "object", "required": ["resourceType", "issue"],
        "properties": {"resourceType": {"const": "OperationOutcome"}, "issue": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["severity", "code"],
            "properties": {"severity": {"type": "string"}, "code": {"type": "string"},
                           "diagnostics": {"type": "string"},
                           "expression": {"type": "array", "items": {"type": "string"}}}}}},
        "description": "Why the body (or a resource of it) cannot be grouped; issue.expression is the FHIRPath "
                       "of the element at fault."},
    "FhirBatchBundle": {
        **_closed(["resourceType", "type"], resourceType={"const": "Bundle"}, type=_FHIR_CODE,
                  entry={"type": "array", "items": _closed(
                      [], fullUrl={"type": "string"},
                      resource={"type": "object", "description": "A Claim or ExplanationOfBenefit (CARIN BB "
                                "Inpatient Institutional conventions, docs/fhir.md), or a Patient they name."})}),
        "description": "A Bundle of the operation's resources, each grouped on its own: the answer is a "
                       "batch-response Bundle (200) with one entry per Claim/ExplanationOfBenefit in order, a "
                       "Parameters or an OperationOutcome (a resource that is not valid FHIR or cannot be "
                       "grouped; the others are grouped). A single Claim (or ExplanationOfBenefit) is taken too "
                       "and answered by a Parameters, or an OperationOutcome (400/422) naming the element at "
                       "fault: its rules are docs/fhir.md's, which no JSON Schema states.",
        "example": {"resourceType": "Bundle", "type": "batch", "entry": []},
    },
    "FhirEncounterBundle": {
        **_closed(["resourceType", "type", "entry"], resourceType={"const": "Bundle"}, type=_FHIR_CODE, entry={
            "type": "array", "minItems": 3, "maxItems": 3, "items": False, "prefixItems": [
                _closed(["fullUrl", "resource"], fullUrl={"const": "urn:uuid:patient"}, resource=_closed(
                    ["resourceType", "birthDate"], resourceType={"const": "Patient"}, gender=_FHIR_CODE,
                    birthDate={"type": "string", "format": "date", "pattern": oa.ISO_DATE_PATTERN})),
                _closed(["resource"], fullUrl={"type": "string"}, resource=_closed(
                    ["resourceType", "status", "class", "subject", "period", "diagnosis", "hospitalization"],
                    resourceType={"const": "Encounter"}, status=_FHIR_CODE,
                    **{"class": _closed([], code=_FHIR_CODE)},
                    subject=_closed(["reference"], reference={"const": "urn:uuid:patient"}),
                    period=_closed(["end"], end={"type": "string", "format": "date", "pattern": oa.DATE_PATTERN}),
                    diagnosis={"type": "array", "minItems": 1, "items": _closed(
                        ["condition", "rank"], condition=_closed(["reference"], reference={"const": "urn:uuid:condition"}),
                        rank={"const": 1})},
                    hospitalization=_closed(["dischargeDisposition"], dischargeDisposition=_one_coding(
                        F.NUBC_DISCHARGE, {"type": "string", "pattern": "^-?0*[0-9]{1,9}$"})))),
                _closed(["fullUrl", "resource"], fullUrl={"const": "urn:uuid:condition"}, resource=_closed(
                    ["resourceType", "subject", "code"], resourceType={"const": "Condition"},
                    subject=_closed([], reference={"type": "string", "minLength": 1}),
                    code=_one_coding(F.ICD10CM, _ICD_CODE))),
            ]}),
        "description": "One encounter as an EHR holds it at discharge: its Patient, Encounter, Conditions and "
                       "Procedures (docs/fhir.md). The schema states the smallest such Bundle exactly (every "
                       "Bundle it allows is grouped); richer ones (more diagnoses, Procedures, POA extensions, "
                       "an admission date) are taken too and answered by a Parameters, or an OperationOutcome "
                       "naming the element at fault: their rules are docs/fhir.md's, which no JSON Schema states.",
        "example": _ENCOUNTER_EXAMPLE,
    },
}


# ---- conformance resources ---------------------------------------------------------------------
OPERATION_URL = "urn:fastdrg:fhir:OperationDefinition:group"
_RESOURCES = ("Claim", "ExplanationOfBenefit", "Encounter")


def _out_param(name: str, kind: str, doc: str, max_: str = "1", min_: int = 0, part=None) -> dict:
    p = {"name": name, "use": "out", "min": min_, "max": max_, "documentation": doc}
    if kind:
        p["type"] = kind
    if part:
        p["part"] = part
    return p


OPERATION_DEFINITION = {
    "resourceType": "OperationDefinition",
    "id": "group",
    "url": OPERATION_URL,
    "name": "Group",
    "title": "Group an inpatient stay into its MS-DRG",
    "status": "active",
    "kind": "operation",
    "description": "Groups a Claim or ExplanationOfBenefit (CARIN BB Inpatient Institutional conventions), a "
                   "batch Bundle of them, or an encounter Bundle (Patient, Encounter, Conditions, Procedures) "
                   "with the exact CMS MS-DRG grouper. docs/fhir.md maps every element read.",
    "code": "group",
    "resource": list(_RESOURCES),
    "system": False,
    "type": True,
    "instance": False,
    "parameter": [
        {"name": "resource", "use": "in", "min": 1, "max": "1", "type": "Resource",
         "documentation": "The body: the resource (or Bundle) itself."},
        {"name": "edits", "use": "in", "min": 0, "max": "1", "type": "boolean",
         "documentation": "?edits=true adds the Medicare Code Editor's edits."},
        _out_param("id", "id", "The grouped resource's id."),
        _out_param("version", "string", "The grouper version (by the discharge date)."),
        _out_param("drg", "Coding", "The final MS-DRG (system: CMS's MS-DRG URI, code, title).", min_=1),
        _out_param("mdc", "Coding", "The final MDC.", min_=1),
        _out_param("initialDrg", "Coding", "The DRG before the HAC logic.", min_=1),
        _out_param("initialMdc", "Coding", "The MDC before the HAC logic.", min_=1),
        _out_param("returnCode", "code", "The CMS grouper's return code name (OK, INVALID_PDX, ...).", min_=1),
        _out_param("severity", "", "initial and final CC/MCC level.", part=[
            _out_param("initial", "code", "MCC, CC or NON_CC"), _out_param("final", "code", "MCC, CC or NON_CC")]),
        _out_param("weight", "decimal", "The final DRG's Table 5 relative weight."),
        _out_param("billedDrg", "Coding", "The DRG billed (supportingInfo category drg)."),
        _out_param("billedDrgMatches", "boolean", "Whether the billed DRG is the grouped DRG."),
        _out_param("diagnosis", "", "One per diagnosis: sequence, role, code, poa, affectsDrg, severityInitial, "
                   "severityFinal, poaError, hac, edit.", max_="*"),
        _out_param("procedure", "", "One per procedure: sequence, code, affectsDrg, isOr, hacUsage, edit.",
                   max_="*"),
    ],
}

CAPABILITY_STATEMENT = {
    "resourceType": "CapabilityStatement",
    "status": "active",
    "date": "2026-12-07",
    "kind": "instance",
    "software": {"name": "fastdrg"},
    "implementation": {"description": "fastdrg: the exact CMS MS-DRG grouper"},
    "fhirVersion": "4.0.1",
    "format": ["json"],
    "rest": [{
        "mode": "server",
        "resource": [{"type": rt, "operation": [{"name": "group", "definition": OPERATION_URL}]} for rt in _RESOURCES],
    }],
}


#: What POST /fhir/Claim/$group answers for oa.EXAMPLE_CLAIM written as a Claim.
EXAMPLE_PARAMETERS = F.parameters(F.Item("Claim", oa.EXAMPLE_RESULT["id"]), oa.EXAMPLE_RESULT)


@router.get("/metadata", summary="The FHIR CapabilityStatement", response_class=Response,
            responses={200: oa.json_response("FhirResource", "The CapabilityStatement.", CAPABILITY_STATEMENT,
                                              media_type=F.FHIR_MEDIA_TYPE)})
async def metadata() -> Response:
    return fhir_response(CAPABILITY_STATEMENT)


@router.get("/OperationDefinition/group", summary="The $group operation's definition", response_class=Response,
            responses={200: oa.json_response("FhirResource", "The OperationDefinition.", OPERATION_DEFINITION,
                                              media_type=F.FHIR_MEDIA_TYPE)})
async def operation_definition() -> Response:
    return fhir_response(OPERATION_DEFINITION)


def _doc(expect: str) -> dict:
    single = {"Claim": "a Claim", "ExplanationOfBenefit": "an ExplanationOfBenefit",
              "Encounter": "an encounter Bundle (Patient, Encounter, Conditions, Procedures)"}[expect]
    batch = "" if expect == "Encounter" else (
        f" A batch Bundle of {expect} resources (with the Patients they name) is answered by a batch-response "
        "Bundle, one entry per resource in order: a Parameters, or an OperationOutcome for a resource that "
        "cannot be grouped (the others are grouped).")
    return {
        "summary": f"Group {single}",
        "description": f"Groups {single} and answers a Parameters resource (drg, mdc, initialDrg, initialMdc, "
                       f"returnCode, severity, weight, billedDrg, per-code parts).{batch} A resource that is not "
                       "valid FHIR R4 or cannot be grouped is answered by an OperationOutcome (400 or 422) whose "
                       "issue.expression is the FHIRPath of the element at fault. docs/fhir.md maps every element.",
    }


def _route(expect: str):
    async def group(request: Request) -> Response:
        return await _operation(request, expect)

    group.__name__ = f"fhir_group_{expect.lower()}"
    router.add_api_route(
        f"/{expect}/$group", group, methods=["POST"], response_class=Response, **_doc(expect),
        openapi_extra={**oa.body("FhirBatchBundle" if expect != "Encounter" else "FhirEncounterBundle",
                                 FHIR_SCHEMAS["FhirEncounterBundle" if expect == "Encounter" else
                                              "FhirBatchBundle"]["example"], media_type=F.FHIR_MEDIA_TYPE),
                       "parameters": [_EDITS_PARAMETER, _BASE_RATE_PARAM]},
        responses={200: oa.json_response("FhirResource", "A Parameters (one resource) or a batch-response Bundle.",
                                         EXAMPLE_PARAMETERS, media_type=F.FHIR_MEDIA_TYPE),
                   **{s: oa.json_response("FhirOperationOutcome", text, media_type=F.FHIR_MEDIA_TYPE)
                      for s, text in ((400, "Not JSON, not valid FHIR R4, or a bad query parameter."),
                                      (413, "The body is larger than FASTDRG_MAX_BODY_BYTES, or a Bundle has more "
                                            "entries than FASTDRG_MAX_BATCH_CLAIMS."),
                                      (422, "A resource the operation does not take, or that cannot be grouped."),
                                      (503, "The engine is still loading."))},
                   401: oa.problem("Missing or wrong API key (when FASTDRG_API_KEYS is set).")},
    )


for _expect in _RESOURCES:
    _route(_expect)
