#!/usr/bin/env python3
"""Oracle test: `strata reduce` against numpy (and GDAL for reading the outputs).

For every fixture (int16/uint16/float32/float64, 1 and 3 bands, tiled and striped, with and
without CRS and nodata), with skipna on/off, ddof 0/1 and --dtype (default/float32/float64)
(every pair of option values, see run_all), all eight ops are computed in one run and every
output is compared with a numpy reduction of the masked float64 stack. Then: single-op
outputs, @LIST input, --threads 1 vs 4 bitwise, and the error cases (non-zero exit, message,
no file left behind).
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fixtures as fx  # noqa: E402  (imports xarray before osgeo)
import numpy as np  # noqa: E402


def make_fixtures(root):
    d = lambda n: os.path.join(root, n)  # noqa: E731
    s = []
    s.append(fx.random_stack(d("i16_1b"), "i16_1b", np.int16, T=7, B=1, R=97, C=150, seed=1,
                             nodata=-9999, tiled=True, block=64))
    s.append(fx.random_stack(d("u16_3b_striped"), "u16_3b_striped", np.uint16, T=6, B=3, R=97,
                             C=150, seed=2, nodata=65535, tiled=False))
    s.append(fx.random_stack(d("f32_3b"), "f32_3b", np.float32, T=8, B=3, R=97, C=150, seed=3,
                             nodata=-9999, tiled=True, block=64))
    s.append(fx.random_stack(d("f64_1b_nocrs"), "f64_1b_nocrs", np.float64, T=5, B=1, R=150,
                             C=97, seed=4, nodata=None, epsg=None, tiled=True, block=32))
    s.append(fx.random_stack(d("i16_3b_nond_striped"), "i16_3b_nond_striped", np.int16, T=4, B=3,
                             R=70, C=130, seed=5, nodata=None, tiled=False))
    s.append(fx.random_stack(d("u16_1b_nond"), "u16_1b_nond", np.uint16, T=3, B=1, R=50, C=70,
                             seed=6, nodata=None, tiled=True, block=64))
    s.append(fx.random_stack(d("f32_1b_nannd_nocrs"), "f32_1b_nannd_nocrs", np.float32, T=5, B=1,
                             R=97, C=150, seed=7, nan_nodata=True, epsg=None, tiled=True, block=64))
    # full-range integers over many timesteps: sums must be exact (no float accumulation)
    s.append(fx.random_stack(d("i16_extreme"), "i16_extreme", np.int16, T=40, B=1, R=50, C=70,
                             seed=8, nodata=-32768, lo=-32767, hi=32767, miss_frac=0.1))
    s.append(fx.random_stack(d("u16_extreme_nd0"), "u16_extreme_nd0", np.uint16, T=40, B=2, R=50,
                             C=70, seed=9, nodata=0, lo=1, hi=65534, miss_frac=0.1, tiled=False))
    # a large offset: var/std need a numerically stable algorithm (not E[x^2] - E[x]^2)
    s.append(fx.random_stack(d("f64_offset"), "f64_offset", np.float64, T=12, B=1, R=50, C=70,
                             seed=10, nodata=None, lo=0.0, hi=1.0, offset=1.0e6, nan_frac=0.1))
    return s


def reduce_args(ops, out, files, skipna=None, ddof=None, dtype=None, threads=None, extra=()):
    a = ["reduce", "--op", ",".join(ops)]
    if skipna is True:
        a.append("--skipna")
    elif skipna is False:
        a.append("--no-skipna")
    if ddof is not None:
        a += ["--ddof", str(ddof)]
    if dtype is not None:
        a += ["--dtype", dtype]
    if threads is not None:
        a += ["--threads", str(threads)]
    a += list(extra)
    a += ["--quiet", "-o", out]
    a += list(files)
    return a


def run_grid_case(stack, outdir, skipna, ddof, dtype):
    os.makedirs(outdir, exist_ok=True)
    pattern = os.path.join(outdir, "out_{op}.tif")
    return fx.run_cli(reduce_args(fx.ALL_OPS, pattern, stack.paths, skipna=skipna, ddof=ddof,
                                  dtype=dtype))


def check_grid_case(proc, stack, outdir, skipna, ddof, dtype):
    fx.check_ok(proc, stack.name)
    expected_files = sorted("out_%s.tif" % op for op in fx.ALL_OPS)
    got_files = fx.listdir_recursive(outdir)
    assert got_files == expected_files, "files in output dir: %s, expected %s" % (
        got_files, expected_files)
    x = stack.masked()
    errors = []
    for op in fx.ALL_OPS:
        try:
            fx.compare_output(os.path.join(outdir, "out_%s.tif" % op), stack, op, skipna=skipna,
                              ddof=ddof, dtype_opt=dtype, x=x)
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        raise AssertionError("\n    ".join(errors))


def check_single_ops(stack, root, explicit=True):
    """One op per run: OUT is the exact path; default skipna equals --skipna."""
    x = stack.masked()
    for op in fx.ALL_OPS:
        outdir = os.path.join(root, "single_" + op)
        os.makedirs(outdir)
        out = os.path.join(outdir, "result.tif")
        fx.check_ok(fx.run_cli(reduce_args([op], out, stack.paths)), op)
        assert fx.listdir_recursive(outdir) == ["result.tif"], fx.listdir_recursive(outdir)
        r = fx.compare_output(out, stack, op, skipna=True, ddof=0, x=x)
        if not explicit or op not in ("mean", "std", "sum"):
            continue
        out2 = os.path.join(outdir, "explicit.tif")
        fx.check_ok(fx.run_cli(reduce_args([op], out2, stack.paths, skipna=True, ddof=0)), op)
        r2 = fx.Raster(out2)
        assert r.raw == r2.raw, "%s: default options differ from --skipna --ddof 0" % op


def check_list_file(stack, root):
    lst = os.path.join(root, "files.txt")
    with open(lst, "w") as f:
        f.write("\n".join(stack.paths) + "\n")
    outdir = os.path.join(root, "listout")
    os.makedirs(outdir)
    a = os.path.join(outdir, "a_{op}.tif")
    b = os.path.join(outdir, "b_{op}.tif")
    ops = ["mean", "count", "max"]
    fx.check_ok(fx.run_cli(reduce_args(ops, a, ["@" + lst])), "@LIST")
    fx.check_ok(fx.run_cli(reduce_args(ops, b, stack.paths)), "explicit files")
    x = stack.masked()
    for op in ops:
        ra = fx.compare_output(a.replace("{op}", op), stack, op, x=x)
        rb = fx.Raster(b.replace("{op}", op))
        assert ra.raw == rb.raw, "%s: @LIST output differs from explicit file list" % op


def check_threads(stack, root, thread_counts=(1, 4), ddof=1):
    """All ops with --threads 1 and --threads N are bitwise identical and match numpy."""
    outs = []
    for n in thread_counts:
        d = os.path.join(root, "%s_threads%d" % (stack.name, n))
        os.makedirs(d, exist_ok=True)
        fx.check_ok(fx.run_cli(reduce_args(fx.ALL_OPS, os.path.join(d, "o_{op}.tif"), stack.paths,
                                           ddof=ddof, threads=n)), "threads %d" % n)
        outs.append(d)
    x = stack.masked()
    errors = []
    for op in fx.ALL_OPS:
        base = fx.compare_output(os.path.join(outs[0], "o_%s.tif" % op), stack, op, ddof=ddof, x=x)
        for n, d in zip(thread_counts[1:], outs[1:]):
            other = fx.Raster(os.path.join(d, "o_%s.tif" % op))
            if other.raw != base.raw:
                a = base.array
                b = other.array
                diff = ~((a == b) | (np.isnan(a.astype(np.float64)) & np.isnan(b.astype(np.float64))))
                errors.append("%s: --threads %d differs from --threads %d: %s" % (
                    op, n, thread_counts[0], fx.describe_mismatch(diff, a, b)))
    if errors:
        raise AssertionError("\n    ".join(errors))


def check_compressions(stack, root):
    """Every --compress gives the same values, right against numpy, with the layout asked:
    ZSTD and DEFLATE blocks are encoded by strata's workers (predictor 3 for floats, 2 for
    integers of every width), LZW by GDAL."""
    x = stack.masked()
    layouts = {"zstd": ("ZSTD", True), "deflate": ("DEFLATE", True), "lzw": ("LZW", True),
               "none": (None, False)}
    ref = {}
    errors = []
    for name, (tag, predicted) in layouts.items():
        d = os.path.join(root, "%s_%s" % (stack.name, name))
        os.makedirs(d, exist_ok=True)
        fx.check_ok(fx.run_cli(reduce_args(fx.ALL_OPS, os.path.join(d, "o_{op}.tif"), stack.paths,
                                           threads=2, extra=("--compress", name))), name)
        for op in fx.ALL_OPS:
            path = os.path.join(d, "o_%s.tif" % op)
            if tag:
                r = fx.compare_output(path, stack, op, x=x)
            else:
                r = fx.Raster(path)
            got = (r.structure.get("COMPRESSION"), r.structure.get("PREDICTOR"))
            is_float = np.dtype(r.dtype).kind == "f"
            want = (tag, ("3" if is_float else "2") if predicted else None)
            if got != want:
                errors.append("%s %s: layout %s, expected %s" % (name, op, got, want))
            if op in ref and r.raw != ref[op]:
                errors.append("%s %s: values differ from --compress zstd" % (name, op))
            ref.setdefault(op, r.raw)
    if errors:
        raise AssertionError("\n    ".join(errors))


def check_cache(stack, root, ref_dir):
    """--cache 1 (one open dataset per thread) gives the same bytes as the default cache;
    ref_dir holds check_threads' --threads 4 outputs (ddof 0) of the same stack."""
    d = os.path.join(root, "cache1")
    os.makedirs(d)
    ops = ["mean", "max", "count", "median"]
    fx.check_ok(fx.run_cli(reduce_args(ops, os.path.join(d, "o_{op}.tif"), stack.paths,
                                       threads=4, extra=["--cache", "1"])), "--cache 1")
    x = stack.masked()
    for op in ops:
        a = fx.Raster(os.path.join(ref_dir, "o_%s.tif" % op))
        b = fx.compare_output(os.path.join(d, "o_%s.tif" % op), stack, op, x=x)
        assert a.raw == b.raw, "%s: --cache 1 output differs from the default cache" % op


