"""An independent reading of 837I (005010X223) files, the oracle of engine.io.x12's mapping.

Test material only (ISSUE-26 section 5).  It reads a file with pyx12 (4.x, PyPI), never with
the engine, and gives what ``engine.io.x12.extract`` must give: one dict per ``CLM`` in file
order, ``{"id", "locator": {"isa13", "gs06", "st02", "ordinal"}, "claim", "billed_drg",
"error"}``, ``claim`` in our JSON claim form (``discharge_date``, ``admission_date``, ``age``,
``sex``, ``discharge_status``, ``pdx`` {"code", "poa"}, ``admit_dx``, ``sdx``, ``procedures``,
``los``) or None when ``error`` ({"field", "reason"}) says why not.

Two readings, the same mapping:

* ``extract_map(data)``: pyx12's X12ContextReader walks the TR3 map of 005010X223A2, which
  places every segment in its loop (2010BA subscriber, 2010CA patient, 2300 claim) and names
  every HI segment by the map (Principal Diagnosis, Other Diagnosis Information, ...): nothing
  of the loop structure is our own logic.  Slow (about 30 claims/s): for samples.
* ``extract_fast(data)``: pyx12's segment reader (delimiters from the ISA, the SE/GE/IEA counts
  checked) with the loops followed by the HL level codes (20, 22, 23): for whole files.
* ``validate(data)``: pyx12's validation of a file against the TR3 map (x12n_document): the
  list of errors it reports (empty: the file follows the guide as pyx12 knows it).

The mapping (ISSUE-26 section 1): CLM01 -> id; the patient's DMG (2010CA when a 2000C loop
holds the claim, else the subscriber's, 2010BA): DMG02 birth date, DMG03 sex; age = whole
years on the admission date (DTP*435, D8 or DT; the statement-from date of DTP*434 when absent);
discharge date = DTP*434's through date; CL1-03 -> discharge status; HI: ABK principal dx, ABJ
admitting dx, ABF other dx then ABN external causes (in file order) as the secondary dx, POA
the 9th component (blank: no POA), BBR then BBQ the procedures, DR the billed DRG; los =
discharge - admission.  Per-claim errors: an ICD-9 qualifier (``2300 HI BK`` ...), no
principal dx (``2300 HI ABK``), no birth date (``2010CA DMG02`` / ``2010BA DMG02``), no
statement dates (``2300 DTP 434``).
"""

from __future__ import annotations

import datetime as dt
import io
import json

#: ICD-9 qualifiers of the HI segments a 5010 837I reader refuses, and their ICD-10 twins
ICD9_QUALIFIERS = {"BK": "ABK", "BJ": "ABJ", "BF": "ABF", "BN": "ABN", "BR": "BBR", "BQ": "BBQ"}
#: HI qualifiers the mapping reads (others -- occurrence, value, condition codes -- are passed over)
READ_QUALIFIERS = {"ABK", "ABJ", "ABF", "ABN", "BBR", "BBQ", "DR"}


class OracleError(Exception):
    """A file the oracle cannot read as an 837I (``segment``: 1-based number or None)."""

    def __init__(self, reason: str, segment: int | None = None):
        super().__init__(f"segment {segment}: {reason}" if segment else reason)
        self.reason = reason
        self.segment = segment


def _text(data: bytes | str) -> str:
    return data.decode("latin-1") if isinstance(data, (bytes, bytearray)) else data


