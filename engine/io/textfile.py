"""Text files in, whatever tool wrote them: a UTF-8 byte-order mark skipped,
gzip read as a stream, a Latin-1 file refused with how to convert it, and a
file's format told from its name and first bytes.

Why a module of its own, without pyarrow: the NDJSON command line and the
service's JSON bodies need these checks too, and neither imports pyarrow.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os

BOM = codecs.BOM_UTF8
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
PARQUET_MAGIC = b"PAR1"
#: How many bytes are checked up front for UTF-8 (the rest is checked by the reader).
SNIFF_BYTES = 1 << 20


class TableError(ValueError):
    """The file cannot be read as claims (the command line exits 2 with this message)."""


# ---- text checks -----------------------------------------------------------------------------

def latin1_message(name: str, offset: int | None = None) -> str:
    where = f" (at byte {offset})" if offset is not None else ""
    return (f"{name} is not UTF-8 text{where}: it looks like Latin-1 / Windows-1252. Convert it first, e.g. "
            f"`iconv -f latin1 -t utf-8 {os.path.basename(name)} > converted.csv` (or save as \"CSV UTF-8\" in Excel)")


def check_utf8(head: bytes, name: str) -> None:
    """TableError when ``head`` (a file's first bytes) is not UTF-8 (a character
    cut at the end of ``head`` is fine)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as e:
        raise TableError(latin1_message(name, e.start)) from None


def skip_bom(stream):
    """A binary stream past a leading UTF-8 BOM (a peekable one, or seekable)."""
    if hasattr(stream, "peek"):
        head = stream.peek(3)[:3]
        if head == BOM:
            stream.read(3)
        return stream
    pos = stream.tell()
    if stream.read(3) != BOM:
        stream.seek(pos)
    return stream


def strip_bom(body: bytes) -> bytes:
    """A body without its leading UTF-8 BOM."""
    return body[3:] if body[:3] == BOM else body


# ---- formats ---------------------------------------------------------------------------------

def sniff(path: str) -> str:
    """A file's format from its name and first bytes: ``csv``, ``tsv``, ``xlsx``,
    ``parquet`` or ``ndjson``."""
    name = path.lower()
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith((".tsv", ".tab")):
        return "tsv"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "ndjson"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    with raw_stream(path) as f:
        first = skip_bom(f).read(4096)
    s = first.lstrip()
    if s.startswith(b"{") or s.startswith(b"["):
        return "ndjson"
    line = first.split(b"\n", 1)[0]
    if b"\t" in line:
        return "tsv"
    if b"," in line:
        return "csv"
    return "ndjson"


TABULAR = ("csv", "tsv", "xlsx")


def is_tabular(path: str | None) -> bool:
    """Whether ``fastdrg group`` reads ``path`` here: by the name first (.csv,
    .tsv, .csv.gz, .xlsx), then by the first bytes (a zip: Excel; a header
    line with commas or tabs)."""
    if not path or path == "-" or not os.path.isfile(path):
        return bool(path) and path.lower().removesuffix(".gz").endswith((".csv", ".tsv", ".tab", ".xlsx"))
    try:
        return sniff(path) in TABULAR
    except OSError:
        return False


def raw_stream(path: str):
    """A file opened for reading its bytes, gzip decompressed as they are read."""
    f = open(path, "rb")
    if f.peek(2)[:2] == GZIP_MAGIC:
        return io.BufferedReader(gzip.GzipFile(fileobj=f))
    return f


def is_gzip(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def text_input(stream, name: str):
    """An NDJSON input stream made ready: gzip decompressed as it is read, a
    BOM skipped, the first block checked to be UTF-8 (TableError otherwise)."""
    if stream.peek(2)[:2] == GZIP_MAGIC:
        stream = io.BufferedReader(gzip.GzipFile(fileobj=stream), buffer_size=1 << 20)
    stream = skip_bom(stream)
    check_utf8(stream.peek(SNIFF_BYTES)[:SNIFF_BYTES], name)
    return stream
