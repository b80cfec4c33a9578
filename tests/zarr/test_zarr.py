"""`strata to-zarr` checked with readers strata shares no code with: zarr-python 2 (v2,
consolidated), xarray + rioxarray (CF time, CRS, transform, _FillValue) and GDAL's Zarr
driver (v2; GDAL 3.6 reads only an old draft of v3). v3 values are checked by
test_zarr_v3.py with zarrita.js. Prints "N passed, M failed"; exits non-zero on a failure.
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
import fixtures as fx  # noqa: E402  (imports xarray/rioxarray before osgeo)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from checks import Checks  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
import zarr  # noqa: E402
from osgeo import gdal  # noqa: E402

CODECS = ["blosc-lz4", "blosc-zstd", "zstd", "zlib", "none"]
TIMES = ["2021-01-01", "2021-02-01", "2021-03-01", "2021-04-01", "2021-05-01", "2021-06-01"]
EPOCH = np.datetime64("1970-01-01T00:00:00", "s")


def to_zarr(store, paths, *opts, ok=True):
    proc = fx.run_cli(["to-zarr", "-q", "-o", store] + list(opts) + list(paths))
    if ok:
        fx.check_ok(proc, "to-zarr")
    return proc


def bits(a):
    """The array's raw bytes, so NaN payloads and -0.0 compare exactly."""
    a = np.ascontiguousarray(a)
    return a.view(np.dtype("u%d" % a.dtype.itemsize))


def tree_digest(root):
    h = hashlib.sha256()
    for d, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            p = os.path.join(d, f)
            h.update(p.encode())
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def check_zarr_python(store, stack, fill):
    g = zarr.open_consolidated(store, mode="r")
    a = g["data"]
    assert a.dtype == stack.dtype, "dtype %s, expected %s" % (a.dtype, stack.dtype)
    assert np.array_equal(bits(a[:]), bits(stack.data)), "values differ from the sources"
    if fill is None:
        assert a.fill_value is None, "fill_value %r, expected none" % a.fill_value
    elif np.isnan(fill):
        assert np.isnan(a.fill_value), "fill_value %r, expected NaN" % a.fill_value
    else:
        assert a.fill_value == fill, "fill_value %r, expected %r" % (a.fill_value, fill)
    attrs = dict(g.attrs)
    assert attrs["time_length"] == stack.shape[0] and attrs["strata_zarr_version"] == 1
    assert attrs["source_files"] == stack.paths, attrs["source_files"]
    va = dict(a.attrs)
    assert va["dtype"] == str(stack.dtype) and va["grid_mapping"] == "spatial_ref"
    assert va["epsg"] == stack.epsg and va["GeoTransform"].split() == [
        "%.17g" % v for v in fx.GEOTRANSFORM]
    return g


def check_xarray(store, stack, times):
    ds = xr.open_zarr(store, decode_coords="all")
    da = ds["data"]
    assert da.dims == ("time", "band", "y", "x"), da.dims
    assert "spatial_ref" in ds.coords, list(ds.coords)
    assert da.rio.crs.to_epsg() == stack.epsg, da.rio.crs
    assert tuple(da.rio.transform())[:6] == (10.0, 0.0, 500000.0, 0.0, -10.0, 3500000.0), \
        da.rio.transform()
    if times:
        want = np.array([np.datetime64(t) for t in times], "datetime64[ns]")
        assert np.array_equal(ds.time.values, want), ds.time.values
    else:
        assert np.array_equal(ds.time.values, np.arange(stack.shape[0])), ds.time.values
    raw = xr.open_zarr(store, mask_and_scale=False)["data"].values
    assert raw.dtype == stack.dtype and np.array_equal(bits(raw), bits(stack.data))
    # decoded: nodata becomes NaN, through _FillValue
    miss = np.isnan(stack.masked())
    got = da.values
    assert np.array_equal(np.isnan(got), miss), "masked positions differ"
    assert np.array_equal(got[~miss], stack.data[~miss].astype(got.dtype))


def check_gdal(store, stack, fill):
    ds = gdal.OpenEx(store, gdal.OF_MULTIDIM_RASTER)
    ar = ds.GetRootGroup().OpenMDArray("data")
    assert [d.GetName() for d in ar.GetDimensions()] == ["time", "band", "y", "x"]
    srs = ar.GetSpatialRef()
    assert srs is not None and srs.GetAuthorityCode(None) == str(stack.epsg), srs
    got = ar.ReadAsArray()
    assert np.array_equal(bits(got.astype(stack.dtype)), bits(stack.data)), "GDAL values differ"
    nd = ar.GetNoDataValueAsDouble()
    if fill is not None:
        assert (np.isnan(nd) and np.isnan(fill)) or nd == fill, "GDAL nodata %r" % nd


