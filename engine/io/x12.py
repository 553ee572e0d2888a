"""ASC X12 837 Institutional (005010X223) claim files in, grouping results out.

Why: clearinghouses and payers move inpatient claims as 837I files, thousands
of claims each.  The mapping from an 837I to a claim (POA in the ninth
component, ICD-9 vs ICD-10 qualifiers, which date is the discharge, whose
birth date counts, external-cause codes, the billed DRG) is where wrong DRGs
are born, so the engine reads the file itself; ``docs/x12.md`` writes the
mapping down with the TR3's element names.

How: one compiled pass (engine.io.x12_scan) walks the segments with the delimiters
each ISA header declares, checks the envelopes (ISA/IEA, GS/GE, ST/SE and their
counts and control numbers), follows the loops (2000A billing provider, 2000B
subscriber, 2000C patient, 2300 claim) and writes each claim as the JSON text
the compiled JSON reader (engine.parse) takes, into one buffer with its spans:
no Python object per segment or claim.  The texts go through the same
pipeline as NDJSON (``Grouper.group_json_texts``), so a claim from an 837I
groups exactly as its JSON twin.  A claim the file codes wrongly (ICD-9
qualifiers, no principal diagnosis, no birth date, ...) gets its own error
naming the element in TR3 terms (``2300 HI ABK``); a file that is not an 837I,
or is truncated, or whose counts disagree raises :class:`X12Error` naming the
segment number.

Nothing of a name, member id, address or birth date leaves this module: a
result holds the claim's codes, its id (CLM01), where it stood in the file
(ISA13, GS06, ST02, the claim's ordinal) and the DRG it billed.

Public surface: :func:`read` (the columnar claims), :func:`group` (JSON
documents, for the command line and the service), :func:`group_dicts`
(``Grouper.group_x12``), :func:`group_arrow` (``Grouper.group_x12_arrow``),
:func:`extract` (claim dicts, a slow inspection path for tests and tools),
:func:`is_x12` and :class:`X12Error`.
"""

from __future__ import annotations

import numpy as np
import orjson

from ..parse import Texts
from .x12_scan import (  # noqa: F401  (the codes the compiled pass answers)
    _BAD_SEGMENT, _GE_CONTROL, _GE_COUNT, _IEA_CONTROL, _IEA_COUNT, _ISA, _NOT_837, _NOT_837I, _NOT_X12, _OK,
    _OUTSIDE, _OVERFLOW, _SE_CONTROL, _SE_COUNT, _TRUNCATED, _UNCLOSED, CE_ADMIT_AFTER, CE_BAD_ADMISSION,
    CE_BAD_BIRTH, CE_BAD_CODE, CE_BAD_PERIOD, CE_BAD_STATUS, CE_BORN_LATER, CE_ICD9, CE_NO_BIRTH, CE_NO_PDX,
    CE_NO_PERIOD, CE_NO_STATUS, CE_NONE, CE_TOO_MANY, CE_TWO_ABJ, CE_TWO_BBR, CE_TWO_PDX, MAX_CODES, _assemble, _scan,
)


#: A whole 837I file with one made-up claim (names, ids and addresses invented): the
#: service's documented example, and what :func:`warm` reads.
EXAMPLE = (
    b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260101*1200*^*00501*000000001*0*P*:~"
    b"GS*HC*SENDER*RECEIVER*20260101*1200*1*X*005010X223A2~ST*837*0001*005010X223A2~"
    b"BHT*0019*00*REF47517*20260101*1200*CH~NM1*41*2*SUBMITTER*****46*TGJ23~PER*IC*JERRY*TE*3055552222~"
    b"NM1*40*2*RECEIVER*****46*66783JJT~HL*1**20*1~NM1*85*2*HOSPITAL*****XX*9876540809~N3*225 MAIN STREET~"
    b"N4*CENTERVILLE*PA*17111~REF*EI*567891234~HL*2*1*22*0~SBR*P*18*GRP01******MA~"
    b"NM1*IL*1*DOE*JANE****MI*MEMBER123~N3*1 MAIN ST~N4*ANYTOWN*NY*12345~DMG*D8*19541022*F~"
    b"NM1*PR*2*MEDICARE*****PI*00000~CLM*PCN-0001*1000***11:A:1**A*Y*Y~DTP*096*TM*1200~"
    b"DTP*434*RD8*20251201-20251205~DTP*435*DT*202512010800~CL1*1*7*01~REF*D9*TRACE1~"
    b"HI*ABK:I5021:::::::Y~HI*ABF:E1122:::::::N~HI*BH:11:D8:20251201~HI*DR:293~"
    b"NM1*71*1*DOC*ANNA****XX*1234567893~LX*1~SV2*0120*HC:99221*1000*DA*3~DTP*472*D8*20251201~"
    b"SE*32*0001~GE*1*1~IEA*1*000000001~"
)


