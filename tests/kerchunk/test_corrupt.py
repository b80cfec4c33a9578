#!/usr/bin/env python3
"""`strata kerchunk` on broken input: a clear error (exit 1, the file named), never a crash.

Truncated NetCDF3, NetCDF4 and TIFF files, random bytes, an empty file, a missing file and a
folder; then seeded mutations of valid NetCDF3 and TIFF headers (bytes flipped and counts
inflated), each of which must exit 0 or 1 without a sanitizer report. The fuzzers
(tests/fuzz) search the same parsers far more widely when built with clang.
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from kc_common import Checks, crashed, kerchunk, require_cli, tmpdir  # noqa: E402
import netCDF4  # noqa: E402
import numpy as np  # noqa: E402
from osgeo import gdal  # noqa: E402

MUTATIONS = 40  # per format; each is one CLI run


def seeds(root):
    nc3 = os.path.join(root, "seed3.nc")
    d = netCDF4.Dataset(nc3, "w", format="NETCDF3_64BIT_OFFSET")
    d.createDimension("time", None)
    d.createDimension("x", 6)
    t = d.createVariable("time", "f8", ("time",))
    t.units = "days since 2000-01-01"
    t[:] = [0, 1, 2]
    a = d.createVariable("a", "i2", ("time", "x"))
    a.scale_factor = 0.5
    a[:] = np.arange(18).reshape(3, 6)
    d.close()
    nc4 = os.path.join(root, "seed4.nc")
    d = netCDF4.Dataset(nc4, "w")
    d.createDimension("x", 100)
    v = d.createVariable("v", "f4", ("x",), zlib=True, chunksizes=(10,))
    v[:] = np.arange(100)
    d.close()
    tif = os.path.join(root, "seed.tif")
    ds = gdal.GetDriverByName("GTiff").Create(tif, 40, 30, 1, gdal.GDT_Int16,
                                              ["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16"])
    ds.GetRasterBand(1).WriteArray(np.arange(1200).reshape(30, 40))
    ds = None
    return nc3, nc4, tif


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def expect_error(c, label, path, out):
    r = kerchunk(out, [path])
    c.ok(r.returncode == 1 and path in r.stderr and not crashed(r),
         f"{label}: clear error naming the file", f"rc={r.returncode} {r.stderr[-300:]}")
    c.ok(not os.path.exists(out), f"{label}: no output")


def broken_files(c, root, nc3, nc4, tif):
    out = os.path.join(root, "out.json")
    for label, src, keep in [("nc3 header cut", nc3, 40), ("nc3 data cut", nc3, 200),
                             ("nc4 cut", nc4, 600), ("tiff header cut", tif, 12),
                             ("tiff data cut", tif, 1000)]:
        with open(src, "rb") as f:
            data = f.read()[:keep]
        expect_error(c, label, write(os.path.join(root, f"cut_{keep}_{os.path.basename(src)}"),
                                     data), out)
    rng = random.Random(7)
    expect_error(c, "random bytes", write(os.path.join(root, "random.bin"),
                                          bytes(rng.randrange(256) for _ in range(4096))), out)
    expect_error(c, "empty", write(os.path.join(root, "empty.nc"), b""), out)
    expect_error(c, "missing", os.path.join(root, "no_such_file.nc"), out)
    expect_error(c, "folder", root, out)
    expect_error(c, "hdf5 magic only", write(os.path.join(root, "magic.h5"),
                                             b"\x89HDF\r\n\x1a\n" + b"\0" * 100), out)
    # A header that claims 16,973,825 records of a short (t, x=3) variable in a 102-byte
    # file: refused at once, before a chunk is listed (the fuzzer found it took seconds).
    with open(os.path.join(HERE, "..", "fuzz", "corpus", "nc3", "records-past-end"), "rb") as f:
        expect_error(c, "nc3 records past the end", write(os.path.join(root, "records.nc"),
                                                          f.read()), out)


def mutate(rng, data):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(min(len(b), 300))
        b[i] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
    return bytes(b)


def mutations(c, root, nc3, tif):
    rng = random.Random(2024)
    out = os.path.join(root, "mut.json")
    for src in (nc3, tif):
        with open(src, "rb") as f:
            data = f.read()
        for k in range(MUTATIONS):
            path = write(os.path.join(root, f"mut_{k}_{os.path.basename(src)}"),
                         mutate(rng, data))
            r = kerchunk(out, [path])
            c.ok(r.returncode in (0, 1) and not crashed(r),
                 f"mutation {k} of {os.path.basename(src)}", r.stderr[-500:])
            c.ok(r.returncode == 0 or path in r.stderr, f"mutation {k}: error names the file",
                 r.stderr[-300:])
            os.unlink(path)


def main():
    require_cli()
    c = Checks()
    root = tmpdir()
    nc3, nc4, tif = seeds(root)
    c.run("broken files", broken_files, root, nc3, nc4, tif)
    c.run("mutations", mutations, root, nc3, tif)
    c.finish()


if __name__ == "__main__":
    main()
