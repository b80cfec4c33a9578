#!/usr/bin/env bash
# The Python package against the CLI and the xarray peers, on one stack, in one run.
#
# usage: bench/python.sh [T ROWS COLS]   (default 60 2048 2048: stack A)
#
#   cube.mean()                        vs  strata reduce --op mean (CLI)
#   cube.data.mean(axis=0).compute()   vs  peer_xarray.py mean (xarray + rioxarray + dask)
#   cube.groupby(t % 12).mean()        vs  peer_xarray_groupby.py (xarray + flox)
#
# Environment: BUILD (default <repo>/build, a Release build), STRATA_SHARED_DIR (peers),
# STRATA_BENCH_DIR (stack cache, default /tmp/strata-bench), PYTHON (/usr/bin/python3),
# REPS (timed runs each, default 3; the table keeps the median wall time and largest peak RSS).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
PEERS=${STRATA_SHARED_DIR:-$REPO/../shared/peers}
BENCH_DIR=${STRATA_BENCH_DIR:-/tmp/strata-bench}
PYTHON=${PYTHON:-/usr/bin/python3}
REPS=${REPS:-3}
T=${1:-60} R=${2:-2048} C=${3:-2048}
NGROUPS=12

STACK=$BENCH_DIR/py_${T}x${R}x${C}
mkdir -p "$BENCH_DIR"
OUT=$(mktemp -d "$BENCH_DIR/py-out.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
if [ ! -f "$STACK/.done" ]; then
    echo "[bench] writing $T x ${R}x${C} float32 stack in $STACK" >&2
    rm -rf "$STACK"
    "$PYTHON" "$PEERS/make_stack.py" "$STACK" "$T" "$R" "$C" >/dev/null
    touch "$STACK/.done"
fi
export PYTHONPATH=$BUILD/python

# run NAME CMD...: REPS timed runs after a warm-up; prints "| NAME | median s | call s |
# peak MB |", where call s is the time of the call itself as py_contender.py reports it
# (without the interpreter's start-up and imports), "-" for the others.
run() {
    local name=$1 walls=() calls=() peak=0 i line
    shift
    "$@" >/dev/null 2>&1
    for ((i = 0; i < REPS; i++)); do
        /usr/bin/time -o "$OUT/time" -f '%e %M' "$@" >"$OUT/stdout" 2>&1
        line=$(tail -1 "$OUT/time")
        walls+=("${line% *}")
        calls+=("$(sed -n 's/.* \([0-9.]*\) s in process.*/\1/p' "$OUT/stdout" | tail -1)")
        [ "${line#* }" -gt "$peak" ] && peak=${line#* }
    done
    local med call
    med=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(((REPS + 1) / 2))p")
    call=$(printf '%s\n' "${calls[@]}" | sort -n | sed -n "$(((REPS + 1) / 2))p")
    printf '| %s | %s | %s | %d |\n' "$name" "$med" "${call:--}" $((peak / 1024))
}

echo "Stack: $T x ${R}x${C} float32 DEFLATE ($STACK), REPS=$REPS, $(nproc) cores"
echo
echo "| contender | wall s (median) | call s (median) | peak RSS MB |"
echo "| --- | --- | --- | --- |"
run "CLI: strata reduce --op mean" "$BUILD/tools/strata" reduce --quiet --op mean \
    -o "$OUT/mean_{op}.tif" "$STACK"/*.tif
run "Python: cube.mean()" "$PYTHON" "$REPO/bench/py_contender.py" mean "$STACK"
run "Python: cube.data.mean(axis=0).compute()" "$PYTHON" "$REPO/bench/py_contender.py" dask "$STACK"
run "peer_xarray.py mean" "$PYTHON" "$PEERS/peer_xarray.py" mean "$STACK"
run "Python: cube.groupby($NGROUPS labels).mean()" "$PYTHON" "$REPO/bench/py_contender.py" \
    groupby "$STACK" "$NGROUPS"
run "peer_xarray_groupby.py $NGROUPS" "$PYTHON" "$PEERS/peer_xarray_groupby.py" "$STACK" "$NGROUPS"
