"""Columnar kernel output to result dicts, with CMS's enumeration names."""

from __future__ import annotations

from . import grouping as K
from .encode import version_label
from .tables import RETURN_CODES

AFFECTS = ("NONE", "INITIAL", "FINAL", "BOTH")
CLAIM_SEVERITY = ("NON_CC", "CC", "MCC", "NONE")
CODE_SEVERITY = ("NEITHER", "CC", "MCC", "CC_EXCLUDED", "MCC_EXCLUDED",
                 "CC_EXCLUDED_BY_DRG_LOGIC", "MCC_EXCLUDED_BY_DRG_LOGIC")
MED_SURG = ("MEDICAL", "SURGICAL", "NONE")
HAC_STATUS = ("NOT_APPLICABLE", "FINAL_DRG_NO_CHANGE", "FINAL_DRG_CHANGES", "FINAL_DRG_UNGROUPABLE")
POA_ERROR = ("POA_NOT_CHECKED", "POA_NOT_RECOGNIZED", "POA_RECOGNIZED_NOT_POA",
             "POA_RECOGNIZED_YES_POA", "HOSPITAL_EXEMPT")
HAC_USAGE = ("NOT_ON_HAC_LIST", "HAC_CRITERIA_MET", "HAC_CRITERIA_NOT_MET",
             "HAC_NOT_APPLICABLE_EXCLUSION", "HAC_NOT_APPLICABLE_EXEMPT")
PROC_HAC = ((1, "HAC_08"), (2, "HAC_10"), (4, "HAC_11"), (8, "HAC_12"), (16, "HAC_13"), (32, "HAC_14"))
# Y N U W 1, blank (or absent: None); any other printable character is a POA
# CMS does not recognise (it groups the claim, POA_NOT_RECOGNIZED), echoed as given
_POA_TEXT = {**{b: chr(b) for b in range(33, 127)}, 32: None}
_DRG = tuple(f"{d:03d}" for d in range(1000))
_MDC = tuple(f"{m:02d}" for m in range(100))


def decode_results(batch, out, meta: dict, detail: bool = True, payment=None) -> list[dict]:
    """One dict per claim, in batch order.  ``payment``: the batch's
    engine.payment.weights.PayColumns, whose fields close each result (None: none)."""
    drg_desc = meta["drg_descriptions"]
    mdc_desc = meta["mdc_descriptions"]
    versions = meta["versions"]
    # Pull columns to Python lists once: indexing numpy scalars per claim is slow.
    ok = batch.ok.tolist()
    ver = batch.ver.tolist()
    init_drg = out.init_drg.tolist()
    init_mdc = out.init_mdc.tolist()
    final_drg = out.final_drg.tolist()
    final_mdc = out.final_mdc.tolist()
    rc = out.rc.tolist()
    init_sev = out.init_sev.tolist()
    final_sev = out.final_sev.tolist()
    med_surg = out.med_surg.tolist()
    hac_status = out.hac_status.tolist()
    pdx_aff = out.pdx_aff.tolist()
    pdx_hac11 = out.pdx_hac11.tolist()
    pdx_poa = batch.pdx_poa.tolist()
    sdx_off = batch.sdx_off.tolist()
    px_off = batch.px_off.tolist()
    if detail:
        sdx_aff = out.sdx_aff.tolist()
        use_i = out.sdx_use_init.tolist()
        use_f = out.sdx_use_final.tolist()
        poa_err = out.sdx_poa_err.tolist()
        hac_num = out.sdx_hac_num.tolist()
        hac_st = out.sdx_hac_status.tolist()
        sdx_poa = batch.sdx_poa.tolist()
        px_aff = out.px_aff.tolist()
        px_hac = out.px_hac.tolist()
        px_is_or = out.px_is_or.tolist()

    results = []
    for i in range(len(ok)):
        cid = batch.ids[i]
        if not ok[i]:
            r = {"error": batch.errors[i]}
            if cid is not None:
                r = {"id": cid, **r}
            results.append(r)
            continue
        v = versions[ver[i]]
        fd, fm_ = final_drg[i], final_mdc[i]
        r = {}
        if cid is not None:
            r["id"] = cid
        r["version"] = version_label(v)
        r["drg"] = _DRG[fd]
        r["mdc"] = _MDC[fm_]
        r["initial_drg"] = _DRG[init_drg[i]]
        r["initial_mdc"] = _MDC[init_mdc[i]]
        r["return_code"] = RETURN_CODES[rc[i]]
        r["drg_description"] = drg_desc.get(f"{v}:{fd}", "")
        r["mdc_description"] = mdc_desc.get(f"{v}:{fm_}", "")
        r["severity"] = {"initial": CLAIM_SEVERITY[init_sev[i]], "final": CLAIM_SEVERITY[final_sev[i]]}
        r["med_surg"] = MED_SURG[med_surg[i]]
        r["hac_status"] = HAC_STATUS[hac_status[i]]
        if detail:
            r["pdx"] = {
                "code": batch.pdx_text[i],
                "poa": _POA_TEXT.get(pdx_poa[i]),
                "affects_drg": AFFECTS[pdx_aff[i]],
                "severity_usage": {"initial": "NEITHER", "final": "NEITHER"},
                "poa_error": "POA_NOT_CHECKED",
                "hacs": [{"number": 11, "status": "NOT_ON_HAC_LIST"}] if pdx_hac11[i] else [],
            }
            sdx = []
            for j, code in zip(range(sdx_off[i], sdx_off[i + 1]), batch.sdx_text[i]):
                hacs = []
                for n, s in zip(hac_num[j], hac_st[j]):
                    if s < 0:
                        break
                    hacs.append({"number": n, "status": HAC_USAGE[s]})
                sdx.append({
                    "code": code,
                    "poa": _POA_TEXT.get(sdx_poa[j]),
                    "affects_drg": AFFECTS[sdx_aff[j]],
                    "severity_usage": {"initial": CODE_SEVERITY[use_i[j]], "final": CODE_SEVERITY[use_f[j]]},
                    "poa_error": POA_ERROR[poa_err[j]],
                    "hacs": hacs,
                })
            r["sdx"] = sdx
            procs = []
            for j, code in zip(range(px_off[i], px_off[i + 1]), batch.px_text[i]):
                hb = px_hac[j]
                procs.append({
                    "code": code,
                    "affects_drg": AFFECTS[px_aff[j]],
                    "is_or": px_is_or[j],
                    "hac_usage": [name for bit, name in PROC_HAC if hb & bit] if hb else [],
                })
            r["procedures"] = procs
        if payment is not None:
            r.update(payment.fields(i))
        results.append(r)
    return results


__all__ = ["decode_results", "K"]
