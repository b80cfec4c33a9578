"""Reductions in the C engine against numpy's nan-reductions (missing = nodata or NaN)."""
import warnings

import numpy as np
import pytest

from strata import DatasetCollection

NP = {"mean": np.nanmean, "sum": np.nansum, "min": np.nanmin, "max": np.nanmax,
      "std": np.nanstd, "var": np.nanvar, "median": np.nanmedian}
NP_SKIPNA_FALSE = {"mean": np.mean, "sum": np.sum, "min": np.min, "max": np.max,
                   "std": np.std, "var": np.var, "median": np.median}


def expected(ref, op, skipna=True, ddof=0):
    f = (NP if skipna else NP_SKIPNA_FALSE)[op]
    kw = {"ddof": ddof} if op in ("std", "var") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = f(ref, axis=0, **kw)
    if op == "sum" and skipna:
        # strata: a pixel with no valid value is missing for every op (numpy's nansum gives 0).
        out[np.all(np.isnan(ref), axis=0)] = np.nan
    return out


@pytest.mark.parametrize("op", sorted(NP))
@pytest.mark.parametrize("skipna", [True, False])
def test_float32_ops(stack, op, skipna):
    c = DatasetCollection.from_files(stack.paths)
    got = getattr(c, op)(skipna=skipna)
    assert got.shape == (2, 37, 45)
    assert got.dtype == np.float32  # numpy's nan-reductions of float32
    exp = expected(stack.ref, op, skipna)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(exp))
    np.testing.assert_allclose(got, exp, rtol=2e-6, atol=1e-3, equal_nan=True)


@pytest.mark.parametrize("op", ["std", "var"])
def test_ddof(stack, op):
    c = DatasetCollection.from_files(stack.paths)
    got = getattr(c, op)(ddof=1)
    np.testing.assert_allclose(got, expected(stack.ref, op, ddof=1), rtol=2e-6, equal_nan=True)


def test_count(stack):
    got = DatasetCollection.from_files(stack.paths).count()
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.sum(~np.isnan(stack.ref), axis=0))


def test_int16_dtypes_and_nodata(int_stack):
    c = DatasetCollection.from_files(int_stack.paths)
    res = c.reduce(["mean", "sum", "min", "max", "std", "median", "count"])
    want = {"mean": np.float64, "sum": np.int64, "min": np.int16, "max": np.int16,
            "std": np.float64, "median": np.float64, "count": np.int64}
    for op, dt in want.items():
        assert res[op].dtype == dt, op
    valid = np.any(~np.isnan(int_stack.ref), axis=0)
    for op in ("mean", "std", "median"):
        np.testing.assert_allclose(res[op], expected(int_stack.ref, op), rtol=1e-12,
                                   equal_nan=True)
    for op in ("sum", "min", "max"):
        np.testing.assert_array_equal(res[op][valid], expected(int_stack.ref, op)[valid])
    # integer results hold the nodata value where no timestep is valid
    assert (res["min"][~valid] == -1000).all()


def test_float64_keeps_float64(tmp_path):
    from conftest import make_stack

    s = make_stack(tmp_path, n=3, dtype=np.float64, rows=9, cols=11)
    c = DatasetCollection.from_files(s.paths)
    for op in ("mean", "sum", "min", "std"):
        got = getattr(c, op)()
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, expected(s.ref, op), rtol=1e-12, equal_nan=True)


def test_unknown_op(stack):
    c = DatasetCollection.from_files(stack.paths)
    with pytest.raises(ValueError, match="unknown op"):
        c.reduce(["average"])
    with pytest.raises(TypeError):
        c.reduce([3])


def test_results_are_not_copies_and_outlive_each_other(stack):
    """The arrays are views of the C result (no copy); the result lives as long as any of
    them: dropping some and collecting must leave the others whole (ASan sees a use after
    free)."""
    import gc

    c = DatasetCollection.from_files(stack.paths)
    out = c.reduce(["mean", "max", "std"])
    assert out["mean"].dtype == np.float32 and out["std"].dtype == np.float32
    assert out["mean"].base is not None and not out["mean"].flags.owndata
    keep = out["max"]
    del out
    gc.collect()
    np.testing.assert_allclose(keep, np.nanmax(stack.ref, axis=0), equal_nan=True)
    keep += 1  # the arrays are the caller's to change
    np.testing.assert_allclose(keep, np.nanmax(stack.ref, axis=0) + 1, equal_nan=True)
