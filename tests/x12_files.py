"""A writer of ASC X12 837 Institutional (005010X223A2) files from our claims, for the 837I tests.

Test material only (ISSUE-26 section 5): it writes the claims of the shared/eval format
(``version``, ``age``, ``sex``, ``dstat``, ``pdx``, ``pdx_poa``, ``sdx`` [[code, poa]], ``px``,
``hospital_status``, optional ``los``; an optional ``billed_drg`` is written as ``HI*DR``) as
837I files, and says what a reader must read back from them (``X12File.expected()``: one dict
per ``CLM`` in the form of ``engine.io.x12.extract``; ``twin()``: the JSON claim to group
beside it).

Two steps, so tests can look at and alter what is written:

* ``prepare(record, index, seed)`` -> ``Facts``: the claim as 837I facts -- a discharge date
  inside the record's version's period (in an 837I the version comes from the statement's
  through date, ``DTP*434`` RD8), an admission date (``DTP*435``, sometimes left out so that
  the statement-from date stands for it), a birth date giving the record's age in whole years
  on the admission date, the patient in the subscriber loop (2000B, ``SBR02`` = 18) or in a
  patient loop (2000C) under a subscriber of other demographics;
* ``write_837i(facts, ...)`` -> ``X12File``: the bytes, with a choice of delimiters
  (``Delimiters``) and envelope shape (interchanges, groups per interchange, transaction sets
  per group), correct SE/GE/IEA counts, ``HI`` segments of at most 12 composites, POA in the
  9th component.

What an 837I cannot carry as our JSON does (so ``twin`` differs from the record there):

* ``hospital_status``: no 837I element; the twin leaves it out, so both sides take the
  Grouper's default (``not_exempt``).
* POA ``1``: not a 5010 value (C022-09 is N, U, W or Y; CMS: leave it blank when exempt), so it
  is written blank by default (``poa_one="blank"``), and a blank POA reads as no POA; the engine
  groups blank and ``1`` alike (docs/engine-interface.md).
* external-cause codes (V, W, X, Y) among the secondary dx go in the External Cause of Injury
  ``HI`` (``ABN``) by default, which a reader puts after the Other Diagnosis (``ABF``) codes:
  the twin's ``sdx`` is in that order.
* more than 24 other diagnoses (the TR3 allows two ``HI*ABF`` segments of 12) or 12 external
  causes: written as further ``HI`` segments of the same qualifier (outside the TR3's repeat
  count, so such a file does not validate); ``Facts.beyond_tr3`` says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from dataclasses import dataclass, field

#: the five POA values 5010 allows in C022-09 (blank: not reported / exempt)
TR3_POA = frozenset("YNUW")
#: first letters of ICD-10-CM external-cause codes (chapter 20)
EXTERNAL_CAUSE = ("V", "W", "X", "Y")
#: a valid NPI (check digit by the Luhn formula with the 80840 prefix): the guide's own example
NPI = "1234567893"
#: names, ids and addresses written into every file: a reader's results must carry none of them
PHI_TOKENS = ("ZZPHILAST", "ZZPHIFIRST", "ZZMEMBER", "ZZSTREET", "ZZCITY", "ZZMEDREC")


@dataclass(frozen=True)
class Delimiters:
    """The delimiters an interchange declares in its ISA: element separator (ISA's 4th
    character), repetition separator (ISA11), component separator (ISA16), segment terminator
    (the character after ISA16); ``suffix`` is written after every terminator (a line break)."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"
    suffix: str = ""

    def __post_init__(self):
        chars = (self.element, self.component, self.repetition, self.segment)
        assert all(len(c) == 1 for c in chars) and len(set(chars)) == 4, chars
        assert not any(c.isalnum() or c in " .-@" for c in chars), chars  # data uses these


#: delimiter sets the tests write: the common one, one line per segment, CR/LF, other
#: characters, and control characters (as some translators send)
DELIMITER_SETS = {
    "star": Delimiters(),
    "star_lf": Delimiters(suffix="\n"),
    "pipe_crlf": Delimiters(element="|", component=">", repetition="!", segment="~", suffix="\r\n"),
    "caret": Delimiters(element="^", component="\\", repetition="{", segment="'", suffix=""),
    "control": Delimiters(element="\x1d", component="\x1f", repetition="\x1e", segment="\x1c", suffix=""),
    "newline_terminator": Delimiters(element="*", component=":", repetition="^", segment="\n"),
}


