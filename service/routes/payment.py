"""Payment routes: ``POST /v1/what-if``, what each single code change does to a claim's DRG and weight.

Why a module of its own: it is the coder's/CDI specialist's question, not
grouping: the engine (engine.payment.whatif) builds and groups the variants;
this only reads the request, applies the service's defaults (hospital status,
FASTDRG_BASE_RATE) and turns a refusal into a 422 problem.  The weights in
grouping results and /v1/drgs come from the same engine tables.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from engine import GrouperError, WhatIfError

from .. import openapi as oa
from ..claims import parse_json
from ..problems import Problem
from .grouping import _BASE_RATE_PARAM, base_rate_param, read_body

router = APIRouter(prefix="/v1", tags=["payment"])

_JSON = "application/json"
_FIELDS = ("claim", "add_sdx", "add_procedures", "remove")


def _unprocessable(field: str, reason: str) -> Problem:
    return Problem(422, "invalid-what-if", f"The what-if cannot be answered: {field}: {reason}", [(field, reason)],
                   title="Unprocessable what-if")


@router.post(
    "/what-if",
    summary="What each single code change does to the DRG and its weight",
    description=(
        "For a claim and candidate changes (secondary diagnoses to add, procedures to add, codes to remove), "
        "each single change's DRG, weight, weight delta against the claim as it is, and which secondary "
        "diagnoses would then count as CC/MCC. All variants are grouped in one engine call. A change that "
        "cannot be made (a code not on the claim) gets an error in its place; a bad claim is a 422."
    ),
    openapi_extra={**oa.body("WhatIfRequest", oa.EXAMPLE_WHAT_IF), "parameters": [_BASE_RATE_PARAM]},
    responses={200: oa.json_response("WhatIfResponse", "The claim and each change."),
               **oa.problem_responses(400, 413, 422)},
    response_class=Response,
)
async def what_if(request: Request) -> Response:
    rt = request.app.state.runtime
    grouper = rt.require()
    settings = rt.settings
    body = await read_body(request, settings.max_claim_bytes, "a what-if (FASTDRG_MAX_CLAIM_BYTES)",
                           "A claim and its candidate codes are far smaller; check what is being sent.")
    doc = parse_json(body)
    if type(doc) is not dict:
        raise _unprocessable("$", "expected an object with claim, add_sdx, add_procedures and remove")
    unknown = sorted(set(doc) - set(_FIELDS))
    if unknown:
        raise _unprocessable(unknown[0], f"unknown field; expected {', '.join(_FIELDS)}")
    claim = doc.get("claim")
    if type(claim) is not dict:
        raise _unprocessable("claim", "must be a claim object")
    if claim.get("hospital_status") is None and settings.default_hospital_status:
        claim = {**claim, "hospital_status": settings.default_hospital_status}
    rate = base_rate_param(request)
    if rate is None:
        rate = settings.base_rate
    candidates = {k: doc[k] for k in _FIELDS[1:] if k in doc and doc[k] is not None}
    try:
        answer = grouper.what_if(claim, candidates, base_rate=rate)
    except WhatIfError as e:
        raise _unprocessable(e.field, e.reason) from None
    except GrouperError as e:
        raise _unprocessable("$", str(e)) from None
    request.scope["fastdrg.claims"] = 1
    return Response(orjson.dumps(answer), media_type=_JSON)
