"""The seed's cookbook (python/examples/cookbook.py: SEED.md's cells in order, only the import
line and DATA changed) on a generated folder of 6 aligned rasters, checked against numpy."""
import json
import os
import runpy
import warnings

import numpy as np

from conftest import make_stack

COOKBOOK = os.path.join(os.environ.get("STRATA_PYTHON_EXAMPLES", os.path.join(
    os.path.dirname(__file__), "..", "..", "python", "examples")), "cookbook.py")


def test_cookbook_runs_and_matches_numpy(tmp_path, monkeypatch):
    folder = tmp_path / "crop_aligned_folder"
    s = make_stack(folder, n=6, bands=1, rows=30, cols=40, nodata=None)
    make_stack(tmp_path / "crop_aligned_folder", n=1, names=["extra_9.tif"], seed=5,
               bands=1, rows=30, cols=40, nodata=None)  # not matched by [0-5].tif
    monkeypatch.setenv("STRATA_COOKBOOK_DATA", str(tmp_path))
    ns = runpy.run_path(COOKBOOK, run_name="cookbook")
    ref = s.ref
    cube = ns["cube"]
    assert (cube.time_length, cube.rows, cube.columns) == (6, 30, 40)
    assert ns["cube"].data.shape == (6, 1, 30, 40) and ns["cube"].data.dtype == np.float32
    assert cube.data.chunks == ((1,) * 6, (1,), (30,), (40,))
    np.testing.assert_allclose(ns["time_mean"], ref.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(ns["time_sum"], ref.sum(axis=0), rtol=1e-6)
    assert ns["time_mean"].shape == (1, 30, 40) and type(ns["time_mean"]).__name__ == "ndarray"
    stats = ns["stats"]
    assert stats["min"] == float(s.values.min()) and stats["max"] == float(s.values.max())
    assert abs(stats["mean"] - ref.mean(axis=0).mean()) < 1e-3
    assert abs(stats["std"] - ref.std(axis=0).mean()) < 1e-3
    gm = ns["group_means"]
    assert sorted(gm) == ["A", "B"]
    np.testing.assert_allclose(gm["A"], ref[:3].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(gm["B"], ref[3:].mean(axis=0), rtol=1e-6)
    meta = ns["meta"]
    assert (meta.epsg, meta.shape, meta.cell_size, meta.nodata, meta.dtype) == (
        32636, (1, 30, 40), 30.0, (None,), "float32")
    assert ns["restored"] == meta
    root = json.loads((ns["store"] / ".zattrs").read_text())
    assert root["pyramids_zarr_version"] == 1 and root["time_length"] == 6
    assert root["pyramids_file_list"] == [str(f) for f in ns["files"]]
    import xarray as xr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xr.open_zarr(str(ns["store"]))
    np.testing.assert_array_equal(ds["data"].values, s.values)
