"""Shared pieces of the STAC tests: Cloud-Optimized GeoTIFFs and STAC items written here, a
local HTTP server (http_server.py) serving them, the CLI, and output comparison.

Answers come from `strata` reading the same files with from-files (paths on the command
line), and from GDAL + numpy reading the outputs.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import CLI, Checks, require_cli  # noqa: E402,F401  (re-exported)

import numpy as np
from osgeo import gdal

gdal.UseExceptions()

PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")
HERE = os.path.dirname(os.path.abspath(__file__))

ROWS, COLS = 200, 300
GT = (500000.0, 30.0, 0.0, 3500000.0, 0.0, -30.0)
EPSG = 32636
NODATA = 0
# Not in time order on purpose: items are sorted by datetime.
DATES = ["2021-03-15T10:00:00Z", "2021-01-05T10:00:00Z", "2021-02-10T10:00:00Z",
         "2021-01-20T10:00:00Z", "2021-03-01T10:00:00Z"]
ASSETS = ["B04", "B08"]


def cli(*args, stdin=None, cwd=None, env=None):
    """Runs the CLI; returns the completed process (text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([CLI, *args], input=stdin, capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=120)


def write_cog(path, t, asset, dtype=gdal.GDT_UInt16, rows=ROWS, cols=COLS, gt=GT):
    rng = np.random.default_rng(1000 * t + (7 if asset == "B08" else 3))
    a = rng.integers(1, 4000, size=(rows, cols)).astype(np.uint16)
    a[rng.random((rows, cols)) < 0.05] = NODATA
    mem = gdal.GetDriverByName("MEM").Create("", cols, rows, 1, dtype)
    mem.SetGeoTransform(gt)
    mem.SetProjection(f"EPSG:{EPSG}")
    band = mem.GetRasterBand(1)
    band.SetNoDataValue(NODATA)
    band.WriteArray(a)
    gdal.GetDriverByName("COG").CreateCopy(path, mem, options=["BLOCKSIZE=128",
                                                               "COMPRESS=DEFLATE"])


def affine(gt):
    return [gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]]


def make_item(t, href_of, proj=True, raster=True, assets=ASSETS, bbox=True, self_href=None):
    """One STAC item for timestep t; href_of(t, asset) gives each asset's href."""
    props = {"datetime": DATES[t]}
    if proj:
        props.update({"proj:epsg": EPSG, "proj:transform": affine(GT),
                      "proj:shape": [ROWS, COLS]})
    item = {"type": "Feature", "stac_version": "1.0.0", "id": f"scene-{t}",
            "geometry": None, "properties": props, "links": [], "assets": {}}
    if bbox:
        item["bbox"] = [30.0 + t, 31.0, 30.5 + t, 31.5]
    if self_href:
        item["links"].append({"rel": "self", "href": self_href})
    for a in assets:
        asset = {"href": href_of(t, a), "type": "image/tiff; application=geotiff"}
        if raster:
            asset["raster:bands"] = [{"data_type": "uint16", "nodata": NODATA}]
        item["assets"][a] = asset
    return item


def collection(items):
    return {"type": "FeatureCollection", "features": items}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


class Server:
    """http_server.py on a free port of 127.0.0.1, serving root; stopped by close()."""

    def __init__(self, root, *opts):
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, "http_server.py"), root,
                                      "--lifetime", "300", *opts], stdout=subprocess.PIPE,
                                     text=True)
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self):
        self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Stack:
    """T timesteps x the assets as COGs in dir/cogs, and the paths in time order."""

    def __init__(self, root):
        self.root = root
        self.cogs = os.path.join(root, "cogs")
        os.makedirs(self.cogs, exist_ok=True)
        for t in range(len(DATES)):
            for a in ASSETS:
                write_cog(self.path(t, a), t, a)
        self.order = sorted(range(len(DATES)), key=lambda t: DATES[t])

    def name(self, t, asset):
        return f"t{t}_{asset}.tif"

    def path(self, t, asset):
        return os.path.join(self.cogs, self.name(t, asset))

    def files(self, asset, order=None):
        return [self.path(t, asset) for t in (self.order if order is None else order)]

    def times(self, order=None):
        return ",".join(DATES[t] for t in (self.order if order is None else order))


def read_tif(path):
    ds = gdal.Open(path)
    return np.stack([ds.GetRasterBand(b + 1).ReadAsArray() for b in range(ds.RasterCount)])


def same_array(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def tmpdir(prefix):
    return tempfile.TemporaryDirectory(prefix=prefix)
