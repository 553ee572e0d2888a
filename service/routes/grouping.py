"""Grouping routes: ``/v1/group`` (one claim), ``/v1/group/batch`` and ``/v1/group/stream``.

Why handlers take the raw ``Request``: FastAPI would otherwise validate the
body with pydantic, which costs more than grouping the claim. Bodies are read
with explicit size limits and parsed with orjson; the published schema comes
from ``service.openapi``.

Why single claims are grouped on the event loop: a claim takes the engine far
less time than a hop to a worker thread, and ``MicroBatcher`` groups the
claims of concurrent requests in one engine call. Batches and streams run in
worker threads (``Runtime.run``) so that probes and single claims keep being
answered while a large batch is grouped.
"""

from __future__ import annotations

import re

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from engine import json_array_items
from engine.io.textfile import strip_bom

from .. import openapi as oa
from ..claims import merge, parse_batch, parse_json, prepare_claims, rejected, text_errors
from ..problems import Problem
from ..streaming import NDJSONGroupingResponse
from ..x12 import REQUEST_CONTENT as _X12_CONTENT
from ..x12 import answer as _x12_answer
from ..x12 import is_x12 as _is_x12

router = APIRouter(prefix="/v1", tags=["grouping"])

#: ``?edits=true`` (the Medicare Code Editor, service.routes.editing)
_EDITS_PARAMETER = {
    "name": "edits", "in": "query", "required": False,
    "schema": {"type": "string", "pattern": oa.EDITS_PATTERN, "default": "false", "example": "true"},
    "description": "Add the Medicare Code Editor's edits: `edit_type` and `edits` on each result, `edits` in "
                   "each code object (see POST /v1/edit).",
}

_JSON = "application/json"


def _and_x12(extra: dict) -> dict:
    """``openapi_extra`` with an 837I body (``application/edi-x12``, service.x12) beside the JSON one."""
    body = dict(extra["requestBody"])
    body["content"] = {**body["content"], **_X12_CONTENT}
    return {**extra, "requestBody": body}


def _too_large(limit: int, what: str, hint: str) -> Problem:
    return Problem(
        413,
        "body-too-large",
        f"The request body exceeds the limit of {limit} bytes for {what}. {hint}",
        [("$", f"at most {limit} bytes")],
    )


async def read_body(request: Request, limit: int, what: str, hint: str) -> bytes:
    """The whole body (without a leading UTF-8 BOM, as Windows tools write one),
    or a 413 as soon as it is known to exceed ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise Problem(400, "malformed-request", "Content-Length is not a number.") from None
        if declared > limit:
            raise _too_large(limit, what, hint)
        return strip_bom(await request.body())
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, what, hint)
        chunks.append(chunk)
    return strip_bom(b"".join(chunks))


def _is_json(text: bytes) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


_ERROR_KINDS = {"version": "unknown-version", "discharge_date": "uncovered-discharge-date"}


def base_rate_param(request: Request):
    """The request's ``?base_rate=`` (dollars) for the payment estimate, checked; None when absent."""
    raw = request.query_params.get("base_rate")
    if raw is None or raw == "":
        return None
    if not re.fullmatch(oa.BASE_RATE_PATTERN, raw):  # the published form: digits, at most two decimals
        raise Problem(422, "invalid-parameter", "base_rate must be a positive amount in dollars, at most "
                      "10,000,000, with at most two decimals (e.g. 6500.00).", [("base_rate", "expected e.g. 6500.00")])
    from engine.payment.weights import base_rate_cents

    try:
        base_rate_cents(raw)
    except ValueError as e:
        raise Problem(422, "invalid-parameter", f"{e}.", [("base_rate", str(e))]) from None
    return raw


_BASE_RATE_PARAM = {
    "name": "base_rate", "in": "query", "required": False,
    "schema": {"type": "string", "pattern": oa.BASE_RATE_PATTERN, "example": "6500.00"},
    "description": "Base rate in dollars for each result's payment_estimate (base rate x adjusted weight, an "
                   "estimate without wage index, outliers, DSH or IME). Default: FASTDRG_BASE_RATE, else none.",
}


