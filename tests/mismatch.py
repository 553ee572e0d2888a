"""Compact mismatch reports for parity tests: what a developer needs to act.

A failing parity test over thousands of claims must not dump thousands of
diffs; it prints counts by field (and by expected->got pair) and a table of
the first few mismatching ids.
"""

from __future__ import annotations

import collections
import re


def _short(v, width: int = 42) -> str:
    s = str(v)
    return s if len(s) <= width else s[: width - 1] + "…"


def report(mismatches: list[tuple[str, dict]], total: int, title: str, limit: int = 20,
           width: int = 42, per_claim: int = 6) -> str:
    """``mismatches``: ``[(claim id, {field: (expected, got)})]`` -> text report."""
    by_field = collections.Counter()
    by_pair = collections.Counter()
    for _, diff in mismatches:
        for f, (e, g) in diff.items():
            fam = re.sub(r"\[\d+\]", "[]", f)  # sdx[3].poa_error counts as sdx[].poa_error
            by_field[fam] += 1
            by_pair[(fam, _short(e, 60), _short(g, 60))] += 1
    lines = [f"{title}: {len(mismatches)} of {total} claims differ"]
    lines.append("by field (codes for per-code fields): " + ", ".join(f"{f}={n}" for f, n in by_field.most_common()))
    lines.append("top expected -> got:")
    for (f, e, g), n in by_pair.most_common(12):
        lines.append(f"  {n:6d}  {f}: {e} -> {g}")
    lines.append(f"first {min(limit, len(mismatches))} mismatching claims:")
    lines.append(f"  {'id':16} {'field':28} {'expected':{width}} got")
    for cid, diff in mismatches[:limit]:
        items = list(diff.items())
        for k, (f, (e, g)) in enumerate(items[:per_claim]):
            lines.append(f"  {cid if k == 0 else '':16} {_short(f, 28):28} {_short(e, width):{width}} {_short(g, width)}")
        if len(items) > per_claim:
            lines.append(f"  {'':16} … {len(items) - per_claim} more fields")
    return "\n".join(lines)
