"""Table 5 as arrays per grouper version, and the compiled pricing of grouped claims.

Why: every result carries its DRG's weight, so pricing runs on every claim the
grouper answers; it is one compiled pass over the kernel's output columns
(:func:`price`) and the compiled writer (engine.render) copies pre-rendered
JSON fragments per (version, DRG), as it does for DRG titles.

The transfer rule (42 CFR 412.4, as the fastdrg issue 14 states it):

- *acute* transfer: discharge status 02, 05, 66 (and the planned-readmission
  forms 82, 85, 94), on any DRG;
- *post-acute* transfer: status 03, 06, 50, 51, 62, 63, 64, 65 (and 83, 86,
  90-93), on a DRG Table 5 marks post-acute;
- the weight is reduced only when LOS + 1 < GMLOS: per-diem = weight / GMLOS,
  adjusted = min(weight, per-diem x (LOS + 1)); a post-acute transfer on a
  special-pay DRG gets min(weight, weight / 2 + per-diem x (LOS + 1) / 2)
  (412.4(f)(6): the special payment is for post-acute transfers; an acute
  transfer on such a DRG is paid the per-diem of 412.4(f)(1)).

All in integers of 1/SCALE (Table 5's numbers are exact there): the adjusted
weight is the exact fraction rounded half up to four decimals; the estimate is
base rate x adjusted weight, rounded half up to the cent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import numpy as np
import orjson
from numba import njit

from ..fastcall import Bound
from .table5 import SCALE, Table5, fiscal_year_of

ACUTE = (2, 5, 66, 82, 85, 94)
POST_ACUTE = (3, 6, 50, 51, 62, 63, 64, 65, 83, 86, 90, 91, 92, 93)
TRANSFER = ("none", "acute", "post_acute")
ESTIMATE_NOTE = ("estimate: base rate x adjusted weight; no wage index, outlier, DSH, IME or other "
                 "adjustment")

# the static fragments of the payment pool (their indices are constants for the writer)
_STATIC = [
    ',"transfer":"none"', ',"transfer":"acute"', ',"transfer":"post_acute"', ',"transfer":null',
    ',"adjusted_weight":', "null", ',"payment_estimate":{"amount":', ',"base_rate":',
    ',"note":' + orjson.dumps(ESTIMATE_NOTE).decode() + "}", ',"payment_estimate":null',
]
P_TRANSFER = 0          # + 0 none, 1 acute, 2 post_acute, 3 null
P_ADJUSTED = 4
P_NULL = 5
P_PAY_OPEN = 6
P_PAY_BASE = 7
P_PAY_CLOSE = 8
P_PAY_NULL = 9

_FLAG_POST = 1
_FLAG_SPECIAL = 2


def _kind_table() -> np.ndarray:
    k = np.zeros(100, np.int8)
    k[list(ACUTE)] = 1
    k[list(POST_ACUTE)] = 2
    return k


def decimal_text(value: int, decimals: int) -> str:
    """``value / 10**decimals`` as JSON writes that float: shortest digits, at least one decimal."""
    s = 10 ** decimals
    frac = f"{value % s:0{decimals}d}".rstrip("0") or "0"
    return f"{value // s}.{frac}"


def base_rate_cents(value) -> int | None:
    """A base rate in dollars (number or numeric text) as whole cents; ValueError if it is not a
    positive amount of at most two decimals.  None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("base_rate must be a positive amount in dollars")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("base_rate must be a positive amount in dollars") from None
    if not d.is_finite() or d <= 0 or d > 10_000_000:
        raise ValueError("base_rate must be a positive amount in dollars, at most 10,000,000")
    c = d * 100
    if c != c.to_integral_value():
        raise ValueError("base_rate has more than two decimals")
    return int(c)


