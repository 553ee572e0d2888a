"""The case-mix summary of a Spark DataFrame: sums per partition, merged on the driver.

    from engine.analytics.spark import casemix
    summary = casemix(claims_df, to="44.0")          # the dict Grouper.casemix gives

Each partition goes through ``DataFrame.mapInArrow`` as Arrow record batches into one
:class:`engine.analytics.CaseMix` on its executor (the same Arrow reader and kernel as
``Grouper.casemix`` of a pyarrow Table); the partition answers one row, its sums
(:meth:`CaseMix.to_state`, a few kilobytes whatever the partition's size), and the
driver merges them (:meth:`CaseMix.merge`: exact, every sum an integer) and writes the
summary.  Executors load the engine as ``engine.spark.group`` has them do (the archive of
``fastdrg tables build --archive``, shipped as ``spark.archives``).

Like engine.spark, nothing of the engine is imported at this module's top, and the
partition function is shipped by value: an executor sets its cache locations before
the engine is first imported there.
"""

from __future__ import annotations

import json
import sys


def _partition_sums(batches, alias: str, get_grouper, options: dict):
    """mapInArrow's function: a partition's record batches -> one row, its sums as JSON."""
    import pyarrow as pa

    grouper = acc = None
    for rb in batches:
        if grouper is None:
            grouper = get_grouper(alias)
            from engine.analytics.casemix import CaseMix

            acc = CaseMix(grouper.version_numbers, options["to"], options["weights"], options["edits"])
        acc.add_arrow(grouper, rb)
    if acc is not None:
        yield pa.RecordBatch.from_pylist([{"state": json.dumps(acc.to_state())}])


def casemix(df, to=None, weights=None, edits: bool = False, grouper=None, archive_alias: str | None = None) -> dict:
    """The case-mix summary of a ``pyspark.sql.DataFrame`` of claims (the columns
    ``Grouper.group_arrow`` reads); ``to``, ``weights``, ``edits`` as
    :meth:`Grouper.casemix` (checked here, on the driver: CaseMixError naming what is
    loaded).  ``grouper``: the driver's (default: a new one)."""
    from pyspark import cloudpickle

    import engine.spark as es
    from engine import Grouper
    from engine.analytics.casemix import CaseMix

    grouper = grouper or Grouper()
    total = CaseMix.for_grouper(grouper, to, weights, edits)
    options = {"to": total.to, "weights": total.weights, "edits": total.edits}
    alias = archive_alias or es.ARCHIVE_ALIAS
    # shipped by value: the executors run them before they import the engine
    cloudpickle.register_pickle_by_value(es)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    get_grouper = es._executor_grouper

    def run(batches):
        return _partition_sums(batches, alias, get_grouper, options)

    for row in df.mapInArrow(run, "state string").collect():
        total.merge(CaseMix.from_state(json.loads(row["state"])))
    return total.summary(grouper)


__all__ = ["casemix"]
