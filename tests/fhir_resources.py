"""shared/eval claim records written as FHIR R4: a Claim, an ExplanationOfBenefit (CARIN BB
Inpatient Institutional) or an encounter Bundle, the way an EHR or a payer would hold them.

A record has a grouper version, not dates: the discharge date is the 15th day of the
version's period (vN.0 from Oct 1, vN.1 from Apr 1), the admission three days before, the
birth date the age's years before the admission.  The JSON twin of each (``json_twin``)
is the claim an integrator would post to /v1/group: the same fields and the same dates.
"""

from __future__ import annotations

import datetime as dt

from engine.io import fhir as F

_HOSPITAL = {"NON_EXEMPT": "not_exempt", "EXEMPT": "exempt", "UNKNOWN": "unknown"}


def dates(version: int) -> tuple[str, str]:
    year = version // 10 + 1982
    start = dt.date(year, 10, 1) if version % 10 == 0 else dt.date(year + 1, 4, 1)
    discharge = start + dt.timedelta(days=14)
    return (discharge - dt.timedelta(days=3)).isoformat(), discharge.isoformat()


def birth_date(age: int, admission: str) -> str:
    d = dt.date.fromisoformat(admission)
    return d.replace(year=d.year - age).isoformat()


def json_twin(rec: dict) -> dict:
    admission, discharge = dates(int(rec["version"]))
    return {
        "id": rec["id"], "admission_date": admission, "discharge_date": discharge, "age": rec["age"],
        "sex": rec["sex"], "discharge_status": f"{rec['dstat']:02d}", "hospital_status": _HOSPITAL[rec["hospital_status"]],
        "pdx": {"code": rec["pdx"], "poa": rec["pdx_poa"]},
        "sdx": [{"code": c, "poa": p} for c, p in rec["sdx"]],
        "procedures": list(rec["px"]),
    }


def _cc(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def _patient(rec: dict, admission: str, pid: str = "pat") -> dict:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": "Doe", "given": ["Jane"]}],
            "identifier": [{"system": "urn:example:mrn", "value": "MRN-0042"}],
            "address": [{"line": ["1 Main St"], "city": "Springfield"}],
            "gender": {"M": "male", "F": "female"}.get(rec["sex"], "unknown"),
            "birthDate": birth_date(rec["age"], admission)}


def _hospital_ext(rec: dict) -> list:
    return [{"url": F.HOSPITAL_STATUS_EXTENSION, "valueCode": _HOSPITAL[rec["hospital_status"]]}]


