#!/usr/bin/env bash
# Remote stacks (issue 21): a temporal mean over COGs served by ../shared/peers/range_server.py
# with a fixed latency per request, against the same files read locally, GDAL's /vsicurl/
# path (STRATA_GDAL_HTTP=YES), xarray + rioxarray + dask at 8/16/32/64 threads, and the
# latency-bound limit (requests / 64 x latency + the local time). Wall and CPU (user + system)
# seconds and peak RSS; the load average before each stack, since CPU shared with other work
# shows in the wall time only.
#   bench/remote.sh [BUILD_DIR] [WORK_DIR]     (a Release build: cmake -DCMAKE_BUILD_TYPE=Release)
# SKIP_200=1 leaves out the 200-COG stack, SKIP_XARRAY=1 the xarray runs, SKIP_GDAL=1 the
# GDAL /vsicurl/ runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-rel}
work=${2:-/tmp/strata-bench-remote}
peers=${PEERS:-$here/../../shared/peers}
S=$build/tools/strata
PY=/usr/bin/python3
mkdir -p "$work"

measure() { # label, command...: prints label, wall s, CPU s, peak MB
    local label=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@" >/dev/null 2>&1 || echo "  ($label failed)"
    local wall user sys kb
    read -r wall user sys kb < <(tail -1 "$work/time.txt")
    printf "%-40s %8.2f s wall %6.2f s CPU %6.0f MB\n" "$label" "$wall" \
        "$(echo "$user + $sys" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
}

run_stack() { # name T ROWS COLS
    local name=$1 T=$2 rows=$3 cols=$4 port=$((18000 + RANDOM % 1000))
    local dir=$work/$name
    [ -f "$dir/items.json" ] || $PY "$here/remote_items.py" "$peers/make_stack.py" "$dir" "$T" "$rows" "$cols" "$port"
    port=$(grep -o '127.0.0.1:[0-9]*' "$dir/items.json" | head -1 | cut -d: -f2)
    local tiles=$(( T * ((rows + 255) / 256) * ((cols + 255) / 256) ))
    echo "$name: load average $(cut -d' ' -f1-3 /proc/loadavg)"
    measure "$name local files" $S reduce --quiet --op mean -o "$dir/local.tif" "$dir"/cog/*.tif
    local local_s
    local_s=$(tail -1 "$work/time.txt" | cut -d' ' -f1)
    for ms in 40 100; do
        $PY "$peers/range_server.py" "$dir/cog" "$port" 0 "$ms" & local srv=$!
        sleep 1
        printf "%-40s %8.2f s\n" "$name $ms ms: latency-bound limit" \
            "$(echo "($tiles + $T) / 64 * $ms / 1000 + $local_s" | bc -l)"
        for rep in 1 2 3; do
            measure "$name $ms ms: strata (fetcher) #$rep" $S reduce --quiet --op mean -o "$dir/remote.tif" --stac "$dir/items.json"
        done
        if [ "${SKIP_GDAL:-}" = "" ]; then
            measure "$name $ms ms: strata (GDAL /vsicurl/)" env STRATA_GDAL_HTTP=YES $S reduce --quiet --op mean -o "$dir/gdal.tif" --stac "$dir/items.json"
        fi
        if [ "${SKIP_XARRAY:-}" = "" ]; then
            for th in 8 16 32 64; do
                measure "$name $ms ms: xarray+dask $th threads" $PY "$peers/peer_xarray_http.py" "$dir/items.json" data "$th"
            done
        fi
        kill "$srv"; wait "$srv" 2>/dev/null || true
        $PY -c "
from osgeo import gdal; import numpy as np, sys
a, b = (gdal.Open(p).ReadAsArray() for p in sys.argv[1:3])
print('  remote result bitwise equal to local:', np.array_equal(a, b, equal_nan=True))" "$dir/remote.tif" "$dir/local.tif"
    done
}

run_stack cog24 24 1024 1024
[ "${SKIP_200:-}" = "" ] && run_stack cog200 200 512 512
