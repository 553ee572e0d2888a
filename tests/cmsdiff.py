"""Differential testing against the official CMS MS-DRG grouper (shared/cms-oracle).

The CMS grouper (msdrg-core 43.1, v40.0-v43.1) runs as a black box through JPype
(``shared/cms-oracle/cms_oracle.py``); it is the truth.  This module:

* finds it (``oracle_unavailable()`` names why it cannot run: no shared/ checkout,
  no Java, no jpype1) and starts it once per process (``cms_grouper()``: one JVM);
* turns OUR claim dicts into its input (``to_cms``: the format of shared/eval);
* compares all five graded fields AND the per-code detail (``compare``);
* generates claims aimed at each rule (``generate``): engine.synthetic's per-MDC
  draws (so every MDC's DRG logic is reached) with, on top, every HAC's operand
  codes (diagnoses and procedures) as principal and secondary dx, every POA value
  (blank, absent and characters CMS does not recognise included), every hospital
  status, ages -5..150, sex M/F/U, discharge statuses 0-99 and beyond, more than 24
  secondary dx and 25 procedures, duplicates, the principal dx repeated, an admit
  dx, codes valid only in other versions, every version;
* runs them in chunks (``run``) with bounded memory and tallies the differences.

Any difference fails: there are no classification rules (``KNOWN_RULES`` is empty
and must stay a list of named, documented rules if ever one is needed).
"""

from __future__ import annotations

import collections
import importlib.util
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from oracle import GRADED_FIELDS, expect_fields, fmt_drg, fmt_mdc, normalise_code  # noqa: F401

