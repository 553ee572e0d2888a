"""Medicare Code Editor routes: ``/v1/edit`` (one claim) and ``/v1/edit/batch``.

Why a module of its own: the MCE is a second product beside the grouper (a
clearinghouse scrubs claims with it before they go out); the grouping routes
only gain ``?edits=true``.  The engine does the editing (``Grouper.edit``);
this module reads bodies, answers problems and counts edits by name.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import openapi as oa
from ..claims import merge, parse_batch, parse_json, prepare_claims, rejected
from ..problems import Problem
from .grouping import _claim_problem, read_body

router = APIRouter(prefix="/v1", tags=["editing"])
log = logging.getLogger("fastdrg.service")
_JSON = "application/json"

#: One example claim per edit family, with the engine's answer (v43.1/v41.1 data).
EDIT_EXAMPLES: dict[str, tuple[dict, dict]] = {
    "codes": (
        {"id": "mce-codes", "version": "43.1", "age": 67, "sex": "F", "discharge_status": 1, "los": 4,
         "pdx": "I50.21", "sdx": ["N17.0", "I50.21", "ZZZ99"], "procedures": []},
        {"id": "mce-codes", "edit_type": "PREPAYMENT", "edits": {"DUPLICATE_OF_PDX": 1, "INVALID_CODE": 1},
         "edit_date": "2026-04-01", "pdx": {"code": "I5021", "edits": []},
         "sdx": [{"code": "N170", "edits": []}, {"code": "I5021", "edits": ["DUPLICATE_OF_PDX"]},
                 {"code": "ZZZ99", "edits": ["INVALID_CODE"]}], "procedures": []}),
    "age_sex": (
        {"id": "mce-age-sex", "version": "41.1", "age": 30, "sex": "M", "discharge_status": 1, "los": 4,
         "pdx": "O80", "sdx": ["Z3800"], "procedures": ["0UT90ZZ"]},
        {"id": "mce-age-sex", "edit_type": "PREPAYMENT", "edits": {"AGE_CONFLICT": 1, "SEX_CONFLICT": 2},
         "edit_date": "2024-04-01", "pdx": {"code": "O80", "edits": ["SEX_CONFLICT"]},
         "sdx": [{"code": "Z3800", "edits": ["AGE_CONFLICT"]}],
         "procedures": [{"code": "0UT90ZZ", "edits": ["SEX_CONFLICT"]}]}),
    "principal_dx": (
        {"id": "mce-pdx", "version": "43.1", "age": 67, "sex": "F", "discharge_status": 1, "los": 4,
         "pdx": "Z51.89", "sdx": [], "procedures": []},
        {"id": "mce-pdx", "edit_type": "PREPAYMENT", "edits": {"REQUIRES_SDX": 1}, "edit_date": "2026-04-01",
         "pdx": {"code": "Z5189", "edits": ["REQUIRES_SDX"]}, "sdx": [], "procedures": []}),
    "coverage": (
        {"id": "mce-coverage", "version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "los": 4,
         "pdx": "E66.01", "sdx": [], "procedures": ["0FYG0Z0", "0SR20JZ", "0TY00Z0"]},
        {"id": "mce-coverage", "edit_type": "PREPAYMENT", "edits": {"LIMITED_COVERAGE": 2, "NON_COVERED": 1},
         "edit_date": "2026-04-01", "pdx": {"code": "E6601", "edits": []}, "sdx": [],
         "procedures": [{"code": "0FYG0Z0", "edits": ["LIMITED_COVERAGE"]},
                        {"code": "0SR20JZ", "edits": ["NON_COVERED"]},
                        {"code": "0TY00Z0", "edits": ["LIMITED_COVERAGE"]}]}),
    "obstetric_and_length_of_stay": (
        {"id": "mce-ob-los", "version": "43.1", "age": 30, "sex": "F", "discharge_status": 1, "los": 2,
         "pdx": "J96.00", "sdx": [], "procedures": ["10D00Z1", "5A1955Z"]},
        {"id": "mce-ob-los", "edit_type": "PREPAYMENT",
         "edits": {"INCONSISTENT_WITH_LENGTH_OF_STAY": 1, "QUESTIONABLE_OBSTETRIC_ADMISSION": 1},
         "edit_date": "2026-04-01", "pdx": {"code": "J9600", "edits": []}, "sdx": [],
         "procedures": [{"code": "10D00Z1", "edits": ["QUESTIONABLE_OBSTETRIC_ADMISSION"]},
                        {"code": "5A1955Z", "edits": ["INCONSISTENT_WITH_LENGTH_OF_STAY"]}]}),
    "claim": (
        {"id": "mce-claim", "version": "41.1", "age": 67, "sex": "U", "discharge_status": 9, "los": 4,
         "pdx": "I10", "procedures": []},
        {"id": "mce-claim", "edit_type": "PREPAYMENT",
         "edits": {"INVALID_DISCHARGE_STATUS": 1, "INVALID_SEX": 1, "QUESTIONABLE_ADMISSION": 1},
         "edit_date": "2024-04-01", "pdx": {"code": "I10", "edits": ["QUESTIONABLE_ADMISSION"]}, "sdx": [],
         "procedures": []}),
}

# the result schemas (EditResult, EditBatchResponse, EditClaim) are in service.openapi

_EXAMPLES = {name: {"summary": name.replace("_", " "), "value": claim} for name, (claim, _) in EDIT_EXAMPLES.items()}
_RESULT_EXAMPLES = {name: {"summary": name.replace("_", " "), "value": res}
                    for name, (_, res) in EDIT_EXAMPLES.items()}

def _edit(rt, grouper: Any, claims: list) -> list:
    """grouper.edit, never raising (an engine failure gives error entries)."""
    try:
        results = grouper.edit(claims)
        if len(results) != len(claims):
            raise RuntimeError("engine returned a result list of the wrong length")
    except Exception as exc:  # noqa: BLE001
        rt.metrics.engine_failures.inc()
        log.error("engine failed editing claims", extra={"error_type": type(exc).__name__})
        from ..runtime import ENGINE_FAILURE_REASON

        results = [{"id": c.get("id") if type(c) is dict else None,
                    "error": {"field": "$", "reason": ENGINE_FAILURE_REASON}} for c in claims]
    fired: dict = {}
    for r in results:
        for name, n in (r.get("edits") or {}).items():
            fired[name] = fired.get(name, 0) + n
    rt.metrics.count_edits(fired)
    rt.metrics.count_grouped({}, [r.get("error") for r in results])
    return results


@router.post(
    "/edit",
    summary="Edit one claim (Medicare Code Editor)",
    description=(
        "Runs CMS's Medicare Code Editor on one claim: invalid codes, age and sex conflicts, principal-dx "
        "edits, non-covered and limited-coverage procedures, questionable obstetric admission, procedures "
        "inconsistent with the length of stay (give `los`, or `admission_date` and `discharge_date`), invalid "
        "age, sex or discharge status. The claim is edited as of its `discharge_date`, else the first day of "
        "its version's period. A claim the editor cannot read is answered with a 422 problem."
    ),
    openapi_extra={"requestBody": {"required": True, "content": {_JSON: {
        "schema": oa.ref("EditClaim"), "examples": _EXAMPLES}}}},
    responses={
        200: {"description": "The editor's result.", "content": {_JSON: {
            "schema": oa.ref("EditResult"), "examples": _RESULT_EXAMPLES}}},
        **oa.problem_responses(400, 413, 422),
    },
    response_class=Response,
)
async def edit_one(request: Request) -> Response:
    rt = request.app.state.runtime
    grouper = rt.require()
    settings = rt.settings
    body = await read_body(request, settings.max_claim_bytes, "one claim (FASTDRG_MAX_CLAIM_BYTES)",
                           "A single claim is far smaller; check what is being sent.")
    claim = parse_json(body)
    if type(claim) is not dict:
        raise Problem(422, "invalid-claim", "The body must be one claim, a JSON object.",
                      [("$", "expected an object")], title="Unprocessable claim")
    claims, _, _ = prepare_claims([claim], settings.default_hospital_status)
    result = _edit(rt, grouper, claims)[0]
    request.scope["fastdrg.claims"] = 1
    if "error" in result:
        raise _claim_problem(result["error"])
    return Response(orjson.dumps(result), media_type=_JSON)


@router.post(
    "/edit/batch",
    summary="Edit a batch of claims (Medicare Code Editor)",
    description=(
        "Edits up to FASTDRG_MAX_BATCH_CLAIMS claims in one request: `results[i]` answers `claims[i]`; a bad "
        "claim gets an error entry in its place and the others are edited."
    ),
    openapi_extra={"requestBody": {"required": True, "content": {_JSON: {
        "schema": oa.ref("BatchRequest"),
        "example": {"claims": [claim for claim, _ in EDIT_EXAMPLES.values()]}}}}},
    responses={
        200: oa.json_response("EditBatchResponse", "Results in request order.",
                              {"results": [res for _, res in EDIT_EXAMPLES.values()]}),
        **oa.problem_responses(400, 413, 422),
    },
    response_class=Response,
)
async def edit_batch(request: Request) -> Response:
    rt = request.app.state.runtime
    grouper = rt.require()
    settings = rt.settings
    body = await read_body(request, settings.max_body_bytes, "a batch (FASTDRG_MAX_BODY_BYTES)",
                           "Split the claims over several requests.")

    def work() -> tuple[bytes, int]:
        items = parse_batch(body, settings.max_batch_claims)
        claims, positions, errors = prepare_claims(items, settings.default_hospital_status)
        results = _edit(rt, grouper, claims) if claims else []
        if errors:
            rt.metrics.count_grouped({}, rejected([], errors))
        documents = merge(len(items), [orjson.dumps(r) for r in results], positions, errors)
        return b'{"results":[' + b",".join(documents) + b"]}", len(items)

    content, n = await rt.run(work)
    request.scope["fastdrg.claims"] = n
    rt.metrics.batch_size.labels("/v1/edit/batch").observe(n)
    return Response(content, media_type=_JSON)
