"""Claims (dicts) to a columnar batch of dense ids, in Python: ``Grouper.encode``
(group_batch's input), and the full path behind the compiled reader
(engine.parse), which hands over every claim it does not take.

A malformed claim never raises: it is marked not-ok with an error naming the
field and the reason, and the kernel skips it.  Codes that are well-formed but
unknown to the grouper are *not* errors: CMS groups them (an invalid principal
diagnosis is return code INVALID_PDX), so they are encoded as id ``-1``.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

import numpy as np

from .tables import VERSIONS

HOSPITAL_STATUS = {"not_exempt": 0, "exempt": 1, "unknown": 2}
_SEX = {"M": 0, "F": 1, "U": 2, 0: 0, 1: 1, 2: 2}
_POA = {None: 32, "": 32, " ": 32, "Y": 89, "N": 78, "U": 85, "W": 87, "1": 49}
_VERSION_TEXT = {f"{v // 10}.{v % 10}": v for v in range(390, 1000) if v % 10 in (0, 1)}
# The CMS grouper takes any whole number of years (its code editor flags an age
# outside 0-124; the grouper still groups the claim): a Java int's range.
MIN_AGE = -(2**31)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_INT_TEXT = re.compile(r"-?0*[0-9]{1,9}")  # digits in a string: at most 9 significant (service.openapi)
MAX_AGE = 2**31 - 1
#: ``Batch.admit_dx`` sentinels: no admitting dx given; a code the grouper does not know
#: (its text is in ``Batch.admit_text``).  A known code is its dx id (>= 0).
ADMIT_ABSENT = -2
ADMIT_UNKNOWN = -1
#: ``Batch.los`` when the claim gives neither ``los`` nor both dates.
LOS_ABSENT = -1
#: Largest length of stay read (days); the compiled reader takes the same range.
MAX_LOS = 99999
_EPOCH = _dt.date(1970, 1, 1)


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


def version_for_date(value, versions=VERSIONS) -> int:
    """The version of ``versions`` (default: the pinned package's; a Grouper passes
    its tables') covering a discharge date; ClaimError if none does (a date past
    the last version's period too: never a fallback)."""
    if isinstance(value, _dt.date):
        d = value
    elif isinstance(value, str):
        try:
            if not _ISO_DATE.fullmatch(value):  # exactly YYYY-MM-DD, as date_days reads it
                raise ValueError
            d = _dt.date.fromisoformat(value)
        except ValueError:
            raise ClaimError("discharge_date", f"not an ISO date (YYYY-MM-DD): {value[:32]!r}") from None
    else:
        raise ClaimError("discharge_date", "must be an ISO date string (YYYY-MM-DD)")
    for v in versions:
        lo, hi = version_dates(v)
        if lo <= d <= hi:
            return v
    first = version_dates(min(versions))[0]
    last = version_dates(max(versions))[1]
    raise ClaimError(
        "discharge_date",
        f"{d.isoformat()} is not covered by a loaded grouper version ({first} to {last})",
    )


def date_days(value, field: str) -> int:
    """A claim date (ISO ``YYYY-MM-DD``, a ``datetime.date``) as days since 1970-01-01."""
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        return (value - _EPOCH).days
    if isinstance(value, str):
        try:
            if not _ISO_DATE.fullmatch(value):  # exactly YYYY-MM-DD (service.openapi.ISO_DATE_PATTERN)
                raise ValueError
            return (_dt.date.fromisoformat(value) - _EPOCH).days
        except ValueError:
            raise ClaimError(field, f"not an ISO date (YYYY-MM-DD): {value[:32]!r}") from None
    raise ClaimError(field, "must be an ISO date string (YYYY-MM-DD)")


def version_start_days(v: int) -> int:
    """The first day of version ``v``'s period, in days since 1970-01-01 (the date
    the MCE edits a claim as of when it gives no discharge date)."""
    return (version_dates(v)[0] - _EPOCH).days


def version_end_days(v: int) -> int:
    """The last day of version ``v``'s period, in days since 1970-01-01."""
    return (version_dates(v)[1] - _EPOCH).days


def claim_dates(get) -> tuple[int, int]:
    """``(los, discharge_days)`` of a claim (``get``: its dict's get): ``los`` as
    given, else discharge_date - admission_date when both are given, else
    LOS_ABSENT; the discharge date in days, None when not given.  ClaimError for a
    malformed value or an admission after the discharge."""
    x = get("discharge_date")
    dis = None if x is None else date_days(x, "discharge_date")
    x = get("admission_date")
    adm = None if x is None else date_days(x, "admission_date")
    x = get("los")
    if x is not None:
        return _int_field(x, "los", 0, MAX_LOS), dis
    if adm is None or dis is None:
        return LOS_ABSENT, dis
    if adm > dis:
        raise ClaimError("admission_date", "after discharge_date")
    # Any stay two valid dates give is kept (up to ~3.65 million days, well inside int32): MAX_LOS
    # bounds the `los` field as written, not the dates (rule_stay_from_dates_unbounded).
    return dis - adm, dis


def parse_version(value, versions=VERSIONS) -> int:
    if isinstance(value, bool):
        raise ClaimError("version", "must be a version such as \"43.1\" or 431")
    if isinstance(value, int):
        if value in versions:
            return value
    elif isinstance(value, str):
        v = _VERSION_TEXT.get(value.strip())
        if v is not None and v in versions:
            return v
        if value.strip().isdigit() and int(value) in versions:
            return int(value)
    elif isinstance(value, float):
        if value.is_integer() and int(value) in versions:  # 431.0: the integer 431
            return int(value)
        v = int(round(value * 10))
        if v in versions:
            return v
    supported = ", ".join(version_label(v) for v in versions)
    raise ClaimError("version", f"unknown grouper version {str(value)[:16]!r}; supported: {supported}")


def normalize_code(value, field: str) -> str:
    if not isinstance(value, str):
        raise ClaimError(field, "code must be a string")
    code = value.replace(".", "").strip().upper()
    if not code:
        raise ClaimError(field, "code is empty")
    if len(code) > 8 or not code.isascii() or not code.replace("@", "").isalnum():  # ICD-10 codes are ASCII
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
        if p < 0 and isinstance(poa, str) and len(poa) == 1 and 33 <= ord(poa) <= 126:
            p = ord(poa)  # a character CMS does not recognise as a POA: grouped as such
        if p < 0:
            raise ClaimError(f"{field}.poa", "POA must be one character (Y, N, U, W, 1, ...) or blank")
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
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        value = int(value)
    elif isinstance(value, float) and value.is_integer():  # JSON's 57.0 is the integer 57 (as JSON Schema reads it)
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
    # claim fields the Medicare Code Editor reads (engine.editing); defaults: not given
    #: the claim's age in years, as given (int32; the grouper's own checks are above)
    age: np.ndarray = None
    #: length of stay, whole days >= 0 (int32); LOS_ABSENT (-1) when not given
    los: np.ndarray = None
    #: the date the MCE edits as of, days since 1970-01-01 (int32): discharge_date,
    #: else the first day of the version's period (v43.1: 2026-04-01)
    edit_date: np.ndarray = None
    #: admitting dx id (int32); ADMIT_ABSENT (-2) when not given, ADMIT_UNKNOWN (-1)
    #: for a code the grouper does not know
    admit_dx: np.ndarray = None
    #: admitting dx as given (normalised), None when absent
    admit_text: list = None

    def __post_init__(self):
        n = len(self.ok)
        if self.age is None:
            self.age = np.full(n, -1, np.int32)
        if self.los is None:
            self.los = np.full(n, LOS_ABSENT, np.int32)
        if self.edit_date is None:
            starts = np.array([version_start_days(v) for v in VERSIONS], np.int32)
            self.edit_date = starts[self.ver.astype(np.int64)] if n else np.zeros(0, np.int32)
        if self.admit_dx is None:
            self.admit_dx = np.full(n, ADMIT_ABSENT, np.int32)
        if self.admit_text is None:
            self.admit_text = [None] * n

    def __len__(self) -> int:
        return len(self.ok)


def _version_index(versions) -> dict:
    """``"44.0"`` and ``440`` -> the version's index in ``versions``."""
    return {**{version_label(v): i for i, v in enumerate(versions)}, **{v: i for i, v in enumerate(versions)}}


_VERSION_INDEX = _version_index(VERSIONS)
_SEX_EXACT = {"M": 0, "F": 1, "U": 2}


def encode_claims(claims, dx_index: dict, pr_index: dict, default_hospital: str = "not_exempt",
                  versions=None) -> Batch:
    """Each field takes a fast path for the form clients send (exact version text,
    plain integers, upper-case codes the grouper knows); anything else goes to
    the full parsers above, which normalise it or name the error.  ``versions``:
    the tables' versions (``meta["versions"]``; default the pinned package's)."""
    versions = VERSIONS if versions is None else tuple(versions)
    n = len(claims)
    ok = [True] * n
    ver = [0] * n
    sex = [0] * n
    dstat = [0] * n
    hosp = [0] * n
    pdx = [-1] * n
    pdx_ecode = [False] * n
    pdx_poa = [32] * n
    sdx_off = [0] * (n + 1)
    px_off = [0] * (n + 1)
    sdx_ids: list[int] = []
    sdx_poa: list[int] = []
    px_ids: list[int] = []
    ids: list = [None] * n
    errors: list = [None] * n
    pdx_text: list = [None] * n
    sdx_text: list = [None] * n
    px_text: list = [None] * n
    age = [-1] * n
    los = [LOS_ABSENT] * n
    edit_date = [0] * n
    admit = [ADMIT_ABSENT] * n
    admit_text: list = [None] * n
    starts = [version_start_days(v) for v in versions]
    dx_get = dx_index.get
    pr_get = pr_index.get
    poa_get = _POA.get
    version_index = (_VERSION_INDEX if versions == VERSIONS else _version_index(versions)).get
    vindex = {v: i for i, v in enumerate(versions)}
    default_h = HOSPITAL_STATUS[default_hospital]
    hospital_get = HOSPITAL_STATUS.get

    for i, c in enumerate(claims):
        s_mark = len(sdx_ids)
        p_mark = len(px_ids)
        try:
            if type(c) is not dict:
                if not isinstance(c, dict):
                    raise ClaimError("$", "claim must be a JSON object")
            get = c.get
            ids[i] = get("id")
            x = get("version")
            if x is not None:
                t = type(x)
                vi = version_index(x) if t is str or t is int else None
                if vi is None:
                    vi = vindex[parse_version(x, versions)]
            elif get("discharge_date") is not None:
                vi = vindex[version_for_date(c["discharge_date"], versions)]
            else:
                raise ClaimError("version", "give 'version' or 'discharge_date'")
            x = get("age")
            if type(x) is not int or not MIN_AGE <= x <= MAX_AGE:
                if "age" not in c:
                    raise ClaimError("age", "missing")
                x = _int_field(x, "age", MIN_AGE, MAX_AGE)
            ag = x
            if get("los") is None and get("discharge_date") is None and get("admission_date") is None:
                ln, dd = LOS_ABSENT, None
            else:
                ln, dd = claim_dates(get)
            x = get("sex")
            sx = _SEX_EXACT.get(x) if type(x) is str else None
            if sx is None:
                if isinstance(x, str):
                    x = x.strip().upper()
                elif isinstance(x, float) and x.is_integer():  # 1.0: the integer 1
                    x = int(x)
                if isinstance(x, bool) or not isinstance(x, (str, int)) or x not in _SEX:
                    raise ClaimError("sex", "must be 'M', 'F' or 'U'")
                sx = _SEX[x]
            x = get("discharge_status")
            if type(x) is not int or not 0 <= x <= 99:
                if "discharge_status" not in c:
                    raise ClaimError("discharge_status", "missing")
                x = _int_field(x, "discharge_status", MIN_AGE, MAX_AGE)
                if not 0 <= x <= 99:
                    x = -1  # no UB-04 code: CMS groups it as an invalid discharge status
            ds = x
            x = get("hospital_status")
            if x is None:
                h = default_h
            else:
                h = hospital_get(x) if type(x) is str else None
                if h is None:
                    h = HOSPITAL_STATUS.get(x.strip().lower() if isinstance(x, str) else None)
                    if h is None:
                        raise ClaimError("hospital_status", "must be 'not_exempt', 'exempt' or 'unknown'")
            item = get("pdx")
            if item is None:
                raise ClaimError("pdx", "missing principal diagnosis")
            if type(item) is dict:
                raw = item.get("code")
                x = item.get("poa")
                p = poa_get(x, -1) if (x is None or type(x) is str) else -1
            else:
                raw = item
                p = 32
            did = dx_get(raw) if type(raw) is str else None
            if did is None or p < 0:
                code, p = _dx_item(item, "pdx")
                did = dx_get(code, -1)
            else:
                code = raw
            x = get("admit_dx")
            if x is None:
                ad, atext = ADMIT_ABSENT, None
            else:
                ad = dx_get(x) if type(x) is str else None
                if ad is None:
                    atext = _dx_item(x, "admit_dx")[0]
                    ad = dx_get(atext, ADMIT_UNKNOWN)
                else:
                    atext = x
            sd = get("sdx") or []
            if not isinstance(sd, (list, tuple)):  # a tuple: as JSON writes it (see Grouper.group)
                raise ClaimError("sdx", "must be a list")
            texts = []
            for j, item in enumerate(sd):
                # fast path: a known code as given, with a plain POA letter (the same
                # lines as the pdx's above, written out: a helper call per code measured
                # 36,000 against 44,000 claims/s for the whole encode)
                if type(item) is dict:
                    raw = item.get("code")
                    x = item.get("poa")
                    q = poa_get(x, -1) if (x is None or type(x) is str) else -1
                else:
                    raw = item
                    q = 32
                sid = dx_get(raw) if type(raw) is str else None
                if sid is None or q < 0:
                    scode, q = _dx_item(item, f"sdx[{j}]")
                    sid = dx_get(scode, -1)
                else:
                    scode = raw
                sdx_ids.append(sid)
                sdx_poa.append(q)
                texts.append(scode)
            pr = get("procedures") or []
            if not isinstance(pr, (list, tuple)):
                raise ClaimError("procedures", "must be a list")
            ptexts = []
            for j, item in enumerate(pr):
                raw = item.get("code") if type(item) is dict else item
                pid = pr_get(raw) if type(raw) is str else None
                if pid is None:
                    pcode = _px_item(item, f"procedures[{j}]")
                    pid = pr_get(pcode, -1)
                else:
                    pcode = raw
                px_ids.append(pid)
                ptexts.append(pcode)
            ver[i] = vi
            sex[i] = sx
            dstat[i] = ds
            hosp[i] = h
            pdx[i] = did
            pdx_ecode[i] = code[0] in "VWXY"
            pdx_poa[i] = p
            pdx_text[i] = code
            sdx_text[i] = texts
            px_text[i] = ptexts
            age[i] = ag
            los[i] = ln
            edit_date[i] = starts[vi] if dd is None else dd
            admit[i] = ad
            admit_text[i] = atext
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
        ok=np.array(ok, np.bool_), ver=np.array(ver, np.int8), sex=np.array(sex, np.int8),
        dstat=np.array(dstat, np.int16), hosp=np.array(hosp, np.int8), pdx=np.array(pdx, np.int32),
        pdx_ecode=np.array(pdx_ecode, np.bool_), pdx_poa=np.array(pdx_poa, np.uint8),
        sdx_off=np.array(sdx_off, np.int64), sdx=np.array(sdx_ids, np.int32),
        sdx_poa=np.array(sdx_poa, np.uint8), px_off=np.array(px_off, np.int64), px=np.array(px_ids, np.int32),
        ids=ids, errors=errors, pdx_text=pdx_text, sdx_text=sdx_text, px_text=px_text,
        age=np.array(age, np.int32), los=np.array(los, np.int32), edit_date=np.array(edit_date, np.int32),
        admit_dx=np.array(admit, np.int32), admit_text=admit_text,
    )