def warm(grouper) -> None:
    """Compile (or load from numba's cache) the reader's compiled code now, e.g. while
    an image is built, so that the first 837I a process reads pays nothing."""
    group(grouper, EXAMPLE)


class X12Error(ValueError):
    """A file that cannot be read as an 837I: ``segment`` is the 1-based number of
    the segment at fault in the file (None when there is none, e.g. an empty
    file), ``reason`` says what is wrong."""

    def __init__(self, segment: int | None, reason: str):
        self.segment = segment
        self.reason = reason
        super().__init__(f"segment {segment}: {reason}" if segment is not None else reason)


# ---- Python: what the compiled pass found ---------------------------------------------------------

_ICD9 = {"BK": "principal diagnosis", "BJ": "admitting diagnosis", "BF": "other diagnosis",
         "BN": "external cause of injury", "BR": "principal procedure", "BQ": "other procedure"}

#: Transaction sets a file may hold instead of an 837 (ST01), named in the refusal.
_TRANSACTIONS = {"270": "an eligibility inquiry (270)", "271": "an eligibility response (271)",
                 "276": "a claim status request (276)", "277": "a claim status response (277)",
                 "278": "a services review (278)", "820": "a premium payment (820)",
                 "834": "a benefit enrollment (834)", "835": "a claim payment/remittance advice (835)",
                 "999": "an implementation acknowledgment (999)", "997": "a functional acknowledgment (997)",
                 "TA1": "an interchange acknowledgment (TA1)"}

_GUIDES = {"005010X222": "an 837 Professional claim (005010X222)", "005010X224": "an 837 Dental claim (005010X224)",
           "004010X096": "an 837 Institutional claim of the retired 4010 version (004010X096)",
           "004010X098": "an 837 Professional claim of the retired 4010 version (004010X098)"}


def is_x12(head: bytes) -> bool:
    """Whether bytes (a file's first ones) open an X12 interchange: ``ISA`` and an
    element separator, after an optional byte-order mark and blanks."""
    head = head[3:] if head[:3] == b"\xef\xbb\xbf" else head
    head = head.lstrip(b" \t\r\n\x00")
    return len(head) >= 4 and head[:3] == b"ISA" and not head[3:4].isalnum() and head[3:4] not in b" \r\n"


def _text(buf: bytes, lo: int, hi: int) -> str:
    return buf[lo:hi].decode("latin-1") if 0 <= lo <= hi else ""


