"""837I bodies on the grouping routes: ``POST /v1/group/batch`` and ``/v1/group/stream``
with ``Content-Type: application/edi-x12``.

Why a module of its own: the JSON handlers (service.routes.grouping) read
claims as JSON; an 837I body is read whole by engine.io.x12 (its envelopes
and counts are checked end to end) and answered as the JSON body would be --
``{"results": [...]}`` for a batch, NDJSON for a stream, one result per CLM in
file order, each with its place in the file.  A body that is not a readable
837I is a 400 problem naming the segment; its size is bounded as a JSON
batch's is.  No grouping logic here: engine.io.x12 does it all.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response


from .problems import Problem

#: The media type of an X12 body (RFC 1767).
X12 = "application/edi-x12"


def is_x12(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower() == X12


async def answer(request: Request, stream: bool, edits: bool, base_rate) -> Response:
    """The batch (``stream`` False) or stream answer to an 837I body."""
    from engine.io import x12

    from .routes.grouping import read_body

    rt = request.app.state.runtime
    grouper = rt.require()
    settings = rt.settings
    body = await read_body(request, settings.max_body_bytes, "an 837I file (FASTDRG_MAX_BODY_BYTES)",
                           "Send the file in parts (one interchange a request, say).")

    def work():
        try:
            got = x12.group(grouper, body, detail=True, edits=edits, base_rate=base_rate,
                            default_hospital_status=settings.default_hospital_status)
        except x12.X12Error as e:
            where = f"segment {e.segment}" if e.segment is not None else "$"
            raise Problem(400, "invalid-x12", f"The body is not a readable 837I file: {where}: {e.reason}",
                          [(where, e.reason)], title="Unreadable X12 file") from None
        if not stream and len(got) > settings.max_batch_claims:
            raise Problem(413, "too-many-claims", f"The file holds {len(got)} claims; a batch takes at most "
                          f"{settings.max_batch_claims} (FASTDRG_MAX_BATCH_CLAIMS). Send it to "
                          "POST /v1/group/stream.", [("$", f"at most {settings.max_batch_claims} claims")])
        rt.metrics.count_grouped(got.counts, got.errors)
        if edits:
            rt.metrics.count_edits(got.edit_counts)
        if stream:
            return (got.join(b"\n", suffix=b"\n") if len(got) else b""), len(got)
        return got.join(b",", b'{"results":[', b"]}"), len(got)

    content, n = await rt.run(work)
    request.scope["fastdrg.claims"] = n
    if not stream:
        rt.metrics.batch_size.labels("/v1/group/batch").observe(n)
    return Response(content, media_type="application/x-ndjson" if stream else "application/json")


#: The request body as /openapi.json documents it, beside the JSON (or NDJSON) one.
REQUEST_CONTENT = {
    X12: {
        "schema": {"type": "string", "description": "An ASC X12 837 Institutional (005010X223, any addendum) "
                                                   "file: one or more interchanges (ISA...IEA); the elements "
                                                   "read are in docs/x12.md. (No example here: contract "
                                                   "tools that cannot send this media type would fail on one; "
                                                   "engine.io.x12.EXAMPLE is a whole file that groups.)"},
    },
}
