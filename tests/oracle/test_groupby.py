#!/usr/bin/env python3
"""Oracle test: `strata groupby` against `strata reduce` on each group (bitwise), against
xarray's groupby (with flox) on the masked float64 cube, and against labels computed with
Python's datetime. Also index.json, --labels/--times from files, --time-pattern and the
error cases."""
import datetime as dt
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fixtures as fx  # noqa: E402  (imports xarray before osgeo)
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

xr.set_options(use_flox=True)

# 15 timesteps from Nov 2020 to Feb 2022: Dec/Jan/Feb on both sides of two year boundaries.
DATES = ["2020-11-20", "2020-12-05", "2020-12-25", "2021-01-10", "2021-02-14", "2021-03-01",
         "2021-04-30", "2021-06-15", "2021-07-04", "2021-08-31", "2021-09-22", "2021-10-10",
         "2021-12-31", "2022-01-01", "2022-02-28"]
SEASONS = ["DJF", "DJF", "MAM", "MAM", "MAM", "JJA", "JJA", "JJA", "SON", "SON", "SON", "DJF"]


def parse_date(s):
    return dt.datetime.strptime(s, "%Y-%m-%d")


def label_of(d, key):
    if key == "month":
        return "%02d" % d.month
    if key == "season":
        return SEASONS[d.month - 1]
    if key == "year":
        return "%04d" % d.year
    if key == "dayofyear":
        return "%03d" % d.timetuple().tm_yday
    if key == "yearmonth":
        return "%04d-%02d" % (d.year, d.month)
    if key == "yearseason":
        return "%04d-%s" % (d.year + (1 if d.month == 12 else 0), SEASONS[d.month - 1])
    raise ValueError(key)


def make_stack(root, name, dtype, seed, names=None, B=2, nodata=-9999):
    T = len(DATES)
    st = fx.random_stack(os.path.join(root, name), name, dtype, T=T, B=B, R=70, C=90, seed=seed,
                         nodata=nodata, tiled=True, block=64, names=names)
    # Rewrite with group-specific gaps: a pixel row missing at every DJF timestep (all-missing
    # in groups 12/01/02, DJF, *-DJF) and one missing at every December timestep only.
    data = st.data.copy()
    mv = nodata if nodata is not None else np.nan
    for t, d in enumerate(DATES):
        m = parse_date(d).month
        if m in (12, 1, 2):
            data[t, :, 20, 20:25] = mv
        else:
            data[t, :, 20, 20:25] = 100 + t
        if m == 12:
            data[t, 0, 21, 30:35] = mv
    for t, p in enumerate(st.paths):
        fx.write_raster(p, data[t], nodata=nodata, tiled=True, block=64)
    st.data = data
    return st


def groupby_args(files, ops, outdir, by=None, labels=None, times=None, pattern=None, extra=()):
    a = ["groupby"] + list(extra)
    if by:
        a += ["--by", by]
    if labels is not None:
        a += ["--labels", labels]
    a += ["--op", ",".join(ops)]
    if times is not None:
        a += ["--times", times]
    if pattern is not None:
        a += ["--time-pattern", pattern]
    a += ["-o", outdir]
    return a + list(files)


def read_index(outdir):
    p = os.path.join(outdir, "index.json")
    assert os.path.isfile(p), "no index.json in %s (files: %s)" % (outdir, fx.listdir_recursive(outdir))
    with open(p) as f:
        return json.load(f)


def expected_groups(labels, first_seen):
    order = list(dict.fromkeys(labels)) if first_seen else sorted(set(labels))
    return [(L, [i for i, x in enumerate(labels) if x == L]) for L in order]


def check_index(outdir, groups, ops):
    """index.json lists the groups in the expected order with counts and file names, and the
    listed files (and only those, plus index.json) exist."""
    idx = read_index(outdir)
    assert idx.get("ops") == list(ops), "index ops %r, expected %r" % (idx.get("ops"), ops)
    got = [(g.get("label"), g.get("count")) for g in idx.get("groups", [])]
    exp = [(L, len(ts)) for L, ts in groups]
    assert got == exp, "index groups %r, expected %r" % (got, exp)
    expected_files = ["index.json"]
    for g, (L, _ts) in zip(idx["groups"], groups):
        if len(ops) == 1:
            want = {ops[0]: "%s.tif" % L}
        else:
            want = {op: "%s_%s.tif" % (L, op) for op in ops}
        assert g.get("files") == want, "group %s files %r, expected %r" % (L, g.get("files"), want)
        expected_files += list(want.values())
    on_disk = fx.listdir_recursive(outdir)
    assert on_disk == sorted(expected_files), "files in %s: %s, expected %s" % (
        outdir, on_disk, sorted(expected_files))
    return idx