def _file_error(data: bytes, status: int, seg: int, lo: int, hi: int, a: int, b: int) -> X12Error:
    """The X12Error for a whole-file status of :func:`_scan` (structural values only:
    segment ids, counts, control numbers, transaction codes; never a claim's data)."""
    seg_id = _text(data, lo, hi).split(maxsplit=1)[0][:3] if hi > lo else ""
    if status == _NOT_X12:
        return X12Error(seg or None, "not an X12 file: it does not begin with an ISA interchange header")
    if status == _ISA:
        return X12Error(seg, "the ISA interchange header is incomplete or its delimiters are not usable "
                             "(16 elements, then the component separator ISA16 and the segment terminator)")
    if status == _TRUNCATED:
        if lo == hi == len(data):
            what = {1: "a transaction set (no SE)", 2: "a functional group (no GE)", 3: "an interchange (no IEA)"}[a]
            return X12Error(seg, f"the file ends inside {what}: it is truncated")
        return X12Error(seg, "the segment has no terminator: the file is truncated")
    if status == _BAD_SEGMENT:
        return X12Error(seg, "not an X12 segment (a segment id of 2-3 letters or digits expected)")
    if status == _OUTSIDE:
        return X12Error(seg, f"{seg_id or 'the segment'} is outside its envelope (ISA > GS > ST ... SE > GE > IEA)")
    if status == _UNCLOSED:
        what = {1: "a functional group is still open (GE missing)", 2: "a transaction set is still open (SE missing)",
                3: "a transaction set is still open (SE missing)"}[a]
        return X12Error(seg, f"{seg_id}: {what}")
    counts = {_SE_COUNT: ("SE01", "segments in the transaction set"), _GE_COUNT: ("GE01", "transaction sets in the group"),
              _IEA_COUNT: ("IEA01", "functional groups in the interchange")}
    if status in counts:
        el, what = counts[status]
        said = "no number" if a < 0 else str(a)
        return X12Error(seg, f"{el} says {said} but the file has {b} {what}")
    controls = {_SE_CONTROL: "SE02 does not match ST02", _GE_CONTROL: "GE02 does not match GS06",
                _IEA_CONTROL: "IEA02 does not match ISA13"}
    if status in controls:
        return X12Error(seg, f"{controls[status]} (the control numbers must agree)")
    if status == _NOT_837:
        code = _text(data, lo, hi)
        what = _TRANSACTIONS.get(code, f"transaction set {code!r}" if code else "a transaction set without ST01")
        return X12Error(seg, f"ST01: the file holds {what}, not an 837 claim; fastdrg reads 837 Institutional "
                             "(005010X223) claims")
    if status == _NOT_837I:
        guide = _text(data, lo, hi)
        what = _GUIDES.get(guide[:10], f"an 837 of implementation guide {guide!r}" if guide else
                           "an 837 without an implementation guide (GS08/ST03)")
        return X12Error(seg, f"ST03/GS08: the file holds {what}; fastdrg groups 837 Institutional claims "
                             "(005010X223, with any addendum A1-A3)")
    return X12Error(seg, "cannot read the file")


