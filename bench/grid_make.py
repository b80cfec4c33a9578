#!/usr/bin/env python3
"""Writes the grid benchmark's stack: N GeoTIFFs of SIZE x SIZE float32 at 10 m, half in UTM
zone 32N and half in 33N (EPSG:32632, 32633), around lon 12 E / lat 48 N where the zones
meet, each shifted a little so no two share a grid; DEFLATE, 256x256 tiles, nodata -9999 in
a corner stripe. Names carry a date (t00_20240101.tif ...).

usage: grid_make.py DIR [N=24] [SIZE=2048]
"""
import os
import sys

import numpy as np
from osgeo import gdal, osr
from pyproj import Transformer

gdal.UseExceptions()


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 2048
    os.makedirs(out, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for t in range(n):
        epsg = 32632 if t % 2 == 0 else 32633
        path = os.path.join(out, "t%02d_202401%02d.tif" % (t, t + 1))
        if os.path.exists(path):
            continue
        x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(12.0, 48.0)
        x0 = round(x / 10) * 10 - size * 5 + 40 * (t // 2)
        y0 = round(y / 10) * 10 + size * 5 - 30 * (t // 2)
        rng = np.random.default_rng(t)
        a = (1000 * np.sin(6 * xx + t) * np.cos(4 * yy) + rng.normal(0, 50, (size, size))
             ).astype(np.float32)
        a[: size // 16, : size // 4] = -9999
        ds = gdal.GetDriverByName("GTiff").Create(
            path, size, size, 1, gdal.GDT_Float32,
            ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE"])
        ds.SetGeoTransform((x0, 10.0, 0.0, y0, 0.0, -10.0))
        s = osr.SpatialReference()
        s.ImportFromEPSG(epsg)
        ds.SetProjection(s.ExportToWkt())
        ds.GetRasterBand(1).SetNoDataValue(-9999)
        ds.GetRasterBand(1).WriteArray(a)
        ds = None


if __name__ == "__main__":
    main()
