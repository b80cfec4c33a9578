#!/usr/bin/env bash
# Many groups: a daily climatology (365 groups) of 730 daily 512x512 float32 files, to
# GeoTIFFs and to one Zarr store, against the decode-once limit and xarray + flox, in one
# run; then the anomalies against that climatology; optionally 12 groups on stack A.
#
# usage: bench/groups.sh [-h]
#
# Environment (as bench/run.sh):
#   STRATA             strata binary            (default: <repo>/build/tools/strata)
#   STRATA_BASE        a second strata binary timed on the same workloads (e.g. an older build)
#   LIMIT_READ         decode-once limit binary (default: <repo>/build/bench/limit_read)
#   STRATA_SHARED_DIR  peer scripts             (default: <repo>/../shared/peers)
#   STRATA_BENCH_DIR   work dir                 (default: /tmp/strata-bench)
#   STACK_A            stack A folder for the 12-group run (skipped when missing)
#                      (default: $STRATA_BENCH_DIR/stack_60x2048x2048)
#   PYTHON             Python with xarray/flox  (default: /usr/bin/python3)
#   REPS               timed runs per contender (default: 3)
#
# Each contender gets one untimed warm-up, then REPS timed runs under /usr/bin/time: median
# wall seconds, median CPU seconds (user + system), largest peak RSS. Outputs are removed
# before each run, outside the timing. Prints a Markdown table.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=${STRATA:-$REPO_ROOT/build/tools/strata}
LIMIT=${LIMIT_READ:-$REPO_ROOT/build/bench/limit_read}
PEERS=${STRATA_SHARED_DIR:-$REPO_ROOT/../shared/peers}
BENCH_DIR=${STRATA_BENCH_DIR:-/tmp/strata-bench}
STACK_A=${STACK_A:-$BENCH_DIR/stack_60x2048x2048}
PYTHON=${PYTHON:-/usr/bin/python3}
REPS=${REPS:-3}
TIME_BIN=/usr/bin/time

die() { printf 'groups.sh: error: %s\n' "$*" >&2; exit 1; }
[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
[[ -x $STRATA ]] || die "strata binary not found at $STRATA (set STRATA=...)"
[[ -x $LIMIT ]] || die "limit_read not found at $LIMIT (set LIMIT_READ=...)"
[[ -x $TIME_BIN ]] || die "$TIME_BIN missing (apt-get install time)"
[[ -f $PEERS/make_stack.py ]] || die "peers not found in $PEERS (set STRATA_SHARED_DIR=...)"

WORK=$BENCH_DIR/groups
STACK=$BENCH_DIR/stack_730x512x512
mkdir -p "$WORK"
if [[ ! -f $STACK/0729.tif ]]; then
    echo "[groups] writing $STACK" >&2
    "$PYTHON" "$PEERS/make_stack.py" "$STACK" 730 512 512 > "$WORK/make_stack.log" 2>&1
fi
ls "$STACK"/*.tif > "$WORK/files.lst"
mapfile -t FILES < "$WORK/files.lst"
awk '{ printf "d%03d\n", (NR - 1) % 365 }' "$WORK/files.lst" > "$WORK/labels365.txt"

# run NAME OUTPUT CMD...: prints "median_wall median_cpu max_rss_mb"
run() {
    local name=$1 out=$2; shift 2
    local walls=() cpus=() rss=0 i
    for ((i = 0; i <= REPS; i++)); do
        rm -rf "$out"
        "$TIME_BIN" -f '%e %U %S %M' -o "$WORK/$name.time" "$@" > "$WORK/$name.log" 2>&1 ||
            die "$name failed: $(tail -3 "$WORK/$name.log")"
        ((i == 0)) && continue # warm-up
        read -r s u y kb < "$WORK/$name.time"
        walls+=("$s")
        cpus+=("$(awk -v u="$u" -v y="$y" 'BEGIN { printf "%.2f", u + y }')")
        ((kb > rss)) && rss=$kb
    done
    local mid=$(((REPS + 1) / 2))
    printf '%s %s %d\n' "$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "${mid}p")" \
        "$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "${mid}p")" $((rss / 1024))
}

rows=()
row() { # label wall cpu rss limit_wall
    rows+=("$(awk -v l="$1" -v w="$2" -v c="$3" -v m="$4" -v lim="$5" \
        'BEGIN { printf "| %s | %.2f | %.2f | %d | %.2f |", l, w, c, m, w / lim }')")
}

echo "[groups] 730 x 512x512, 365 groups, $REPS timed runs each" >&2
read -r lw lc lm < <(run limit "$WORK/none" "$LIMIT" "${FILES[@]}")
row "decode-once limit" "$lw" "$lc" "$lm" "$lw"
groupby() { # name binary extra...
    local name=$1 bin=$2; shift 2
    read -r w c m < <(run "$name" "$WORK/$name.out" "$bin" groupby -q --labels \
        @"$WORK/labels365.txt" --op mean -o "$WORK/$name.out" "$@" @"$WORK/files.lst")
    row "$name" "$w" "$c" "$m" "$lw"
}
groupby "strata groupby 365 -> GeoTIFFs" "$STRATA"
groupby "strata groupby 365 -> GeoTIFFs, --compress none" "$STRATA" --compress none
groupby "strata groupby 365 -> Zarr" "$STRATA" --format zarr
if [[ -n ${STRATA_BASE:-} ]]; then
    groupby "base groupby 365 -> GeoTIFFs" "$STRATA_BASE"
fi
rm -rf "$WORK/clim.zarr"
"$STRATA" groupby -q --labels @"$WORK/labels365.txt" --op mean -o "$WORK/clim.zarr" \
    @"$WORK/files.lst"
read -r w c m < <(run anomaly "$WORK/anom.zarr" "$STRATA" anomaly -q --labels \
    @"$WORK/labels365.txt" --clim "$WORK/clim.zarr" -o "$WORK/anom.zarr" @"$WORK/files.lst")
row "strata anomaly (730 steps -> Zarr)" "$w" "$c" "$m" "$lw"
if [[ -f $PEERS/peer_xarray_groupby.py ]]; then
    read -r w c m < <(run flox "$WORK/none" "$PYTHON" "$PEERS/peer_xarray_groupby.py" "$STACK" 365)
    row "xarray + flox (peer_xarray_groupby.py 365)" "$w" "$c" "$m" "$lw"
fi

if [[ -d $STACK_A ]]; then
    echo "[groups] stack A, 12 groups" >&2
    ls "$STACK_A"/*.tif > "$WORK/filesA.lst"
    mapfile -t FILES_A < "$WORK/filesA.lst"
    awk '{ printf "m%02d\n", (NR - 1) % 12 }' "$WORK/filesA.lst" > "$WORK/labels12.txt"
    read -r law lac lam < <(run limitA "$WORK/none" "$LIMIT" "${FILES_A[@]}")
    row "stack A: decode-once limit" "$law" "$lac" "$lam" "$law"
    for bin in "$STRATA" ${STRATA_BASE:+"$STRATA_BASE"}; do
        tag=$([[ $bin == "$STRATA" ]] && echo strata || echo base)
        read -r w c m < <(run "A12_$tag" "$WORK/A12_$tag.out" "$bin" groupby -q --labels \
            @"$WORK/labels12.txt" --op mean -o "$WORK/A12_$tag.out" @"$WORK/filesA.lst")
        row "stack A: $tag groupby 12 -> GeoTIFFs" "$w" "$c" "$m" "$law"
    done
fi

echo "| contender | wall s (median) | CPU s (user+sys) | peak RSS MB | x limit |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
