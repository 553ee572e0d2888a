"""FHIR R4 in and out: Claims, ExplanationOfBenefits and encounter Bundles read as our
claim dicts, results written as ``Parameters`` / ``OperationOutcome`` / batch-response
``Bundle`` (docs/fhir.md maps every element).

Why a reader of dicts and not of models: a resource is first checked against the
FHIR R4 structure as ``fhir.resources`` defines it (its R4B models, the maintained R4
family on PyPI: R4B only adds resources we do not read; a check compiled from those
models answers first, ``engine.io.fhir_fast``), once per resource, and refused as not
FHIR when it fails; the mapping then walks the plain JSON, which is several times
cheaper than walking the pydantic objects, and names every element it reads by its
FHIRPath so that an error of the engine (``{"field": "sdx[2]"}``) can be answered by
an ``OperationOutcome`` pointing at the element that fed that field.

Nothing here groups: ``group_resources`` hands the claims to ``Grouper.group`` (the
public API) and writes what comes back.  Names, identifiers, addresses and birth
dates are read (a birth date, for the age) but never written: a result carries the
resource's id and its codes only.
"""

from __future__ import annotations

import datetime as _dt
import weakref
from dataclasses import dataclass, field
from typing import Any, Iterable

import orjson

from ..gcpause import paused
from .fhir_fast import fast_validator

__all__ = [
    "ICD10CM", "ICD10PCS", "ICD9CM", "MSDRG", "SUPPORTING_INFO", "NUBC_DISCHARGE", "NUBC_POA", "POA_EXTENSION",
    "HOSPITAL_STATUS_EXTENSION", "DIAGNOSIS_TYPE", "C4BB_DIAGNOSIS_TYPE", "FHIR_MEDIA_TYPE", "Issue", "Item",
    "FhirInputError", "read_resource", "read_body", "read_claim", "read_encounter_bundle", "engine_issue",
    "status_of", "parameters", "outcome", "batch_response", "group_resources", "validate_resource", "gc_paused",
]

# ---- code systems and element names (docs/fhir.md says where each comes from) ----------------
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
#: CARIN BB's alias $CMSMSDRG: the MS-DRG code system URI (DRGs and here MDCs too)
MSDRG = "https://www.cms.gov/Medicare/Medicare-Fee-for-Service-Payment/AcuteInpatientPPS/MS-DRG-Classifications-and-Software"
SUPPORTING_INFO = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType"
NUBC_DISCHARGE = "https://www.nubc.org/CodeSystem/PatDischargeStatus"
NUBC_POA = "https://www.nubc.org/CodeSystem/PresentOnAdmissionIndicator"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
C4BB_DIAGNOSIS_TYPE = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimDiagnosisType"
POA_EXTENSION = "urn:fastdrg:fhir:StructureDefinition:present-on-admission"
HOSPITAL_STATUS_EXTENSION = "urn:fastdrg:fhir:StructureDefinition:hospital-status"
FHIR_MEDIA_TYPE = "application/fhir+json"

_POA_VALUES = frozenset("YNUW1")
_HOSPITAL_STATUSES = frozenset({"not_exempt", "exempt", "unknown"})
_CLAIM_TYPES = ("Claim", "ExplanationOfBenefit")


class FhirInputError(ValueError):
    """The body as a whole is not something the reader takes (not JSON, not a resource)."""

    def __init__(self, issue: "Issue") -> None:
        super().__init__(issue.diagnostics)
        self.issue = issue


@dataclass(frozen=True)
class Issue:
    """One ``OperationOutcome.issue``: FHIR issue type, the element's FHIRPath, a reason
    that quotes no value of the resource."""

    code: str
    expression: str
    diagnostics: str
    #: the resource is not valid FHIR R4 (answered 400; an unreadable valid resource is a 422)
    not_fhir: bool = False


@dataclass
class Item:
    """One thing to group: a Claim, an EOB or an encounter Bundle, read."""

    resource_type: str
    id: str | None
    claim: dict | None = None
    issues: list[Issue] = field(default_factory=list)
    #: engine field ("pdx", "sdx[2]", "sdx[2].poa", "age", ...) -> FHIRPath of the element that fed it
    paths: dict[str, str] = field(default_factory=dict)
    billed_drg: str | None = None

    def refuse(self, code: str, expression: str, diagnostics: str) -> "Item":
        self.issues.append(Issue(code, expression, diagnostics))
        self.claim = None
        return self


# ---- structure: fhir.resources ---------------------------------------------------------------
_MODELS: dict[str, Any] = {}


def _model(resource_type: str):
    model = _MODELS.get(resource_type)
    if model is None:
        from fhir.resources.R4B import get_fhir_model_class

        model = _MODELS[resource_type] = get_fhir_model_class(resource_type)
    return model


def _loc_path(root: str, loc: Iterable[Any]) -> str:
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = "resourceType" if part == "resource_type" else str(part).rstrip("_")
            if "[" in name or "," in name or "-" in name:  # pydantic's union tags: not an element
                continue
            path += "." + name
    return path


