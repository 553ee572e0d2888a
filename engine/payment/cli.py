"""``fastdrg weights ...``: import and list CMS Table 5 (engine.payment.table5).

Why apart from engine.cli: the grouping CLI stays small; these commands need
the grouper's tables (which DRGs a year has) but never the compiled kernel,
so an import takes seconds, not a compile.
"""

from __future__ import annotations

import sys

from .table5 import Table5Error, fiscal_year_of, import_table5, list_tables


def grouper_drgs(fiscal_year: int, cache_dir=None):
    """The DRGs of every grouper version of ``fiscal_year``, bundled or imported
    (engine.data); None when no version is of that year."""
    from .. import tables as tb

    tables, _ = tb.load_or_build(cache_dir)
    versions = [int(v) for v in tables.meta["versions"] if fiscal_year_of(int(v)) == fiscal_year]
    if not versions:
        return None
    drgs = set()
    for key in tables.meta["drg_descriptions"]:
        v, d = (int(x) for x in key.split(":"))
        if v in versions:
            drgs.add(d)
    return drgs


def cmd_import(args) -> int:
    try:
        drgs = grouper_drgs(args.fiscal_year, args.cache_dir)
        t = import_table5(args.file, args.fiscal_year, drgs)
    except Table5Error as e:
        print(f"fastdrg: weights import refused, nothing changed: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"fastdrg: weights import failed, nothing changed: {e.strerror or e}", file=sys.stderr)
        return 2
    checked = (f"all {len(drgs)} DRGs of the FY{args.fiscal_year} grouper present" if drgs is not None else
               "no grouper version of that year is loaded: the DRG list was not checked")
    print(f"fastdrg: Table 5 FY{args.fiscal_year} imported: {int((t.weight > 0).sum())} DRGs with weights "
          f"({len(t)} rows) from {t.provenance['source']}; {checked}")
    return 0


def cmd_list(args) -> int:
    rows = list_tables()
    if not rows:
        print("fastdrg: no Table 5 loaded (the bundled FY2026 needs the drg package)")
        return 0
    print(f"{'FY':6} {'DRGs':>5}  source")
    for r in rows:
        when = f", imported {r['imported_at']}" if r.get("imported_at") else ""
        print(f"{r['fiscal_year']:<6} {r['drgs']:5d}  {r['source']}{when}")
    return 0


def add_parser(sub) -> None:
    """The ``weights`` command on the ``fastdrg`` parser's subcommands."""
    w = sub.add_parser("weights", help="CMS Table 5 weights: import a fiscal year, list what is loaded")
    wsub = w.add_subparsers(dest="weights_command", required=True)
    imp = wsub.add_parser("import", help="import CMS Table 5 (tab-separated text, .csv or .xlsx)")
    imp.add_argument("file", help="Table 5 as CMS publishes it")
    imp.add_argument("--fiscal-year", type=int, required=True, help="its fiscal year, e.g. 2027")
    imp.add_argument("--cache-dir", help="table cache (default: FASTDRG_CACHE_DIR or user cache)")
    imp.set_defaults(func=cmd_import)
    ls = wsub.add_parser("list", help="fiscal years with weights and where they come from")
    ls.set_defaults(func=cmd_list)
