"""The case-mix summary of many claims: CMI, DRG and MDC mix, CC/MCC capture, HACs,
code-editor edits, transfers, and what another grouper version does to the same claims.

Why columns: a file of a million claims is summed from the kernel's output arrays
(``numpy.bincount`` over DRG, MDC, severity...), never claim by claim in Python;
only refused claims (their reasons) and the few distinct codes behind a version
change are touched one by one.

Why an accumulator (:class:`CaseMix`): every count is an integer (weights are
Table 5's ten-thousandths), so two accumulators of disjoint claims merge exactly
(:meth:`CaseMix.merge`): a stream is summed part by part, Spark partitions are
summed on the executors and merged on the driver (:meth:`CaseMix.to_state` /
:meth:`CaseMix.from_state` carry one across processes), and the summary
(:meth:`CaseMix.summary`) is derived from the sums at the end.

Weights: without ``to`` and ``weights``, each claim is weighed by Table 5 of its
own version's fiscal year (as its result's ``weight``); with ``weights=FY``, every
claim by that year's; with ``to``, both sides by one year (``weights``, default
the newest loaded) so that the grouper's own effect shows apart from reweighting.
"""

from __future__ import annotations

import re

import numpy as np
import orjson

from ..decode import CLAIM_SEVERITY, HAC_STATUS, MED_SURG
from ..encode import HOSPITAL_STATUS, version_label
from ..grouper import GrouperError
from ..payment.table5 import SCALE, fiscal_year_of
from ..payment.weights import TRANSFER, PaymentTables
from ..tables import RETURN_CODES

#: summary format version (docs/casemix.md)
SCHEMA = 1
#: the most codes listed in ``compare.unknown_codes`` and ``compare.changed_codes``
TOP_CODES = 50
_INDEX = re.compile(r"\[\d+\]")
_LEADING_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_LEADING_PLACE = re.compile(r"^(line|record) \d+: ")
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
#: quoted words a reason may keep: the claim format's own names, never a claim's value
_NAMES = frozenset(("version", "discharge_date", "admission_date", "code", "poa", "pdx", "sdx", "procedures", "age",
                    "sex", "los", "id", "hospital_status", "discharge_status", "admit_dx", "M", "F", "U",
                    "not_exempt", "exempt", "unknown"))
_INVALID = object()  # a text that is not JSON
_NO_DRG_REASON = "$: no DRG (none of the CMS formulas for the claim's MDC matches it)"


class CaseMixError(GrouperError):
    """A case-mix request that cannot be answered (an unknown ``to`` version or
    Table 5 year); the message names what is loaded, ``field`` the argument at fault."""

    def __init__(self, message: str, field: str = "weights"):
        super().__init__(message)
        self.field = field


def reason_key(error: dict | None) -> str:
    """A refused claim's reason as counted: ``field: reason``, with the claim's
    own values (quoted in the reason) left out, so that reasons count together
    and no claim content reaches the summary."""
    if not error:
        return "$: refused"
    field = _INDEX.sub("[]", str(error.get("field", "$")))  # sdx[3].poa and sdx[7].poa count together
    reason = _LEADING_DATE.sub("…", str(error.get("reason", "")))  # a claim's own date (uncovered)
    reason = _LEADING_PLACE.sub("", reason)  # a wide file's "line 7: " / "record 7: " (engine.io.tabular)
    if field == "$" and reason.startswith("no DRG"):
        return _NO_DRG_REASON
    def keep(m):
        word = m.group(1) if m.group(1) is not None else m.group(2)
        return m.group(0) if word in _NAMES else "…"

    return f"{field}: {_QUOTED.sub(keep, reason)}"[:160]


def parse_fiscal_year(value) -> int:
    """``2026``, ``"2026"`` or ``"FY2026"`` -> 2026 (CaseMixError otherwise)."""
    text = str(value).strip().upper()
    if text.startswith("FY"):
        text = text[2:]
    if not text.isdigit() or len(text) != 4:
        raise CaseMixError(f"not a fiscal year: {str(value)[:16]!r} (give e.g. 2026 or FY2026)")
    return int(text)


def loaded_years(grouper) -> list[int]:
    return sorted(grouper.payment.tables)


def _loaded_text(grouper) -> str:
    years = loaded_years(grouper)
    return ", ".join(f"FY{y}" for y in years) if years else "none"


