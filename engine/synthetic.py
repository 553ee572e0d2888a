"""Synthetic claims for differential tests and benchmarks.

Random claims are only useful if they reach the interesting parts of the
grouping logic, so codes are not drawn uniformly: a claim picks an MDC, takes
its principal diagnosis from that MDC, and draws secondary diagnoses and
procedures from pools that matter for that MDC (codes whose attributes the
MDC's formulas test, CC/MCC codes, HAC codes, whole procedure clusters), mixed
with uniformly random codes.  Everything is derived from the decoded source
tables (:func:`engine.source.load_source`) — never from reference results — so
the generator cannot leak expected answers into the tests.

Edge cases (``edge_cases=True``) mutate a share of the claims the way real
feeds go wrong: invalid or truncated codes, codes valid only in another
version, duplicates, the principal dx repeated as a secondary, more than 24
secondaries, dotted or lower-case codes, integer versions or discharge dates,
integer sex codes, upper-case hospital statuses, POA "1" or missing.

Sampling is vectorised with numpy (pools are concatenated into one array with
per-pool offsets, so drawing a code for any (version, MDC, kind) is one fancy
index); only the final dict assembly is a Python loop.
"""

from __future__ import annotations

import datetime as _dt
import gc
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["generate_claims", "VERSIONS", "VALID_DISCHARGE", "INVALID_DISCHARGE"]

VERSIONS = (400, 401, 410, 411, 420, 421, 430, 431, 440)
N_MDC = 26  # MDC 0..25 (0 = codes without an MDC of their own)

#: UB-04 patient discharge status codes that the MS-DRG grouper accepts.
VALID_DISCHARGE = (
    1, 2, 3, 4, 5, 6, 7, 20, 21, 30, 43, 50, 51, 61, 62, 63, 64, 65, 66, 69, 70,
    81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
)
#: Codes outside that list (some are real UB-04 codes the grouper rejects).
INVALID_DISCHARGE = (0, 8, 9, 10, 19, 22, 29, 44, 60, 67, 68, 71, 80, 96, 99)

POA_VALUES = ("Y", "N", "U", "W", "1", None)
POA_P = (0.74, 0.10, 0.05, 0.05, 0.04, 0.02)

# Secondary-dx pool kinds, with their mixing weights.
SDX_SAME_MDC, SDX_ATTR, SDX_CC, SDX_HAC, SDX_ANY = range(5)
SDX_P = (0.27, 0.15, 0.25, 0.07, 0.26)
# Procedure pool kinds.
PX_REL, PX_PRE, PX_ANY = range(3)
PX_P = (0.75, 0.05, 0.20)

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_@:>=<]*")


@dataclass
class _Pools:
    """All sampling pools, flattened: pool k is ``flat[start[k]:start[k]+size[k]]``."""

    dx_codes: list  # dx id -> code text
    px_codes: list  # px id -> code text
    dx_flat: np.ndarray
    dx_start: np.ndarray  # indexed by dx pool key
    dx_size: np.ndarray
    px_flat: np.ndarray
    px_start: np.ndarray
    px_size: np.ndarray
    pdx_mdcs: list  # per version index: np.ndarray of MDCs with a non-empty pdx pool
    dx_other_version: list  # per version index: dx ids valid in another version only
    px_other_version: list
    clusters: list  # per version index: list of [[px code, ...] per choice]


def _dx_key(vi: int, kind: int, mdc: int) -> int:
    return (vi * 6 + kind) * N_MDC + mdc


def _px_key(vi: int, kind: int, mdc: int) -> int:
    return (vi * 3 + kind) * N_MDC + mdc


def _operands(formula: str) -> tuple[set, set]:
    """(dx attribute names, procedure attribute names) a formula tests."""
    dx, px = set(), set()
    for tok in _TOKEN.findall(formula):
        if ":" in tok:
            prefix, _, name = tok.partition(":")
            (px if prefix == "ONLY" else dx).add(name)
        elif tok[:1].islower():
            px.add(tok)
        elif tok.startswith("NOR") and tok[3:4].islower():
            px.add(tok[3:])
    return dx, px


