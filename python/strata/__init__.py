"""strata: a lazy (time, band, row, col) raster cube on a C engine.

The seed's DatasetCollection API (pyramids-gis): ``from strata import DatasetCollection``.
"""
from ._collection import OPS, DatasetCollection, GroupBy
from ._core import version as __version__
from ._meta import RasterMeta

__all__ = ["DatasetCollection", "GroupBy", "RasterMeta", "OPS", "__version__"]
