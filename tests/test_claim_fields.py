"""The claim fields the Medicare Code Editor reads (age, los, edit_date, admit_dx):
the Python encoder and the compiled reader (engine.parse) give the same columns."""

from __future__ import annotations

import datetime

import numpy as np
import orjson
import pytest

from engine import parse as P
from engine.encode import ADMIT_ABSENT, ADMIT_UNKNOWN, LOS_ABSENT

BASE = {"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I5021"}
DAY = lambda s: (datetime.date.fromisoformat(s) - datetime.date(1970, 1, 1)).days  # noqa: E731

CASES = [
    ({}, dict(age=70, los=LOS_ABSENT, edit_date=DAY("2026-04-01"), admit_dx=ADMIT_ABSENT)),
    ({"version": "40.0"}, dict(edit_date=DAY("2022-10-01"))),
    ({"los": 0}, dict(los=0)),
    ({"los": 12, "admission_date": "2026-01-01", "discharge_date": "2026-01-03"},
     dict(los=12, edit_date=DAY("2026-01-03"))),
    ({"admission_date": "2026-02-27", "discharge_date": "2026-03-02"}, dict(los=3, edit_date=DAY("2026-03-02"))),
    ({"admission_date": "2024-02-28", "discharge_date": "2024-03-01"}, dict(los=2)),
    ({"admission_date": "2026-02-27"}, dict(los=LOS_ABSENT)),
    ({"discharge_date": "2026-12-31"}, dict(los=LOS_ABSENT, edit_date=DAY("2026-12-31"))),
    ({"discharge_date": "1999-01-01"}, dict(edit_date=DAY("1999-01-01"))),
    ({"discharge_date": "1969-12-31"}, dict(edit_date=-1)),
    ({"los": "7"}, dict(los=7)),
    ({"los": None, "admit_dx": None}, dict(los=LOS_ABSENT, admit_dx=ADMIT_ABSENT)),
    ({"admit_dx": "R69"}, dict(admit_dx="R69")),
    ({"admit_dx": "r6.9"}, dict(admit_dx="R69")),
    ({"admit_dx": "Q9999"}, dict(admit_dx=ADMIT_UNKNOWN)),
    ({"age": "7"}, dict(age=7)),
]
ERRORS = [
    ({"los": -1}, "los"), ({"los": 100000}, "los"), ({"los": 1.5}, "los"),
    ({"discharge_date": "2026-02-30"}, "discharge_date"), ({"discharge_date": 20260501}, "discharge_date"),
    # exactly YYYY-MM-DD, as the contract says (tests/test_contract.py: rule_date_is_exactly_iso)
    ({"discharge_date": "20260501"}, "discharge_date"), ({"discharge_date": "2026-05-01T10:00"}, "discharge_date"),
    ({"admission_date": "2026-03-03", "discharge_date": "2026-03-02"}, "admission_date"),
    ({"admission_date": "x", "los": 3}, "admission_date"),
]


def _compiled(grouper, claims):
    texts = [orjson.dumps(c) for c in claims]
    lengths = np.array([len(t) for t in texts], np.int64)
    spans = np.zeros((len(texts), 2), np.int64)
    spans[1:, 0] = np.cumsum(lengths)[:-1]
    spans[:, 1] = spans[:, 0] + lengths
    buf = np.frombuffer(b"".join(texts), np.uint8)
    batch, *_ = P.read_batch(buf, spans, grouper._reader, 0)
    return batch


def test_claim_fields_both_paths(grouper):
    claims = [{**BASE, **extra} for extra, _ in CASES]
    enc = grouper.encode(claims)
    comp = _compiled(grouper, claims)
    dx = grouper.tables.dx_index
    for i, (extra, want) in enumerate(CASES):
        assert enc.ok[i], (extra, enc.errors[i])
        for name, value in want.items():
            if name == "admit_dx" and isinstance(value, str):
                value = dx[value]
            assert getattr(enc, name)[i] == value, (extra, name)
        if comp.ok[i]:  # the compiled reader took it: the same columns
            for name in ("age", "los", "edit_date", "admit_dx", "ver"):
                assert getattr(comp, name)[i] == getattr(enc, name)[i], (extra, name)
    assert enc.admit_text[CASES.index(CASES[-2])] == "Q9999"
    assert enc.los.dtype == np.int32 and enc.age.dtype == np.int32
    assert enc.edit_date.dtype == np.int32 and enc.admit_dx.dtype == np.int32
    assert comp.los.dtype == np.int32 and comp.age.dtype == np.int32


@pytest.mark.parametrize("extra,field", ERRORS)
def test_claim_field_errors(grouper, extra, field):
    batch = grouper.encode([{**BASE, **extra}])
    assert not batch.ok[0] and batch.errors[0]["field"] == field
    assert not _compiled(grouper, [{**BASE, **extra}]).ok[0]


def test_version_by_discharge_date_rule_compiled_reader(grouper):
    """A claim without a version (absent or null) takes the loaded version whose
    period holds its discharge date: the compiled reader reads it and picks what
    engine.encode.version_for_date picks, on each period's first and last day; a
    date no loaded version covers is left to the encoder, which names it; a given
    version wins over the date."""
    from engine.encode import version_dates

    base = {k: v for k, v in BASE.items() if k != "version"}
    covered = []
    for v in grouper.version_numbers:
        lo, hi = version_dates(v)
        covered += [{"discharge_date": lo.isoformat()}, {"discharge_date": hi.isoformat(), "version": None}]
    first = min(version_dates(v)[0] for v in grouper.version_numbers)
    last = max(version_dates(v)[1] for v in grouper.version_numbers)
    uncovered = [{"discharge_date": (first - datetime.timedelta(days=1)).isoformat()},
                 {"discharge_date": (last + datetime.timedelta(days=1)).isoformat()}]
    claims = [{**base, **extra} for extra in covered + uncovered]
    claims.append({**base, "version": "40.0", "discharge_date": version_dates(grouper.version_numbers[-1])[0].isoformat()})
    enc = grouper.encode(claims)
    comp = _compiled(grouper, claims)
    for i, c in enumerate(claims):
        if i in range(len(covered), len(covered) + len(uncovered)):
            assert not comp.ok[i] and not enc.ok[i] and enc.errors[i]["field"] == "discharge_date", c
            continue
        assert comp.ok[i] and enc.ok[i], (c, enc.errors[i])
        assert comp.ver[i] == enc.ver[i] and comp.edit_date[i] == enc.edit_date[i], c
    assert grouper.versions[enc.ver[-1]] == "40.0"  # the given version
    # and the results: the text path's (the compiled reader) are the encoder's
    texts = [orjson.dumps(c) for c in claims[:len(covered)]]
    got = [orjson.loads(d) for d in grouper.group_json_texts(texts).documents]
    batch = grouper.encode(claims[:len(covered)])
    assert got == grouper.decode(batch, grouper.group_batch(batch))
