"""RasterMeta: the picklable snapshot of a collection's template (the seed's ``meta``)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

if TYPE_CHECKING:
    import pyproj


def _key(v):
    # NaN nodata must compare (and hash) equal to NaN, as after a pickle round trip.
    return "nan" if isinstance(v, float) and math.isnan(v) else v


@dataclass(frozen=True, eq=False)
class RasterMeta:
    """The template's geobox, data type and nodata.

    ``transform`` is the affine (a, b, c, d, e, f) of rasterio/affine; ``geotransform`` the
    GDAL six-tuple. ``nodata`` holds one value per band (None when the band has none).
    """

    rows: int
    columns: int
    band_count: int
    dtype: str
    transform: Tuple[float, ...]
    crs: Optional["pyproj.CRS"]
    nodata: Tuple[Optional[float], ...]
    block_size: Tuple[Tuple[int, int], ...]
    band_names: Tuple[str, ...]

    @property
    def shape(self):
        return (self.band_count, self.rows, self.columns)

    @property
    def geotransform(self):
        a, b, c, d, e, f = self.transform
        return (c, a, b, f, d, e)

    @property
    def cell_size(self):
        """Pixel width in CRS units (as the seed: one number for square pixels)."""
        return abs(self.transform[0])

    @property
    def epsg(self):
        return None if self.crs is None else self.crs.to_epsg()

    def _cmp(self):
        return (self.rows, self.columns, self.band_count, self.dtype,
                tuple(_key(v) for v in self.transform),
                None if self.crs is None else self.crs.to_wkt(),
                tuple(_key(v) for v in self.nodata), self.block_size, self.band_names)

    def __eq__(self, other):
        if not isinstance(other, RasterMeta):
            return NotImplemented
        return self._cmp() == other._cmp()

    def __hash__(self):
        return hash(self._cmp())

    @classmethod
    def _from_core(cls, d: dict) -> "RasterMeta":
        import pyproj  # here, so that importing strata stays fast

        gt = d["geotransform"]
        wkt = d["crs_wkt"]
        names = tuple(n if n else "Band_%d" % (i + 1) for i, n in enumerate(d["band_names"]))
        return cls(rows=d["rows"], columns=d["cols"], band_count=d["bands"], dtype=d["dtype"],
                   transform=(gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]),
                   crs=pyproj.CRS.from_wkt(wkt) if wkt else None,
                   nodata=tuple(d["nodata"]),
                   block_size=tuple(tuple(d["block"]) for _ in range(d["bands"])),
                   band_names=names)
