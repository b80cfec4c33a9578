#!/usr/bin/env bash
# strata on an output grid against the warp limit and rioxarray, in one run.
#
# usage: bench/grid.sh [-h]
#
# Data: GeoTIFFs of SIZE x SIZE (default 2048) float32 at 10 m in two UTM zones
# (bench/grid_make.py, generated once in $STRATA_BENCH_DIR/grid_SIZE; file t is the same
# whatever the count), read on a common 20 m EPSG:3035 grid with bilinear resampling; the
# workload is the temporal mean of the first N (default 24).
#
# Contenders:
#   strata     strata reduce --op mean --crs EPSG:3035 --resolution 20 --resampling bilinear
#   limit      grid_peer_warp.py: GDAL warps every file to the grid in memory, one file per
#              process on all cores, nothing else (the warp limit)
#   rioxarray  grid_peer_rioxarray.py: rio.reproject_match per file + xarray mean, dask's
#              threaded scheduler with each of DASK_THREADS (default "1 2 4") threads
# Each runs REPS times (default 1) after one warm-up of strata; the table has the median wall
# time, the CPU time (user + system) of that run and the largest peak RSS. strata also runs on
# each count of SERIES files (default "12 24 48"), to show whether its peak memory grows with
# the number of files.
#
# Environment: STRATA (default <repo>/build/tools/strata; use a Release build), PYTHON
# (default /usr/bin/python3), STRATA_BENCH_DIR (default /tmp/strata-bench), N, SIZE, REPS,
# SERIES, DASK_THREADS.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=${STRATA:-$REPO_ROOT/build/tools/strata}
PYTHON=${PYTHON:-/usr/bin/python3}
BENCH_DIR=${STRATA_BENCH_DIR:-/tmp/strata-bench}
N=${N:-24}
SIZE=${SIZE:-2048}
REPS=${REPS:-1}
SERIES=${SERIES:-12 24 48}
DASK_THREADS=${DASK_THREADS:-1 2 4}
TIME_BIN=/usr/bin/time
HERE=$REPO_ROOT/bench

die() { printf 'grid.sh: error: %s\n' "$*" >&2; exit 1; }
[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
[[ -x $STRATA ]] || die "strata binary not found at $STRATA (set STRATA=...)"
[[ -x $TIME_BIN ]] || die "$TIME_BIN missing (apt-get install time)"
DATA=$BENCH_DIR/grid_$SIZE
WORK=$BENCH_DIR/grid_run
mkdir -p "$WORK"
MOST=$N
for k in $SERIES; do ((k > MOST)) && MOST=$k; done
"$PYTHON" "$HERE/grid_make.py" "$DATA" "$MOST" "$SIZE"
ls "$DATA"/*.tif | head -n "$N" > "$WORK/files.lst"
for k in $SERIES; do ls "$DATA"/*.tif | head -n "$k" > "$WORK/series$k.lst"; done
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

# run NAME CMD...: prints "median_seconds cpu_seconds_of_that_run max_rss_mb"
run() {
    local name=$1; shift
    local lines=() rss=0 i s u y kb
    for ((i = 1; i <= REPS; i++)); do
        "$TIME_BIN" -f '%e %U %S %M' -o "$WORK/$name.time" "$@" > "$WORK/$name.log" 2>&1 ||
            die "$name failed: $(tail -3 "$WORK/$name.log")"
        read -r s u y kb < "$WORK/$name.time"
        lines+=("$s $(echo "$u + $y" | bc)")
        ((kb > rss)) && rss=$kb
    done
    printf '%s %d\n' "$(printf '%s\n' "${lines[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")" \
        $((rss / 1024))
}

ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

echo "load before: $(cat /proc/loadavg)" >&2
rm -f "$WORK"/strata_mean.tif "$WORK"/rio_mean.tif
"$STRATA" reduce --quiet --op mean "${GRID[@]}" -o "$WORK/warm_{op}.tif" "@$WORK/files.lst"
read -r t_s c_s m_s < <(run strata "$STRATA" reduce --quiet --op mean "${GRID[@]}" \
    -o "$WORK/strata_{op}.tif" "@$WORK/files.lst")
read -r t_l c_l m_l < <(run limit "$PYTHON" "$HERE/grid_peer_warp.py" "$WORK/grid.json" \
    $(cat "$WORK/files.lst"))
RIO_ROWS=""
for th in $DASK_THREADS; do
    read -r t_r c_r m_r < <(run "rioxarray$th" env DASK_NUM_WORKERS="$th" "$PYTHON" \
        "$HERE/grid_peer_rioxarray.py" "$WORK/grid.json" "$WORK/rio_mean.tif" \
        $(cat "$WORK/files.lst"))
    RIO_ROWS+="| rioxarray reproject_match + xarray mean, $th dask threads | $t_r | $c_r | $m_r | $(ratio "$t_r" "$t_s") |"$'\n'
done
SERIES_ROWS=""
for k in $SERIES; do
    read -r t_k c_k m_k < <(run "series$k" "$STRATA" reduce --quiet --op mean "${GRID[@]}" \
        -o "$WORK/series_{op}.tif" "@$WORK/series$k.lst")
    SERIES_ROWS+="| $k | $t_k | $c_k | $m_k |"$'\n'
done
echo "load after: $(cat /proc/loadavg)" >&2
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
printf '| contender | wall s | CPU s | peak RSS MB | vs strata (wall) |\n|---|---|---|---|---|\n'
printf '| strata | %s | %s | %s | 1.00 |\n' "$t_s" "$c_s" "$m_s"
printf '| warp limit (GDAL warp only, all cores) | %s | %s | %s | %s |\n' "$t_l" "$c_l" "$m_l" \
    "$(ratio "$t_l" "$t_s")"
printf '%s' "$RIO_ROWS"
printf '\nstrata by number of files:\n\n| files | wall s | CPU s | peak RSS MB |\n|---|---|---|---|\n'
printf '%s' "$SERIES_ROWS"
printf '\nstrata vs rioxarray mean |difference| (values within +-1100): median %s, 99th percentile %s; share of pixels valid in one only: %s\n' \
    "$med" "$p99" "$mask"
