#!/usr/bin/python3
"""Makes the remote benchmark's stack: T Cloud-Optimized GeoTIFFs (float32, DEFLATE, 256x256
tiles) from ../shared/peers/make_stack.py, and a STAC FeatureCollection pointing at them
through a server on 127.0.0.1:PORT.

usage: remote_items.py MAKE_STACK DIR T ROWS COLS PORT   (writes DIR/cog/*.tif, DIR/items.json)"""
import json
import os
import subprocess
import sys

from osgeo import gdal

gdal.UseExceptions()
make_stack, out, T, rows, cols, port = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
raw, cog = os.path.join(out, "raw"), os.path.join(out, "cog")
os.makedirs(cog, exist_ok=True)
subprocess.run(["/usr/bin/python3", make_stack, raw, str(T), str(rows), str(cols), "1",
                "DEFLATE", "Float32"], check=True, stdout=subprocess.DEVNULL)
features = []
for t in range(T):
    name = f"{t:04d}.tif"
    gdal.Translate(os.path.join(cog, name), os.path.join(raw, name), format="COG",
                   creationOptions=["BLOCKSIZE=256", "COMPRESS=DEFLATE", "PREDICTOR=YES",
                                    "OVERVIEWS=NONE"])
    features.append({"type": "Feature", "stac_version": "1.0.0", "id": f"s{t}",
                     "geometry": None, "links": [],
                     "properties": {"datetime": f"2021-01-01T00:00:00Z".replace(
                         "01T", f"{1 + t % 28:02d}T").replace("-01-", f"-{1 + t // 28 % 12:02d}-")
                         if t < 336 else f"{2022 + t // 336}-01-01T00:00:00Z"},
                     "assets": {"data": {"href": f"http://127.0.0.1:{port}/{name}",
                                         "type": "image/tiff; application=geotiff"}}})
json.dump({"type": "FeatureCollection", "features": features},
          open(os.path.join(out, "items.json"), "w"))
