#!/usr/bin/env python3
"""Oracle test: collections on an output grid and same-day mosaics against gdalwarp + numpy.

Files in two UTM zones (EPSG:32632 and 32633) are read on a common EPSG:3035 grid: every
timestep `strata to-zarr` writes must equal `gdalwarp` of that file to the same grid with the
same resampling (nearest bitwise, the others within 1e-5 relative), and `strata reduce` must
equal numpy on the gdalwarp stack. Then half-pixel-shifted files on --grid like:TEMPLATE, a
file with overviews (gdalwarp picks the level), same-day mosaics against a numpy fuse of the
gdalwarp outputs, and the error cases (exit code, message, nothing written).
"""
import datetime as dt
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fixtures as fx  # noqa: E402  (imports xarray before osgeo)
import numpy as np  # noqa: E402
import zarr  # noqa: E402
from osgeo import gdal, osr  # noqa: E402
from pyproj import Transformer  # noqa: E402

gdal.UseExceptions()
ND = -9999.0


def utm_file(path, epsg, seed, n=120, res=10.0, shift=(0.0, 0.0), lon=12.0, lat=48.0,
             overviews=False, nodata=ND, dtype=np.float32):
    """An n x n raster centred near (lon, lat), with a block of nodata and random values."""
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    x0 = round(x / res) * res - n * res / 2 + shift[0] * res
    y0 = round(y / res) * res + n * res / 2 + shift[1] * res
    a = (np.random.default_rng(seed).random((n, n)) * 1000).astype(dtype)
    if nodata is not None:
        a[5:15, 20:40] = nodata
    fx.write_raster(path, a[None], nodata=nodata, epsg=epsg, block=64,
                    geotransform=(x0, res, 0.0, y0, 0.0, -res))
    if overviews:
        ds = gdal.Open(path, gdal.GA_Update)
        ds.BuildOverviews("AVERAGE", [2, 4])
        ds = None
    return path


def read_zarr(store):
    """The cube and its grid (geotransform, rows, cols) as the store records it."""
    z = zarr.open(store, mode="r")
    data = z["data"][:]
    gt = [float(v) for v in z["spatial_ref"].attrs["GeoTransform"].split()]
    return data, (gt, data.shape[2], data.shape[3])


def info_grid(files, extra):
    p = fx.run_cli(["info"] + extra + files)
    fx.check_ok(p, "info")
    gt = None
    for line in p.stdout.splitlines():
        if line.startswith("geotransform:"):
            gt = [float(v) for v in line.split(":", 1)[1].strip(" ()").split(",")]
        if line.startswith("shape:"):
            parts = line.split("(")[1].rstrip(")").split(",")
            rows = int(parts[2].split("=")[1])
            cols = int(parts[3].split("=")[1])
    return gt, rows, cols, p.stdout


def gdalwarp(path, gt, rows, cols, crs, resampling, et=0.0, fmt="MEM"):
    """gdalwarp of path to the grid (gt, rows, cols) in crs, as a float64 array. et: the
    error threshold (-et); fmt VRT: GDAL's own lazily warped dataset."""
    ds = gdal.Warp("", path, format=fmt, dstSRS=crs,
                   outputBounds=(gt[0], gt[3] + rows * gt[5], gt[0] + cols * gt[1], gt[3]),
                   width=cols, height=rows, resampleAlg=resampling, dstNodata=ND,
                   errorThreshold=et)
    a = ds.GetRasterBand(1).ReadAsArray().astype(np.float64)
    ds = None
    return a


def same(label, exp, got, resampling):
    if resampling == "near":
        bad = ~((exp == got) | (np.isnan(exp) & np.isnan(got)))
    else:
        bad = ~np.isclose(got, exp, rtol=1e-5, atol=0, equal_nan=True)
    assert not bad.any(), "%s: %d of %d pixels differ, e.g. at %s: gdalwarp %s, strata %s" % (
        label, bad.sum(), bad.size, tuple(np.argwhere(bad)[0]), exp[bad][:3], got[bad][:3])


