"""Reference look-ups: grouper versions, DRG titles, code attributes.

Why these live in the service: a coder's screen or a claim scrubber needs the
same tables the grouper uses (the DRG's title and MDC, whether a code is a CC
or MCC in a given version), and asking the engine guarantees they agree with
the grouping results. All answers come from the loaded engine; nothing here
knows grouping rules.

``version`` may be given as ``44.0`` or ``440``; it defaults to the newest.
"""

from __future__ import annotations

import bisect
import re

import orjson

from engine import GrouperError
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from .. import openapi as oa
from ..problems import Problem

router = APIRouter(prefix="/v1", tags=["reference"])

_JSON = "application/json"
_DRG_RE = re.compile(r"^[0-9]{1,3}$")
_VERSION_DOC = "Grouper version, e.g. 44.0 (or 440). Default: the newest."


def known_params(request: Request, *names: str) -> None:
    """A query parameter the route does not take is a 422 (the contract lists each route's
    parameters; an ignored misspelling would answer the wrong question)."""
    for key in request.query_params.keys():
        if key not in names:
            raise Problem(422, "invalid-parameter", "Unknown query parameter.", [("query", "unknown parameter")])


def resolve_version(rt, raw: str | None) -> str:
    """Normalise ``431``/``43.1`` and check it is supported, or raise a 422 problem."""
    if raw is None or raw == "":
        return rt.latest_version
    text = raw.strip()
    if text.isdigit() and len(text) == 3:
        text = f"{text[:2]}.{text[2]}"
    if text in rt.versions:
        return text
    supported = ", ".join(rt.versions)
    raise Problem(
        422, "unknown-version", f"Unknown grouper version; supported versions are {supported}.",
        [("version", f"must be one of {supported}")],
    )


@router.get(
    "/versions",
    summary="Supported grouper versions",
    description="Each supported MS-DRG grouper version with the first and last discharge dates it covers.",
    responses={200: oa.json_response("Versions", "Versions, newest first."), **oa.problem_responses()},
    response_class=Response,
)
async def versions(request: Request) -> Response:
    rt = request.app.state.runtime
    grouper = rt.require()
    ranges = list(grouper.version_ranges())
    ranges.sort(key=lambda r: tuple(int(p) for p in str(r.get("version", "0")).split(".") if p.isdigit()), reverse=True)
    return Response(orjson.dumps({"latest": rt.latest_version, "versions": ranges}), media_type=_JSON)


@router.get(
    "/drgs/{drg}",
    summary="Look up a DRG",
    description="Title, MDC and medical/surgical type of an MS-DRG in one version.",
    responses={200: oa.json_response("DrgInfo", "The DRG."), **oa.problem_responses(404, 422)},
    response_class=Response,
)
async def drg(
    request: Request,
    drg: str,
    version: str | None = Query(None, description=_VERSION_DOC, examples=["44.0"]),
) -> Response:
    known_params(request, "version")
    rt = request.app.state.runtime
    grouper = rt.require()
    v = resolve_version(rt, version)
    if not _DRG_RE.match(drg):
        raise Problem(422, "invalid-parameter", "A DRG is a number of up to three digits.", [("drg", "expected 1-3 digits")])
    number = drg.zfill(3)
    info = grouper.drg_info(v, number)
    if info is None:
        raise Problem(404, "unknown-drg", f"DRG {number} does not exist in version {v}.", [("drg", f"not a DRG in {v}")])
    return Response(orjson.dumps(info), media_type=_JSON)


@router.get(
    "/codes/{code}",
    summary="Look up an ICD-10 code",
    description=(
        "A diagnosis's MDC, CC/MCC level and HAC categories, or a procedure's operating-room flag, in one "
        "version, with `validity` listing in which supported versions the code is valid. An unknown code is "
        "answered with `valid: false`."
    ),
    responses={200: oa.json_response("CodeInfo", "The code."), **oa.problem_responses(422)},
    response_class=Response,
)
async def code(
    request: Request,
    code: str,
    version: str | None = Query(None, description=_VERSION_DOC, examples=["44.0"]),
) -> Response:
    known_params(request, "version")
    rt = request.app.state.runtime
    grouper = rt.require()
    v = resolve_version(rt, version)
    # the engine normalises and validates the code (one rule for claims and look-ups)
    try:
        info = dict(grouper.code_info(v, code))
    except GrouperError as e:
        raise Problem(422, "invalid-parameter", str(e), [("code", str(e))]) from None
    info["validity"] = {ver: bool(grouper.code_info(ver, code).get("valid")) for ver in rt.versions}
    return Response(orjson.dumps(info), media_type=_JSON)


@router.get(
    "/codes",
    summary="Codes by prefix, with titles",
    description=(
        "The ICD-10-CM diagnoses and ICD-10-PCS procedures valid in one version whose code starts with "
        "`prefix` (a dot and lower case accepted), in code order, with their titles. Which codes exist comes "
        "from the grouper's own tables; titles come from CMS's code title files as carried by a registry "
        "package (`titles` names the release; a code that release lacks has `title: null`). For look-up as "
        "one types."
    ),
    responses={200: oa.json_response("CodeList", "Matching codes."), **oa.problem_responses(422)},
    response_class=Response,
)
async def codes(
    request: Request,
    prefix: str = Query(..., description="The start of a code, e.g. I50.2 or 0270.", examples=["I50.2"]),
    version: str | None = Query(None, description=_VERSION_DOC, examples=["43.1"]),
    kind: str | None = Query(None, description="diagnosis or procedure (default: both).", examples=["diagnosis"]),
    limit: int = Query(20, ge=1, le=200, description="At most this many codes (1-200)."),
) -> Response:
    from ..codetitles import titles

    known_params(request, "prefix", "version", "kind", "limit")
    rt = request.app.state.runtime
    grouper = rt.require()
    v = resolve_version(rt, version)
    text = prefix.replace(".", "").strip().upper()
    # the engine's rule for a code (ASCII letters and digits, "@" as a placeholder, 1-8 long)
    if not text or len(text) > 8 or not text.isascii() or not text.replace("@", "").isalnum():
        raise Problem(422, "invalid-parameter", "A prefix is 1-8 letters and digits (dots allowed).",
                      [("prefix", "expected 1-8 letters and digits")])
    if kind not in (None, "diagnosis", "procedure"):
        raise Problem(422, "invalid-parameter", "kind is diagnosis or procedure.", [("kind", "diagnosis or procedure")])
    dx, pr = grouper.valid_codes(v)
    found: list[dict] = []
    more = False
    for name, table in (("diagnosis", dx), ("procedure", pr)):
        if kind not in (None, name):
            continue
        start = bisect.bisect_left(table, text)
        picked = []
        for code in table[start:start + limit + 1]:
            if not code.startswith(text):
                break
            picked.append(code)
        if len(found) + len(picked) > limit:
            more = True
            picked = picked[: max(0, limit - len(found))]
        names = titles().lookup(name, picked)
        found += [{"code": c, "kind": name, "title": names.get(c)} for c in picked]
    body = {"version": v, "prefix": text, "titles": titles().source, "codes": found, "more": more}
    return Response(orjson.dumps(body), media_type=_JSON)
