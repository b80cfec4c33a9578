"""RasterMeta against what GDAL and pyproj say about the template."""
import dataclasses
import math
import pickle

import pyproj
import pytest
from osgeo import gdal

from conftest import GT, make_stack
from strata import DatasetCollection, RasterMeta


def test_fields(stack):
    m = DatasetCollection.from_files(stack.paths).meta
    ds = gdal.Open(stack.paths[0])
    assert (m.rows, m.columns, m.band_count, m.dtype) == (ds.RasterYSize, ds.RasterXSize, 2,
                                                          "float32")
    assert m.geotransform == ds.GetGeoTransform() == GT
    assert m.transform == (GT[1], GT[2], GT[0], GT[4], GT[5], GT[3])
    assert isinstance(m.crs, pyproj.CRS) and m.crs == pyproj.CRS.from_epsg(32636)
    assert m.epsg == 32636
    assert m.nodata == (-9999.0, -9999.0)
    assert m.block_size == tuple(tuple(ds.GetRasterBand(b + 1).GetBlockSize()) for b in range(2))
    assert m.band_names == ("Band_1", "Band_2")
    assert m.shape == (2, 37, 45)
    assert m.cell_size == 30.0


def test_pickle_equality_hash_frozen(stack, tmp_path):
    m = DatasetCollection.from_files(stack.paths).meta
    r = pickle.loads(pickle.dumps(m))
    assert r == m and hash(r) == hash(m)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.rows = 3
    nan = make_stack(tmp_path, n=1, nodata=float("nan"), rows=4, cols=4)
    mn = DatasetCollection.from_files(nan.paths).meta
    assert math.isnan(mn.nodata[0])
    rn = pickle.loads(pickle.dumps(mn))
    assert rn == mn and hash(rn) == hash(mn)
    assert mn != m
    assert isinstance(mn, RasterMeta)


def test_no_nodata(tmp_path):
    s = make_stack(tmp_path, n=1, nodata=None, rows=4, cols=4)
    assert DatasetCollection.from_files(s.paths).meta.nodata == (None, None)
