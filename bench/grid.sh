#!/usr/bin/env bash
# strata on an output grid against the warp limit and rioxarray, in one run.
#
# usage: bench/grid.sh [-h]
#
# Data: N (default 24) GeoTIFFs of SIZE x SIZE (default 2048) float32 at 10 m in two UTM zones
# (bench/grid_make.py, generated once in $STRATA_BENCH_DIR/grid<N>), read on a common 20 m
# EPSG:3035 grid with bilinear resampling; the workload is the temporal mean.
#
# Contenders:
#   strata     strata reduce --op mean --crs EPSG:3035 --resolution 20 --resampling bilinear
#   limit      grid_peer_warp.py: GDAL warps every file to the grid in memory, one file per
#              process on all cores, nothing else (the warp limit)
#   rioxarray  grid_peer_rioxarray.py: rio.reproject_match per file + xarray mean (dask
#              threads)
# Each runs REPS times (default 1) after one warm-up of strata; the table has the median wall
# time and the largest peak RSS. strata also runs on the first half of the files, to show its
# peak memory does not grow with the number of files.
#
# Environment: STRATA (default <repo>/build/tools/strata; use a Release build), PYTHON
# (default /usr/bin/python3), STRATA_BENCH_DIR (default /tmp/strata-bench), N, SIZE, REPS.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=${STRATA:-$REPO_ROOT/build/tools/strata}
PYTHON=${PYTHON:-/usr/bin/python3}
BENCH_DIR=${STRATA_BENCH_DIR:-/tmp/strata-bench}
N=${N:-24}
SIZE=${SIZE:-2048}
REPS=${REPS:-1}
TIME_BIN=/usr/bin/time
HERE=$REPO_ROOT/bench

die() { printf 'grid.sh: error: %s\n' "$*" >&2; exit 1; }
[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
[[ -x $STRATA ]] || die "strata binary not found at $STRATA (set STRATA=...)"
[[ -x $TIME_BIN ]] || die "$TIME_BIN missing (apt-get install time)"
DATA=$BENCH_DIR/grid$N
WORK=$BENCH_DIR/grid_run
mkdir -p "$WORK"
"$PYTHON" "$HERE/grid_make.py" "$DATA" "$N" "$SIZE"
ls "$DATA"/*.tif > "$WORK/files.lst"
head -n $((N / 2)) "$WORK/files.lst" > "$WORK/half.lst"
GRID=(--crs EPSG:3035 --resolution 20 --resampling bilinear)

# The grid strata makes (union of the footprints, snapped to 20 m), for the peers.
"$STRATA" info "${GRID[@]}" "@$WORK/files.lst" > "$WORK/info.txt"
"$PYTHON" - "$WORK/info.txt" "$WORK/grid.json" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
gt = [float(v) for v in re.search(r"geotransform: \((.*)\)", text).group(1).split(",")]
r, c = (int(v) for v in re.search(r"R=(\d+), C=(\d+)", text).groups())
json.dump({"crs": "EPSG:3035", "gt": gt, "rows": r, "cols": c, "resampling": "bilinear"},
          open(sys.argv[2], "w"))
PY

# run NAME CMD...: prints "median_seconds max_rss_mb"
run() {
    local name=$1; shift
    local times=() rss=0 i
    for ((i = 1; i <= REPS; i++)); do
        "$TIME_BIN" -f '%e %M' -o "$WORK/$name.time" "$@" > "$WORK/$name.log" 2>&1 ||
            die "$name failed: $(tail -3 "$WORK/$name.log")"
        read -r s kb < "$WORK/$name.time"
        times+=("$s")
        ((kb > rss)) && rss=$kb
    done
    printf '%s %d\n' "$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")" \
        $((rss / 1024))
}

rm -f "$WORK"/strata_mean.tif "$WORK"/half_mean.tif "$WORK"/rio_mean.tif
"$STRATA" reduce --quiet --op mean "${GRID[@]}" -o "$WORK/warm_{op}.tif" "@$WORK/files.lst"
read -r t_s m_s < <(run strata "$STRATA" reduce --quiet --op mean "${GRID[@]}" \
    -o "$WORK/strata_{op}.tif" "@$WORK/files.lst")
read -r t_h m_h < <(run strata_half "$STRATA" reduce --quiet --op mean "${GRID[@]}" \
    -o "$WORK/half_{op}.tif" "@$WORK/half.lst")
read -r t_l m_l < <(run limit "$PYTHON" "$HERE/grid_peer_warp.py" "$WORK/grid.json" \
    $(cat "$WORK/files.lst"))
read -r t_r m_r < <(run rioxarray "$PYTHON" "$HERE/grid_peer_rioxarray.py" "$WORK/grid.json" \
    "$WORK/rio_mean.tif" $(cat "$WORK/files.lst"))
DIFF=$("$PYTHON" - "$WORK/strata_mean.tif" "$WORK/rio_mean.tif" <<'PY'
import sys
import xarray  # noqa: F401
import numpy as np
from osgeo import gdal
a = gdal.Open(sys.argv[1]); b = gdal.Open(sys.argv[2])
x = a.GetRasterBand(1).ReadAsArray().astype(float); y = b.GetRasterBand(1).ReadAsArray().astype(float)
for d, ds in ((x, a), (y, b)):
    nd = ds.GetRasterBand(1).GetNoDataValue()
    if nd is not None: d[d == nd] = np.nan
both = ~np.isnan(x) & ~np.isnan(y)
d = np.abs(x - y)[both]
print("%.3g %.3g %.4f" % (np.median(d), np.percentile(d, 99), np.mean(np.isnan(x) != np.isnan(y))))
PY
)
read -r med p99 mask <<< "$DIFF"
printf '\n## grid: %d files of %dx%d (two UTM zones) -> 20 m EPSG:3035, bilinear, mean\n\n' \
    "$N" "$SIZE" "$SIZE"
printf '%s\n\n' "$(grep 'output grid' "$WORK/info.txt")"
printf '| contender | wall s | peak RSS MB | vs strata |\n|---|---|---|---|\n'
printf '| strata (%d files) | %s | %s | 1.00 |\n' "$N" "$t_s" "$m_s"
printf '| warp limit (GDAL warp only, all cores) | %s | %s | %.2f |\n' "$t_l" "$m_l" \
    "$(echo "$t_l / $t_s" | bc -l)"
printf '| rioxarray reproject_match + xarray mean | %s | %s | %.2f |\n' "$t_r" "$m_r" \
    "$(echo "$t_r / $t_s" | bc -l)"
printf '| strata (%d files) | %s | %s | |\n' "$((N / 2))" "$t_h" "$m_h"
printf '\nstrata vs rioxarray mean |difference| (values within +-1100): median %s, 99th percentile %s; share of pixels valid in one only: %s\n' \
    "$med" "$p99" "$mask"