#: pydantic error types whose message quotes no input (safe to pass on)
_SAFE_MESSAGES = frozenset({
    "missing", "extra_forbidden", "string_type", "int_type", "int_parsing", "bool_type", "bool_parsing",
    "list_type", "dict_type", "model_type", "float_type", "float_parsing", "decimal_type", "decimal_parsing",
    "int_from_float", "string_too_short", "too_short", "date_from_datetime_parsing", "date_parsing", "date_type",
    "datetime_parsing", "datetime_type", "model_attributes_type",
})


def validate_resource(resource: Any, root: str) -> list[Issue]:
    """The issues that keep ``resource`` from being valid FHIR R4 (empty: it is).
    ``root``: the FHIRPath the expressions start from.

    The compiled check of ``engine.io.fhir_fast`` (derived from the library's models, never
    more permissive) answers first; a resource it refuses is judged by fhir.resources, which
    names the elements at fault (or accepts it: the compiled check is stricter in places)."""
    if type(resource) is not dict:
        return [Issue("structure", root, "not a FHIR resource: a JSON object is expected", True)]
    rt = resource.get("resourceType")
    if type(rt) is not str:
        return [Issue("structure", root + ".resourceType", "not a FHIR resource: resourceType is missing", True)]
    try:
        model = _model(rt)
    except Exception:  # noqa: BLE001 - fhir.resources says ValueError; any failure means unknown
        return [Issue("structure", root + ".resourceType", "not a FHIR R4 resource type", True)]
    fast = fast_validator(rt)
    if fast is not None and fast(resource):  # accepted by the compiled check: the library accepts it too
        return []
    null = _null_at(resource, root or rt)
    if null is not None:
        return [Issue("structure", null, "not valid FHIR R4: JSON null is not a value (leave the element out)", True)]
    try:
        model.model_validate(resource)
    except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError, or a bug of the library
        errors = getattr(exc, "errors", None)
        if not callable(errors):
            return [Issue("structure", root or rt, f"not a valid FHIR R4 {rt}", True)]
        issues = []
        for err in errors()[:20]:
            kind = err.get("type", "")
            msg = err.get("msg", "") if kind in _SAFE_MESSAGES else "not in the format its FHIR type requires"
            code = "required" if kind == "missing" else "structure"
            issues.append(Issue(code, _loc_path(root or rt, err.get("loc", ())), f"not valid FHIR R4: {msg}", True))
        return issues or [Issue("structure", root or rt, f"not a valid FHIR R4 {rt}", True)]
    return []


def _null_at(value: Any, path: str) -> str | None:
    """The FHIRPath of the first JSON null among ``value``'s members (FHIR's JSON has none;
    fhir.resources reads one as absent).  A null inside an array is FHIR's placeholder of a
    primitive array's item that has only an extension: left alone."""
    if type(value) is dict:
        for k, v in value.items():
            if v is None:
                return f"{path}.{k}"
            if type(v) is dict or type(v) is list:
                found = _null_at(v, f"{path}.{k}")
                if found is not None:
                    return found
    elif type(value) is list:
        for i, v in enumerate(value):
            if type(v) is dict:
                found = _null_at(v, f"{path}[{i}]")
                if found is not None:
                    return found
    return None


# ---- small readers of JSON elements ----------------------------------------------------------
def _codings(concept: Any) -> list:
    if type(concept) is not dict:
        return []
    codings = concept.get("coding")
    return codings if type(codings) is list else []


def _has_code(concept: Any, codes: Iterable[str]) -> bool:
    return any(type(c) is dict and c.get("code") in codes for c in _codings(concept))


def _concept_code(concept: Any, system: str | None = None) -> str | None:
    for c in _codings(concept):
        if type(c) is dict and (system is None or c.get("system") == system) and type(c.get("code")) is str:
            return c["code"]
    return None


def _date(value: Any) -> _dt.date | None:
    """A FHIR date or dateTime's calendar date (its local date); None for a partial date."""
    if type(value) is not str or len(value) < 10:
        return None
    try:
        return _dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _extension(element: dict, url: str) -> Any:
    for ext in element.get("extension") or ():
        if type(ext) is dict and ext.get("url") == url:
            return ext.get("valueCode")
    return None


