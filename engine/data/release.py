"""A CMS MS-DRG release's data (``msdrg_combined.bin``) decoded onto :class:`engine.source.Source`.

The release is one protobuf ``Root`` message (package ``msdrg``); every entry
carries the list of grouper versions it holds for (enum ``Version``: 390, 391,
400, ... 600).  The Source the msdrg package's file gives holds inclusive
version ranges instead, so each entry's versions become one row per run of
consecutive versions (consecutive in the enum, so no version between two
listed ones is ever covered by accident).  What the Source keeps as ids (a
diagnosis' scheme) is interned here; the rest maps field for field, so
:func:`engine.tables.compile_tables` compiles either source alike.

Field numbers (from the schema recovered from the jar's descriptor):

    Root: 1 diagnoses, 2 procedures, 3 codeToClusterIds, 4 exclusionGroups,
          5 pdxExclusionGroups, 6 clusters, 7 codeGenderMdcs, 8 formulaRoot,
          9 hacFormulaLists, 10 hacInformation, 11 dxPatterns, 12 prPatterns,
          13 drgDescriptions, 14 mdcDescription, 15 baseDrgDescriptions, 16 hacDescription
    map entries: 1 key, 2 value; a map's value lists its items in field 1
    Diagnosis: 1 mdc, 2 severity (MCC=0, CC=1, NCC=2), 3 operandsPatternNum,
          4 hacOperandsPatternNum, 5 dxCatListPatternNum, 6 versions
    Procedure: 1 operandsPatternNum, 2 versions
    CodeToClusterInfo: 1 clusterIds, 2 versions
    ExclusionGroup: 1 codes;  PdxExclusionGroup: 1 groupId, 2 versions
    ClusterData: 1 suppressionMdcs, 3 choices (ClusterChoice: 1 choice, 2 codes), 4 versions
    CodeGenderMdc: 1 genderMdcMap (1 key, 2 value), 2 versions
    FormulaItem: 1 drg, 2 mdc, 6 baseDrg, 7 surgical, 8 reRouteMdcId, 9 formula,
          10 severitySuppressionOperand, 11 drgSeverity, 12 grouperReturnCode,
          13 versionRanks (VersionRank: 1 rank, 2 version)
    HacFormulaItem: 1 hacNumber, 3 formula, 4 versions
    DxPattern: 1 operands;  PrPattern: 2 operands
    DescriptionVersion: 1 description, 7 versions

``hacInformation`` (per-code HAC operands) and ``baseDrgDescriptions`` are not
read: the Source takes a code's HAC operands from its diagnosis scheme, as the
msdrg file does.
"""

from __future__ import annotations

from ..source import Source, _formula_operands
from . import wire as w
from .wire import WireError

#: Every version the release format can name (its ``Version`` enum), in order.
ENUM_VERSIONS = (390, 391) + tuple(v for n in range(40, 61) for v in (n * 10, n * 10 + 1) if v <= 600)
_ENUM_POS = {v: i for i, v in enumerate(ENUM_VERSIONS)}
_SEVERITY = {0: "MCC", 1: "CC", 2: "NCC"}
#: genderMdcMap keys: the CMS sex codes (1 male, 2 female).
_MALE, _FEMALE = 1, 2


class ReleaseFormatError(ValueError):
    """The data is not a CMS MS-DRG release's ``Root`` message."""


def runs(versions) -> list[tuple[int, int]]:
    """Versions as inclusive ``(lo, hi)`` runs of consecutive enum values."""
    pos = sorted({_ENUM_POS[v] for v in versions if v in _ENUM_POS})
    unknown = [v for v in versions if v not in _ENUM_POS]
    if unknown:
        raise ReleaseFormatError(f"unknown grouper version {unknown[0]}")
    out: list[tuple[int, int]] = []
    for p in pos:
        if out and _ENUM_POS[out[-1][1]] == p - 1:
            out[-1] = (out[-1][0], ENUM_VERSIONS[p])
        else:
            out.append((ENUM_VERSIONS[p], ENUM_VERSIONS[p]))
    return out


def release_versions(source: Source) -> tuple[int, ...]:
    """Every version a decoded release lists.  (Its rows are runs of listed versions,
    so every version inside a row's range is one; a version that changed nothing
    since the one before starts no row, so the msdrg file's rule, "a version is
    where some row starts", would miss it.)"""
    seen: set[int] = set()
    spans: set[tuple[int, int]] = set()
    for name in ("diagnosis", "procedure_attributes", "exclusion_ids", "gender_mdcs", "cluster_map",
                 "drg_descriptions", "mdc_descriptions", "hac_descriptions"):
        spans.update((row[1], row[2]) for row in getattr(source, name))
    for name in ("drg_formulas", "hac_formulas", "clusters"):
        spans.update((row["lo"], row["hi"]) for row in getattr(source, name))
    for lo, hi in spans:
        seen.update(ENUM_VERSIONS[_ENUM_POS[lo]:_ENUM_POS[hi] + 1])
    return tuple(sorted(seen))


