"""Claims (dicts) to a columnar batch of dense ids: the only per-claim Python work
before the kernel.

A malformed claim never raises: it is marked not-ok with an error naming the
field and the reason, and the kernel skips it.  Codes that are well-formed but
unknown to the grouper are *not* errors: CMS groups them (an invalid principal
diagnosis is return code INVALID_PDX), so they are encoded as id ``-1``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np

from .tables import VERSIONS

HOSPITAL_STATUS = {"not_exempt": 0, "exempt": 1, "unknown": 2}
_SEX = {"M": 0, "F": 1, "U": 2, 0: 0, 1: 1, 2: 2}
_POA = {None: 32, "": 32, " ": 32, "Y": 89, "N": 78, "U": 85, "W": 87, "1": 49}
_VERSION_TEXT = {f"{v // 10}.{v % 10}": v for v in VERSIONS}
MAX_AGE = 124


class ClaimError(ValueError):
    """A claim field the grouper cannot read; ``field`` is its JSON path."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def as_dict(self) -> dict:
        return {"field": self.field, "reason": self.reason}


def version_label(v: int) -> str:
    return f"{v // 10}.{v % 10}"


def version_dates(v: int) -> tuple[_dt.date, _dt.date]:
    """Discharge dates a version covers: vN.0 Oct 1 - Mar 31, vN.1 Apr 1 - Sep 30
    of fiscal year N + 1983."""
    fy = v // 10 + 1983
    if v % 10 == 0:
        return _dt.date(fy - 1, 10, 1), _dt.date(fy, 3, 31)
    return _dt.date(fy, 4, 1), _dt.date(fy, 9, 30)


def version_for_date(value) -> int:
    """The bundled version covering a discharge date; ClaimError if none does."""
    if isinstance(value, _dt.date):
        d = value
    elif isinstance(value, str):
        try:
            d = _dt.date.fromisoformat(value[:10])
        except ValueError:
            raise ClaimError("discharge_date", f"not an ISO date (YYYY-MM-DD): {value[:32]!r}") from None
    else:
        raise ClaimError("discharge_date", "must be an ISO date string (YYYY-MM-DD)")
    for v in VERSIONS:
        lo, hi = version_dates(v)
        if lo <= d <= hi:
            return v
    first = version_dates(VERSIONS[0])[0]
    last = version_dates(VERSIONS[-1])[1]
    raise ClaimError(
        "discharge_date",
        f"{d.isoformat()} is not covered by a bundled grouper version ({first} to {last})",
    )


def parse_version(value) -> int:
    if isinstance(value, bool):
        raise ClaimError("version", "must be a version such as \"43.1\" or 431")
    if isinstance(value, int):
        if value in VERSIONS:
            return value
    elif isinstance(value, str):
        v = _VERSION_TEXT.get(value.strip())
        if v is not None:
            return v
        if value.strip().isdigit() and int(value) in VERSIONS:
            return int(value)
    elif isinstance(value, float):
        v = int(round(value * 10))
        if v in VERSIONS:
            return v
    supported = ", ".join(version_label(v) for v in VERSIONS)
    raise ClaimError("version", f"unknown grouper version {str(value)[:16]!r}; supported: {supported}")


def normalize_code(value, field: str) -> str:
    if not isinstance(value, str):
        raise ClaimError(field, "code must be a string")
    code = value.replace(".", "").strip().upper()
    if not code:
        raise ClaimError(field, "code is empty")
    if len(code) > 8 or not code.replace("@", "").isalnum():
        raise ClaimError(field, f"not an ICD-10 code: {value[:16]!r}")
    return code


def _dx_item(item, field: str) -> tuple[str, int]:
    if isinstance(item, dict):
        if "code" not in item:
            raise ClaimError(field, "missing 'code'")
        code = normalize_code(item["code"], f"{field}.code")
        poa = item.get("poa")
        if isinstance(poa, str):
            poa = poa.strip().upper()
        p = _POA.get(poa, -1) if (poa is None or isinstance(poa, str)) else -1
        if p < 0:
            raise ClaimError(f"{field}.poa", "POA must be one of Y, N, U, W, 1 or blank")
        return code, p
    return normalize_code(item, field), 32


def _px_item(item, field: str) -> str:
    if isinstance(item, dict):
        if "code" not in item:
            raise ClaimError(field, "missing 'code'")
        return normalize_code(item["code"], f"{field}.code")
    return normalize_code(item, field)


