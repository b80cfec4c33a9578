"""to_zarr: modes, compute=False, the seed's attributes, read back with zarr, xarray and
rioxarray."""
import json
import warnings

from dask.delayed import Delayed
import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr
import zarr

from strata import DatasetCollection


def open_xr(store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_zarr(str(store), mask_and_scale=False, decode_coords="all")


def test_write_and_read_back(stack, tmp_path):
    c = DatasetCollection.from_files(stack.paths)
    store = tmp_path / "cube.zarr"
    assert c.to_zarr(store) is None
    root = json.loads((store / ".zattrs").read_text())
    assert root["pyramids_zarr_version"] == 1 and root["time_length"] == 6
    assert root["pyramids_file_list"] == stack.paths
    cons = json.loads((store / ".zmetadata").read_text())["metadata"][".zattrs"]
    assert cons["pyramids_file_list"] == stack.paths
    assert zarr.open_group(str(store), mode="r").attrs["time_length"] == 6
    ds = open_xr(store)
    np.testing.assert_array_equal(ds["data"].values, stack.values)
    assert ds["data"].rio.crs.to_epsg() == 32636
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        masked = xr.open_zarr(str(store))["data"].values  # nodata read as missing
    np.testing.assert_array_equal(masked.astype(np.float64), stack.ref)


def test_modes(stack, tmp_path):
    c = DatasetCollection.from_files(stack.paths[:3])
    store = tmp_path / "m.zarr"
    c.to_zarr(str(store), mode="w-")
    with pytest.raises(OSError):  # exists
        c.to_zarr(str(store), mode="w-")
    DatasetCollection.from_files(stack.paths[3:]).to_zarr(str(store), mode="a")
    np.testing.assert_array_equal(open_xr(store)["data"].values, stack.values)
    c.to_zarr(str(store), mode="w")
    assert open_xr(store)["data"].shape == (3, 2, 37, 45)
    with pytest.raises(ValueError, match="mode"):
        c.to_zarr(str(store), mode="r+")
    with pytest.raises(ValueError, match="local"):
        c.to_zarr("s3://bucket/x.zarr")
    with pytest.raises(TypeError):
        c.to_zarr(3)


def test_compute_false(stack, tmp_path):
    c = DatasetCollection.from_files(stack.paths)
    store = tmp_path / "lazy.zarr"
    d = c.to_zarr(store, compute=False)
    assert isinstance(d, Delayed)
    assert not store.exists()
    d.compute()
    np.testing.assert_array_equal(open_xr(store)["data"].values, stack.values)


def test_object_with_path(stack, tmp_path):
    class Store:
        path = str(tmp_path / "obj.zarr")

    DatasetCollection.from_files(stack.paths[:2]).to_zarr(Store())
    assert zarr.open_group(Store.path, mode="r")["data"].shape == (2, 2, 37, 45)