# `strata reduce` outputs by (files, ops, options): groups of the same files under different
# keys (a yearmonth and a dayofyear of one file) are compared with one reduce run.
REDUCED = {}


def check_against_reduce(st, outdir, groups, ops, root, skipna=True, ddof=0, dtype=None):
    """Every group's outputs are bitwise equal to `strata reduce` over that group's files, and
    match the numpy reference."""
    errors = []
    x = st.masked()
    for gi, (L, ts) in enumerate(groups):
        files = [st.paths[t] for t in ts]
        key = (tuple(files), tuple(ops), skipna, ddof, dtype)
        rout = REDUCED.get(key)
        if rout is None:
            rdir = os.path.join(root, "reduce_%s_%d" % (os.path.basename(outdir), gi))
            os.makedirs(rdir)
            if len(ops) == 1:
                rout = os.path.join(rdir, "r.tif")
            else:
                rout = os.path.join(rdir, "r_{op}.tif")
            extra = [] if skipna else ["--no-skipna"]
            extra += ["--ddof", str(ddof)] if ddof else []
            extra += ["--dtype", dtype] if dtype else []
            fx.check_ok(fx.run_cli(["reduce", "--op", ",".join(ops), "--quiet"] + extra +
                                   ["-o", rout] + files), "reduce group %s" % L)
            REDUCED[key] = rout
        sub = st.subset(ts)
        for op in ops:
            gpath = os.path.join(outdir, "%s.tif" % L if len(ops) == 1 else "%s_%s.tif" % (L, op))
            rpath = rout.replace("{op}", op)
            try:
                g = fx.compare_output(gpath, sub, op, x=x[ts], skipna=skipna, ddof=ddof,
                                      dtype_opt=dtype)
                r = fx.Raster(rpath)
                assert g.dtype == r.dtype and g.geotransform == r.geotransform and \
                    same_nodata(g.nodata, r.nodata), \
                    "group %s op %s: type/nodata/geotransform differ from reduce: %s %s vs %s %s" % (
                        L, op, g.dtype, g.nodata, r.dtype, r.nodata)
                if g.raw != r.raw:
                    a, b = g.array, r.array
                    diff = ~((a == b) | (np.isnan(a.astype(float)) & np.isnan(b.astype(float))))
                    raise AssertionError("group %s op %s: differs from strata reduce: %s" % (
                        L, op, fx.describe_mismatch(diff, a, b)))
            except AssertionError as e:
                errors.append(str(e))
    if errors:
        raise AssertionError("\n    ".join(errors))


