"""A small writer of 837I (005010X223A2) files from our JSON claims, for tests.

Not a general 837I generator: enough of the TR3's loops and segments (envelopes,
2000A/2010AA billing provider, 2000B/2010BA subscriber, optional 2000C/2010CA
patient, 2300 claim with DTP*434/435, CL1, HI) for the reader to find what it
reads, with the delimiters and envelope shapes a test asks for.  Names,
addresses and member ids are made up."""

from __future__ import annotations

import datetime as dt

from engine.encode import version_dates


def _date(d) -> str:
    return d.strftime("%Y%m%d") if isinstance(d, dt.date) else str(d).replace("-", "")


def birth_for_age(age: int, admission: dt.date) -> dt.date:
    """A birth date giving ``age`` whole years on ``admission`` (July 1st-ish, away from edges)."""
    year = admission.year - age
    d = dt.date(year, admission.month, 1) - dt.timedelta(days=40)
    if d.year != year:
        d = dt.date(year, 1, 1)
    if (admission.month, admission.day) < (d.month, d.day):
        d = dt.date(year - 1, d.month, d.day)
    return d


def twin(claim: dict) -> dict:
    """A public claim (shared/eval format: version, dstat, pdx_poa, sdx pairs, px)
    as a JSON claim with dates (discharged on its version's first day, a stay of
    ``los`` days or 3), as the 837I writer writes it."""
    v = int(claim["version"])
    dis = version_dates(v)[0]
    los = claim.get("los", 3)
    adm = dis - dt.timedelta(days=los)
    out = {"id": claim["id"], "discharge_date": dis.isoformat(), "admission_date": adm.isoformat(), "los": los,
           "age": claim["age"], "sex": claim["sex"], "discharge_status": claim["dstat"],
           "pdx": {"code": claim["pdx"], "poa": claim.get("pdx_poa")},
           "sdx": [{"code": c, "poa": p} for c, p in claim.get("sdx", [])],
           "procedures": [{"code": c} for c in claim.get("px", [])]}
    return out


def hi_segments(kind: str, items: list, comp: str, per: int = 12) -> list[list[str]]:
    """HI segments (element lists) for ``items`` [(code, poa or None)] under qualifier ``kind``."""
    segs = []
    for k in range(0, len(items), per):
        els = ["HI"]
        for n, (code, poa) in enumerate(items[k:k + per]):
            q = kind if (k + n or kind not in ("ABF", "BBQ")) else kind
            parts = [q, code]
            if poa not in (None, "", " "):
                parts += [""] * 6 + [poa]
            els.append(comp.join(parts).rstrip(comp))
        segs.append(els)
    return segs


def claim_segments(c: dict, comp: str, patient_loop: bool, hl: list, billed_drg: str | None = None,
                   birth: str | None = "auto", icd9: bool = False) -> list[list[str]]:
    """The 2000B(/2000C)/2300 segments of one claim."""
    adm = dt.date.fromisoformat(c["admission_date"])
    dis = dt.date.fromisoformat(c["discharge_date"])
    if birth == "auto":
        birth = _date(birth_for_age(c["age"], adm))
    hl[0] += 1
    sub = hl[0]
    segs = [["HL", str(sub), "1", "22", "1" if patient_loop else "0"],
            ["SBR", "P", "" if patient_loop else "18", "GRP01", "", "", "", "", "", "MA"],
            ["NM1", "IL", "1", "DOE", "JANE", "", "", "", "MI", "MEMBER123"],
            ["N3", "1 MAIN ST"], ["N4", "ANYTOWN", "NY", "12345"]]
    demo = ["DMG", "D8", birth or "", c.get("sex") or ""] if birth is not None else None
    if not patient_loop and demo:
        segs.append(demo)
    segs.append(["NM1", "PR", "2", "MEDICARE", "", "", "", "", "PI", "00000"])
    if patient_loop:
        hl[0] += 1
        segs += [["HL", str(hl[0]), str(sub), "23", "0"], ["PAT", "19"],
                 ["NM1", "QC", "1", "DOE", "JOHNNY"], ["N3", "1 MAIN ST"], ["N4", "ANYTOWN", "NY", "12345"]]
        if demo:
            segs.append(demo)
    segs += [["CLM", c["id"], "1000", "", "", comp.join(["11", "A", "1"]), "", "A", "Y", "Y"],
             ["DTP", "096", "TM", "1200"],
             ["DTP", "434", "RD8", f"{_date(adm)}-{_date(dis)}"],
             ["DTP", "435", "DT", _date(adm) + "0800"],
             ["CL1", "1", "7", f"{int(c['discharge_status']):02d}"],
             ["REF", "D9", "TRACE1"]]
    pdx = c["pdx"]
    q = ("BK", "BJ", "BF", "BR", "BQ") if icd9 else ("ABK", "ABJ", "ABF", "BBR", "BBQ")
    if pdx is not None:
        segs += hi_segments(q[0], [(pdx["code"], pdx.get("poa"))], comp)
    if c.get("admit_dx"):
        segs += hi_segments(q[1], [(c["admit_dx"]["code"], c["admit_dx"].get("poa"))], comp)
    sdx = [(x["code"], x.get("poa")) for x in c.get("sdx", [])]
    if sdx:
        segs += hi_segments(q[2], sdx, comp)
    px = [x["code"] for x in c.get("procedures", [])]
    if px:
        segs += hi_segments(q[3], [(px[0], None)], comp)
        if len(px) > 1:
            segs += hi_segments(q[4], [(p, None) for p in px[1:]], comp)
    segs.append(["HI", comp.join(["BH", "11", "D8", _date(adm)])])  # an occurrence code: passed over
    if billed_drg is not None:
        segs.append(["HI", comp.join(["DR", billed_drg])])
    segs += [["NM1", "71", "1", "DOC", "ANNA", "", "", "", "XX", "1234567893"],
             ["LX", "1"], ["SV2", "0120", comp.join(["HC", "99221"]), "1000", "DA", "3"],
             ["DTP", "472", "D8", _date(adm)]]
    return segs


