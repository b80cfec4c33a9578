"""STAC proj:/raster: fields that contradict the files they describe. When every item says the
same wrong thing, the meta built from the JSON is wrong and only the files can tell: each
file, the template too, is checked against it when first opened, and the run stops with exit
1 and a message naming the file, the field and both values. Nothing is written, the inputs are
untouched, and no buffer is sized from the JSON (a data_type smaller than the files' wrote
past a block buffer; under the ASan build of the tests that would abort).

The good document is checked against numpy over the same files read with GDAL."""
import copy
import hashlib
import os

import numpy as np
from osgeo import gdal

from stac_common import Checks, cli, collection, require_cli, tmpdir, write_json

gdal.UseExceptions()

ROWS, COLS, BANDS, NODATA = 96, 128, 2, -9999.0
GT = (500000.0, 30.0, 0.0, 3500000.0, 0.0, -30.0)
EPSG = 32636
DATES = ["2021-01-05T00:00:00Z", "2021-02-05T00:00:00Z", "2021-03-05T00:00:00Z"]


def write_files(root):
    paths = []
    for t in range(len(DATES)):
        rng = np.random.default_rng(t + 11)
        a = rng.normal(100.0, 20.0, (BANDS, ROWS, COLS)).astype(np.float32)
        a[rng.random(a.shape) < 0.1] = NODATA
        path = os.path.join(root, f"scene_{t}.tif")
        ds = gdal.GetDriverByName("GTiff").Create(path, COLS, ROWS, BANDS, gdal.GDT_Float32,
                                                  options=["TILED=YES", "BLOCKXSIZE=32",
                                                           "BLOCKYSIZE=32", "COMPRESS=DEFLATE"])
        ds.SetGeoTransform(GT)
        ds.SetProjection(f"EPSG:{EPSG}")
        for b in range(BANDS):
            ds.GetRasterBand(b + 1).SetNoDataValue(NODATA)
            ds.GetRasterBand(b + 1).WriteArray(a[b])
        ds = None
        paths.append(path)
    return paths


def items(paths):
    out = []
    for t, path in enumerate(paths):
        out.append({
            "type": "Feature", "stac_version": "1.0.0", "id": f"scene-{t}", "geometry": None,
            "links": [],
            "properties": {"datetime": DATES[t], "proj:epsg": EPSG,
                           "proj:transform": [GT[1], GT[2], GT[0], GT[4], GT[5], GT[3]],
                           "proj:shape": [ROWS, COLS]},
            "assets": {"data": {"href": os.path.basename(path),
                                "raster:bands": [{"data_type": "float32", "nodata": NODATA}
                                                 for _ in range(BANDS)]}}})
    return out


