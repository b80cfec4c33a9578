#!/usr/bin/env python3
"""The Python peer of the grid benchmark: what a user writes today. Every file opened with
rioxarray (masked), reprojected with rio.reproject_match onto a template of the output grid
(bilinear), stacked, and the temporal mean computed with dask's threaded scheduler
(DASK_NUM_WORKERS threads, default one per core); written as a GeoTIFF.

usage: grid_peer_rioxarray.py GRID_JSON OUT.tif FILE...
"""
import json
import os
import sys

import xarray as xr  # noqa: F401  (before osgeo)
import rioxarray  # noqa: F401
import numpy as np
import dask
from rasterio.enums import Resampling


def main():
    grid = json.load(open(sys.argv[1]))
    out, files = sys.argv[2], sys.argv[3:]
    gt, rows, cols = grid["gt"], grid["rows"], grid["cols"]
    x = gt[0] + gt[1] * (np.arange(cols) + 0.5)
    y = gt[3] + gt[5] * (np.arange(rows) + 0.5)
    tmpl = xr.DataArray(np.zeros((rows, cols), np.float32), coords={"y": y, "x": x},
                        dims=("y", "x")).rio.write_crs(grid["crs"])
    warped = []
    for f in files:
        da = rioxarray.open_rasterio(f, masked=True, chunks={"x": 1024, "y": 1024}).squeeze(
            "band", drop=True)
        warped.append(da.rio.reproject_match(tmpl, resampling=Resampling.bilinear))
    stack = xr.concat(warped, dim="time").chunk({"time": -1, "y": 1024, "x": 1024})
    threads = int(os.environ.get("DASK_NUM_WORKERS", "0")) or os.cpu_count()
    with dask.config.set(scheduler="threads", num_workers=threads):
        mean = stack.mean("time", skipna=True).compute()
    mean.rio.write_crs(grid["crs"]).rio.to_raster(out)


if __name__ == "__main__":
    main()