class X12Claims:
    """The claims of an 837I file as :func:`read` gives them, columnar:
    ``texts`` (engine.parse.Texts) holds the JSON text of each claim the file
    codes correctly, ``taken`` their positions among all claims; the rest of
    the columns are per claim in file order (``spans[i]``: [CLM01, ISA13,
    GS06, ST02, billed DRG] as (lo, hi) pairs of ``data``, -1 when absent)."""

    def __init__(self, data: bytes, out: np.ndarray, text_spans, err, eref, patient, nabf, spans, buf=None):
        self.data = data
        self.buf = _readonly(data) if buf is None else buf
        self.n = len(err)
        self._out = out
        self.text_spans = text_spans
        self.err = err
        self.eref = eref
        self.patient = patient
        self.nabf = nabf
        self.spans = spans
        self.taken = np.flatnonzero(text_spans[:, 0] >= 0)
        # (a memoryview: engine.parse.Texts cuts it into what orjson reads, without a copy)
        self.texts = Texts(memoryview(out), np.ascontiguousarray(text_spans[self.taken]))

    def __len__(self) -> int:
        return self.n

    def id(self, i: int) -> str:
        s = self.spans[i]
        return _text(self.data, int(s[0]), int(s[1]))

    def locator(self, i: int) -> dict:
        s = self.spans[i].tolist()
        return {"isa13": _text(self.data, s[2], s[3]), "gs06": _text(self.data, s[4], s[5]),
                "st02": _text(self.data, s[6], s[7]), "ordinal": i + 1}

    def billed_drg(self, i: int) -> str | None:
        lo, hi = self.spans[i, 8:10].tolist()
        return _text(self.data, lo, hi).strip() if lo >= 0 else None

    def _loop(self, i: int) -> str:
        return "2010CA" if self.patient[i] == 1 else "2010BA"

    def error(self, i: int) -> dict | None:
        """The claim's own error (the file codes it so that it cannot be grouped), else None."""
        code = int(self.err[i])
        if code == CE_NONE:
            return None
        q = _text(self.data, int(self.eref[i, 0]), int(self.eref[i, 1]))
        loop = self._loop(i)
        if code == CE_ICD9:
            return {"field": f"2300 HI {q}", "reason": f"{q} is the ICD-9-CM qualifier of a {_ICD9.get(q, 'code')}: "
                    "this grouper reads ICD-10 codes (ABK, ABJ, ABF, ABN; BBR, BBQ)"}
        reasons = {
            CE_NO_PDX: ("2300 HI ABK", "no principal diagnosis (HI qualifier ABK)"),
            CE_TWO_PDX: ("2300 HI ABK", "more than one principal diagnosis"),
            CE_NO_BIRTH: (f"{loop} DMG02", "no patient birth date (DMG segment, D8 CCYYMMDD)"),
            CE_BAD_BIRTH: (f"{loop} DMG02", "the patient birth date is not a date (D8 CCYYMMDD)"),
            CE_BORN_LATER: (f"{loop} DMG02", "the patient birth date is after the admission date"),
            CE_NO_PERIOD: ("2300 DTP 434", "no statement dates (DTP*434 RD8): no discharge date"),
            CE_BAD_PERIOD: ("2300 DTP 434", "the statement dates are not a date range (RD8 CCYYMMDD-CCYYMMDD, "
                                            "from no later than through)"),
            CE_BAD_ADMISSION: ("2300 DTP 435", "the admission date is not a date (D8 CCYYMMDD or DT CCYYMMDDHHMM)"),
            CE_ADMIT_AFTER: ("2300 DTP 435", "the admission date is after the discharge date (DTP*434 through date)"),
            CE_NO_STATUS: ("2300 CL1-03", "no patient status code (the discharge status)"),
            CE_BAD_STATUS: ("2300 CL1-03", "the patient status code is not a two-digit code"),
            CE_BAD_CODE: (f"2300 HI {q}", "a code qualifier without a code (HI component 2 is empty)"),
            CE_TOO_MANY: (f"2300 HI {q}", f"more than {MAX_CODES} codes"),
            CE_TWO_BBR: ("2300 HI BBR", "more than one principal procedure"),
            CE_TWO_ABJ: ("2300 HI ABJ", "more than one admitting diagnosis"),
        }
        field, reason = reasons[code]
        return {"field": field, "reason": reason}

    def engine_error(self, i: int, err: dict) -> dict:
        """An error the engine gave for claim ``i``, its field named in TR3 terms."""
        field = str(err.get("field", "$"))
        reason = err.get("reason", "")
        head = field.split("[", 1)[0].split(".", 1)[0]
        loop = self._loop(i)
        nabf, bbr = divmod(int(self.nabf[i]), 2)
        if head in ("sdx", "procedures") and "[" in field:
            k = int(field.split("[", 1)[1].split("]", 1)[0])
            if head == "sdx":
                q, j = ("ABF", k) if k < nabf else ("ABN", k - nabf)
            else:
                q, j = ("BBR", 0) if (k == 0 and bbr) else ("BBQ", k - bbr)
            return {"field": f"2300 HI {q}", "reason": f"{q} code {j + 1}: {reason}"}
        where = {"pdx": "2300 HI ABK", "admit_dx": "2300 HI ABJ", "age": f"{loop} DMG02", "sex": f"{loop} DMG03",
                 "discharge_status": "2300 CL1-03", "discharge_date": "2300 DTP 434", "version": "2300 DTP 434",
                 "admission_date": "2300 DTP 435", "los": "2300 DTP 435"}.get(head)
        if where is None:
            return {"field": field, "reason": reason}
        if head == "age":
            reason = "the age on the admission date (from the birth date) " + reason
        return {"field": where, "reason": reason}

    def claim(self, i: int) -> dict | None:
        """Claim ``i`` as the JSON claim the pipeline groups (None when the file codes it wrongly)."""
        lo, hi = self.text_spans[i].tolist()
        if lo < 0:
            return None
        claim = orjson.loads(self._out[lo:hi].tobytes())
        del claim["id"]
        return claim