def digest(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def every_item(doc, fn):
    doc = copy.deepcopy(doc)
    for it in doc:
        fn(it["properties"], it["assets"]["data"])
    return doc


def set_bands(a, key, value):
    for b in a["raster:bands"]:
        b[key] = value


# (label, change of every item, words the message must hold: field and both values)
MUTATIONS = [
    ("data_type int16", lambda p, a: set_bands(a, "data_type", "int16"),
     ["data_type", "int16", "Float32"]),
    ("data_type float64", lambda p, a: set_bands(a, "data_type", "float64"),
     ["data_type", "float64", "Float32"]),
    ("data_type uint8", lambda p, a: set_bands(a, "data_type", "uint8"),
     ["data_type", "uint8", "Float32"]),
    ("proj:epsg", lambda p, a: p.update({"proj:epsg": 32635}),
     ["proj:epsg", "EPSG:32635", "EPSG:32636"]),
    ("half-pixel transform", lambda p, a: p["proj:transform"].__setitem__(2, GT[0] + 15),
     ["proj:transform", "500015", "500000"]),
    ("smaller proj:shape", lambda p, a: p.update({"proj:shape": [ROWS // 2, COLS]}),
     ["proj:shape", f"{COLS}x{ROWS // 2}", f"{COLS}x{ROWS}"]),
    ("larger proj:shape", lambda p, a: p.update({"proj:shape": [ROWS, COLS * 2]}),
     ["proj:shape", f"{COLS * 2}x{ROWS}", f"{COLS}x{ROWS}"]),
    ("one raster:bands entry", lambda p, a: a.update({"raster:bands": a["raster:bands"][:1]}),
     ["raster:bands", "2 bands", "has 1"]),
    ("three raster:bands entries",
     lambda p, a: a["raster:bands"].append(dict(a["raster:bands"][0])),
     ["raster:bands", "2 bands", "has 3"]),
    ("raster:bands nodata", lambda p, a: set_bands(a, "nodata", -1),
     ["raster:bands nodata", "-9999", "-1"]),
    ("raster:bands without nodata",
     lambda p, a: [b.pop("nodata") for b in a["raster:bands"]],
     ["raster:bands nodata", "-9999", "none"]),
]

REDUCED = {"data_type int16", "data_type float64", "smaller proj:shape", "one raster:bands entry",
           "raster:bands nodata"}


def expect_refused(c, label, r, out, names, words):
    c.ok(r.returncode == 1, f"{label}: exit {r.returncode}, expected 1", r.stderr.strip())
    c.ok(any(os.path.basename(n) in r.stderr for n in names), f"{label}: message names a file",
         r.stderr.strip())
    for w in words:
        c.ok(w in r.stderr, f"{label}: message holds {w!r}", r.stderr.strip())
    c.ok("AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr,
         f"{label}: no sanitizer report", r.stderr[-2000:])
    if out:
        c.ok(not os.path.exists(out) and not os.path.exists(out + ".part"),
             f"{label}: no output left")


def case_good(c, work, paths, doc):
    """The unchanged document: the mean is numpy's over the same files."""
    stac = write_json(os.path.join(work, "good.json"), collection(doc))
    out = os.path.join(work, "good_mean.tif")
    r = cli("reduce", "--op", "mean", "-o", out, "--stac", stac)
    c.ok(r.returncode == 0, f"good document: exit {r.returncode}", r.stderr)
    stack = np.stack([gdal.Open(p).ReadAsArray() for p in paths]).astype(np.float64)
    stack[stack == NODATA] = np.nan
    valid = (~np.isnan(stack)).any(axis=0)
    want = np.where(valid, np.nansum(stack, axis=0) / np.maximum((~np.isnan(stack)).sum(0), 1),
                    NODATA)
    got = gdal.Open(out).ReadAsArray()
    c.ok(got.shape == want.shape and np.allclose(got, want, rtol=1e-6),
         "good document: mean equals numpy's (missing pixels hold the nodata)")
    r = cli("info", "--check", "--stac", stac)
    c.ok(r.returncode == 0 and "match" in r.stdout, "good document: info --check matches",
         r.stdout + r.stderr)


def case_mutations(c, work, paths, doc):
    before = digest(paths)
    for label, fn, words in MUTATIONS:
        stac = write_json(os.path.join(work, "bad.json"), collection(every_item(doc, fn)))
        # reduce for the cases that crashed or answered wrong; the check is the same for all.
        if label in REDUCED:
            out = os.path.join(work, "bad_mean.tif")
            r = cli("reduce", "--op", "mean", "--threads", "2", "-o", out, "--stac", stac)
            expect_refused(c, f"reduce, {label}", r, out, paths, words)
        r = cli("info", "--check", "--stac", stac)
        expect_refused(c, f"info --check, {label}", r, None, paths, words)
    # The readers other than reduce: Zarr writer and window reads.
    stac = write_json(os.path.join(work, "bad.json"),
                      collection(every_item(doc, MUTATIONS[0][1])))
    store = os.path.join(work, "bad.zarr")
    r = cli("to-zarr", "-o", store, "--stac", stac)
    expect_refused(c, "to-zarr, data_type int16", r, None, paths, MUTATIONS[0][2])
    c.ok(not os.path.exists(os.path.join(store, ".zmetadata")), "to-zarr: no complete store")
    r = cli("read-all", "--stac", stac)
    expect_refused(c, "read-all, data_type int16", r, None, paths, MUTATIONS[0][2])
    c.ok(digest(paths) == before, "inputs unchanged")


def main():
    require_cli()
    c = Checks()
    with tmpdir("strata-stac-mismatch-") as work:
        paths = write_files(work)
        doc = items(paths)
        c.run("good document", case_good, work, paths, doc)
        c.run("contradicting fields", case_mutations, work, paths, doc)
    c.finish()


if __name__ == "__main__":
    main()
