"""Remote stacks read by the fetcher (many range requests in flight): every op, groupby and
to-zarr over HTTP equal, bit for bit, the same files read from disk; so do runs through a
server that fails requests (503) or cuts answers short; a server without range requests and a
missing file (404) fail naming the URL and leave no output; the server's request log shows
each file's header fetched once and a file's adjacent blocks fetched in one request."""
import os
import re
from collections import Counter

import numpy as np
import zarr
from osgeo import gdal
from stac_common import (Checks, Server, cli, collection, read_tif, require_cli, same_array,
                         tmpdir, write_json)

gdal.UseExceptions()

T, ROWS, COLS = 6, 300, 400
GT = (500000.0, 30.0, 0.0, 3500000.0, 0.0, -30.0)
DATES = [f"2021-{1 + t // 2:02d}-{1 + 9 * (t % 2):02d}T00:00:00Z" for t in range(T)]
OPS = "mean,sum,min,max,std,var,count,median"
FAST = {"GDAL_HTTP_RETRY_DELAY": "0.01"}


def write_cogs(root):
    """Float32 COGs, DEFLATE with the float predictor, 128x128 tiles (12 a file), nodata."""
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(21)
    for t in range(T):
        a = rng.normal(20, 5, size=(ROWS, COLS)).astype(np.float32)
        a[rng.random((ROWS, COLS)) < 0.03] = -9999
        mem = gdal.GetDriverByName("MEM").Create("", COLS, ROWS, 1, gdal.GDT_Float32)
        mem.SetGeoTransform(GT)
        mem.SetProjection("EPSG:32636")
        mem.GetRasterBand(1).SetNoDataValue(-9999)
        mem.GetRasterBand(1).WriteArray(a)
        gdal.GetDriverByName("COG").CreateCopy(
            os.path.join(root, f"t{t}.tif"), mem,
            options=["BLOCKSIZE=128", "COMPRESS=DEFLATE", "PREDICTOR=YES", "OVERVIEWS=NONE"])


def items(work, url, name, names=None):
    names = names or [f"t{t}.tif" for t in range(T)]
    feats = [{"type": "Feature", "stac_version": "1.0.0", "id": f"s{t}", "geometry": None,
              "links": [], "properties": {"datetime": DATES[t]},
              "assets": {"data": {"href": f"{url}/{names[t]}",
                                  "type": "image/tiff; application=geotiff"}}}
             for t in range(T)]
    return write_json(os.path.join(work, name), collection(feats))


def reduce(c, work, tag, src, env=None, cmd="reduce", extra=()):
    out = os.path.join(work, f"{tag}_{{op}}.tif")
    r = cli(cmd, "--quiet", "--op", OPS, "-o", out, *extra, *src, env=env)
    c.ok(r.returncode == 0, f"{tag} {cmd}", r.stderr)
    if r.returncode:
        return None
    return {op: read_tif(out.replace("{op}", op)) for op in OPS.split(",")}


def compare(c, tag, got, want):
    for op in OPS.split(","):
        c.ok(got is not None and same_array(got[op], want[op]), f"{tag} {op} bitwise")


