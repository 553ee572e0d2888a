"""Adapter between fastdrg's claim/result dicts and the ``msdrg`` package.

msdrg (PyPI, Zig core) is an independent MS-DRG grouper. We use it as a
*second opinion* in differential tests and benchmarks — never as the truth
(the official CMS results in shared/eval are the truth; msdrg is known to
differ from them in a few documented ways, see ``KNOWN_MSDRG_DIFFERENCES``).

Two directions are covered here:

* ``to_msdrg(claim)``: OUR claim dict (docs/engine-interface.md) -> msdrg's
  input dict (integer version/sex/discharge status, upper-case hospital
  status, ``{"code", "poa"}`` dicts).
* ``from_msdrg(raw)``: msdrg's output -> OUR five graded fields
  (``drg``/``mdc``/``initial_drg``/``initial_mdc`` as zero-padded strings and
  ``return_code`` with the CMS name), plus ``detail_from_msdrg`` for the
  per-code output in the shape of ``expect.detail`` of public_claims.jsonl.

And ``public_to_claim(line)`` turns a public_claims.jsonl record into OUR
claim dict, so the same records feed both our engine and msdrg.

This module only uses msdrg's documented API (``MsdrgGrouper.group`` and,
to get past its Python-side POA validation, the documented C entry point
``msdrg_group_json``).
"""

from __future__ import annotations

import ctypes
import json
from typing import Any

# --------------------------------------------------------------------------
# value maps
# --------------------------------------------------------------------------

SEX_TO_MSDRG = {"M": 0, "F": 1, "U": 2, 0: 0, 1: 1, 2: 2}
HOSPITAL_TO_MSDRG = {
    "NOT_EXEMPT": "NOT_EXEMPT",
    "NON_EXEMPT": "NOT_EXEMPT",
    "EXEMPT": "EXEMPT",
    "UNKNOWN": "UNKNOWN",
}
HOSPITAL_FROM_PUBLIC = {"NON_EXEMPT": "not_exempt", "EXEMPT": "exempt", "UNKNOWN": "unknown"}

# msdrg return-code names that differ from the CMS names used by our engine
# and by shared/eval (CMS uses INVALID_PDX; msdrg's enum also has an older
# spelling that we fold onto it).
RETURN_CODE_FROM_MSDRG = {
    "INVALID_PRINCIPAL_DIAGNOSIS": "INVALID_PDX",
}

# POA values msdrg's Python layer accepts; CMS also accepts "1" (exempt).
MSDRG_ACCEPTED_POA = {"Y", "N", "U", "W", " "}

GRADED_FIELDS = ("drg", "mdc", "initial_drg", "initial_mdc", "return_code")


class OracleUnsupported(ValueError):
    """The claim cannot be expressed in msdrg's input (compare nothing)."""


# --------------------------------------------------------------------------
# claim conversion
# --------------------------------------------------------------------------


def normalise_code(code: Any) -> str:
    """Codes may carry a dot, spaces or lower case in our input; msdrg wants bare upper case."""
    if not isinstance(code, str):
        raise OracleUnsupported(f"code is not a string: {code!r}")
    return code.replace(".", "").strip().upper()