def version_period(v: int) -> tuple[dt.date, dt.date]:
    """The discharge dates version ``v`` (400 = v40.0, ..., 440 = v44.0) covers: vN.0
    October 1 - March 31, vN.1 April 1 - September 30 of fiscal year N + 1983."""
    fy = v // 10 + 1983
    if v % 10 == 0:
        return dt.date(fy - 1, 10, 1), dt.date(fy, 3, 31)
    return dt.date(fy, 4, 1), dt.date(fy, 9, 30)


def age_on(birth: dt.date, day: dt.date) -> int:
    """Whole years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def birth_for_age(age: int, day: dt.date, rng: random.Random) -> dt.date:
    """A birth date (never February 29) giving ``age`` whole years on ``day``; now and then
    the birthday itself (the age just reached that day) or the day after it (not yet)."""
    pick = rng.random()
    if pick < 0.05 and (day.month, day.day) != (2, 29):
        b = day.replace(year=day.year - age)  # birthday on the admission date
    elif pick < 0.10 and (day.month, day.day) != (2, 28):
        nxt = day + dt.timedelta(days=1)
        b = nxt.replace(year=nxt.year - age - 1)  # birthday tomorrow: still age
    else:
        while True:
            b = dt.date(day.year - age - 1, 1, 1) + dt.timedelta(days=rng.randrange(731))
            if (b.month, b.day) != (2, 29) and age_on(b, day) == age:
                break
    assert age_on(b, day) == age, (b, day, age)
    return b


@dataclass
class Facts:
    """One claim as the 837I states it (dates as ``datetime.date``)."""

    id: str
    age: int
    sex: str
    dstat: int
    pdx: str
    pdx_poa: str            # "" = blank
    sdx: list               # [(code, poa)], poa "" = blank, in the record's order
    px: list                # codes
    discharge: dt.date      # DTP*434 through date
    admission: dt.date      # the stay's admission date (DTP*435 when written)
    statement_from: dt.date  # DTP*434 from date
    write_admission: bool = True
    admission_format: str = "D8"   # or DT (CCYYMMDDHHMM)
    birth: dt.date = None
    patient_loop: bool = False     # a 2000C patient loop under a subscriber who is someone else
    subscriber_birth: dt.date = None
    subscriber_sex: str = "F"
    share_subscriber: bool = False  # 2000C under the previous claim's subscriber (a second dependent)
    share_patient: bool = False     # CLM under the previous claim's 2000B (same patient, same demographics)
    admit_dx: str | None = None     # HI*ABJ
    billed_drg: str | None = None   # HI*DR
    ecodes_in_abn: bool = True
    poa_one: str = "blank"          # how POA "1" is written: "blank" (5010) or "1" (as given)
    extra_hi: bool = True           # occurrence, value and condition codes (a reader passes over them)
    qualifiers: dict = field(default_factory=dict)  # bad input: HI qualifiers written otherwise ({"ABK": "BK"})
    omit: frozenset = frozenset()   # bad input: "ABK" (no principal dx HI), "DMG" (no patient DMG)

    @property
    def abf(self) -> list:
        return [s for s in self.sdx if not (self.ecodes_in_abn and s[0].startswith(EXTERNAL_CAUSE))]

    @property
    def abn(self) -> list:
        return [s for s in self.sdx if self.ecodes_in_abn and s[0].startswith(EXTERNAL_CAUSE)]

    @property
    def beyond_tr3(self) -> bool:
        """More codes than the TR3's HI repeats hold, or a POA value 5010 does not know."""
        poas = [self.pdx_poa] + [p for _, p in self.sdx]
        return (len(self.abf) > 24 or len(self.abn) > 12 or len(self.px) > 25
                or any(self.poa_text(p) not in TR3_POA and self.poa_text(p) != "" for p in poas))

    def poa_text(self, poa: str) -> str:
        """The POA as written in C022-09 ("" = left blank)."""
        p = (poa or "").strip()
        if p == "1" and self.poa_one == "blank":
            return ""
        return p

    @property
    def effective_admission(self) -> dt.date:
        """The date a reader takes as the admission: DTP*435, else the statement-from date."""
        return self.admission if self.write_admission else self.statement_from