def read(data: bytes) -> X12Claims:
    """Read an 837I file (bytes) into :class:`X12Claims`; :class:`X12Error` when the
    file cannot be read as one."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"an 837I file is bytes, not {type(data).__name__}")
    data = bytes(data)
    buf = _readonly(data)
    ccap = data.count(b"CLM") + 1
    cap = len(data) + 512 * ccap  # (more when a claim needs it: an overflow is answered by a larger buffer)
    for _ in range(8):
        out = np.empty(cap, np.uint8)
        (status, seg, lo, hi, a, b, n, c_text, c_err, c_eref, c_patient, c_nabf, c_spans, written) = _scan(buf, out, ccap)
        if status != _OVERFLOW:
            break
        cap *= 2  # (rare: many escaped bytes)
    if status != _OK:
        raise _file_error(data, status, seg, lo, hi, a, b)
    return X12Claims(data, out[:written], c_text[:n], c_err[:n], c_eref[:n], c_patient[:n], c_nabf[:n],
                     c_spans[:n], buf)


def extract(data: bytes) -> list[dict]:
    """One dict per CLM in file order: ``{"id", "locator": {"isa13", "gs06", "st02",
    "ordinal"}, "claim": <the JSON claim grouped> or None, "billed_drg", "error":
    {"field", "reason"} or None}``.  A slow path for tests and tools; the claims
    are those the fast path groups (the same pass reads them)."""
    r = read(data)
    return [{"id": r.id(i), "locator": r.locator(i), "claim": r.claim(i), "billed_drg": r.billed_drg(i),
             "error": r.error(i)} for i in range(r.n)]


# ---- grouping --------------------------------------------------------------------------------------

class X12Results:
    """Results of an 837I file, one per CLM in file order, as NDJSON (``body``):
    each the JSON path's result plus ``locator`` and, when the claim bills a DRG,
    ``billed_drg`` and ``billed_drg_matches``; ``errors[i]`` claim i's error
    (None: grouped); ``counts`` as engine.JsonResults's; ``summary``: claims
    read, grouped, refused, billed DRGs and how many differ."""

    def __init__(self, bodies: list, errors, counts, summary, case_mix=(0, 0), edit_counts=None):
        self._bodies = bodies  # uint8 arrays: the NDJSON, each line ending in a line break
        self.errors = errors
        self.counts = counts
        self.summary = summary
        self.case_mix = case_mix
        self.edit_counts = edit_counts or {}

    def __len__(self) -> int:
        return len(self.errors)

    def write(self, f) -> None:
        """The documents one a line (NDJSON, a line break after each) to a binary file, without a copy."""
        for body in self._bodies:
            f.write(memoryview(body))

    @property
    def documents(self) -> list[bytes]:
        return b"".join(b.tobytes() for b in self._bodies).split(b"\n")[:-1]

    def join(self, separator: bytes = b"\n", prefix: bytes = b"", suffix: bytes = b"") -> bytes:
        """The documents between ``separator``s (a document holds no line break: JSON escapes it)."""
        inner = b"".join(b.tobytes() for b in self._bodies)[:-1]
        if separator != b"\n":
            inner = inner.replace(b"\n", separator)
        return prefix + inner + suffix


def _readonly(b: bytes) -> np.ndarray:
    a = np.frombuffer(b, np.uint8)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


#: Claims grouped and written at a time (bounded memory; each part keeps every kernel thread busy).
CHUNK = 16384


def group(grouper, data: bytes, detail: bool = True, edits: bool = False, base_rate=None,
          default_hospital_status: str | None = None, edit_only: bool = False, chunk: int = CHUNK) -> X12Results:
    """Group (``edit_only``: edit with the Medicare Code Editor) every claim of an
    837I file through the JSON pipeline (``Grouper.group_json_texts``), ``chunk``
    claims at a time, each result with its place in the file; :class:`X12Error`
    for a file that cannot be read.  Options as ``Grouper.group_json_texts``'s."""
    r = read(data)
    errors = [None] * r.n
    taken_mask = r.text_spans[:, 0] >= 0
    starts = np.concatenate(([0], np.cumsum(taken_mask)))  # claims taken before claim i
    bodies, counts, fired = [], {}, {}
    case_mix = [0, 0]
    billed_n = differ = 0
    for lo in range(0, r.n, max(1, chunk)):
        hi = min(r.n, lo + chunk)
        t_lo, t_hi = int(starts[lo]), int(starts[hi])
        texts = Texts(r.texts.buffer, r.texts.spans[t_lo:t_hi])
        taken = r.taken[t_lo:t_hi].tolist()
        extra, docs = {}, b""
        if taken:
            if edit_only:
                got = grouper.edit_json_texts([bytes(texts[k]) for k in range(len(texts))], default_hospital_status)
                got.separator = b"\n"
            else:
                got = grouper.group_json_texts(texts, detail=detail, default_hospital_status=default_hospital_status,
                                               separator=b"\n", edits=edits, base_rate=base_rate)
            for j, err in enumerate(got.errors):  # the engine's errors, in TR3 terms
                if err is not None:
                    i = taken[j]
                    errors[i] = err = r.engine_error(i, err)
                    extra[j] = orjson.dumps({"id": r.id(i), "error": err})
            for j in got.missing():  # (never expected: the reader writes JSON objects)
                i = taken[j]
                errors[i] = err = {"field": "$", "reason": "the claim could not be read"}
                extra[j] = orjson.dumps({"id": r.id(i), "error": err})
            docs = got.join(extra)
            for key, c in got.counts.items():
                counts[key] = counts.get(key, 0) + c
            for name, c in getattr(got, "edit_counts", {}).items():
                fired[name] = fired.get(name, 0) + c
            cm = getattr(got, "case_mix", (0, 0))
            case_mix[0] += cm[0]
            case_mix[1] += cm[1]
        own = []
        for i in (lo + np.flatnonzero(~taken_mask[lo:hi])).tolist():  # the claims the file codes wrongly
            errors[i] = err = r.error(i)
            own.append(orjson.dumps({"id": r.id(i), "error": err}))
        own_off = np.zeros(len(own) + 1, np.int64)
        np.cumsum([len(d) for d in own], out=own_off[1:])
        doc_buf = _readonly(docs)
        ends = np.append(np.flatnonzero(doc_buf == 10), len(docs)) if taken else np.zeros(0, np.int64)
        sp = r.spans[lo:hi]
        need = len(docs) + int(own_off[-1]) + 160 * (hi - lo) + 6 * int(np.sum(np.maximum(sp[:, 1::2] - sp[:, 0::2], 0)))
        for _ in range(4):
            out = np.empty(need, np.uint8)
            written, b_n, b_differ = _assemble(r.buf, doc_buf, ends, taken_mask[lo:hi], _readonly(b"".join(own)),
                                               own_off, sp, not edit_only, lo, out)
            if written >= 0:
                break
            need *= 2  # (never expected: the estimate is generous)
        billed_n += b_n
        differ += b_differ
        bodies.append(out[:written])
    grouped = sum(e is None for e in errors)
    summary = {"claims": r.n, "grouped": grouped, "refused": r.n - grouped, "billed_drgs": billed_n,
               "billed_drgs_differ": differ}
    return X12Results(bodies, errors, counts, summary, tuple(case_mix), fired)


