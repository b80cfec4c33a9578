"""`strata groupby -o X.zarr` and `strata anomaly` checked against numpy and xarray: a daily
climatology (365 groups of two years) equals xarray's groupby("time.dayofyear") (values,
labels, grid, CRS) and numpy per group; a small memory budget, one thread, or GeoTIFF
outputs give the same bits; anomalies equal numpy; a failed run leaves the previous store
as it was and nothing that opens. Prints "N passed, M failed"; exits non-zero on a failure.
"""
import datetime
import os
import shutil
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
import fixtures as fx  # noqa: E402  (imports xarray/rioxarray before osgeo)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from checks import Checks  # noqa: E402
import numpy as np  # noqa: E402
import rioxarray  # noqa: E402,F401
import xarray as xr  # noqa: E402
import zarr  # noqa: E402
from osgeo import gdal  # noqa: E402

T = 730  # two non-leap years of daily files: 365 groups of two
DAYS = [datetime.date(2021, 1, 1) + datetime.timedelta(days=t) for t in range(T)]


def cli(*args, ok=True):
    proc = fx.run_cli([str(a) for a in args])
    if ok:
        fx.check_ok(proc, args[0])
    return proc


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.dtype("u%d" % a.dtype.itemsize))


def cube(stack):
    """The stack as xarray holds it: float64, NaN where missing, with times and the grid."""
    gt = fx.GEOTRANSFORM
    _, _, R, C = stack.shape
    return xr.DataArray(stack.masked(), dims=("time", "band", "y", "x"), coords={
        "time": np.array([np.datetime64(d) for d in DAYS], dtype="datetime64[ns]"),
        "band": np.arange(1, stack.shape[1] + 1),
        "y": gt[3] + (np.arange(R) + 0.5) * gt[5], "x": gt[0] + (np.arange(C) + 0.5) * gt[1]})


def case_dayofyear(c, tmp, stack, times):
    store = os.path.join(tmp, "clim.zarr")
    cli("groupby", "-q", "--by", "dayofyear", "--times", "@" + times, "--op",
        "mean,std,count,median", "-o", store, *stack.paths)
    ds = xr.open_zarr(store, decode_coords="all")
    x = cube(stack)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = x.groupby("time.dayofyear")
        ref = {"mean": g.mean(skipna=True), "std": g.std(skipna=True), "count": g.count()}
    c.ok(ds["mean"].dims == ("dayofyear", "band", "y", "x"), "dims", str(ds["mean"].dims))
    c.ok(np.array_equal(ds["dayofyear"].values, ref["mean"]["dayofyear"].values), "labels",
         str(ds["dayofyear"].values[:5]))
    c.ok(ds["dayofyear"].dtype == np.int64, "label type", str(ds["dayofyear"].dtype))
    for op, r in ref.items():
        got = ds[op].values.astype(np.float64)
        same_missing = np.array_equal(np.isnan(got), np.isnan(r.values))
        close = np.allclose(got, r.values, rtol=2e-6, atol=1e-4, equal_nan=True)
        c.ok(same_missing and close, "xarray " + op,
             "max diff %g" % np.nanmax(np.abs(got - r.values)))
    c.ok(ds["mean"].dtype == np.float32 and ds["count"].dtype == np.int32, "types")
    c.ok(np.array_equal(ds["x"].values, x["x"].values) and np.array_equal(ds["y"].values,
                                                                          x["y"].values), "grid")
    c.ok(ds["mean"].rio.crs.to_epsg() == stack.epsg, "crs", str(ds["mean"].rio.crs))
    c.ok(np.array_equal(ds["dayofyear_size"].values, np.full(365, 2)), "group sizes")
    # numpy, group by group, straight from the files' values
    m = stack.masked()
    for day in (0, 58, 364):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanmean(m[[day, day + 365]], axis=0)
        got = ds["mean"].values[day].astype(np.float64)
        c.ok(np.allclose(got, want, rtol=2e-6, equal_nan=True), "numpy day %d" % (day + 1))
    return store


