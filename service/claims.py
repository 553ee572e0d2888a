"""Parsing and light validation of request bodies, before the engine sees them.

Why so light: the engine validates every field of a claim itself and answers
a bad one with ``{"id", "error": {"field", "reason"}}``; repeating that here
would cost microseconds per claim on a path that must group hundreds of
thousands of claims a second. The service checks only what is its own —
that the JSON parses, that a claim is an object, the batch envelope, the
size limits — and applies the configured default hospital status.

Everything here is synchronous and side-effect free so it can run in a worker
thread (batches, stream chunks) or inline (single claims).
"""

from __future__ import annotations

from typing import Any

import orjson

from .problems import Problem

__all__ = [
    "parse_json",
    "claim_error",
    "prepare_claims",
    "parse_batch",
    "parse_lines",
    "merge",
    "rejected",
    "text_errors",
    "NOT_AN_OBJECT",
    "BadLine",
]

NOT_AN_OBJECT = "a claim must be a JSON object"
_BATCH_KEYS = frozenset({"claims"})


#: How to make a Latin-1 / Windows-1252 text UTF-8 (as the command line says it: engine.io.textfile).
CONVERT_HINT = ("it looks like Latin-1 / Windows-1252; convert it to UTF-8 first, e.g. "
                "`iconv -f latin1 -t utf-8 claims.json > claims-utf8.json`")


def _not_utf8_at(text: bytes) -> int | None:
    """The offset of the first byte that is not UTF-8, or None (the text is UTF-8)."""
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start
    return None


def _json_reason(exc: orjson.JSONDecodeError, text: bytes | None = None) -> str:
    # orjson's message names the position only (line, column, char); never the text.
    if text is not None and "UTF-8" in exc.msg:
        at = _not_utf8_at(text)
        if at is not None:
            return f"not UTF-8 text (at byte {at}): {CONVERT_HINT}"
    return f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"


def parse_json(body: bytes) -> Any:
    """Parse a request body, or raise a 400 problem (a body that is not UTF-8
    is told so, with how to convert it)."""
    if not body:
        raise Problem(400, "malformed-json", "The request body is empty; send a JSON object.", [("$", "empty body")])
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = _json_reason(exc, body)
        if reason.startswith("not UTF-8"):
            raise Problem(400, "malformed-json", f"The request body is {reason}.", [("$", reason)]) from None
        raise Problem(400, "malformed-json", "The request body is not valid JSON.", [("$", reason)]) from None


def claim_error(field: str, reason: str, claim: Any = None) -> dict:
    """An error entry in the engine's shape, echoing the claim's ``id`` when it has one."""
    cid = claim.get("id") if type(claim) is dict else None
    return {"id": cid, "error": {"field": field, "reason": reason}}


def prepare_claims(items: list, default_status: str | None) -> tuple[list, list[int], dict[int, dict]]:
    """Split items into engine-ready claims and error entries.

    Returns ``(claims, positions, errors)``: ``claims[k]`` came from
    ``items[positions[k]]``; ``errors`` maps a position to its error entry.
    The common case (every item an object) keeps ``claims is items``.
    """
    errors: dict[int, dict] = {}
    if default_status is None:
        for i, item in enumerate(items):
            if type(item) is not dict:
                errors[i] = _non_object_error(item)
    else:
        for i, item in enumerate(items):
            if type(item) is dict:
                if item.get("hospital_status") is None:
                    item["hospital_status"] = default_status
            else:
                errors[i] = _non_object_error(item)
    if not errors:
        return items, [], errors
    positions = [i for i in range(len(items)) if i not in errors]
    return [items[i] for i in positions], positions, errors


def _non_object_error(item: Any) -> dict:
    if type(item) is BadLine:
        return claim_error("$", item.reason)
    return claim_error("$", NOT_AN_OBJECT if type(item) is not dict else "not a claim")


def text_errors(lines: list, grouped) -> tuple[dict, list]:
    """For lines grouped from their text: the service's error entry (as JSON) for
    each line that is not a claim (too long, not JSON, not an object), to stand
    for its missing document, and the error objects of every rejected line."""
    extra = {}
    errors = list(grouped.errors)
    for k in grouped.missing():
        entry = _non_object_error(parse_lines([lines[k]])[0])
        extra[k] = orjson.dumps(entry)
        errors[k] = entry["error"]
    return extra, errors


def merge(n: int, documents: list, positions: list[int], errors: dict[int, dict]) -> list:
    """Put the engine's result documents and the service's error entries
    (serialised here) back in request order, as JSON bytes."""
    if not errors:
        return documents
    out: list = [None] * n
    for i, err in errors.items():
        out[i] = orjson.dumps(err)
    for k, i in enumerate(positions):
        out[i] = documents[k]
    return out


def rejected(grouped_errors: list, errors: dict[int, dict]) -> list:
    """The error objects of every rejected item, for the metrics."""
    return grouped_errors + [e["error"] for e in errors.values()] if errors else grouped_errors


def parse_batch(body: bytes, max_claims: int) -> list:
    """``{"claims": [...]}`` -> the list, or a 400/413/422 problem."""
    doc = parse_json(body)
    if type(doc) is not dict:
        raise Problem(422, "invalid-batch", 'The body must be a JSON object: {"claims": [...]}.',
                      [("$", 'expected an object with a "claims" array')])
    extra = doc.keys() - _BATCH_KEYS
    if extra:
        raise Problem(422, "invalid-batch", 'The batch object has fields other than "claims".',
                      [(name, "unknown field") for name in sorted(map(str, extra))])
    claims = doc.get("claims")
    if type(claims) is not list:
        reason = "required" if "claims" not in doc else "must be an array of claims"
        raise Problem(422, "invalid-batch", 'The batch needs a "claims" array.', [("claims", reason)])
    if len(claims) > max_claims:
        raise Problem(
            413,
            "batch-too-large",
            f"The batch has {len(claims)} claims; the limit is {max_claims} claims per request "
            "(FASTDRG_MAX_BATCH_CLAIMS). Send larger sets to POST /v1/group/stream as NDJSON, "
            "which takes any number of claims.",
            [("claims", f"at most {max_claims} claims")],
        )
    return claims


def parse_lines(lines: list[bytes]) -> list:
    """Parse NDJSON lines, one call per line, so that each answer stays aligned with
    its line; a line that does not parse becomes a ``BadLine`` in place (parsing
    the lines joined as one array is no faster here, and a crafted pair of lines
    could then shift claims onto the wrong lines)."""
    items: list = []
    append = items.append
    loads = orjson.loads
    for line in lines:
        if type(line) is not bytes:  # already a BadLine (an over-long line)
            append(line)
            continue
        try:
            append(loads(line))
        except orjson.JSONDecodeError as exc:
            append(BadLine(_json_reason(exc, line)))
    return items


class BadLine:
    """Placeholder for a line that is not JSON (never a dict, so it gets an error entry)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason
