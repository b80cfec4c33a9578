"""Kerchunk indexes of remote files (http URLs on a loopback server): the references equal
those of the same files indexed from disk except for the URLs, for tiled COGs, for striped
GeoTIFFs whose short last strip is read, padded and inlined, for ZSTD COGs whose tiles are
read and re-encoded, and for NetCDF3 files; the server's request log shows each file's header
fetched once and a ZSTD file's tiles read in one request; a server failing one request in
three gives the same references, and one failing every request, or a 404 in the list, fails
naming the URL and the status with no output left. The local index is checked against GDAL
and netCDF4 reading the files."""
import json
import os
import re
import subprocess
import sys
from collections import Counter

from kc_common import CLI, Checks, kerchunk, open_refs, require_cli, same, tmpdir

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "stac"))
from stac_common import Server  # noqa: E402

import numpy as np  # noqa: E402
from osgeo import gdal  # noqa: E402

gdal.UseExceptions()
T = 5
GT = (500000.0, 30.0, 0.0, 3500000.0, 0.0, -30.0)
FAST = {"GDAL_HTTP_RETRY_DELAY": "0.01"}


def write(root, kind):
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(7)
    if kind == "nc3":  # two records a file along an unlimited time: concatenated
        import netCDF4
        for t in range(T):
            with netCDF4.Dataset(os.path.join(root, f"t{t}.nc"), "w",
                                 format="NETCDF3_64BIT_OFFSET") as d:
                d.createDimension("time", None)
                d.createDimension("y", 30)
                d.createDimension("x", 40)
                tv = d.createVariable("time", "f8", ("time",))
                tv.units = "days since 2000-01-01"
                tv[:] = [2 * t, 2 * t + 1]
                d.createVariable("tas", "f4", ("time", "y", "x"))[:] = rng.normal(
                    size=(2, 30, 40))
        return
    for t in range(T):
        a = rng.normal(20, 5, size=(300, 400)).astype(np.float32)
        a[rng.random(a.shape) < 0.05] = -9999
        mem = gdal.GetDriverByName("MEM").Create("", 400, 300, 1, gdal.GDT_Float32)
        mem.SetGeoTransform(GT)
        mem.SetProjection("EPSG:32636")
        mem.GetRasterBand(1).SetNoDataValue(-9999)
        mem.GetRasterBand(1).WriteArray(a)
        path = os.path.join(root, f"t{t}.tif")
        if kind in ("cog", "zstd"):
            gdal.GetDriverByName("COG").CreateCopy(
                path, mem, options=["BLOCKSIZE=128", "OVERVIEWS=NONE",
                                    "COMPRESS=" + ("ZSTD" if kind == "zstd" else "DEFLATE")])
        else:  # 300 rows in strips of 64: the last strip has 44 and is padded inline
            gdal.GetDriverByName("GTiff").CreateCopy(
                path, mem, options=["COMPRESS=DEFLATE", "BLOCKYSIZE=64"])


def netcdf_values(path):
    import netCDF4
    with netCDF4.Dataset(path) as d:
        d.set_auto_mask(False)
        return d["tas"][:]


def run(env_extra, out, files):
    env = dict(os.environ)
    env.update(env_extra)
    return subprocess.run([CLI, "kerchunk", "-o", out, *files], capture_output=True, text=True,
                          timeout=120, env=env)


def refs(path):
    with open(path) as f:
        return json.load(f)["refs"]


def same_but_urls(local, remote, root, url):
    """The remote references with the URLs put back as the local paths equal the local ones."""
    if local.keys() != remote.keys():
        return False
    for k, v in remote.items():
        if isinstance(v, list) and v and isinstance(v[0], str) and v[0].startswith(url + "/"):
            v = [os.path.join(root, v[0][len(url) + 1:]), *v[1:]]
        if v != local[k]:
            return False
    return True


def main():
    require_cli()
    c = Checks()
    work = tmpdir()
    for kind in ("cog", "strips", "zstd", "nc3"):
        root = os.path.join(work, kind)
        write(root, kind)
        ext = "nc" if kind == "nc3" else "tif"
        files = [os.path.join(root, f"t{t}.{ext}") for t in range(T)]
        local = os.path.join(work, f"{kind}_local.json")
        r = kerchunk(local, files)
        c.ok(r.returncode == 0, f"{kind}: local index", r.stderr)
        # Oracles nobody here wrote: GDAL reading the GeoTIFFs, netCDF4 the NetCDF3 files.
        ds = open_refs(local, mask_and_scale=False)
        name = "tas" if kind == "nc3" else "data"
        want = np.concatenate([gdal.Open(f).ReadAsArray()[None] if ext == "tif"
                               else netcdf_values(f) for f in files])
        c.ok(same(ds[name].values, want), f"{kind}: local index reads as GDAL reads the files")
        ds.close()

        log = os.path.join(work, f"{kind}.log")
        with Server(root, "--log", log) as srv:
            urls = [f"{srv.url}/t{t}.{ext}" for t in range(T)]
            out = os.path.join(work, f"{kind}_remote.json")
            r = kerchunk(out, urls)
            c.ok(r.returncode == 0, f"{kind}: remote index", r.stderr)
            c.ok(r.returncode == 0 and same_but_urls(refs(local), refs(out), root, srv.url),
                 f"{kind}: remote references equal the local ones but for the URLs")
        with open(log) as f:
            gets = [ln.split() for ln in f if ln.startswith("GET")]
        heads = Counter(g[1] for g in gets if re.match(r"bytes=0-", g[2]))
        c.ok(len(heads) == T and all(n == 1 for n in heads.values()),
             f"{kind}: each file's header fetched once", str(heads))
        if kind == "zstd":
            # Every ZSTD tile is read (to be re-encoded with its size): a file's tiles, one
            # after the other, in one request.
            rest = Counter(g[1] for g in gets if not re.match(r"bytes=0-", g[2]))
            c.ok(len(rest) == T and all(n == 1 for n in rest.values()),
                 "zstd: a file's tiles read in one request", str(rest))

    root = os.path.join(work, "cog")
    files = [os.path.join(root, f"t{t}.tif") for t in range(T)]
    with Server(root, "--fail-every", "3") as srv:
        urls = [f"{srv.url}/t{t}.tif" for t in range(T)]
        out = os.path.join(work, "flaky.json")
        r = run(FAST, out, urls)
        c.ok(r.returncode == 0 and same_but_urls(refs(os.path.join(work, "cog_local.json")),
                                                 refs(out), root, srv.url),
             "a server failing one request in three: the same references", r.stderr)
    with Server(root, "--fail-all") as srv:
        out = os.path.join(work, "down.json")
        r = run(FAST, out, [f"{srv.url}/t{t}.tif" for t in range(T)])
        c.ok(r.returncode == 1 and srv.url in r.stderr and "503" in r.stderr,
             "a failing server: an error naming the URL and the status", r.stderr)
        c.ok(not os.path.exists(out), "a failing server: no output")
    with Server(root) as srv:
        urls = [f"{srv.url}/t{t}.tif" for t in range(T)]
        urls[3] = f"{srv.url}/missing.tif"
        out = os.path.join(work, "missing.json")
        r = run(FAST, out, urls)
        c.ok(r.returncode == 1 and urls[3] in r.stderr and "404" in r.stderr,
             "a 404 in the list names the URL and the status", r.stderr)
        c.ok(not [f for f in os.listdir(work) if f.startswith("missing.json")],
             "a 404: nothing left behind")
    c.finish()


if __name__ == "__main__":
    main()