def check_to_zarr(root, files, resampling, crs="EPSG:3035", res="20", extra=(), et=0.0):
    """With an exact transform (-et 0 on both sides) strata must equal gdalwarp; with the
    default approximate one, GDAL's result depends on how the output is chunked: strata then
    equals GDAL's warped VRT (gdalwarp -of VRT) read whole."""
    store = os.path.join(root, "z_%s_%d.zarr" % (resampling, len(os.listdir(root))))
    r = "nearest" if resampling == "near" else resampling
    args = ["--crs", crs, "--resolution", res, "--resampling", r] + list(extra)
    if et == 0:
        args += ["--warp-error", "0"]
    p = fx.run_cli(["to-zarr", "-q", "-o", store] + args + files)
    fx.check_ok(p, "to-zarr " + resampling)
    data, (gt, rows, cols) = read_zarr(store)
    # the grid snaps to whole multiples of the resolution (odc-stac's GeoBox)
    assert gt[0] % float(res) == 0 and gt[3] % float(res) == 0, gt
    warped = [gdalwarp(f, gt, rows, cols, crs, resampling, et, "MEM" if et == 0 else "VRT")
              for f in files]
    for t, f in enumerate(files):
        same("%s t=%d (%s)" % (resampling, t, os.path.basename(f)), warped[t],
             data[t, 0].astype(np.float64), resampling)
    # a pixel outside a footprint is missing, never zero
    assert (data == ND).any() and not (data == 0).any()
    return np.stack(warped), gt, rows, cols, args


def check_reduce(root, files, warped, args):
    out = os.path.join(root, "red_{op}.tif")
    p = fx.run_cli(["reduce", "--op", "mean,max,count", "-q", "-o", out] + args + files)
    fx.check_ok(p, "reduce")
    x = np.ma.masked_equal(warped, ND)
    exp = {"mean": x.mean(axis=0).filled(np.nan), "max": x.max(axis=0).filled(np.nan),
           "count": x.count(axis=0).astype(np.float64)}
    for op, e in exp.items():
        ds = gdal.Open(out.format(op=op))
        got = ds.GetRasterBand(1).ReadAsArray().astype(np.float64)
        nd = ds.GetRasterBand(1).GetNoDataValue()
        if nd is not None and not np.isnan(nd):
            got[got == nd] = np.nan
        srs = osr.SpatialReference(wkt=ds.GetProjection())
        assert srs.GetAuthorityCode(None) == "3035", "output CRS: %s" % ds.GetProjection()[:80]
        ds = None
        ok = np.isclose(got, e, rtol=1e-6, equal_nan=True)
        assert ok.all(), "%s: %d pixels differ from numpy" % (op, (~ok).sum())
    # groupby on the grid: one group per label, each the numpy mean of its warped files
    labels = ["x", "y", "x"][:len(files)]
    outdir = os.path.join(root, "groups")
    p = fx.run_cli(["groupby", "--labels", ",".join(labels), "--op", "mean", "-q", "-o", outdir]
                   + args + files)
    fx.check_ok(p, "groupby")
    for g in sorted(set(labels)):
        sel = [i for i, lab in enumerate(labels) if lab == g]
        e = np.ma.masked_equal(warped[sel], ND).mean(axis=0).filled(np.nan)
        ds = gdal.Open(os.path.join(outdir, g + ".tif"))
        got = ds.GetRasterBand(1).ReadAsArray().astype(np.float64)
        assert (ds.RasterYSize, ds.RasterXSize) == e.shape and ds.GetGeoTransform()[1] == 20
        nd = ds.GetRasterBand(1).GetNoDataValue()
        ds = None
        if nd is not None and not np.isnan(nd):
            got[got == nd] = np.nan
        ok = np.isclose(got, e, rtol=1e-6, equal_nan=True)
        assert ok.all(), "group %s: %d pixels differ from numpy" % (g, (~ok).sum())


def check_like(root):
    tmpl = utm_file(os.path.join(root, "like_t.tif"), 32632, seed=11)
    a = utm_file(os.path.join(root, "like_a.tif"), 32632, seed=12, shift=(0.5, -0.5))
    b = utm_file(os.path.join(root, "like_b.tif"), 32632, seed=13, shift=(-0.5, 0.5))
    files = [tmpl, a, b]
    store = os.path.join(root, "like.zarr")
    p = fx.run_cli(["to-zarr", "-q", "-o", store, "--grid", "like:" + tmpl, "--resampling",
                    "bilinear", "--warp-error", "0"] + files)
    fx.check_ok(p, "like")
    data, _ = read_zarr(store)
    ds = gdal.Open(tmpl)
    gt, rows, cols = ds.GetGeoTransform(), ds.RasterYSize, ds.RasterXSize
    ds = None
    for t, f in enumerate(files):
        exp = gdalwarp(f, gt, rows, cols, "EPSG:32632", "bilinear")
        same("like t=%d" % t, exp, data[t, 0].astype(np.float64), "bilinear")
    # the template itself is read as it is
    ds = gdal.Open(tmpl)
    src = ds.GetRasterBand(1).ReadAsArray()
    ds = None
    assert np.array_equal(src, data[0, 0])
    _, _, _, text = info_grid(files, ["--grid", "like:" + tmpl])
    assert "2 of 3 files warped" in text, text


def check_overviews(root):
    f = utm_file(os.path.join(root, "ovr.tif"), 32633, seed=21, n=256, overviews=True)
    # 40 m from 10 m: gdalwarp's -ovr AUTO reads the 20 m overview
    check_to_zarr(root, [f], "average", res="40")
    check_to_zarr(root, [f], "bilinear", res="40")


def fuse_first(stack):
    out = np.full(stack.shape[1:], ND)
    for a in stack[::-1]:
        out = np.where(a != ND, a, out)
    return out


def check_mosaic(root):
    files = []
    for d in range(3):
        for k, (epsg, lon) in enumerate([(32632, 11.995), (32633, 12.005)]):
            files.append(utm_file(os.path.join(root, "m%d_2024010%d.tif" % (k, d + 1)), epsg,
                                  seed=30 + 2 * d + k, lon=lon))
    # item order: by day, zone-32 tile first; listed interleaved so the order matters
    files = sorted(files, key=lambda p: (os.path.basename(p)[3:], os.path.basename(p)))
    args = ["--crs", "EPSG:3035", "--resolution", "20", "--time-pattern", "%Y%m%d",
            "--mosaic", "day", "--warp-error", "0"]
    store = os.path.join(root, "mosaic.zarr")
    p = fx.run_cli(["to-zarr", "-q", "-o", store] + args + files)
    fx.check_ok(p, "mosaic")
    data, (gt, rows, cols) = read_zarr(store)
    assert data.shape[0] == 3, data.shape
    _, irows, icols, text = info_grid(files, args)
    assert (irows, icols) == (rows, cols), (irows, icols, rows, cols)
    assert "files:        3" in text and "6 of 6 files warped" in text, text
    warped = np.stack([gdalwarp(f, gt, rows, cols, "EPSG:3035", "near") for f in files])
    for d in range(3):
        exp = fuse_first(warped[2 * d:2 * d + 2])
        same("mosaic day %d" % d, exp, data[d, 0].astype(np.float64), "near")
    # the tiles overlap: a first-valid fuse differs from a last-valid one there
    store2 = os.path.join(root, "mosaic_last.zarr")
    p = fx.run_cli(["to-zarr", "-q", "-o", store2, "--mosaic-op", "max"] + args + files)
    fx.check_ok(p, "mosaic max")
    data2, _ = read_zarr(store2)
    for d in range(3):
        x = np.ma.masked_equal(warped[2 * d:2 * d + 2], ND)
        exp = x.max(axis=0).filled(ND)
        same("mosaic max day %d" % d, exp, data2[d, 0].astype(np.float64), "near")
    assert not np.array_equal(data, data2)


def check_solar_day_files(root):
    """Plain files without an output grid: the solar day is taken at the centre of the
    template's grid with odc-stac's rule (int(lon / 15) whole hours), computed here; the other
    files are not opened to group them (they are not even rasters)."""
    tmpl = utm_file(os.path.join(root, "sd_0.tif"), 32647, seed=51, lon=98.5, lat=10.0)
    junk = []
    for k in range(1, 4):
        junk.append(os.path.join(root, "sd_%d.tif" % k))
        with open(junk[-1], "w") as f:
            f.write("not a raster\n")
    times = ["2024-05-01T17:30:00Z", "2024-05-01T18:10:00Z", "2024-05-02T00:20:00Z",
             "2024-05-02T18:20:00Z"]
    p = fx.run_cli(["info", "--json", "--times", ",".join(times), "--mosaic", "solar_day",
                    tmpl] + junk)
    fx.check_ok(p, "info --mosaic solar_day")
    doc = json.loads(p.stdout)
    ds = gdal.Open(tmpl)
    gt, rows, cols = ds.GetGeoTransform(), ds.RasterYSize, ds.RasterXSize
    ds = None
    x, y = gt[0] + gt[1] * cols / 2, gt[3] + gt[5] * rows / 2
    lon, _ = Transformer.from_crs(32647, 4326, always_xy=True).transform(x, y)
    assert int(lon / 15) != round(lon / 15), lon
    offset = dt.timedelta(hours=int(lon / 15))
    days = {}
    for i, w in enumerate(times):
        d = (dt.datetime.fromisoformat(w.replace("Z", "+00:00")) + offset).date()
        days.setdefault(d, []).append(i)
    expected = sorted(days.values())
    first, more = doc["mosaic"]["first"], doc["mosaic"]["items"]
    names = [tmpl] + junk
    got = sorted(sorted(names.index(q) for q in [s["path"]] + [more[e][0] for e in
                                                             range(first[g], first[g + 1])])
                 for g, s in enumerate(doc["timesteps"]))
    assert got == expected, "strata %s, odc-stac's rule %s" % (got, expected)


