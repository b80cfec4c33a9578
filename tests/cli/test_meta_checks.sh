#!/usr/bin/env bash
# Files that disagree with the template on nodata, and open-file limits.
# - A file whose nodata differs from the template's is refused by every command (its nodata
#   pixels would otherwise count as data), naming the file and both values; info --check says
#   so. Files that agree give numpy's answer.
# - With `ulimit -n` far below the number of files, to-zarr, read-all and reduce over many
#   threads still succeed (the handle caches share the limit), and give the values of the
#   files (checked with zarr and numpy); when even one file a thread is too many, the message
#   says that the open-file limit is the cause.
#
# Needs: STRATA_CLI (the binary), PYTHON (with osgeo, numpy, zarr).
set -u

source "$(dirname "$0")/lib/harness.sh" metachecks

# check_rc CODE DESCRIPTION: checks the exit code of the command just run (RC).
check_rc() {
  if [ "$RC" -eq "$1" ]; then ok "$2 (exit $1)"; else not_ok "$2" "exit $RC, expected $1"; fi
}

cd "$WORK" || exit 1

# ---- nodata ---------------------------------------------------------------------------------
# a.tif and b.tif share nodata -9999; b2.tif is b.tif with its nodata pixels set to -1e6 and
# nodata -1e6 (the issue's case).
"$PY" - <<'PYEOF' || { echo "not ok - fixtures"; exit 1; }
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
drv = gdal.GetDriverByName("GTiff")
for name, seed in (("a.tif", 1), ("b.tif", 2)):
    rng = np.random.default_rng(seed)
    v = rng.normal(50, 10, (40, 60)).astype(np.float32)
    v[rng.random(v.shape) < 0.2] = -9999
    ds = drv.Create(name, 60, 40, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((0, 10, 0, 400, 0, -10))
    ds.SetProjection("EPSG:32636")
    ds.GetRasterBand(1).SetNoDataValue(-9999)
    ds.GetRasterBand(1).WriteArray(v)
    ds = None
ds = drv.CreateCopy("b2.tif", gdal.Open("b.tif"))
v = ds.GetRasterBand(1).ReadAsArray()
v[v == -9999] = -1e6
ds.GetRasterBand(1).SetNoDataValue(-1e6)
ds.GetRasterBand(1).WriteArray(v)
ds = None
PYEOF
sums_before=$(sha256sum a.tif b.tif b2.tif)

run reduce --op min,count -o 'out_{op}.tif' a.tif b2.tif
check_rc 1 "reduce refuses a file of another nodata"
expect_stderr_has "b2.tif: band 1 nodata is -1000000, the template has -9999" \
  "the message names the file and both nodata values"
if ls out_* >/dev/null 2>&1; then not_ok "no output left" "$(ls out_*)"; else ok "no output left"; fi
run info --check a.tif b2.tif
check_rc 1 "info --check reports the nodata difference"
expect_stderr_has "b2.tif: band 1 nodata is -1000000" "info --check names the file and values"
run to-zarr -o s.zarr a.tif b2.tif
check_rc 1 "to-zarr refuses a file of another nodata"
expect_stderr_has "b2.tif: band 1 nodata is -1000000" "to-zarr names the file and values"
run reduce --op min,count -o 'out_{op}.tif' b2.tif a.tif
check_rc 1 "refused whichever file is the template"
expect_stderr_has "a.tif: band 1 nodata is -9999, the template has -1000000" \
  "the message names the other file"
if [ "$sums_before" = "$(sha256sum a.tif b.tif b2.tif)" ]; then ok "inputs unchanged"; else
  not_ok "inputs unchanged"; fi

# The same nodata: min and count are numpy's.
run reduce --op min,count -o 'out_{op}.tif' a.tif b.tif
check_rc 0 "files of the same nodata"
if "$PY" - <<'PYEOF'; then ok "min and count equal numpy's"; else not_ok "min and count equal numpy's"; fi
import numpy as np
from osgeo import gdal
s = np.stack([gdal.Open(f).ReadAsArray() for f in ("a.tif", "b.tif")]).astype(np.float64)
s[s == -9999] = np.nan
count = np.sum(~np.isnan(s), axis=0)
with np.errstate(invalid="ignore"):
    mn = np.nanmin(np.where(count > 0, s, 0), axis=0)
got_min = gdal.Open("out_min.tif").ReadAsArray()
got_count = gdal.Open("out_count.tif").ReadAsArray()
valid = count > 0
assert np.array_equal(got_count, count), "count"
assert np.allclose(got_min[valid], mn[valid]), "min"
PYEOF
rm -f out_*

# ---- open-file limits ---------------------------------------------------------------------
mkdir many
"$PY" - <<'PYEOF' || { echo "not ok - fixtures"; exit 1; }
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
drv = gdal.GetDriverByName("GTiff")
for i in range(100):
    ds = drv.Create(f"many/f{i:03d}.tif", 64, 48, 1, gdal.GDT_Float32,
                    options=["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16"])
    ds.SetGeoTransform((0, 1, 0, 48, 0, -1))
    ds.SetProjection("EPSG:32636")
    ds.GetRasterBand(1).SetNoDataValue(-9999)
    ds.GetRasterBand(1).WriteArray(np.arange(64 * 48, dtype=np.float32).reshape(48, 64) + i)
    ds = None
PYEOF

# 100 files, 8 threads, 16-pixel chunks (every thread reads many files per tile), 48 descriptors.
(ulimit -n 48 && "$STRATA" to-zarr --threads 8 --chunks 1,1,16,16 -o m.zarr many/*.tif) >"$OUT" 2>"$ERR"
RC=$?
check_rc 0 "to-zarr of 100 files at ulimit -n 48, 8 threads"
if "$PY" - <<'PYEOF'; then ok "the store holds the files' values"; else not_ok "the store holds the files' values"; fi
import glob
import numpy as np
import zarr
from osgeo import gdal
want = np.stack([gdal.Open(f).ReadAsArray() for f in sorted(glob.glob("many/*.tif"))])
got = np.asarray(zarr.open_group("m.zarr", mode="r")["data"])
assert np.array_equal(got.reshape(want.shape), want), "values"
PYEOF
(ulimit -n 48 && "$STRATA" read-all --threads 8 many/*.tif) >"$OUT" 2>"$ERR"
RC=$?
check_rc 0 "read-all of 100 files at ulimit -n 48, 8 threads"
(ulimit -n 48 && "$STRATA" reduce --threads 8 --op max -o max.tif many/*.tif) >"$OUT" 2>"$ERR"
RC=$?
check_rc 0 "reduce of 100 files at ulimit -n 48, 8 threads"
if "$PY" - <<'PYEOF'; then ok "max equals numpy's"; else not_ok "max equals numpy's"; fi
import glob
import numpy as np
from osgeo import gdal
want = np.stack([gdal.Open(f).ReadAsArray() for f in sorted(glob.glob("many/*.tif"))]).max(0)
assert np.array_equal(gdal.Open("max.tif").ReadAsArray(), want)
PYEOF

# Too few descriptors for one file a thread: the message says the limit is the cause. Two
# descriptors beyond the standard streams: three workers reading at once are enough to run
# out, however the threads are scheduled (with a few more, a loaded machine may run them one
# after another and never run out). Descriptors inherited from ctest (its log, a parallel
# test's pipe) are closed first, or they take those two and the loader cannot even open
# libasan.
close_inherited_fds() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] && eval "exec $fd>&-"
  done
  return 0
}
(close_inherited_fds && ulimit -n 5 && "$STRATA" read-all --threads 16 many/*.tif) >"$OUT" 2>"$ERR"
RC=$?
check_rc 1 "read-all at ulimit -n 5, 16 threads fails"
expect_stderr_has "too many open files" "read-all says the open-file limit is the cause"
(close_inherited_fds && ulimit -n 5 && "$STRATA" to-zarr --threads 16 -o t.zarr many/*.tif) >"$OUT" 2>"$ERR"
RC=$?
check_rc 1 "to-zarr at ulimit -n 5, 16 threads fails"
expect_stderr_has "too many open files" "to-zarr says the open-file limit is the cause"

finish
