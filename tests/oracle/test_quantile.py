#!/usr/bin/env python3
"""Oracle test: median and quantile ops of `strata reduce` and `strata groupby` against
numpy's nanmedian and nanquantile (every method strata offers) on the float64 stack, with
nodata, NaN, all-missing pixels, odd and even counts, on float32, int16 and uint8 stacks.

Median, lower, higher and nearest must be bitwise equal; linear and midpoint interpolate,
and must be within 1 ulp of float64. Stacks of more than 16 steps are split in time, so the
finish parts (several workers selecting one tile's pixels) are covered; a tiny --memory
budget shrinks the tiles and must give the same values (not the same file bytes: GeoTIFF blocks are then written in pieces).
"""
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fixtures as fx  # noqa: E402  (imports xarray before osgeo)
import numpy as np  # noqa: E402
from osgeo import gdal  # noqa: E402

METHODS = ["linear", "lower", "higher", "nearest", "midpoint"]
EXACT = ("lower", "higher", "nearest")


def masked(st):
    """The stack as float64 with every missing value NaN."""
    x = st.data.astype(np.float64)
    if st.nodata is not None and not st.nodata_is_nan:
        x[st.data == st.nodata] = np.nan
    return x


def read(path):
    ds = gdal.Open(path)
    a = ds.ReadAsArray().astype(np.float64)
    a = a[None] if a.ndim == 2 else a
    for b in range(a.shape[0]):
        nd = ds.GetRasterBand(b + 1).GetNoDataValue()
        if nd is not None and not np.isnan(nd):
            a[b][a[b] == nd] = np.nan
    return a


def name_of(q):
    return "p%s" % ("%.10g" % (q * 100))