def _age(birth: _dt.date, on: _dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _ref_key(ref: Any) -> str | None:
    if type(ref) is dict and type(ref.get("reference")) is str:
        return ref["reference"]
    return None


def _code_from(item: Item, concept: Any, system: str, path: str, what: str, reject: dict[str, str]) -> str | None:
    """The code of ``system`` in ``concept``, or None after refusing the item with the reason."""
    if type(concept) is not dict:
        item.refuse("required", path, f"{what}: no code")
        return None
    codings = _codings(concept)
    for c in codings:
        if type(c) is dict and c.get("system") == system:
            code = c.get("code")
            if type(code) is not str or not code:
                item.refuse("required", path + ".coding", f"{what}: the coding of {system} has no code")
                return None
            return code
    for j, c in enumerate(codings):
        other = c.get("system") if type(c) is dict else None
        if other in reject:
            item.refuse("code-invalid", f"{path}.coding[{j}].system", f"{what}: {reject[other]}")
            return None
    if codings:
        item.refuse("code-invalid", f"{path}.coding.system", f"{what}: no coding from {system}")
    else:
        item.refuse("required", path + ".coding", f"{what}: no coding")
    return None


_DX_REJECT = {ICD9CM: "an ICD-9-CM code: MS-DRG v40 and later group ICD-10-CM only",
              "http://hl7.org/fhir/sid/icd-10": "WHO ICD-10 is not ICD-10-CM"}
_PX_REJECT = {ICD9CM: "an ICD-9 procedure code: MS-DRG v40 and later group ICD-10-PCS only",
              "http://www.ama-assn.org/go/cpt": "a CPT code: inpatient procedures are ICD-10-PCS"}


def _choice_code(item: Item, element: dict, base: str, path: str, system: str, name: str,
                 reject: dict[str, str]) -> str | None:
    """The code of ``element``'s ``<base>CodeableConcept`` (a ``<base>Reference`` is not read)."""
    if base + "Reference" in element:
        item.refuse("not-supported", f"{path}.{base}Reference", f"a {base} must be a {base}CodeableConcept ({name})")
        return None
    return _code_from(item, element.get(base + "CodeableConcept"), system, f"{path}.{base}CodeableConcept", base,
                      reject)


def _patient(item: Item, resource: dict, rt: str, element: str, lookup: dict) -> dict | None:
    ref = _ref_key(resource.get(element))
    path = f"{rt}.{element}"
    if ref is None:
        item.refuse("required", path, "no patient: a reference to a Patient (contained or in the Bundle) is needed")
        return None
    if ref.startswith("#"):
        for k, c in enumerate(resource.get("contained") or ()):
            if type(c) is dict and c.get("id") == ref[1:]:
                if c.get("resourceType") != "Patient":
                    item.refuse("invalid", path, "the reference is not to a Patient")
                    return None
                item.paths["_patient"] = f"{rt}.contained[{k}]"
                return c
        item.refuse("not-found", path, "the contained Patient it names is not in contained")
        return None
    found = lookup.get(ref)
    if found is None or found[0].get("resourceType") != "Patient":
        item.refuse("not-found", path, "the Patient it names is neither contained nor in the Bundle")
        return None
    item.paths["_patient"] = found[1]
    return found[0]


def _demographics(item: Item, patient: dict, admission: _dt.date) -> None:
    where = item.paths["_patient"]
    birth = _date(patient.get("birthDate"))
    item.paths["age"] = where + ".birthDate"
    item.paths["sex"] = where + ".gender"
    if birth is None:
        item.refuse("required", where + ".birthDate",
                    "the Patient has no full birth date (YYYY-MM-DD): the age on admission cannot be computed")
        return
    gender = patient.get("gender")
    item.claim["age"] = _age(birth, admission)
    item.claim["sex"] = "F" if gender == "female" else "M" if gender == "male" else "U"


def _hospital_status(item: Item, resource: dict, rt: str) -> None:
    status = _extension(resource, HOSPITAL_STATUS_EXTENSION)
    if status is None:
        return
    item.paths["hospital_status"] = f"{rt}.extension"
    if status not in _HOSPITAL_STATUSES:
        item.refuse("code-invalid", f"{rt}.extension", "hospital-status must be not_exempt, exempt or unknown")
        return
    item.claim["hospital_status"] = status


def _dates(item: Item, period: Any, path: str) -> tuple[_dt.date, _dt.date] | None:
    if type(period) is not dict:
        item.refuse("required", path, "no admission period: the discharge date chooses the grouper version")
        return None
    end = _date(period.get("end"))
    start = _date(period.get("start"))
    item.paths["discharge_date"] = item.paths["version"] = path + ".end"
    item.paths["admission_date"] = path + ".start"
    if end is None:
        item.refuse("required", path + ".end", "no discharge date (a full date): it chooses the grouper version")
        return None
    item.claim["discharge_date"] = end.isoformat()
    if start is None:  # no admission date: the age on the discharge date, no length of stay
        if period.get("start") is not None:
            item.refuse("value", path + ".start", "the admission date must be a full date (YYYY-MM-DD)")
            return None
        return end, end
    item.claim["admission_date"] = start.isoformat()
    return start, end


def _supporting(resource: dict, category: str) -> tuple[int, dict] | None:
    for k, info in enumerate(resource.get("supportingInfo") or ()):
        if type(info) is dict and _has_code(info.get("category"), (category,)):
            return k, info
    return None


def _diagnosis_role(dx: dict) -> str:
    types = dx.get("type") or ()
    codes = {c.get("code") for t in types for c in _codings(t) if type(c) is dict}
    if "principal" in codes:
        return "principal"
    if "externalcauseofinjury" in codes:
        return "external"
    if "admitting" in codes and len(codes) == 1:
        return "admitting"
    return "other"


def _poa_value(value: Any) -> str | None:
    return value if type(value) is str and value in _POA_VALUES else None


def _sequence(x: Any, k: int) -> tuple:
    seq = x.get("sequence") if type(x) is dict else None
    return (0, seq, k) if type(seq) is int else (1, 0, k)


# ---- Claim / ExplanationOfBenefit ------------------------------------------------------------
def read_claim(resource: dict, lookup: dict | None = None) -> Item:
    """A Claim or ExplanationOfBenefit (valid FHIR) -> an Item with the claim dict or its issues."""
    rt = resource["resourceType"]
    item = Item(rt, resource.get("id") if type(resource.get("id")) is str else None, claim={})
    if item.id is not None:
        item.claim["id"] = item.id
    _hospital_status(item, resource, rt)
    found = _supporting(resource, "admissionperiod")
    if found is not None:
        period_path = f"{rt}.supportingInfo[{found[0]}].timingPeriod"
        period = found[1].get("timingPeriod")
    else:
        period_path, period = f"{rt}.billablePeriod", resource.get("billablePeriod")
    dates = _dates(item, period, period_path)
    patient = _patient(item, resource, rt, "patient", lookup or {})
    if item.issues:
        return item
    _demographics(item, patient, dates[0])
    if item.claim is None:
        return item
    found = _supporting(resource, "discharge-status")
    if found is None:
        return item.refuse("required", f"{rt}.supportingInfo",
                           "no discharge status: a supportingInfo of category discharge-status (NUBC code)")
    status_path = f"{rt}.supportingInfo[{found[0]}].code"
    item.paths["discharge_status"] = status_path
    status = _concept_code(found[1].get("code"), NUBC_DISCHARGE) or _concept_code(found[1].get("code"))
    if status is None:
        return item.refuse("required", status_path, "the discharge status has no code")
    item.claim["discharge_status"] = status
    found = _supporting(resource, "drg")
    if found is not None:
        item.billed_drg = _concept_code(found[1].get("code"), MSDRG)
    _claim_diagnoses(item, resource, rt)
    if item.claim is not None:
        _claim_procedures(item, resource, rt)
    return item


def _claim_diagnoses(item: Item, resource: dict, rt: str) -> None:
    dxs = resource.get("diagnosis") or []
    order = sorted(range(len(dxs)), key=lambda k: _sequence(dxs[k], k))
    principal, admitting, others, external = None, None, [], []
    for k in order:
        dx = dxs[k]
        role = _diagnosis_role(dx)
        path = f"{rt}.diagnosis[{k}]"
        code = _choice_code(item, dx, "diagnosis", path, ICD10CM, "ICD-10-CM", _DX_REJECT)
        if code is None:
            return
        poa = _poa_value(_concept_code(dx.get("onAdmission")))
        if dx.get("onAdmission") is not None and poa is None:
            item.refuse("code-invalid", path + ".onAdmission", "POA must be Y, N, U, W or 1")
            return
        entry = {"code": code} if poa is None else {"code": code, "poa": poa}
        if role == "principal":
            if principal is not None:
                item.refuse("invalid", path + ".type", "a second principal diagnosis")
                return
            principal = (entry, path)
            if _has_code_in_types(dx, "admitting") and admitting is None:
                admitting = (code, path)
        elif role == "admitting":
            if admitting is None:
                admitting = (code, path)
        elif role == "external":
            external.append((entry, path))
        else:
            others.append((entry, path))
    if principal is None:
        item.refuse("required", f"{rt}.diagnosis", "no principal diagnosis: no diagnosis has type principal")
        return
    claim, paths = item.claim, item.paths
    claim["pdx"] = principal[0]
    paths["pdx"] = principal[1] + ".diagnosisCodeableConcept"
    paths["pdx.poa"] = principal[1] + ".onAdmission"
    if admitting is not None:
        claim["admit_dx"] = admitting[0]
        paths["admit_dx"] = admitting[1] + ".diagnosisCodeableConcept"
    sdx = claim["sdx"] = []
    for i, (entry, path) in enumerate(others + external):
        sdx.append(entry)
        paths[f"sdx[{i}]"] = path + ".diagnosisCodeableConcept"
        paths[f"sdx[{i}].poa"] = path + ".onAdmission"


def _has_code_in_types(dx: dict, code: str) -> bool:
    return any(_has_code(t, (code,)) for t in dx.get("type") or ())


def _claim_procedures(item: Item, resource: dict, rt: str) -> None:
    pxs = resource.get("procedure") or []
    order = sorted(range(len(pxs)), key=lambda k: _sequence(pxs[k], k))
    procedures = item.claim["procedures"] = []
    for i, k in enumerate(order):
        px = pxs[k]
        path = f"{rt}.procedure[{k}]"
        code = _choice_code(item, px, "procedure", path, ICD10PCS, "ICD-10-PCS", _PX_REJECT)
        if code is None:
            return
        procedures.append(code)
        item.paths[f"procedures[{i}]"] = path + ".procedureCodeableConcept"


# ---- the encounter Bundle --------------------------------------------------------------------
def read_encounter_bundle(bundle: dict, lookup: dict) -> Item:
    """A Bundle holding one Encounter with its Patient, Conditions and Procedures -> an Item."""
    entries = bundle.get("entry") or []
    encounters = [(k, e["resource"]) for k, e in enumerate(entries)
                  if type(e) is dict and type(e.get("resource")) is dict
                  and e["resource"].get("resourceType") == "Encounter"]
    k, enc = encounters[0]
    root = f"Bundle.entry[{k}].resource"
    item = Item("Encounter", enc.get("id") if type(enc.get("id")) is str else None, claim={})
    if len(encounters) > 1:
        return item.refuse("invalid", f"Bundle.entry[{encounters[1][0]}].resource",
                           "an encounter Bundle holds one Encounter")
    if item.id is not None:
        item.claim["id"] = item.id
    _hospital_status(item, enc, root)
    dates = _dates(item, enc.get("period"), root + ".period")
    patient = _patient(item, enc, root, "subject", lookup)
    if item.issues:
        return item
    _demographics(item, patient, dates[0])
    if item.claim is None:
        return item
    disposition = (enc.get("hospitalization") or {}).get("dischargeDisposition")
    dpath = root + ".hospitalization.dischargeDisposition"
    item.paths["discharge_status"] = dpath
    status = _concept_code(disposition, NUBC_DISCHARGE)
    if status is None:
        return item.refuse("required", dpath, f"no discharge status: a coding of {NUBC_DISCHARGE} is needed")
    item.claim["discharge_status"] = status
    _encounter_diagnoses(item, enc, root, lookup)
    if item.claim is None:
        return item
    procedures = item.claim["procedures"] = []
    for j, e in enumerate(entries):
        res = e.get("resource") if type(e) is dict else None
        if type(res) is dict and res.get("resourceType") == "Procedure":
            path = f"Bundle.entry[{j}].resource.code"
            code = _code_from(item, res.get("code"), ICD10PCS, path, "procedure", _PX_REJECT)
            if code is None:
                return item
            item.paths[f"procedures[{len(procedures)}]"] = path
            procedures.append(code)
    return item


def _encounter_diagnoses(item: Item, enc: dict, root: str, lookup: dict) -> None:
    dxs = enc.get("diagnosis") or []
    ranked = []
    admitting = None
    for k, dx in enumerate(dxs):
        path = f"{root}.diagnosis[{k}]"
        found = lookup.get(_ref_key(dx.get("condition")) or "")
        if found is None or found[0].get("resourceType") != "Condition":
            item.refuse("not-found", path + ".condition", "the Condition it names is not in the Bundle")
            return
        cond, cpath = found
        code = _code_from(item, cond.get("code"), ICD10CM, cpath + ".code", "condition", _DX_REJECT)
        if code is None:
            return
        raw = _extension(dx, POA_EXTENSION)
        poa = _poa_value(raw)
        if raw is not None and poa is None:
            item.refuse("code-invalid", path + ".extension", "POA must be Y, N, U, W or 1")
            return
        entry = {"code": code} if poa is None else {"code": code, "poa": poa}
        if _has_code(dx.get("use"), ("AD",)):
            if admitting is None:
                admitting = (code, cpath)
            continue
        rank = dx.get("rank")
        ranked.append(((0, rank, k) if type(rank) is int else (1, 0, k), entry, path, cpath))
    ranked.sort(key=lambda r: r[0])
    if not ranked or ranked[0][0][:2] != (0, 1):
        item.refuse("required", root + ".diagnosis", "no principal diagnosis: no diagnosis has rank 1")
        return
    claim, paths = item.claim, item.paths
    _, claim["pdx"], path, cpath = ranked[0]
    paths["pdx"], paths["pdx.poa"] = cpath + ".code", path + ".extension"
    if admitting is not None:
        claim["admit_dx"] = admitting[0]
        paths["admit_dx"] = admitting[1] + ".code"
    sdx = claim["sdx"] = []
    for i, (_, entry, path, cpath) in enumerate(ranked[1:]):
        sdx.append(entry)
        paths[f"sdx[{i}]"], paths[f"sdx[{i}].poa"] = cpath + ".code", path + ".extension"


# ---- the cyclic garbage collector ------------------------------------------------------------
#: Reading, grouping and writing a Bundle makes some hundred thousand dicts and lists, all freed
#: by reference counting: the FHIR routes pause the collector for a request (engine.gcpause).
gc_paused = paused


# ---- dispatch ---------------------------------------------------------------------------------
def _bundle_lookup(entries: list) -> dict:
    """Reference text -> (resource, FHIRPath) for each entry: by fullUrl and by Type/id."""
    lookup = {}
    for k, e in enumerate(entries):
        if type(e) is not dict or type(e.get("resource")) is not dict:
            continue
        res = e["resource"]
        where = (res, f"Bundle.entry[{k}].resource")
        if type(e.get("fullUrl")) is str:
            lookup[e["fullUrl"]] = where
        if type(res.get("id")) is str and type(res.get("resourceType")) is str:
            lookup[f"{res['resourceType']}/{res['id']}"] = where
    return lookup


def read_resource(doc: Any, expect: str | None = None, validate: bool = True,
                  max_entries: int | None = None) -> tuple[str, list[Item]]:
    """A parsed body -> (``"single"`` | ``"batch"``, its Items).

    ``expect``: the operation's resource type (``Claim``, ``ExplanationOfBenefit``,
    ``Encounter``; None: any).  A Claim or EOB is one Item; an encounter Bundle (a Bundle
    holding an Encounter, or any Bundle when ``expect`` is Encounter) is one Item; another
    Bundle is a batch: one Item per Claim/EOB entry in order, each read on its own, its
    Patient resolved among the Bundle's entries (Patient entries get no Item).  Raises
    FhirInputError when the body is not a FHIR resource at all, not one the operation
    takes, or a Bundle whose own structure is not valid.  ``validate=False`` skips the
    fhir.resources check (for resources checked already: the mapping is the same).
    ``max_entries``: a Bundle with more entries is refused (issue code ``too-costly``) before
    any is read."""
    check = validate_resource if validate else _no_issues
    if type(doc) is not dict or type(doc.get("resourceType")) is not str:
        raise FhirInputError(Issue("structure", "resourceType" if type(doc) is dict else "$",
                                   "not a FHIR resource: a JSON object with a resourceType is expected", True))
    rt = doc["resourceType"]
    wanted = _CLAIM_TYPES if expect is None else (expect,)
    if rt in _CLAIM_TYPES and rt in wanted:
        issues = check(doc, rt)
        if issues:
            return "single", [Item(rt, _id(doc), issues=issues)]
        return "single", [read_claim(doc)]
    if rt != "Bundle":
        try:
            _model(rt)
        except Exception:  # noqa: BLE001 - not a resource type of FHIR R4
            raise FhirInputError(Issue("structure", "resourceType", "not a FHIR R4 resource type", True)) from None
        what = "an encounter Bundle (Patient, Encounter, Conditions, Procedures)" if expect == "Encounter" else \
            f"a {expect or 'Claim or ExplanationOfBenefit'} or a Bundle of them"
        raise FhirInputError(Issue("not-supported", "resourceType", f"this operation takes {what}"))
    entries = doc.get("entry")
    if "entry" in doc and type(entries) is not list:
        raise FhirInputError(Issue("structure", "Bundle.entry", "not valid FHIR R4: entry must be an array", True))
    entries = entries or []
    if max_entries is not None and len(entries) > max_entries:
        raise FhirInputError(Issue("too-costly", "Bundle.entry", f"more than {max_entries} entries in one Bundle"))
    for k, e in enumerate(entries):
        if type(e) is dict and "resource" in e and type(e["resource"]) is not dict:
            raise FhirInputError(Issue("structure", f"Bundle.entry[{k}].resource",
                                       "not valid FHIR R4: a resource is a JSON object", True))
        if type(e) is dict and "fullUrl" in e and type(e["fullUrl"]) is not str:
            raise FhirInputError(Issue("structure", f"Bundle.entry[{k}].fullUrl",
                                       "not valid FHIR R4: fullUrl is a uri (a JSON string)", True))
    shell = {**doc, "entry": [{k: v for k, v in e.items() if k != "resource"} if type(e) is dict else e
                              for e in entries]}
    if not entries:
        del shell["entry"]
    issues = validate_resource(shell, "Bundle")
    if issues:
        raise FhirInputError(issues[0])
    lookup = _bundle_lookup(entries)
    has_encounter = any(type(e.get("resource")) is dict and e["resource"].get("resourceType") == "Encounter"
                        for e in entries)
    if expect == "Encounter" or (expect is None and has_encounter):
        if not has_encounter:
            raise FhirInputError(Issue("required", "Bundle.entry", "the encounter Bundle holds no Encounter"))
        for k, e in enumerate(entries):
            issues = check(e.get("resource"), f"Bundle.entry[{k}].resource")
            if issues:
                return "single", [Item("Encounter", None, issues=issues)]
        return "single", [read_encounter_bundle(doc, lookup)]
    bad_patients = {}
    for k, e in enumerate(entries):  # the Patients the claims name: valid FHIR too
        res = e.get("resource")
        if type(res) is dict and res.get("resourceType") == "Patient":
            issues = check(res, f"Bundle.entry[{k}].resource")
            if issues:
                bad_patients[k] = issues
    items = []
    for k, e in enumerate(entries):
        res = e.get("resource")
        if type(res) is dict and res.get("resourceType") == "Patient":
            continue  # a Patient the claims refer to, not an entry to group
        if type(res) is not dict or res.get("resourceType") not in wanted:
            kind = res.get("resourceType") if type(res) is dict and type(res.get("resourceType")) is str else None
            items.append(Item(kind or "Resource", None).refuse(
                "not-supported", f"Bundle.entry[{k}].resource",
                f"this batch takes {' or '.join(wanted)} entries (and the Patients they name)"))
            continue
        rt_k = res["resourceType"]
        issues = check(res, rt_k)
        if issues:
            items.append(Item(rt_k, _id(res), issues=issues))
            continue
        item = read_claim(res, lookup)
        patient_at = item.paths.get("_patient", "")
        for j, p_issues in bad_patients.items():
            if patient_at == f"Bundle.entry[{j}].resource" and item.claim is not None:
                item.issues, item.claim = list(p_issues), None
        items.append(item)
    return "batch", items


def _no_issues(resource: Any, root: str) -> list[Issue]:
    return []


def _id(doc: dict) -> str | None:
    return doc.get("id") if type(doc.get("id")) is str else None


def read_body(body: bytes, expect: str | None = None, validate: bool = True,
              max_entries: int | None = None) -> tuple[str, list[Item]]:
    """Request bytes -> ``read_resource``; not JSON is a FhirInputError."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FhirInputError(Issue("structure", "$", f"not JSON: {exc.msg} at line {exc.lineno}, "
                                                    f"column {exc.colno}", True)) from None
    return read_resource(doc, expect, validate, max_entries)


def engine_issue(item: Item, error: dict) -> Issue:
    """An engine error ``{"field", "reason"}`` on ``item``'s claim -> the issue at the element that fed it."""
    fld = str(error.get("field", "$"))
    reason = str(error.get("reason", "invalid"))
    paths = item.paths
    path = paths.get(fld)
    if path is None:
        head = fld.rsplit(".", 1)[0]
        path = paths.get(head) or paths.get(fld.split("[", 1)[0]) or item.resource_type
    code = "not-supported" if fld in ("version", "discharge_date") else "processing"
    return Issue(code, path, f"{fld}: {reason}" if fld and fld != "$" else reason)


# ---- writer -----------------------------------------------------------------------------------
def _coding(system: str, code: Any, display: Any = None) -> dict:
    c = {"system": system, "code": str(code)}
    if display:
        c["display"] = display
    return c


def _p(name: str, **value) -> dict:
    return {"name": name, **value}


def _drg_number(code: Any) -> int | None:
    try:
        return int(str(code).strip())
    except ValueError:
        return None


def parameters(item: Item, result: dict, drg_title=None) -> dict:
    """A result of ``Grouper.group`` (detail on) -> a ``Parameters`` resource.

    ``drg_title(version, drg)``: the DRG's title (initial DRG's title is looked up with it)."""
    params = []
    if item.id is not None:
        params.append(_p("id", valueId=item.id))
    version = result.get("version")
    params.append(_p("version", valueString=str(version)))
    params.append(_p("drg", valueCoding=_coding(MSDRG, result["drg"], result.get("drg_description"))))
    params.append(_p("mdc", valueCoding=_coding(MSDRG, result["mdc"], result.get("mdc_description"))))
    initial_title = drg_title(version, result["initial_drg"]) if drg_title else None
    params.append(_p("initialDrg", valueCoding=_coding(MSDRG, result["initial_drg"], initial_title)))
    params.append(_p("initialMdc", valueCoding=_coding(MSDRG, result["initial_mdc"])))
    params.append(_p("returnCode", valueCode=result["return_code"]))
    sev = result.get("severity") or {}
    params.append(_p("severity", part=[_p("initial", valueCode=sev.get("initial")),
                                       _p("final", valueCode=sev.get("final"))]))
    if result.get("med_surg"):
        params.append(_p("medSurg", valueCode=result["med_surg"]))
    if result.get("hac_status"):
        params.append(_p("hacStatus", valueCode=result["hac_status"]))
    for key, name in (("weight", "weight"), ("adjusted_weight", "adjustedWeight")):
        if result.get(key) is not None:
            params.append(_p(name, valueDecimal=result[key]))
    estimate = result.get("payment_estimate")
    if type(estimate) is dict and estimate.get("amount") is not None:
        params.append(_p("paymentEstimate", valueMoney={"value": estimate["amount"], "currency": "USD"}))
    if item.billed_drg is not None:
        params.append(_p("billedDrg", valueCoding=_coding(MSDRG, item.billed_drg)))
        billed = _drg_number(item.billed_drg)
        params.append(_p("billedDrgMatches", valueBoolean=billed is not None and billed == _drg_number(result["drg"])))
    if "edit_type" in result:
        params.append(_p("editType", valueCode=result["edit_type"]))
        for name, count in sorted((result.get("edits") or {}).items()):
            params.append(_p("edit", part=[_p("name", valueCode=name), _p("count", valueInteger=int(count))]))
    if result.get("pdx"):
        params.append(_dx_part(result["pdx"], "principal", 1))
    for i, dx in enumerate(result.get("sdx") or ()):
        params.append(_dx_part(dx, "secondary", i + 2))
    for i, px in enumerate(result.get("procedures") or ()):
        params.append(_px_part(px, i + 1))
    return {"resourceType": "Parameters", "parameter": params}


def _codes(part: list, name: str, values: Iterable[Any]) -> None:
    """A ``valueCode`` part per value that is one (None and "" are left out)."""
    for v in values:
        if v is not None and v != "":
            part.append({"name": name, "valueCode": v})


def _dx_part(dx: dict, role: str, sequence: int) -> dict:
    usage = dx.get("severity_usage") or {}
    part = [{"name": "sequence", "valueInteger": sequence}, {"name": "role", "valueCode": role},
            {"name": "code", "valueCoding": _coding(ICD10CM, dx["code"])}]
    if dx.get("poa"):
        part.append({"name": "poa", "valueCode": dx["poa"]})
    _codes(part, "affectsDrg", (dx.get("affects_drg"),))
    _codes(part, "severityInitial", (usage.get("initial"),))
    _codes(part, "severityFinal", (usage.get("final"),))
    _codes(part, "poaError", (dx.get("poa_error"),))
    for hac in dx.get("hacs") or ():
        part.append({"name": "hac", "part": [{"name": "number", "valueInteger": int(hac["number"])},
                                             {"name": "status", "valueCode": str(hac["status"])}]})
    _codes(part, "edit", dx.get("edits") or ())
    return {"name": "diagnosis", "part": part}


def _px_part(px: dict, sequence: int) -> dict:
    part = [{"name": "sequence", "valueInteger": sequence},
            {"name": "code", "valueCoding": _coding(ICD10PCS, px["code"])}]
    _codes(part, "affectsDrg", (px.get("affects_drg"),))
    if "is_or" in px:
        part.append({"name": "isOr", "valueBoolean": bool(px["is_or"])})
    _codes(part, "hacUsage", (str(u) for u in px.get("hac_usage") or ()))
    _codes(part, "edit", px.get("edits") or ())
    return {"name": "procedure", "part": part}


def outcome(issues: Iterable[Issue]) -> dict:
    """Issues -> an ``OperationOutcome`` (each an error, its FHIRPath in ``expression``)."""
    return {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": i.code, "diagnostics": i.diagnostics,
         **({"expression": [i.expression]} if i.expression and i.expression != "$" else {})}
        for i in issues]}


