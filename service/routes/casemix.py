"""``POST /v1/casemix``: the case-mix summary of a body of claims (engine.analytics).

Why a route of its own: the answer is one summary of many claims, not one
result per claim.  The body is bounded like ``/v1/group/batch`` (bytes and
claims); the engine does all the counting (``Grouper.casemix`` via
engine.analytics.CaseMix); this module only reads the body and the query and
turns a refusal into a problem: an unknown ``to`` version or Table 5 year is a
422 naming what is loaded.
"""

from __future__ import annotations

import re

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from engine import json_array_items

from .. import openapi as oa
from ..claims import parse_batch
from ..problems import Problem
from .grouping import _EDITS_PARAMETER, _edits, read_body

router = APIRouter(prefix="/v1", tags=["grouping"])

#: a fiscal year's form (which years are loaded: the engine says, and /openapi.json)
YEAR_FORM = "^([Ff][Yy])?[0-9]{4}$"
_PARAMETERS = [
    {"name": "to", "in": "query", "required": False,
     "schema": {**oa._VERSION_PARAM, "description": "Grouper version to compare with, e.g. 44.0 (or 440).",
                "example": "44.0"},
     "description": "Group every claim again under this grouper version (same codes) and compare: `compare` "
                    "in the answer. A version the service does not have: 422 naming those it has."},
    {"name": "weights", "in": "query", "required": False,
     "schema": {"type": "string", "pattern": oa.WEIGHTS_PATTERN, "example": "FY2026"},
     "description": "One Table 5 fiscal year for every claim (default: each claim's version's own year; with "
                    "`to`, the newest loaded for both sides). A year not loaded: 422 naming those loaded."},
    {**_EDITS_PARAMETER, "description": "Count the Medicare Code Editor's edits by name (`edits` in the answer)."},
]
_BODY = {
    "requestBody": {
        "required": False,
        "description": "Claims as NDJSON (one claim per line; any content type but application/json), or as "
                       "`{\"claims\": [...]}` with Content-Type application/json. Bounded like /v1/group/batch: "
                       "FASTDRG_MAX_BODY_BYTES bytes and FASTDRG_MAX_BATCH_CLAIMS claims. A line or item that is "
                       "not a claim is counted under `refused.by_reason`, never fails the request.",
        "content": {
            "application/json": {"schema": oa.ref("BatchRequest"),
                                 "example": oa.SCHEMAS["BatchRequest"]["example"]},
            "application/x-ndjson": {"schema": {"description": "NDJSON text; any bytes are read."}},
            "text/plain": oa.STREAM_BODY["requestBody"]["content"]["text/plain"],
        },
    }
}


#: What the service answers for BatchRequest's example (test_rule_casemix_example_is_the_answer).
EXAMPLE_SUMMARY = {'schema': 1, 'claims': 2, 'grouped': 1, 'refused': {'total': 1, 'by_reason': {'pdx: missing principal diagnosis': 1}}, 'empty': False, 'versions': {'43.1': 1}, 'return_codes': {'OK': 1}, 'case_mix_index': {'value': 1.2838, 'weights': "each version's fiscal year", 'fiscal_years': [2026], 'weighted_claims': 1, 'claims_without_weight': 0, 'weight_sum': 1.2838}, 'drgs': {'291': 1}, 'drg_detail': [{'drg': '291', 'claims': 1, 'weight': 1.2838, 'weight_total': 1.2838, 'description': 'Heart Failure and Shock with MCC', 'mdc': '05', 'med_surg': 'MEDICAL'}], 'mdcs': {'05': 1}, 'mdc_detail': [{'mdc': '05', 'claims': 1, 'description': 'Diseases and Disorders of the Circulatory System'}], 'med_surg': {'MEDICAL': 1, 'SURGICAL': 0, 'NONE': 0}, 'severity': {'MCC': 1, 'CC': 0, 'none': 0, 'not_applicable': 0}, 'cc_mcc_capture': 1.0, 'hac': {'claims': 0, 'by_status': {'NOT_APPLICABLE': 1, 'FINAL_DRG_NO_CHANGE': 0, 'FINAL_DRG_CHANGES': 0, 'FINAL_DRG_UNGROUPABLE': 0}}, 'transfers': {'claims_with_los': 0, 'acute': 0, 'post_acute': 0, 'without_los': 0, 'adjusted_claims': 1, 'adjusted_cmi': None}, 'edits': None, 'compare': None}


def _query(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    return raw if raw not in (None, "") else None


def _texts(body: bytes, request: Request, limit: int):
    """The claims' JSON texts (NDJSON lines, or the batch's items read in place)."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype == "application/json":
        texts = json_array_items(body, "claims", limit)
        if texts is not None:
            return texts, None
        return None, parse_batch(body, limit)  # another shape, or past the limit: the exact problem
    lines = [ln for ln in body.split(b"\n") if ln.strip()]
    if len(lines) > limit:
        raise Problem(413, "batch-too-large",
                      f"The body has {len(lines)} claims; the limit is {limit} claims per request "
                      "(FASTDRG_MAX_BATCH_CLAIMS). Summarise larger files with `fastdrg casemix`.",
                      [("$", f"at most {limit} claims")])
    return lines, None


@router.post(
    "/casemix",
    summary="Case-mix summary of a set of claims",
    description=(
        "Groups every claim and answers one summary: claims read, grouped and refused (by reason), the case-mix "
        "index (mean Table 5 weight), claims by DRG and MDC, medical/surgical, CC/MCC capture, HAC claims, "
        "transfers; with `to`, the same claims under another grouper version: CMI on each side (one Table 5 "
        "year), claims whose DRG changes, the shifts sorted by weight moved, and codes the target does not know. "
        "The schema of the answer: docs/casemix.md."
    ),
    openapi_extra={**_BODY, "parameters": _PARAMETERS},
    responses={
        200: oa.json_response("CaseMixSummary", "The summary.", EXAMPLE_SUMMARY),
        **oa.problem_responses(400, 413, 422),
    },
    response_class=Response,
)
async def casemix(request: Request) -> Response:
    rt = request.app.state.runtime
    grouper = rt.require()
    settings = rt.settings
    body = await read_body(
        request, settings.max_body_bytes, "a case-mix body (FASTDRG_MAX_BODY_BYTES)",
        "Summarise larger files with `fastdrg casemix FILE`.",
    )
    edits = _edits(request)
    to, weights = _query(request, "to"), _query(request, "weights")
    if weights is not None and not re.fullmatch(YEAR_FORM, weights):
        raise Problem(422, "invalid-parameter", "weights must be a fiscal year such as 2026 or FY2026.",
                      [("weights", "expected e.g. FY2026")])
    from engine.analytics import CaseMix, CaseMixError

    try:
        acc = CaseMix.for_grouper(grouper, to, weights, edits)
    except CaseMixError as e:
        raise Problem(422, "unknown-version" if e.field == "to" else "unknown-weights", f"{e}.",
                      [(e.field, str(e))]) from None
    texts, items = _texts(body, request, settings.max_batch_claims)

    def work():
        # (items of a batch the reader did not cut: as texts, so a non-object counts under its reason)
        acc.add_texts(grouper, texts if texts is not None else [orjson.dumps(x) for x in items],
                      default_hospital_status=settings.default_hospital_status)
        return orjson.dumps(acc.summary(grouper))

    content = await rt.run(work)
    request.scope["fastdrg.claims"] = len(texts) if texts is not None else len(items)
    return Response(content, media_type="application/json")
