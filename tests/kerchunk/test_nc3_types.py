#!/usr/bin/env python3
"""NetCDF3 CDF-1, CDF-2 and CDF-5 files of every numeric type through `strata kerchunk`.

netCDF4-python writes each format (NETCDF3_CLASSIC, NETCDF3_64BIT_OFFSET, NETCDF3_64BIT_DATA)
with record and fixed variables of every type the format has (CDF-5 adds ubyte, ushort,
uint, int64 and uint64), scalars, several dimensions and typed attributes. Every variable read
through the index (fsspec + zarr + xarray) must equal, value for value, what netCDF4 reads from
the file; decoded values must equal xarray over the netCDF4 engine. The attributes must keep
their values, including a NaN missing_value (a number, not the string "NaN") and
_NCProperties.
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kc_common import Checks, crashed, kerchunk, open_refs, require_cli, same, tmpdir  # noqa: E402
import netCDF4  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
import fsspec  # noqa: E402
import zarr  # noqa: E402

CLASSIC = ["i1", "i2", "i4", "f4", "f8"]
CDF5 = CLASSIC + ["u1", "u2", "u4", "i8", "u8"]
FORMATS = {"NETCDF3_CLASSIC": CLASSIC, "NETCDF3_64BIT_OFFSET": CLASSIC,
           "NETCDF3_64BIT_DATA": CDF5}


def extremes(t, n):
    """n values of type t spanning its range (min, max, and some in between)."""
    if t[0] == "f":
        v = np.linspace(-1e30 if t == "f4" else -1e300, 3.5, n)
        return v.astype(t)
    info = np.iinfo(t)
    v = np.linspace(0, 1, n)
    out = (info.min + v * (float(info.max) - float(info.min))).astype(np.float64)
    arr = np.array([int(min(max(x, info.min), info.max)) for x in out], dtype=object)
    arr[0], arr[-1] = info.min, info.max
    return np.array([int(x) for x in arr], dtype=t)


def write(path, fmt, i):
    types = FORMATS[fmt]
    d = netCDF4.Dataset(path, "w", format=fmt)
    d.setncattr("_NCProperties", "kept as any other attribute in NetCDF3")
    d.title = "types"
    d.createDimension("time", None)
    d.createDimension("y", 2)
    d.createDimension("x", 3)
    t = d.createVariable("time", "f8", ("time",))
    t.units = "days since 2000-01-01"
    t[:] = [2 * i, 2 * i + 1]
    for k, ty in enumerate(types):
        r = d.createVariable(f"rec_{ty}", ty, ("time", "y", "x"))
        r[:] = np.roll(extremes(ty, 12), i + k).reshape(2, 2, 3)
        s = d.createVariable(f"fix_{ty}", ty, ("y", "x"))
        s[:] = extremes(ty, 6).reshape(2, 3)
        s.typed = extremes(ty, 2)
        s.one = extremes(ty, 3)[1:2]
        z = d.createVariable(f"scalar_{ty}", ty, ())
        z[...] = extremes(ty, 3)[1]
    f = d.createVariable("filled", "f4", ("time", "x"), fill_value=np.float32(-9.5))
    f.missing_value = np.float32(np.nan)
    f[:] = np.ma.masked_array([[1, 2, 3], [4, 5, 6]], mask=[[0, 1, 0], [0, 0, 1]])
    w = d.createVariable("short", "i2", ("time", "x"))
    w.scale_factor = np.float32(0.25)
    w.add_offset = np.float32(-3.0)
    w.valid_range = np.array([-100, 100], dtype="i2")
    w[:] = np.array([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]])
    d.close()


def raw(paths, name):
    parts = []
    for p in paths:
        with netCDF4.Dataset(p) as d:
            v = d.variables[name]
            v.set_auto_maskandscale(False)
            parts.append(np.asarray(v[...]))
            rec = "time" in v.dimensions
    return np.concatenate(parts) if rec and len(paths) > 1 else parts[0]


def one_format(c, root, fmt):
    paths = [os.path.join(root, f"{fmt}_{i}.nc") for i in range(2)]
    for i, p in enumerate(paths):
        write(p, fmt, i)
    with netCDF4.Dataset(paths[0]) as d:
        c.ok(d.data_model == fmt, f"{fmt}: fixture format", d.data_model)
        names = [n for n in d.variables]
    for files, inline in ((paths[:1], "0"), (paths, "500")):
        label = f"{fmt} x{len(files)} inline {inline}"
        refs = os.path.join(root, f"{fmt}.json")
        r = kerchunk(refs, files, "--inline", inline)
        c.ok(r.returncode == 0 and not crashed(r), f"{label}: exit 0", r.stderr)
        if r.returncode != 0:
            return
        ds = open_refs(refs, mask_and_scale=False, decode_times=False)
        for n in names:
            ok = n in ds.variables and same(ds[n].values, raw(files, n))
            c.ok(ok, f"{label}: {n} raw values",
                 str(ds[n].values if n in ds.variables else "missing"))
    # attributes, value for value and NaN as a number
    with netCDF4.Dataset(paths[0]) as d:
        for n in names:
            v = d.variables[n]
            for a in v.ncattrs():
                want = np.atleast_1d(v.getncattr(a))
                got = ds[n].attrs.get(a)
                if a == "_FillValue":
                    got = ds[n].encoding.get("_FillValue", got)
                g = np.atleast_1d(np.asarray(got, dtype=np.float64 if want.dtype.kind == "f"
                                             else want.dtype))
                c.ok(got is not None and g.shape == want.shape
                     and np.array_equal(g.astype(want.dtype), want, equal_nan=want.dtype.kind == "f"),
                     f"{fmt}: {n}.{a}", f"{got!r} vs {want!r}")
        # xarray's zarr backend hides attributes starting with _NC: ask zarr itself.
        fs = fsspec.filesystem("reference", fo=refs, remote_protocol="file",
                               skip_instance_cache=True)
        group = zarr.open_group(fs.get_mapper(""), mode="r")
        c.ok(group.attrs.get("_NCProperties") == d.getncattr("_NCProperties"),
             f"{fmt}: _NCProperties kept", str(dict(group.attrs)))
    mv = ds["filled"].attrs.get("missing_value")
    c.ok(isinstance(mv, float) and math.isnan(mv), f"{fmt}: NaN attribute is a number", repr(mv))
    with open(refs) as f:
        zattrs = json.loads(f.read())["refs"]["filled/.zattrs"]
    c.ok('"NaN"' not in zattrs and "NaN" in zattrs, f"{fmt}: NaN written as a JSON number",
         zattrs)
    # CF-decoded values against xarray over the files
    dec = open_refs(refs)
    ref = xr.open_mfdataset(paths, engine="netcdf4", combine="nested", concat_dim="time",
                            data_vars="minimal", coords="minimal", compat="override")
    for n in ("filled", "short", "time"):
        c.ok(same(dec[n].values, ref[n].values), f"{fmt}: {n} decoded",
             f"{dec[n].values} vs {ref[n].values}")


def streaming(c, root):
    """A CDF-5 header whose numrecs is the 8-byte streaming marker is refused, not misread."""
    path = os.path.join(root, "NETCDF3_64BIT_DATA_0.nc")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[4:12] = b"\xff" * 8
    bad = os.path.join(root, "streaming.nc")
    with open(bad, "wb") as f:
        f.write(data)
    r = kerchunk(os.path.join(root, "s.json"), [bad])
    c.ok(r.returncode == 1 and bad in r.stderr and "streaming" in r.stderr and not crashed(r),
         "CDF-5 streaming numrecs refused", r.stderr)


def main():
    require_cli()
    c = Checks()
    root = tmpdir()
    for fmt in FORMATS:
        c.run(fmt, one_format, root, fmt)
    c.run("streaming", streaming, root)
    c.finish()


if __name__ == "__main__":
    main()
