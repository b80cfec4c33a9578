"""from_files / from_stac on an output grid (crs=, resolution=, bounds=, resampling=, like=)
and same-day mosaics (mosaic=), against gdalwarp of the files to the same grid. The cube's
dask array is rebuilt from the collection's JSON form, so the grid and the mosaic must
survive it."""
import numpy as np
import pytest
from osgeo import gdal, osr
from pyproj import Transformer

from strata import DatasetCollection

ND = -9999.0


def utm_tif(path, epsg, seed, lon, n=60, res=10.0):
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, 48.0)
    gt = (round(x / res) * res - n * res / 2, res, 0.0, round(y / res) * res + n * res / 2, 0.0,
          -res)
    a = (np.random.default_rng(seed).random((n, n)) * 100).astype(np.float32)
    a[3:8, 10:20] = ND
    ds = gdal.GetDriverByName("GTiff").Create(str(path), n, n, 1, gdal.GDT_Float32)
    ds.SetGeoTransform(gt)
    s = osr.SpatialReference()
    s.ImportFromEPSG(epsg)
    ds.SetProjection(s.ExportToWkt())
    ds.GetRasterBand(1).SetNoDataValue(ND)
    ds.GetRasterBand(1).WriteArray(a)
    ds = None
    return str(path)


def warp(path, c, resampling):
    m = c.meta
    gt = m.geotransform
    ds = gdal.Warp("", path, format="MEM", dstSRS="EPSG:3035", width=m.columns, height=m.rows,
                   outputBounds=(gt[0], gt[3] + m.rows * gt[5], gt[0] + m.columns * gt[1],
                                 gt[3]),
                   resampleAlg=resampling, dstNodata=ND, errorThreshold=0)
    a = ds.GetRasterBand(1).ReadAsArray()
    ds = None
    return a


@pytest.fixture()
def zones(tmp_path):
    return [utm_tif(tmp_path / "a.tif", 32632, 1, 11.998),
            utm_tif(tmp_path / "b.tif", 32633, 2, 12.002),
            utm_tif(tmp_path / "c.tif", 32632, 3, 11.998)]


def test_from_files_on_a_grid(zones):
    c = DatasetCollection.from_files(zones, crs="EPSG:3035", resolution=20,
                                     resampling="bilinear", warp_error=0)
    assert c.meta.geotransform[1] == 20 and c.meta.geotransform[0] % 20 == 0
    data = c.data.compute()
    for t, p in enumerate(zones):
        exp = warp(p, c, "bilinear")
        np.testing.assert_allclose(data[t, 0], exp, rtol=1e-5)
    x = np.ma.masked_equal(data.astype(np.float64), ND)
    np.testing.assert_allclose(np.asarray(c.mean())[0], x.mean(axis=0).filled(np.nan)[0], rtol=1e-6)


def test_mosaic_from_files(zones):
    times = ["2024-05-01T10:00", "2024-05-01T10:01", "2024-05-02T10:00"]
    c = DatasetCollection.from_files(zones, times=times, crs="EPSG:3035", resolution=20,
                                     mosaic="day", warp_error=0)
    assert c.time_length == 2
    data = c.data.compute()
    a, b, third = (warp(p, c, "near") for p in zones)
    np.testing.assert_array_equal(data[0, 0], np.where(a != ND, a, b))
    np.testing.assert_array_equal(data[1, 0], third)


def test_from_stac_mixed_epsg(zones):
    items = [{"type": "Feature", "id": "i%d" % i,
              "properties": {"datetime": "2024-05-0%dT10:00:00Z" % (i + 1)},
              "assets": {"B": {"href": p}}} for i, p in enumerate(zones)]
    c = DatasetCollection.from_stac(items, "B", crs="EPSG:3035", resolution=(20, 20),
                                    resampling="nearest", warp_error=0)
    data = c.data.compute()
    for t, p in enumerate(zones):
        np.testing.assert_array_equal(data[t, 0], warp(p, c, "near"))


def test_keyword_errors(zones):
    with pytest.raises(ValueError, match="need resolution"):
        DatasetCollection.from_files(zones, crs="EPSG:3035")
    with pytest.raises(ValueError, match="resampling= needs an output grid"):
        DatasetCollection.from_files(zones, resampling="bilinear")
    with pytest.raises(Exception, match="unknown CRS"):
        DatasetCollection.from_files(zones, crs="EPSG:999999", resolution=20)
    with pytest.raises(Exception, match="unknown resampling"):
        DatasetCollection.from_files(zones, crs="EPSG:3035", resolution=20, resampling="x")
    with pytest.raises(Exception, match="has no time"):
        DatasetCollection.from_files(zones, crs="EPSG:3035", resolution=20, mosaic="day")