SHARED = Path(os.environ.get("FASTDRG_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
ORACLE_DIR = SHARED / "cms-oracle"

#: Named, documented rules explaining a difference between our engine and CMS.
#: Empty: every difference is a failure.
KNOWN_RULES: dict[str, str] = {}


# ---- the oracle ------------------------------------------------------------------------------

def oracle_unavailable() -> str | None:
    """Why the CMS oracle cannot run here, or None when it can."""
    if not (ORACLE_DIR / "cms_oracle.py").is_file():
        return f"CMS oracle not found at {ORACLE_DIR} (shared/ must be a sibling of the repository)"
    if shutil.which("java") is None:
        return "Java is not installed (the CMS grouper is a Java library)"
    if importlib.util.find_spec("jpype") is None:
        return "jpype1 is not installed (pip install jpype1)"
    return None


_CMS = None


def cms_grouper():
    """The process's one CmsGrouper (one JVM per process; started on first use)."""
    global _CMS
    if _CMS is None:
        if str(ORACLE_DIR) not in sys.path:
            sys.path.insert(0, str(ORACLE_DIR))
        from cms_oracle import CmsGrouper

        _CMS = CmsGrouper()
    return _CMS


# ---- OUR claim -> CMS input --------------------------------------------------------------------

_SEX = {"M": "M", "F": "F", "U": "U", 0: "M", 1: "F", 2: "U"}
_HOSP = {"NOT_EXEMPT": "NON_EXEMPT", "EXEMPT": "EXEMPT", "UNKNOWN": "UNKNOWN"}


def _poa(entry) -> str:
    """Our POA -> the character CMS is given.  Absent, null and "" are the blank
    the UB-04 field holds when nothing is reported (engine-interface.md)."""
    if not isinstance(entry, dict):
        return " "
    p = entry.get("poa")
    if p is None:
        return " "
    p = p.strip().upper()
    return p if p else " "


def _code(entry) -> str:
    return normalise_code(entry["code"] if isinstance(entry, dict) else entry)


def _version(claim: dict) -> int:
    v = claim.get("version")
    if v is None:
        from engine import version_for_date

        v = version_for_date(claim["discharge_date"])
    if isinstance(v, int):
        return v
    major, _, minor = str(v).strip().partition(".")
    return int(major) * 10 + int(minor)


def to_cms(claim: dict) -> dict:
    """OUR claim dict (docs/engine-interface.md) -> the CMS oracle's input record.
    ``admit_dx`` has no place there: the grouper never reads it."""
    sex = claim.get("sex")
    sex = _SEX[sex.strip().upper() if isinstance(sex, str) else sex]
    hs = str(claim.get("hospital_status") or "not_exempt").strip().upper()
    return {
        "id": claim.get("id"),
        "version": _version(claim),
        "age": int(claim["age"]),
        "sex": sex,
        "dstat": int(claim["discharge_status"]),
        "pdx": _code(claim["pdx"]),
        "pdx_poa": _poa(claim["pdx"]),
        "sdx": [[_code(e), _poa(e)] for e in claim.get("sdx") or []],
        "px": [_code(e) for e in claim.get("procedures") or []],
        "hospital_status": _HOSP[hs],
    }


def cms_expect(claims: list[dict]) -> list[dict]:
    """CMS's answer (``expect``: drg, mdc, initial_drg, initial_mdc, rc, detail) per claim."""
    g = cms_grouper()
    out = []
    for c in claims:
        try:
            out.append(g.group(to_cms(c)))
        except Exception as e:  # noqa: BLE001 - what CMS refuses is a difference to look at
            out.append({"error": f"{type(e).__name__}: {str(e)[:160]}"})
    return out


# ---- comparison ------------------------------------------------------------------------------

def _hacs(entry) -> list:
    return [[h["number"], h["status"]] for h in entry.get("hacs") or []]


def _dx_diff(prefix: str, exp_row: list, got: dict | None, diff: dict) -> None:
    code, affects, sev_i, sev_f, poa_error, hacs = exp_row
    if got is None:
        diff[prefix] = (code, None)
        return
    usage = got.get("severity_usage") or {}
    for name, e, g in (
        ("code", code, got.get("code")),
        ("affects_drg", affects, got.get("affects_drg")),
        ("severity_usage.initial", sev_i, usage.get("initial")),
        ("severity_usage.final", sev_f, usage.get("final")),
        ("poa_error", poa_error, got.get("poa_error")),
        ("hacs", [list(h) for h in hacs], _hacs(got)),
    ):
        if e != g:
            diff[f"{prefix}.{name}"] = (e, g)


def detail_diff(expect: dict, res: dict) -> dict:
    """``{field path: (CMS, ours)}`` over the per-claim and per-code detail."""
    d = expect["detail"]
    if "error" in res:
        return {"error": (None, res["error"])}
    diff = {}
    sev = res.get("severity") or {}
    for name, e, g in (
        ("severity.initial", d["initial_severity"], sev.get("initial")),
        ("severity.final", d["final_severity"], sev.get("final")),
        ("med_surg", d["final_med_surg"], res.get("med_surg")),
        ("hac_status", d["hac_status"], res.get("hac_status")),
    ):
        if e != g:
            diff[name] = (e, g)
    _dx_diff("pdx", d["pdx"], res.get("pdx"), diff)
    sdx = res.get("sdx") or []
    if len(sdx) != len(d["sdx"]):
        diff["len(sdx)"] = (len(d["sdx"]), len(sdx))
    for k, row in enumerate(d["sdx"]):
        _dx_diff(f"sdx[{k}]", row, sdx[k] if k < len(sdx) else None, diff)
    px = res.get("procedures") or []
    if len(px) != len(d["px"]):
        diff["len(procedures)"] = (len(d["px"]), len(px))
    for k, (code, affects, hac_usage) in enumerate(d["px"]):
        got = px[k] if k < len(px) else None
        if got is None:
            diff[f"px[{k}]"] = (code, None)
            continue
        for name, e, g in (
            ("code", code, got.get("code")),
            ("affects_drg", affects, got.get("affects_drg")),
            ("hac_usage", list(hac_usage), list(got.get("hac_usage") or [])),
        ):
            if e != g:
                diff[f"px[{k}].{name}"] = (e, g)
    return diff


#: what the CMS grouper raises for a claim none of whose formulas gives a DRG (v40.0 raises
#: the second: the DRG it finds, 0, has no title); engine.grouper.NO_DRG is our answer
_CMS_NO_DRG = ("Grouping failed to match to a DRG", "DRG description is required")


def _refused_alike(cms_error: str, res: dict) -> bool:
    """CMS refused the claim for want of a DRG, and so did we."""
    return (any(m in cms_error for m in _CMS_NO_DRG)
            and res.get("error", {}).get("reason", "").startswith("no DRG:"))


def compare(expect: dict, res: dict) -> dict:
    """Every difference between CMS's ``expect`` and our result: the five graded
    fields and the detail (empty dict: identical)."""
    if "error" in expect:
        if _refused_alike(expect["error"], res):
            return {}
        return {"cms": (expect["error"], "grouped" if "error" not in res else res["error"])}
    if "error" in res:
        return {"error": (expect["rc"], res["error"])}
    exp = expect_fields({"expect": expect})
    diff = {f: (exp[f], res.get(f)) for f in GRADED_FIELDS if res.get(f) != exp[f]}
    diff.update(detail_diff(expect, res))
    return diff


# ---- generators ------------------------------------------------------------------------------

VERSIONS = (400, 401, 410, 411, 420, 421, 430, 431)
#: every POA value: the five CMS knows, blank, absent (None), and characters it does not
POA_ALL = ("Y", "N", "U", "W", "1", " ", None, "", "X", "E", "0", "y", "n")
_HAC_PROC = re.compile(r"hac(\d\d)_proc")


class _HacPools:
    """Per version: the diagnoses that are some HAC's operand (by HAC), the principal-dx
    HAC operands (hac11_pdx) and the procedures some HAC formula tests."""

    def __init__(self):
        from engine.source import load_source

        s = load_source()
        self.dx = {v: collections.defaultdict(list) for v in VERSIONS}
        self.pdx = {v: [] for v in VERSIONS}
        self.px = {v: collections.defaultdict(list) for v in VERSIONS}
        self.any_dx = {v: [] for v in VERSIONS}
        hac_of = re.compile(r"^(?:hac|HAC)(\d+)")
        for code, lo, hi, sch in s.diagnosis:
            S = s.schemes[sch]
            names = s.dx_patterns.get(S["hac_operand_pattern"]) or []
            for v in VERSIONS:
                if not lo <= v <= hi:
                    continue
                for n in names:
                    if n.endswith("hac11_pdx"):
                        self.pdx[v].append(code)
                    elif (m := hac_of.match(n)):
                        self.dx[v][int(m.group(1))].append(code)
        for code, lo, hi, pat in s.procedure_attributes:
            hs = {int(m.group(1)) for n in s.pr_patterns.get(pat, []) if (m := _HAC_PROC.search(n))}
            for v in VERSIONS:
                if lo <= v <= hi:
                    for h in hs:
                        self.px[v][h].append(code)
        for v in VERSIONS:
            for h in list(self.dx[v]):
                self.dx[v][h] = sorted(set(self.dx[v][h]))
            self.pdx[v] = sorted(set(self.pdx[v]))


_POOLS: _HacPools | None = None


def _pools() -> _HacPools:
    global _POOLS
    if _POOLS is None:
        _POOLS = _HacPools()
    return _POOLS


def _pick(rng, seq):
    return seq[int(rng.integers(0, len(seq)))]


def _dx_entry(code, poa):
    return code if poa is None else {"code": code, "poa": poa}


def _hac_claim(c: dict, v: int, rng, P: _HacPools) -> None:
    """Put one to three HACs' operands on the claim: their diagnoses as secondary
    (and sometimes principal) dx, their procedures, the principal-dx operand."""
    hacs = sorted(P.dx[v])
    for _ in range(int(rng.integers(1, 4))):
        h = _pick(rng, hacs)
        for _ in range(int(rng.integers(1, 3))):
            code = _pick(rng, P.dx[v][h])
            entry = _dx_entry(code, _pick(rng, POA_ALL))
            if rng.random() < 0.12:
                c["pdx"] = entry
            else:
                c.setdefault("sdx", []).insert(int(rng.integers(0, len(c.get("sdx") or []) + 1)), entry)
        if P.px[v].get(h) and rng.random() < 0.75:
            c.setdefault("procedures", []).insert(0 if rng.random() < 0.5 else len(c.get("procedures") or []),
                                                  _pick(rng, P.px[v][h]))
    if P.pdx[v] and rng.random() < 0.2:  # HAC 11: the principal dx's operand (morbid obesity)
        c["pdx"] = _dx_entry(_pick(rng, P.pdx[v]), _pick(rng, POA_ALL))
        if P.px[v].get(11):
            c.setdefault("procedures", []).append(_pick(rng, P.px[v][11]))
    if rng.random() < 0.5:
        c["hospital_status"] = _pick(rng, ("not_exempt", "exempt", "unknown", "NOT_EXEMPT", "Unknown"))


def _retarget(c: dict, rng) -> None:
    """Demographics and POA over their whole range (CMS groups all of them)."""
    r = rng.random()
    if r < 0.25:
        c["age"] = int(rng.integers(-5, 151))
    elif r < 0.3:
        c["age"] = _pick(rng, (-1, 0, 124, 125, 130, 150, 999, -5))
    if rng.random() < 0.25:
        d = int(rng.integers(0, 100))
        c["discharge_status"] = _pick(rng, (d, f"{d:02d}", d))
    elif rng.random() < 0.02:
        c["discharge_status"] = _pick(rng, (100, 255, 1000, -1))
    if rng.random() < 0.1:
        c["sex"] = _pick(rng, ("M", "F", "U", "u", 0, 1, 2))
    if rng.random() < 0.2:
        c["sdx"] = [_dx_entry(e["code"] if isinstance(e, dict) else e, _pick(rng, POA_ALL)) for e in c.get("sdx") or []]
        c["pdx"] = _dx_entry(c["pdx"]["code"] if isinstance(c["pdx"], dict) else c["pdx"], _pick(rng, POA_ALL))


def _extremes(c: dict, v: int, rng, others: list) -> None:
    r = rng.random()
    px = c.setdefault("procedures", [])
    if r < 0.03 and px:  # more than 25 procedures
        while len(px) < 26 + int(rng.integers(0, 6)):
            px.append(_pick(rng, px))
    if rng.random() < 0.05 and c.get("sdx"):  # the principal dx repeated, with any POA
        code = c["pdx"]["code"] if isinstance(c["pdx"], dict) else c["pdx"]
        c["sdx"].insert(int(rng.integers(0, len(c["sdx"]) + 1)), _dx_entry(code, _pick(rng, POA_ALL)))
    if rng.random() < 0.08:  # the admit dx: read, never grouped on
        c["admit_dx"] = _pick(rng, others) if others else "R0789"


def generate(n: int, seed: int) -> list[dict]:
    """``n`` claims aimed at the rules above (deterministic for ``seed``)."""
    from engine.synthetic import generate_claims

    claims = generate_claims(n, seed=seed, versions=VERSIONS)  # the CMS software here: v40.0-v43.1
    rng = np.random.default_rng(seed + 7_000_003)
    P = _pools()
    for k, c in enumerate(claims):
        c["id"] = f"cms-{seed}-{k}"
        v = _version(c)
        if c.get("sdx") is None:
            c["sdx"] = []
        if rng.random() < 0.45:
            _hac_claim(c, v, rng, P)
        _retarget(c, rng)
        others = [e["code"] if isinstance(e, dict) else e for e in c["sdx"]]
        _extremes(c, v, rng, others)
    return claims


# ---- the run ---------------------------------------------------------------------------------

class Tally:
    """Claims compared, differences by field family, the first few in full."""

    def __init__(self, keep: int = 50):
        self.total = 0
        self.n_diff = 0
        self.by_field = collections.Counter()
        self.examples: list[tuple[dict, dict, dict]] = []
        self.drgs = collections.Counter()
        self.rcs = collections.Counter()
        self.hac_status = collections.Counter()
        self.keep = keep
        self.seconds_cms = 0.0
        self.seconds_ours = 0.0

    def add(self, claims, expects, results) -> None:
        for c, e, r in zip(claims, expects, results):
            self.total += 1
            if "error" not in e:
                self.drgs[(e["drg"])] += 1
                self.rcs[e["rc"]] += 1
                self.hac_status[e["detail"]["hac_status"]] += 1
            diff = compare(e, r)
            if diff:
                self.n_diff += 1
                for f in diff:
                    self.by_field[re.sub(r"\[\d+\]", "[]", f)] += 1
                if len(self.examples) < self.keep:
                    self.examples.append((c, e, diff))

    def summary(self) -> str:
        lines = [f"{self.total} claims vs the CMS grouper: {self.n_diff} differ "
                 f"(CMS {self.seconds_cms:.0f} s, fastdrg {self.seconds_ours:.1f} s); "
                 f"{len(self.drgs)} distinct final DRGs; return codes {dict(self.rcs.most_common())}; "
                 f"hac_status {dict(self.hac_status.most_common())}"]
        if self.by_field:
            lines.append("differences by field: " + ", ".join(f"{f}={n}" for f, n in self.by_field.most_common()))
        for c, e, diff in self.examples[:10]:
            lines.append(f"  {to_cms(c)}")
            lines.append(f"    {diff}")
        return "\n".join(lines)


def run(grouper, chunks, tally: Tally | None = None, progress=None) -> Tally:
    """Group each chunk ``(n, seed)`` with CMS and with ``grouper.group`` and compare."""
    tally = tally or Tally()
    for n, seed in chunks:
        claims = generate(n, seed)
        t = time.perf_counter()
        expects = cms_expect(claims)
        t1 = time.perf_counter()
        results = grouper.group(claims)
        tally.seconds_cms += t1 - t
        tally.seconds_ours += time.perf_counter() - t1
        tally.add(claims, expects, results)
        del claims, expects, results
        if progress:
            progress(tally)
    return tally
