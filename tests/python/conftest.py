"""Fixtures for the Python package's tests: small stacks of aligned GeoTIFFs written with
GDAL; the expected values come from numpy/xarray/zarr on the arrays written, never from
strata."""
import os
import sys

# xarray/rioxarray before osgeo: their bundled libraries otherwise clash.
import xarray  # noqa: F401
import rioxarray  # noqa: F401
import numpy as np
import pytest
from osgeo import gdal, osr

gdal.UseExceptions()

# The package under test: the build tree's, unless PYTHONPATH already points somewhere.
_BUILD = os.environ.get("STRATA_PYTHONPATH")
if _BUILD and _BUILD not in sys.path:
    sys.path.insert(0, _BUILD)

GT = (300000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
GDAL_TYPES = {np.dtype(np.uint8): gdal.GDT_Byte, np.dtype(np.int16): gdal.GDT_Int16,
              np.dtype(np.uint16): gdal.GDT_UInt16, np.dtype(np.int32): gdal.GDT_Int32,
              np.dtype(np.float32): gdal.GDT_Float32, np.dtype(np.float64): gdal.GDT_Float64}


class Stack:
    """Files written and the values in them (T, B, R, C), missing as NaN in `ref`."""

    def __init__(self, paths, values, nodata):
        self.paths = paths
        self.values = values
        self.nodata = nodata
        ref = values.astype(np.float64)
        if nodata is not None:
            ref[values == nodata] = np.nan
        self.ref = ref


def write_tif(path, arr, nodata=None, gt=GT, epsg=32636, block=16):
    """arr (B, R, C) as a tiled GeoTIFF."""
    bands, rows, cols = arr.shape
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(str(path), cols, rows, bands, GDAL_TYPES[arr.dtype],
                    ["TILED=YES", "BLOCKXSIZE=%d" % block, "BLOCKYSIZE=%d" % block])
    ds.SetGeoTransform(gt)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(bands):
        band = ds.GetRasterBand(b + 1)
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
        band.WriteArray(arr[b])
    ds.FlushCache()
    ds = None


def make_stack(folder, n=6, bands=2, rows=37, cols=45, dtype=np.float32, nodata=-9999.0,
               missing=0.1, seed=0, names=None):
    """n aligned rasters 0.tif..; a fraction `missing` of pixels is nodata (and NaN in
    float stacks), and one pixel is missing at every step."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        values = rng.normal(100.0, 25.0, (n, bands, rows, cols)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(max(info.min, -1000) + 1, min(info.max, 1000),
                              (n, bands, rows, cols)).astype(dtype)
    if nodata is not None:
        mask = rng.random(values.shape) < missing
        values[mask] = nodata
        values[:, :, 0, 0] = nodata
        if dtype.kind == "f":
            values[rng.random(values.shape) < missing / 2] = np.nan
    os.makedirs(folder, exist_ok=True)
    paths = []
    for t in range(n):
        p = os.path.join(str(folder), (names[t] if names else "%d.tif" % t))
        write_tif(p, values[t], nodata)
        paths.append(p)
    return Stack(paths, values, nodata)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    return make_stack(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def int_stack(tmp_path_factory):
    return make_stack(tmp_path_factory.mktemp("int_stack"), dtype=np.int16, nodata=-1000)