def main():
    require_cli()
    c = Checks()
    with tmpdir("strata-remote-") as work:
        root = os.path.join(work, "cogs")
        write_cogs(root)
        files = [os.path.join(root, f"t{t}.tif") for t in range(T)]
        times = ["--times", ",".join(DATES)]
        ref = reduce(c, work, "local", [*times, *files])
        # An oracle nobody here wrote: numpy's mean of the files read by GDAL.
        stack = np.stack([gdal.Open(f).ReadAsArray() for f in files]).astype(np.float64)
        stack[stack == -9999] = np.nan
        with np.errstate(all="ignore"):
            want = np.nanmean(stack, axis=0)
        c.ok(ref is not None and np.allclose(ref["mean"][0], want, rtol=1e-5, equal_nan=True),
             "local mean equals numpy")
        gref = os.path.join(work, "gref")
        r = cli("groupby", "--quiet", "--by", "month", "--op", "mean,max", "-o", gref, *times,
                *files)
        c.ok(r.returncode == 0, "local groupby", r.stderr)
        zref = os.path.join(work, "local.zarr")
        r = cli("to-zarr", "--quiet", "-o", zref, *times, *files)
        c.ok(r.returncode == 0, "local to-zarr", r.stderr)

        log = os.path.join(work, "requests.log")
        with Server(root, "--log", log) as srv:
            it = items(work, srv.url, "items.json")
            stac = ["--stac", it, "--asset", "data"]
            compare(c, "http", reduce(c, work, "http", stac), ref)
            with open(log) as f:
                lines = [ln.split() for ln in f]
            gets = [ln for ln in lines if ln[0] == "GET"]
            heads = Counter(ln[1] for ln in gets if re.match(r"bytes=0-", ln[2]))
            # GDAL's open of the template and the fetcher share the template's header.
            c.ok(all(n == 1 for n in heads.values()) and len(heads) == T,
                 "each file's header fetched once, the template's included", str(heads))
            blocks = Counter(ln[1] for ln in gets if not re.match(r"bytes=0-", ln[2]))
            # 12 tiles a file, written one after the other: one request a file.
            c.ok(all(blocks[f"/t{t}.tif"] == 1 for t in range(1, T)),
                 "adjacent blocks in one request", str(blocks))
            compare(c, "http io-concurrency 1",
                    reduce(c, work, "http1", stac, extra=("--io-concurrency", "1")), ref)
            r = cli("reduce", "--io-concurrency", "0", "--op", "mean", "-o",
                    os.path.join(work, "x.tif"), *stac)
            c.ok(r.returncode == 2 and "--io-concurrency" in r.stderr, "bad --io-concurrency",
                 r.stderr)

            gout = os.path.join(work, "gout")
            r = cli("groupby", "--quiet", "--by", "month", "--op", "mean,max", "-o", gout, *stac)
            c.ok(r.returncode == 0, "http groupby", r.stderr)
            for m in ("01", "02", "03"):
                for op in ("mean", "max"):
                    a, b = f"{gref}/{m}_{op}.tif", f"{gout}/{m}_{op}.tif"
                    c.ok(os.path.exists(b) and same_array(read_tif(a), read_tif(b)),
                         f"http groupby {m} {op} bitwise")
            zout = os.path.join(work, "http.zarr")
            r = cli("to-zarr", "--quiet", "-o", zout, *stac)
            c.ok(r.returncode == 0, "http to-zarr", r.stderr)
            if r.returncode == 0:
                za, zb = zarr.open(zref, mode="r"), zarr.open(zout, mode="r")
                c.ok(np.array_equal(za["data"][:], zb["data"][:], equal_nan=True),
                     "http to-zarr bitwise (read by zarr)")

        for opts, tag in ((("--fail-every", "7"), "fail every 7"),
                          (("--fail-every", "2"), "fail every 2"),
                          (("--close-every", "3"), "connections cut early")):
            with Server(root, *opts) as srv:
                it = items(work, srv.url, "flaky.json")
                compare(c, tag, reduce(c, work, tag.replace(" ", "_"),
                                       ["--stac", it, "--asset", "data"], env=FAST), ref)

        with Server(root, "--no-range") as srv:
            it = items(work, srv.url, "norange.json")
            out = os.path.join(work, "norange.tif")
            r = cli("reduce", "--quiet", "--op", "mean", "-o", out, "--stac", it, "--asset",
                    "data", env=FAST)
            c.ok(r.returncode == 1 and "range" in r.stderr.lower() and srv.url in r.stderr,
                 "no range support: clear error naming the URL", r.stderr)
            c.ok(not os.path.exists(out), "no range support: no output")

        with Server(root) as srv:
            names = [f"t{t}.tif" for t in range(T)]
            names[3] = "missing.tif"
            it = items(work, srv.url, "missing.json", names)
            out = os.path.join(work, "missing.tif")
            r = cli("reduce", "--quiet", "--op", "mean", "-o", out, "--stac", it, "--asset",
                    "data", env=FAST)
            c.ok(r.returncode == 1 and f"{srv.url}/missing.tif" in r.stderr and "404" in r.stderr,
                 "404 in the list names the URL and the status", r.stderr)
            c.ok(not [f for f in os.listdir(work) if f.startswith("missing.tif")],
                 "404: nothing left behind")
    c.finish()


if __name__ == "__main__":
    main()
