"""The first start on two cores: the JSON reader and the code editor compiled beside the kernel.

numba compiles one function at a time in a process (a global compiler lock), so
a first start (``fastdrg tables build``, a first ``Grouper()``) compiled the
grouping kernel (engine.grouping.group_range, most of the time) and then the
compiled JSON reader (engine.parse.read_batch, ~11 s of CPU) one after the
other.  When the reader is not in numba's cache yet, :func:`start_reader` has a
child process compile it into that cache while the Grouper compiles the kernel;
the Grouper then waits for the child (:func:`join`) and loads the reader from
the cache.  The child also compiles the text path's writer (~4 s, which the
Grouper compiled after the kernel) and the Medicare Code Editor's kernel (~3 s,
which the service warms before /readyz), still well within the kernel's
compile.  :func:`spawn` starts such a child for other compiled code too (the
service's FHIR Bundle road: engine.io.fhir_bundle.ready).  The child holds the tables (memory-mapped) and the reader's compile
only (~0.3 GB), beside the kernel's compile (~0.5 GB): issue 25 asks the first
start to stay under 1.2 GB summed over its processes.

The child is only a head start: if it cannot start, fails or compiles into
another cache, the Grouper compiles the reader itself, as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _cached(dispatcher) -> bool:
    """Whether numba's on-disk cache holds an index for ``dispatcher`` (any signature)."""
    try:
        return Path(dispatcher._cache._cache_file._index_path).exists()
    except AttributeError:  # not a caching dispatcher: nothing to gain
        return True


def start_reader(cache_dir, source_path, data_dir) -> subprocess.Popen | None:
    """A child compiling engine.parse.read_batch (and the code editor's kernel) into
    numba's cache for a Grouper on these tables (built already), or None when the
    reader is cached or only one core is there."""
    from . import parse

    if (os.cpu_count() or 1) < 2 or _cached(parse.read_batch):
        return None
    return spawn("from engine.coldstart import _compile_reader as f",
                 [str(cache_dir), source_path and str(source_path), data_dir and str(data_dir)])


def spawn(import_line: str, args: list) -> subprocess.Popen | None:
    """A child process running ``f(*args)`` after ``import_line`` (which binds ``f``),
    with this engine on its path and numba's cache directory of this process, its
    output discarded; None when it cannot start."""
    env = dict(os.environ)  # NUMBA_CACHE_DIR: engine/__init__.py set it, the child keeps it
    root = str(Path(__file__).resolve().parents[1])  # this engine, whatever the child's sys.path
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    code = f"import json, sys; {import_line}; f(*json.loads(sys.argv[1]))"
    try:
        return subprocess.Popen([sys.executable, "-c", code, json.dumps(args)], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None


def join(child: subprocess.Popen | None) -> None:
    """Wait for :func:`start_reader`'s child (its exit status does not matter)."""
    if child is not None:
        child.wait()


def _compile_reader(cache_dir: str, source_path: str | None, data_dir: str | None) -> None:
    """The reader's first call as the Grouper makes it (Grouper.read_json: the same
    buffer and span types as its text path), then the text path's writer and the code
    editor's kernel."""
    import orjson

    from . import parse as P
    from .grouper import Grouper

    g = Grouper(cache_dir, source_path=source_path, data_dir=data_dir, warm=False)
    claim = {"version": g.versions[-1], "age": 60, "sex": "M", "discharge_status": 1,
             "pdx": "I5021", "sdx": ["E1122"], "procedures": ["02703DZ"]}
    g.read_json(P.array_items(orjson.dumps({"claims": [claim]}), "claims", 1))
    g.compile_text_writer()  # the writer (engine.render), which the Grouper would compile after the kernel
    g.edit([{**claim, "los": 3}])  # the code editor's kernel (the service warms it before /readyz)