def resolve(grouper, to=None, weights=None) -> tuple[int | None, int | None]:
    """``(to version number or None, Table 5 year or None)``; CaseMixError naming
    what is loaded for a version or a year the grouper does not have."""
    vt = None
    if to is not None and to != "":
        from ..encode import ClaimError, parse_version

        try:
            vt = parse_version(to, grouper.version_numbers)
        except ClaimError:
            raise CaseMixError(f"unknown grouper version {str(to)[:16]!r} for 'to'; loaded: "
                               + ", ".join(grouper.versions), "to") from None
    fy = None
    if weights is not None and weights != "":
        fy = parse_fiscal_year(weights)
        if fy not in grouper.payment.tables:
            raise CaseMixError(f"Table 5 FY{fy} is not loaded; loaded: {_loaded_text(grouper)}")
    elif vt is not None and grouper.payment.tables:
        fy = max(grouper.payment.tables)
    return vt, fy


def _year_tables(grouper, fy: int) -> PaymentTables:
    """Payment tables that price every version by Table 5 of ``fy`` (built once per Grouper)."""
    cache = grouper.__dict__.setdefault("_casemix_year_tables", {})
    if fy not in cache:
        t = grouper.payment.tables[fy]
        cache[fy] = PaymentTables(grouper.version_numbers, {fiscal_year_of(v): t for v in grouper.version_numbers})
    return cache[fy]


class _Cols:
    """A kernel batch (engine.parse's namedtuple, or an encoded Batch) with some
    columns replaced, as :meth:`Grouper.group_batch` takes it."""

    def __init__(self, batch, **replace):
        self._batch = batch
        self.__dict__.update(replace)

    def __getattr__(self, name):
        if name == "errors":  # refused claims are counted from the masks, not from error dicts
            raise AttributeError(name)
        return getattr(self.__dict__["_batch"], name)

    def __len__(self) -> int:
        return len(self.ok)


def _add_counts(into: dict, keys, counts) -> None:
    for k, c in zip(keys, counts):
        into[k] = into.get(k, 0) + int(c)


def _claims_of(offsets: np.ndarray) -> np.ndarray:
    """The claim of each entry of a CSR code column."""
    return np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))


