"""The range-aware bar store: bars already held are read, never asked of KIS again.

:mod:`.spans` is the pure gap arithmetic, :mod:`.files` one Parquet file (rows plus coverage,
replaced atomically under a lock), :mod:`.bars` the layout and :class:`BarStore`,
:mod:`.adjust` the check that tells when KIS has rewritten a symbol's adjusted history.
"""

from .bars import BarStore, Change, Dataset, Finished, View

__all__ = ["BarStore", "Change", "Dataset", "Finished", "View"]
