"""Grouping a Spark DataFrame of claims across a cluster: ``engine.spark.group(df)``.

Why: past one machine, claims live in Spark.  Rather than a home-made
distribution layer, the grouping runs inside Spark's own machinery:
``DataFrame.mapInArrow`` hands each Python worker its partition as Arrow
record batches, which go through the same Arrow reader, kernel and writer as
``Grouper.group_arrow`` (engine.io.arrow), and the results come back as a
DataFrame.  pyspark is an optional extra (``pip install -e ".[spark]"``).

Executors must not each spend the cold compile (tables built, numba kernels
compiled: minutes).  ``fastdrg tables build --archive fastdrg-cache.tar.gz``
(:func:`build_archive`) packs, once, the engine's code with its compiled
kernels beside it (numba's in-tree cache: keyed by the source's content, so
it holds wherever the archive is unpacked, on the same CPU family) and the
built tables.  The job ships it (``spark.archives=fastdrg-cache.tar.gz#fastdrg-cache``)
and each Python worker, on its first batch, imports the engine from there
and loads tables and kernels in a few seconds.  Without an archive, workers
use their own cache (FASTDRG_CACHE_DIR / NUMBA_CACHE_DIR, inherited from the
driver in local mode).

This module imports nothing of the engine at its top: its worker functions are
shipped to the executors by value, and must set the engine's cache locations
before the engine (and numba) is first imported there.
"""

from __future__ import annotations

import json
import os
import sys

#: The name the archive is unpacked under (``spark.archives=PATH#fastdrg-cache``).
ARCHIVE_ALIAS = "fastdrg-cache"
_MANIFEST = "fastdrg-archive.json"


# ---- on the executors ---------------------------------------------------------------------------

def _archive_root(alias: str):
    """Where Spark unpacked the archive on this executor, or None: the working
    directory (YARN, Kubernetes, standalone) or SparkFiles' root (local mode)."""
    bases = [os.getcwd()]
    try:
        from pyspark import SparkFiles

        bases.append(SparkFiles.getRootDirectory())
    except Exception:  # no SparkFiles root in this process
        pass
    for base in bases:
        root = os.path.join(base, alias)
        if os.path.isfile(os.path.join(root, _MANIFEST)):
            return root
    return None


def _executor_grouper(alias: str):
    """This worker process's Grouper (built on its first batch, kept for the next)."""
    held = sys.modules.get("engine.io.arrow")
    if held is not None and getattr(held, "_SPARK_GROUPER", None) is not None:
        return held._SPARK_GROUPER
    root = _archive_root(alias)
    if root is not None and "engine" not in sys.modules:
        sys.path.insert(0, root)  # the archive's engine, whose kernels are compiled beside it
        os.environ["FASTDRG_CACHE_DIR"] = os.path.join(root, "tables")
        os.environ["NUMBA_CACHE_DIR"] = ""  # numba's in-tree cache: the archive's __pycache__
    from engine import Grouper
    import engine.io.arrow as arrow

    # one thread: Spark runs a task per core, each in its own Python worker
    arrow._SPARK_GROUPER = Grouper(threads=1)
    return arrow._SPARK_GROUPER


def _group_batches(batches, detail: bool, alias: str, schema_bytes: bytes, options: dict | None = None):
    """mapInArrow's function: record batches of claims -> record batches of results."""
    import pyarrow as pa

    schema = pa.ipc.read_schema(pa.py_buffer(schema_bytes))
    grouper = None
    for rb in batches:
        if grouper is None:
            grouper = _executor_grouper(alias)
            from engine.io.arrow import group_record_batch
        out = group_record_batch(grouper, rb, detail, **(options or {}))
        yield pa.RecordBatch.from_arrays([out.column(k).cast(f.type) for k, f in enumerate(schema)], schema=schema)


# ---- on the driver ------------------------------------------------------------------------------

def group(df, detail: bool = False, archive_alias: str = ARCHIVE_ALIAS, edits: bool = False, base_rate=None):
    """A ``pyspark.sql.DataFrame`` of claims (the columns ``Grouper.group_arrow``
    reads) -> a DataFrame of results, one row per claim (columns as
    group_arrow's, titles and enumerations as plain strings; ``edits``,
    ``base_rate`` as group_arrow's: the base rate is checked here, on the driver)."""
    import pyarrow as pa
    from pyspark import cloudpickle
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_type

    from engine.io.arrow import result_schema

    id_type = pa.string()
    if "id" in df.columns:
        id_type = to_arrow_type(df.schema["id"].dataType)
    schema = result_schema(id_type, detail, plain=True, edits=edits)
    options = {"edits": bool(edits)}
    if base_rate is not None:
        from engine.payment.weights import base_rate_cents

        try:
            options["cents"] = base_rate_cents(base_rate)
        except ValueError as e:
            from engine.grouper import GrouperError

            raise GrouperError(str(e)) from None
    # shipped by value: the executors run it before they import the engine
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    schema_bytes = schema.serialize().to_pybytes()

    def run(batches):
        return _group_batches(batches, detail, archive_alias, schema_bytes, options)

    return df.mapInArrow(run, from_arrow_schema(schema))


