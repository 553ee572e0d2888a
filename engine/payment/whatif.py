"""What-if for coders and CDI: what each single added or removed code does to the DRG and its weight.

Why: a CDI specialist's question is "if the physician documents this, what
does the DRG become and what is it worth?".  Each candidate change is one
variant of the claim; the claim and all its variants are encoded as one batch
and grouped in one kernel call (so 20 candidates cost about one claim's
overhead, not 20), then each variant is compared with the claim as it is.

A variant is exactly the claim with one change, grouped by the same grouper:
the answers equal grouping each variant on its own (a test holds them equal).
"""

from __future__ import annotations

from ..encode import ClaimError, normalize_code
from .table5 import SCALE

#: Changes of each kind (add_sdx, add_procedures, remove) per request, at most (each is a claim to group).
MAX_CHANGES = 500
_KINDS = ("add_sdx", "add_procedures", "remove")


class WhatIfError(ValueError):
    """A what-if request that cannot be answered; ``field`` names the part."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _code_of(item):
    return item.get("code") if isinstance(item, dict) else item


def _same(a, b) -> bool:
    try:
        return normalize_code(a, "code") == normalize_code(b, "code")
    except ClaimError:
        return False


def variants(claim: dict, candidates: dict) -> tuple[list, list]:
    """``(changes, claims)``: one entry per requested change (``change``,
    ``code``, and ``error`` where it cannot be made) and the claims to group:
    the claim as it is first, then one per change that can be made."""
    if not isinstance(claim, dict):
        raise WhatIfError("claim", "must be a claim object")
    if not isinstance(candidates, dict):
        raise WhatIfError("candidates", "must be an object with add_sdx, add_procedures and remove lists")
    unknown = sorted(set(candidates) - set(_KINDS))
    if unknown:
        raise WhatIfError(unknown[0], f"unknown field; expected {', '.join(_KINDS)}")
    for kind in _KINDS:
        items = candidates.get(kind) or []
        if not isinstance(items, (list, tuple)):
            raise WhatIfError(kind, "must be a list")
        if len(items) > MAX_CHANGES:  # per list: a limit a JSON Schema states (maxItems)
            raise WhatIfError(kind, f"at most {MAX_CHANGES} changes of one kind per request, got {len(items)}")
    sdx = claim.get("sdx") or []
    px = claim.get("procedures") or []
    if not isinstance(sdx, (list, tuple)):
        raise WhatIfError("claim.sdx", "must be a list")
    if not isinstance(px, (list, tuple)):
        raise WhatIfError("claim.procedures", "must be a list")
    changes, claims = [], [claim]
    for kind in _KINDS:
        for j, item in enumerate(candidates.get(kind) or []):
            code = _code_of(item)
            entry = {"change": kind, "code": code}
            if kind == "add_sdx":
                if isinstance(item, dict) and "poa" in item:
                    entry["poa"] = item["poa"]
                claims.append({**claim, "sdx": [*sdx, item]})
            elif kind == "add_procedures":
                claims.append({**claim, "procedures": [*px, item]})
            else:
                if not isinstance(code, str):
                    entry["error"] = {"field": f"remove[{j}]", "reason": "must be a code"}
                    changes.append(entry)
                    continue
                keep_sdx = [s for s in sdx if not _same(_code_of(s), code)]
                keep_px = [p for p in px if not _same(_code_of(p), code)]
                if len(keep_sdx) == len(sdx) and len(keep_px) == len(px):
                    reason = ("the principal diagnosis cannot be removed" if _same(claim.get("pdx"), code)
                              else "not on the claim")
                    entry["error"] = {"field": f"remove[{j}]", "reason": reason}
                    changes.append(entry)
                    continue
                claims.append({**claim, "sdx": keep_sdx, "procedures": keep_px})
            entry["_at"] = len(claims) - 1
            changes.append(entry)
    return changes, claims


def _cc_mcc(result: dict) -> list:
    """Secondary diagnoses that count as CC or MCC in the final DRG."""
    out = []
    for s in result.get("sdx") or []:
        use = (s.get("severity_usage") or {}).get("final")
        if use in ("CC", "MCC"):
            out.append({"code": s["code"], "as": use})
    return out


def _e4(x):
    return None if x is None else round(x * SCALE)


def summary(result: dict) -> dict:
    keys = ("drg", "drg_description", "return_code", "weight", "adjusted_weight", "payment_estimate")
    out = {k: result.get(k) for k in keys}
    out["severity"] = (result.get("severity") or {}).get("final")
    out["cc_mcc"] = _cc_mcc(result)
    return out


def answer(changes: list, results: list) -> dict:
    """The what-if answer from the grouped claims (``results[0]``: the claim as it is)."""
    base = results[0]
    if "error" in base:
        raise WhatIfError(f"claim.{base['error'].get('field')}", str(base["error"].get("reason")))
    w0 = _e4(base.get("weight"))
    out = []
    for entry in changes:
        at = entry.pop("_at", None)
        if at is None:
            out.append(entry)
            continue
        r = results[at]
        if "error" in r:
            err = r["error"]
            entry["error"] = {"field": str(err.get("field")), "reason": str(err.get("reason"))}
            out.append(entry)
            continue
        entry.update(summary(r))
        w1 = _e4(r.get("weight"))
        entry["weight_delta"] = (w1 - w0) / SCALE if w0 is not None and w1 is not None else None
        entry["drg_changes"] = r.get("drg") != base.get("drg")
        if entry["change"] == "add_sdx":
            added = (r.get("sdx") or [{}])[-1]
            use = (added.get("severity_usage") or {}).get("final")
            entry["counts_as"] = use if use in ("CC", "MCC") else None
        out.append(entry)
    return {"claim": summary(base), "changes": out}