# ---- error cases ---------------------------------------------------------------------

def expect_failure(args, outdir, what, must_mention=None):
    before = fx.listdir_recursive(outdir) if os.path.isdir(outdir) else None
    proc = fx.run_cli(args)
    assert proc.returncode != 0, "%s: exit code 0, expected failure (stderr %r)" % (
        what, proc.stderr[-500:])
    assert proc.returncode < 128 and proc.returncode > 0, "%s: exit code %d (crash?)\n%s" % (
        what, proc.returncode, proc.stderr[-2000:])
    assert proc.stderr.strip(), "%s: no message on stderr" % what
    assert "AddressSanitizer" not in proc.stderr and "runtime error:" not in proc.stderr, \
        "%s: sanitizer report:\n%s" % (what, proc.stderr[-3000:])
    if must_mention is not None:
        assert any(m in proc.stderr for m in must_mention), \
            "%s: stderr %r names none of %r" % (what, proc.stderr.strip()[-400:], must_mention)
    if before is not None:
        after = fx.listdir_recursive(outdir)
        assert after == before, "%s: output dir changed: %s -> %s" % (what, before, after)


def error_cases(run, stack, root):
    files = stack.paths
    n = [0]

    def fresh():
        n[0] += 1
        d = os.path.join(root, "err%02d" % n[0])
        os.makedirs(d)
        return d

    def case(label, fn):
        run.check("error: " + label, fn)

    d = fresh()
    case("--dtype int16", lambda: expect_failure(
        reduce_args(["mean"], os.path.join(d, "o.tif"), files, dtype="int16"), d, "--dtype int16"))
    d2 = fresh()
    case("--dtype float16", lambda: expect_failure(
        reduce_args(["mean"], os.path.join(d2, "o.tif"), files, dtype="float16"), d2, "--dtype float16"))
    d3 = fresh()
    case("--dtype int32 multi-op", lambda: expect_failure(
        reduce_args(["mean", "max"], os.path.join(d3, "o_{op}.tif"), files, dtype="int32"), d3,
        "--dtype int32"))
    d4 = fresh()
    case("unknown op", lambda: expect_failure(
        reduce_args(["avg"], os.path.join(d4, "o.tif"), files), d4, "unknown op", ["avg"]))
    d5 = fresh()
    case("unknown op among several", lambda: expect_failure(
        reduce_args(["mean", "bogus", "max"], os.path.join(d5, "o_{op}.tif"), files), d5,
        "unknown op among several", ["bogus"]))
    d6 = fresh()
    case("negative ddof", lambda: expect_failure(
        reduce_args(["std"], os.path.join(d6, "o.tif"), files, ddof=-1), d6, "--ddof -1"))
    d7 = fresh()
    case("multi-op without {op}", lambda: expect_failure(
        reduce_args(["mean", "max"], os.path.join(d7, "o.tif"), files), d7, "no {op}"))
    d8 = fresh()
    missing_dir = os.path.join(d8, "does", "not", "exist")
    case("output dir missing", lambda: expect_failure(
        reduce_args(["mean"], os.path.join(missing_dir, "o.tif"), files), d8, "missing dir"))
    d9 = fresh()
    blocker = os.path.join(d9, "a_file")
    with open(blocker, "w") as f:
        f.write("x")
    case("output parent is a file", lambda: expect_failure(
        reduce_args(["mean", "count"], os.path.join(blocker, "o_{op}.tif"), files), d9,
        "parent is a file"))
    d9b = fresh()
    case("output dir missing, multi-op", lambda: expect_failure(
        reduce_args(["mean", "sum", "count"], os.path.join(d9b, "nope", "o_{op}.tif"), files), d9b,
        "missing dir multi-op"))

    # unwritable even for root: nothing can be created under /proc
    case("output dir unwritable (/proc)", lambda: expect_failure(
        reduce_args(["mean", "max"], "/proc/strata_oracle_{op}.tif", files), fresh(),
        "/proc output"))
    if os.geteuid() != 0:  # permission bits only bind non-root users
        d9c = fresh()
        ro = os.path.join(d9c, "readonly")
        os.makedirs(ro)
        os.chmod(ro, 0o555)
        case("output dir read-only", lambda: expect_failure(
            reduce_args(["mean"], os.path.join(ro, "o.tif"), files), d9c, "read-only dir"))
    # one of several outputs cannot be written (its name is taken by a directory): none of
    # the others may be left behind
    d9d = fresh()
    os.makedirs(os.path.join(d9d, "o_max.tif"))
    case("one output path is a directory", lambda: expect_failure(
        reduce_args(["mean", "max", "count"], os.path.join(d9d, "o_{op}.tif"), files), d9d,
        "o_max.tif is a directory"))

    # Failures discovered while reading, after some tiles were written: nothing may remain.
    bad = os.path.join(root, "bad_inputs")
    os.makedirs(bad)
    T, B, R, C = stack.shape
    misaligned = os.path.join(bad, "misaligned.tif")
    fx.write_raster(misaligned, np.ones((B, R, C - 1), stack.dtype), nodata=stack.nodata,
                    epsg=stack.epsg)
    d10 = fresh()
    case("misaligned last file", lambda: expect_failure(
        reduce_args(fx.ALL_OPS, os.path.join(d10, "o_{op}.tif"), files + [misaligned], threads=1),
        d10, "misaligned", ["misaligned.tif"]))
    wrongtype = os.path.join(bad, "wrongtype.tif")
    fx.write_raster(wrongtype, np.ones((B, R, C), np.float64), nodata=-9999, epsg=stack.epsg)
    d11 = fresh()
    case("wrong dtype file in the middle", lambda: expect_failure(
        reduce_args(["mean", "max"], os.path.join(d11, "o_{op}.tif"),
                    files[:3] + [wrongtype] + files[3:]), d11, "wrong dtype", ["wrongtype.tif"]))
    # a truncated GeoTIFF: the header is intact, the tiles are gone
    truncated = os.path.join(bad, "truncated.tif")
    fx.write_raster(truncated, stack.data[0], nodata=stack.nodata, epsg=stack.epsg, tiled=True,
                    block=64)
    size = os.path.getsize(truncated)
    with open(truncated, "r+b") as f:
        f.truncate(size // 3)
    d12 = fresh()
    case("truncated last file", lambda: expect_failure(
        reduce_args(fx.ALL_OPS, os.path.join(d12, "o_{op}.tif"), files + [truncated], threads=2),
        d12, "truncated", ["truncated.tif"]))
    d13 = fresh()
    case("missing input file", lambda: expect_failure(
        reduce_args(["mean"], os.path.join(d13, "o.tif"), files + [os.path.join(bad, "nope.tif")]),
        d13, "missing input", ["nope.tif"]))
    d14 = fresh()
    case("single op, misaligned file in the middle", lambda: expect_failure(
        reduce_args(["median"], os.path.join(d14, "o.tif"), files[:2] + [misaligned] + files[2:]),
        d14, "misaligned single", ["misaligned.tif"]))


def run_all():
    fx.cli_path()  # fail loudly when the CLI is absent
    run = fx.Runner("oracle_reduce")
    with fx.TempDir() as root:
        stacks = make_fixtures(os.path.join(root, "in"))
        # every fixture with skipna on and off, ddof 0 and 1 and each --dtype (default,
        # float64; float32 too where it differs from the default or to check it equals it),
        # all eight ops per run. The options act on different things (skipna on what is
        # missing, ddof on std/var, --dtype on the output type), so each pair of option values
        # is met rather than every triple: per fixture, each --dtype runs with (skipna, ddof 0) and (no skipna, ddof 1)
        # or with the other two pairs, in turns, and a fixture with one --dtype runs all four.
        # The CLI runs go two at a time; the checks follow in order.
        pairs = (((True, 0), (False, 1)), ((True, 1), (False, 0)))
        cases = []
        for st in stacks:
            if st.name in ("f64_1b_nocrs", "i16_1b"):
                dtypes = (None, "float32", "float64")
            elif st.name.startswith(("i16_extreme", "u16_extreme", "f64_offset", "i16_3b_nond",
                                     "u16_1b_nond")):
                dtypes = (None,)
            else:
                dtypes = (None, "float64")
            runs = [(sk, dd, dt) for i, dt in enumerate(dtypes) for sk, dd in pairs[i % 2]]
            if len(dtypes) == 1:
                runs += [(sk, dd, dtypes[0]) for sk, dd in pairs[1]]
            for skipna, ddof, dtype in runs:
                outdir = os.path.join(root, "grid%03d" % len(cases))
                cases.append((st, outdir, skipna, ddof, dtype))
        with ThreadPoolExecutor(max_workers=2) as pool:
            procs = list(pool.map(lambda c: run_grid_case(*c), cases))
        for proc, (st, outdir, skipna, ddof, dtype) in zip(procs, cases):
            run.check("reduce %s skipna=%s ddof=%d dtype=%s" % (st.name, skipna, ddof, dtype),
                      check_grid_case, proc, st, outdir, skipna, ddof, dtype)
        f32 = stacks[2]
        i16 = stacks[0]
        run.check("single ops (f32_3b)", check_single_ops, f32, os.path.join(root, "single_f32"))
        run.check("single ops (i16_1b)", check_single_ops, i16, os.path.join(root, "single_i16"),
                  False)
        run.check("@LIST input", check_list_file, stacks[1], root)

        thr = os.path.join(root, "thr")
        for st, counts in ((stacks[2], (1, 4, 3)), (stacks[1], (1, 4)), (stacks[0], (1, 4))):
            run.check("threads %s (%s)" % (counts, st.name), check_threads, st, thr, counts)
        # few tiles, many timesteps: exercises splitting the time axis across threads
        long_f32 = fx.random_stack(os.path.join(root, "in", "long_f32"), "long_f32", np.float32,
                                   T=200, B=1, R=64, C=64, seed=11, nodata=-9999, miss_frac=0.3,
                                   nan_frac=0.1, tiled=True, block=64)
        run.check("threads 1 vs 4 (64x64 x 200 float32)", check_threads, long_f32, thr, (1, 4))
        long_i16 = fx.random_stack(os.path.join(root, "in", "long_i16"), "long_i16", np.int16,
                                   T=200, B=2, R=64, C=64, seed=12, nodata=-9999, miss_frac=0.5,
                                   tiled=False)
        run.check("threads 1 vs 4 (64x64x2 x 200 int16 striped)", check_threads, long_i16, thr,
                  (1, 4), 0)

        # outputs of 2 x 3 256x256 blocks, with partial edge blocks on both axes: tiles of
        # whole output blocks (source blocks of 64: six 256x256 tiles), of several (512: a
        # 300x512 tile over 2 x 2 blocks and a 300x8 one), and tiles that do not line up with
        # them (blocks of 192: 300x192 tiles; strips: bands of 128 rows), which take the
        # windowed write; every case has more tiles than threads
        for block in (64, 512, 192, None):
            name = "wide_%s" % (block or "striped")
            st = fx.random_stack(os.path.join(root, "in", name), name, np.float32, T=3, B=2,
                                 R=300, C=520, seed=50, nodata=-9999, miss_frac=0.2,
                                 tiled=block is not None, block=block or 64)
            run.check("threads 1 vs 2, 300x520x2 (%s)" % name, check_threads, st, thr, (1, 2))

        # every output type through every codec (int16 in: int16 min/max, int32 count, int64
        # sum, float mean/std), blocks whole and at the edges (2 x 3 blocks of 256)
        comp = fx.random_stack(os.path.join(root, "in", "comp_i16"), "comp_i16", np.int16, T=3,
                               B=2, R=300, C=520, seed=60, nodata=-9999, miss_frac=0.2,
                               tiled=True, block=256)
        run.check("--compress zstd, deflate, lzw, none agree (300x520x2 int16)",
                  check_compressions, comp, os.path.join(root, "comp"))
        comp8 = fx.random_stack(os.path.join(root, "in", "comp_u8"), "comp_u8", np.uint8, T=3,
                                B=1, R=300, C=520, seed=61, nodata=255, miss_frac=0.2,
                                tiled=True, block=256)
        run.check("--compress zstd, deflate, lzw, none agree (300x520 uint8)",
                  check_compressions, comp8, os.path.join(root, "comp"))
        run.check("--cache 1 --threads 4 equals default (200 timesteps)", check_cache, long_i16,
                  thr, os.path.join(thr, "long_i16_threads4"))
        # a single timestep and two timesteps (std/var with ddof 1: missing / one degree)
        for T in (1, 2):
            st = fx.random_stack(os.path.join(root, "in", "short%d" % T), "short%d" % T,
                                 np.float32, T=T, B=2, R=40, C=70, seed=40 + T, nodata=-1.0,
                                 lo=0.0, hi=100.0)
            for skipna in (True, False):
                for ddof in (0, 1):
                    outdir = os.path.join(root, "short%d_%d_%d" % (T, skipna, ddof))
                    run.check("reduce T=%d skipna=%s ddof=%d" % (T, skipna, ddof),
                              lambda: check_grid_case(run_grid_case(st, outdir, skipna, ddof, None),
                                                      st, outdir, skipna, ddof, None))

        error_cases(run, stacks[2], os.path.join(root, "errors"))
    return run.finish()


if __name__ == "__main__":
    fx.main_guard(run_all)
