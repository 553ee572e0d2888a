"""The compiled numpy tables agree with the official CMS definitions in
../shared/cms-msdrg/, for every code and every bundled version.

test_source.py checks the LMDB decoder; this checks what the kernel actually
reads: the arrays built by engine.tables (ids, CSR lists, formula nodes).
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from engine import formulas as fm
from engine.tables import SEV_CC, SEV_MCC, SEV_NONE

from conftest import SHARED

#: The versions the CMS reference tables cover (the first eight of the compiled
#: tables: v44.0 has no CMS reference here, see test_public_v44.py).
VERSIONS = (400, 401, 410, 411, 420, 421, 430, 431)

CMS = SHARED / "cms-msdrg"
SEVERITY = {"NCC": SEV_NONE, "CC": SEV_CC, "MCC": SEV_MCC}


def rows(name: str):
    path = CMS / f"{name}.jsonl"
    if not path.is_file():
        pytest.skip(f"CMS reference tables not found at {CMS} (../shared absent)")
    with open(path) as fh:
        for line in fh:
            yield json.loads(line)


def versioned(name: str):
    """(key, version index, value) for every bundled version a row covers."""
    for r in rows(name):
        for vi, v in enumerate(VERSIONS):
            if r["from"] <= v <= r["to"]:
                yield r["key"], vi, r["value"]


@pytest.fixture(scope="module")
def t(grouper):
    return grouper.tables


def names(t, ids) -> list[str]:
    attr = t.meta["attr_names"]
    return [attr[i] for i in ids]


def csr(off, flat, i):
    return flat[off[i]:off[i + 1]]


def test_diagnoses_every_code_and_version(t):
    schemes = {int(r["key"]): r["value"] for r in rows("schemeIndex")}
    patterns = {int(r["key"]): r["value"] for r in rows("dxPatterns")}
    a = t.arrays
    seen = np.zeros_like(a["dx_scheme"], dtype=bool)
    bad = []
    for code, vi, sid in versioned("diagnosisAll"):
        d = t.dx_index.get(code)
        if d is None:
            bad.append((code, VERSIONS[vi], "missing"))
            continue
        seen[vi, d] = True
        ours = int(a["dx_scheme"][vi, d])
        if ours < 0:
            bad.append((code, VERSIONS[vi], "not valid"))
            continue
        s = schemes[sid]
        got = (int(a["sch_mdc"][ours]), int(a["sch_sev"][ours]),
               sorted(names(t, csr(a["sch_ops_off"], a["sch_ops"], ours))),
               sorted(names(t, csr(a["sch_cat_off"], a["sch_cat"], ours))),
               sorted(names(t, csr(a["sch_hac_off"], a["sch_hac"], ours))))
        exp = (s["mdc"], SEVERITY[s["severity"]], sorted(patterns.get(s["operandsPattern"], [])),
               sorted(patterns.get(s["dxCatListPattern"], [])), sorted(patterns.get(s["hacOperandPattern"], [])))
        if got != exp:
            bad.append((code, VERSIONS[vi], got, exp))
    # and nothing is valid that CMS does not list
    extra = np.argwhere((a["dx_scheme"][:len(VERSIONS)] >= 0) & ~seen[:len(VERSIONS)])
    assert not bad, bad[:10]
    assert len(extra) == 0, [(t.meta["dx_codes"][d], VERSIONS[v]) for v, d in extra[:10]]


def test_exclusions_every_code_and_version(t):
    groups = {int(r["key"]): set(r["value"]) for r in rows("exclusionGroups")}
    a = t.arrays
    codes = t.meta["dx_codes"]
    bad = []
    n = 0
    same: dict[tuple[int, int], bool] = {}  # (our group, CMS group) -> equal membership
    dx_excl = a["dx_excl"]
    for code, vi, gid in versioned("exclusionIds"):
        g = int(dx_excl[vi, t.dx_index[code]])
        key = (g, gid)
        if key not in same:
            got = {codes[x] for x in csr(a["excl_off"], a["excl_codes"], g)} if g >= 0 else set()
            same[key] = got == {c for c in groups[gid] if c in t.dx_index}
        n += 1
        if not same[key]:
            bad.append((code, VERSIONS[vi]))
    assert n > 100_000 and not bad, bad[:10]


def test_sex_dependent_mdcs(t):
    a = t.arrays
    for code, vi, v in versioned("genderMdcs"):
        d = t.dx_index[code]
        assert tuple(a["dx_gender"][vi, d]) == (v["femaleMdc"], v["maleMdc"]), (code, VERSIONS[vi])


def test_procedures_every_code_and_version(t):
    patterns = {int(r["key"]): r["value"] for r in rows("prPatterns")}
    a = t.arrays
    bad = []
    for code, vi, pid in versioned("procedureAttributes"):
        p = t.pr_index[code]
        ours = int(a["pr_pattern"][vi, p])
        got = set(names(t, csr(a["pat_off"], a["pat_attrs"], ours))) - {"ORPROC"}
        if got != set(patterns[pid]):
            bad.append((code, VERSIONS[vi]))
    assert not bad, bad[:10]


def test_clusters(t):
    info = defaultdict(list)
    for r in rows("clusterInformation"):
        info[r["key"]].append(r)
    a = t.arrays
    codes = t.meta["pr_codes"]
    bad = []
    for code, vi, clusters in versioned("clusterIds"):
        p = t.pr_index[code]
        got = set()
        for c in a["pr_cl"][a["pr_cl_off"][vi, p]:a["pr_cl_off"][vi, p + 1]]:
            members = tuple(sorted(codes[x] for x in csr(a["cl_mem_off"], a["cl_mem"], c)))
            supp = tuple(m for m in range(32) if int(a["cl_supp"][c]) >> m & 1)
            got.add((members, supp, int(a["cl_nchoice"][c])))
        exp = set()
        for name in clusters:
            for r in info[name]:
                if r["from"] <= VERSIONS[vi] <= r["to"]:
                    ch = r["value"]["choices"]
                    members = tuple(sorted({c for x in ch for c in x["codes"] if c in t.pr_index}))
                    # MDC 99 (error DRGs) is never grouped into, so its suppression bit is not kept
                    supp = tuple(sorted(m for m in r["value"]["suppressionMdcs"] if m < 32))
                    exp.add((members, supp, len(ch)))
        if got != exp:
            bad.append((code, VERSIONS[vi]))
    assert not bad, bad[:10]


def test_drg_formulas_rank_order_every_mdc_and_version(t):
    a = t.arrays
    keys = t.meta["key_names"]
    by_vm = defaultdict(list)
    for mdc, vi, formulas in versioned("drgFormulas"):
        by_vm[(vi, int(mdc))] = sorted(formulas, key=lambda f: f["rank"])  # stable: CMS order on ties
    assert by_vm
    supp_names = {int(b): n for n, b in zip(t.meta["attr_names"], a["attr_supp_bit"]) if b >= 0}
    for (vi, mdc), formulas in by_vm.items():
        fids = a["vm_formulas"][a["vm_off"][vi * 100 + mdc]:a["vm_off"][vi * 100 + mdc + 1]]
        assert len(fids) == len(formulas), (VERSIONS[vi], mdc)
        for f, fid in zip(formulas, fids):
            lo, hi = a["f_lo"][fid], a["f_hi"][fid]
            atoms = [keys[a["n_a"][n]] for n in range(lo, hi) if a["n_op"][n] == fm.OP_ATOM]
            ops = [int(a["n_op"][n]) for n in range(lo, hi)]
            exp_nodes = fm.parse(f["formula"])
            assert atoms == [n.atom for n in exp_nodes if n.op == fm.OP_ATOM], (VERSIONS[vi], mdc, f["formula"])
            assert ops == [n.op for n in exp_nodes], (VERSIONS[vi], mdc, f["formula"])
            assert (int(a["f_drg"][fid]), int(a["f_reroute"][fid])) == (f["drg"], f["reRouteMdcId"])
            supp = {s for s in f["severitySuppressionOperand"] if s}
            bits = int(a["f_supp"][fid])
            got = {name for b, name in supp_names.items() if bits >> b & 1}
            assert got == supp, (VERSIONS[vi], mdc, f["formula"])


def test_formula_parser_precedence():
    nodes = fm.parse("a | b & ~c")
    # post-order: a, b, c, NOT, AND, OR
    assert [n.op for n in nodes] == [fm.OP_ATOM, fm.OP_ATOM, fm.OP_ATOM, fm.OP_NOT, fm.OP_AND, fm.OP_OR]
    with pytest.raises(fm.FormulaSyntaxError):
        fm.parse("(a & b")


def test_descriptions(t):
    for key, vi, text in versioned("drgDescriptions"):
        assert t.meta["drg_descriptions"][f"{VERSIONS[vi]}:{int(key)}"] == text
    for key, vi, text in versioned("mdcDescriptions"):
        assert t.meta["mdc_descriptions"][f"{VERSIONS[vi]}:{int(key)}"] == text


def test_marking_skip_flags(t):
    """Two flags let marking skip work that cannot name a code: ``f_stents``
    (a formula with an operand of a stent count, the only ones whose stented
    arteries marking names) and the counter bit of ``attr_special`` (the
    built-in procedure counters, which marking names its own way)."""
    from engine.grouping.layout import _SP_COUNTER
    from engine.tables import _PROCEDURE_COUNTERS, KEY_BARE

    a = t.arrays
    names = t.meta["attr_names"]
    counters = {names.index(n) for n in _PROCEDURE_COUNTERS}
    assert {i for i in range(len(names)) if a["attr_special"][i] & _SP_COUNTER} == counters
    for f in range(len(a["f_lo"])):
        stent = False
        for n in range(a["f_lo"][f], a["f_hi"][f]):
            if a["n_op"][n] == 0:
                key = a["n_a"][n]
                at = a["key_attr"][key]
                stent |= bool(a["key_kind"][key] == KEY_BARE and at >= 0 and a["attr_stent"][at] > 0)
        assert bool(a["f_stents"][f]) == stent, f
    assert not a["f_stents"].all()
