#!/usr/bin/env bash
# Before/after: the same workloads with two builds of strata, alternated in one run, so a
# change that moves no computation can show it costs nothing.
#
# usage: bench/ab.sh OLD_LIBDIR OLD_STRATA NEW_STRATA [REPS]
#   OLD_LIBDIR   folder holding the old libstrata.so.* (the old binary is run with it first on
#                LD_LIBRARY_PATH, which wins over its RUNPATH)
#   REPS         timed runs of each build per workload, alternated (default 3)
#
# Stacks come from bench/run.sh's cache ($STRATA_BENCH_DIR, default /tmp/strata-bench): run
# `bench/run.sh --quick --only reduce` and `bench/groups.sh` once to make them. Prints, per
# workload, the median wall and CPU (user + sys) seconds and the largest peak RSS of each build.
set -euo pipefail
[[ $# -ge 3 ]] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
OLD_LIB=$1 OLD=$2 NEW=$3 REPS=${4:-3}
DIR=${STRATA_BENCH_DIR:-/tmp/strata-bench}
A=$DIR/stack_60x2048x2048 G=$DIR/stack_730x512x512
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[[ -d $A && -d $G ]] || { echo "ab.sh: stacks missing in $DIR (see usage)" >&2; exit 1; }

labels12=$(for i in $(seq 0 59); do printf '%s,' $((i % 12)); done)
labels365=$(for i in $(seq 0 729); do printf '%s,' $((i % 365)); done)
workloads=(
    "mean A|reduce --op mean -o $OUT/m.tif $A/*.tif"
    "mean,std,min,max A|reduce --op mean,std,min,max -o $OUT/s_{op}.tif $A/*.tif"
    "12 groups A|groupby --labels ${labels12%,} --op mean -o $OUT/g12 $A/*.tif"
    "median A|reduce --op median -o $OUT/med.tif $A/*.tif"
    "to-zarr A|to-zarr -o $OUT/a.zarr $A/*.tif"
    "365 groups -> zarr|groupby --labels ${labels365%,} --op mean -o $OUT/g365.zarr $G/*.tif"
)

# one timed run: prints "wall cpu peak_kb"
timed() {
    local t=$OUT/time
    /usr/bin/time -f '%e %U %S %M' -o "$t" "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$t"
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

printf '| workload | old wall s | new wall s | old CPU s | new CPU s | old MB | new MB |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for w in "${workloads[@]}"; do
    name=${w%%|*} args=${w#*|}
    : >"$OUT/old" && : >"$OUT/new"
    # shellcheck disable=SC2086
    for r in $(seq 0 "$REPS"); do
        rm -rf "$OUT"/*.tif "$OUT"/*.zarr "$OUT"/g12
        o=$(LD_LIBRARY_PATH=$OLD_LIB timed "$OLD" $args)
        rm -rf "$OUT"/*.tif "$OUT"/*.zarr "$OUT"/g12
        n=$(timed "$NEW" $args)
        if ((r > 0)); then # the first pair warms the page cache
            echo "$o" >>"$OUT/old"
            echo "$n" >>"$OUT/new"
        fi
    done
    col() { awk -v c="$2" '{print $c}' "$OUT/$1" | median; }
    peak() { awk '{print $3}' "$OUT/$1" | sort -n | tail -1 | awk '{printf "%.0f", $1 / 1024}'; }
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(col old 1)" "$(col new 1)" \
        "$(col old 2)" "$(col new 2)" "$(peak old)" "$(peak new)"
done