def _claim_problem(err) -> Problem:
    if isinstance(err, dict):
        field = str(err.get("field", ""))
        reason = str(err.get("reason", "invalid"))
    else:
        field, reason = "$", str(err)
    kind = _ERROR_KINDS.get(field.split("[", 1)[0].split(".", 1)[0], "invalid-claim")
    where = f"{field}: " if field and field != "$" else ""
    return Problem(422, kind, f"The claim cannot be grouped: {where}{reason}", [(field, reason)], title="Unprocessable claim")


@router.post(
    "/group",
    summary="Group one claim",
    description=(
        "Groups one encounter and returns its MS-DRG. A claim the engine rejects (missing principal "
        "diagnosis, unknown version, discharge date outside every version, ...) is answered with a 422 "
        "problem naming the field."
    ),
    openapi_extra={**oa.body("Claim", oa.EXAMPLE_CLAIM), "parameters": [_EDITS_PARAMETER, _BASE_RATE_PARAM]},
    responses={
        200: oa.json_response("Result", "The grouping result.", oa.EXAMPLE_RESULT),
        **oa.problem_responses(400, 413, 422),
    },
    response_class=Response,
)
async def group_one(request: Request) -> Response:
    rt = request.app.state.runtime
    grouper = rt.require()
    settings = rt.settings
    body = await read_body(
        request, settings.max_claim_bytes, "one claim (FASTDRG_MAX_CLAIM_BYTES)",
        "A single claim is far smaller; check what is being sent.",
    )
    rate = base_rate_param(request)
    if _edits(request):  # with the code editor: not through the micro-batcher
        claim = parse_json(body)
        if type(claim) is not dict:
            raise Problem(
                422, "invalid-claim", "The body must be one claim, a JSON object.", [("$", "expected an object")],
                title="Unprocessable claim",
            )
        claims, _, _ = prepare_claims([claim], settings.default_hospital_status)
        grouped = rt.group(grouper, claims, edits=True, base_rate=rate)
        rt.metrics.count_grouped(grouped.counts, grouped.errors)
        document, error = grouped.documents[0], grouped.errors[0]
        request.scope["fastdrg.claims"] = 1
        if error is not None:
            raise _claim_problem(error)
        return Response(document, media_type=_JSON)
    if rate is None:
        document, error = await rt.batcher.submit(grouper, body)  # counted in the metrics by the batcher
    else:  # a base rate of its own: not merged with other requests' claims
        grouped = rt.group_texts(grouper, [body], base_rate=rate)
        rt.metrics.count_grouped(grouped.counts, grouped.errors)
        document, error = grouped.documents[0], grouped.errors[0]
    if document is None:  # the engine found no JSON object: say what the body is
        claim = parse_json(body)  # raises the 400 for malformed JSON
        if type(claim) is not dict:
            raise Problem(
                422, "invalid-claim", "The body must be one claim, a JSON object.", [("$", "expected an object")],
                title="Unprocessable claim",
            )
        # an object after all (never expected): the dict path, rather than an empty answer
        claims, _, _ = prepare_claims([claim], settings.default_hospital_status)
        grouped = rt.group(grouper, claims, rate)
        rt.metrics.count_grouped(grouped.counts, grouped.errors)
        document, error = grouped.documents[0], grouped.errors[0]
    request.scope["fastdrg.claims"] = 1
    if error is not None:
        raise _claim_problem(error)
    return Response(document, media_type=_JSON)


