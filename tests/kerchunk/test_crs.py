#!/usr/bin/env python3
"""CRS, grid mappings and nodata in `strata kerchunk` indexes, checked against rioxarray,
GDAL and netCDF4 reading the files.

- GeoTIFF: rioxarray on the index sees the CRS and transform rioxarray sees on the file
  (north-up and rotated), x/y equal the file's, a stack keeps one spatial_ref;
- a Byte GeoTIFF whose nodata is -1 (out of range) has no fill_value: its 255s stay data;
- NetCDF: a scalar char grid mapping (EURO-CORDEX `crs`, NetCDF3 and NetCDF4) is kept, and
  --var keeps the variables named by grid_mapping (plain and CF's extended form) and by
  coordinates (auxiliary lat/lon).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kc_common import Checks, crashed, kerchunk, open_refs, require_cli, same, tmpdir  # noqa: E402
import netCDF4  # noqa: E402
import numpy as np  # noqa: E402
import rioxarray  # noqa: E402
from osgeo import gdal, osr  # noqa: E402

gdal.UseExceptions()


def write_tif(path, dtype, nodata, gt, epsg=32633, seed=0):
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(path, 40, 30, 1, dtype, ["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16",
                                             "COMPRESS=DEFLATE"])
    ds.SetGeoTransform(gt)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    rng = np.random.default_rng(seed)
    band.WriteArray(rng.integers(0, 256, (30, 40)).astype(np.uint8))
    band.WriteArray(np.full((2, 40), 255, np.uint8), 0, 0)
    ds = None


def geotiff(c, root):
    gt = [500000.0, 30.0, 0.0, 4200000.0, 0.0, -30.0]
    paths = [os.path.join(root, f"g{i}.tif") for i in range(2)]
    for i, p in enumerate(paths):
        write_tif(p, gdal.GDT_Byte, -1, gt, seed=i)
    refs = os.path.join(root, "g.json")
    r = kerchunk(refs, paths[:1])
    c.ok(r.returncode == 0, "geotiff: exit 0", r.stderr)
    ds = open_refs(refs)
    f = rioxarray.open_rasterio(paths[0])
    c.ok(ds.data.rio.crs == f.rio.crs, "geotiff: CRS as rioxarray reads the file",
         f"{ds.data.rio.crs} vs {f.rio.crs}")
    c.ok(ds.data.rio.transform() == f.rio.transform(), "geotiff: transform",
         f"{ds.data.rio.transform()} vs {f.rio.transform()}")
    c.ok(same(ds.x.values, f.x.values) and same(ds.y.values, f.y.values), "geotiff: x/y")
    with open(refs) as fh:
        z = json.loads(json.load(fh)["refs"]["data/.zarray"])
    c.ok(z["fill_value"] is None, "byte with nodata -1: no fill_value", str(z))
    raw = gdal.Open(paths[0]).ReadAsArray()
    c.ok(same(ds.data.values, raw) and int((ds.data.values == 255).sum()) >= 80,
         "byte with nodata -1: 255s read as data", str(ds.data.dtype))
    r = kerchunk(refs, paths)
    c.ok(r.returncode == 0, "geotiff stack: exit 0", r.stderr)
    ds = open_refs(refs)
    c.ok(ds.data.dims == ("time", "y", "x") and ds.spatial_ref.dims == ()
         and ds.data.rio.crs == f.rio.crs, "geotiff stack: one spatial_ref",
         f"{ds.data.dims} {ds.spatial_ref.dims}")
    c.ok(same(ds.data.values, np.stack([gdal.Open(p).ReadAsArray() for p in paths])),
         "geotiff stack: values")
    # nodata that fits stays the fill value (masked by xarray as by rioxarray)
    fit = os.path.join(root, "fit.tif")
    write_tif(fit, gdal.GDT_Byte, 255, gt)
    r = kerchunk(refs, [fit])
    ds = open_refs(refs)
    m = rioxarray.open_rasterio(fit, masked=True)
    c.ok(r.returncode == 0 and same(ds.data.values, m.values[0]),
         "byte with nodata 255: masked as rioxarray masks", r.stderr)
    # rotated: no 1-D x/y, the transform from spatial_ref's GeoTransform
    rot = os.path.join(root, "rot.tif")
    write_tif(rot, gdal.GDT_Byte, None, [500000.0, 30.0, 5.0, 4200000.0, 5.0, -30.0])
    r = kerchunk(refs, [rot])
    ds = open_refs(refs)
    f = rioxarray.open_rasterio(rot)
    c.ok(r.returncode == 0 and "x" not in ds.variables
         and ds.data.rio.transform() == f.rio.transform(), "rotated: transform kept",
         f"{r.stderr} {ds.data.rio.transform()} vs {f.rio.transform()}")


def write_cordex(path, fmt, i, extended=False):
    d = netCDF4.Dataset(path, "w", format=fmt)
    d.createDimension("time", None)
    d.createDimension("rlat", 4)
    d.createDimension("rlon", 5)
    t = d.createVariable("time", "f8", ("time",))
    t.units = "days since 1950-01-01"
    t[:] = [2 * i, 2 * i + 1]
    for n in ("rlat", "rlon"):
        v = d.createVariable(n, "f8", (n,))
        v[:] = np.arange(len(d.dimensions[n])) * 0.11
    crs = d.createVariable("crs", "S1", ())  # scalar char, as EURO-CORDEX writes it
    crs.grid_mapping_name = "rotated_latitude_longitude"
    crs.grid_north_pole_latitude = 39.25
    crs.grid_north_pole_longitude = -162.0
    for n in ("lat", "lon"):
        v = d.createVariable(n, "f8", ("rlat", "rlon"))
        v.units = "degrees_north" if n == "lat" else "degrees_east"
        v[:] = np.arange(20.0).reshape(4, 5) + (50 if n == "lat" else 10)
    pr = d.createVariable("pr", "f4", ("time", "rlat", "rlon"))
    pr.grid_mapping = "crs: rlat rlon" if extended else "crs"
    pr.coordinates = "lat lon"
    pr[:] = np.arange(40, dtype=np.float32).reshape(2, 4, 5) + i
    other = d.createVariable("tas", "f4", ("time", "rlat", "rlon"))
    other[:] = 1
    d.close()


def netcdf(c, root):
    for fmt in ("NETCDF3_CLASSIC", "NETCDF4"):
        for extended in (False, True):
            tag = f"{fmt}{' extended' if extended else ''}"
            paths = [os.path.join(root, f"cordex_{fmt}_{extended}_{i}.nc") for i in range(2)]
            for i, p in enumerate(paths):
                write_cordex(p, fmt, i, extended)
            refs = os.path.join(root, "cordex.json")
            for opts in ([], ["--var", "pr"]):
                r = kerchunk(refs, paths, *opts)
                c.ok(r.returncode == 0 and not crashed(r), f"{tag} {opts}: exit 0", r.stderr)
                ds = open_refs(refs, decode_coords="all")
                want = {"pr", "crs", "lat", "lon", "time", "rlat", "rlon"}
                c.ok(want <= set(ds.variables), f"{tag} {opts}: crs, lat, lon kept",
                     str(sorted(ds.variables)))
                if "crs" not in ds.variables:
                    continue
                c.ok(ds.crs.dims == () and ds.crs.attrs.get("grid_north_pole_latitude") == 39.25
                     and ds.crs.attrs.get("grid_mapping_name") == "rotated_latitude_longitude",
                     f"{tag} {opts}: grid mapping attributes", str(ds.crs.attrs))
                with netCDF4.Dataset(paths[0]) as d:
                    lat = np.asarray(d["lat"][...])
                c.ok(same(ds.lat.values, lat) and "lat" in ds.pr.coords,
                     f"{tag} {opts}: lat is pr's coordinate", str(list(ds.pr.coords)))
                if opts:
                    c.ok("tas" not in ds.variables, f"{tag} --var: others left out")


def main():
    require_cli()
    c = Checks()
    root = tmpdir()
    c.run("geotiff", geotiff, root)
    c.run("netcdf grid mappings", netcdf, root)
    c.finish()


if __name__ == "__main__":
    main()
