"""Zarr v3 stores from `strata to-zarr` read back with zarrita.js, a reader of the final v3
spec (Debian's zarr-python 2.13 and GDAL 3.6 only know drafts of v3). Every codec, a
multi-band float stack with nodata, an integer stack without, and an append: values must
equal the sources bit for bit.

zarrita is installed with npm into $ZARRITA_DIR (default: <build>/zarrita-node) on first
use. Prints "N passed, M failed"; exits non-zero on a failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
import fixtures as fx  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from checks import Checks  # noqa: E402
import numpy as np  # noqa: E402

ZARRITA_VERSION = "0.7.5"
HERE = os.path.dirname(os.path.abspath(__file__))
TIMES = ["2021-01-01", "2021-02-01", "2021-03-01", "2021-04-01"]


def zarrita_dir():
    d = os.environ.get("ZARRITA_DIR") or os.path.join(os.getcwd(), "zarrita-node")
    if not os.path.exists(os.path.join(d, "node_modules", "zarrita", "package.json")):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "package.json"), "w") as f:
            f.write('{"name": "strata-zarrita-oracle", "private": true}\n')
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent",
                        "zarrita@" + ZARRITA_VERSION], cwd=d, check=True, timeout=300)
    shutil.copy(os.path.join(HERE, "read_zarrita.mjs"), d)  # ESM resolves from its folder
    return d


def read(zdir, store, out, names):
    subprocess.run(["node", os.path.join(zdir, "read_zarrita.mjs"), store, out] + names,
                   check=True, timeout=120)
    return json.load(open(os.path.join(out, "meta.json")))


def check(zdir, tmp, store, stack, times):
    out = tempfile.mkdtemp(dir=tmp)
    meta = read(zdir, store, out, ["data", "time", "band", "y", "x", "spatial_ref"])
    a = meta["arrays"]["data"]
    assert a["shape"] == list(stack.shape) and a["dtype"] == str(stack.dtype), a
    got = np.fromfile(os.path.join(out, "data.bin"), stack.dtype.newbyteorder("<"))
    assert np.array_equal(got.view("u%d" % stack.dtype.itemsize),
                          stack.data.reshape(-1).view("u%d" % stack.dtype.itemsize)), \
        "values differ from the sources"
    t = np.fromfile(os.path.join(out, "time.bin"), "<i8")
    if times:
        want = [int(np.datetime64(x, "s").astype(np.int64)) for x in times]
    else:
        want = list(range(stack.shape[0]))
    assert t.tolist() == want, t
    x = np.fromfile(os.path.join(out, "x.bin"), "<f8")
    assert np.allclose(x, 500000 + 10 * (np.arange(stack.shape[3]) + 0.5), rtol=0, atol=0)
    assert meta["arrays"]["spatial_ref"]["value"] == 0
    assert "crs_wkt" in meta["arrays"]["spatial_ref"]["attrs"]
    assert meta["group_attrs"]["time_length"] == stack.shape[0]


def to_zarr(store, paths, *opts):
    fx.check_ok(fx.run_cli(["to-zarr", "-q", "--zarr-version", "3", "-o", store] + list(opts) +
                           list(paths)), "to-zarr")


def main():
    tmp = tempfile.mkdtemp(prefix="strata-zarr3-")
    try:
        zdir = zarrita_dir()
        f32 = fx.random_stack(os.path.join(tmp, "f32"), "f32", "float32", 4, 2, 100, 130, 1,
                              nodata=-9999.0)
        u8 = fx.random_stack(os.path.join(tmp, "u8"), "u8", "uint8", 3, 3, 50, 70, 2, lo=0,
                             hi=255)
        cases = []
        for codec in ["blosc-lz4", "blosc-zstd", "zstd", "zlib", "none"]:
            store = os.path.join(tmp, "%s.zarr" % codec)
            cases.append(("float32 " + codec, lambda s=store, c=codec: (
                to_zarr(s, f32.paths, "--codec", c, "--times", ",".join(TIMES)),
                check(zdir, tmp, s, f32, TIMES))))
        u8store = os.path.join(tmp, "u8.zarr")
        cases.append(("uint8 chunks 2,2,16,32", lambda: (
            to_zarr(u8store, u8.paths, "--chunks", "2,2,16,32"), check(zdir, tmp, u8store, u8,
                                                                        None))))
        ap = os.path.join(tmp, "append.zarr")
        cases.append(("append", lambda: (
            to_zarr(ap, f32.paths[:2], "--times", ",".join(TIMES[:2])),
            to_zarr(ap, f32.paths[2:], "--mode", "a", "--times", ",".join(TIMES[2:])),
            check(zdir, tmp, ap, f32, TIMES))))
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed")
        return 1
    checks = Checks()
    for name, fn in cases:
        checks.run(name, lambda c, fn=fn, name=name: (fn(), c.ok(True, name)))
    shutil.rmtree(tmp, ignore_errors=True)
    checks.finish()


if __name__ == "__main__":
    sys.exit(main())
