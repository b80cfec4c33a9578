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