def _int_field(value, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise ClaimError(field, "must be an integer")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise ClaimError(field, "must be an integer")
    if not lo <= value <= hi:
        raise ClaimError(field, f"must be between {lo} and {hi}")
    return value


@dataclass
class Batch:
    """Claims as columns.  ``sdx``/``px`` are flat with CSR offsets; ``errors[i]``
    is None for a claim the kernel groups, else its error dict."""

    ok: np.ndarray
    ver: np.ndarray
    sex: np.ndarray
    dstat: np.ndarray
    hosp: np.ndarray
    pdx: np.ndarray
    pdx_ecode: np.ndarray
    pdx_poa: np.ndarray
    sdx_off: np.ndarray
    sdx: np.ndarray
    sdx_poa: np.ndarray
    px_off: np.ndarray
    px: np.ndarray
    ids: list
    errors: list
    # codes as given (normalised), for the result's per-code echo
    pdx_text: list
    sdx_text: list
    px_text: list

    def __len__(self) -> int:
        return len(self.ok)


def encode_claims(claims, dx_index: dict, pr_index: dict, default_hospital: str = "not_exempt") -> Batch:
    n = len(claims)
    ok = np.ones(n, np.bool_)
    ver = np.zeros(n, np.int8)
    sex = np.zeros(n, np.int8)
    dstat = np.zeros(n, np.int16)
    hosp = np.zeros(n, np.int8)
    pdx = np.full(n, -1, np.int32)
    pdx_ecode = np.zeros(n, np.bool_)
    pdx_poa = np.full(n, 32, np.uint8)
    sdx_off = np.zeros(n + 1, np.int64)
    px_off = np.zeros(n + 1, np.int64)
    sdx_ids: list[int] = []
    sdx_poa: list[int] = []
    px_ids: list[int] = []
    ids: list = [None] * n
    errors: list = [None] * n
    pdx_text: list = [None] * n
    sdx_text: list = [None] * n
    px_text: list = [None] * n
    dx_get = dx_index.get
    pr_get = pr_index.get
    vindex = {v: i for i, v in enumerate(VERSIONS)}
    default_h = HOSPITAL_STATUS[default_hospital]

    for i, c in enumerate(claims):
        s_mark = len(sdx_ids)
        p_mark = len(px_ids)
        try:
            if not isinstance(c, dict):
                raise ClaimError("$", "claim must be a JSON object")
            ids[i] = c.get("id")
            if c.get("version") is not None:
                v = parse_version(c["version"])
            elif c.get("discharge_date") is not None:
                v = version_for_date(c["discharge_date"])
            else:
                raise ClaimError("version", "give 'version' or 'discharge_date'")
            ver[i] = vindex[v]
            if "age" not in c:
                raise ClaimError("age", "missing")
            _int_field(c["age"], "age", 0, MAX_AGE)
            sx = c.get("sex")
            if isinstance(sx, str):
                sx = sx.strip().upper()
            if isinstance(sx, bool) or not isinstance(sx, (str, int)) or sx not in _SEX:
                raise ClaimError("sex", "must be 'M', 'F' or 'U'")
            sex[i] = _SEX[sx]
            if "discharge_status" not in c:
                raise ClaimError("discharge_status", "missing")
            dstat[i] = _int_field(c["discharge_status"], "discharge_status", 0, 99)
            hs = c.get("hospital_status")
            if hs is None:
                hosp[i] = default_h
            else:
                h = HOSPITAL_STATUS.get(hs.strip().lower() if isinstance(hs, str) else None)
                if h is None:
                    raise ClaimError("hospital_status", "must be 'not_exempt', 'exempt' or 'unknown'")
                hosp[i] = h
            if c.get("pdx") is None:
                raise ClaimError("pdx", "missing principal diagnosis")
            code, poa = _dx_item(c["pdx"], "pdx")
            pdx[i] = dx_get(code, -1)
            pdx_ecode[i] = code[0] in "VWXY"
            pdx_poa[i] = poa
            pdx_text[i] = code
            if c.get("admit_dx") is not None:
                _dx_item(c["admit_dx"], "admit_dx")
            sd = c.get("sdx") or []
            if not isinstance(sd, list):
                raise ClaimError("sdx", "must be a list")
            texts = []
            for j, item in enumerate(sd):
                # fast path: a known code as given, with a plain POA letter
                if type(item) is dict:
                    raw = item.get("code")
                    pv = item.get("poa")
                    p = _POA.get(pv, -1) if (pv is None or type(pv) is str) else -1
                else:
                    raw = item
                    p = 32
                did = dx_get(raw) if type(raw) is str else None
                if did is None or p < 0:
                    code, p = _dx_item(item, f"sdx[{j}]")
                    did = dx_get(code, -1)
                else:
                    code = raw
                sdx_ids.append(did)
                sdx_poa.append(p)
                texts.append(code)
            sdx_text[i] = texts
            pr = c.get("procedures") or []
            if not isinstance(pr, list):
                raise ClaimError("procedures", "must be a list")
            texts = []
            for j, item in enumerate(pr):
                raw = item.get("code") if type(item) is dict else item
                pid = pr_get(raw) if type(raw) is str else None
                if pid is None:
                    code = _px_item(item, f"procedures[{j}]")
                    pid = pr_get(code, -1)
                else:
                    code = raw
                px_ids.append(pid)
                texts.append(code)
            px_text[i] = texts
        except ClaimError as e:
            ok[i] = False
            errors[i] = e.as_dict()
            del sdx_ids[s_mark:]
            del sdx_poa[s_mark:]
            del px_ids[p_mark:]
            sdx_text[i] = []
            px_text[i] = []
        sdx_off[i + 1] = len(sdx_ids)
        px_off[i + 1] = len(px_ids)

    return Batch(
        ok=ok, ver=ver, sex=sex, dstat=dstat, hosp=hosp, pdx=pdx, pdx_ecode=pdx_ecode,
        pdx_poa=pdx_poa, sdx_off=sdx_off, sdx=np.array(sdx_ids, np.int32),
        sdx_poa=np.array(sdx_poa, np.uint8), px_off=px_off, px=np.array(px_ids, np.int32),
        ids=ids, errors=errors, pdx_text=pdx_text, sdx_text=sdx_text, px_text=px_text,
    )
