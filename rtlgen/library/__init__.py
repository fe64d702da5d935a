"""Stage 2: the multiplier library, a catalog of circuits keyed by the hash of their tables.

* :mod:`.catalog` owns the on-disk format (``catalog.json``, one table per function, every
  distinct netlist of a function kept as a named implementation);
* :mod:`.importer` scans a folder of netlists into a catalog; :mod:`.evoapprox` reads what
  EvoApproxLib publishes beside its netlists and downloads a release.
"""
from rtlgen.library.catalog import Catalog, Entry, Implementation

__all__ = ["Catalog", "Entry", "Implementation"]
