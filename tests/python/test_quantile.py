"""Median and quantiles in the C engine against numpy's nanmedian/nanquantile."""
import warnings

import numpy as np
import pytest

from strata import DatasetCollection


def nanquantile(ref, q, method="linear"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nanquantile(ref, q, axis=0, method=method)


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint"])
def test_quantiles_float32(stack, method):
    c = DatasetCollection.from_files(stack.paths)
    got = c.quantile([0.1, 0.5, 0.9], method=method)
    assert got.shape == (3, 2, 37, 45)
    assert got.dtype == np.float32
    exp = nanquantile(stack.ref, [0.1, 0.5, 0.9], method)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(exp))
    # strata interpolates in float64 and rounds once to float32.
    np.testing.assert_array_equal(got, exp.astype(np.float32))


def test_scalar_quantile_and_median(int_stack):
    c = DatasetCollection.from_files(int_stack.paths)
    got = c.quantile(0.25)
    assert got.shape == (2, 37, 45) and got.dtype == np.float64
    exp = nanquantile(int_stack.ref, 0.25)
    np.testing.assert_array_equal(got, exp)
    np.testing.assert_array_equal(c.median(), c.quantile(0.5))


def test_groupby_quantile(stack):
    c = DatasetCollection.from_files(stack.paths)
    labels = [3, 1, 3, 1, 2, 2]
    got = c.groupby(labels).quantile([0.2, 0.8])
    assert list(got) == [1, 2, 3]
    for key, arr in got.items():
        idx = [t for t, l in enumerate(labels) if l == key]
        exp = nanquantile(stack.ref[idx], [0.2, 0.8]).astype(np.float32)
        np.testing.assert_array_equal(arr, exp)


def test_bad_quantiles(stack):
    c = DatasetCollection.from_files(stack.paths)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        c.quantile(1.5)
    with pytest.raises(ValueError, match="method"):
        c.quantile(0.5, method="weibull")
    with pytest.raises(ValueError, match="at least one"):
        c.quantile([])