def claim(rec: dict, resource_type: str = "Claim", contained: bool = True, billed_drg: str | None = None) -> dict:
    """A record as a Claim (or ExplanationOfBenefit), its Patient contained (or referred to
    as Patient/pat-<id>, for a Bundle that holds it)."""
    admission, discharge = dates(int(rec["version"]))
    dx_type = {"principal": (F.DIAGNOSIS_TYPE, "principal"), "other": (F.C4BB_DIAGNOSIS_TYPE, "other")}
    diagnoses = []
    for seq, (code, poa, kind) in enumerate([(rec["pdx"], rec["pdx_poa"], "principal")]
                                            + [(c, p, "other") for c, p in rec["sdx"]], start=1):
        diagnoses.append({"sequence": seq, "diagnosisCodeableConcept": _cc(F.ICD10CM, code),
                          "type": [_cc(*dx_type[kind])], "onAdmission": _cc(F.NUBC_POA, poa)})
    supporting = [
        {"sequence": 1, "category": _cc(F.SUPPORTING_INFO, "admissionperiod"),
         "timingPeriod": {"start": admission, "end": discharge}},
        {"sequence": 2, "category": _cc(F.SUPPORTING_INFO, "discharge-status"),
         "code": _cc(F.NUBC_DISCHARGE, f"{rec['dstat']:02d}")},
    ]
    if billed_drg is not None:
        supporting.append({"sequence": 3, "category": _cc(F.SUPPORTING_INFO, "drg"), "code": _cc(F.MSDRG, billed_drg)})
    res = {
        "resourceType": resource_type, "id": rec["id"].replace("_", "-")[:64],
        "extension": _hospital_ext(rec),
        "identifier": [{"system": "urn:example:claim", "value": "CLM-SECRET-1"}],
        "status": "active", "type": _cc("http://terminology.hl7.org/CodeSystem/claim-type", "institutional"),
        "use": "claim",
        "patient": {"reference": "#pat" if contained else f"Patient/pat-{rec['id']}"},
        "billablePeriod": {"start": admission, "end": discharge},
        "created": discharge,
        "provider": {"display": "General Hospital"},
        "supportingInfo": supporting,
        "diagnosis": diagnoses,
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Medicare Part A"}}],
    }
    if rec["px"]:
        res["procedure"] = [{"sequence": i, "procedureCodeableConcept": _cc(F.ICD10PCS, code)}
                            for i, code in enumerate(rec["px"], start=1)]
    if resource_type == "Claim":
        res["priority"] = _cc("http://terminology.hl7.org/CodeSystem/processpriority", "normal")
    else:  # an EOB's own required elements (R4): insurer, outcome; its insurance has no sequence
        res["insurer"] = {"display": "Medicare"}
        res["outcome"] = "complete"
        res["insurance"] = [{"focal": True, "coverage": {"display": "Medicare Part A"}}]
        res["subType"] = _cc("http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBInstitutionalClaimSubType", "inpatient")
    if contained:
        res["contained"] = [_patient(rec, admission)]
    return res


def claims_bundle(recs: list[dict], resource_type: str = "Claim") -> dict:
    """Records as one batch Bundle of Claims (or EOBs), each Patient an entry of its own."""
    entries = []
    for rec in recs:
        admission, _ = dates(int(rec["version"]))
        entries.append({"fullUrl": f"urn:uuid:claim-{rec['id']}",
                        "resource": claim(rec, resource_type, contained=False)})
        entries.append({"fullUrl": f"urn:uuid:patient-{rec['id']}",
                        "resource": {**_patient(rec, admission, f"pat-{rec['id']}")}})
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}


def encounter_bundle(rec: dict) -> dict:
    """A record as an EHR's encounter at discharge: Patient, Encounter, Conditions, Procedures."""
    admission, discharge = dates(int(rec["version"]))
    entries = [{"fullUrl": "urn:uuid:patient", "resource": _patient(rec, admission)}]
    diagnoses = []
    for rank, (code, poa) in enumerate([(rec["pdx"], rec["pdx_poa"])] + [tuple(x) for x in rec["sdx"]], start=1):
        url = f"urn:uuid:condition-{rank}"
        entries.append({"fullUrl": url, "resource": {
            "resourceType": "Condition", "id": f"cond-{rank}", "subject": {"reference": "urn:uuid:patient"},
            "code": _cc(F.ICD10CM, code)}})
        diagnoses.append({"extension": [{"url": F.POA_EXTENSION, "valueCode": poa}],
                          "condition": {"reference": url},
                          "use": _cc("http://terminology.hl7.org/CodeSystem/diagnosis-role", "DD"), "rank": rank})
    for k, code in enumerate(rec["px"], start=1):
        entries.append({"fullUrl": f"urn:uuid:procedure-{k}", "resource": {
            "resourceType": "Procedure", "id": f"proc-{k}", "status": "completed",
            "subject": {"reference": "urn:uuid:patient"}, "code": _cc(F.ICD10PCS, code)}})
    encounter = {
        "resourceType": "Encounter", "id": rec["id"].replace("_", "-")[:64], "extension": _hospital_ext(rec),
        "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "urn:uuid:patient"}, "period": {"start": admission, "end": discharge},
        "diagnosis": diagnoses,
        "hospitalization": {"dischargeDisposition": _cc(F.NUBC_DISCHARGE, f"{rec['dstat']:02d}")},
    }
    entries.insert(1, {"fullUrl": "urn:uuid:encounter", "resource": encounter})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
