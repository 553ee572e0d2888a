"""Claims in and out of other formats: Apache Arrow (engine.io.arrow), and through
it pandas, polars, Parquet files and Spark (engine.spark); X12 837I claim files
(engine.io.x12).  Each reader hands the grouping pipeline (engine.pipeline) its
claims, as a columnar batch or as the compiled JSON reader's input.

Why a subpackage: the grouping core is columnar already; these modules only
move columns between a format's buffers and the kernel's batch, without a
Python object per claim.  Everything here is optional (pyarrow is imported
when these modules are), so the service and the NDJSON path need none of it.
"""