def group_dicts(grouper, data: bytes, detail: bool = True, edits: bool = False, base_rate=None,
                default_hospital_status: str | None = None) -> list[dict]:
    """:func:`group`'s results as dicts (``Grouper.group_x12``)."""
    got = group(grouper, data, detail, edits, base_rate, default_hospital_status)
    return [orjson.loads(d) for d in got.documents]


# ---- Arrow (the data platform's form; pyarrow needed) ---------------------------------------------

def _span_strings(data: bytes, spans: np.ndarray):
    """The texts ``data[lo:hi]`` of (lo, hi) rows as a pyarrow string array (null where lo < 0),
    gathered with numpy."""
    import pyarrow as pa

    lo, hi = spans[:, 0], spans[:, 1]
    valid = lo >= 0
    length = np.where(valid, hi - lo, 0)
    offsets = np.zeros(len(lo) + 1, np.int64)
    np.cumsum(length, out=offsets[1:])
    total = int(offsets[-1])
    starts = np.repeat(np.where(valid, lo, 0), length)
    within = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], length)
    chars = np.frombuffer(data, np.uint8)[starts + within] if total else np.zeros(0, np.uint8)
    mask = pa.array(valid).buffers()[1] if not valid.all() else None
    arr = pa.Array.from_buffers(pa.large_binary(), len(lo), [mask, pa.py_buffer(offsets), pa.py_buffer(chars)])
    try:
        return arr.cast(pa.large_string()).cast(pa.string())
    except pa.ArrowInvalid:  # not UTF-8: read as Latin-1, as the JSON form reads it
        return pa.array([None if b is None else b.decode("latin-1") for b in arr.to_pylist()], pa.string())