class PaymentTables:
    """Table 5 of each grouper version's fiscal year as ``(versions, 1000)`` arrays
    (-1: no number), and the JSON fragments the writer copies.  Built once per
    Grouper; read-only after."""

    def __init__(self, versions, tables: dict[int, Table5]):
        nv = len(versions)
        self.versions = list(versions)
        self.tables = tables
        self.fiscal_years = [fiscal_year_of(v) for v in versions]
        self.weight = np.full((nv, 1000), -1, np.int64)
        self.weight_uncapped = np.full((nv, 1000), -1, np.int64)
        self.gmlos = np.full((nv, 1000), -1, np.int64)
        self.amlos = np.full((nv, 1000), -1, np.int64)
        self.flags = np.zeros((nv, 1000), np.int8)
        self.loaded = np.zeros(nv, np.bool_)
        for vi, fy in enumerate(self.fiscal_years):
            t = tables.get(fy)
            if t is None:
                continue
            self.loaded[vi] = True
            d = t.drg.astype(np.int64)
            self.weight[vi, d] = t.weight
            self.weight_uncapped[vi, d] = t.weight_uncapped
            self.gmlos[vi, d] = t.gmlos
            self.amlos[vi, d] = t.amlos
            self.flags[vi, d] = t.post_acute * _FLAG_POST + t.special_pay * _FLAG_SPECIAL
        self.kind = _kind_table()
        self._build_fragments()
        # typed once (engine.fastcall): all but the batch's and the kernel's columns are these tables
        self._price = Bound(price, checked=(0, 1, 2, 3, 4, 5))

    # ---- what a result says for (version, DRG) ------------------------------------------------
    def drg_fields(self, vi: int, drg: int) -> dict:
        """The final DRG's fields for version index ``vi``."""
        fy = self.fiscal_years[vi]
        if not self.loaded[vi]:
            return {"fiscal_year": fy, "weights_missing": f"Table 5 FY{fy} is not loaded",
                    "weight": None, "weight_uncapped": None, "gmlos": None, "amlos": None,
                    "post_acute": None, "special_pay": None}
        ok = 0 <= drg < 1000 and self.weight[vi, drg] > 0
        f = int(self.flags[vi, drg]) if 0 <= drg < 1000 else 0

        def num(a):
            return int(a[vi, drg]) / SCALE if ok else None

        return {"fiscal_year": fy, "weights_missing": None,
                "weight": num(self.weight), "weight_uncapped": num(self.weight_uncapped),
                "gmlos": num(self.gmlos), "amlos": num(self.amlos),
                "post_acute": bool(f & _FLAG_POST) if ok else None,
                "special_pay": bool(f & _FLAG_SPECIAL) if ok else None}

    def initial_weight(self, vi: int, drg: int):
        if self.loaded[vi] and 0 <= drg < 1000 and self.weight[vi, drg] > 0:
            return int(self.weight[vi, drg]) / SCALE
        return None

    def _build_fragments(self) -> None:
        frags = [s.encode() for s in _STATIC]
        nv = len(self.versions)
        self.final_frag = np.zeros(nv * 1000, np.int32)
        self.init_frag = np.zeros(nv * 1000, np.int32)
        for vi in range(nv):
            for d in range(1000):
                fields = self.drg_fields(vi, d)
                self.final_frag[vi * 1000 + d] = len(frags)
                frags.append(b"," + orjson.dumps(fields)[1:-1])
                self.init_frag[vi * 1000 + d] = len(frags)
                frags.append(b',"initial_weight":' + orjson.dumps(self.initial_weight(vi, d)))
        lengths = np.fromiter(map(len, frags), np.int64, len(frags))
        self.off = np.zeros(len(frags) + 1, np.int64)
        np.cumsum(lengths, out=self.off[1:])
        self.data = np.frombuffer(b"".join(frags), np.uint8)
        self.longest = int(lengths.max())

    # ---- per batch ---------------------------------------------------------------------------
    def columns(self, batch, out, base_cents: int | None = None) -> "PayColumns":
        """Price every claim of a grouped batch (``out``: the kernel's output)."""
        n = len(batch.ok)
        los = getattr(batch, "los", None)
        if los is None:  # the claim's length of stay, where the batch carries one (-1: not given)
            los = np.full(n, -1, np.int32)
        cols = PayColumns(n, -1 if base_cents is None else int(base_cents))
        #: (sum of the final DRGs' weights in 1/SCALE, claims weighted): the case-mix index's parts
        cols.case_mix = self._price(batch.ok, batch.ver, out.final_drg, out.init_drg, batch.dstat, los,
                                    cols.base_cents, self.weight, self.gmlos, self.flags, self.loaded, self.kind,
                                    self.final_frag, self.init_frag,
                                    cols.final_frag, cols.init_frag, cols.transfer, cols.adjusted, cols.payment)
        cols.tables = self
        cols.ver = batch.ver
        cols.final_drg = out.final_drg
        cols.init_drg = out.init_drg
        return cols


