"""collection.data (dask) and to_xarray() against the values GDAL wrote and rioxarray's view
of the template."""
import pickle

import dask
import numpy as np
import rioxarray

from strata import DatasetCollection


def test_data_lazy_values_and_chunks(stack):
    c = DatasetCollection.from_files(stack.paths)
    d = c.data
    assert isinstance(d, dask.array.Array)
    assert d.shape == (6, 2, 37, 45) and d.dtype == np.float32
    assert d.chunks == ((1,) * 6, (2,), (37,), (45,))
    np.testing.assert_array_equal(d.compute(), stack.values)  # NaN compare equal in place
    np.testing.assert_array_equal(d[2:4, 1, 5:9, 10:20].compute(), stack.values[2:4, 1, 5:9, 10:20])


def test_graph_holds_json_not_a_handle(stack):
    c = DatasetCollection.from_files(stack.paths)
    graph = dict(c.data.__dask_graph__())
    blob = pickle.dumps(graph)
    assert len(blob) < 4 * len(c.to_json()) + 20000  # the JSON once, not per task
    g2 = pickle.loads(blob)
    assert len(g2) == 7


def test_chunks_option(stack):
    c = DatasetCollection.from_files(stack.paths)
    d = c.to_dask(chunks=(2, 1, 16, 16))
    assert d.chunks[2] == (16, 16, 5) and d.chunks[3] == (16, 16, 13)
    np.testing.assert_array_equal(d.compute(), stack.values)
    with dask.config.set(scheduler="threads"):
        np.testing.assert_allclose(d.mean(axis=0).compute(), stack.values.mean(axis=0), rtol=1e-5)


def test_to_xarray_matches_rioxarray(stack):
    c = DatasetCollection.from_files(stack.paths)
    x = c.to_xarray()
    assert x.dims == ("time", "band", "y", "x")
    ref = rioxarray.open_rasterio(stack.paths[0], masked=False)
    np.testing.assert_allclose(x["x"].values, ref["x"].values)
    np.testing.assert_allclose(x["y"].values, ref["y"].values)
    assert x.rio.crs.to_epsg() == ref.rio.crs.to_epsg() == 32636
    assert tuple(x.rio.transform()) == tuple(ref.rio.transform())
    np.testing.assert_array_equal(x.isel(time=0).values, ref.values)