# ---- cases -------------------------------------------------------------------------------

def case_codecs_v2(tmp, stack):
    for codec in CODECS:
        store = os.path.join(tmp, "v2_%s.zarr" % codec)
        to_zarr(store, stack.paths, "--codec", codec, "--times", ",".join(TIMES[:4]))
        check_zarr_python(store, stack, -9999.0)
        check_xarray(store, stack, TIMES[:4])
        check_gdal(store, stack, -9999.0)


def case_types(tmp):
    # uint16 without nodata: no fill, no times, edge chunks in every dimension
    s = fx.random_stack(os.path.join(tmp, "u16"), "u16", "uint16", 5, 3, 70, 90, 3)
    store = os.path.join(tmp, "u16.zarr")
    to_zarr(store, s.paths, "--chunks", "2,2,32,40", "--codec", "zstd")
    g = check_zarr_python(store, s, None)
    assert g["data"].chunks == (2, 2, 32, 40), g["data"].chunks
    ds = xr.open_zarr(store)
    assert ds["data"].dtype == np.uint16, "integer data became %s" % ds["data"].dtype
    assert np.array_equal(ds.time.values, np.arange(5))
    check_gdal(store, s, None)
    # int16 with nodata: xarray masks it through _FillValue
    s = fx.random_stack(os.path.join(tmp, "i16"), "i16", "int16", 4, 2, 60, 50, 4, nodata=-1)
    store = os.path.join(tmp, "i16.zarr")
    to_zarr(store, s.paths, "--times", ",".join(TIMES[:4]), "--codec", "zlib")
    check_zarr_python(store, s, -1)
    check_xarray(store, s, TIMES[:4])
    # float64 without nodata: fill NaN
    s = fx.random_stack(os.path.join(tmp, "f64"), "f64", "float64", 3, 1, 40, 30, 5)
    store = os.path.join(tmp, "f64.zarr")
    to_zarr(store, s.paths, "--name", "data")
    check_zarr_python(store, s, float("nan"))
    check_gdal(store, s, float("nan"))


def case_v3_layout(tmp, stack):
    for codec in CODECS:
        store = os.path.join(tmp, "v3_%s.zarr" % codec)
        to_zarr(store, stack.paths, "--zarr-version", "3", "--codec", codec, "--times",
                ",".join(TIMES[:4]))
        root = json.load(open(os.path.join(store, "zarr.json")))
        assert root["zarr_format"] == 3 and root["node_type"] == "group"
        assert root["attributes"]["time_length"] == 4
        arr = json.load(open(os.path.join(store, "data", "zarr.json")))
        assert arr["dimension_names"] == ["time", "band", "y", "x"]
        assert arr["data_type"] == "float32" and arr["fill_value"] == -9999.0
        names = [c["name"] for c in arr["codecs"]]
        want = {"none": [], "zlib": ["gzip"], "zstd": ["zstd"]}.get(codec, ["blosc"])
        assert names == ["bytes"] + want, names
        assert set(root["consolidated_metadata"]["metadata"]) == {
            "data", "time", "band", "y", "x", "spatial_ref"}
        assert os.path.exists(os.path.join(store, "data", "c", "3", "1", "0", "0"))
        assert not os.path.exists(os.path.join(store, ".zmetadata"))


