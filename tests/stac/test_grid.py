"""STAC items in two UTM zones (mixed proj:epsg) over the loopback HTTP server, read on a
common EPSG:3035 grid. The items' proj: fields give the footprints (no file is opened to make
the grid); every timestep must equal gdalwarp of the local file to the grid the store
records, exactly (-et 0 on both sides, nearest). Without an output grid the same document is
refused as before, naming both EPSG codes. Same-day items fold into one timestep with
--mosaic day. With --mosaic solar_day, items that straddle UTC midnight at two longitudes are
grouped by odc-stac's rule, computed here in plain Python, and no item file is requested to
build the collection (the server's request log)."""
import datetime as dt
import json
import os

import numpy as np
import zarr
from osgeo import gdal, osr
from pyproj import Transformer

from stac_common import (Checks, Server, affine, cli, collection, read_tif, require_cli, tmpdir,
                         write_json)

gdal.UseExceptions()

N, RES, ND = 100, 10.0, -9999.0
# (epsg, lon, datetime): two days, one tile of each zone a day
SCENES = [(32632, 11.996, "2024-05-01T10:00:00Z"), (32633, 12.004, "2024-05-01T10:00:05Z"),
          (32632, 11.996, "2024-05-02T10:00:00Z"), (32633, 12.004, "2024-05-02T10:00:05Z")]


def write_scene(path, epsg, lon, seed):
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, 48.0)
    gt = (round(x / RES) * RES - N * RES / 2, RES, 0.0, round(y / RES) * RES + N * RES / 2, 0.0,
          -RES)
    a = (np.random.default_rng(seed).random((N, N)) * 1000).astype(np.float32)
    a[10:20, 30:50] = ND
    mem = gdal.GetDriverByName("MEM").Create("", N, N, 1, gdal.GDT_Float32)
    mem.SetGeoTransform(gt)
    s = osr.SpatialReference()
    s.ImportFromEPSG(epsg)
    mem.SetProjection(s.ExportToWkt())
    mem.GetRasterBand(1).SetNoDataValue(ND)
    mem.GetRasterBand(1).WriteArray(a)
    gdal.GetDriverByName("COG").CreateCopy(path, mem, options=["BLOCKSIZE=128"])
    mem = None
    return gt


def items(gts, scenes=SCENES):
    out = []
    for t, ((epsg, _, when), gt) in enumerate(zip(scenes, gts)):
        out.append({"type": "Feature", "stac_version": "1.0.0", "id": f"s{t}", "geometry": None,
                    "links": [],
                    "properties": {"datetime": when, "proj:epsg": epsg,
                                   "proj:transform": affine(gt), "proj:shape": [N, N]},
                    "assets": {"data": {"href": f"s{t}.tif",
                                        "raster:bands": [{"data_type": "float32",
                                                          "nodata": ND}]}}})
    return out


def warp(path, gt, rows, cols):
    ds = gdal.Warp("", path, format="MEM", dstSRS="EPSG:3035", width=cols, height=rows,
                   outputBounds=(gt[0], gt[3] + rows * gt[5], gt[0] + cols * gt[1], gt[3]),
                   resampleAlg="near", dstNodata=ND, errorThreshold=0)
    a = ds.GetRasterBand(1).ReadAsArray()
    ds = None
    return a


def read_store(store):
    z = zarr.open(store, mode="r")
    gt = [float(v) for v in z["spatial_ref"].attrs["GeoTransform"].split()]
    return z["data"][:], gt


def case_grid(c, work, url, paths):
    grid = ["--crs", "EPSG:3035", "--resolution", "20", "--warp-error", "0"]
    store = os.path.join(work, "g.zarr")
    r = cli("to-zarr", "-q", "-o", store, "--stac", url, *grid)
    c.ok(r.returncode == 0, "to-zarr on a grid", r.stderr)
    data, gt = read_store(store)
    c.ok(data.shape[0] == 4, "four timesteps", str(data.shape))
    for t, p in enumerate(paths):
        exp = warp(p, gt, data.shape[2], data.shape[3])
        c.ok(np.array_equal(exp, data[t, 0]), f"timestep {t} equals gdalwarp",
             f"{(exp != data[t, 0]).sum()} pixels differ")
    # reduce and groupby read the same cube: numpy on the gdalwarp outputs
    warped = np.ma.masked_equal(np.stack([warp(p, gt, data.shape[2], data.shape[3])
                                          for p in paths]).astype(np.float64), ND)
    out = os.path.join(work, "r_{op}.tif")
    r = cli("reduce", "--op", "mean,max", "-q", "-o", out, "--stac", url, *grid)
    c.ok(r.returncode == 0, "reduce on a grid", r.stderr)
    for op, exp in (("mean", warped.mean(axis=0)), ("max", warped.max(axis=0))):
        got = read_tif(out.format(op=op))[0].astype(np.float64)
        c.ok(np.allclose(got, exp.filled(ND), rtol=1e-6), f"reduce {op} equals numpy")
    gdir = os.path.join(work, "groups")
    r = cli("groupby", "--labels", "a,b,a,b", "--op", "mean", "-q", "-o", gdir, "--stac", url,
            *grid)
    c.ok(r.returncode == 0, "groupby on a grid", r.stderr)
    for g, sel in (("a", [0, 2]), ("b", [1, 3])):
        got = read_tif(os.path.join(gdir, g + ".tif"))[0].astype(np.float64)
        c.ok(np.allclose(got, warped[sel].mean(axis=0).filled(ND), rtol=1e-6),
             f"group {g} equals numpy")
    r = cli("info", "--stac", url, *grid)
    c.ok(r.returncode == 0 and "4 of 4 files warped" in r.stdout and "epsg:         3035"
         in r.stdout, "info names the grid", r.stdout + r.stderr)
    # the same-day pairs fold into one timestep: first valid value in item order
    store = os.path.join(work, "m.zarr")
    r = cli("to-zarr", "-q", "-o", store, "--stac", url, "--mosaic", "day", *grid)
    c.ok(r.returncode == 0, "to-zarr mosaic", r.stderr)
    mos, gt = read_store(store)
    c.ok(mos.shape[0] == 2, "two days", str(mos.shape))
    for d in range(2):
        a, b = (warp(p, gt, mos.shape[2], mos.shape[3]) for p in paths[2 * d:2 * d + 2])
        exp = np.where(a != ND, a, b)
        c.ok(np.array_equal(exp, mos[d, 0]), f"day {d} equals the first-valid fuse")