def same_nodata(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is None or y is None:
            if not (x is None and y is None):
                return False
        elif not (x == y or (np.isnan(x) and np.isnan(y))):
            return False
    return True


def to_xarray(st, times=None, labels=None):
    x = st.masked()
    coords = {"band": np.arange(x.shape[1]) + 1}
    if times is not None:
        coords["time"] = np.array([np.datetime64(t) for t in times], dtype="datetime64[ns]")
    da = xr.DataArray(x, dims=("time", "band", "y", "x"), coords=coords)
    if labels is not None:
        da = da.assign_coords(grp=("time", list(labels)))
    return da


def xr_reduce(gb, op, ddof=0):
    if op == "mean":
        return gb.mean(skipna=True)
    if op == "sum":
        return gb.sum(skipna=True, min_count=1)
    if op == "min":
        return gb.min(skipna=True)
    if op == "max":
        return gb.max(skipna=True)
    if op == "std":
        return gb.std(skipna=True, ddof=ddof)
    if op == "var":
        return gb.var(skipna=True, ddof=ddof)
    if op == "count":
        return gb.count()
    if op == "median":
        return gb.median(skipna=True)
    raise ValueError(op)


def check_vs_xarray(st, outdir, gb, dim, label_fmt, ops, single=False):
    """Compares each group's output of each op with xarray's grouped reduction."""
    errors = []
    x = st.masked()
    group_idx = {k: np.asarray(v) for k, v in gb.groups.items()}
    for op in ops:
        res = xr_reduce(gb, op).compute()
        for key in res[dim].values:
            L = label_fmt(key)
            exp = np.asarray(res.sel({dim: key}).values, dtype=np.float64)  # (B, R, C)
            path = os.path.join(outdir, "%s.tif" % L if single else "%s_%s.tif" % (L, op))
            try:
                check_values(path, exp, op, st, x[group_idx[key]])
            except AssertionError as e:
                errors.append("group %s op %s vs xarray: %s" % (L, op, e))
    if errors:
        raise AssertionError("\n    ".join(errors))


def check_values(path, exp, op, st, x_group):
    assert os.path.isfile(path), "missing output %s" % path
    r = fx.Raster(path)
    got = r.array
    exp_miss = np.isnan(exp)
    nd = r.nodata[0]
    if op == "count":
        got_miss = np.zeros(got.shape, bool)
    elif nd is None or np.isnan(nd):
        got_miss = np.isnan(got.astype(np.float64))
    else:
        got_miss = (got == np.asarray(nd).astype(got.dtype)) | np.isnan(got.astype(np.float64))
    bad = got_miss != exp_miss
    assert not bad.any(), "missing positions differ: " + fx.describe_mismatch(bad, exp, got)
    ok = ~exp_miss
    g = got[ok].astype(np.float64)
    e = exp[ok]
    if op in ("min", "max", "count") or got.dtype.kind in "iu":
        badv = g != e
    else:
        rtol = 1e-6 if got.dtype == np.float32 else 1e-12
        atol = fx.tolerance(x_group, op, rtol)[ok]
        badv = ~(np.abs(g - e) <= rtol * np.abs(e) + atol)
    if badv.any():
        full = np.zeros(got.shape, bool)
        full[ok] = badv
        raise AssertionError("values differ: " + fx.describe_mismatch(full, exp, got))


# ---- the tests ---------------------------------------------------------------------------

class Ctx:
    pass


def t_month_all_ops(c):
    out = os.path.join(c.root, "month_all")
    proc = fx.run_cli(groupby_args(c.st.paths, fx.ALL_OPS, out, by="month", times=",".join(DATES)))
    fx.check_ok(proc, "groupby --by month")
    labels = [label_of(parse_date(d), "month") for d in DATES]
    groups = expected_groups(labels, first_seen=False)
    check_index(out, groups, fx.ALL_OPS)
    c.month_all = out
    check_against_reduce(c.st, out, groups, fx.ALL_OPS, c.root)


def t_month_vs_xarray(c):
    out = c.month_all
    da = to_xarray(c.st, times=DATES)
    check_vs_xarray(c.st, out, da.groupby("time.month"), "month", lambda k: "%02d" % int(k),
                    fx.ALL_OPS)
    # the all-missing group pixel: missing in December's mean, present in March's
    r12 = fx.Raster(os.path.join(out, "12_mean.tif")).array
    r03 = fx.Raster(os.path.join(out, "03_mean.tif")).array
    nd = -9999
    assert (r12[:, 20, 20:25] == nd).all() and (r12[0, 21, 30:35] == nd).all(), \
        "December mean not missing where every December value is nodata"
    assert (r03[:, 20, 20:25] != nd).all(), "March mean missing where March is valid"
    cnt = fx.Raster(os.path.join(out, "12_count.tif")).array
    assert (cnt[:, 20, 20:25] == 0).all(), "December count not 0 on the all-missing pixel"


def t_season(c):
    out = os.path.join(c.root, "season")
    fx.check_ok(fx.run_cli(groupby_args(c.st.paths, ["mean"], out, by="season",
                                        times=",".join(DATES))), "groupby --by season")
    labels = [label_of(parse_date(d), "season") for d in DATES]
    groups = expected_groups(labels, first_seen=False)
    assert [L for L, _ in groups] == ["DJF", "JJA", "MAM", "SON"]
    assert dict(groups)["DJF"] == [1, 2, 3, 4, 12, 13, 14]
    check_index(out, groups, ["mean"])
    check_against_reduce(c.st, out, groups, ["mean"], c.root)
    da = to_xarray(c.st, times=DATES)
    check_vs_xarray(c.st, out, da.groupby("time.season"), "season", str, ["mean"], single=True)
    djf = fx.Raster(os.path.join(out, "DJF.tif")).array
    assert (djf[:, 20, 20:25] == -9999).all(), "DJF mean not missing on the all-DJF-missing pixel"


def t_season_several_ops_vs_xarray(c):
    out = os.path.join(c.root, "season_ops")
    ops = ["median", "count", "sum", "std"]
    fx.check_ok(fx.run_cli(groupby_args(c.st.paths, ops, out, by="season",
                                        times=",".join(DATES))), "groupby --by season, 4 ops")
    labels = [label_of(parse_date(d), "season") for d in DATES]
    check_index(out, expected_groups(labels, first_seen=False), ops)
    da = to_xarray(c.st, times=DATES)
    check_vs_xarray(c.st, out, da.groupby("time.season"), "season", str, ops)


def t_yearseason(c):
    out = os.path.join(c.root, "yearseason")
    ops = ["mean", "max", "count"]
    fx.check_ok(fx.run_cli(groupby_args(c.st.paths, ops, out, by="yearseason",
                                        times=",".join(DATES))), "groupby --by yearseason")
    labels = [label_of(parse_date(d), "yearseason") for d in DATES]
    groups = expected_groups(labels, first_seen=False)
    exp_labels = ["2020-SON", "2021-DJF", "2021-JJA", "2021-MAM", "2021-SON", "2022-DJF"]
    assert [L for L, _ in groups] == exp_labels, [L for L, _ in groups]
    # Dec 2020 belongs to 2021-DJF, Dec 2021 to 2022-DJF
    assert dict(groups)["2021-DJF"] == [1, 2, 3, 4] and dict(groups)["2022-DJF"] == [12, 13, 14]
    check_index(out, groups, ops)
    check_against_reduce(c.st, out, groups, ops, c.root)
    da = to_xarray(c.st, times=DATES, labels=labels)
    check_vs_xarray(c.st, out, da.groupby("grp"), "grp", str, ops)


def t_other_keys(c):
    for key in ("year", "yearmonth", "dayofyear"):
        out = os.path.join(c.root, "key_" + key)
        fx.check_ok(fx.run_cli(groupby_args(c.st.paths, ["mean", "min"], out, by=key,
                                            times=",".join(DATES))), "groupby --by " + key)
        labels = [label_of(parse_date(d), key) for d in DATES]
        groups = expected_groups(labels, first_seen=False)
        check_index(out, groups, ["mean", "min"])
        check_against_reduce(c.st, out, groups, ["mean", "min"], c.root)
    # xarray's own year grouping agrees
    da = to_xarray(c.st, times=DATES)
    check_vs_xarray(c.st, os.path.join(c.root, "key_year"), da.groupby("time.year"), "year",
                    lambda k: "%04d" % int(k), ["mean", "min"])


def t_labels(c):
    labels = ["b", "a", "b", "c", "a", "b", "zz", "c", "a", "b", "a", "c", "zz", "b", "a"]
    assert len(labels) == len(DATES)
    out = os.path.join(c.root, "labels")
    ops = ["mean", "var", "min"]
    fx.check_ok(fx.run_cli(groupby_args(c.st.paths, ops, out, labels=",".join(labels))),
                "groupby --labels")
    groups = expected_groups(labels, first_seen=True)
    assert [L for L, _ in groups] == ["b", "a", "c", "zz"]
    check_index(out, groups, ops)
    check_against_reduce(c.st, out, groups, ops, c.root)
    da = to_xarray(c.st, labels=labels)
    check_vs_xarray(c.st, out, da.groupby("grp"), "grp", str, ops)
    # --labels @FILE gives the same outputs
    lf = os.path.join(c.root, "labels.txt")
    with open(lf, "w") as f:
        f.write("\n".join(labels) + "\n")
    out2 = os.path.join(c.root, "labels_file")
    fx.check_ok(fx.run_cli(groupby_args(c.st.paths, ops, out2, labels="@" + lf)), "--labels @FILE")
    assert read_index(out2) == read_index(out), "index.json differs between --labels and @FILE"
    for f in fx.listdir_recursive(out):
        if f.endswith(".tif"):
            assert fx.Raster(os.path.join(out, f)).raw == fx.Raster(os.path.join(out2, f)).raw, \
                "%s differs between --labels list and @FILE" % f


def t_times_file_and_pattern(c):
    ref = os.path.join(c.root, "month_mean")
    fx.check_ok(fx.run_cli(groupby_args(c.st.paths, ["mean"], ref, by="month",
                                        times=",".join(DATES))), "month mean")
    labels = [label_of(parse_date(d), "month") for d in DATES]
    groups = expected_groups(labels, first_seen=False)
    check_index(ref, groups, ["mean"])
    # --times @FILE
    tf = os.path.join(c.root, "times.txt")
    with open(tf, "w") as f:
        f.write("\n".join(DATES) + "\n")
    out = os.path.join(c.root, "month_timesfile")
    fx.check_ok(fx.run_cli(groupby_args(c.st.paths, ["mean"], out, by="month", times="@" + tf)),
                "--times @FILE")
    # --time-pattern on a stack whose names carry the dates (same pixel values)
    out2 = os.path.join(c.root, "month_pattern")
    fx.check_ok(fx.run_cli(groupby_args(c.st_named.paths, ["mean"], out2, by="month",
                                        pattern="%Y%m%d")), "--time-pattern")
    for o in (out, out2):
        check_index(o, groups, ["mean"])
        for L, _ in groups:
            a = fx.Raster(os.path.join(ref, L + ".tif")).raw
            b = fx.Raster(os.path.join(o, L + ".tif")).raw
            assert a == b, "%s/%s.tif differs from --times list output" % (os.path.basename(o), L)


def t_iso_times_with_offsets(c):
    """Times are UTC: 2021-03-01T00:30:00+01:00 is 2021-02-28T23:30Z (month 02, DJF);
    2020-12-31T23:00:00-02:00 is 2021-01-01T01:00Z (month 01, year 2021)."""
    times = list(DATES)
    times[5] = "2021-03-01T00:30:00+01:00"
    times[12] = "2021-12-31T23:00:00-02:00"
    times[6] = "2021-04-30T10:00:00Z"
    utc = [parse_date(d) for d in DATES]
    utc[5] = dt.datetime(2021, 2, 28, 23, 30)
    utc[12] = dt.datetime(2022, 1, 1, 1, 0)
    for key in ("month", "year", "yearseason"):
        out = os.path.join(c.root, "offsets_" + key)
        fx.check_ok(fx.run_cli(groupby_args(c.st.paths, ["count"], out, by=key,
                                            times=",".join(times))), "offsets " + key)
        labels = [label_of(d, key) for d in utc]
        check_index(out, expected_groups(labels, first_seen=False), ["count"])


def t_reduce_options(c):
    """groupby takes reduce's options: --no-skipna, --ddof, --dtype."""
    ops = ["mean", "std", "var", "sum", "count", "median"]
    for i, (skipna, ddof, dtype) in enumerate([(False, 1, "float64"), (True, 1, None),
                                               (False, 0, "float32")]):
        extra = (["--no-skipna"] if not skipna else []) + ["--ddof", str(ddof)]
        extra += ["--dtype", dtype] if dtype else []
        out = os.path.join(c.root, "opts%d" % i)
        fx.check_ok(fx.run_cli(groupby_args(c.st.paths, ops, out, by="season",
                                            times=",".join(DATES), extra=extra)),
                    "groupby " + " ".join(extra))
        labels = [label_of(parse_date(d), "season") for d in DATES]
        groups = expected_groups(labels, first_seen=False)
        check_index(out, groups, ops)
        check_against_reduce(c.st, out, groups, ops, c.root, skipna=skipna, ddof=ddof,
                             dtype=dtype)


def expect_failure(args, outdir, what, mention=None):
    proc = fx.run_cli(args)
    assert proc.returncode != 0, "%s: exit 0, expected failure" % what
    assert 0 < proc.returncode < 128, "%s: exit %d (crash?)\n%s" % (what, proc.returncode,
                                                                  proc.stderr[-2000:])
    assert proc.stderr.strip(), "%s: no message on stderr" % what
    if mention:
        assert any(m.lower() in proc.stderr.lower() for m in mention), \
            "%s: stderr %r names none of %r" % (what, proc.stderr.strip()[-400:], mention)
    left = fx.listdir_recursive(outdir) if os.path.isdir(outdir) else []
    assert left == [], "%s: files left in %s: %s" % (what, outdir, left)


def t_errors(c):
    files = c.st.paths
    errs = []

    def case(what, *a, **kw):
        try:
            expect_failure(*a, **kw)
        except AssertionError as e:
            errs.append(str(e))

    e = lambda n: os.path.join(c.root, "err_" + n)  # noqa: E731
    case("label count < files", groupby_args(files, ["mean"], e("lab1"),
                                             labels=",".join(["a", "b"] * 7)), e("lab1"),
         "label count < files")
    case("label count > files", groupby_args(files, ["mean"], e("lab2"),
                                             labels=",".join(["a"] * 16)), e("lab2"),
         "label count > files")
    case("--by month without times", groupby_args(files, ["mean"], e("notimes"), by="month"),
         e("notimes"), "--by month without times", ["time"])
    case("--by season without times", groupby_args(files, ["mean", "max"], e("notimes2"),
                                                   by="season"), e("notimes2"), "season no times",
         ["time"])
    bad = list(DATES)
    bad[3] = "2021-13-45"
    case("bad month/day", groupby_args(files, ["mean"], e("badtime"), by="month",
                                       times=",".join(bad)), e("badtime"), "bad time 2021-13-45",
         ["2021-13-45", os.path.basename(files[3])])
    bad2 = list(DATES)
    bad2[7] = "not-a-date"
    case("unparseable time", groupby_args(files, ["mean"], e("badtime2"), by="season",
                                          times=",".join(bad2)), e("badtime2"), "not-a-date",
         ["not-a-date", os.path.basename(files[7])])
    case("times count < files", groupby_args(files, ["mean"], e("tcount"), by="month",
                                             times=",".join(DATES[:-1])), e("tcount"),
         "fewer times than files")
    case("unknown --by key", groupby_args(files, ["mean"], e("badkey"), by="fortnight",
                                          times=",".join(DATES)), e("badkey"), "--by fortnight",
         ["fortnight"])
    case("unknown op", groupby_args(files, ["mean", "mode"], e("badop"), by="month",
                                    times=",".join(DATES)), e("badop"), "op mode", ["mode"])
    # a file whose name does not match --time-pattern: the message names it
    named = list(c.st_named.paths)
    odd = os.path.join(os.path.dirname(named[0]), "nodate_here.tif")
    fx.write_raster(odd, c.st_named.data[4], nodata=-9999, tiled=True, block=64)
    named[4] = odd
    case("--time-pattern no match", groupby_args(named, ["mean"], e("nopat"), by="month",
                                                 pattern="%Y%m%d"), e("nopat"),
         "pattern does not match", ["nodate_here"])
    # a misaligned file in a group: nothing written
    mis = os.path.join(c.root, "misaligned.tif")
    fx.write_raster(mis, np.ones((2, 70, 89), np.int16), nodata=-9999)
    case("misaligned file", groupby_args(files[:-1] + [mis], ["mean", "count"], e("mis"),
                                         by="month", times=",".join(DATES)), e("mis"),
         "misaligned", ["misaligned.tif"])
    if errs:
        raise AssertionError("\n    ".join(errs))


def run_all():
    fx.cli_path()
    run = fx.Runner("oracle_groupby")
    with fx.TempDir() as root:
        c = Ctx()
        c.root = root
        c.st = make_stack(os.path.join(root, "in"), "gb_i16", np.int16, seed=21)
        names = ["S2_%s_L2A.tif" % d.replace("-", "") for d in DATES]
        c.st_named = make_stack(os.path.join(root, "in_named"), "gb_named", np.int16, seed=21,
                                names=names)
        assert np.array_equal(c.st.data, c.st_named.data)
        c.month_all = None
        tests = [t_month_all_ops, t_month_vs_xarray, t_season, t_season_several_ops_vs_xarray,
                 t_yearseason, t_other_keys, t_labels, t_times_file_and_pattern,
                 t_iso_times_with_offsets, t_reduce_options, t_errors]
        for t in tests:
            if t is t_month_vs_xarray and c.month_all is None:
                run.check(t.__name__, lambda: (_ for _ in ()).throw(
                    AssertionError("t_month_all_ops failed before writing outputs")))
                continue
            run.check(t.__name__, t, c)
        # float32 stack with NaN and nodata, through xarray
        run.check("float32 month mean/median vs xarray", t_float32, root)
    return run.finish()


def t_float32(root):
    st = make_stack(os.path.join(root, "in_f32"), "gb_f32", np.float32, seed=31, B=1)
    out = os.path.join(root, "f32_month")
    ops = ["mean", "median", "sum", "var"]
    fx.check_ok(fx.run_cli(groupby_args(st.paths, ops, out, by="month", times=",".join(DATES))),
                "float32 groupby")
    labels = [label_of(parse_date(d), "month") for d in DATES]
    groups = expected_groups(labels, first_seen=False)
    check_index(out, groups, ops)
    da = to_xarray(st, times=DATES)
    check_vs_xarray(st, out, da.groupby("time.month"), "month", lambda k: "%02d" % int(k), ops)
    check_against_reduce(st, out, groups, ops, root)


if __name__ == "__main__":
    fx.main_guard(run_all)
