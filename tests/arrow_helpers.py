"""Claims as Arrow columns and Arrow result rows as group()'s dicts, for the Arrow tests."""

from __future__ import annotations

import pyarrow as pa

from oracle import public_to_claim

SUMMARY = ("version", "drg", "mdc", "initial_drg", "initial_mdc", "return_code", "drg_description",
           "mdc_description")


def public_table(records) -> pa.Table:
    """The public claims as an Arrow table: pdx as a string with pdx_poa, sdx as
    list<struct<code, poa>>, procedures as list<string>."""
    claims = [public_to_claim(r) for r in records]
    pdx, pdx_poa = [], []
    for c in claims:
        p = c["pdx"]
        pdx.append(p["code"] if isinstance(p, dict) else p)
        pdx_poa.append(p.get("poa") if isinstance(p, dict) else None)
    sdx = [[x if isinstance(x, dict) else {"code": x, "poa": None} for x in c["sdx"]] for c in claims]
    return pa.table({
        "id": [c["id"] for c in claims],
        "version": [c["version"] for c in claims],
        "age": pa.array([c["age"] for c in claims], pa.int16()),
        "sex": [c["sex"] for c in claims],
        "discharge_status": pa.array([c["discharge_status"] for c in claims], pa.int32()),
        "hospital_status": [c["hospital_status"] for c in claims],
        "pdx": pdx,
        "pdx_poa": pdx_poa,
        "sdx": pa.array(sdx, pa.list_(pa.struct([("code", pa.string()), ("poa", pa.string())]))),
        "procedures": pa.array([c["procedures"] for c in claims], pa.list_(pa.string())),
    }), claims


def as_result(row: dict, detail: bool) -> dict:
    """An Arrow result row in the form of Grouper.group's result dict."""
    out = {}
    if row.get("id") is not None:
        out["id"] = row["id"]
    if row.get("error") is not None:
        out["error"] = row["error"]
        return out
    for name in SUMMARY[:6]:
        out[name] = row[name]
    out["drg_description"] = row["drg_description"]
    out["mdc_description"] = row["mdc_description"]
    out["severity"] = {"initial": row["severity_initial"], "final": row["severity_final"]}
    out["med_surg"] = row["med_surg"]
    out["hac_status"] = row["hac_status"]
    for name in WEIGHTS:
        out[name] = row[name]
    edited = False
    if "edit_type" in row:  # edits=True: the code editor's columns
        if row["edit_error"] is not None:
            out["edit_error"] = row["edit_error"]
        else:
            edited = True
            out["edit_type"] = row["edit_type"]
            out["edits"] = _as_dict(row["edits"])
            d = row["edit_date"]
            out["edit_date"] = d.isoformat() if hasattr(d, "isoformat") else d
            if row["not_checked"] is not None:
                out["not_checked"] = list(row["not_checked"])
    if detail:
        for name in ("pdx", "sdx", "procedures"):
            value = row[name]
            if "edit_type" in row and not edited:  # group() adds no per-code edits then
                value = _without_edits(value)
            out[name] = value
    return out


#: the payment fields (engine.payment) of every grouped result
WEIGHTS = ("fiscal_year", "weights_missing", "weight", "weight_uncapped", "gmlos", "amlos", "post_acute",
           "special_pay", "initial_weight", "transfer", "adjusted_weight", "payment_estimate")


def _as_dict(m) -> dict:
    """A map column's value (pyarrow: (key, value) pairs; polars: {key, value} structs) as a dict."""
    if isinstance(m, dict):
        return m
    return dict((x["key"], x["value"]) if isinstance(x, dict) else tuple(x) for x in m)


def _without_edits(value):
    if isinstance(value, list):
        return [_without_edits(x) for x in value]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "edits"}
    return value