def case_same_bits(c, tmp, stack, times, ref_store):
    """A tiny memory budget (median keeps values: tiles shrink), one thread, and GeoTIFFs."""
    store = os.path.join(tmp, "bits_small.zarr")
    cli("groupby", "-q", "--by", "dayofyear", "--times", "@" + times, "--op", "mean,median,std",
        "-o", store, "--memory", "4", "--threads", "1", *stack.paths)
    small, default = (zarr.open_consolidated(p, mode="r") for p in (store, ref_store))
    c.ok(small["median"].chunks[2] < default["median"].chunks[2], "the budget shrank the tiles",
         "%s vs %s" % (small["median"].chunks, default["median"].chunks))
    for op in ("mean", "median", "std"):
        c.ok(np.array_equal(bits(small[op][:]), bits(default[op][:])), "same bits " + op)
    tifs = os.path.join(tmp, "tifs")
    cli("groupby", "-q", "--by", "dayofyear", "--times", "@" + times, "--op", "mean", "-o", tifs,
        *stack.paths)
    z = zarr.open_consolidated(ref_store, mode="r")["mean"]
    for day in (1, 200, 365):
        ds = gdal.Open(os.path.join(tifs, "%03d.tif" % day))
        arr = ds.ReadAsArray().reshape(z.shape[1:])
        nd = ds.GetRasterBand(1).GetNoDataValue()
        arr[arr == nd] = np.nan  # the GeoTIFF's missing pixels hold the input's nodata
        c.ok(np.array_equal(bits(arr), bits(z[day - 1])), "GeoTIFF day %d same bits" % day)
        ds = None


def case_text_labels(c, tmp, stack):
    n = stack.shape[0]
    labels = ["wet" if d.month in (11, 12, 1, 2, 3) else "dry" for d in DAYS[::15][:n]]
    store = os.path.join(tmp, "season.zarr")
    cli("groupby", "-q", "--labels", ",".join(labels), "--op", "max", "-o", store, *stack.paths)
    ds = xr.open_zarr(store)
    c.ok(list(ds["group"].values) == ["dry", "wet"] or list(ds["group"].values) == ["wet", "dry"],
         "text labels", str(ds["group"].values))
    m = stack.masked()
    for k, lab in enumerate(ds["group"].values):
        sel = [t for t in range(n) if labels[t] == lab]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanmax(m[sel], axis=0)
        c.ok(np.allclose(ds["max"].values[k], want, equal_nan=True), "max of " + lab)
    p = cli("groupby", "-q", "--labels", ",".join(labels), "--op", "max", "--zarr-version", "3",
            "-o", os.path.join(tmp, "v3.zarr"), *stack.paths, ok=False)
    c.ok(p.returncode == 1 and "need Zarr version 2" in p.stderr, "v3 text labels refused",
         p.stderr)
    c.ok(not os.path.exists(os.path.join(tmp, "v3.zarr")), "nothing left by a refused run")


def case_anomaly(c, tmp, stack, times, clim):
    store = os.path.join(tmp, "anom.zarr")
    cli("anomaly", "-q", "--by", "dayofyear", "--times", "@" + times, "--clim", clim, "-o", store,
        *stack.paths)
    ds = xr.open_zarr(store, decode_coords="all")
    got = ds["anomaly"].values
    cl = zarr.open_consolidated(clim, mode="r")["mean"][:].astype(np.float64)
    want = (stack.masked() - cl[np.arange(T) % 365]).astype(np.float32)
    c.ok(got.dtype == np.float32 and got.shape == stack.shape, "anomaly shape and type")
    c.ok(np.array_equal(np.isnan(got), np.isnan(want)), "anomaly missing pixels")
    c.ok(np.allclose(got, want, rtol=0, atol=1e-4, equal_nan=True), "anomaly equals numpy",
         "max diff %g" % np.nanmax(np.abs(got.astype(np.float64) - want)))
    c.ok(ds["anomaly"].rio.crs.to_epsg() == stack.epsg, "anomaly crs")
    # labels the climatology lacks, and another grid: refused before anything is written
    bad = os.path.join(tmp, "bad.zarr")
    p = cli("anomaly", "-q", "--labels", ",".join(["999"] * T), "--clim", clim, "-o", bad,
            *stack.paths, ok=False)
    c.ok(p.returncode == 1 and "'999' has no group" in p.stderr and stack.paths[0] in p.stderr,
         "unknown label refused", p.stderr)
    other = fx.random_stack(os.path.join(tmp, "other"), "o", "float32", 2, 1, 30, 20, 5,
                            nodata=-9999.0)
    p = cli("anomaly", "-q", "--labels", "1,2", "--clim", clim, "-o", bad, *other.paths, ok=False)
    c.ok(p.returncode == 1 and "bands of" in p.stderr, "other grid refused", p.stderr)
    p = cli("anomaly", "-q", "--by", "dayofyear", "--times", "@" + times, "--clim", clim,
            "--var", "p90", "-o", bad, *stack.paths, ok=False)
    c.ok(p.returncode == 1 and "no variable 'p90'" in p.stderr, "missing variable refused",
         p.stderr)
    c.ok(not os.path.exists(bad), "refused runs leave no store")
    p = cli("anomaly", "-q", "--by", "dayofyear", "--times", "@" + times, "--clim", clim, "-o",
            clim, *stack.paths, ok=False)
    c.ok(p.returncode != 0 and os.path.exists(os.path.join(clim, ".zmetadata")),
         "the climatology is never the output", p.stderr)


