#!/usr/bin/env bash
# Kerchunk indexing benchmark: time to index N small NetCDF4 files into one reference file.
#
# usage: bench/kerchunk.sh [N]        (default N=1000)
#
# Environment:
#   STRATA            strata binary (default: <repo>/build/tools/strata; use a Release build)
#   STRATA_BENCH_DIR  work dir      (default: /tmp/strata-bench)
#   PYTHON            Python with netCDF4 and numpy (default: /usr/bin/python3)
#   REPS              timed runs (default: 3); the median is reported
#
# Each file: time (unlimited, 4 steps), lat 32, lon 48, one int16 variable chunked
# (1, 32, 48) with deflate + shuffle, one float32 variable, CF attributes -- the shape of a
# typical daily-output archive, small enough that per-file overhead dominates. One untimed
# warm-up run first, so the page cache is warm.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=${STRATA:-$REPO_ROOT/build/tools/strata}
BENCH_DIR=${STRATA_BENCH_DIR:-/tmp/strata-bench}
PYTHON=${PYTHON:-/usr/bin/python3}
REPS=${REPS:-3}
N=${1:-1000}
DIR=$BENCH_DIR/kerchunk-$N

if [ ! -f "$DIR/done" ]; then
    mkdir -p "$DIR"
    "$PYTHON" - "$DIR" "$N" <<'PY'
import sys, netCDF4, numpy as np
root, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
for i in range(n):
    d = netCDF4.Dataset(f"{root}/f{i:05d}.nc", "w")
    d.createDimension("time", None); d.createDimension("lat", 32); d.createDimension("lon", 48)
    t = d.createVariable("time", "f8", ("time",)); t.units = "days since 2000-01-01"
    t.calendar = "standard"; t[:] = np.arange(4) + 4 * i
    d.createVariable("lat", "f4", ("lat",))[:] = np.linspace(-40, 40, 32)
    d.createVariable("lon", "f4", ("lon",))[:] = np.linspace(0, 90, 48)
    v = d.createVariable("temp", "i2", ("time", "lat", "lon"), chunksizes=(1, 32, 48),
                         zlib=True, shuffle=True, fill_value=-999)
    v.scale_factor = np.float32(0.01); v.add_offset = np.float32(273.15); v.units = "K"
    v[:] = rng.integers(-3000, 3000, (4, 32, 48))
    p = d.createVariable("precip", "f4", ("time", "lat", "lon"), chunksizes=(1, 32, 48), zlib=True)
    p[:] = rng.random((4, 32, 48)).astype(np.float32)
    d.close()
PY
    touch "$DIR/done"
fi

ls "$DIR"/f*.nc >"$DIR/list.txt"
"$STRATA" kerchunk -o "$DIR/refs.json" "@$DIR/list.txt" # warm-up
times=()
for _ in $(seq "$REPS"); do
    start=$(date +%s.%N)
    "$STRATA" kerchunk -o "$DIR/refs.json" "@$DIR/list.txt"
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
done
median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
size=$(stat -c %s "$DIR/refs.json")
printf 'files: %d  runs: %s s  median: %.3f s  per file: %.2f ms  index: %d bytes\n' \
    "$N" "${times[*]}" "$median" "$(echo "$median * 1000 / $N" | bc -l)" "$size"