def _version_int(claim: dict) -> int:
    v = claim.get("version")
    if v is None:
        if "discharge_date" in claim:
            # Lazy: only claims that use dates need the engine's calendar.
            from engine import version_for_date

            v = version_for_date(claim["discharge_date"])
        else:
            raise OracleUnsupported("claim has neither version nor discharge_date")
    if isinstance(v, bool):
        raise OracleUnsupported(f"bad version {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        s = v.strip()
        if "." in s:
            major, _, minor = s.partition(".")
            if major.isdigit() and minor.isdigit() and len(minor) == 1:
                return int(major) * 10 + int(minor)
        elif s.isdigit():
            return int(s)
    raise OracleUnsupported(f"bad version {v!r}")


def _dx(entry: Any) -> dict:
    if isinstance(entry, str):
        return {"code": normalise_code(entry)}
    if isinstance(entry, dict) and "code" in entry:
        out = {"code": normalise_code(entry["code"])}
        poa = entry.get("poa")
        if poa not in (None, ""):
            out["poa"] = str(poa).upper()
        return out
    raise OracleUnsupported(f"bad diagnosis entry {entry!r}")


def _px(entry: Any) -> dict:
    if isinstance(entry, str):
        return {"code": normalise_code(entry)}
    if isinstance(entry, dict) and "code" in entry:
        return {"code": normalise_code(entry["code"])}
    raise OracleUnsupported(f"bad procedure entry {entry!r}")


def to_msdrg(claim: dict) -> dict:
    """OUR claim dict -> msdrg input dict. Raises OracleUnsupported when impossible."""
    sex = claim.get("sex", "U")
    if isinstance(sex, str):
        sex = sex.strip().upper()
    if sex not in SEX_TO_MSDRG:
        raise OracleUnsupported(f"sex {sex!r}")
    ds = claim.get("discharge_status", 0)
    try:
        ds = int(ds)
    except (TypeError, ValueError):
        raise OracleUnsupported(f"discharge_status {ds!r}") from None
    hs = str(claim.get("hospital_status") or "not_exempt").strip().upper()
    if hs not in HOSPITAL_TO_MSDRG:
        raise OracleUnsupported(f"hospital_status {hs!r}")
    age = claim.get("age", 0)
    if isinstance(age, bool) or not isinstance(age, int):
        raise OracleUnsupported(f"age {age!r}")
    if "pdx" not in claim or claim["pdx"] is None:
        raise OracleUnsupported("no pdx")
    out = {
        "version": _version_int(claim),
        "age": age,
        "sex": SEX_TO_MSDRG[sex],
        "discharge_status": ds,
        "hospital_status": HOSPITAL_TO_MSDRG[hs],
        "pdx": _dx(claim["pdx"]),
        "sdx": [_dx(d) for d in claim.get("sdx") or []],
        "procedures": [_px(p) for p in claim.get("procedures") or []],
    }
    if claim.get("admit_dx"):
        out["admit_dx"] = _dx(claim["admit_dx"])
    return out


def public_to_claim(rec: dict) -> dict:
    """A shared/eval/public_claims.jsonl record -> OUR claim dict."""
    v = int(rec["version"])
    claim = {
        "id": rec["id"],
        "version": f"{v // 10}.{v % 10}",
        "age": rec["age"],
        "sex": rec["sex"],
        "discharge_status": rec["dstat"],
        "hospital_status": HOSPITAL_FROM_PUBLIC[rec["hospital_status"]],
        "pdx": {"code": rec["pdx"], "poa": rec["pdx_poa"]} if rec.get("pdx_poa") else rec["pdx"],
        "sdx": [{"code": c, "poa": p} if p else c for c, p in rec["sdx"]],
        "procedures": list(rec["px"]),
    }
    return claim


def expect_fields(rec: dict) -> dict:
    """The five graded fields of a public record's ``expect`` in OUR string form."""
    e = rec["expect"]
    return {
        "drg": fmt_drg(e["drg"]),
        "mdc": fmt_mdc(e["mdc"]),
        "initial_drg": fmt_drg(e["initial_drg"]),
        "initial_mdc": fmt_mdc(e["initial_mdc"]),
        "return_code": e["rc"],
    }


def fmt_drg(v: Any) -> str | None:
    return None if v is None else f"{int(v):03d}"


def fmt_mdc(v: Any) -> str | None:
    return None if v is None else f"{int(v):02d}"


# --------------------------------------------------------------------------
# result conversion
# --------------------------------------------------------------------------


def from_msdrg(raw: dict) -> dict:
    """msdrg output -> OUR five graded fields (ungroupable: DRG 999, MDC 00 as CMS)."""
    rc = raw.get("return_code") or "OK"
    rc = RETURN_CODE_FROM_MSDRG.get(rc, rc)

    def drg(v):
        return "999" if v in (None, 0) else fmt_drg(v)

    def mdc(v):
        return "00" if v is None else fmt_mdc(v)

    return {
        "drg": drg(raw.get("final_drg")),
        "mdc": mdc(raw.get("final_mdc")),
        "initial_drg": drg(raw.get("initial_drg")),
        "initial_mdc": mdc(raw.get("initial_mdc")),
        "return_code": rc,
    }


def _hacs(dx_out: dict) -> list:
    return [[h.get("hac_number"), h.get("hac_status")] for h in dx_out.get("hacs") or []]


def detail_from_msdrg(raw: dict, claim_sdx_codes: list[str], claim_px_codes: list[str]) -> dict:
    """msdrg per-code output in the shape of public ``expect.detail`` (where msdrg has it).

    msdrg does not report per-code initial/final severity *usage* (only the
    code's own severity) nor med/surg, so those slots are None. Its sdx/proc
    lists may come back reordered: we re-align them to the claim's order by
    code (the k-th occurrence of a code matches the k-th occurrence).
    """

    def align(items: list, codes: list[str]) -> list:
        pools: dict[str, list] = {}
        for it in items:
            pools.setdefault(it.get("code"), []).append(it)
        out = []
        for c in codes:
            pool = pools.get(c)
            out.append(pool.pop(0) if pool else None)
        return out

    def dx_row(d):
        if d is None:
            return None
        return [d.get("code"), d.get("drg_impact"), None, None, d.get("poa_error"), _hacs(d)]

    def px_row(p):
        if p is None:
            return None
        return [p.get("code"), p.get("drg_impact"), list(p.get("hac_usage") or [])]

    flags = raw.get("grouper_flags") or {}
    return {
        "final_severity": raw.get("final_severity"),
        "initial_severity": raw.get("initial_severity"),
        "final_med_surg": None,
        "hac_status": flags.get("hac_status_value"),
        "pdx": dx_row(raw.get("pdx_output")),
        "sdx": [dx_row(d) for d in align(raw.get("sdx_output") or [], claim_sdx_codes)],
        "px": [px_row(p) for p in align(raw.get("proc_output") or [], claim_px_codes)],
    }


# --------------------------------------------------------------------------
# the oracle
# --------------------------------------------------------------------------


class MsdrgOracle:
    """Groups OUR claim dicts with msdrg.

    ``lenient=True`` sends claims straight to msdrg's C entry point
    (``msdrg_group_json``), skipping its Python validation, which rejects the
    CMS-valid POA value "1"; the Zig core then sees the raw byte. With
    ``lenient=False`` such claims raise OracleUnsupported.
    """

    def __init__(self, lenient: bool = True):
        import msdrg  # local: tests that never need the oracle don't import it

        self._g = msdrg.MsdrgGrouper()
        self.lenient = lenient

    def close(self) -> None:
        if self._g is not None:
            self._g.close()
            self._g = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def raw(self, msdrg_claim: dict) -> dict:
        """Group an msdrg-shaped claim; returns msdrg's raw output dict."""
        needs_bypass = any(
            d.get("poa") not in (None,) and d.get("poa") not in MSDRG_ACCEPTED_POA
            for d in [msdrg_claim["pdx"], *msdrg_claim["sdx"]]
        )
        if not needs_bypass:
            try:
                return self._g.group(msdrg_claim)
            except RuntimeError as e:  # msdrg returns null for e.g. unsupported versions
                raise OracleUnsupported(str(e)) from None
        if not self.lenient:
            raise OracleUnsupported("msdrg rejects a POA value outside Y/N/U/W")
        lib = self._g.lib
        ptr = lib.msdrg_group_json(self._g.ctx, json.dumps(msdrg_claim).encode())
        if not ptr:
            raise OracleUnsupported("msdrg returned null")
        try:
            return json.loads(ctypes.cast(ptr, ctypes.c_char_p).value.decode())
        finally:
            lib.msdrg_string_free(ptr)

    def group(self, claim: dict) -> dict:
        """OUR claim -> OUR five graded fields (plus ``id``)."""
        res = from_msdrg(self.raw(to_msdrg(claim)))
        if "id" in claim:
            res["id"] = claim["id"]
        return res