class CaseMix:
    """Mergeable case-mix sums for one grouper's versions, one ``to`` version (or
    none), one Table 5 year (or each version's own) and edits on or off."""

    def __init__(self, versions, to: int | None = None, weights: int | None = None, edits: bool = False):
        self.versions = tuple(int(v) for v in versions)
        self.to = None if to is None else int(to)
        self.weights = None if weights is None else int(weights)
        self.edits = bool(edits)
        nv = len(self.versions)
        self.claims = 0
        self.refused: dict[str, int] = {}
        self.final = np.zeros((nv, 1000), np.int64)       # grouped claims by (version, final DRG)
        self.mdc = np.zeros((nv, 100), np.int64)          # by (version, final MDC)
        self.severity = np.zeros(len(CLAIM_SEVERITY), np.int64)
        self.med_surg = np.zeros(len(MED_SURG), np.int64)
        self.hac = np.zeros(len(HAC_STATUS), np.int64)
        self.rc = np.zeros(len(RETURN_CODES), np.int64)
        self.transfer = np.zeros(len(TRANSFER) + 1, np.int64)  # none, acute, post_acute, no weight
        self.adjusted = np.zeros(2, np.int64)             # transfer-adjusted weights: sum (1/SCALE), claims
        self.transfer_no_los = 0                          # transfers whose adjusted weight needs a LOS not given
        self.with_los = 0
        self.edit_counts: dict[str, int] = {}
        self.edit_types = np.zeros(4, np.int64)
        # with ``to``
        self.to_refused = 0
        self.cmp_from = np.zeros(1000, np.int64)          # claims grouped under both: final DRG, from side
        self.cmp_to = np.zeros(1000, np.int64)            # ... and under ``to``
        self.pairs: dict[int, int] = {}                   # from DRG x 1000 + to DRG -> claims (changed only)
        self.unknown_codes: dict[str, int] = {}           # "dx:CODE" / "pr:CODE" -> claims
        self.unknown_claims = 0
        self.changed_codes: dict[str, int] = {}           # codes with other attributes under ``to``, on changed claims

    @classmethod
    def for_grouper(cls, grouper, to=None, weights=None, edits: bool = False) -> "CaseMix":
        vt, fy = resolve(grouper, to, weights)
        return cls(grouper.version_numbers, vt, fy, edits)

    # ---- adding claims ------------------------------------------------------------------------
    def add(self, grouper, data) -> "CaseMix":
        """Claims of any form :meth:`Grouper.casemix` takes."""
        from ..encode import Batch

        if isinstance(data, Batch) or hasattr(data, "_fields"):
            self.claims += len(data.ok)
            self.add_batch(grouper, data if isinstance(data, Batch) else _Cols(data))
            return self
        module = type(data).__module__.split(".")[0]
        if module == "pyarrow":
            return self.add_arrow(grouper, data)
        if module == "polars":  # DataFrames as Arrow, as Grouper.group_frame reads them
            return self.add_arrow(grouper, data.to_arrow())
        if module == "pandas":
            import pyarrow as pa

            return self.add_arrow(grouper, pa.Table.from_pandas(data, preserve_index=False))
        if isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("give the claims as a list of JSON texts (one per claim), not one text")
        data = list(data) if not hasattr(data, "__len__") else data
        if len(data) and isinstance(data[0], (bytes, bytearray)):
            return self.add_texts(grouper, data)
        return self.add_dicts(grouper, data)

    def add_dicts(self, grouper, claims) -> "CaseMix":
        from ..grouper import _json_forms

        claims = list(claims)
        return self.add_texts(grouper, _json_forms(claims), claims.__getitem__)

    def add_refused(self, error: dict | None, claims: int = 1) -> "CaseMix":
        """Count ``claims`` a reader refused before grouping (a wide row's bad cell,
        say) under ``error``'s reason, as the grouper's own refusals are counted."""
        self.claims += claims
        key = reason_key(error)
        self.refused[key] = self.refused.get(key, 0) + claims
        return self

    def add_texts(self, grouper, texts, claim_of=None, default_hospital_status: str | None = None) -> "CaseMix":
        """Claims as JSON texts (NDJSON lines, say; blank lines are the caller's
        to drop), read by the compiled reader; those it does not take through the
        Python encoder from ``claim_of(i)`` (default: the text parsed), a text that
        is not a JSON object counted as refused (``json``).  ``default_hospital_status``:
        for claims without one (default: the Grouper's), as group_json_texts's."""
        n = len(texts)
        if not n:
            return self
        self.claims += n
        status = default_hospital_status or grouper.default_hospital_status
        if status not in HOSPITAL_STATUS:
            raise CaseMixError(f"unknown hospital status {status!r}", "hospital_status")
        kb = grouper.read_json(texts, status)[0]
        read = kb.ok.copy()

        def parsed(i):
            try:
                claim = orjson.loads(texts[i])
            except orjson.JSONDecodeError:
                return _INVALID
            if type(claim) is dict and claim.get("hospital_status") is None:
                claim["hospital_status"] = status
            return claim

        claim_of = claim_of or parsed

        def dx_texts(k):
            from ..grouper import _dx_texts

            c = claim_of(k)
            return _dx_texts(c) if type(c) is dict else ("", [])  # (only for read claims: dicts)

        self.add_batch(grouper, _Cols(kb), read, dx_texts)
        rest = np.flatnonzero(~read).tolist()
        if rest:
            claims = []
            for i in rest:
                c = claim_of(i)
                if type(c) is dict or claim_of is not parsed:
                    claims.append(c)  # (a caller's non-dict: the encoder names what is wrong with it)
                else:
                    key = "json: invalid JSON" if c is _INVALID else "json: a claim must be a JSON object"
                    self.refused[key] = self.refused.get(key, 0) + 1
            if claims:
                self.add_batch(grouper, grouper.encode(claims))
        return self

    def add_arrow(self, grouper, data) -> "CaseMix":
        """A pyarrow Table or RecordBatch of claims (engine.io.arrow's columns)."""
        from ..io.arrow import _code_text_of, _record_batches, read_batch

        for rb in _record_batches(data):
            ab = read_batch(grouper, rb)
            b = ab.batch
            so = b.sdx_off
            self.claims += rb.num_rows

            def texts(i, ab=ab, so=so):
                return (_code_text_of(ab, "pdx", i),
                        [_code_text_of(ab, "sdx", j) for j in range(int(so[i]), int(so[i + 1]))])

            self.add_batch(grouper, b, None, texts)
        return self

    def add_batch(self, grouper, batch, members: np.ndarray | None = None, dx_texts=None) -> "CaseMix":
        """Group an encoded batch (:meth:`Grouper.encode`, or a kernel batch) and add
        it; ``members``: the claims of it to count (default all; the others are
        another road's).  ``claims`` is the caller's to count."""
        n = len(batch.ok)
        if not n:
            return self
        ok0 = batch.ok.copy()
        if members is None:
            members = np.ones(n, np.bool_)
        out = grouper.group_batch(batch)
        ok = batch.ok
        refused = members & ~ok
        if refused.any():
            errors = getattr(batch, "errors", None)
            for i in np.flatnonzero(refused).tolist():
                if ok0[i] or errors is None:
                    key = _NO_DRG_REASON  # grouped to no DRG (group_batch refused it)
                else:
                    key = reason_key(errors[i])
                self.refused[key] = self.refused.get(key, 0) + 1
        if not ok.any():
            return self
        o = out.columns
        nv = len(self.versions)
        ver = batch.ver[ok].astype(np.int64)
        fd = o.final_drg[ok].astype(np.int64)
        self.final += np.bincount(ver * 1000 + fd, minlength=nv * 1000).reshape(nv, 1000)
        self.mdc += np.bincount(ver * 100 + o.final_mdc[ok].astype(np.int64), minlength=nv * 100).reshape(nv, 100)
        self.severity += np.bincount(o.final_sev[ok], minlength=len(self.severity))[:len(self.severity)]
        self.med_surg += np.bincount(o.med_surg[ok], minlength=len(self.med_surg))[:len(self.med_surg)]
        self.hac += np.bincount(o.hac_status[ok], minlength=len(self.hac))[:len(self.hac)]
        self.rc += np.bincount(o.rc[ok], minlength=len(self.rc))[:len(self.rc)]
        # transfers: the pricing kernel (engine.payment.weights.price) over this year's tables
        tables = grouper.payment if self.weights is None else _year_tables(grouper, self.weights)
        pay = tables.columns(batch, o, None)
        kind = pay.transfer[ok]
        self.transfer += np.bincount(kind, minlength=len(self.transfer))[:len(self.transfer)]
        adj = pay.adjusted[ok]
        known = adj >= 0
        self.adjusted += (int(adj[known].sum()), int(known.sum()))
        self.transfer_no_los += int(((kind == 1) | (kind == 2)).sum() - ((kind == 1) | (kind == 2))[known].sum())
        self.with_los += int((batch.los[ok] >= 0).sum())
        if self.edits:
            self._add_edits(grouper, batch, ok, dx_texts)
        if self.to is not None:
            self._add_compare(grouper, batch, out, ok)
        return self

    def _add_edits(self, grouper, batch, ok, dx_texts) -> None:
        ed = grouper.editor
        eout = ed.run(batch, texts=dx_texts)
        edited = ok & ed.in_range(batch)
        totals = eout.counts[edited].sum(axis=0)
        from ..editing import EDIT_NAMES

        nz = np.flatnonzero(totals)
        _add_counts(self.edit_counts, [EDIT_NAMES[e] for e in nz.tolist()], totals[nz].tolist())
        self.edit_types += np.bincount(eout.edit_type[edited], minlength=4)[:4]

    def _add_compare(self, grouper, batch, out, ok) -> None:
        a = grouper.tables.arrays
        meta = grouper.tables.meta
        vt = grouper.version_numbers.index(self.to)
        n = len(ok)
        ver = batch.ver.astype(np.int64)
        ok_to = ok.copy()
        out2 = grouper.group_batch(_Cols(batch, ver=np.full(n, vt, batch.ver.dtype), ok=ok_to)).columns
        self.to_refused += int((ok & ~ok_to).sum())
        fd = out.columns.final_drg.astype(np.int64)
        td = out2.final_drg.astype(np.int64)
        self.cmp_from += np.bincount(fd[ok_to], minlength=1000)[:1000]
        self.cmp_to += np.bincount(td[ok_to], minlength=1000)[:1000]
        changed = ok_to & (fd != td)
        if changed.any():
            u, c = np.unique(fd[changed] * 1000 + td[changed], return_counts=True)
            _add_counts(self.pairs, u.tolist(), c.tolist())

        # codes: which the target does not know (valid under the claim's own version), and
        # which it knows with other attributes (scheme / pattern) on the claims that moved
        dx_s, pr_p = a["dx_scheme"], a["pr_pattern"]
        dx_claim = np.concatenate([np.flatnonzero(ok), _claims_of(batch.sdx_off)])
        dx_code = np.concatenate([batch.pdx[ok], batch.sdx[:batch.sdx_off[-1]]]).astype(np.int64)
        keep = (dx_code >= 0) & ok[dx_claim]
        dx_claim, dx_code = dx_claim[keep], dx_code[keep]
        pr_claim = _claims_of(batch.px_off)
        pr_code = batch.px[:batch.px_off[-1]].astype(np.int64)
        keep = (pr_code >= 0) & ok[pr_claim]
        pr_claim, pr_code = pr_claim[keep], pr_code[keep]
        dx_from, dx_to = dx_s[ver[dx_claim], dx_code], dx_s[vt, dx_code]
        pr_from, pr_to = pr_p[ver[pr_claim], pr_code], pr_p[vt, pr_code]
        lost_dx = (dx_from >= 0) & (dx_to < 0)
        lost_pr = (pr_from >= 0) & (pr_to < 0)
        lost_claims = np.zeros(n, np.bool_)
        lost_claims[dx_claim[lost_dx]] = True
        lost_claims[pr_claim[lost_pr]] = True
        self.unknown_claims += int(lost_claims.sum())
        self._count_codes(self.unknown_codes, dx_claim[lost_dx], dx_code[lost_dx], pr_claim[lost_pr],
                          pr_code[lost_pr], meta)
        moved_dx = changed[dx_claim] & (dx_from >= 0) & (dx_to >= 0) & (dx_from != dx_to)
        moved_pr = changed[pr_claim] & (pr_from >= 0) & (pr_to >= 0) & (pr_from != pr_to)
        self._count_codes(self.changed_codes, dx_claim[moved_dx], dx_code[moved_dx], pr_claim[moved_pr],
                          pr_code[moved_pr], meta)

    @staticmethod
    def _count_codes(into: dict, dx_claim, dx_code, pr_claim, pr_code, meta) -> None:
        """Claims per code (a code twice on a claim counts once)."""
        for kind, claim, code, names in (("dx", dx_claim, dx_code, meta["dx_codes"]),
                                         ("pr", pr_claim, pr_code, meta["pr_codes"])):
            if not len(code):
                continue
            pairs = np.unique(claim * (len(names) + 1) + code)
            codes, counts = np.unique(pairs % (len(names) + 1), return_counts=True)
            _add_counts(into, [f"{kind}:{names[c]}" for c in codes.tolist()], counts.tolist())

    # ---- merging ------------------------------------------------------------------------------
    _ARRAYS = ("final", "mdc", "severity", "med_surg", "hac", "rc", "transfer", "adjusted", "edit_types",
               "cmp_from", "cmp_to")
    _INTS = ("claims", "transfer_no_los", "with_los", "to_refused", "unknown_claims")
    _DICTS = ("refused", "edit_counts", "pairs", "unknown_codes", "changed_codes")

    def _key(self) -> tuple:
        return self.versions, self.to, self.weights, self.edits

    def merge(self, other: "CaseMix") -> "CaseMix":
        """Add ``other``'s sums to this one (claims of both, counted once each);
        exact: every sum is an integer.  ValueError when they were not made alike."""
        if self._key() != other._key():
            raise ValueError("cannot merge case-mix sums made with other versions, 'to', weights or edits")
        for name in self._ARRAYS:
            getattr(self, name).__iadd__(getattr(other, name))
        for name in self._INTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in self._DICTS:
            d = getattr(other, name)
            _add_counts(getattr(self, name), d.keys(), d.values())
        return self

    def to_state(self) -> dict:
        """The sums as plain JSON values (Spark: one row per partition)."""
        s = {"schema": SCHEMA, "versions": list(self.versions), "to": self.to, "weights": self.weights,
             "edits": self.edits}
        for name in self._ARRAYS:
            arr = getattr(self, name)
            nz = np.flatnonzero(arr)
            s[name] = [list(arr.shape), nz.tolist(), arr.ravel()[nz].tolist()]  # sparse
        for name in self._INTS:
            s[name] = getattr(self, name)
        for name in self._DICTS:
            s[name] = {str(k): v for k, v in getattr(self, name).items()}
        return s

    @classmethod
    def from_state(cls, s: dict) -> "CaseMix":
        cm = cls(s["versions"], s["to"], s["weights"], s["edits"])
        for name in cls._ARRAYS:
            shape, idx, vals = s[name]
            arr = np.zeros(int(np.prod(shape)), np.int64)
            arr[np.asarray(idx, np.int64)] = vals
            setattr(cm, name, arr.reshape(shape))
        for name in cls._INTS:
            setattr(cm, name, int(s[name]))
        for name in cls._DICTS:
            d = s[name]
            setattr(cm, name, {int(k): v for k, v in d.items()} if name == "pairs" else dict(d))
        return cm

    # ---- the summary --------------------------------------------------------------------------
    def _weight_matrix(self, grouper) -> np.ndarray:
        """Weights (1/SCALE; -1: none) by (version, DRG) as this summary weighs them."""
        if self.weights is None:
            return grouper.payment.weight
        return _year_tables(grouper, self.weights).weight

    def summary(self, grouper, top_codes: int = TOP_CODES) -> dict:
        meta = grouper.tables.meta
        labels = [version_label(v) for v in self.versions]
        W = self._weight_matrix(grouper)
        has = W > 0
        wz = np.where(has, W, 0)
        grouped = int(self.final.sum())
        units = int((self.final * wz).sum())
        weighted = int((self.final * has).sum())
        used = sorted({fiscal_year_of(v) for v, c in zip(self.versions, self.final.sum(axis=1)) if c}
                      if self.weights is None else {self.weights})
        by_version = self.final.sum(axis=1)
        newest = max((i for i in range(len(labels)) if by_version[i]), default=len(labels) - 1)

        def title(kind: str, vi: int, code: int) -> str:
            return meta[kind].get(f"{self.versions[vi]}:{code}", "")

        drg_claims = self.final.sum(axis=0)
        drg_units = (self.final * wz).sum(axis=0)
        drg_weighted = (self.final * has).sum(axis=0)
        drg_detail = []
        for d in np.flatnonzero(drg_claims).tolist():
            vi = max(i for i in range(len(labels)) if self.final[i, d])
            mdc, surg = meta["drg_meta"].get(f"{self.versions[vi]}:{d}", [None, "NA"])
            drg_detail.append({
                "drg": f"{d:03d}", "claims": int(drg_claims[d]),
                "weight": round(int(drg_units[d]) / int(drg_weighted[d]) / SCALE, 4) if drg_weighted[d] else None,
                "weight_total": int(drg_units[d]) / SCALE,
                "description": title("drg_descriptions", vi, d),
                "mdc": f"{mdc:02d}" if mdc is not None and mdc < 99 else None,
                "med_surg": surg if surg in ("MEDICAL", "SURGICAL") else "NONE"})
        drg_detail.sort(key=lambda r: (-r["claims"], r["drg"]))
        mdc_claims = self.mdc.sum(axis=0)
        mdc_detail = [{"mdc": f"{m:02d}", "claims": int(mdc_claims[m]),
                       "description": title("mdc_descriptions", newest, m)}
                      for m in np.flatnonzero(mdc_claims).tolist()]
        mdc_detail.sort(key=lambda r: (-r["claims"], r["mdc"]))
        sev = dict(zip(CLAIM_SEVERITY, self.severity.tolist()))
        refused_total = int(sum(self.refused.values()))
        out = {
            "schema": SCHEMA,
            "claims": int(self.claims),
            "grouped": grouped,
            "refused": {"total": refused_total,
                        "by_reason": dict(sorted(self.refused.items(), key=lambda kv: (-kv[1], kv[0])))},
            "empty": self.claims == 0,
            "versions": {labels[i]: int(c) for i, c in enumerate(by_version.tolist()) if c},
            "return_codes": {RETURN_CODES[i]: int(c) for i, c in enumerate(self.rc.tolist()) if c},
            "case_mix_index": {
                "value": round(units / weighted / SCALE, 4) if weighted else None,
                "weights": "each version's fiscal year" if self.weights is None else f"FY{self.weights}",
                "fiscal_years": used,
                "weighted_claims": weighted,
                "claims_without_weight": grouped - weighted,
                "weight_sum": units / SCALE,
            },
            "drgs": {r["drg"]: r["claims"] for r in drg_detail},
            "drg_detail": drg_detail,
            "mdcs": {r["mdc"]: r["claims"] for r in mdc_detail},
            "mdc_detail": mdc_detail,
            "med_surg": dict(zip(MED_SURG, self.med_surg.tolist())),
            "severity": {"MCC": sev["MCC"], "CC": sev["CC"], "none": sev["NON_CC"],
                         "not_applicable": sev["NONE"]},
            "cc_mcc_capture": (round((sev["MCC"] + sev["CC"]) / grouped, 4) if grouped else None),
            "hac": {"claims": int(self.hac[1:].sum()),
                    "by_status": dict(zip(HAC_STATUS, self.hac.tolist()))},
            "transfers": self._transfers(),
            "edits": self._edits() if self.edits else None,
            "compare": self._compare(grouper, top_codes) if self.to is not None else None,
        }
        return out

    def _transfers(self) -> dict:
        t = self.transfer.tolist()
        units, n = (int(x) for x in self.adjusted)
        return {"claims_with_los": int(self.with_los), "acute": t[1], "post_acute": t[2],
                "without_los": int(self.transfer_no_los),
                "adjusted_claims": n,
                "adjusted_cmi": round(units / n / SCALE, 4) if n and self.with_los else None}

    def _edits(self) -> dict:
        from ..editing import EDIT_TYPES

        return {"by_name": dict(sorted(self.edit_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
                "edit_types": dict(zip(EDIT_TYPES, self.edit_types.tolist())),
                "claims_with_edits": int(self.edit_types[1:].sum())}

    def _compare(self, grouper, top_codes: int) -> dict:
        fy = self.weights
        w = np.full(1000, -1, np.int64)
        if fy is not None:
            t = grouper.payment.tables[fy]
            w[t.drg.astype(np.int64)] = t.weight
        has = w > 0

        def cmi(counts):
            n = int(counts[has].sum())
            return (round(int((counts * np.where(has, w, 0)).sum()) / n / SCALE, 4) if n else None), n

        cmi_from, n_from = cmi(self.cmp_from)
        cmi_to, n_to = cmi(self.cmp_to)
        shifts = []
        for key, c in self.pairs.items():
            f, t = divmod(int(key), 1000)
            change = (int(w[t]) - int(w[f])) / SCALE if has[f] and has[t] else None
            shifts.append({"from": f"{f:03d}", "to": f"{t:03d}", "claims": c,
                           "weight_change": change,
                           "weight_moved": round(change * c, 4) if change is not None else None})
        shifts.sort(key=lambda s: (-(abs(s["weight_moved"]) if s["weight_moved"] is not None else -1),
                                   -s["claims"], s["from"], s["to"]))
        meta = grouper.tables.meta
        for s in shifts[:200]:  # titles for the ones a report shows
            s["from_description"] = self._any_title(meta, int(s["from"]))
            s["to_description"] = meta["drg_descriptions"].get(f"{self.to}:{int(s['to'])}", "")

        def listed(d):
            items = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:top_codes]
            return [{"code": k.split(":", 1)[1], "kind": "diagnosis" if k.startswith("dx:") else "procedure",
                     "claims": v} for k, v in items]

        changed = int(sum(self.pairs.values()))
        return {
            "from": "each claim's version", "to": version_label(self.to),
            "weights": f"FY{fy}" if fy is not None else None,
            "claims": int(self.cmp_from.sum()),
            "cmi_from": cmi_from, "cmi_to": cmi_to,
            "weighted_from": n_from, "weighted_to": n_to,
            "changed": changed,
            "refused_by_target": int(self.to_refused),
            "weight_change_total": round(sum(s["weight_moved"] or 0 for s in shifts), 4),
            "shifts": shifts,
            "changed_codes": listed(self.changed_codes),
            "unknown_codes": {"claims": int(self.unknown_claims), "distinct": len(self.unknown_codes),
                              "codes": listed(self.unknown_codes)},
        }

    def _any_title(self, meta, d: int) -> str:
        for v in reversed(self.versions):
            t = meta["drg_descriptions"].get(f"{v}:{d}")
            if t:
                return t
        return ""


def casemix(grouper, data, to=None, weights=None, edits: bool = False) -> dict:
    """:meth:`Grouper.casemix`: the summary of ``data`` (claim dicts, JSON texts,
    an encoded Batch, a pyarrow Table/RecordBatch, a pandas or polars DataFrame)."""
    return CaseMix.for_grouper(grouper, to, weights, edits).add(grouper, data).summary(grouper)


__all__ = ["CaseMix", "CaseMixError", "casemix", "reason_key", "resolve", "SCHEMA"]