def build_archive(path, cache_dir=None, python: str | None = None) -> dict:
    """Pack the engine's code, its compiled kernels and the built tables into
    ``path`` (a .tar.gz) for ``spark.archives``.  The kernels are compiled (or
    taken from the cache already compiled for this code) in a fresh process
    against a copy of the engine's source, into numba's in-tree cache beside
    it.  Returns what it did (seconds, sizes)."""
    import shutil
    import subprocess
    import tarfile
    import tempfile
    import time

    import engine
    from engine import tables as tb

    t0 = time.perf_counter()
    src = os.path.dirname(os.path.abspath(engine.__file__))
    work = tempfile.mkdtemp(prefix="fastdrg-archive-")
    try:
        dst = os.path.join(work, "engine")
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _seed_kernels(src, dst)
        tables = os.path.join(work, "tables")
        os.makedirs(tables)
        have = tb.default_cache_dir() if cache_dir is None else cache_dir
        for name in os.listdir(have) if os.path.isdir(have) else []:
            if name.startswith("tables-"):
                shutil.copytree(os.path.join(have, name), os.path.join(tables, name))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([work] + [p for p in sys.path if p]),
                   FASTDRG_CACHE_DIR=tables, NUMBA_CACHE_DIR="")
        done = subprocess.run([python or sys.executable, "-c", _WARM], cwd=work, env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise RuntimeError(f"warming the archive's engine failed:\n{done.stderr[-4000:]}")
        info = json.loads(done.stdout.strip().splitlines()[-1])
        with open(os.path.join(work, _MANIFEST), "w") as fh:
            json.dump({"python": sys.version.split()[0], **info}, fh)
        with tarfile.open(path, "w:gz") as tar:
            for name in sorted(os.listdir(work)):
                tar.add(os.path.join(work, name), arcname=name)
        info["seconds"] = round(time.perf_counter() - t0, 1)
        info["bytes"] = os.path.getsize(path)
        return info
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _seed_kernels(src: str, dst: str) -> None:
    """Copy the kernels already compiled for ``src`` (numba's cache directory)
    into ``dst``'s in-tree caches: numba keys them by the source's content,
    which the copy shares, so they load instead of compiling again."""
    cache = os.environ.get("NUMBA_CACHE_DIR")
    if not cache:
        return
    import shutil

    try:
        from numba.core.caching import _CacheLocator
    except ImportError:
        return
    for here, _dirs, files in os.walk(src):
        if "__pycache__" in here or not any(f.endswith(".py") for f in files):
            continue
        sub = _CacheLocator.get_suitable_cache_subpath(os.path.join(here, "x.py"))
        have = os.path.join(cache, sub)
        if not os.path.isdir(have):
            continue
        into = os.path.join(dst, os.path.relpath(here, src), "__pycache__")
        os.makedirs(into, exist_ok=True)
        for f in os.listdir(have):
            if f.endswith((".nbi", ".nbc")):
                shutil.copy2(os.path.join(have, f), os.path.join(into, f))


# A fresh process with the archive's engine: tables loaded or built, every kernel
# the Arrow road runs compiled (or loaded), the time a warm start takes measured.
_WARM = r"""
import json, os, subprocess, sys, time
t = time.perf_counter()
import engine
assert os.path.dirname(engine.__file__).startswith(os.getcwd()), engine.__file__
from engine import Grouper
g = Grouper()
try:
    from engine.io.arrow import claims_table
    claim = {"id": "a", "version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I5021",
             "sdx": ["N170"], "procedures": []}
    for detail in (False, True):
        assert g.group_arrow(claims_table([claim]), detail=detail).column("drg").to_pylist() == ["291"]
    arrow = True
except ImportError:
    arrow = False
cold = time.perf_counter() - t
warm = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); from engine import Grouper; "
                       "Grouper(); print(time.perf_counter() - t)"], capture_output=True, text=True, check=True)
print(json.dumps({"build_seconds": round(cold, 1), "warm_start_seconds": round(float(warm.stdout), 1),
                  "arrow": arrow}))
"""
