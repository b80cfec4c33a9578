#!/usr/bin/env bash
# MPI scale-out: strata reduce (mean) and groupby (12 groups) on stack A with 1 and 2 ranks of
# one thread each, under mpirun; the speed-up of 2 ranks over 1, time and peak memory per rank.
#
# usage: bench/mpi.sh [STACK_DIR]     (default: $STRATA_BENCH_DIR/stack_60x2048x2048)
# Environment: STRATA (default <repo>/build/tools/strata), STRATA_BENCH_DIR, REPS (default 3).
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=${STRATA:-$REPO_ROOT/build/tools/strata}
BENCH_DIR=${STRATA_BENCH_DIR:-/tmp/strata-bench}
STACK=${1:-$BENCH_DIR/stack_60x2048x2048}
REPS=${REPS:-3}
[[ -x $STRATA ]] || { echo "mpi.sh: no strata binary at $STRATA" >&2; exit 1; }
[[ -d $STACK ]] || { echo "mpi.sh: no stack at $STACK (bench/run.sh makes it)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ls "$STACK"/*.tif >"$work/files.txt"
n=$(wc -l <"$work/files.txt")
seq 0 $((n - 1)) | awk '{print $1 % 12}' >"$work/labels.txt"

# median wall seconds and largest per-rank peak RSS (MB) of REPS runs (after one warm-up)
measure() {
    local ranks=$1
    shift
    local times=() peak=0 i
    for i in $(seq 0 "$REPS"); do
        rm -rf "$work/out" && mkdir -p "$work/out"
        local t0 t1
        t0=$(date +%s.%N)
        mpirun --allow-run-as-root --oversubscribe -n "$ranks" \
            /usr/bin/time -f '%M' -a -o "$work/rss" "$@" >/dev/null
        t1=$(date +%s.%N)
        [[ $i -eq 0 ]] || times+=("$(echo "$t1 - $t0" | bc)")
    done
    peak=$(sort -n "$work/rss" | tail -1)
    rm -f "$work/rss"
    printf "%.2f %d\n" "$(printf "%s\n" "${times[@]}" | sort -n | sed -n "$(((REPS + 1) / 2))p")" \
        $((peak / 1024))
}

echo "| workload | ranks x threads | seconds (median of $REPS) | peak MB per rank | speed-up |"
echo "| --- | ---: | ---: | ---: | ---: |"
for workload in reduce groupby; do
    if [[ $workload == reduce ]]; then
        cmd=("$STRATA" reduce --quiet --threads 1 --op mean -o "$work/out/mean.tif" "@$work/files.txt")
    else
        cmd=("$STRATA" groupby --quiet --threads 1 --labels "@$work/labels.txt" --op mean
            -o "$work/out" "@$work/files.txt")
    fi
    read -r t1 m1 < <(measure 1 "${cmd[@]}")
    read -r t2 m2 < <(measure 2 "${cmd[@]}")
    echo "| $workload mean, stack A | 1 x 1 | $t1 | $m1 | 1.00 |"
    echo "| $workload mean, stack A | 2 x 1 | $t2 | $m2 | $(echo "scale=2; $t1 / $t2" | bc) |"
done