def reference(x, op, method="linear", skipna=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if op == "median":
            return np.nanmedian(x, axis=0) if skipna else np.median(x, axis=0)
        q = float(op[1:]) / 100
        f = np.nanquantile if skipna else np.quantile
        return f(x, q, axis=0, method=method)


def compare(got, exp, exact, what):
    same = (got == exp) | (np.isnan(got) & np.isnan(exp))
    if not exact:
        ulp = np.abs(np.nextafter(exp, np.inf) - exp)
        same |= np.abs(got - exp) <= ulp
    if not same.all():
        bad = ~same
        raise AssertionError("%s: %d of %d values differ, e.g. got %s expected %s" % (
            what, bad.sum(), bad.size, got[bad][:4], exp[bad][:4]))
    assert np.isnan(exp).any(), "%s: the fixture has no missing pixel" % what
    assert (~np.isnan(exp)).any(), "%s: nothing valid" % what


def reduce_run(paths, ops, out_dir, extra=()):
    out = os.path.join(out_dir, "r_{op}.tif")
    os.makedirs(out_dir, exist_ok=True)
    fx.check_ok(fx.run_cli(["reduce", "--op", ",".join(ops), "--dtype", "float64", "--quiet",
                            "-o", out] + list(extra) + paths), "reduce %s" % ",".join(ops))
    return {op: out.replace("{op}", op) for op in ops}


def references(x, ops, method, skipna=True):
    """Every op's reference, the quantiles in one numpy call (numpy loops over pixels)."""
    qops = [op for op in ops if op != "median"]
    qs = [float(op[1:]) / 100 for op in qops]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        f = np.nanquantile if skipna else np.quantile
        allq = f(x, qs, axis=0, method=method)
    refs = {op: allq[i] for i, op in enumerate(qops)}
    if "median" in ops:
        refs["median"] = reference(x, "median", skipna=skipna)
    return refs


def check_stack(st, root, methods, threads=("1", "2"), skipna=True):
    x = masked(st)
    ops = ["median", "p0", "p10", "p25", "p50", "p90", "p100", "p2.5"]
    for method in methods:
        refs = references(x, ops, method, skipna)
        first = None
        for th in threads:
            extra = ["--quantile-method", method, "--threads", th]
            if not skipna:
                extra.append("--no-skipna")
            outs = reduce_run(st.paths, ops, os.path.join(root, "%s_%s_%s" % (st.name, method, th)),
                              extra)
            got = {op: read(p) for op, p in outs.items()}
            for op in ops:
                exact = op == "median" or method in EXACT
                compare(got[op], refs[op], exact,
                        "%s %s %s threads %s" % (st.name, op, method, th))
            if first is None:
                first = got
            else:
                for op in ops:
                    assert np.array_equal(first[op], got[op], equal_nan=True), \
                        "%s %s: threads 1 and %s differ" % (st.name, op, th)


def t_float32(root):
    for T in (7, 24):  # one tile read by one worker; a tile split in time and finish parts
        st = fx.random_stack(os.path.join(root, "f32_%d" % T), "f32_%d" % T, np.float32, T=T,
                             B=2, R=70, C=90, seed=40 + T, nodata=-9999, block=64)
        check_stack(st, root, ["linear", "midpoint", "nearest"] if T == 24 else ["linear"])


def t_int16(root):
    st = fx.random_stack(os.path.join(root, "i16"), "i16", np.int16, T=18, B=1, R=60, C=80,
                         seed=51, nodata=-9999, block=32, miss_frac=0.3)
    check_stack(st, root, ["linear", "nearest", "midpoint"])


def t_uint8(root):
    st = fx.random_stack(os.path.join(root, "u8"), "u8", np.uint8, T=9, B=1, R=50, C=70, seed=52,
                         nodata=255, lo=0, hi=20, tiled=False)  # few distinct values: ties
    check_stack(st, root, ["linear", "lower", "higher"])
    # more steps than a byte counts: quickselect instead of the sorting network
    st = fx.random_stack(os.path.join(root, "u8_long"), "u8_long", np.uint8, T=300, B=1, R=20,
                         C=24, seed=57, nodata=255, lo=0, hi=20, block=16)
    check_stack(st, root, ["linear", "higher"])


def t_no_skipna(root):
    st = fx.random_stack(os.path.join(root, "f32_ns"), "f32_ns", np.float32, T=20, B=1, R=40,
                         C=50, seed=53, nodata=-9999, miss_frac=0.02, nan_frac=0.01)
    check_stack(st, root, ["linear"], threads=("2",), skipna=False)


def t_memory_budget(root):
    """A large T under a 1 MiB budget: tiles of a few rows, the same bytes as the default."""
    st = fx.random_stack(os.path.join(root, "f32_long"), "f32_long", np.float32, T=160, B=1,
                         R=64, C=96, seed=54, nodata=-9999, block=32)
    ops = ["median", "p10", "p90"]
    a = reduce_run(st.paths, ops, os.path.join(root, "mem_default"))
    b = reduce_run(st.paths, ops, os.path.join(root, "mem_1"), ["--memory", "1"])
    x = masked(st)
    refs = references(x, ops, "linear")
    for op in ops:
        ga, gb = read(a[op]), read(b[op])
        assert np.array_equal(ga, gb, equal_nan=True), "%s: --memory 1 changed values" % op
        compare(ga, refs[op], op == "median", "long stack %s" % op)


def t_groupby(root):
    st = fx.random_stack(os.path.join(root, "gb"), "gb", np.float32, T=30, B=1, R=40, C=60,
                         seed=55, nodata=-9999)
    labels = ["a" if t % 3 == 0 else "b" if t % 3 == 1 else "c" for t in range(30)]
    labels[29] = "d"  # a group of one step
    out = os.path.join(root, "gb_out")
    ops = ["median", "p25", "p75", "mean"]
    fx.check_ok(fx.run_cli(["groupby", "--labels", ",".join(labels), "--op", ",".join(ops),
                            "--quantile-method", "midpoint", "--dtype", "float64", "--quiet",
                            "-o", out] + st.paths), "groupby quantiles")
    with open(os.path.join(out, "index.json")) as f:
        idx = json.load(f)
    assert idx["ops"] == ["median", "mean", "p25", "p75"], "index ops %r" % idx["ops"]
    x = masked(st)
    for g in idx["groups"]:
        sel = [t for t in range(30) if labels[t] == g["label"]]
        refs = references(x[sel], ["median", "p25", "p75"], "midpoint")
        assert g["count"] == len(sel), "group %s count %r" % (g["label"], g["count"])
        for op in ("median", "p25", "p75"):
            want = "%s_%s.tif" % (g["label"], op)
            assert g["files"][op] == want, "group %s files %r" % (g["label"], g["files"])
            compare(read(os.path.join(out, want)), refs[op],
                    op == "median", "groupby %s %s" % (g["label"], op))


def t_errors(root):
    st = fx.random_stack(os.path.join(root, "err"), "err", np.float32, T=3, B=1, R=20, C=20,
                         seed=56, nodata=-9999)
    out = os.path.join(root, "err_{op}.tif")
    cases = [(["--op", "p101"], "p101"), (["--op", "pabc"], "unknown op"),
             (["--op", "quantile"], "unknown op"),
             (["--op", "p10", "--quantile-method", "cubic"], "cubic"),
             (["--op", "median", "--memory", "0"], "--memory")]
    for args, msg in cases:
        p = fx.run_cli(["reduce"] + args + ["-o", out, "--quiet"] + st.paths)
        assert p.returncode == 2, "%s: exit %d, expected 2" % (args, p.returncode)
        assert msg in p.stderr, "%s: message %r lacks %r" % (args, p.stderr, msg)
        assert not [f for f in os.listdir(root) if f.startswith("err_")], "%s left files" % args


def run_all():
    run = fx.Runner("oracle_quantile")
    with fx.TempDir() as root:
        for t in (t_float32, t_int16, t_uint8, t_no_skipna, t_memory_budget, t_groupby,
                  t_errors):
            run.check(t.__name__, t, root)
    return run.finish()


if __name__ == "__main__":
    fx.main_guard(run_all)