def prepare(rec: dict, index: int = 0, seed: int = 0, *, patient: str = "mixed",
            omit_admission: float = 0.15, ecodes_in_abn: bool = True, poa_one: str = "blank",
            billed_drg: str | None = None) -> Facts:
    """837I facts for a shared/eval record (``patient``: "subscriber", "dependent" or "mixed";
    ``omit_admission``: the share of claims written without DTP*435)."""
    rng = random.Random(f"{seed}/{index}/{rec['id']}")
    first, last = version_period(int(rec["version"]))
    discharge = first + dt.timedelta(days=rng.randrange((last - first).days + 1))
    los = rec.get("los")
    if los is None:
        los = rng.choice((0, 1, 2, 3, 4, 5, 6, 8, 12, 20, 45))
    admission = discharge - dt.timedelta(days=int(los))
    write_admission = rng.random() >= omit_admission
    if write_admission and los > 2 and rng.random() < 0.3:
        # a statement period starting after the admission (an interim bill's, say): the
        # age and the length of stay must come from DTP*435, not from the statement
        statement_from = admission + dt.timedelta(days=rng.randrange(1, los))
    else:
        statement_from = admission
    f = Facts(
        id=str(rec["id"]), age=int(rec["age"]), sex=rec["sex"], dstat=int(rec["dstat"]),
        pdx=rec["pdx"], pdx_poa=rec.get("pdx_poa") or "",
        sdx=[(c, p or "") for c, p in rec.get("sdx", [])], px=list(rec.get("px", [])),
        discharge=discharge, admission=admission, statement_from=statement_from,
        write_admission=write_admission, admission_format=rng.choice(("D8", "DT")),
        ecodes_in_abn=ecodes_in_abn, poa_one=poa_one,
        billed_drg=billed_drg if billed_drg is not None else rec.get("billed_drg"),
    )
    f.birth = birth_for_age(f.age, f.effective_admission, rng)
    f.patient_loop = {"subscriber": False, "dependent": True}.get(patient, rng.random() < 0.4)
    # the subscriber of a patient loop: other demographics, so that a reader taking the
    # subscriber's would be caught (another age, the other sex)
    f.subscriber_birth = birth_for_age((f.age + 17 + rng.randrange(30)) % 110, f.effective_admission, rng)
    f.subscriber_sex = {"F": "M", "M": "F"}.get(f.sex, rng.choice("MF"))
    f.share_subscriber = f.patient_loop and rng.random() < 0.3
    f.admit_dx = f.pdx if rng.random() < 0.8 else None
    f.extra_hi = rng.random() < 0.5
    return f


def twin(f: Facts) -> dict:
    """The JSON claim the 837I claim reads back as: what ``engine.io.x12.extract`` gives as its
    ``claim`` and what ``Grouper().group`` must group exactly as ``group_x12`` does.  No
    ``hospital_status`` (the 837I has none; both take the Grouper's default) and no version (the
    discharge date picks it)."""
    def dx(code, poa):
        p = f.poa_text(poa)
        return {"code": code, "poa": p} if p else {"code": code}

    adm = f.effective_admission
    claim = {
        "id": f.id,
        "discharge_date": f.discharge.isoformat(),
        "admission_date": adm.isoformat(),
        "age": f.age,
        "sex": f.sex,
        "discharge_status": f.dstat,
        "pdx": dx(f.pdx, f.pdx_poa),
        "sdx": [dx(c, p) for c, p in f.abf + f.abn],
        "procedures": [{"code": c} for c in f.px],
        "los": (f.discharge - adm).days,
    }
    if f.admit_dx is not None:
        claim["admit_dx"] = f.admit_dx
    return claim


@dataclass
class X12File:
    """A written 837I file: its bytes, the facts of its claims in file order and where each
    claim stands (``locator``: ISA13, GS06, ST02 and the 1-based ordinal in the file)."""

    data: bytes
    facts: list
    locators: list = field(default_factory=list)

    def expected(self) -> list[dict]:
        """What a reader must extract: one dict per CLM, in file order (extract()'s form)."""
        return [{"id": f.id, "locator": loc, "claim": twin(f), "billed_drg": f.billed_drg, "error": None}
                for f, loc in zip(self.facts, self.locators)]


