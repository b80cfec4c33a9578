#!/usr/bin/env bash
# strata to-zarr against xarray + dask's to_zarr (the peer), in one run.
#
# usage: bench/zarr.sh [STACK_DIR] [-h]
#
#   STACK_DIR   GeoTIFF stack (default: $STRATA_BENCH_DIR/stack_60x2048x2048, stack A of
#               bench/run.sh, which generates it)
#
# Environment (as bench/run.sh):
#   STRATA             strata binary            (default: <repo>/build/tools/strata)
#   STRATA_SHARED_DIR  peer scripts             (default: <repo>/../shared/peers)
#   STRATA_BENCH_DIR   work dir                 (default: /tmp/strata-bench)
#   PYTHON             Python with xarray/zarr  (default: /usr/bin/python3)
#   REPS               timed runs per contender (default: 3)
#
# Contenders, all writing blosc-lz4 Zarr v2 of the same values: strata with its default
# chunks (one source-block tile), strata with the peer's chunks (1 x 1 x 1024 x 1024), and
# the peer. Each gets one untimed warm-up, then REPS timed runs under /usr/bin/time (median
# wall time, largest peak RSS). Every store is removed before each run, outside the timing;
# the peer's own rmtree then finds nothing. Finally the stores are compared value by value.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=${STRATA:-$REPO_ROOT/build/tools/strata}
PEERS=${STRATA_SHARED_DIR:-$REPO_ROOT/../shared/peers}
BENCH_DIR=${STRATA_BENCH_DIR:-/tmp/strata-bench}
PYTHON=${PYTHON:-/usr/bin/python3}
REPS=${REPS:-3}
TIME_BIN=/usr/bin/time

die() { printf 'zarr.sh: error: %s\n' "$*" >&2; exit 1; }
[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
STACK=${1:-$BENCH_DIR/stack_60x2048x2048}
[[ -d $STACK ]] || die "no stack at $STACK (bench/run.sh generates it)"
[[ -x $STRATA ]] || die "strata binary not found at $STRATA (set STRATA=...)"
[[ -x $TIME_BIN ]] || die "$TIME_BIN missing (apt-get install time)"
[[ -f $PEERS/peer_xarray_zarr.py ]] || die "peer not found in $PEERS (set STRATA_SHARED_DIR=...)"
WORK=$BENCH_DIR/zarr
mkdir -p "$WORK"
ls "$STACK"/*.tif > "$WORK/files.lst"

# run NAME STORE CMD...: prints "median_seconds max_rss_mb"
run() {
    local name=$1 store=$2; shift 2
    local times=() rss=0 i
    for ((i = 0; i <= REPS; i++)); do
        rm -rf "$store"
        "$TIME_BIN" -f '%e %M' -o "$WORK/$name.time" "$@" > "$WORK/$name.log" 2>&1 ||
            die "$name failed: $(tail -3 "$WORK/$name.log")"
        ((i == 0)) && continue # warm-up
        read -r s kb < "$WORK/$name.time"
        times+=("$s")
        ((kb > rss)) && rss=$kb
    done
    printf '%s %d\n' "$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")" \
        $((rss / 1024))
}

echo "[zarr] stack $STACK ($(wc -l < "$WORK/files.lst") files), $REPS timed runs each" >&2
read -r t_def m_def < <(run strata_default "$WORK/strata_default.zarr" "$STRATA" to-zarr -q \
    --codec blosc-lz4 -o "$WORK/strata_default.zarr" "@$WORK/files.lst")
read -r t_1k m_1k < <(run strata_1024 "$WORK/strata_1024.zarr" "$STRATA" to-zarr -q \
    --codec blosc-lz4 --chunks 1,1,1024,1024 -o "$WORK/strata_1024.zarr" "@$WORK/files.lst")
read -r t_peer m_peer < <(run peer "$WORK/peer.zarr" "$PYTHON" "$PEERS/peer_xarray_zarr.py" \
    "$STACK" "$WORK/peer.zarr")

"$PYTHON" - "$WORK" <<'EOF' > "$WORK/check.txt"
import sys, numpy as np, zarr
w = sys.argv[1]
peer = zarr.open(w + "/peer.zarr", mode="r")["data"]
for name in ("strata_default", "strata_1024"):
    ours = zarr.open_consolidated(w + "/%s.zarr" % name, mode="r")["data"]
    assert ours.shape == peer.shape and ours.dtype == peer.dtype, (ours.shape, peer.shape)
    same = all(np.array_equal(ours[t].view("u%d" % ours.dtype.itemsize),
                              peer[t].view("u%d" % ours.dtype.itemsize))
               for t in range(ours.shape[0]))
    print("%s: values equal to the peer's bit for bit: %s" % (name, same))
EOF

speed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
cat <<EOF | tee "$WORK/results.md"
- machine: $(nproc) cores; GDAL $(gdal-config --version 2>/dev/null || echo '?'); $("$PYTHON" --version 2>&1)
- stack: $STACK; blosc-lz4, Zarr v2; median of $REPS runs after a warm-up

| contender | chunks | seconds (median) | peak MB | speed-up vs xarray |
| --- | --- | ---: | ---: | ---: |
| strata to-zarr | default (1, 1, source-block tile) | $t_def | $m_def | $(speed "$t_peer" "$t_def") |
| strata to-zarr | 1, 1, 1024, 1024 (as the peer) | $t_1k | $m_1k | $(speed "$t_peer" "$t_1k") |
| xarray + dask to_zarr (peer) | 1, 1, 1024, 1024 | $t_peer | $m_peer | 1.0 |

$(cat "$WORK/check.txt")
EOF