class PayColumns:
    """One batch's pricing: per claim the writer's fragment indices for the final
    and initial DRG, ``transfer`` (0 none, 1 acute, 2 post-acute, 3 null),
    ``adjusted`` (1/SCALE, -1 null) and ``payment`` (cents, -1 null)."""

    def __init__(self, n: int, base_cents: int):
        self.base_cents = base_cents
        # every claim's entries are written by :func:`price`
        self.final_frag = np.empty(n, np.int32)
        self.init_frag = np.empty(n, np.int32)
        self.transfer = np.empty(n, np.int8)
        self.adjusted = np.empty(n, np.int64)
        self.payment = np.empty(n, np.int64)

    def writer_args(self) -> tuple:
        t = self.tables
        return (t.data, t.off, self.final_frag, self.init_frag, self.transfer, self.adjusted, self.payment,
                np.int64(self.base_cents))

    def fields(self, i: int) -> dict:
        """Claim ``i``'s payment fields as a dict (the Python decoder's form)."""
        t = self.tables
        vi = int(self.ver[i])
        r = t.drg_fields(vi, int(self.final_drg[i]))
        r["initial_weight"] = t.initial_weight(vi, int(self.init_drg[i]))
        k = int(self.transfer[i])
        r["transfer"] = TRANSFER[k] if k < 3 else None
        a = int(self.adjusted[i])
        r["adjusted_weight"] = a / SCALE if a >= 0 else None
        p = int(self.payment[i])
        r["payment_estimate"] = ({"amount": p / 100, "base_rate": self.base_cents / 100, "note": ESTIMATE_NOTE}
                                 if p >= 0 else None)
        return r


@njit(cache=True, nogil=True)
def _round_div(num, den):
    """num / den rounded half up (num, den >= 0)."""
    return (2 * num + den) // (2 * den)


@njit(cache=True, nogil=True)
def adjust(weight, gmlos, los, kind, special):
    """The transfer-adjusted weight (1/SCALE units) of one claim: ``kind`` 0 none,
    1 acute, 2 post-acute; ``los`` -1 when not given (then -1: unknown)."""
    if kind == 0:
        return weight
    if los < 0:
        return np.int64(-1)
    days = np.int64(los) + 1
    if days * SCALE >= gmlos:  # the rule applies only when LOS + 1 < GMLOS
        return weight
    if kind == 2 and special:
        a = _round_div(weight * (gmlos + days * SCALE), 2 * gmlos)
    else:
        a = _round_div(weight * days * SCALE, gmlos)
    return min(weight, a)


@njit(cache=True, nogil=True)
def price(ok, ver, final_drg, init_drg, dstat, los, base_cents, weight, gmlos, flags, loaded, kind_of,
          final_frag_of, init_frag_of, final_frag, init_frag, transfer, adjusted, payment):
    """Per claim: the writer's fragments of the final and initial DRG (from
    ``final_frag_of`` / ``init_frag_of`` by version x 1000 + DRG; 0 for a claim
    not grouped), the transfer kind (3: unknown, where the year's table or the
    DRG's weight is missing), the adjusted weight and the estimate in cents
    (-1: null).  Returns the case-mix parts: the sum of the grouped claims'
    final-DRG weights (1/SCALE) and how many have one."""
    units = np.int64(0)
    weighted = np.int64(0)
    for i in range(len(ok)):
        final_frag[i] = 0
        init_frag[i] = 0
        transfer[i] = 3
        adjusted[i] = -1
        payment[i] = -1
        if not ok[i]:
            continue
        v = np.int64(ver[i])
        d = np.int64(final_drg[i])
        final_frag[i] = final_frag_of[v * 1000 + d if 0 <= d < 1000 else v * 1000]
        di = np.int64(init_drg[i])
        init_frag[i] = init_frag_of[v * 1000 + di if 0 <= di < 1000 else v * 1000]
        if not (0 <= d < 1000) or weight[v, d] <= 0:
            continue  # transfer, adjusted and payment stay null
        units += weight[v, d]
        weighted += 1
        if not loaded[v]:
            continue
        s = dstat[i]
        k = kind_of[s] if 0 <= s < 100 else 0
        f = flags[v, d]
        if k == 2 and not (f & _FLAG_POST):
            k = 0
        transfer[i] = k
        a = adjust(weight[v, d], gmlos[v, d], los[i], k, (f & _FLAG_SPECIAL) != 0)
        adjusted[i] = a
        if a >= 0 and base_cents >= 0:
            payment[i] = _round_div(base_cents * a, np.int64(SCALE))
    return units, weighted
