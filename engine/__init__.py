"""fastdrg engine: exact CMS MS-DRG grouping (v40.0 - v44.0, and CMS releases imported
with ``fastdrg tables import``) on a numba-compiled core.

    from engine import Grouper
    g = Grouper()
    g.group([{"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1,
              "pdx": "I5021", "sdx": ["N179"], "procedures": []}])
"""

import os as _os

from .numba_cache import numba_cache_dir as _numba_cache_dir
from .tables import default_cache_dir as _default_cache_dir

# numba reads its cache location when it is first imported: point it beside our tables, in a
# directory named after the compiled code's sources (engine.numba_cache: numba's own check
# sees only a change to the compiled function's own file).  A location set explicitly (the
# Docker image, docker/build.sh, Spark executors: NUMBA_CACHE_DIR, even empty) is kept.
if "NUMBA_CACHE_DIR" not in _os.environ:
    _os.environ["NUMBA_CACHE_DIR"] = str(_numba_cache_dir(_default_cache_dir()))

from .encode import Batch, ClaimError, version_for_date as _version_for_date  # noqa: E402
from .grouper import BatchResult, Grouper, GrouperError, JsonResults, WhatIfError  # noqa: E402
from .parse import array_items as json_array_items  # noqa: E402
from .tables import RETURN_CODES  # noqa: E402


def version_for_date(date, versions=None) -> str:
    """The grouper version covering a discharge date (ISO string or date), among
    ``versions`` (a Grouper's ``version_numbers``; default the pinned package's)."""
    from .encode import version_label

    try:
        return version_label(_version_for_date(date) if versions is None else _version_for_date(date, versions))
    except ClaimError as e:
        raise GrouperError(e.reason) from None


__all__ = ["Grouper", "GrouperError", "Batch", "BatchResult", "JsonResults", "ClaimError", "RETURN_CODES",
           "json_array_items",
           "version_for_date", "WhatIfError"]