def check_errors(root):
    a = utm_file(os.path.join(root, "e_a.tif"), 32632, seed=41)
    nocrs = os.path.join(root, "e_nocrs.tif")
    fx.write_raster(nocrs, np.ones((1, 20, 20), np.float32), epsg=None)
    cases = [
        (["--crs", "EPSG:3035", "--resolution", "0"], 1, "resolution must be above zero"),
        (["--crs", "EPSG:999999", "--resolution", "20"], 1, "unknown CRS 'EPSG:999999'"),
        (["--crs", "EPSG:3035", "--resolution", "20", "--bounds", "0,0,1000,1000"], 1,
         "cover no source"),
        (["--crs", "EPSG:3035", "--resolution", "0.0001"], 1, "cap of 1048576"),
        (["--crs", "EPSG:3035", "--resolution", "20", "--resampling", "bogus"], 2,
         "unknown resampling 'bogus'"),
        (["--resampling", "bilinear"], 2, "--resampling and --warp-error need an output grid"),
        (["--mosaic", "day"], 1, "has no time"),
    ]
    for extra, code, msg in cases:
        out = os.path.join(root, "err_{op}.tif")
        p = fx.run_cli(["reduce", "--op", "mean", "-q", "-o", out] + extra + [a])
        assert p.returncode == code and msg in p.stderr, "%s: exit %d, %r" % (
            extra, p.returncode, p.stderr)
        assert not any(n.startswith("err_") for n in os.listdir(root)), os.listdir(root)
    p = fx.run_cli(["reduce", "--op", "mean", "-q", "-o", os.path.join(root, "err_{op}.tif"),
                    "--crs", "EPSG:3035", "--resolution", "20", a, nocrs])
    assert p.returncode == 1 and "e_nocrs.tif: has no CRS" in p.stderr, p.stderr
    assert not any(n.startswith("err_") for n in os.listdir(root))


def main():
    r = fx.Runner("oracle_grid")
    with fx.TempDir() as root:
        files = [utm_file(os.path.join(root, "z32.tif"), 32632, seed=1),
                 utm_file(os.path.join(root, "z33.tif"), 32633, seed=2),
                 utm_file(os.path.join(root, "z32b.tif"), 32632, seed=3, lon=12.004)]
        state = {}

        def zones(resampling):
            state[resampling] = check_to_zarr(root, files, resampling)

        for resampling in ("near", "bilinear", "average"):
            r.check("two UTM zones to EPSG:3035, %s" % resampling, zones, resampling)
        if "bilinear" in state:
            warped, _, _, _, args = state["bilinear"]
            r.check("reduce on the grid vs numpy", check_reduce, root, files, warped,
                    args)
        r.check("default error threshold vs GDAL's warped VRT", check_to_zarr, root, files,
                "near", et=0.125)
        r.check("bounds in EPSG:4326", check_to_zarr, root, files, "bilinear", "EPSG:3035",
                "20", ["--bounds", "11.99,47.995,12.01,48.005", "--bounds-crs", "EPSG:4326"])
        r.check("half-pixel shifts on --grid like:TEMPLATE", check_like, root)
        r.check("overview level as gdalwarp picks it", check_overviews, root)
        r.check("same-day mosaics", check_mosaic, root)
        r.check("solar days of plain files, none opened", check_solar_day_files, root)
        r.check("errors", check_errors, root)
    return r.finish()


if __name__ == "__main__":
    fx.main_guard(main)
