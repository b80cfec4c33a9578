#!/usr/bin/env python3
"""Oracle test: files shaped like real users' (the sample data of Debian's r-cran-stars),
read by strata as rasterio, rioxarray, xarray and numpy read them.

- Integer min/max keep every valid value: a Byte stack with 255s and no nodata (L7_ETMs.tif),
  a Byte file whose nodata (-1) is out of range; bands with different nodata whose missing
  pixels must get a value that does not occur (rewritten, or in a wider type).
- Sums of integers are Float64 (rasterio/rioxarray read them), Int64 on request.
- Packed values (int16 with scale_factor/add_offset, as stars' sub.nc) are unpacked before
  reducing (xarray's decoded values), units kept; to-zarr keeps them packed with the CF
  attributes so xarray decodes the same values.
- to-zarr refuses a rotated geotransform; gdalwarp of a store works with -s_srs (GDAL 3.6);
  a single file of many bands gets a warning.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fixtures as fx  # noqa: E402  (imports xarray before osgeo)
import numpy as np  # noqa: E402
import rasterio  # noqa: E402
import rioxarray  # noqa: E402,F401
import xarray as xr  # noqa: E402
from osgeo import gdal  # noqa: E402

GT = (500000.0, 30.0, 0.0, 4200000.0, 0.0, -30.0)


def write_tif(path, arr, nodata=None, gt=GT):
    drv = gdal.GetDriverByName("GTiff")
    b, r, c = arr.shape
    ds = drv.Create(path, c, r, b, fx.GDAL_OF_NP[arr.dtype], options=["TILED=YES"])
    ds.SetGeoTransform(gt)
    ds.SetProjection(wkt_utm33())
    for i in range(b):
        band = ds.GetRasterBand(i + 1)
        band.WriteArray(arr[i])
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
    ds = None


def wkt_utm33():
    from osgeo import osr
    s = osr.SpatialReference()
    s.ImportFromEPSG(32633)
    return s.ExportToWkt()


def strata(args):
    return fx.run_cli(args)


def read_masked(path):
    with rasterio.open(path) as d:
        return d.read(masked=True), d.dtypes[0], d.nodata


def check_same(got, exp, what, atol=1e-9):
    gm, em = np.ma.getmaskarray(got), np.ma.getmaskarray(exp)
    assert (gm == em).all(), "%s: %d pixels masked differently" % (what, int((gm != em).sum()))
    g, e = got.compressed().astype(np.float64), exp.compressed().astype(np.float64)
    assert np.allclose(g, e, rtol=1e-6, atol=atol), "%s: values differ (max %g)" % (
        what, float(np.max(np.abs(g - e))) if g.size else 0)


def test_byte_255_no_nodata(d):
    """L7_ETMs.tif: Byte, 6 bands, no nodata, saturated 255s: nothing is missing."""
    rng = np.random.default_rng(1)
    paths, stack = [], []
    for t in range(2):
        a = rng.integers(0, 256, (3, 40, 50)).astype(np.uint8)
        a[:, :5, :] = 255
        p = os.path.join(d, "l7_%d.tif" % t)
        write_tif(p, a)
        paths.append(p)
        stack.append(a)
    stack = np.stack(stack)
    for op in ("max", "min"):
        out = os.path.join(d, "l7_%s.tif" % op)
        fx.check_ok(strata(["reduce", "--quiet", "--op", op, "-o", out] + paths))
        got, dtype, nodata = read_masked(out)
        assert dtype == "uint8" and nodata is None, "%s: %s nodata %r" % (op, dtype, nodata)
        check_same(got, np.ma.masked_array(getattr(stack, op)(axis=0)), op)


def test_byte_nodata_out_of_range(d):
    """A Byte file whose nodata (-1) no pixel can hold: every pixel is valid."""
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (1, 60, 70)).astype(np.uint8)
    paths = []
    for t in range(2):
        p = os.path.join(d, "nd_%d.tif" % t)
        write_tif(p, a, nodata=-1)
        paths.append(p)
    out = os.path.join(d, "nd_max.tif")
    fx.check_ok(strata(["reduce", "--quiet", "--op", "max", "-o", out] + paths))
    got, dtype, nodata = read_masked(out)
    assert nodata is None, "nodata %r declared, nothing is missing" % nodata
    assert got.count() == a.size, "%d of %d pixels valid" % (got.count(), a.size)
    check_same(got, np.ma.masked_array(a), "max")


def band_nodata_stack(d, tag, full):
    """Two Byte bands with nodata 0 and 7 (VRTs: a GeoTIFF keeps one nodata); band 2 is
    missing at (5, 5). full: band 1 holds 1..255 and band 2 holds 0, so no byte is free."""
    rng = np.random.default_rng(3)
    paths, stack = [], []
    for t in range(2):
        a = np.zeros((2, 40, 40), np.uint8)
        a[0] = rng.integers(1, 256, (40, 40))
        a[1] = rng.integers(0, 256, (40, 40))
        a[1][a[1] == 7] = 8
        a[0].flat[:255] = np.arange(1, 256)
        a[1].flat[:256] = np.arange(256)
        a[1].flat[7] = 0
        if not full:  # 100 occurs nowhere
            a[a == 100] = 101
        a[1, 5, 5] = 7
        a[0, 3, 3] = 0
        p = os.path.join(d, "%s_%d.tif" % (tag, t))
        write_tif(p, a)
        v = os.path.join(d, "%s_%d.vrt" % (tag, t))
        gdal.Translate(v, p, format="VRT")
        ds = gdal.Open(v, gdal.GA_Update)
        ds.GetRasterBand(1).SetNoDataValue(0)
        ds.GetRasterBand(2).SetNoDataValue(7)
        ds = None
        paths.append(v)
        stack.append(a)
    stack = np.stack(stack)
    masked = np.ma.masked_array(stack, stack == np.array([0, 7]).reshape(1, 2, 1, 1))
    return paths, masked


def test_band_nodata_free_value(d):
    paths, masked = band_nodata_stack(d, "free", full=False)
    for op in ("max", "min"):
        out = os.path.join(d, "free_%s.tif" % op)
        fx.check_ok(strata(["reduce", "--quiet", "--op", op, "-o", out] + paths))
        got, dtype, nodata = read_masked(out)
        assert dtype == "uint8" and nodata == 100, "%s: %s nodata %r, expected uint8 100" % (
            op, dtype, nodata)
        check_same(got, getattr(masked, op)(axis=0), op)


def test_band_nodata_widened(d):
    paths, masked = band_nodata_stack(d, "full", full=True)
    for op in ("max", "min"):
        out = os.path.join(d, "full_%s.tif" % op)
        fx.check_ok(strata(["reduce", "--quiet", "--op", op, "-o", out] + paths))
        got, dtype, nodata = read_masked(out)
        assert dtype == "uint16" and nodata == 65535, "%s: %s nodata %r, expected uint16 65535" % (
            op, dtype, nodata)
        check_same(got, getattr(masked, op)(axis=0), op)


def test_integer_sum_types(d):
    rng = np.random.default_rng(4)
    paths, stack = [], []
    for t in range(3):
        a = rng.integers(-3000, 3000, (1, 30, 40)).astype(np.int16)
        a[0, 0, :t + 1] = -9999
        p = os.path.join(d, "s_%d.tif" % t)
        write_tif(p, a, nodata=-9999)
        paths.append(p)
        stack.append(a)
    stack = np.stack(stack)
    exp = np.ma.masked_array(stack, stack == -9999).astype(np.int64).sum(axis=0)
    out = os.path.join(d, "s_sum.tif")
    fx.check_ok(strata(["reduce", "--quiet", "--op", "sum", "-o", out] + paths))
    da = rioxarray.open_rasterio(out, masked=True)
    assert da.dtype == np.float64 or str(rasterio.open(out).dtypes[0]) == "float64", da.dtype
    got = np.ma.masked_invalid(da.values)
    check_same(got, exp, "sum float64 via rioxarray")
    out64 = os.path.join(d, "s_sum64.tif")
    fx.check_ok(strata(["reduce", "--quiet", "--op", "sum", "--dtype", "int64", "-o", out64] +
                       paths))
    ds = gdal.Open(out64)
    b = ds.GetRasterBand(1)
    assert b.DataType == gdal.GDT_Int64, gdal.GetDataTypeName(b.DataType)
    arr = b.ReadAsArray()
    nd = b.GetNoDataValue()
    check_same(np.ma.masked_array(arr, arr == np.int64(nd)), exp, "sum int64 via GDAL")


def write_packed_nc(path, raw, scale, offset, fill=-32767):
    import netCDF4
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("y", raw.shape[0])
        nc.createDimension("x", raw.shape[1])
        y = nc.createVariable("y", "f8", ("y",))
        x = nc.createVariable("x", "f8", ("x",))
        y[:] = 50.0 - 0.25 * np.arange(raw.shape[0]) - 0.125
        x[:] = 5.0 + 0.25 * np.arange(raw.shape[1]) + 0.125
        y.units, x.units = "degrees_north", "degrees_east"
        v = nc.createVariable("u", "i2", ("y", "x"), fill_value=fill)
        v.set_auto_maskandscale(False)
        v.scale_factor = scale
        v.add_offset = offset
        v.units = "m s-1"
        v[:] = raw


def packed_stack(d, tag, scale, offset):
    rng = np.random.default_rng(5)
    paths = []
    for t in range(3):
        raw = rng.integers(-30000, 30000, (20, 30)).astype(np.int16)
        raw[2, : t + 1] = -32767
        p = os.path.join(d, "%s_%d.nc" % (tag, t))
        write_packed_nc(p, raw, scale, offset)
        paths.append(p)
    decoded = np.stack([xr.open_dataset(p)["u"].values for p in paths]).astype(np.float64)
    return ['NETCDF:"%s":u' % p for p in paths], paths, decoded


def test_packed_reduce(d):
    for tag, scale, offset in (("pk", 2.7e-4, 4.15), ("neg", -0.5, 100.0)):
        srcs, _files, dec = packed_stack(d, tag, scale, offset)
        x = np.ma.masked_invalid(dec)
        exp = {"mean": x.mean(axis=0), "min": x.min(axis=0), "max": x.max(axis=0),
               "sum": x.sum(axis=0), "std": x.std(axis=0)}
        pattern = os.path.join(d, tag + "_{op}.tif")
        fx.check_ok(strata(["reduce", "--quiet", "--op", ",".join(exp), "--dtype", "float64",
                            "-o", pattern] + srcs))
        for op, e in exp.items():
            path = pattern.replace("{op}", op)
            got, dtype, _nd = read_masked(path)
            assert dtype == "float64", "%s %s: %s" % (tag, op, dtype)
            # xarray decodes int16 to float32: its values carry float32 rounding
            atol = 4 * np.finfo(np.float32).eps * float(np.abs(x).max()) * (3 if op == "sum" else 1)
            check_same(np.ma.masked_invalid(got.filled(np.nan)), e, "%s %s" % (tag, op), atol)
            ds = gdal.Open(path)
            unit = ds.GetRasterBand(1).GetUnitType()
            ds = None
            assert unit == "m s-1", "%s %s: unit %r" % (tag, op, unit)
        # the meta carries scale, offset and unit through its JSON
        proc = strata(["info", "--json", srcs[0]])
        fx.check_ok(proc)
        for key in ('"scale"', '"offset"', '"unit":"m s-1"'):
            assert key in proc.stdout, "info --json lacks %s" % key


def test_packed_zarr(d):
    import zarr
    srcs, _files, dec = packed_stack(d, "zp", 2.7e-4, 4.15)
    store = os.path.join(d, "packed.zarr")
    fx.check_ok(strata(["to-zarr", "--quiet", "-o", store] + srcs))
    raw = zarr.open(store, mode="r")["data"]
    assert raw.dtype == np.int16, "stored %s, expected the packed int16" % raw.dtype
    ds = xr.open_zarr(store)
    got = ds["data"].values[:, 0]
    assert ds["data"].attrs.get("units") == "m s-1", ds["data"].attrs.get("units")
    assert np.array_equal(np.isnan(got), np.isnan(dec)), "missing pixels differ"
    ok = ~np.isnan(dec)
    assert np.allclose(got[ok], dec[ok], rtol=1e-6), "decoded values differ"


def test_rotated_zarr_refused(d):
    a = np.ones((1, 10, 10), np.float32)
    p = os.path.join(d, "rot.tif")
    write_tif(p, a, gt=(500000.0, 30.0, 5.0, 4200000.0, 5.0, -30.0))
    store = os.path.join(d, "rot.zarr")
    proc = strata(["to-zarr", "--quiet", "-o", store, p])
    assert proc.returncode == 1, "exit %d: %s" % (proc.returncode, proc.stderr)
    assert "rotated" in proc.stderr and "rot.tif" in proc.stderr, proc.stderr
    assert not os.path.exists(store), "a store was left behind"


def test_zarr_gdalwarp_workaround(d):
    """README: GDAL 3.6's classic view of a store needs -s_srs (or a GeoTIFF) for gdalwarp."""
    a = np.arange(40 * 60, dtype=np.float32).reshape(1, 40, 60)
    p = os.path.join(d, "g.tif")
    write_tif(p, a)
    store = os.path.join(d, "g.zarr")
    fx.check_ok(strata(["to-zarr", "--quiet", "-o", store, p]))
    want = gdal.Warp(os.path.join(d, "w0.tif"), p, dstSRS="EPSG:4326")
    got = gdal.Warp(os.path.join(d, "w1.tif"), 'ZARR:"%s":/data:0:0' % store,
                    srcSRS="EPSG:32633", dstSRS="EPSG:4326")
    assert got.GetGeoTransform() == want.GetGeoTransform(), (got.GetGeoTransform(),
                                                             want.GetGeoTransform())
    assert np.array_equal(got.ReadAsArray(), want.ReadAsArray()), "warped values differ"
    got = want = None