def case_append(tmp, stack):
    for version in ("2", "3"):
        store = os.path.join(tmp, "append_v%s.zarr" % version)
        to_zarr(store, stack.paths[:2], "--zarr-version", version, "--times", ",".join(TIMES[:2]))
        to_zarr(store, stack.paths[2:], "--mode", "a", "--times", ",".join(TIMES[2:4]))
        if version == "2":
            check_zarr_python(store, stack, -9999.0)
            check_xarray(store, stack, TIMES[:4])
        else:
            root = json.load(open(os.path.join(store, "zarr.json")))
            assert root["attributes"]["time_length"] == 4
            assert root["attributes"]["source_files"] == stack.paths
        before = tree_digest(store)
        p = to_zarr(store, stack.paths[3:], "--mode", "a", "--times", TIMES[1], ok=False)
        assert p.returncode == 1 and "already in the store" in p.stderr, p.stderr
        p = to_zarr(store, stack.paths[3:], "--mode", "a", "--codec", "zstd", "--times",
                    TIMES[5], ok=False)
        assert p.returncode == 1 and "codec" in p.stderr, p.stderr
        p = to_zarr(store, stack.paths[3:], "--mode", "a", ok=False)
        assert p.returncode == 1 and "has times" in p.stderr, p.stderr
        assert tree_digest(store) == before, "a refused append changed the store"
    other = fx.random_stack(os.path.join(tmp, "other"), "o", "float32", 1, 2, 40, 40, 9,
                            nodata=-9999.0)
    p = to_zarr(os.path.join(tmp, "append_v2.zarr"), other.paths, "--mode", "a", "--times",
                TIMES[5], ok=False)
    assert p.returncode == 1 and "bands of" in p.stderr, p.stderr


def case_modes(tmp, stack):
    store = os.path.join(tmp, "modes.zarr")
    to_zarr(store, stack.paths)
    before = tree_digest(store)
    p = to_zarr(store, stack.paths[:1], "--mode", "w-", ok=False)
    assert p.returncode == 1 and "already exists" in p.stderr, p.stderr
    assert tree_digest(store) == before, "w- changed an existing store"
    to_zarr(store, stack.paths[:1], "--mode", "w")
    assert zarr.open_consolidated(store)["data"].shape[0] == 1
    folder = os.path.join(tmp, "not_a_store")
    os.makedirs(folder)
    open(os.path.join(folder, "keep.txt"), "w").write("x")
    p = to_zarr(folder, stack.paths, ok=False)
    assert p.returncode == 1 and os.path.exists(os.path.join(folder, "keep.txt")), p.stderr
    for bad in (["--codec", "lz5"], ["--chunks", "1,1,0,4"], ["--mode", "x"],
                ["--zarr-version", "4"]):
        p = to_zarr(os.path.join(tmp, "bad.zarr"), stack.paths, *bad, ok=False)
        assert p.returncode == 2, (bad, p.returncode, p.stderr)


def case_interrupted(tmp):
    """kill -9 midway: the store must not open, and mode a must refuse it."""
    s = fx.random_stack(os.path.join(tmp, "big"), "big", "float32", 48, 1, 512, 512, 7,
                        nodata=-9999.0, block=128, miss_frac=0.0)
    for version in ("2", "3"):
        store = os.path.join(tmp, "killed_v%s.zarr" % version)
        cmd = [fx.cli_path(), "to-zarr", "-q", "--threads", "1", "--codec", "zlib",
               "--zarr-version", version, "-o", store] + s.paths
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        data = os.path.join(store, "data")
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            n = sum(len(f) for _, _, f in os.walk(data)) if os.path.isdir(data) else 0
            if n >= 3:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the write finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for meta in (".zmetadata", ".zgroup", "zarr.json"):
            assert not os.path.exists(os.path.join(store, meta)), meta + " exists"
        for opener in (lambda: zarr.open_consolidated(store, mode="r"),
                       lambda: xr.open_zarr(store)):
            try:
                opener()
            except Exception:
                pass
            else:
                raise AssertionError("an interrupted store opened")
        p = to_zarr(store, s.paths[:1], "--mode", "a", "--zarr-version", version, ok=False)
        assert p.returncode == 1 and "did not finish" in p.stderr, p.stderr
        to_zarr(store, s.paths[:2], "--zarr-version", version)  # mode w replaces it


def main():
    gdal.UseExceptions()
    tmp = tempfile.mkdtemp(prefix="strata-zarr-")
    stack = fx.random_stack(os.path.join(tmp, "f32"), "f32", "float32", 4, 2, 100, 130, 1,
                            nodata=-9999.0)
    cases = [("codecs_v2", lambda: case_codecs_v2(tmp, stack)), ("types", lambda: case_types(tmp)),
             ("v3_layout", lambda: case_v3_layout(tmp, stack)),
             ("append", lambda: case_append(tmp, stack)), ("modes", lambda: case_modes(tmp, stack)),
             ("interrupted", lambda: case_interrupted(tmp))]
    checks = Checks()
    for name, fn in cases:
        checks.run(name, lambda c, fn=fn, name=name: (fn(), c.ok(True, name)))
    shutil.rmtree(tmp, ignore_errors=True)
    checks.finish()


if __name__ == "__main__":
    sys.exit(main())
