#!/usr/bin/env python3
"""`strata kerchunk` on HDF5 cases real files hit, checked against netCDF4, h5py and xarray.

- unwritten storage without _FillValue: the index reads as netCDF4 reads the file (no mask;
  unwritten chunks hold what HDF5 returns, netCDF-C's default fill for netCDF-4 files);
- a 512-byte user block before the superblock (as MATLAB v7.3 writes);
- variables with filters Zarr cannot read (fletcher32) are reported by name and reason, and
  an index left with coordinates only is refused (exit 1);
- NaN attributes are JSON numbers;
- GDAL's netCDF driver reading NETCDF4 subdatasets prints no HDF5-DIAG blocks.
"""
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kc_common import (CLI, Checks, crashed, kerchunk, open_refs, require_cli, same,  # noqa: E402
                       tmpdir)
import h5py  # noqa: E402
import netCDF4  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def raw_nc(path, name):
    with netCDF4.Dataset(path) as d:
        v = d.variables[name]
        v.set_auto_maskandscale(False)
        return np.asarray(v[...])


def unwritten(c, root):
    path = os.path.join(root, "partial.nc")
    d = netCDF4.Dataset(path, "w", format="NETCDF4")
    d.createDimension("y", 8)
    d.createDimension("x", 6)
    for name, t in (("f", "f4"), ("i", "i4"), ("b", "u1"), ("s", "i2")):
        v = d.createVariable(name, t, ("y", "x"), chunksizes=(4, 3), zlib=name == "s")
        v[:4, :3] = np.arange(12).reshape(4, 3).astype(t)
    crs = d.createVariable("crs", "i4", ())  # never written, as gridMET's
    crs.grid_mapping_name = "latitude_longitude"
    lat = d.createVariable("y", "f8", ("y",))  # contiguous, never written
    lat.units = "degrees_north"
    w = d.createVariable("w", "f4", ("y", "x"), chunksizes=(4, 3), fill_value=np.float32(-1))
    w[:4, :3] = 5
    d.close()
    h5 = os.path.join(root, "plain.h5")
    with h5py.File(h5, "w") as f:
        dset = f.create_dataset("g", shape=(8, 6), chunks=(4, 3), dtype="i2", fillvalue=7)
        dset[:4, :3] = 1
        f.create_dataset("z", shape=(8, 6), chunks=(4, 3), dtype="f8")[:4, :3] = 2.5
    for inline in ("0", "500"):
        refs = os.path.join(root, "partial.json")
        r = kerchunk(refs, [path], "--inline", inline)
        c.ok(r.returncode == 0 and not crashed(r), f"unwritten {inline}: exit 0", r.stderr)
        got = open_refs(refs, mask_and_scale=False)
        for n in ("f", "i", "b", "s", "crs", "y", "w"):
            c.ok(same(got[n].values, raw_nc(path, n)), f"unwritten {inline}: {n} raw",
                 str(got[n].values.ravel()[-3:]))
        dec = open_refs(refs)
        ref = xr.open_dataset(path, engine="netcdf4")
        for n in ("f", "i", "b", "s", "crs", "y", "w"):
            c.ok(same(dec[n].values, ref[n].values), f"unwritten {inline}: {n} decoded",
                 f"{dec[n].values.ravel()[-3:]} vs {ref[n].values.ravel()[-3:]}")
        c.ok(int(dec.crs.values) == netCDF4.default_fillvals["i4"],
             "unwritten crs reads netCDF's default fill", str(dec.crs.values))
        refs = os.path.join(root, "plain.json")
        r = kerchunk(refs, [h5], "--inline", inline)
        c.ok(r.returncode == 0, f"plain HDF5 {inline}: exit 0", r.stderr)
        dec = open_refs(refs)
        with h5py.File(h5) as f:
            for n in ("g", "z"):
                c.ok(same(dec[n].values, f[n][...]), f"plain HDF5 {inline}: {n} as h5py reads",
                     str(dec[n].values.ravel()[-3:]))


def user_block(c, root):
    path = os.path.join(root, "v73.mat")
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("a", data=np.arange(20.0).reshape(4, 5), chunks=(2, 5),
                         compression="gzip")
        f.create_dataset("b", data=np.arange(6, dtype="i4"))
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Sat Dec  5 2026 HDF5")
    refs = os.path.join(root, "v73.json")
    r = kerchunk(refs, [path])
    c.ok(r.returncode == 0, "user block: exit 0", r.stderr)
    ds = open_refs(refs)
    with h5py.File(path) as f:
        c.ok(f.userblock_size == 512, "user block: fixture has 512 bytes")
        for n in ("a", "b"):
            c.ok(same(ds[n].values, f[n][...]), f"user block: {n} as h5py reads")
    junk = os.path.join(root, "junk.bin")
    with open(junk, "wb") as f:
        f.write(b"\0" * 4096)
    r = kerchunk(os.path.join(root, "junk.json"), [junk])
    c.ok(r.returncode == 1 and junk in r.stderr and "signature" in r.stderr,
         "no superblock anywhere: refused", r.stderr)


