#!/usr/bin/env python3
"""`strata kerchunk` on GeoTIFFs, checked against GDAL.

Fixtures: tiled and striped, uncompressed, DEFLATE and ZSTD, a last strip shorter than the
others, pixel- and band-interleaved bands, big-endian, BigTIFF, sparse tiles. Each index must
read back equal, bit for bit, to GDAL's ReadAsArray; a stack gains a leading time dimension
and the geobox attributes. Predictor, LZW and JPEG files, and a stack whose geobox differs,
must be refused with a message naming the file.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kc_common import Checks, crashed, kerchunk, open_refs, require_cli, same, tmpdir  # noqa: E402
import numpy as np  # noqa: E402
from osgeo import gdal, osr  # noqa: E402

gdal.UseExceptions()
GT = [500000.0, 30.0, 0.0, 4600000.0, 0.0, -30.0]

CASES = {
    # name: (dtype, bands, creation options, nodata)
    "tiled_deflate": (gdal.GDT_Int16, 1, ["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16",
                                          "COMPRESS=DEFLATE"], -9999),
    "strip_zstd_pixel": (gdal.GDT_Float32, 2, ["COMPRESS=ZSTD", "BLOCKYSIZE=7"], None),
    "strip_raw_band": (gdal.GDT_UInt16, 3, ["INTERLEAVE=BAND", "BLOCKYSIZE=4"], 0),
    "strip_deflate_short": (gdal.GDT_Int32, 1, ["COMPRESS=DEFLATE", "BLOCKYSIZE=8"], None),
    "tiled_raw_bigendian": (gdal.GDT_Byte, 1, ["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16",
                                               "ENDIANNESS=BIG"], None),
    "bigtiff_f64": (gdal.GDT_Float64, 1, ["TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32",
                                          "COMPRESS=DEFLATE", "BIGTIFF=YES"], float("nan")),
    "bigendian_f32": (gdal.GDT_Float32, 1, ["TILED=YES", "ENDIANNESS=BIG", "COMPRESS=ZSTD"],
                      None),
}


def write_tif(path, dtype, bands, opts, nodata, seed, gt=GT, sparse=False):
    rng = np.random.default_rng(seed)
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(path, 45, 30, bands, dtype, opts + (["SPARSE_OK=TRUE"] if sparse else []))
    ds.SetGeoTransform(gt)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    np_type = gdal.GetDataTypeName(dtype)
    for b in range(bands):
        band = ds.GetRasterBand(b + 1)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        if sparse:
            band.WriteArray(np.full((16, 16), 7, dtype=np.int16), 0, 0)  # one tile only
            continue
        a = rng.integers(0, 250, size=(30, 45)) if "Int" in np_type or np_type == "Byte" \
            else rng.random((30, 45)) * 1000
        band.WriteArray(a)
    ds = None


def gdal_array(path):
    return gdal.Open(path).ReadAsArray()


def as_gdal_layout(da):
    """(y, x, band) pixel-interleaved chunks back to GDAL's (band, y, x)."""
    if da.dims[-1] == "band":
        return np.moveaxis(da.values, -1, -3)
    return da.values


def singles(c, root):
    for i, (name, (dtype, bands, opts, nodata)) in enumerate(CASES.items()):
        path = os.path.join(root, name + ".tif")
        write_tif(path, dtype, bands, opts, nodata, seed=i)
        for inline in ("500", "0"):
            refs = os.path.join(root, name + ".json")
            r = kerchunk(refs, [path], "--inline", inline)
            c.ok(r.returncode == 0, f"{name}: exit 0", r.stderr)
            ds = open_refs(refs, mask_and_scale=False)
            c.ok(same(as_gdal_layout(ds.data), gdal_array(path)), f"{name} inline {inline}: values")
        a = ds.data.attrs
        gt = [float(v) for v in a.get("GeoTransform", "").split()]
        c.ok(gt == GT and a.get("epsg") == 32633
             and "UTM zone 33N" in a.get("crs_wkt", ""), f"{name}: geobox attributes", str(a))
        if nodata is not None and nodata == nodata:
            c.ok(a.get("nodata") == nodata, f"{name}: nodata attribute")


def sparse(c, root):
    path = os.path.join(root, "sparse.tif")
    write_tif(path, gdal.GDT_Int16, 1, ["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16"], -1, 0,
              sparse=True)
    refs = os.path.join(root, "sparse.json")
    r = kerchunk(refs, [path])
    c.ok(r.returncode == 0, "sparse: exit 0", r.stderr)
    ds = open_refs(refs, mask_and_scale=False)
    c.ok(same(ds.data.values, gdal_array(path)), "sparse: missing tiles read as nodata")


def stack(c, root):
    paths = [os.path.join(root, f"stack_{i}.tif") for i in range(3)]
    for i, p in enumerate(paths):
        write_tif(p, gdal.GDT_UInt16, 2, ["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16",
                                           "COMPRESS=DEFLATE", "INTERLEAVE=BAND"], 0, seed=10 + i)
    refs = os.path.join(root, "stack.json")
    r = kerchunk(refs, paths, "--var", "refl", "--inline", "0")
    c.ok(r.returncode == 0, "stack: exit 0", r.stderr)
    ds = open_refs(refs, mask_and_scale=False)
    c.ok(ds.refl.dims == ("time", "band", "y", "x"), "stack: (time, band, y, x)",
         str(ds.refl.dims))
    c.ok(same(ds.refl.values, np.stack([gdal_array(p) for p in paths])), "stack: values")
    with open(refs) as f:
        doc = json.load(f)["refs"]
    c.ok(doc["refl/2.1.1.2"][0] == paths[2], "stack: chunk keys and paths", doc.get("refl/2.1.1.2"))
    # a file with another geotransform
    bad = os.path.join(root, "shifted.tif")
    write_tif(bad, gdal.GDT_UInt16, 2, ["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16",
                                         "COMPRESS=DEFLATE", "INTERLEAVE=BAND"], 0, seed=1,
              gt=[GT[0] + 30] + GT[1:])
    r = kerchunk(os.path.join(root, "bad.json"), paths + [bad])
    c.ok(r.returncode == 1 and bad in r.stderr and "geobox" in r.stderr, "stack: shifted refused",
         r.stderr)
    other = os.path.join(root, "other_tiles.tif")
    write_tif(other, gdal.GDT_UInt16, 2, ["TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32",
                                           "COMPRESS=DEFLATE", "INTERLEAVE=BAND"], 0, seed=1)
    r = kerchunk(os.path.join(root, "bad.json"), paths + [other])
    c.ok(r.returncode == 1 and other in r.stderr and not crashed(r),
         "stack: other tiling refused", r.stderr)


def refused(c, root):
    cases = [("predictor", ["COMPRESS=DEFLATE", "PREDICTOR=2"], "predictor"),
             ("lzw", ["COMPRESS=LZW"], "LZW"),
             ("jpeg", ["COMPRESS=JPEG"], "JPEG")]
    for name, opts, word in cases:
        path = os.path.join(root, name + ".tif")
        write_tif(path, gdal.GDT_Byte, 1, opts, None, seed=0)
        r = kerchunk(os.path.join(root, name + ".json"), [path])
        c.ok(r.returncode == 1 and word in r.stderr and path in r.stderr and not crashed(r),
             f"{name}: refused clearly", r.stderr)


def main():
    require_cli()
    c = Checks()
    root = tmpdir()
    c.run("singles", singles, root)
    c.run("sparse", sparse, root)
    c.run("stack", stack, root)
    c.run("refused", refused, root)
    c.finish()


if __name__ == "__main__":
    main()
