"""What a DRG pays: CMS Table 5 weights, the transfer adjustment, an estimate, and what-if.

Why a subpackage of its own: grouping answers *which* DRG; this answers what
that DRG is worth, from a different CMS publication (the IPPS final rule's
Table 5, one per fiscal year) with its own rules (42 CFR 412.4 transfers).
Nothing here changes a DRG: the grouping kernel never sees these tables.

- :mod:`.table5`  reads Table 5 as CMS publishes it (tab-separated text, .csv,
  .xlsx), validates it, imports it under the data directory with provenance,
  and bundles FY2026 from the pinned ``drg`` package (read as data only).
- :mod:`.weights` the tables as numpy arrays per grouper version, the compiled
  pricing kernel (weights, transfer, adjusted weight, estimate) over the
  grouper's output columns, and the pre-rendered JSON fragments the compiled
  writer (engine.render) copies.
- :mod:`.whatif`  every single-code change to a claim, grouped in one kernel call.

Amounts are exact: Table 5 numbers are carried as integers in ten-thousandths,
the transfer formula is evaluated in integer arithmetic and rounded once (half
up) to four decimals, the estimate to cents.
"""

from .table5 import (  # noqa: F401
    Table5, Table5Error, bundled_fy2026, data_dir, fiscal_year_of, import_table5, list_tables, load_tables,
)
from .weights import PaymentTables, price  # noqa: F401