def _map(data, span, key_kind: str):
    """A protobuf map's entries ``(key, value span)``; ``key_kind`` 'str' or 'int'."""
    for number, wt, val in w.fields(data, *span):
        if number != 1:
            continue
        key, value = ("" if key_kind == "str" else 0), None
        for n2, wt2, v2 in w.fields(data, *w.message(wt, val)):
            if n2 == 1:
                key = w.text(data, wt2, v2) if key_kind == "str" else w.scalar(wt2, v2)
            elif n2 == 2:
                value = w.message(wt2, v2)
        yield key, (value if value is not None else (0, 0))


def _items(data, span, number: int = 1):
    """The sub-messages in field ``number`` of the message at ``span``."""
    for n, wt, val in w.fields(data, *span):
        if n == number:
            yield w.message(wt, val)


def decode_release(data: bytes) -> Source:
    """The ``Root`` message in ``data`` as a :class:`Source` (ReleaseFormatError if it is not one)."""
    try:
        return _decode_root(memoryview(data))
    except WireError as e:
        raise ReleaseFormatError(f"not a well-formed protobuf message ({e})") from None


def _decode_root(data) -> Source:
    root = w.decode(data, (0, len(data)), {
        1: ("diagnoses", "msg"), 2: ("procedures", "msg"), 3: ("cluster_ids", "msg"), 4: ("excl_groups", "msg"),
        5: ("pdx_excl", "msg"), 6: ("clusters", "msg"), 7: ("gender", "msg"), 8: ("formulas", "msg"),
        9: ("hac_formulas", "msg"), 11: ("dx_patterns", "msg"), 12: ("pr_patterns", "msg"),
        13: ("drg_desc", "msg"), 14: ("mdc_desc", "msg"), 16: ("hac_desc", "msg")})
    missing = [name for name in ("diagnoses", "procedures", "formulas", "dx_patterns", "pr_patterns")
               if root[name] is None]
    if missing:
        raise ReleaseFormatError(f"no {', '.join(missing)} table: not an MS-DRG release's data")

    def span(name):
        return root[name] or (0, 0)

    # diagnoses -> rows and interned schemes
    schemes: dict[int, dict] = {}
    scheme_id: dict[tuple, int] = {}
    diagnosis = []
    for code, value in _map(data, span("diagnoses"), "str"):
        for item in _items(data, value):
            d = w.decode(data, item, {1: ("mdc", "int"), 2: ("sev", "int"), 3: ("ops", "int"), 4: ("hac", "int"),
                                     5: ("cat", "int"), 6: ("versions", "ints")})
            if d["sev"] not in _SEVERITY:
                raise ReleaseFormatError(f"diagnosis {code}: severity {d['sev']}")
            key = (d["mdc"], _SEVERITY[d["sev"]], max(d["ops"], 0), max(d["hac"], 0), max(d["cat"], 0))
            sid = scheme_id.get(key)
            if sid is None:
                sid = scheme_id[key] = len(schemes)
                schemes[sid] = {"mdc": key[0], "severity": key[1], "operands_pattern": key[2],
                                "hac_operand_pattern": key[3], "dx_cat_list_pattern": key[4]}
            diagnosis.extend((code, lo, hi, sid) for lo, hi in runs(d["versions"]))

    procedures = []
    for code, value in _map(data, span("procedures"), "str"):
        for item in _items(data, value):
            d = w.decode(data, item, {1: ("pat", "int"), 2: ("versions", "ints")})
            procedures.extend((code, lo, hi, d["pat"]) for lo, hi in runs(d["versions"]))

    cluster_map = []
    for code, value in _map(data, span("cluster_ids"), "str"):
        for item in _items(data, value):
            d = w.decode(data, item, {1: ("ids", "strs"), 2: ("versions", "ints")})
            names = list(dict.fromkeys(d["ids"]))
            cluster_map.extend((code, lo, hi, names) for lo, hi in runs(d["versions"]))

    exclusion_groups = {}
    for gid, value in _map(data, span("excl_groups"), "int"):
        exclusion_groups[gid] = w.decode(data, value, {1: ("codes", "strs")})["codes"]

    exclusion_ids = []
    for code, value in _map(data, span("pdx_excl"), "str"):
        for item in _items(data, value):
            d = w.decode(data, item, {1: ("gid", "int"), 2: ("versions", "ints")})
            exclusion_ids.extend((code, lo, hi, d["gid"]) for lo, hi in runs(d["versions"]))

    clusters = []
    for name, value in _map(data, span("clusters"), "str"):
        # a name's items may overlap in versions (CMS lists, say, one for 42.0-43.1,
        # one for 42.1-43.1 ...): a version takes the first item that lists it
        taken: set[int] = set()
        for item in _items(data, value):
            d = w.decode(data, item, {1: ("supp", "ints"), 3: ("choices", "msgs"), 4: ("versions", "ints")})
            choices, choice_ids = [], []
            for ch in d["choices"]:
                c = w.decode(data, ch, {1: ("choice", "int"), 2: ("codes", "strs")})
                choice_ids.append(c["choice"])
                choices.append(c["codes"])
            own = [v for v in d["versions"] if v not in taken]
            taken.update(own)
            for lo, hi in runs(own):
                clusters.append({"name": name, "lo": lo, "hi": hi, "suppression_mdcs": list(d["supp"]),
                                 "choices": choices, "choice_ids": choice_ids})

    gender = []
    for code, value in _map(data, span("gender"), "str"):
        for item in _items(data, value):
            d = w.decode(data, item, {1: ("map", "msgs"), 2: ("versions", "ints")})
            mdcs = {}
            for entry in d["map"]:
                e = w.decode(data, entry, {1: ("key", "int"), 2: ("value", "int")})
                mdcs[e["key"]] = e["value"]
            female = mdcs.get(_FEMALE, -1)
            male = mdcs.get(_MALE, -1)
            gender.extend((code, lo, hi, female if female > 0 else -1, male if male > 0 else -1)
                          for lo, hi in runs(d["versions"]))

    drg_formulas = []
    for mdc, value in _map(data, span("formulas"), "int"):
        for item in _items(data, value):
            f = w.decode(data, item, {1: ("drg", "int"), 2: ("mdc", "int"), 6: ("base", "int"), 7: ("surgical", "str"),
                                     8: ("reroute", "int"), 9: ("formula", "str"), 10: ("supp", "strs"),
                                     11: ("sev", "int"), 12: ("rc", "int"), 13: ("ranks", "msgs")})
            by_rank: dict[int, list[int]] = {}
            for r in f["ranks"]:
                vr = w.decode(data, r, {1: ("rank", "int"), 2: ("version", "int")})
                by_rank.setdefault(vr["rank"], []).append(vr["version"])
            for rank, vs in by_rank.items():
                for lo, hi in runs(vs):
                    drg_formulas.append({
                        "mdc": mdc, "lo": lo, "hi": hi, "rank": rank, "base_drg": f["base"], "drg": f["drg"],
                        "surgical": f["surgical"], "reroute_mdc": f["reroute"], "drg_severity": f["sev"],
                        "formula": f["formula"], "suppression": [s for s in f["supp"] if s]})

    hac_formulas = []
    for hac, value in _map(data, span("hac_formulas"), "int"):
        for item in _items(data, value):
            d = w.decode(data, item, {1: ("hac", "int"), 3: ("formula", "str"), 4: ("versions", "ints")})
            for lo, hi in runs(d["versions"]):
                hac_formulas.append({"hac": hac, "lo": lo, "hi": hi, "formulas": [d["formula"]],
                                     "operands": _formula_operands([d["formula"]])})

    def patterns(name: str, number: int) -> dict[int, list[str]]:
        return {key: w.decode(data, value, {number: ("ops", "strs")})["ops"]
                for key, value in _map(data, span(name), "int")}

    def descriptions(name: str) -> list[tuple[int, int, int, str]]:
        out = []
        for key, value in _map(data, span(name), "int"):
            for item in _items(data, value):
                d = w.decode(data, item, {1: ("text", "str"), 7: ("versions", "ints")})
                out.extend((key, lo, hi, d["text"]) for lo, hi in runs(d["versions"]))
        return out

    return Source(
        diagnosis=diagnosis, schemes=schemes, dx_patterns=patterns("dx_patterns", 1),
        procedure_attributes=procedures, pr_patterns=patterns("pr_patterns", 2),
        exclusion_ids=exclusion_ids, exclusion_groups=exclusion_groups, gender_mdcs=gender,
        cluster_map=cluster_map, clusters=clusters, drg_formulas=drg_formulas, hac_formulas=hac_formulas,
        hac_descriptions=descriptions("hac_desc"), drg_descriptions=descriptions("drg_desc"),
        mdc_descriptions=descriptions("mdc_desc"),
    )