def digest(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                out[os.path.relpath(os.path.join(d, f), root)] = fh.read()
    return out


def case_failed_run(c, tmp, stack):
    """A file that breaks mid-run: the old store stays whole, the new one never appears."""
    labels = ",".join(str(t % 7) for t in range(stack.shape[0]))
    store = os.path.join(tmp, "keep.zarr")
    cli("groupby", "-q", "--labels", labels, "--op", "mean", "-o", store, *stack.paths)
    before = digest(store)
    broken = os.path.join(tmp, "broken")
    os.makedirs(broken)
    paths = []
    for k, p in enumerate(stack.paths):
        q = os.path.join(broken, os.path.basename(p))
        shutil.copy(p, q)
        paths.append(q)
    size = os.path.getsize(paths[30])
    with open(paths[30], "r+b") as fh:  # the header stays readable, the blocks do not
        fh.truncate(size // 2)
    p = cli("groupby", "-q", "--labels", labels, "--op", "mean", "-o", store, *paths, ok=False)
    c.ok(p.returncode == 1, "broken file fails the run", p.stderr)
    c.ok(digest(store) == before, "the previous store is untouched")
    c.ok(not [f for f in os.listdir(tmp) if "strata-new" in f], "no half store beside it",
         str(os.listdir(tmp)))
    fresh = os.path.join(tmp, "fresh.zarr")
    p = cli("groupby", "-q", "--labels", labels, "--op", "mean", "-o", fresh, *paths, ok=False)
    c.ok(p.returncode == 1 and not os.path.exists(fresh), "a failed new store is gone")


def main():
    gdal.UseExceptions()
    tmp = tempfile.mkdtemp(prefix="strata-groups-")
    stack = fx.random_stack(os.path.join(tmp, "days"), "d", "float32", T, 1, 24, 40, 3,
                            nodata=-9999.0, block=16)
    small = fx.random_stack(os.path.join(tmp, "small"), "s", "float32", 40, 2, 70, 90, 4,
                            nodata=-9999.0, block=32)
    times = os.path.join(tmp, "times.txt")
    with open(times, "w") as fh:
        fh.write("".join(d.isoformat() + "\n" for d in DAYS))
    checks = Checks()
    state = {}
    checks.run("dayofyear", lambda c: state.update(clim=case_dayofyear(c, tmp, stack, times)))
    checks.run("same_bits", lambda c: case_same_bits(c, tmp, stack, times, state["clim"]))
    checks.run("text_labels", lambda c: case_text_labels(c, tmp, small))
    checks.run("anomaly", lambda c: case_anomaly(c, tmp, stack, times, state["clim"]))
    checks.run("failed_run", lambda c: case_failed_run(c, tmp, small))
    shutil.rmtree(tmp, ignore_errors=True)
    checks.finish()


if __name__ == "__main__":
    sys.exit(main())