def batch_response(entries: list[tuple[str, dict]]) -> dict:
    """(HTTP status text, resource) per entry -> a ``Bundle`` of type batch-response."""
    return {"resourceType": "Bundle", "type": "batch-response",
            "entry": [{"resource": res, "response": {"status": status}} for status, res in entries]}


def status_of(issues: list[Issue]) -> int:
    """The HTTP status of a refusal: 400 when the resource is not valid FHIR, 413 when a Bundle
    has too many entries, else 422."""
    if any(i.not_fhir for i in issues):
        return 400
    return 413 if any(i.code == "too-costly" for i in issues) else 422


def group_resources(grouper, items: list[Item], edits: bool = False, base_rate=None
                    ) -> list[tuple[int, dict]]:
    """Group the readable Items through ``Grouper.group`` (detail on) and write each as
    (HTTP status, ``Parameters`` or ``OperationOutcome``), in order."""
    claims = [it.claim for it in items if it.claim is not None]
    kwargs = {"detail": True}
    if edits:
        kwargs["edits"] = True
    if base_rate is not None:
        kwargs["base_rate"] = base_rate
    results = iter(grouper.group(claims, **kwargs) if claims else ())
    drg_title = _titles(grouper)
    out = []
    for it in items:
        if it.claim is None:
            out.append((status_of(it.issues), outcome(it.issues)))
            continue
        res = next(results)
        if "error" in res:
            out.append((422, outcome([engine_issue(it, res["error"])])))
        else:
            out.append((200, parameters(it, res, drg_title)))
    return out


#: grouper -> its DRG titles looked up so far ((version, drg) -> title): kept across requests
_TITLE_CACHES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _titles(grouper):
    info = getattr(grouper, "drg_info", None)
    if info is None:
        return None
    try:
        cache = _TITLE_CACHES.setdefault(grouper, {})
    except TypeError:  # a grouper that takes no weak reference: a cache for this call only
        cache = {}

    def title(version, drg):
        key = (version, drg)
        if key not in cache:
            d = info(str(version), str(drg))
            cache[key] = d.get("description") if d else None
        return cache[key]

    return title