def _split(items: list, parts: int) -> list[list]:
    """``items`` in ``parts`` contiguous runs of near-equal length (none empty unless too few)."""
    parts = max(1, min(parts, len(items))) if items else 1
    q, r = divmod(len(items), parts)
    out, i = [], 0
    for k in range(parts):
        n = q + (k < r)
        out.append(items[i:i + n])
        i += n
    return out


class _Writer:
    def __init__(self, d: Delimiters):
        self.d = d
        self.parts: list[str] = []
        self.count = 0  # segments since ST

    def seg(self, *elements) -> None:
        """A segment; an element given as a tuple or list is a composite; trailing empty
        elements and components are left out."""
        els = []
        for e in elements:
            if isinstance(e, (tuple, list)):
                comps = [str(c) for c in e]
                while comps and comps[-1] == "":
                    comps.pop()
                e = self.d.component.join(comps)
            els.append("" if e is None else str(e))
        while els and els[-1] == "":
            els.pop()
        self.parts.append(self.d.element.join(els) + self.d.segment + self.d.suffix)
        self.count += 1


def _d8(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def _dx(qual: str, code: str, poa: str) -> tuple:
    return (qual, code, "", "", "", "", "", "", poa) if poa else (qual, code)


def _q(f: Facts, qualifier: str) -> str:
    return f.qualifiers.get(qualifier, qualifier)


def _hi(w: _Writer, composites: list) -> None:
    for i in range(0, len(composites), 12):
        w.seg("HI", *composites[i:i + 12])


def _claim(w: _Writer, f: Facts, rng: random.Random) -> None:
    charge = 1000 + rng.randrange(90000)
    w.seg("CLM", f.id, charge, "", "", ("11", "A", "1"), "", "A", "Y", "Y")
    w.seg("DTP", "434", "RD8", f"{_d8(f.statement_from)}-{_d8(f.discharge)}")
    if f.write_admission:
        if f.admission_format == "DT":
            w.seg("DTP", "435", "DT", _d8(f.admission) + f"{rng.randrange(24):02d}{rng.randrange(60):02d}")
        else:
            w.seg("DTP", "435", "D8", _d8(f.admission))
    w.seg("CL1", "1", "1", f"{f.dstat:02d}")
    w.seg("REF", "EA", f"ZZMEDREC{rng.randrange(10**6):06d}")
    if "ABK" not in f.omit:
        w.seg("HI", _dx(_q(f, "ABK"), f.pdx, f.poa_text(f.pdx_poa)))
    if f.admit_dx is not None:
        w.seg("HI", (_q(f, "ABJ"), f.admit_dx))
    _hi(w, [_dx(_q(f, "ABN"), c, f.poa_text(p)) for c, p in f.abn])
    if f.billed_drg is not None:
        w.seg("HI", ("DR", f.billed_drg))
    _hi(w, [_dx(_q(f, "ABF"), c, f.poa_text(p)) for c, p in f.abf])
    if f.px:
        day = lambda: _d8(min(f.discharge, f.admission + dt.timedelta(days=rng.randrange(3))))  # noqa: E731
        w.seg("HI", (_q(f, "BBR"), f.px[0], "D8", day()))
        _hi(w, [(_q(f, "BBQ"), c, "D8", day()) for c in f.px[1:]])
    if f.extra_hi:  # occurrence, value and condition codes: passed over by a reader
        w.seg("HI", ("BH", "11", "D8", _d8(f.admission)))
        w.seg("HI", ("BE", "80", "", "", str((f.discharge - f.effective_admission).days)))
        w.seg("HI", ("BG", "01"))
    w.seg("NM1", "71", "1", "ATTENDING", "DOC", "", "", "", "XX", NPI)
    w.seg("LX", "1")
    w.seg("SV2", "0120", "", charge, "UN", max(1, (f.discharge - f.effective_admission).days))


def _person(w: _Writer, nm1: str, birth: dt.date, sex: str, rng: random.Random, member: bool,
            dmg: bool = True) -> None:
    ident = ("MI", f"ZZMEMBER{rng.randrange(10**6):06d}") if member else ("", "")
    w.seg("NM1", nm1, "1", "ZZPHILAST", "ZZPHIFIRST", "", "", "", *ident)
    w.seg("N3", f"{rng.randrange(1, 999)} ZZSTREET")
    w.seg("N4", "ZZCITY", "MD", "21244")
    if dmg:
        w.seg("DMG", "D8", _d8(birth), sex)


def _transaction(w: _Writer, facts: list, st02: str, rng: random.Random, per_provider: int) -> None:
    """ST..SE for ``facts``; the HL tree as the facts ask (shared subscribers and patients)."""
    w.count = 0
    w.seg("ST", "837", st02, "005010X223A2")
    w.seg("BHT", "0019", "00", f"B{st02}", "20261207", "1200", "CH")
    w.seg("NM1", "41", "2", "SUBMITTER CLEARINGHOUSE", "", "", "", "", "46", "S12345")
    w.seg("PER", "IC", "EDI DESK", "TE", "4105550100")
    w.seg("NM1", "40", "2", "RECEIVER PAYER", "", "", "", "", "46", "R67890")
    hl = 0
    prev = None       # facts of the previous claim in this set
    sub_hl = None     # HL number of the open subscriber
    for i, f in enumerate(facts):
        new_provider = i % per_provider == 0
        if new_provider:
            hl += 1
            prov_hl = hl
            w.seg("HL", prov_hl, "", "20", "1")
            w.seg("NM1", "85", "2", "GENERAL HOSPITAL", "", "", "", "", "XX", NPI)
            w.seg("N3", "1 HOSPITAL DRIVE")
            w.seg("N4", "BALTIMORE", "MD", "212441234")
            w.seg("REF", "EI", "521234567")
        same_sub = (not new_provider and prev is not None and prev.patient_loop and f.patient_loop
                    and f.share_subscriber)
        same_pat = (not new_provider and prev is not None and not prev.patient_loop and not f.patient_loop
                    and f.share_patient and (prev.birth, prev.sex) == (f.birth, f.sex))
        if not (same_sub or same_pat):
            hl += 1
            sub_hl = hl
            w.seg("HL", sub_hl, prov_hl, "22", "1" if f.patient_loop else "0")
            w.seg("SBR", "P", "" if f.patient_loop else "18", "GRP01", "", "", "", "", "", "MA")
            if f.patient_loop:
                _person(w, "IL", f.subscriber_birth, f.subscriber_sex, rng, member=True)
            else:
                _person(w, "IL", f.birth, f.sex, rng, member=True, dmg="DMG" not in f.omit)
            w.seg("NM1", "PR", "2", "MEDICARE", "", "", "", "", "PI", "00120")
        if f.patient_loop:
            hl += 1
            w.seg("HL", hl, sub_hl, "23", "0")
            w.seg("PAT", "01")
            _person(w, "QC", f.birth, f.sex, rng, member=False, dmg="DMG" not in f.omit)
        _claim(w, f, rng)
        prev = f
    w.seg("SE", w.count + 1, st02)


def write_837i(facts: list, delimiters: Delimiters = Delimiters(), *, interchanges: int = 1,
               groups: int = 1, sets: int = 1, claims_per_provider: int = 7, seed: int = 0,
               version: str = "005010X223A2", first_isa13: int = 100000001) -> X12File:
    """The facts as one 837I file: ``interchanges`` ISA..IEA, each with ``groups`` GS..GE, each
    with ``sets`` ST..SE, the claims split evenly in file order; a new billing provider (2000A)
    every ``claims_per_provider`` claims of a set.  ``version`` goes in GS08 and ST03."""
    d = delimiters
    w = _Writer(d)
    rng = random.Random(f"file/{seed}")
    locators = []
    ordinal = 0
    for k, chunk in enumerate(_split(list(facts), interchanges)):
        isa13 = f"{first_isa13 + k:09d}"
        isa = ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "SUBMITTER".ljust(15), "ZZ",
               "RECEIVER".ljust(15), "261207", "1200", d.repetition, "00501", isa13, "0", "T", d.component]
        w.parts.append(d.element.join(isa) + d.segment + d.suffix)
        group_chunks = _split(chunk, groups)
        for g, gchunk in enumerate(group_chunks):
            gs06 = str(g + 1)
            w.seg("GS", "HC", "SUBMITTER", "RECEIVER", "20261207", "1200", gs06, "X", version)
            set_chunks = _split(gchunk, sets)
            for s, schunk in enumerate(set_chunks):
                st02 = f"{s + 1:04d}"
                for f in schunk:
                    ordinal += 1
                    locators.append({"isa13": isa13, "gs06": gs06, "st02": st02, "ordinal": ordinal})
                _transaction(w, schunk, st02, rng, claims_per_provider)
            w.seg("GE", len(set_chunks), gs06)
        w.seg("IEA", len(group_chunks), isa13)
    return X12File("".join(w.parts).encode("latin-1"), list(facts), locators)


