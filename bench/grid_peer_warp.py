#!/usr/bin/env python3
"""The warp limit of the grid benchmark: GDAL warps every file to the output grid in memory
(gdal.Warp to MEM, the grid's bounds and resolution, bilinear, nodata kept), one file per
process on all cores, and nothing else: no reduction is cheaper than this.

usage: grid_peer_warp.py GRID_JSON FILE...   (GRID_JSON: {"crs", "gt", "rows", "cols"})
"""
import json
import os
import sys
from multiprocessing import Pool

from osgeo import gdal

gdal.UseExceptions()
GRID = None


def warp(path):
    g = GRID
    gt, rows, cols = g["gt"], g["rows"], g["cols"]
    ds = gdal.Warp("", path, format="MEM", dstSRS=g["crs"], width=cols, height=rows,
                   outputBounds=(gt[0], gt[3] + rows * gt[5], gt[0] + cols * gt[1], gt[3]),
                   resampleAlg=g.get("resampling", "bilinear"), dstNodata=-9999)
    s = float(ds.GetRasterBand(1).ComputeRasterMinMax(False)[1])
    ds = None
    return s


def init(grid):
    global GRID
    GRID = grid


def main():
    grid = json.load(open(sys.argv[1]))
    with Pool(os.cpu_count(), initializer=init, initargs=(grid,)) as p:
        p.map(warp, sys.argv[2:], chunksize=1)


if __name__ == "__main__":
    main()
