#!/usr/bin/env python3
"""`strata kerchunk` refuses concatenations that would make a wrong cube.

Files given in order make a strictly monotonic concat coordinate, checked value for value
against xarray concatenating the files; files given reversed or twice, a NaN in the
coordinate, and `--concat-dim lat` over two months (every file has the same latitudes) are
refused with exit 1, naming the file that breaks the order, and leave no output. A
coordinate decreasing across files (latitude tiles north to south) is accepted.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kc_common import Checks, crashed, kerchunk, open_refs, require_cli, same, tmpdir  # noqa: E402
import netCDF4  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def write(path, times, lats, fmt="NETCDF4"):
    d = netCDF4.Dataset(path, "w", format=fmt)
    d.createDimension("time", None)
    d.createDimension("lat", len(lats))
    d.createDimension("lon", 3)
    t = d.createVariable("time", "f8", ("time",))
    t.units = "days since 2000-01-01"
    t[:] = times
    la = d.createVariable("lat", "f4", ("lat",))
    la[:] = lats
    v = d.createVariable("v", "f4", ("time", "lat", "lon"), chunksizes=(1, len(lats), 3))
    v[:] = np.arange(len(times) * len(lats) * 3, dtype=np.float32).reshape(
        len(times), len(lats), 3) + times[0]
    d.close()


def refused(c, label, refs, files, culprit, *opts):
    r = kerchunk(refs, files, *opts)
    c.ok(r.returncode == 1 and culprit in r.stderr and not crashed(r), f"{label}: refused",
         r.stderr)
    c.ok(not os.path.exists(refs), f"{label}: no output")


def cases(c, root):
    for fmt in ("NETCDF4", "NETCDF3_64BIT_OFFSET"):
        jan, feb = (os.path.join(root, f"{fmt}_{m}.nc") for m in ("jan", "feb"))
        write(jan, [0, 1, 2], [-10, 0, 10], fmt)
        write(feb, [3, 4, 5], [-10, 0, 10], fmt)
        refs = os.path.join(root, f"{fmt}.json")
        r = kerchunk(refs, [jan, feb])
        c.ok(r.returncode == 0, f"{fmt} in order: exit 0", r.stderr)
        ds = open_refs(refs, decode_times=False)
        ref = xr.open_mfdataset([jan, feb], combine="nested", concat_dim="time",
                                data_vars="minimal", coords="minimal", compat="override",
                                decode_times=False)
        c.ok(same(ds.time.values, ref.time.values) and same(ds.v.values, ref.v.values),
             f"{fmt} in order: values")
        os.remove(refs)
        refused(c, f"{fmt} reversed", refs, [feb, jan], jan)
        refused(c, f"{fmt} duplicated", refs, [jan, feb, feb], feb)
        refused(c, f"{fmt} --concat-dim lat over two months", refs, [jan, feb], feb,
                "--concat-dim", "lat")
        nan = os.path.join(root, f"{fmt}_nan.nc")
        write(nan, [6, np.nan, 8], [-10, 0, 10], fmt)
        refused(c, f"{fmt} NaN time", refs, [jan, feb, nan], nan)
        north, south = (os.path.join(root, f"{fmt}_{h}.nc") for h in ("n", "s"))
        write(north, [0, 1], [50, 40, 30], fmt)
        write(south, [0, 1], [20, 10, 0], fmt)
        r = kerchunk(refs, [north, south], "--concat-dim", "lat")
        c.ok(r.returncode == 0, f"{fmt} tiles north to south: exit 0", r.stderr)
        ds = open_refs(refs, decode_times=False)
        ref = xr.concat([xr.open_dataset(p, decode_times=False) for p in (north, south)],
                        dim="lat", data_vars="minimal", coords="minimal", compat="override")
        c.ok(same(ds.lat.values, ref.lat.values) and same(ds.v.values, ref.v.values),
             f"{fmt} tiles north to south: values")


def main():
    require_cli()
    c = Checks()
    root = tmpdir()
    c.run("concat order", cases, root)
    c.finish()


if __name__ == "__main__":
    main()
