"""Shared helpers for the oracle tests: small raster stacks written with GDAL, a numpy
reference for every strata reduction, and thin wrappers around the `strata` CLI.

The reference never uses strata code: values come from numpy (and xarray in
test_groupby.py) on a float64 stack where every missing value (per-band nodata or NaN)
is NaN.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

# xarray/rioxarray must be imported before osgeo (their bundled libraries otherwise clash).
import xarray  # noqa: F401  pylint: disable=unused-import
import rioxarray  # noqa: F401
import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

ALL_OPS = ["mean", "sum", "min", "max", "std", "var", "count", "median"]
FLOAT_OPS = ("mean", "std", "var", "median")  # ops whose on-disk type follows --dtype

NP_OF_GDAL = {
    gdal.GDT_Byte: np.uint8,
    gdal.GDT_UInt16: np.uint16,
    gdal.GDT_Int16: np.int16,
    gdal.GDT_UInt32: np.uint32,
    gdal.GDT_Int32: np.int32,
    gdal.GDT_Int64: np.int64,
    gdal.GDT_Float32: np.float32,
    gdal.GDT_Float64: np.float64,
}
GDAL_OF_NP = {np.dtype(v): k for k, v in NP_OF_GDAL.items()}

# Geotransform of every fixture: UTM 36N-ish origin, 10 m pixels.
GEOTRANSFORM = (500000.0, 10.0, 0.0, 3500000.0, 0.0, -10.0)


# ---- the CLI ---------------------------------------------------------------------------

def cli_path():
    """The strata executable under test; fails loudly when it is not there."""
    path = os.environ.get("STRATA_CLI")
    if not path:
        default = os.path.join(os.path.dirname(__file__), "..", "..", "build", "tools", "strata")
        path = os.path.abspath(default)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise SystemExit("FATAL: strata CLI not found or not executable: %r (set STRATA_CLI)" % path)
    return path


def run_cli(args, timeout=120):
    """Runs `strata ARGS`; returns CompletedProcess with text stdout/stderr."""
    cmd = [cli_path()] + [str(a) for a in args]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


def check_ok(proc, what=""):
    if proc.returncode != 0:
        raise AssertionError("%s: strata exited %d\ncmd: %s\nstderr:\n%s" % (
            what, proc.returncode, short_cmd(proc.args), proc.stderr[-4000:]))


def short_cmd(args, limit=600):
    s = " ".join(str(a) for a in args)
    return s if len(s) <= limit else s[:limit] + " ... (%d chars)" % len(s)


# ---- writing stacks ------------------------------------------------------------------

def write_raster(path, arr, nodata=None, epsg=32636, tiled=True, block=64,
                 geotransform=GEOTRANSFORM, set_nodata_nan=False):
    """Writes arr (B, R, C) as a GeoTIFF. nodata: one value for every band (GTiff keeps one
    per dataset) or None. set_nodata_nan writes NaN as the nodata value."""
    arr = np.asarray(arr)
    b, r, c = arr.shape
    opts = ["COMPRESS=DEFLATE"]
    if tiled:
        opts += ["TILED=YES", "BLOCKXSIZE=%d" % block, "BLOCKYSIZE=%d" % block]
    else:
        opts += ["TILED=NO", "BLOCKYSIZE=%d" % max(1, block // 8)]
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(path, c, r, b, GDAL_OF_NP[arr.dtype], options=opts)
    ds.SetGeoTransform(geotransform)
    if epsg:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    for i in range(b):
        band = ds.GetRasterBand(i + 1)
        if set_nodata_nan:
            band.SetNoDataValue(float("nan"))
        elif nodata is not None:
            band.SetNoDataValue(float(nodata))
        band.WriteArray(arr[i])
    ds.FlushCache()
    ds = None


class Stack:
    """A stack of T rasters on one grid. data: (T, B, R, C) in the file dtype.
    nodata: the per-band nodata value (the same for every band), NaN, or None."""

    def __init__(self, name, data, paths, nodata, epsg, nodata_is_nan=False):
        self.name = name
        self.data = data
        self.paths = paths
        self.nodata = nodata
        self.epsg = epsg
        self.nodata_is_nan = nodata_is_nan

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def shape(self):
        return self.data.shape

    def masked(self):
        """float64 (T, B, R, C) with NaN where missing (nodata or NaN)."""
        x = self.data.astype(np.float64)
        if self.nodata is not None and not self.nodata_is_nan:
            x[self.data == self.nodata] = np.nan
        return x

    def subset(self, idx):
        return Stack(self.name, self.data[idx], [self.paths[i] for i in idx], self.nodata,
                     self.epsg, self.nodata_is_nan)


def random_stack(tmpdir, name, dtype, T, B, R, C, seed, nodata=None, nan_nodata=False,
                 miss_frac=0.15, nan_frac=0.05, epsg=32636, tiled=True, block=64,
                 names=None, lo=None, hi=None, offset=0.0):
    """Writes T random rasters (B, R, C) and returns a Stack.

    Missing values: a fraction miss_frac of the values is nodata (when nodata is given),
    a fraction nan_frac is NaN (float types). Whatever the fractions, the stack always has
    a block of pixels missing at every timestep, pixels valid at exactly one timestep and
    pixels valid at exactly two (edges for ddof and skipna), when there is a way to mark a
    value missing (nodata or a float type)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if lo is None or hi is None:
        if dtype == np.int16:
            lo, hi = -1000, 3000
        elif dtype == np.uint16:
            lo, hi = 1, 5000
        else:
            lo, hi = -50.0, 1000.0
    if dtype.kind == "f" and offset:
        data = (offset + rng.uniform(lo, hi, size=(T, B, R, C))).astype(dtype)
    elif dtype.kind == "f":
        data = rng.uniform(lo, hi, size=(T, B, R, C)).astype(dtype)
    else:
        data = rng.integers(lo, hi, size=(T, B, R, C), endpoint=True).astype(dtype)

    # a patch constant over time: var/std must come out as exactly (or very nearly) 0
    data[:, :, 15, 40:50] = data[0, :, 15, 40:50]
    can_miss = nodata is not None or nan_nodata or dtype.kind == "f"
    if can_miss:
        miss_val = np.nan if (nan_nodata or nodata is None) else nodata
        if nodata is not None and not nan_nodata:
            data[rng.random(data.shape) < miss_frac] = nodata
        if dtype.kind == "f" and nan_frac > 0:
            data[rng.random(data.shape) < nan_frac] = np.nan
        # pixels missing at every timestep (every band) and per-band all-missing pixels
        data[:, :, 3:6, 5:9] = miss_val
        data[:, B - 1, R - 4:R - 1, C - 3:C] = miss_val
        # pixels valid at exactly one timestep and exactly two
        data[:, :, 10, 10:20] = miss_val
        data[T // 2, :, 10, 10:20] = rng.integers(1, 100, size=(B, 10)).astype(dtype)
        data[:, :, 11, 10:20] = miss_val
        data[0, :, 11, 10:20] = 7
        data[T - 1, :, 11, 10:20] = 9
        # missing at the first / last timestep only (skipna off must make these missing)
        data[0, :, 12, 30:40] = miss_val
        data[T - 1, :, 13, 30:40] = miss_val
    paths = []
    os.makedirs(tmpdir, exist_ok=True)
    for t in range(T):
        fname = names[t] if names else "%s_t%03d.tif" % (name, t)
        p = os.path.join(tmpdir, fname)
        write_raster(p, data[t], nodata=None if nan_nodata else nodata, epsg=epsg, tiled=tiled,
                     block=block, set_nodata_nan=nan_nodata)
        paths.append(p)
    return Stack(name, data, paths, np.nan if nan_nodata else nodata, epsg, nodata_is_nan=nan_nodata)


# ---- numpy reference ---------------------------------------------------------------

def _nanreduce(x, fn, **kw):
    # nan* functions warn on all-NaN slices; those pixels are masked afterwards anyway.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(x, axis=0, **kw)


def reference(x, op, skipna=True, ddof=0):
    """x: float64 (T, ...) with NaN = missing. Returns (values float64, missing bool).

    Semantics of strata: skipna ignores missing values and a pixel with no valid value is
    missing (sum included, unlike numpy's nansum); without skipna any missing value makes the
    pixel missing. count is the number of valid values and is never missing. std/var are
    missing where n - ddof <= 0."""
    valid = ~np.isnan(x)
    n = valid.sum(axis=0)
    T = x.shape[0]
    if op == "count":
        return n.astype(np.float64), np.zeros(n.shape, bool)
    if skipna:
        missing = n == 0
    else:
        missing = n < T
    if op == "mean":
        v = _nanreduce(x, np.nanmean)
    elif op == "sum":
        v = _nanreduce(x, np.nansum)
    elif op == "min":
        v = _nanreduce(x, np.nanmin)
    elif op == "max":
        v = _nanreduce(x, np.nanmax)
    elif op == "median":
        v = _nanreduce(x, np.nanmedian)
    elif op in ("std", "var"):
        missing = missing | (n - ddof <= 0)
        v = _nanreduce(x, np.nanvar, ddof=ddof)
        if op == "std":
            v = np.sqrt(v)
    else:
        raise ValueError(op)
    v = np.where(missing, np.nan, v)
    return v, missing


def expected_dtype(op, in_dtype, dtype_opt=None):
    """numpy dtype of op's output on disk."""
    in_dtype = np.dtype(in_dtype)
    if op in ("min", "max"):
        return in_dtype
    if op == "sum":
        # Float64 for integer input too (exact to 2^53): rasterio 1.3 misreads Int64 nodata.
        return np.dtype(np.int64) if dtype_opt == "int64" else np.dtype(np.float64)
    if op == "count":
        return np.dtype(np.int32)
    if dtype_opt is not None:
        return np.dtype(dtype_opt)
    return np.dtype(np.float64) if in_dtype == np.float64 else np.dtype(np.float32)


def expected_nodata(op, in_dtype, in_nodata, in_nodata_is_nan=False):
    """(has_nodata, value) of op's output band; value may be NaN."""
    if op == "count":
        return False, None
    if in_nodata_is_nan:
        return True, float("nan")
    if in_nodata is not None:
        return True, float(in_nodata)
    out = expected_dtype(op, in_dtype)
    if op in FLOAT_OPS or out.kind == "f":
        return True, float("nan")
    # Integer input without nodata has no missing value, and an integer output declares a
    # nodata only when a pixel is missing.
    return False, None


# ---- reading outputs -----------------------------------------------------------------

class Raster:
    def __init__(self, path):
        ds = gdal.Open(path)
        self.path = path
        self.ds = ds
        self.bands = ds.RasterCount
        self.rows = ds.RasterYSize
        self.cols = ds.RasterXSize
        self.geotransform = ds.GetGeoTransform()
        self.projection = ds.GetProjection()
        b1 = ds.GetRasterBand(1)
        self.dtype = np.dtype(NP_OF_GDAL[b1.DataType])
        self.nodata = [ds.GetRasterBand(i + 1).GetNoDataValue() for i in range(ds.RasterCount)]
        self.block = b1.GetBlockSize()
        self.structure = ds.GetMetadata("IMAGE_STRUCTURE") or {}
        self.array = np.stack([ds.GetRasterBand(i + 1).ReadAsArray()
                               for i in range(ds.RasterCount)])
        self.raw = b"".join(ds.GetRasterBand(i + 1).ReadRaster()
                            for i in range(ds.RasterCount))
        ds = None
        self.ds = None


def same_crs(wkt_a, wkt_b):
    if not wkt_a or not wkt_b:
        return (wkt_a or "") == (wkt_b or "")
    a = osr.SpatialReference()
    a.ImportFromWkt(wkt_a)
    b = osr.SpatialReference()
    b.ImportFromWkt(wkt_b)
    return bool(a.IsSame(b))


def template_projection(path):
    ds = gdal.Open(path)
    wkt = ds.GetProjection()
    ds = None
    return wkt


def describe_mismatch(bad, exp, got, limit=5):
    idx = np.argwhere(bad)[:limit]
    parts = []
    for i in idx:
        i = tuple(int(k) for k in i)
        parts.append("%s exp=%r got=%r" % (i, exp[i], got[i]))
    return "%d mismatches, first: %s" % (int(bad.sum()), "; ".join(parts))


def tolerance(x, op, rtol):
    """Per-pixel absolute slack (B, R, C) added to rtol * |expected|, for results that cancel
    to ~0. It is what a numerically stable float64 algorithm (pairwise/Kahan sums, Welford or
    two-pass variance) loses: rtol times the pixel's own magnitude (times n for sums; times
    its spread for var, so E[x^2]-E[x]^2 on offset data fails)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        amax = np.nan_to_num(np.nanmax(np.abs(x), axis=0))
        spread = np.nan_to_num(np.nanmax(x, axis=0) - np.nanmin(x, axis=0))
    n = (~np.isnan(x)).sum(axis=0)
    if op == "sum":
        scale = amax * n
    elif op == "var":
        scale = amax * spread + 1e-9 * amax * amax
    else:
        scale = amax
    return rtol * scale


def compare_output(path, stack, op, skipna=True, ddof=0, dtype_opt=None, x=None):
    """Checks one output file of op against the numpy reference. Raises AssertionError."""
    if x is None:
        x = stack.masked()
    exp_v, exp_miss = reference(x, op, skipna=skipna, ddof=ddof)
    r = Raster(path)
    tag = "%s [%s op=%s skipna=%s ddof=%d dtype=%s]" % (os.path.basename(path), stack.name,
                                                         op, skipna, ddof, dtype_opt)
    T, B, R, C = stack.shape
    assert (r.bands, r.rows, r.cols) == (B, R, C), "%s: shape %s, expected %s" % (
        tag, (r.bands, r.rows, r.cols), (B, R, C))
    edt = expected_dtype(op, stack.dtype, dtype_opt)
    assert r.dtype == edt, "%s: dtype %s, expected %s" % (tag, r.dtype, edt)
    # georeferencing
    assert tuple(r.geotransform) == tuple(GEOTRANSFORM), "%s: geotransform %s" % (tag, r.geotransform)
    tproj = template_projection(stack.paths[0])
    assert same_crs(r.projection, tproj), "%s: projection %r, expected %r" % (
        tag, r.projection[:80], tproj[:80])
    if stack.epsg is None:
        assert r.projection == "", "%s: expected no CRS, got %r" % (tag, r.projection[:80])
    # layout: tiled (block sides multiples of 16) and compressed
    bx, by = r.block
    assert bx % 16 == 0 and by % 16 == 0 and by > 1, "%s: not tiled, block %s" % (tag, r.block)
    assert r.structure.get("COMPRESSION"), "%s: not compressed (%s)" % (tag, r.structure)
    # nodata
    has_nd, nd = expected_nodata(op, stack.dtype, stack.nodata, stack.nodata_is_nan)
    for b in range(B):
        got_nd = r.nodata[b]
        if not has_nd:
            assert got_nd is None, "%s: band %d nodata %r, expected none" % (tag, b + 1, got_nd)
        elif np.isnan(nd):
            assert got_nd is not None and np.isnan(got_nd), "%s: band %d nodata %r, expected NaN" % (
                tag, b + 1, got_nd)
        else:
            assert got_nd is not None and got_nd == nd, "%s: band %d nodata %r, expected %r" % (
                tag, b + 1, got_nd, nd)
    # missing positions
    got = r.array
    if has_nd:
        if np.isnan(nd):
            got_miss = np.isnan(got) if got.dtype.kind == "f" else np.zeros(got.shape, bool)
        else:
            got_miss = got == np.asarray(nd).astype(got.dtype)
            if got.dtype.kind == "f":
                got_miss |= np.isnan(got)  # NaN is never a valid output when nodata is a value
    else:
        got_miss = np.zeros(got.shape, bool)
        if got.dtype.kind == "f":
            got_miss = np.isnan(got)
    bad = got_miss != exp_miss
    if has_nd and not np.isnan(nd):
        # A valid result equal to the nodata value (e.g. var = 0 with nodata 0) is
        # indistinguishable from missing on disk; the spec allows it, so accept it.
        with np.errstate(invalid="ignore"):
            collide = ~exp_miss & (np.where(exp_miss, np.nan, exp_v) == nd) & (got == nd)
        bad &= ~collide
    assert not bad.any(), "%s: missing positions differ: %s" % (
        tag, describe_mismatch(bad, np.where(exp_miss, np.nan, exp_v), got))
    # values
    ok = ~exp_miss
    gv = got[ok]
    ev = exp_v[ok]
    if op in ("min", "max", "count") or (op == "sum" and edt.kind == "i"):
        evc = ev.astype(edt)
        assert np.array_equal(evc.astype(np.float64), ev), "%s: reference not representable" % tag
        bad_vals = gv != evc
    else:
        rtol = 1e-6 if edt == np.float32 else 1e-12
        gvd = gv.astype(np.float64)
        bad_vals = ~(np.abs(gvd - ev) <= rtol * np.abs(ev) + tolerance(x, op, rtol)[ok])
    if bad_vals.any():
        full_bad = np.zeros(got.shape, bool)
        full_bad[ok] = bad_vals
        raise AssertionError("%s: values differ: %s" % (tag, describe_mismatch(full_bad, exp_v, got)))
    return r


# ---- tiny test runner ----------------------------------------------------------------

class Runner:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = []

    def check(self, label, fn, *args, **kw):
        import time
        t0 = time.monotonic()
        try:
            fn(*args, **kw)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            self.failed.append(label)
            msg = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
            print("FAIL %s: %s" % (label, msg), flush=True)
            return False
        self.passed += 1
        if os.environ.get("ORACLE_VERBOSE"):
            print("ok   %s (%.2f s)" % (label, time.monotonic() - t0), flush=True)
        return True

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, len(self.failed)), flush=True)
        if self.failed:
            print("failed: " + ", ".join(self.failed), flush=True)
        return 1 if self.failed else 0


class TempDir:
    def __init__(self, prefix="strata-oracle-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def listdir_recursive(d):
    out = []
    for root, _dirs, files in os.walk(d):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), d))
    return sorted(out)


def main_guard(fn):
    """Calls fn() -> exit code; any uncaught exception fails the script."""
    try:
        code = fn()
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        code = 1
    sys.exit(code)
