#!/usr/bin/env python3
"""`strata kerchunk` on NetCDF4 and NetCDF3 stacks, checked against python3-netcdf4.

Fixtures are written here: NetCDF4 with chunking, deflate and shuffle (a big-endian variable,
a contiguous one, a scalar, a phony dimension, a string variable), NetCDF3 classic and 64-bit
offset with several record variables (and a file with a single one, where netCDF does not pad
records). Every variable read through the index must equal, bit for bit, what netCDF4 reads
from the files, raw and CF-decoded; concatenation, --var, --absolute and --inline 0 are
checked too, and so are the refusals that must name the offending file.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kc_common import Checks, crashed, kerchunk, open_refs, require_cli, same, tmpdir  # noqa: E402
import netCDF4  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

T = 4  # steps per file


def write_nc4(path, i, chunks=(1, 10, 15), scale=0.1, units="days since 2000-01-01", time=True,
              tchunk=2):
    rng = np.random.default_rng(100 + i)
    d = netCDF4.Dataset(path, "w", format="NETCDF4")
    d.title = "kerchunk fixture"
    d.history = f"file {i}"
    if time:
        d.createDimension("time", None)
    d.createDimension("lat", 20)
    d.createDimension("lon", 30)
    lead = ("time",) if time else ()
    if time:
        t = d.createVariable("time", "f8", ("time",))
        t.units = units
        t.calendar = "standard"
        t[:] = np.arange(T) + T * i
    lat = d.createVariable("lat", "f4", ("lat",), contiguous=True)
    lat.units = "degrees_north"
    lat[:] = np.linspace(-10, 10, 20)
    temp = d.createVariable("temp", "i2", lead + ("lat", "lon"),
                            chunksizes=(chunks if time else chunks[1:]), zlib=True, shuffle=True,
                            complevel=4, fill_value=-999)
    temp.scale_factor = np.float32(scale)
    temp.add_offset = np.float32(273.0)
    temp.units = "K"
    data = rng.integers(-500, 500, size=(T, 20, 30) if time else (20, 30)).astype(np.int16)
    data.flat[::37] = -999
    temp[:] = data
    pr = d.createVariable("precip", "f4", lead + ("lat", "lon"),
                          chunksizes=((tchunk, 20, 30) if time else (20, 30)), zlib=True)
    vals = rng.random(size=(T, 20, 30) if time else (20, 30)).astype(np.float32)
    vals.flat[::11] = np.nan
    pr[:] = vals
    be = d.createVariable("big", ">f8", lead + ("lat",), endian="big")
    be[:] = rng.random(size=(T, 20) if time else (20,))
    elev = d.createVariable("elev", "f4", ("lat", "lon"), contiguous=True)
    elev[:] = np.arange(600, dtype=np.float32).reshape(20, 30)
    crs = d.createVariable("crs", "i4", ())
    crs.grid_mapping_name = "latitude_longitude"
    crs[...] = 4326
    lab = d.createVariable("label", str, ("lat",))
    lab[0] = "a string"
    d.close()


def nc_raw(paths, name):
    """The variable as netCDF4 reads it, no masking or scaling, concatenated along time."""
    parts = []
    for p in paths:
        with netCDF4.Dataset(p) as d:
            v = d.variables[name]
            v.set_auto_maskandscale(False)
            parts.append(np.asarray(v[...]))
    if len(paths) == 1:
        return parts[0]
    with netCDF4.Dataset(paths[0]) as d:
        file_time = "time" in d.dimensions
        has_time = "time" in d.variables[name].dimensions
    if file_time:
        return np.concatenate(parts) if has_time else parts[0]
    return np.stack(parts)


def check_vars(c, label, refs, paths, names):
    ds = open_refs(refs, mask_and_scale=False, decode_times=False)
    for n in names:
        c.ok(n in ds.variables, f"{label}: {n} present", str(list(ds.variables)))
        if n in ds.variables:
            c.ok(same(ds[n].values, nc_raw(paths, n)), f"{label}: {n} raw values")
    return ds


def nc4_stack(c, root):
    paths = [os.path.join(root, f"nc4_{i}.nc") for i in range(3)]
    for i, p in enumerate(paths):
        write_nc4(p, i)
    for opts in ([], ["--inline", "0"]):
        refs = os.path.join(root, "nc4.json")
        r = kerchunk(refs, paths, *opts)
        c.ok(r.returncode == 0, f"nc4 {opts}: exit 0", r.stderr)
        ds = check_vars(c, f"nc4 {opts}", refs, paths,
                        ["time", "lat", "temp", "precip", "big", "crs"])
        c.ok(same(ds.elev.values, nc_raw(paths[:1], "elev")), "nc4: static elev from file 0")
        c.ok(ds.temp.dims == ("time", "lat", "lon"), "nc4: temp dims", str(ds.temp.dims))
        c.ok("label" not in ds.variables, "nc4: string variable skipped")
        c.ok("lon" not in ds.variables, "nc4: phony dimension is not a variable")
        a = ds.temp.attrs
        c.ok(a.get("units") == "K" and "scale_factor" in a and "add_offset" in a
             and a.get("_FillValue") == -999, "nc4: CF attributes kept", str(a))
        c.ok(ds.time.attrs.get("calendar") == "standard", "nc4: time calendar kept")
        c.ok(ds.attrs.get("title") == "kerchunk fixture", "nc4: global attributes")
    # CF-decoded values (mask, scale, offset, times) equal to xarray over netCDF4
    dec = open_refs(refs)
    ref = xr.open_mfdataset(paths, engine="netcdf4", combine="nested", concat_dim="time",
                            data_vars="minimal", coords="minimal", compat="override")
    for n in ("temp", "precip", "time", "big"):
        c.ok(same(dec[n].values, ref[n].values), f"nc4: {n} decoded values",
             f"{dec[n].dtype} vs {ref[n].dtype}")
    with open(refs) as f:
        doc = json.load(f)
    c.ok(doc.get("version") == 1 and ".zgroup" in doc["refs"], "nc4: version 1 layout")
    z = json.loads(doc["refs"]["temp/.zarray"])
    c.ok(z["filters"] == [{"id": "shuffle", "elementsize": 2}, {"id": "zlib", "level": 4}]
         and z["chunks"] == [1, 10, 15] and z["shape"] == [3 * T, 20, 30],
         "nc4: temp .zarray codecs, chunks, shape", str(z))
    c.ok(isinstance(doc["refs"]["time/0"], str) and doc["refs"]["time/0"].startswith("base64:"),
         "nc4: time coordinate inlined")
    return paths


def nc4_options(c, root, paths):
    refs = os.path.join(root, "var.json")
    r = kerchunk(refs, paths, "--var", "temp")
    c.ok(r.returncode == 0, "--var temp: exit 0", r.stderr)
    ds = open_refs(refs, mask_and_scale=False, decode_times=False)
    c.ok(sorted(ds.variables) == ["lat", "temp", "time"], "--var temp: temp + coordinates",
         str(sorted(ds.variables)))
    r = kerchunk(refs, paths, "--absolute", "--inline", "0")
    with open(refs) as f:
        doc = json.load(f)["refs"]
    targets = [v[0] for v in doc.values() if isinstance(v, list)]
    c.ok(targets and all(os.path.isabs(t) for t in targets), "--absolute: absolute paths")
    r = kerchunk(refs, paths, "--var", "label")
    c.ok(r.returncode == 1 and "label" in r.stderr and "cannot be indexed" in r.stderr,
         "--var on a string variable refused", r.stderr)
    r = kerchunk(refs, paths, "--var", "nosuch")
    c.ok(r.returncode == 1 and "nosuch" in r.stderr, "--var unknown refused", r.stderr)


def nc4_mismatch(c, root, paths):
    cases = [("chunks", dict(chunks=(1, 5, 5)), "chunks"),
             ("scale", dict(scale=0.2), "scale_factor"),
             ("units", dict(units="hours since 2000-01-01"), "units")]
    for label, kw, word in cases:
        bad = os.path.join(root, f"bad_{label}.nc")
        write_nc4(bad, 3, **kw)
        out = os.path.join(root, f"bad_{label}.json")
        r = kerchunk(out, paths + [bad])
        c.ok(r.returncode == 1 and bad in r.stderr and word in r.stderr and not crashed(r),
             f"mismatched {label}: refused naming the file", r.stderr)
        c.ok(not os.path.exists(out), f"mismatched {label}: no output left")
    # chunks of 3 along time over 4 steps: the next file's chunks cannot follow
    odd = [os.path.join(root, f"odd_{i}.nc") for i in range(2)]
    for i, p in enumerate(odd):
        write_nc4(p, i, tchunk=3)
    r = kerchunk(os.path.join(root, "odd.json"), odd)
    c.ok(r.returncode == 1 and odd[0] in r.stderr and "precip" in r.stderr,
         "time chunks not dividing the file: refused", r.stderr)


def nc4_new_dim(c, root):
    paths = [os.path.join(root, f"notime_{i}.nc") for i in range(3)]
    for i, p in enumerate(paths):
        write_nc4(p, i, time=False)
    refs = os.path.join(root, "notime.json")
    r = kerchunk(refs, paths, "--concat-dim", "run")
    c.ok(r.returncode == 0, "no concat dim: exit 0", r.stderr)
    ds = open_refs(refs, mask_and_scale=False)
    c.ok(ds.temp.dims == ("run", "lat", "lon") and ds.lat.dims == ("lat",),
         "no concat dim: a new leading dimension", str(ds.temp.dims))
    c.ok(same(ds.temp.values, nc_raw(paths, "temp")), "no concat dim: values stacked")


def write_nc3(path, i, fmt, single=False):
    rng = np.random.default_rng(200 + i)
    d = netCDF4.Dataset(path, "w", format=fmt)
    d.createDimension("time", None)
    d.createDimension("y", 3)
    d.createDimension("x", 5)
    d.createDimension("nchar", 4)
    t = d.createVariable("time", "f8", ("time",))
    t.units = "hours since 2001-01-01"
    t[:] = np.arange(3) + 3 * i
    a = d.createVariable("a", "i2", ("time", "y", "x"), fill_value=-1)
    a.scale_factor = 0.5
    a[:] = rng.integers(0, 100, (3, 3, 5))
    if not single:
        b = d.createVariable("b", "f4", ("time", "y", "x"))
        b[:] = rng.random((3, 3, 5))
        k = d.createVariable("k", "i1", ("time", "x"))  # 5 bytes: padded to 8 in a record
        k[:] = rng.integers(-100, 100, (3, 5))
        s = d.createVariable("static", "f8", ("y", "x"))
        s[:] = np.arange(15.0).reshape(3, 5)
        n = d.createVariable("name", "S1", ("nchar",))
        n[:] = np.array(list("abcd"), dtype="S1")
    d.close()


def nc3(c, root):
    for fmt in ("NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET"):
        for single in (False, True):
            tag = f"{fmt}{'_single' if single else ''}"
            paths = [os.path.join(root, f"{tag}_{i}.nc") for i in range(2)]
            for i, p in enumerate(paths):
                write_nc3(p, i, fmt, single)
            names = ["time", "a"] if single else ["time", "a", "b", "k"]
            for files in (paths[:1], paths):
                refs = os.path.join(root, f"{tag}.json")
                r = kerchunk(refs, files, "--inline", "0")
                c.ok(r.returncode == 0, f"{tag} x{len(files)}: exit 0", r.stderr)
                ds = check_vars(c, f"{tag} x{len(files)}", refs, files, names)
                if not single:
                    c.ok(same(ds.static.values, nc_raw(files[:1], "static")), f"{tag}: static")
                    c.ok("name" not in ds.variables, f"{tag}: char variable skipped")
            dec = open_refs(refs)
            ref = xr.open_mfdataset(paths, combine="nested", concat_dim="time",
                                    data_vars="minimal", coords="minimal", compat="override")
            c.ok(same(dec.a.values, ref.a.values), f"{tag}: decoded a")


def main():
    require_cli()
    c = Checks()
    root = tmpdir()
    paths = []

    def stack(c):
        paths.extend(nc4_stack(c, root))

    c.run("nc4 stack", stack)
    if paths:
        c.run("nc4 options", nc4_options, root, paths)
        c.run("nc4 mismatch", nc4_mismatch, root, paths)
    c.run("nc4 new dim", nc4_new_dim, root)
    c.run("nc3", nc3, root)
    c.finish()


if __name__ == "__main__":
    main()