def public_file(records: list, delimiters: Delimiters = Delimiters(), seed: int = 0, **shape) -> X12File:
    """Records of the shared/eval format written as one 837I file (``prepare`` with its defaults)."""
    return write_837i([prepare(r, i, seed) for i, r in enumerate(records)], delimiters, seed=seed, **shape)


def replace_facts(f: Facts, **changes) -> Facts:
    return dataclasses.replace(f, **changes)


# ---------------------------------------------------------------------------------------------
# Bad input (ISSUE-26 section 4): files and the outcome a reader must give for them

@dataclass
class BadClaim:
    """One claim of a bad-input file: ``error_tokens`` the TR3 names its error's ``field`` must
    hold (each the start of a word of it: ("HI", "BK") matches "2300 HI BK" but not
    "2300 HI ABK"), None when the claim must group as its ``twin``; ``at``: who must say it,
    "extract" (the reader) or "group" (the grouping, e.g. a date no version covers)."""

    facts: Facts
    error_tokens: tuple | None = None
    at: str = "extract"


def _pick(records: list, test, start: int = 0) -> dict:
    return next(r for r in records[start:] if test(r))


def bad_claims_file(records: list, delimiters: Delimiters = Delimiters()) -> tuple[X12File, list[BadClaim]]:
    """One file mixing good claims with bad ones (each bad claim beside good ones, in one
    transaction set): ICD-9 qualifiers (BK, BF, BJ, BN, BR, BQ), no principal diagnosis, no birth
    date (subscriber who is the patient; patient loop with a subscriber who has one), a discharge
    date no version covers (2019)."""
    fit = [r for r in records if len(r["sdx"]) <= 20 and r["pdx_poa"] in "YNUW" and r["pdx"].isalnum()]
    plain = iter(fit[::7])
    i = 0

    def prep(rec, **kw):
        nonlocal i
        i += 1
        f = prepare(rec, i, seed=26, patient=kw.pop("patient", "subscriber"))
        return dataclasses.replace(f, **kw) if kw else f

    def good():
        return BadClaim(prep(next(plain)))

    ext = _pick(fit, lambda r: any(c.startswith(EXTERNAL_CAUSE) for c, _ in r["sdx"]))
    two_px = _pick(fit, lambda r: len(r["px"]) >= 2)
    one_sdx = _pick(fit, lambda r: len(r["sdx"]) >= 1 and len(r["px"]) >= 1)
    old = prep(_pick(fit, lambda r: True, 11))
    discharge = dt.date(2019, 6, 14)
    admission = discharge - dt.timedelta(days=3)
    old = dataclasses.replace(old, discharge=discharge, admission=admission, statement_from=admission,
                              write_admission=True)
    old.birth = birth_for_age(old.age, admission, random.Random(1))
    cases = [
        good(),
        BadClaim(prep(one_sdx, qualifiers={"ABK": "BK"}), ("HI", "BK")),
        good(),
        BadClaim(prep(one_sdx, qualifiers={"ABF": "BF"}), ("HI", "BF")),
        BadClaim(prep(one_sdx, qualifiers={"ABJ": "BJ"}, admit_dx=one_sdx["pdx"]), ("HI", "BJ")),
        good(),
        BadClaim(prep(ext, qualifiers={"ABN": "BN"}), ("HI", "BN")),
        BadClaim(prep(two_px, qualifiers={"BBR": "BR"}), ("HI", "BR")),
        BadClaim(prep(two_px, qualifiers={"BBQ": "BQ"}), ("HI", "BQ")),
        good(),
        BadClaim(prep(one_sdx, omit=frozenset({"ABK"})), ("HI", "ABK")),
        BadClaim(prep(one_sdx, omit=frozenset({"DMG"})), ("2010BA", "DMG")),
        good(),
        BadClaim(prep(one_sdx, omit=frozenset({"DMG"}), patient="dependent"), ("2010CA", "DMG")),
        BadClaim(old, ("DTP",), at="group"),
        good(),
    ]
    for k, c in enumerate(cases):  # ids unique in the file
        c.facts = dataclasses.replace(c.facts, id=f"{'bad' if c.error_tokens else 'ok'}{k:02d}-{c.facts.id}")
    return write_837i([c.facts for c in cases], delimiters, sets=2, claims_per_provider=5, seed=26), cases


