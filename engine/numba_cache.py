"""Where numba keeps the compiled kernels: a directory named after their sources.

numba's on-disk cache checks a compiled function against its own source file
only (modification time and size).  A compiled function also holds the code of
what it calls or inlines from other modules, and the constants it reads from
them: engine.grouping's ``group_range`` (grouping/kernel.py) inlines
preprocess.py's ``_preprocess`` and calls marking.py's ``_mark``, so after an
edit of marking.py numba would load the cached ``group_range`` with the old
marking in it.  The default cache directory is therefore named after the bytes
of every module that goes into compiled code (:func:`kernel_sources`): a change
to any of them starts a fresh directory, and one cold compile.

The files are read as bytes, never imported: engine/__init__.py calls this
before numba is first imported (numba reads its cache location then).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

#: The engine package's directory.
ENGINE_DIR = Path(__file__).resolve().parent

#: A decorator of compiled code that numba caches on disk (``@njit(..., cache=True, ...)``).
_CACHED = re.compile(rb"^\s*@(?:numba\.)?n?jit\([^)]*\bcache=True", re.M)


def kernel_sources(engine_dir: Path | str = ENGINE_DIR) -> dict[str, bytes]:
    """The modules that go into the cached compiled code, by path relative to
    ``engine_dir`` (sorted): every module of engine/grouping/ (layout.py's
    constants included), every other engine module with cached ``@njit`` code
    (engine/editing/kernel.py, parse.py, render.py, ...), and engine/tables.py,
    whose constants (operand kinds, return codes, severities) are compiled in."""
    root = Path(engine_dir)
    found = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if "__pycache__" in path.parts:
            continue
        data = path.read_bytes()
        if rel.startswith("grouping/") or rel == "tables.py" or _CACHED.search(data):
            found[rel] = data
    return dict(sorted(found.items()))


def numba_cache_dir(cache_dir: Path | str, engine_dir: Path | str = ENGINE_DIR) -> Path:
    """``<cache_dir>/numba-<hash>``: the default NUMBA_CACHE_DIR for the engine in
    ``engine_dir``, ``<hash>`` a short digest of :func:`kernel_sources` (their
    relative paths and bytes: the same sources anywhere give the same name)."""
    h = hashlib.sha256()
    for rel, data in kernel_sources(engine_dir).items():
        h.update(b"%s\0%d\0" % (rel.encode(), len(data)))
        h.update(data)
    return Path(cache_dir) / f"numba-{h.hexdigest()[:12]}"