def _claim_schema():
    import pyarrow as pa

    dx = pa.struct([("code", pa.string()), ("poa", pa.string())])
    return pa.schema([("id", pa.string()), ("discharge_date", pa.string()), ("admission_date", pa.string()),
                      ("los", pa.int64()), ("age", pa.int64()), ("sex", pa.string()),
                      ("discharge_status", pa.int64()), ("pdx", dx), ("admit_dx", dx), ("sdx", pa.list_(dx)),
                      ("procedures", pa.list_(pa.struct([("code", pa.string())])))])


def group_arrow(grouper, data: bytes, detail: bool = False, edits: bool = False, base_rate=None,
                summary: bool = False):
    """An 837I file's results as a ``pyarrow.Table`` (``Grouper.group_x12_arrow``):
    ``Grouper.group_arrow``'s columns, then ``isa13``, ``gs06``, ``st02``,
    ``ordinal`` (where the claim stood), ``billed_drg`` and ``billed_drg_matches``;
    one row per CLM in file order, a refused claim's ``error`` in TR3 terms.
    ``summary=True``: ``(table, summary)`` (:class:`X12Results`'s summary)."""
    import io

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    from .arrow import _ERROR, result_schema

    r = read(data)
    taken = r.taken
    if len(taken):
        out = np.frombuffer(r.texts.buffer, np.uint8)
        ends = r.texts.spans[:, 1]
        lines = np.insert(out[:int(ends[-1])], ends, np.uint8(10))
        claims = pj.read_json(io.BytesIO(lines.tobytes()),
                              parse_options=pj.ParseOptions(explicit_schema=_claim_schema(),
                                                            unexpected_field_behavior="ignore"))
        got = grouper.group_arrow(claims, detail=detail, edits=edits, base_rate=base_rate)
    else:
        got = result_schema(pa.string(), detail, edits=edits).empty_table()
    refused = np.flatnonzero(r.text_spans[:, 0] < 0)
    if len(refused):
        cols = {f.name: pa.nulls(len(refused), f.type) for f in got.schema}
        cols["id"] = _span_strings(r.data, r.spans[refused, 0:2])
        cols["error"] = pa.array([r.error(i) for i in refused.tolist()], _ERROR)
        got = pa.concat_tables([got, pa.table(cols, schema=got.schema)])
        got = got.take(np.argsort(np.concatenate([taken, refused]), kind="stable"))
    # the engine's errors in TR3 terms (few rows: Python per error)
    err = got.column("error")
    bad = np.flatnonzero(err.is_valid().to_numpy(zero_copy_only=False))
    if len(bad):
        from_file = r.text_spans[:, 0] < 0
        values = err.to_pylist()
        for i in bad.tolist():
            if not from_file[i]:
                values[i] = r.engine_error(i, values[i])
        got = got.set_column(got.schema.get_field_index("error"), "error", pa.array(values, _ERROR))
    billed = _span_strings(r.data, r.spans[:, 8:10])
    billed = pc.utf8_trim_whitespace(billed)
    numeric = pc.match_substring_regex(billed, r"^[0-9]{1,9}$")
    b_int = pc.if_else(numeric, pc.cast(pc.if_else(numeric, billed, "0"), pa.int64()), None)
    drg = got.column("drg")
    d_int = pc.cast(pc.if_else(pc.is_valid(drg), drg, "0"), pa.int64())
    matches = pc.if_else(pc.and_(pc.is_valid(billed), pc.is_valid(drg)), pc.equal(pc.fill_null(b_int, -1), d_int), None)
    n = r.n
    extra = {"isa13": _span_strings(r.data, r.spans[:, 2:4]), "gs06": _span_strings(r.data, r.spans[:, 4:6]),
             "st02": _span_strings(r.data, r.spans[:, 6:8]), "ordinal": pa.array(np.arange(1, n + 1, dtype=np.int64)),
             "billed_drg": billed, "billed_drg_matches": matches}
    for name, col in extra.items():
        got = got.append_column(name, col)
    if not summary:
        return got
    ok = int(pc.sum(pc.is_null(got.column("error"))).as_py() or 0) if n else 0
    m = pc.fill_null(matches, True)
    summ = {"claims": n, "grouped": ok, "refused": n - ok, "billed_drgs": int(pc.sum(pc.is_valid(billed)).as_py() or 0),
            "billed_drgs_differ": int(pc.sum(pc.invert(m)).as_py() or 0) if n else 0}
    return got, summ