def segment_numbers(data: bytes, d: Delimiters = Delimiters()) -> list[tuple[int, str]]:
    """(1-based segment number in the file, segment text) for every segment."""
    parts = data.decode("latin-1").split(d.segment)
    return [(n, s.strip("\r\n")) for n, s in enumerate((p for p in parts if p.strip("\r\n")), 1)]


def whole_file_cases(records: list) -> dict[str, tuple[bytes, int | None, str]]:
    """Files a reader must refuse whole (X12Error): name -> (data, the 1-based number of the
    segment at fault or None when there is none to name, a word its reason must hold, lower
    case, "" for any)."""
    d = Delimiters(suffix="\n")
    good = write_837i([prepare(r, i, 3) for i, r in enumerate(records[:12])], d, interchanges=2, groups=2, sets=1)
    segs = segment_numbers(good.data, d)

    def bump(seg_id: str, which: int = 0):
        hits = [(n, s) for n, s in segs if s.split(d.element)[0] == seg_id]
        n, s = hits[which]
        els = s.split(d.element)
        els[1] = str(int(els[1]) + 1)
        data = d.segment.join([d.element.join(els) if k == n else t for k, t in segs]) + d.segment
        return data.encode("latin-1"), n

    out = {}
    for seg_id in ("SE", "GE", "IEA"):
        data, n = bump(seg_id, 1)
        out[f"{seg_id.lower()}_count_mismatch"] = (data, n, "")
    last_full = segs[len(segs) // 2]
    cut = good.data.index(last_full[1].encode("latin-1")) + len(last_full[1]) + 1
    out["truncated_after_a_segment"] = (good.data[:cut], None, "")
    out["truncated_mid_segment"] = (good.data[:cut - 7], None, "")
    out["not_x12_text"] = (b"this is not an X12 file\n", None, "")
    out["not_x12_json"] = (b'{"id": "1", "version": "43.1", "pdx": "I5021"}\n', None, "")
    out["empty"] = (b"", None, "")
    return out


def write_bad_inputs(records: list, directory) -> None:
    """The bad-input files and what a reader must give for them, into ``directory``:
    ``bad-claims.837i`` (per-claim errors beside good claims), one file per whole-file case,
    ``expected.json``."""
    import json
    from pathlib import Path

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    f, cases = bad_claims_file(records)
    (d / "bad-claims.837i").write_bytes(f.data)
    expected = {"bad-claims.837i": {"claims": [
        {"id": c.facts.id, "locator": loc,
         "error_field_names": list(c.error_tokens) if c.error_tokens else None,
         "error_from": c.at if c.error_tokens else None,
         "twin": None if c.error_tokens else twin(c.facts)}
        for c, loc in zip(cases, f.locators)]}}
    for name, (data, segment, word) in whole_file_cases(records).items():
        (d / f"{name}.x12").write_bytes(data)
        expected[f"{name}.x12"] = {"X12Error": {"segment": segment, "reason_has": word or None}}
    (d / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":  # python tests/x12_files.py: rewrite tests/data/x12/bad/
    import json
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    from conftest import PUBLIC_CLAIMS

    with open(PUBLIC_CLAIMS) as fh:
        write_bad_inputs([json.loads(line) for line in fh if line.strip()], here / "data" / "x12" / "bad")