def _flatten(pools: dict, n_keys: int, fallback) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate pools; an empty pool borrows ``fallback(key)``'s pool."""
    parts, start, size = [], np.zeros(n_keys, np.int64), np.zeros(n_keys, np.int64)
    pos = 0
    for k in range(n_keys):
        arr = pools.get(k)
        if arr is not None and len(arr):
            parts.append(np.asarray(arr, np.int32))
            start[k], size[k] = pos, len(arr)
            pos += len(arr)
    for k in range(n_keys):
        fk = k
        while size[fk] == 0 and fallback(fk) != fk:  # chains end at a non-empty "any" pool
            fk = fallback(fk)
        start[k], size[k] = start[fk], size[fk]
    return np.concatenate(parts), start, size


def _rows(table) -> tuple[list, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(sorted distinct codes, code id, lo, hi, value) arrays of a versioned row table."""
    codes = sorted({r[0] for r in table})
    cid = {c: i for i, c in enumerate(codes)}
    ids = np.fromiter((cid[r[0]] for r in table), np.int32, len(table))
    lo = np.fromiter((r[1] for r in table), np.int64, len(table))
    hi = np.fromiter((r[2] for r in table), np.int64, len(table))
    val = np.fromiter((r[3] for r in table), np.int64, len(table))
    return codes, ids, lo, hi, val


def _complement(ids: np.ndarray, n: int) -> np.ndarray:
    mask = np.ones(n, bool)
    mask[ids] = False
    return np.flatnonzero(mask).astype(np.int32)


def _build_pools(source) -> _Pools:
    """Work at scheme / attribute-pattern level (hundreds) and map to codes with numpy."""
    nv = len(VERSIONS)
    dx_codes, dx_ids, dx_lo, dx_hi, dx_scheme = _rows(source.diagnosis)
    px_codes, px_ids, px_lo, px_hi, px_pattern = _rows(source.procedure_attributes)

    n_sch = max(source.schemes) + 1
    sch_mdc = np.zeros(n_sch, np.int64)
    sch_cc = np.zeros(n_sch, bool)
    sch_hac = np.zeros(n_sch, bool)
    sch_attrs = [set() for _ in range(n_sch)]
    for k, sch in source.schemes.items():
        sch_mdc[k] = sch["mdc"] if 0 <= sch["mdc"] < N_MDC else 0
        sch_cc[k] = sch["severity"] in ("CC", "MCC")
        sch_hac[k] = bool(sch["hac_operand_pattern"])
        sch_attrs[k] = set(source.dx_patterns.get(sch["operands_pattern"], [])) | set(
            source.dx_patterns.get(sch["dx_cat_list_pattern"], [])
        )
    n_pat = max(max(source.pr_patterns, default=0), int(px_pattern.max(initial=0))) + 1
    pat_attrs = [set(source.pr_patterns.get(k, [])) for k in range(n_pat)]

    # what each MDC's formulas test, per version
    f_dx = [[set() for _ in range(N_MDC)] for _ in range(nv)]
    f_px = [[set() for _ in range(N_MDC)] for _ in range(nv)]
    for f in source.drg_formulas:
        if not 0 <= f["mdc"] < N_MDC:
            continue
        dxa, pxa = _operands(f["formula"])
        dxa |= set(f.get("suppression") or [])
        for vi, v in enumerate(VERSIONS):
            if f["lo"] <= v <= f["hi"]:
                f_dx[vi][f["mdc"]] |= dxa
                f_px[vi][f["mdc"]] |= pxa

    dx_pools, px_pools = {}, {}
    pdx_mdcs, dx_other, px_other, clusters = [], [], [], []
    for vi, v in enumerate(VERSIONS):
        ok = (dx_lo <= v) & (v <= dx_hi)
        ids, sch = dx_ids[ok], dx_scheme[ok]
        mdc_of = sch_mdc[sch]
        for mdc in range(N_MDC):
            want = f_dx[vi][mdc]
            rel = np.array([bool(a & want) for a in sch_attrs])
            dx_pools[_dx_key(vi, SDX_SAME_MDC, mdc)] = ids[mdc_of == mdc]
            dx_pools[_dx_key(vi, SDX_ATTR, mdc)] = ids[rel[sch]]
        # pools that do not depend on the MDC are stored once, under MDC 0
        dx_pools[_dx_key(vi, SDX_CC, 0)] = ids[sch_cc[sch]]
        dx_pools[_dx_key(vi, SDX_HAC, 0)] = ids[sch_hac[sch]]
        dx_pools[_dx_key(vi, SDX_ANY, 0)] = ids
        pdx_mdcs.append(np.flatnonzero(np.bincount(mdc_of, minlength=N_MDC)))
        dx_other.append(_complement(ids, len(dx_codes)))

        ok = (px_lo <= v) & (v <= px_hi)
        ids, pat = px_ids[ok], px_pattern[ok]
        for mdc in range(N_MDC):
            want = f_px[vi][mdc]
            rel = np.array([bool(a & want) for a in pat_attrs])
            px_pools[_px_key(vi, PX_REL, mdc)] = ids[rel[pat]]
        pre = np.array([bool(a & f_px[vi][0]) for a in pat_attrs])
        px_pools[_px_key(vi, PX_PRE, 0)] = ids[pre[pat]]
        px_pools[_px_key(vi, PX_ANY, 0)] = ids
        px_other.append(_complement(ids, len(px_codes)))
        clusters.append(
            [c["choices"] for c in source.clusters if c["lo"] <= v <= c["hi"] and c["choices"]]
        )

    def dx_fallback(k):
        vi, kind = divmod(k // N_MDC, 6)
        if kind in (SDX_CC, SDX_HAC) and k % N_MDC == 0:
            return _dx_key(vi, SDX_ANY, 0)
        return _dx_key(vi, kind if kind in (SDX_CC, SDX_HAC, SDX_ANY) else SDX_ANY, 0)

    def px_fallback(k):
        vi, kind = divmod(k // N_MDC, 3)
        if kind == PX_PRE and k % N_MDC == 0:
            return _px_key(vi, PX_ANY, 0)
        return _px_key(vi, kind if kind in (PX_PRE, PX_ANY) else PX_ANY, 0)

    dx_flat, dx_start, dx_size = _flatten(dx_pools, nv * 6 * N_MDC, dx_fallback)
    px_flat, px_start, px_size = _flatten(px_pools, nv * 3 * N_MDC, px_fallback)
    return _Pools(dx_codes, px_codes, dx_flat, dx_start, dx_size, px_flat, px_start, px_size,
                  pdx_mdcs, dx_other, px_other, clusters)


_POOLS: _Pools | None = None


def _pools() -> _Pools:
    """Pools are built once per process (about a second) and reused."""
    global _POOLS
    if _POOLS is None:
        from .source import load_source

        _POOLS = _build_pools(load_source())
    return _POOLS


def _version_text(v: int) -> str:
    return f"{v // 10}.{v % 10}"


def _version_dates(v: int) -> tuple[_dt.date, _dt.date]:
    """CMS calendar: vNN.0 covers Oct 1 - Mar 31 of fiscal year NN-17+2000, vNN.1 Apr 1 - Sep 30."""
    fy = v // 10 - 40 + 2023
    if v % 10 == 0:
        return _dt.date(fy - 1, 10, 1), _dt.date(fy, 3, 31)
    return _dt.date(fy, 4, 1), _dt.date(fy, 9, 30)


def _draw(rng, flat, start, size, keys):
    u = rng.random(len(keys))
    return flat[start[keys] + (u * size[keys]).astype(np.int64)]


def _dotted(code: str) -> str:
    return code[:3] + "." + code[3:] if len(code) > 3 else code


def generate_claims(n: int, seed: int = 0, versions=None, edge_cases: bool = True) -> list[dict]:
    """``n`` claim dicts in the engine's input format, deterministic for ``seed``.

    ``versions``: iterable of versions (``"43.1"`` or ``431``); default all
    nine.  ``edge_cases``: mutate about 15% of the claims (see module doc).
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small containers, no cycles: the collector only costs time
    try:
        return _generate(n, seed, versions, edge_cases)
    finally:
        if gc_was_enabled:
            gc.enable()


def _generate(n: int, seed: int, versions, edge_cases: bool) -> list[dict]:
    P = _pools()
    rng = np.random.default_rng(seed)
    if versions is None:
        vidx = np.arange(len(VERSIONS))
    else:
        vs = [int(str(v).replace(".", "")) for v in versions]
        vidx = np.array([VERSIONS.index(v) for v in vs])
    vi = vidx[rng.integers(0, len(vidx), n)]

    # principal dx: an MDC with a non-empty pool for that version, then a code of it
    mdc = np.empty(n, np.int64)
    for k in np.unique(vi):
        sel = np.flatnonzero(vi == k)
        choices = P.pdx_mdcs[k]
        mdc[sel] = choices[rng.integers(0, len(choices), len(sel))]
    pdx = _draw(rng, P.dx_flat, P.dx_start, P.dx_size, (vi * 6 + SDX_SAME_MDC) * N_MDC + mdc)

    # demographics
    age = rng.integers(0, 125, n)
    age = np.where(rng.random(n) < 0.08, rng.choice([0, 1, 17, 18, 64, 65, 124], n), age)
    age = np.where((mdc == 15) & (rng.random(n) < 0.8), 0, age)
    sex = rng.choice(3, n, p=(0.46, 0.46, 0.08))  # 0 M, 1 F, 2 U
    sex = np.where((mdc == 14) & (rng.random(n) < 0.9), 1, sex)
    sex = np.where((mdc == 13) & (rng.random(n) < 0.9), 1, sex)
    sex = np.where((mdc == 12) & (rng.random(n) < 0.9), 0, sex)
    dvalid = np.array(VALID_DISCHARGE)
    dinvalid = np.array(INVALID_DISCHARGE)
    r = rng.random(n)
    dstat = np.where(r < 0.5, 1, dvalid[rng.integers(0, len(dvalid), n)])
    dstat = np.where(r > 0.96, dinvalid[rng.integers(0, len(dinvalid), n)], dstat)
    dstat_as_str = rng.random(n) < 0.5
    hosp = rng.choice(3, n, p=(0.85, 0.08, 0.07))
    pdx_poa = rng.choice(len(POA_VALUES), n, p=(0.9, 0.025, 0.02, 0.02, 0.02, 0.015))

    # secondary diagnoses
    n_sdx = rng.integers(1, 25, n)
    r = rng.random(n)
    n_sdx = np.where(r < 0.12, 0, n_sdx)
    n_sdx = np.where(r > 0.97, rng.integers(25, 31, n), n_sdx)
    s_claim = np.repeat(np.arange(n), n_sdx)
    s_kind = rng.choice(5, len(s_claim), p=SDX_P)
    s_keys = (vi[s_claim] * 6 + s_kind) * N_MDC + mdc[s_claim]
    sdx = _draw(rng, P.dx_flat, P.dx_start, P.dx_size, s_keys)
    s_poa = rng.choice(len(POA_VALUES), len(s_claim), p=POA_P)

    # procedures
    n_px = rng.integers(1, 13, n)
    n_px = np.where(rng.random(n) < 0.3, 0, n_px)
    p_claim = np.repeat(np.arange(n), n_px)
    p_kind = rng.choice(3, len(p_claim), p=PX_P)
    p_keys = (vi[p_claim] * 3 + p_kind) * N_MDC + mdc[p_claim]
    px = _draw(rng, P.px_flat, P.px_start, P.px_size, p_keys)

    # ---- assemble dicts
    dxc, pxc = P.dx_codes, P.px_codes
    vtext = [_version_text(v) for v in VERSIONS]
    sexes = ("M", "F", "U")
    hs = ("not_exempt", "exempt", "unknown")
    # every code entry is built by one comprehension, then sliced per claim
    sd_all = [
        {"code": c, "poa": p} if p else c
        for c, p in zip(map(dxc.__getitem__, sdx.tolist()), map(POA_VALUES.__getitem__, s_poa.tolist()))
    ]
    px_all = list(map(pxc.__getitem__, px.tolist()))
    pdx_all = [
        {"code": c, "poa": p} if p else c
        for c, p in zip(map(dxc.__getitem__, pdx.tolist()), map(POA_VALUES.__getitem__, pdx_poa.tolist()))
    ]
    ds_all = [f"{d:02d}" if as_str else d for d, as_str in zip(dstat.tolist(), dstat_as_str.tolist())]
    s_end = np.cumsum(n_sdx).tolist()
    p_end = np.cumsum(n_px).tolist()
    claims = []
    s0 = p0 = 0
    prefix = f"syn-{seed}-"
    for i, (v, pd, a, sx, ds, h, s1, p1) in enumerate(
        zip(vi.tolist(), pdx_all, age.tolist(), sex.tolist(), ds_all, hosp.tolist(), s_end, p_end)
    ):
        claims.append({
            "id": prefix + str(i),
            "version": vtext[v],
            "age": a,
            "sex": sexes[sx],
            "discharge_status": ds,
            "hospital_status": hs[h],
            "pdx": pd,
            "sdx": sd_all[s0:s1],
            "procedures": px_all[p0:p1],
        })
        s0, p0 = s1, p1
    if edge_cases:
        _mutate(claims, vi, rng, P)
    return claims


# --------------------------------------------------------------------------
# edge cases


def _code_of(entry):
    return entry["code"] if isinstance(entry, dict) else entry


def _with_code(entry, code):
    if isinstance(entry, dict):
        out = dict(entry)
        out["code"] = code
        return out
    return code


def _garbage(rng) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    k = int(rng.integers(1, 9))
    return "".join(alphabet[j] for j in rng.integers(0, len(alphabet), k))


def _mutate(claims: list, vi: np.ndarray, rng, P: _Pools) -> None:
    """Apply 1-2 edge-case mutations to ~15% of the claims, in place."""
    n = len(claims)
    picked = np.flatnonzero(rng.random(n) < 0.15)
    kinds = rng.integers(0, len(_MUTATIONS), (len(picked), 2))
    twice = rng.random(len(picked)) < 0.3
    for j, i in enumerate(picked.tolist()):
        c = claims[i]
        for m in sorted(kinds[j, : 2 if twice[j] else 1].tolist()):  # _m_empty (last) runs last
            _MUTATIONS[m](c, int(vi[i]), rng, P)


def _m_invalid_pdx(c, v, rng, P):
    code = _code_of(c["pdx"])
    c["pdx"] = _with_code(c["pdx"], code[: int(rng.integers(1, max(2, len(code))))]
                          if rng.random() < 0.5 else _garbage(rng))


def _m_invalid_sdx(c, v, rng, P):
    code = _code_of(c["pdx"]) if not c["sdx"] else _code_of(c["sdx"][int(rng.integers(0, len(c["sdx"])))])
    bad = code[:-1] if len(code) > 1 and rng.random() < 0.5 else _garbage(rng)  # never empty
    c["sdx"].insert(int(rng.integers(0, len(c["sdx"]) + 1)), {"code": bad, "poa": "Y"})


def _m_invalid_px(c, v, rng, P):
    if c["procedures"] and rng.random() < 0.5:
        j = int(rng.integers(0, len(c["procedures"])))
        if len(c["procedures"][j]) > 1:  # truncated, never empty
            c["procedures"][j] = c["procedures"][j][:-1]
    else:
        c["procedures"].append(_garbage(rng) if rng.random() < 0.7 else "Z@" + str(int(rng.integers(0, 9999))))


def _m_duplicates(c, v, rng, P):
    if c["sdx"]:
        c["sdx"].append(c["sdx"][int(rng.integers(0, len(c["sdx"])))])
    if c["procedures"]:
        c["procedures"].append(c["procedures"][int(rng.integers(0, len(c["procedures"])))])


def _m_pdx_as_sdx(c, v, rng, P):
    poa = ("Y", "N", "W", "U", "1")[int(rng.integers(0, 5))]
    c["sdx"].insert(int(rng.integers(0, len(c["sdx"]) + 1)), {"code": _code_of(c["pdx"]), "poa": poa})


def _m_many_sdx(c, v, rng, P):
    base = (v * 6 + SDX_ANY) * N_MDC
    for _ in range(max(0, 25 - len(c["sdx"])) + int(rng.integers(0, 12))):
        d = P.dx_flat[P.dx_start[base] + int(rng.integers(0, P.dx_size[base]))]
        c["sdx"].append({"code": P.dx_codes[d], "poa": "Y" if rng.random() < 0.8 else "N"})


def _m_format(c, v, rng, P):
    """Dotted and/or lower-case codes (the engine must normalise them)."""
    def fmt(code, dotted):
        if dotted:
            code = _dotted(code)
        return code.lower() if rng.random() < 0.5 else code

    c["pdx"] = _with_code(c["pdx"], fmt(_code_of(c["pdx"]), True))
    c["sdx"] = [_with_code(e, fmt(_code_of(e), rng.random() < 0.5)) for e in c["sdx"]]
    c["procedures"] = [fmt(p, False) for p in c["procedures"]]


def _m_other_version(c, v, rng, P):
    if len(P.dx_other_version[v]):
        d = P.dx_other_version[v][int(rng.integers(0, len(P.dx_other_version[v])))]
        if rng.random() < 0.4:
            c["pdx"] = _with_code(c["pdx"], P.dx_codes[d])
        else:
            c["sdx"].append({"code": P.dx_codes[d], "poa": "Y"})
    if len(P.px_other_version[v]):
        p = P.px_other_version[v][int(rng.integers(0, len(P.px_other_version[v])))]
        c["procedures"].append(P.px_codes[p])


def _m_version_form(c, v, rng, P):
    """Version as an int, or a discharge date inside the version's range."""
    ver = VERSIONS[v]
    if rng.random() < 0.5:
        c["version"] = ver
    else:
        lo, hi = _version_dates(ver)
        day = lo + _dt.timedelta(days=int(rng.integers(0, (hi - lo).days + 1)))
        c.pop("version", None)
        c["discharge_date"] = day.isoformat()


def _m_demographics(c, v, rng, P):
    if isinstance(c["sex"], str) and rng.random() < 0.5:
        c["sex"] = {"M": 0, "F": 1, "U": 2}[c["sex"]]
    c["hospital_status"] = c["hospital_status"].upper()
    c["age"] = (0, 124)[int(rng.integers(0, 2))]
    c["discharge_status"] = int(INVALID_DISCHARGE[int(rng.integers(0, len(INVALID_DISCHARGE)))])


def _m_poa(c, v, rng, P):
    """POA '1' or missing on the principal and some secondaries; UNKNOWN/NOT_EXEMPT hospitals."""
    choice = ("1", None, "N", "U")[int(rng.integers(0, 4))]
    c["pdx"] = {"code": _code_of(c["pdx"]), "poa": choice} if choice else _code_of(c["pdx"])
    c["sdx"] = [
        ({"code": _code_of(e), "poa": choice} if choice else _code_of(e)) if rng.random() < 0.3 else e
        for e in c["sdx"]
    ]
    c["hospital_status"] = ("unknown", "not_exempt")[int(rng.integers(0, 2))]


def _m_cluster(c, v, rng, P):
    """All choices of one procedure cluster (multi-code DRG logic)."""
    cl = P.clusters[v]
    if cl:
        choices = cl[int(rng.integers(0, len(cl)))]
        for codes in choices:
            c["procedures"].append(codes[int(rng.integers(0, len(codes)))])


def _m_empty(c, v, rng, P):
    if rng.random() < 0.5:
        c.pop("sdx", None)
    else:
        c["procedures"] = []


_MUTATIONS = (
    _m_invalid_pdx, _m_invalid_sdx, _m_invalid_px, _m_duplicates, _m_pdx_as_sdx, _m_many_sdx,
    _m_format, _m_other_version, _m_version_form, _m_demographics, _m_poa, _m_cluster,
    _m_cluster, _m_empty,
)