def _date(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _composites(seg) -> list[list[str]]:
    """The composites of an HI segment as lists of component strings (9 at least; pyx12's
    Segment parsed them with the interchange's component separator)."""
    out = []
    for n in range(1, len(seg) + 1):
        comp = seg.get(f"HI{n:02d}")
        if comp is None:
            continue
        values = [e.get_value() for e in comp.elements][:9]
        if values and values[0]:
            out.append(values + [""] * (9 - len(values)))
    return out


class _Claims:
    """The mapping, fed segment by segment by either reading."""

    def __init__(self):
        self.rows: list[dict] = []
        self.isa13 = self.gs06 = self.st02 = None
        self.demo = {}          # "subscriber" / "patient" -> (birth text, sex, loop id)
        self.level = None       # "subscriber" or "patient": the HL the next CLM sits under
        self.cur = None

    # envelope
    def envelope(self, sid: str, seg, number: int) -> bool:
        """ISA, GS or ST taken in (True), or another segment (False)."""
        if sid == "ISA":
            self.isa(seg)
        elif sid == "GS":
            self.gs(seg, number)
        elif sid == "ST":
            self.st(seg, number)
        else:
            return False
        return True

    def isa(self, seg):
        self.isa13 = seg.get_value("ISA13")

    def gs(self, seg, number):
        self.gs06 = seg.get_value("GS06")
        gs08 = seg.get_value("GS08") or ""
        if not gs08.startswith("005010X223"):
            kind = ("an 837 Professional claim (005010X222)" if gs08.startswith("005010X222")
                    else f"not an 837 Institutional claim (GS08 {gs08!r})")
            raise OracleError(kind, number)

    def st(self, seg, number):
        self.finish()
        self.st02 = seg.get_value("ST02")
        if seg.get_value("ST01") != "837":
            raise OracleError(f"transaction set {seg.get_value('ST01')!r}, not an 837", number)

    # hierarchy
    def hl(self, level):
        self.finish()
        self.level = level
        if level in ("provider", "subscriber"):
            self.demo = {}
        elif level == "patient":
            self.demo.pop("patient", None)

    def dmg(self, seg, level):
        loop = "2010BA" if level == "subscriber" else "2010CA"
        self.demo[level] = (seg.get_value("DMG02") or "", seg.get_value("DMG03") or "", loop)

    # claim
    def clm(self, seg):
        self.finish()
        demo = self.demo.get(self.level) or ("", "", "2010CA" if self.level == "patient" else "2010BA")
        self.cur = {"id": seg.get_value("CLM01"), "demo": demo, "dtp434": None, "dtp435": None,
                    "cl103": None, "hi": [],
                    "locator": {"isa13": self.isa13, "gs06": self.gs06, "st02": self.st02,
                                "ordinal": len(self.rows) + 1}}
        self.rows.append(self.cur)

    def dtp(self, seg):
        if self.cur is not None and seg.get_value("DTP01") in ("434", "435"):
            self.cur["dtp" + seg.get_value("DTP01")] = (seg.get_value("DTP02"), seg.get_value("DTP03"))

    def cl1(self, seg):
        if self.cur is not None:
            self.cur["cl103"] = seg.get_value("CL103")

    def hi(self, seg):
        if self.cur is not None:
            self.cur["hi"].extend(_composites(seg))

    def end_claim(self):
        """The 2300 loop is over (a 2400 line, a new HL, CLM or ST)."""
        self.finish()

    def finish(self):
        self.cur = None

    def result(self) -> list[dict]:
        return [_map_claim(r) for r in self.rows]


def _map_claim(r: dict) -> dict:
    out = {"id": r["id"], "locator": r["locator"], "claim": None, "billed_drg": None, "error": None}
    dx = {q: [] for q in READ_QUALIFIERS}
    for comp in r["hi"]:
        q = comp[0]
        if q in ICD9_QUALIFIERS:
            out["error"] = {"field": f"2300 HI {q}",
                            "reason": f"ICD-9 qualifier {q}: only ICD-10 ({ICD9_QUALIFIERS[q]}) is grouped"}
            return out
        if q in dx:
            dx[q].append(comp)
    if dx["DR"]:
        out["billed_drg"] = dx["DR"][0][1]
    if not dx["ABK"]:
        out["error"] = {"field": "2300 HI ABK", "reason": "no principal diagnosis"}
        return out
    birth, sex, loop = r["demo"]
    if not birth:
        out["error"] = {"field": f"{loop} DMG02", "reason": "no birth date"}
        return out
    if r["dtp434"] is None:
        out["error"] = {"field": "2300 DTP 434", "reason": "no statement dates"}
        return out
    frm, through = r["dtp434"][1].split("-")
    discharge = _date(through)
    admission = _date(r["dtp435"][1][:8]) if r["dtp435"] else _date(frm)
    b = _date(birth)
    age = admission.year - b.year - ((admission.month, admission.day) < (b.month, b.day))

    def code(comp, poa=True):
        d = {"code": comp[1]}
        if poa and comp[8].strip():
            d["poa"] = comp[8].strip()
        return d

    px = dx["BBR"] + dx["BBQ"]
    claim = {
        "discharge_date": discharge.isoformat(),
        "admission_date": admission.isoformat(),
        "age": age,
        "sex": sex,
        "discharge_status": int(r["cl103"]),
        "pdx": code(dx["ABK"][0]),
        "sdx": [code(c) for c in dx["ABF"] + dx["ABN"]],
        "procedures": [{"code": c[1]} for c in px],
        "los": (discharge - admission).days,
    }
    if dx["ABJ"]:
        claim["admit_dx"] = dx["ABJ"][0][1]
    out["claim"] = claim
    return out


def extract_fast(data: bytes | str) -> list[dict]:
    """The claims of a file, read with pyx12's segment reader, loops by the HL level codes."""
    import pyx12.errors
    import pyx12.x12file

    try:
        src = pyx12.x12file.X12Reader(io.StringIO(_text(data)))
    except pyx12.errors.X12Error as e:
        raise OracleError(str(e), 1) from None
    acc = _Claims()
    level = None
    number = 0
    for seg in src:
        number += 1
        sid = seg.get_seg_id()
        errors = src.pop_errors()
        if errors:
            raise OracleError("; ".join(str(e[2]) for e in errors), number)
        if acc.envelope(sid, seg, number):
            continue
        if sid == "HL":
            level = {"20": "provider", "22": "subscriber", "23": "patient"}.get(seg.get_value("HL03"))
            acc.hl(level)
        elif sid == "DMG" and level in ("subscriber", "patient"):
            acc.dmg(seg, level)
        elif sid == "CLM":
            acc.clm(seg)
        elif sid == "DTP":
            acc.dtp(seg)
        elif sid == "CL1":
            acc.cl1(seg)
        elif sid == "HI":
            acc.hi(seg)
        elif sid == "LX":
            acc.end_claim()
    src.cleanup()
    errors = src.pop_errors()
    if errors:
        raise OracleError("; ".join(str(e[2]) for e in errors), None)
    return acc.result()


#: the TR3 map's names of the 2300 HI segments the mapping reads
_HI_NAMES = {"Principal Diagnosis", "Admitting Diagnosis", "External Cause of Injury",
             "Diagnosis Related Group (DRG) Information", "Other Diagnosis Information",
             "Principal Procedure Information", "Other Procedure Information"}


def extract_map(data: bytes | str) -> list[dict]:
    """The claims of a file, every segment placed in its loop by pyx12's walk of the TR3 map."""
    import pyx12.error_handler
    import pyx12.errors
    import pyx12.params
    import pyx12.x12context

    try:
        reader = pyx12.x12context.X12ContextReader(pyx12.params.ParamsBase(), pyx12.error_handler.errh_null(),
                                                   io.StringIO(_text(data)))
    except pyx12.errors.X12Error as e:
        raise OracleError(str(e), 1) from None
    acc = _Claims()
    for number, node in enumerate(reader.iter_segments(), 1):
        m = node.x12_map_node
        seg = node.seg_data
        sid = seg.get_seg_id()
        loop = m.parent.id if m.parent is not None else None
        if acc.envelope(sid, seg, number):
            continue
        if sid == "HL":
            acc.hl({"2000B": "subscriber", "2000C": "patient"}.get(loop, "provider"))
        elif sid == "DMG" and loop in ("2010BA", "2010CA"):
            acc.dmg(seg, "subscriber" if loop == "2010BA" else "patient")
        elif loop == "2300":
            if sid == "CLM":
                acc.clm(seg)
            elif m.name in ("Statement Dates", "Admission Date/Hour"):
                acc.dtp(seg)
            elif m.name == "Institutional Claim Code":
                acc.cl1(seg)
            elif sid == "HI" and m.name in _HI_NAMES:
                acc.hi(seg)
        elif loop == "2400":
            acc.end_claim()
    return acc.result()


def _x12sdk_text(value) -> str:
    """A date x12sdk parsed back into the D8 text it came from (text left as it is)."""
    return value.strftime("%Y%m%d") if isinstance(value, (dt.date, dt.datetime)) else (value or "")


def extract_x12sdk(data: bytes | str) -> list[dict]:
    """The claims of a file as x12sdk's typed 837I models give them (``SubmittedClaim``:
    its own choice of the patient's loop, 2010CA or the subscriber's 2010BA), through the same
    mapping; ``locator`` holds ST02 only (x12sdk drops the ISA and GS envelopes).  x12sdk is
    stricter than the TR3 in places (DMG03 ``U`` and DTP*435 ``DT`` are refused): use it on
    files without them, one interchange."""
    from x12sdk.io import X12ModelReader

    rows = []
    with X12ModelReader(_text(data)) as reader:
        for model in reader.models():
            st02 = model.header.st_segment.transaction_set_control_number
            for c in model.claims():
                clm = c.claim
                dmg = c.patient.dmg_segment
                r = {"id": c.patient_control_number,
                     "demo": (_x12sdk_text(dmg.date_time_period) if dmg else "",
                              getattr(dmg.gender_code, "value", dmg.gender_code) if dmg and dmg.gender_code else "",
                              "2010CA" if c.is_dependent else "2010BA"),
                     "dtp434": None, "dtp435": None, "cl103": clm.cl1_segment.patient_status_code, "hi": [],
                     "locator": {"st02": st02}}
                for d in clm.dtp_segment:
                    if d.date_time_qualifier in ("434", "435"):
                        fmt = getattr(d.date_time_period_format_qualifier, "value", d.date_time_period_format_qualifier)
                        r["dtp" + d.date_time_qualifier] = (fmt, _x12sdk_text(d.date_time_period))
                for h in clm.hi_segment:
                    for n in range(1, 13):
                        comp = getattr(h, f"health_care_code_{n}")
                        if comp and comp[0]:
                            r["hi"].append((list(comp) + [""] * 9)[:9])
                rows.append(_map_claim(r))
    return rows


def validate(data: bytes | str) -> list[dict]:
    """pyx12's validation of a file against the TR3 map: the errors it reports (ISA, GS, ST,
    segment and element level), [] when there are none."""
    import pyx12.params
    import pyx12.x12n_document

    out = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(pyx12.params.ParamsBase(), io.StringIO(_text(data)), None, None,
                                           fd_json=out)
    errors = []

    def walk(node, where):
        if isinstance(node, dict):
            for e in node.get("errors", []) or []:
                errors.append({"where": where, **(e if isinstance(e, dict) else {"error": e})})
            for key in ("interchanges", "groups", "transactions", "segments", "elements"):
                for child in node.get(key, []) or []:
                    walk(child, where + [child.get("seg_id") or child.get("trn_set_control_num")
                                         or child.get("gs_control_num") or child.get("isa_trn_set_id")])

    text = out.getvalue()
    if text.strip():
        walk(json.loads(text), [])
    if not ok and not errors:
        errors.append({"where": [], "error": "pyx12 reports the file invalid"})
    return errors


def normalise(rows: list[dict]) -> list[dict]:
    """Rows of extract()'s form made comparable: the claim's own ``id`` key (the row has it)
    and keys whose value is None (POA, admit_dx) dropped; discharge status as an int; admit_dx
    and procedures as codes; an error as its presence only (tests check its field apart)."""
    out = []
    for r in rows:
        c = r.get("claim")
        if c is not None:
            c = {k: v for k, v in c.items() if v is not None and k != "id"}
            if "discharge_status" in c:
                c["discharge_status"] = int(c["discharge_status"])

            def dx(d):
                d = d if isinstance(d, dict) else {"code": d}
                return {k: v for k, v in d.items() if v is not None and not (k == "poa" and not str(v).strip())}

            if "pdx" in c:
                c["pdx"] = dx(c["pdx"])
            if isinstance(c.get("admit_dx"), dict):
                c["admit_dx"] = c["admit_dx"].get("code")
            c["sdx"] = [dx(d) for d in c.get("sdx") or []]
            c["procedures"] = [p["code"] if isinstance(p, dict) else p for p in c.get("procedures") or []]
        out.append({"id": r.get("id"), "locator": dict(r.get("locator") or {}), "claim": c,
                    "billed_drg": r.get("billed_drg"), "error": r.get("error") is not None})
    return out