def case_refused(c, work, url):
    out = os.path.join(work, "no_{op}.tif")
    r = cli("reduce", "--op", "mean", "-q", "-o", out, "--stac", url)
    c.ok(r.returncode == 1 and "EPSG:32633" in r.stderr and "EPSG:32632" in r.stderr,
         "without a grid: refused naming both CRSs", r.stderr)
    c.ok(not os.path.exists(out.format(op="mean")), "nothing written")


# (lon, datetime): two tiles ~5 degrees apart, passes before and after UTC midnight
SOLAR = [(96.0, "2024-05-01T17:30:00Z"), (101.0, "2024-05-01T18:10:00Z"),
         (96.0, "2024-05-01T23:50:00Z"), (101.0, "2024-05-02T00:20:00Z"),
         (96.0, "2024-05-02T17:40:00Z"), (101.0, "2024-05-02T18:20:00Z")]


def odc_stac_solar_groups(when, lon):
    """odc-stac's load(groupby="solar_day"): every item's datetime is shifted by the centre
    longitude of the geobox being loaded, in whole hours truncated toward zero
    (_convert_to_solar_time: int(lon / 15) * 3600 s), and items of one date group together."""
    offset = dt.timedelta(seconds=int(lon / 15) * 3600)
    keys = [(dt.datetime.fromisoformat(w.replace("Z", "+00:00")) + offset).date() for w in when]
    groups = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    return sorted(groups.values())


def case_solar_day(c, work, srv, log):
    names, gts = [], []
    for t, (lon, _) in enumerate(SOLAR):
        names.append(f"sd{t}.tif")
        gts.append(write_scene(os.path.join(work, names[-1]), 32647, lon, 70 + t))
    feats = items(gts, [(32647, lon, when) for lon, when in SOLAR])
    for t, f in enumerate(feats):
        f["id"] = f"sd{t}"
        f["assets"]["data"]["href"] = names[t]
    write_json(os.path.join(work, "solar.json"), collection(feats))
    open(log, "w").close()
    r = cli("info", "--json", "--stac", srv.url + "/solar.json", "--crs", "EPSG:3857",
            "--resolution", "500", "--mosaic", "solar_day")
    c.ok(r.returncode == 0, "info --mosaic solar_day", r.stderr)
    requests = open(log).read().split("\n")
    tifs = [q for q in requests if ".tif" in q]
    c.ok(not tifs and any("solar.json" in q for q in requests),
         "building the collection requested no item file", "\n".join(requests))
    doc = json.loads(r.stdout)
    m = doc["meta"]
    gt, rows, cols = m["geotransform"], m["rows"], m["cols"]
    x = gt[0] + gt[1] * cols / 2 + gt[2] * rows / 2
    y = gt[3] + gt[4] * cols / 2 + gt[5] * rows / 2
    lon, _ = Transformer.from_crs(3857, 4326, always_xy=True).transform(x, y)
    c.ok(int(lon / 15) != round(lon / 15), f"the grid centre {lon:.3f} E tells truncation from "
         "rounding")
    expected = odc_stac_solar_groups([w for _, w in SOLAR], lon)
    index = {n: i for i, n in enumerate(names)}
    first, more = doc["mosaic"]["first"], doc["mosaic"]["items"]
    got = []
    for g, step in enumerate(doc["timesteps"]):
        paths = [step["path"]] + [more[e][0] for e in range(first[g], first[g + 1])]
        got.append(sorted(index[os.path.basename(p)] for p in paths))
    c.ok(sorted(got) == expected, "solar days grouped as odc-stac groups them",
         f"strata {got}, odc-stac's rule {expected}")
    utc = odc_stac_solar_groups([w for _, w in SOLAR], 0.0)
    c.ok(expected != utc, "the solar days differ from the UTC days", str(utc))


def main():
    require_cli()
    c = Checks()
    with tmpdir("strata-stac-grid-") as work:
        paths = [os.path.join(work, f"s{t}.tif") for t in range(len(SCENES))]
        gts = [write_scene(p, e, lon, 50 + t) for t, (p, (e, lon, _)) in
               enumerate(zip(paths, SCENES))]
        write_json(os.path.join(work, "items.json"), collection(items(gts)))
        log = os.path.join(work, "requests.log")
        with Server(work, "--log", log) as srv:
            url = srv.url + "/items.json"
            c.run("mixed proj:epsg on a common grid", case_grid, work, url, paths)
            c.run("mixed proj:epsg without a grid", case_refused, work, url)
            c.run("solar days at the grid centre's longitude", case_solar_day, work, srv, log)
    c.finish()


if __name__ == "__main__":
    main()
