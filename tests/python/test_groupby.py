"""groupby(labels) against xarray's groupby on the same values."""
import warnings

import numpy as np
import pytest
import xarray as xr

from strata import DatasetCollection


def xr_groups(ref, labels, op):
    da = xr.DataArray(ref, dims=("time", "band", "y", "x"), coords={"time": np.arange(len(labels))})
    da = da.assign_coords(label=("time", np.asarray(labels)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = getattr(da.groupby("label"), op)(dim="time", skipna=True)
    return {k: g.sel(label=k).values for k in g["label"].values}


@pytest.mark.parametrize("op", ["mean", "max", "std", "median"])
def test_str_labels(stack, op):
    labels = ["b", "a", "b", "c", "a", "b"]
    got = getattr(DatasetCollection.from_files(stack.paths).groupby(labels), op)()
    assert list(got) == ["a", "b", "c"]
    exp = xr_groups(stack.ref, labels, op)
    for k in got:
        assert got[k].dtype == np.float32
        np.testing.assert_allclose(got[k], exp[k], rtol=2e-6, atol=1e-3, equal_nan=True)


def test_int_labels_stay_ints(stack):
    labels = np.array([12, 3, 3, 12, 7, 3])
    got = DatasetCollection.from_files(stack.paths).groupby(labels).mean()
    assert list(got) == [3, 7, 12]
    assert all(type(k) is int for k in got)
    exp = xr_groups(stack.ref, labels, "mean")
    for k in got:
        np.testing.assert_allclose(got[k], exp[k], rtol=2e-6, equal_nan=True)


def test_several_ops_one_pass(stack):
    labels = ["x", "y"] * 3
    res = DatasetCollection.from_files(stack.paths).groupby(labels).reduce(["sum", "count"])
    for k in ("x", "y"):
        idx = [i for i, l in enumerate(labels) if l == k]
        np.testing.assert_array_equal(res["count"][k],
                                      np.sum(~np.isnan(stack.ref[idx]), axis=0))


def test_length_mismatch(stack):
    c = DatasetCollection.from_files(stack.paths)
    with pytest.raises(ValueError, match="length 4"):
        c.groupby(["a", "b", "a", "b"])
    with pytest.raises(TypeError):
        c.groupby("aaabbb")


def _stac_items(paths, days):
    return [{"type": "Feature", "stac_version": "1.0.0", "id": "i%d" % k, "geometry": None,
             "properties": {"datetime": "%sT00:00:00Z" % d}, "links": [],
             "assets": {"data": {"href": p}}} for k, (p, d) in enumerate(zip(paths, days))]


def test_groupby_to_zarr_matches_xarray(stack, tmp_path):
    labels = np.array([12, 3, 3, 12, 7, 3])
    cube = DatasetCollection.from_files(stack.paths)
    out = tmp_path / "g.zarr"
    assert cube.groupby(labels).reduce(["mean", "std"], out=out) is None
    ds = xr.open_zarr(out)
    assert list(ds["group"].values) == [3, 7, 12]
    assert ds["mean"].dims == ("group", "band", "y", "x")
    for op in ("mean", "std"):
        exp = xr_groups(stack.ref, labels, op)
        for i, k in enumerate([3, 7, 12]):
            np.testing.assert_allclose(ds[op].values[i], exp[k], rtol=2e-6, atol=1e-3,
                                       equal_nan=True)
    assert list(ds["group_size"].values) == [3, 1, 2]


def test_time_key_climatology_and_anomaly(stack, tmp_path):
    days = ["2021-01-05", "2021-02-03", "2022-01-20", "2022-02-11", "2023-01-01", "2023-03-09"]
    cube = DatasetCollection.from_stac(_stac_items(stack.paths, days), "data")
    clim = tmp_path / "clim.zarr"
    cube.groupby("month").mean(out=clim)
    ds = xr.open_zarr(clim)
    months = [int(d[5:7]) for d in days]
    assert list(ds["month"].values) == [1, 2, 3]
    exp = xr_groups(stack.ref, months, "mean")
    for i, m in enumerate([1, 2, 3]):
        np.testing.assert_allclose(ds["mean"].values[i], exp[m], rtol=2e-6, equal_nan=True)
    anom = tmp_path / "anom.zarr"
    cube.anomaly(clim, by="month", out=anom)
    got = xr.open_zarr(anom)["anomaly"].values
    cl = ds["mean"].values.astype(np.float64)
    want = stack.ref - cl[[m - 1 for m in months]]
    np.testing.assert_allclose(got, want.astype(np.float32), atol=1e-4, equal_nan=True)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    with pytest.raises(ValueError, match="has no group"):
        cube.anomaly(clim, by=[1, 2, 3, 4, 1, 2], out=tmp_path / "bad.zarr")
    assert not (tmp_path / "bad.zarr").exists()
    with pytest.raises(TypeError, match="groupby"):
        cube.mean(out=tmp_path / "x.zarr")