def write_837i(claims: list[dict], *, elem: str = "*", comp: str = ":", rep: str = "^", term: str = "~",
               newline: str = "\n", sets_per_group: int = 0, groups_per_isa: int = 0, patient_loop=False,
               billed=None, births=None, icd9=(), guide: str = "005010X223A2", isa13_start: int = 1) -> bytes:
    """An 837I file of ``claims`` (JSON claims with dates, see :func:`twin`):
    ``sets_per_group`` claims per transaction set... (0: all in one), likewise
    groups; ``patient_loop``: True, False or a function of the claim's index;
    ``billed[i]``: the DRG claim i bills; ``births[i]``: its DMG02 ("" none, None no DMG)."""
    def seg(els):
        return elem.join(els) + term + newline

    out = []
    n = len(claims)
    per_set = sets_per_group or max(1, n)
    sets = [claims[k:k + per_set] for k in range(0, n, per_set)] or [[]]
    per_group = groups_per_isa or len(sets)
    groups = [sets[k:k + per_group] for k in range(0, len(sets), per_group)]
    ordinal = 0
    isa = isa13_start
    isa_groups = [groups]  # one interchange unless groups_per_isa splits it
    if groups_per_isa:
        isa_groups = [[g] for g in groups]
    gs = 1
    for interchange in isa_groups:
        ctrl = f"{isa:09d}"
        out.append(elem.join(["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "SENDER".ljust(15), "ZZ",
                              "RECEIVER".ljust(15), "260101", "1200", rep, "00501", ctrl, "0", "P", comp]) + term
                   + newline)
        for group in interchange:
            out.append(seg(["GS", "HC", "SENDER", "RECEIVER", "20260101", "1200", str(gs), "X", guide]))
            for si, st_claims in enumerate(group):
                st = f"{si + 1:04d}"
                body = [["ST", "837", st, guide],
                        ["BHT", "0019", "00", "REF47517", "20260101", "1200", "CH"],
                        ["NM1", "41", "2", "SUBMITTER", "", "", "", "", "46", "TGJ23"],
                        ["PER", "IC", "JERRY", "TE", "3055552222"],
                        ["NM1", "40", "2", "RECEIVER", "", "", "", "", "46", "66783JJT"],
                        ["HL", "1", "", "20", "1"],
                        ["NM1", "85", "2", "HOSPITAL", "", "", "", "", "XX", "9876540809"],
                        ["N3", "225 MAIN STREET"], ["N4", "CENTERVILLE", "PA", "17111"],
                        ["REF", "EI", "567891234"]]
                hl = [1]
                for c in st_claims:
                    pl = patient_loop(ordinal) if callable(patient_loop) else patient_loop
                    b = billed[ordinal] if billed is not None else None
                    bd = births[ordinal] if births is not None else "auto"
                    body += claim_segments(c, comp, pl, hl, b, bd, ordinal in icd9)
                    ordinal += 1
                body.append(["SE", str(len(body) + 1), st])
                out.extend(seg(s) for s in body)
            out.append(seg(["GE", str(len(group)), str(gs)]))
            gs += 1
        out.append(seg(["IEA", str(len(interchange)), ctrl]))
        isa += 1
    return "".join(out).encode("latin-1")


def recount(text: str, elem: str = "*", term: str = "~") -> str:
    """``text`` (an 837I edited by hand) with each SE01 set to its set's segment count."""
    segs = [s for s in text.split(term)]
    out, count = [], 0
    for s in segs:
        sid = s.strip().split(elem, 1)[0]
        if sid == "ST":
            count = 0
        count += 1
        if sid == "SE":
            els = s.split(elem)
            els[1] = str(count)
            s = elem.join(els)
        out.append(s)
    return term.join(out)