def test_bands_as_time_warning(d):
    a = np.arange(12 * 6 * 8, dtype=np.float32).reshape(12, 6, 8)
    p = os.path.join(d, "pr.tif")
    write_tif(p, a)
    out = os.path.join(d, "pr_mean.tif")
    proc = strata(["reduce", "--quiet", "--op", "mean", "-o", out, p])
    fx.check_ok(proc)
    assert "warning" in proc.stderr and "12 bands" in proc.stderr, proc.stderr
    # the documented way: one file (a one-band VRT) per timestep
    vrts = []
    for i in range(12):
        v = os.path.join(d, "pr_%02d.vrt" % i)
        gdal.Translate(v, p, format="VRT", bandList=[i + 1])
        vrts.append(v)
    proc = strata(["reduce", "--quiet", "--op", "mean", "-o", out] + vrts)
    fx.check_ok(proc)
    assert "warning" not in proc.stderr, proc.stderr
    got, _dt, _nd = read_masked(out)
    check_same(got[0], np.ma.masked_array(a.mean(axis=0)), "mean over bands as time")


def main():
    r = fx.Runner("oracle_realdata")
    with fx.TempDir() as d:
        for name, fn in sorted(globals().items()):
            if name.startswith("test_") and callable(fn):
                sub = os.path.join(d, name)
                os.makedirs(sub)
                r.check(name, fn, sub)
    return r.finish()


if __name__ == "__main__":
    fx.main_guard(main)
