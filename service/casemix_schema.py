"""The OpenAPI schema of the case-mix summary (``POST /v1/casemix``, engine.analytics.casemix;
docs/casemix.md describes each field)."""

from __future__ import annotations

_INT = {"type": "integer", "minimum": 0}
_COUNTS = {"type": "object", "additionalProperties": _INT}
_NUM_OR_NULL = {"type": ["number", "null"]}
_CODES = {"type": "array", "items": {
    "type": "object", "required": ["code", "kind", "claims"],
    "properties": {"code": {"type": "string"}, "kind": {"type": "string", "enum": ["diagnosis", "procedure"]},
                   "claims": _INT}}}


def _object(props: dict, required=None, nullable: bool = False) -> dict:
    o = {"type": ["object", "null"] if nullable else "object", "properties": props,
         "required": list(props) if required is None else required}
    return o


CASEMIX_SCHEMAS = {
    "CaseMixSummary": _object({
        "schema": {"type": "integer", "enum": [1]},
        "claims": _INT, "grouped": _INT,
        "refused": _object({"total": _INT, "by_reason": _COUNTS}),
        "empty": {"type": "boolean"},
        "versions": _COUNTS, "return_codes": _COUNTS,
        "case_mix_index": _object({
            "value": _NUM_OR_NULL, "weights": {"type": "string"},
            "fiscal_years": {"type": "array", "items": {"type": "integer"}},
            "weighted_claims": _INT, "claims_without_weight": _INT, "weight_sum": {"type": "number"}}),
        "drgs": _COUNTS,
        "drg_detail": {"type": "array", "items": _object({
            "drg": {"type": "string"}, "claims": _INT, "weight": _NUM_OR_NULL, "weight_total": {"type": "number"},
            "description": {"type": "string"}, "mdc": {"type": ["string", "null"]},
            "med_surg": {"type": "string", "enum": ["MEDICAL", "SURGICAL", "NONE"]}})},
        "mdcs": _COUNTS,
        "mdc_detail": {"type": "array", "items": _object({
            "mdc": {"type": "string"}, "claims": _INT, "description": {"type": "string"}})},
        "med_surg": _object({"MEDICAL": _INT, "SURGICAL": _INT, "NONE": _INT}),
        "severity": _object({"MCC": _INT, "CC": _INT, "none": _INT, "not_applicable": _INT}),
        "cc_mcc_capture": _NUM_OR_NULL,
        "hac": _object({"claims": _INT, "by_status": _COUNTS}),
        "transfers": _object({"claims_with_los": _INT, "acute": _INT, "post_acute": _INT, "without_los": _INT,
                              "adjusted_claims": _INT, "adjusted_cmi": _NUM_OR_NULL}),
        "edits": _object({"by_name": _COUNTS, "edit_types": _COUNTS, "claims_with_edits": _INT}, nullable=True),
        "compare": _object({
            "from": {"type": "string"}, "to": {"type": "string"}, "weights": {"type": ["string", "null"]},
            "claims": _INT, "cmi_from": _NUM_OR_NULL, "cmi_to": _NUM_OR_NULL,
            "weighted_from": _INT, "weighted_to": _INT, "changed": _INT, "refused_by_target": _INT,
            "weight_change_total": {"type": "number"},
            "shifts": {"type": "array", "items": _object({
                "from": {"type": "string"}, "to": {"type": "string"}, "claims": _INT,
                "weight_change": _NUM_OR_NULL, "weight_moved": _NUM_OR_NULL,
                "from_description": {"type": "string"}, "to_description": {"type": "string"}},
                required=["from", "to", "claims", "weight_change", "weight_moved"])},
            "changed_codes": _CODES,
            "unknown_codes": _object({"claims": _INT, "distinct": _INT, "codes": _CODES}),
        }, nullable=True),
    }),
}



def weights_pattern(years) -> str:
    """``?weights=``: one of ``years``, with or without ``FY`` (empty: the default)."""
    return "^(([Ff][Yy])?(" + "|".join(str(int(y)) for y in sorted(years)) + "))?$"


#: as published before the engine is up: the bundled Table 5 (FY2026)
WEIGHTS_PATTERN = weights_pattern([2026])


def for_weights(doc, years):
    """The document with ``?weights=`` stating the Table 5 years the service has loaded."""
    new = weights_pattern(years)
    if new == WEIGHTS_PATTERN:
        return doc

    def walk(x):
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return new if x == WEIGHTS_PATTERN else x

    return walk(doc)


__all__ = ["CASEMIX_SCHEMAS", "WEIGHTS_PATTERN", "for_weights", "weights_pattern"]
