"""fastdrg engine: exact CMS MS-DRG grouping (v40.0 - v44.0, and CMS releases imported
with ``fastdrg tables import``) on a numba-compiled core.

    from engine import Grouper
    g = Grouper()
    g.group([{"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1,
              "pdx": "I5021", "sdx": ["N179"], "procedures": []}])
"""

import os as _os

from .tables import default_cache_dir as _default_cache_dir

# numba reads its cache location when it is first imported: point it beside our tables.
_os.environ.setdefault("NUMBA_CACHE_DIR", str(_default_cache_dir() / "numba"))

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
