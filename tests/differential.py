"""Differential grouping: our engine vs the msdrg package on generated claims.

msdrg is not the truth (shared/eval is); it is an independent grouper that
agrees with CMS on the five graded fields except in a few *named* ways found
by characterising it on the public CMS results (see ``KNOWN_RULES``). A
difference that none of those rules explains is a bug in one of the two
groupers and must be looked at.

msdrg groups ~3-10k claims/s, so big runs split the work in chunks of
``(n, seed)``: each worker process regenerates its chunk deterministically
(cheaper than pickling claims) and returns msdrg's five fields.
"""

from __future__ import annotations

import collections
import multiprocessing as mp

from oracle import GRADED_FIELDS, MsdrgOracle, OracleUnsupported

#: UB-04 discharge statuses the CMS grouper accepts (others are INVALID_DSTAT).
VALID_DISCHARGE = {
    1, 2, 3, 4, 5, 6, 7, 20, 21, 30, 43, 50, 51, 61, 62, 63, 64, 65, 66, 69, 70,
    81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
}

#: The documented ways msdrg 1.2.0 differs from the official CMS grouper.
KNOWN_RULES = {
    "msdrg-misses-invalid-dstat": (
        "CMS returns INVALID_DISCHARGE_STATUS (DRG 999) when an MDC 15/20 (or AMI) formula "
        "tests INVALID_DSTAT; msdrg groups such claims normally (rc OK, or a HAC rc "
        "after grouping)"),
    "unknown-hospital-mult-hacs-rc": (
        "hospital status UNKNOWN, HAC criteria met, >= 2 secondary dx: CMS returns "
        "HAC_STATUS_INVALID_MULT_HACS_POA_NOT_Y_W, msdrg POA_N_OR_U / POA_INVALID_OR_1 "
        "unless >= 2 sdx have a POA other than Y/W"),
}
#: Informational: msdrg's Python API rejects POA "1"; the oracle sends those claims
#: to its C entry point, where the result agrees with CMS.
POA1_BYPASS = "msdrg-python-api-rejects-poa-1 (compared via C entry)"


def _poas(claim: dict) -> list:
    out = []
    for e in [claim.get("pdx")] + list(claim.get("sdx") or []):
        out.append(e.get("poa") if isinstance(e, dict) else None)
    return out


def classify(claim: dict, ours: dict, theirs: dict) -> str | None:
    """Name of the known rule explaining a five-field difference, or None."""
    diff = {f for f in GRADED_FIELDS if ours.get(f) != theirs.get(f)}
    o_rc, t_rc = ours.get("return_code"), theirs.get("return_code")
    try:
        dstat = int(claim.get("discharge_status"))
    except (TypeError, ValueError):
        dstat = None
    if (o_rc == "INVALID_DISCHARGE_STATUS" and dstat not in VALID_DISCHARGE
            and t_rc != "INVALID_DISCHARGE_STATUS"
            and theirs.get("initial_mdc") in ("05", "15", "20")
            and (ours.get("drg"), ours.get("mdc"), ours.get("initial_drg"), ours.get("initial_mdc"))
            == ("999", "00", "999", "00")):
        # msdrg grouped the claim (its rc may then come from HAC processing)
        return "msdrg-misses-invalid-dstat"
    if (diff == {"return_code"}
            and str(claim.get("hospital_status", "")).upper() == "UNKNOWN"
            and o_rc == "HAC_STATUS_INVALID_MULT_HACS_POA_NOT_Y_W"
            and t_rc in ("HAC_STATUS_INVALID_POA_N_OR_U", "HAC_STATUS_INVALID_POA_INVALID_OR_1")
            and len(claim.get("sdx") or []) >= 2):
        return "unknown-hospital-mult-hacs-rc"
    return None


# ---- msdrg side, in worker processes ------------------------------------------------------

_ORACLE: MsdrgOracle | None = None


def msdrg_results(claims: list[dict]) -> list:
    """msdrg's five fields per claim, or ``("unsupported", reason)``."""
    global _ORACLE
    if _ORACLE is None:
        import atexit

        _ORACLE = MsdrgOracle(lenient=True)
        atexit.register(_ORACLE.close)
    out = []
    for c in claims:
        try:
            out.append(_ORACLE.group(c))
        except OracleUnsupported as e:
            out.append(("unsupported", str(e)))
    return out


def _generate(chunk: tuple) -> list[dict]:
    """A chunk ``(n, seed)`` or ``(n, seed, versions)``'s claims."""
    from engine.synthetic import generate_claims

    n, seed, *versions = chunk
    return generate_claims(n, seed=seed, versions=versions[0] if versions else None)


def msdrg_chunk(args: tuple) -> list:
    return msdrg_results(_generate(args))


# ---- comparison ---------------------------------------------------------------------------


class Tally:
    """Counts per rule and the unexplained differences (kept short for reports)."""

    def __init__(self, keep: int = 200):
        self.total = 0
        self.rules = collections.Counter()
        self.unexplained: list[tuple[str, dict]] = []
        self.n_unexplained = 0
        self.keep = keep

    def add(self, claims: list[dict], ours: list[dict], theirs: list) -> None:
        for claim, o, t in zip(claims, ours, theirs):
            self.total += 1
            if any(p not in (None, "Y", "N", "U", "W", " ") for p in _poas(claim)):
                self.rules[POA1_BYPASS] += 1
            if isinstance(t, tuple):
                self._unexplained(claim, {"msdrg": ("grouped", t[1])})
                continue
            if "error" in o:
                self._unexplained(claim, {"engine error": (t.get("return_code"), o["error"])})
                continue
            diff = {f: (t.get(f), o.get(f)) for f in GRADED_FIELDS if o.get(f) != t.get(f)}
            if not diff:
                continue
            rule = classify(claim, o, t)
            if rule:
                self.rules[rule] += 1
            else:
                self._unexplained(claim, diff)

    def _unexplained(self, claim: dict, diff: dict) -> None:
        self.n_unexplained += 1
        if len(self.unexplained) < self.keep:
            self.unexplained.append((claim.get("id"), diff))

    def summary(self) -> str:
        lines = [f"{self.total} claims; unexplained differences: {self.n_unexplained}"]
        for rule, n in self.rules.most_common():
            lines.append(f"  known rule {rule}: {n}")
        return "\n".join(lines)


def run(grouper, chunks: list[tuple[int, int]], processes: int = 1) -> Tally:
    """Group every chunk (``(n, seed)`` or ``(n, seed, versions)``, see
    engine.synthetic.generate_claims) with both groupers and tally the differences."""
    tally = Tally()
    if processes <= 1:
        for chunk in chunks:
            claims = _generate(chunk)
            tally.add(claims, grouper.group(claims), msdrg_results(claims))
        return tally
    ctx = mp.get_context("spawn")  # the parent runs numba threads: never fork it
    with ctx.Pool(processes) as pool:
        for chunk, theirs in zip(chunks, pool.imap(msdrg_chunk, chunks)):
            claims = _generate(chunk)
            tally.add(claims, grouper.group(claims), theirs)
            del claims
    return tally
