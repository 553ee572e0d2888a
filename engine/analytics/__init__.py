"""Analytics over many claims' results: the case-mix summary (:mod:`.casemix`).

Why a package of its own: grouping answers one claim; these modules answer a
file of claims (how much, which DRGs, what next year's grouper does to them)
from the kernel's output columns, with accumulators that merge exactly so a
stream, a service body or Spark partitions can be summed part by part.
"""

from .casemix import CaseMix, CaseMixError, casemix  # noqa: F401