@router.post(
    "/group/batch",
    summary="Group a batch of claims",
    description=(
        "Groups up to FASTDRG_MAX_BATCH_CLAIMS claims (and FASTDRG_MAX_BODY_BYTES bytes) in one request. "
        "`results[i]` answers `claims[i]`; a bad claim gets an error entry in its place and the others are "
        "grouped. Past the limits the answer is 413: use /v1/group/stream for larger sets. "
        "With `Content-Type: application/edi-x12` the body is an X12 837I file: one result per CLM in file "
        "order, each with `locator` (isa13, gs06, st02, ordinal) and, when the claim bills a DRG, `billed_drg` "
        "and `billed_drg_matches`; a file that is not a readable 837I is a 400 naming the segment."
    ),
    openapi_extra=_and_x12({**oa.body("BatchRequest", oa.SCHEMAS["BatchRequest"]["example"]),
                            "parameters": [_EDITS_PARAMETER, _BASE_RATE_PARAM]}),
    responses={
        200: oa.json_response("BatchResponse", "Results in request order."),
        **oa.problem_responses(400, 413, 422),
    },
    response_class=Response,
)
async def group_batch(request: Request) -> Response:
    if _is_x12(request):  # an 837I file (service.x12)
        return await _x12_answer(request, False, _edits(request), base_rate_param(request))
    rt = request.app.state.runtime
    grouper = rt.require()
    settings = rt.settings
    body = await read_body(
        request, settings.max_body_bytes, "a batch (FASTDRG_MAX_BODY_BYTES)",
        "Send larger sets to POST /v1/group/stream as NDJSON, which takes any number of claims.",
    )
    rate = base_rate_param(request)

    edits = _edits(request)

    def work() -> tuple[bytes, int]:
        texts = json_array_items(body, "claims", settings.max_batch_claims)
        if texts is not None:
            grouped = rt.group_texts(grouper, texts, b",", edits, base_rate=rate)
            if any(not _is_json(texts[k]) for k in grouped.missing()):
                parse_batch(body, settings.max_batch_claims)  # an item is not JSON: the body's 400
            extra, errors = text_errors(texts, grouped)
            rt.metrics.count_grouped(grouped.counts, errors)
            return grouped.join(extra, b'{"results":[', b"]}"), len(texts)
        # another shape, or past the limit: parse it all, for the exact problem to answer
        items = parse_batch(body, settings.max_batch_claims)
        claims, positions, errors = prepare_claims(items, settings.default_hospital_status)
        grouped = rt.group(grouper, claims, edits, base_rate=rate)
        rt.metrics.count_grouped(grouped.counts, rejected(grouped.errors, errors))
        documents = merge(len(items), grouped.documents, positions, errors)
        return b'{"results":[' + b",".join(documents) + b"]}", len(items)

    content, n = await rt.run(work)
    request.scope["fastdrg.claims"] = n
    rt.metrics.batch_size.labels("/v1/group/batch").observe(n)
    return Response(content, media_type=_JSON)


@router.post(
    "/group/stream",
    summary="Group an NDJSON stream of claims",
    description=(
        "Send claims as NDJSON (one JSON object per line, any number of lines); the answer is NDJSON, one "
        "line per input line in order, streamed while the body is still being read, in bounded memory. "
        "A line that is not a claim is answered by an error line in its place. With `Content-Type: "
        "application/edi-x12` the body is an X12 837I file, answered with one NDJSON line per CLM (as "
        "/v1/group/batch answers it)."
    ),
    openapi_extra=_and_x12({**oa.STREAM_BODY, "parameters": [_EDITS_PARAMETER, _BASE_RATE_PARAM]}),
    responses={200: oa.STREAM_RESPONSE, **oa.problem_responses(400, 413, 422)},
    response_class=Response,
)
async def group_stream(request: Request) -> Response:
    if _is_x12(request):  # an 837I file (service.x12): read whole, answered as NDJSON
        return await _x12_answer(request, True, _edits(request), base_rate_param(request))
    rt = request.app.state.runtime
    grouper = rt.require()
    return NDJSONGroupingResponse(rt, grouper, _edits(request), base_rate_param(request))


def _edits(request: Request) -> bool:
    """``?edits=true``: a 400 problem for a value that is not a boolean."""
    raw = request.query_params.get("edits")
    if raw is None:
        return False
    if re.fullmatch(oa.EDITS_PATTERN, raw):  # the published form (no blanks around it)
        return raw.lower() in ("true", "1", "yes")
    raise Problem(400, "malformed-request", "The query parameter 'edits' must be true or false.",
                  [("edits", "expected true or false")])
