"""The Medicare Code Editor's release data (``mce.bin``) as plain records.

The MCE itself is built elsewhere (branch ``mce``); the importer only reads
what CMS ships and stores it in a documented form, so the code editor can
take it from the data directory (``store.mce_imports()[i]["records"]``):

    {"version": int, "date_format": str, "termination_date": str,
     "age_ranges": [{"group", "start_age", "end_age", "start", "end"}],
     "discharge_statuses": [{"code", "start", "end"}],
     "icd10_dx": [{"code", "start", "end", "flags": [str]}],
     "icd10_pcs": [...same...]}

Dates are the file's own strings (``date_format`` tells how to read them).
Field numbers (mce.Root, proto2): 1 ageRangeRoot (1 entries: 1 ageGroup,
2 startAge, 3 endAge, 4 startDate, 5 endDate), 2 dischargeStatusRoot
(1 entries: 1 code, 2 startDate, 3 endDate), 3 i10DxMasterRoot,
4 i10SgMasterRoot (1 entries: 1 code, 2 startDate, 3 endDate, 4 flags),
5/6 the ICD-9 masters (not read), 7 dateFormat, 8 version, 9 terminationDate.
"""

from __future__ import annotations

from . import wire as w
from .wire import WireError


class MceFormatError(ValueError):
    """The data is not a Medicare Code Editor release's ``Root`` message."""


def _entries(data, span, spec):
    if span is None:
        return []
    return [w.decode(data, w.message(wt, val), spec, proto2=True) for n, wt, val in w.fields(data, *span) if n == 1]


def decode_mce(data: bytes) -> dict:
    """The records of an ``mce.bin`` (MceFormatError if it is not one)."""
    mv = memoryview(data)
    try:
        root = w.decode(mv, (0, len(mv)), {1: ("ages", "msg"), 2: ("dstat", "msg"), 3: ("dx", "msg"),
                                           4: ("pcs", "msg"), 7: ("date_format", "str"), 8: ("version", "int"),
                                           9: ("termination_date", "str")}, proto2=True)
        if root["dx"] is None or root["pcs"] is None:
            raise MceFormatError("no ICD-10 code masters")
        code = {1: ("code", "str"), 2: ("start", "str"), 3: ("end", "str"), 4: ("flags", "strs")}
        records = {
            "version": root["version"], "date_format": root["date_format"],
            "termination_date": root["termination_date"],
            "age_ranges": _entries(mv, root["ages"], {1: ("group", "str"), 2: ("start_age", "int"),
                                                      3: ("end_age", "int"), 4: ("start", "str"), 5: ("end", "str")}),
            "discharge_statuses": _entries(mv, root["dstat"], {1: ("code", "int"), 2: ("start", "str"),
                                                               3: ("end", "str")}),
            "icd10_dx": _entries(mv, root["dx"], code),
            "icd10_pcs": _entries(mv, root["pcs"], code),
        }
    except WireError as e:
        raise MceFormatError(f"not a well-formed protobuf message ({e})") from None
    if not records["icd10_dx"] or any(r["code"] is None for r in records["icd10_dx"][:100]):
        raise MceFormatError("no ICD-10 diagnosis codes")
    return records