def skipped(c, root):
    path = os.path.join(root, "fletcher.nc")
    d = netCDF4.Dataset(path, "w", format="NETCDF4")
    d.createDimension("time", 3)
    d.createDimension("x", 4)
    t = d.createVariable("time", "f8", ("time",))
    t[:] = [0, 1, 2]
    v = d.createVariable("pr", "f4", ("time", "x"), fletcher32=True)
    v[:] = 1
    d.close()
    refs = os.path.join(root, "fletcher.json")
    r = kerchunk(refs, [path])
    c.ok(r.returncode == 1 and "'pr'" in r.stderr and "fletcher32" in r.stderr
         and path in r.stderr and not crashed(r), "only coordinates left: exit 1 naming pr",
         r.stderr)
    c.ok(not os.path.exists(refs), "only coordinates left: no output")
    with netCDF4.Dataset(path, "a") as d:
        ok = d.createVariable("tas", "f4", ("time", "x"))
        ok[:] = 2
    r = kerchunk(refs, [path])
    c.ok(r.returncode == 0 and "warning" in r.stderr and "'pr'" in r.stderr
         and "fletcher32" in r.stderr, "skipped variable reported on stderr", r.stderr)
    ds = open_refs(refs)
    c.ok("tas" in ds and "pr" not in ds and same(ds.tas.values, raw_nc(path, "tas")),
         "skipped: the others indexed", str(list(ds.variables)))


def nan_attrs(c, root):
    path = os.path.join(root, "nanattr.nc")
    d = netCDF4.Dataset(path, "w", format="NETCDF4")
    d.createDimension("x", 3)
    v = d.createVariable("v", "f4", ("x",))
    v.missing_value = np.float32(np.nan)
    v.valid_max = np.float32(np.inf)
    v.small = np.int16(-3)
    v[:] = [1, np.nan, 3]
    d.close()
    refs = os.path.join(root, "nanattr.json")
    r = kerchunk(refs, [path])
    c.ok(r.returncode == 0, "NaN attribute: exit 0", r.stderr)
    with open(refs) as f:
        zattrs = json.load(f)["refs"]["v/.zattrs"]
    c.ok('"NaN"' not in zattrs and '"missing_value":NaN' in zattrs
         and '"valid_max":Infinity' in zattrs, "NaN/Infinity attributes are JSON numbers",
         zattrs)
    ds = open_refs(refs, mask_and_scale=False)
    mv = ds.v.attrs.get("missing_value")
    c.ok(isinstance(mv, float) and math.isnan(mv), "NaN attribute read as a float", repr(mv))
    c.ok(ds.v.attrs.get("small") == -3, "int16 attribute value kept")
    dec = open_refs(refs)
    ref = xr.open_dataset(path, engine="netcdf4")
    c.ok(same(dec.v.values, ref.v.values), "NaN missing_value: decoded as xarray over netCDF4")


def hdf5_diag(c, root):
    path = os.path.join(root, "sub.nc")
    d = netCDF4.Dataset(path, "w", format="NETCDF4")
    d.createDimension("y", 10)
    d.createDimension("x", 12)
    for n in ("a", "b"):
        v = d.createVariable(n, "f4", ("y", "x"), zlib=True)
        v[:] = np.arange(120, dtype=np.float32).reshape(10, 12) * (2 if n == "b" else 1)
    d.close()
    out = os.path.join(root, "mean.tif")
    srcs = [f'NETCDF:"{path}":a', f'NETCDF:"{path}":b']
    r = subprocess.run([CLI, "reduce", "--op", "mean", "--threads", "2", "-o", out, *srcs],
                       capture_output=True, text=True, timeout=120)
    c.ok(r.returncode == 0 and "HDF5-DIAG" not in r.stderr, "NETCDF4 subdatasets: no HDF5-DIAG",
         r.stderr[:500])
    import rioxarray  # noqa: F401  (before osgeo, as everywhere)
    from osgeo import gdal
    got = xr.open_dataarray(out, engine="rasterio").values[0]
    want = np.mean([gdal.Open(s).ReadAsArray().astype(np.float64) for s in srcs], axis=0)
    c.ok(np.allclose(got, want), "NETCDF4 subdatasets: mean as GDAL reads them")
    r = subprocess.run([CLI, "reduce", "--op", "mean", "-o", out, f'NETCDF:"{path}":nosuch'],
                       capture_output=True, text=True, timeout=120)
    c.ok(r.returncode == 1 and "HDF5-DIAG" not in r.stderr and path in r.stderr,
         "missing subdataset: strata's message, no HDF5-DIAG", r.stderr[:500])


def main():
    require_cli()
    c = Checks()
    root = tmpdir()
    c.run("unwritten storage", unwritten, root)
    c.run("user block", user_block, root)
    c.run("skipped variables", skipped, root)
    c.run("NaN attributes", nan_attrs, root)
    c.run("HDF5-DIAG", hdf5_diag, root)
    c.finish()


if __name__ == "__main__":
    main()
