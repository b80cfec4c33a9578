#!/usr/bin/env bash
# strata benchmark harness: strata vs the decode-once limit vs the Python stack, in one run.
#
# usage: bench/run.sh [--quick] [--only WORKLOAD[,WORKLOAD...]] [--peers-only] [-h]
#
#   --quick        small stacks, one timed run each: a smoke test of the harness
#   --only W       run only these workloads: read, reduce, median, groupby, memflat (comma list)
#   --peers-only   skip the strata rows (measure the limit and the Python peers only)
#
# Environment:
#   STRATA             strata binary            (default: <repo>/build/tools/strata)
#   LIMIT_READ         limit_read binary        (default: <repo>/build/bench/limit_read)
#   STRATA_SHARED_DIR  peer scripts             (default: <repo>/../shared/peers)
#   STRATA_BENCH_DIR   stack cache + work dir   (default: /tmp/strata-bench)
#   PYTHON             Python with gdal/xarray  (default: /usr/bin/python3)
#   REPS               timed runs per contender (default: 3, --quick: 1)
#   NO_PEERS           1: leave out xarray's median in the median workload (default 0)
#   MAX_OTHER          retry a timed run if other processes used more CPU than this, in cores,
#                      meanwhile (default 0.3); RETRIES (default 3) and RETRY_PAUSE (15 s) bound it
#
# Every contender gets one untimed warm-up run (so the page cache is warm for everyone), then
# REPS timed runs under /usr/bin/time; the table reports the median wall time and the largest
# peak RSS. The table is printed on stdout and saved to $STRATA_BENCH_DIR/<run>/results.md.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=${STRATA:-$REPO_ROOT/build/tools/strata}
LIMIT_READ=${LIMIT_READ:-$REPO_ROOT/build/bench/limit_read}
PEERS=${STRATA_SHARED_DIR:-$REPO_ROOT/../shared/peers}
BENCH_DIR=${STRATA_BENCH_DIR:-/tmp/strata-bench}
PYTHON=${PYTHON:-/usr/bin/python3}
TIME_BIN=/usr/bin/time
NGROUPS=12
MAX_OTHER=${MAX_OTHER:-0.3}
RETRIES=${RETRIES:-3}
RETRY_PAUSE=${RETRY_PAUSE:-15}
CLK_TCK=$(getconf CLK_TCK)
ALL_WORKLOADS=read,reduce,median,groupby,memflat

QUICK=0
ONLY=$ALL_WORKLOADS
PEERS_ONLY=0

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf 'run.sh: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

parse_args() {
    while (($#)); do
        case $1 in
            --quick) QUICK=1 ;;
            --only) [[ $# -ge 2 ]] || die "--only needs a workload"; ONLY=$2; shift ;;
            --only=*) ONLY=${1#--only=} ;;
            --peers-only) PEERS_ONLY=1 ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown argument '$1' (see --help)" ;;
        esac
        shift
    done
    local w
    for w in ${ONLY//,/ }; do
        [[ ",$ALL_WORKLOADS," == *",$w,"* ]] || die "unknown workload '$w' (one of $ALL_WORKLOADS)"
    done
}

selected() { [[ ",$ONLY," == *",$1,"* ]]; }

# ---- set-up ---------------------------------------------------------------------------------

check_tools() {
    if [[ ! -x $TIME_BIN ]]; then
        log "$TIME_BIN missing: installing package 'time'"
        apt-get install -y time >&2 || die "cannot install 'time' (run: apt-get install time)"
    fi
    [[ -x $PYTHON ]] || die "python not found at $PYTHON (set PYTHON=...)"
    [[ -f $PEERS/make_stack.py ]] || die "peer scripts not found in $PEERS (set STRATA_SHARED_DIR=...)"
    [[ -x $LIMIT_READ ]] ||
        die "limit_read not found at $LIMIT_READ (build it: cmake --build build --target limit_read, or set LIMIT_READ=...)"
    if ((!PEERS_ONLY)); then
        [[ -x $STRATA ]] ||
            die "strata binary not found at $STRATA (build it: cmake --build build, or set STRATA=...; --peers-only skips strata)"
    fi
}

# ensure_stack T ROWS COLS: generate the stack once into the cache, print its directory.
ensure_stack() {
    local t=$1 rows=$2 cols=$3
    local dir=$BENCH_DIR/stack_${t}x${rows}x${cols}
    local have
    have=$(find "$dir" -maxdepth 1 -name '*.tif' 2>/dev/null | wc -l) || true
    if ((have != t)); then
        log "generating $t x ${rows}x${cols} float32 DEFLATE stack in $dir"
        rm -rf "$dir" "$dir.partial"
        "$PYTHON" "$PEERS/make_stack.py" "$dir.partial" "$t" "$rows" "$cols" >&2
        mv "$dir.partial" "$dir"
    fi
    printf '%s\n' "$dir"
}

# write_list DIR OUT [N]: the first N (default all) files of a stack, sorted, one per line.
write_list() {
    local dir=$1 out=$2 files=("$1"/*.tif)
    local n=${3:-${#files[@]}}
    printf '%s\n' "${files[@]:0:n}" >"$out"
}

# write_labels LIST OUT: label of timestep t is t % NGROUPS (as the xarray peer does).
write_labels() {
    local n t
    n=$(wc -l <"$1")
    for ((t = 0; t < n; t++)); do printf '%d\n' $((t % NGROUPS)); done >"$2"
}

machine_info() {
    local cpu mem gdal
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
    mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
    gdal=$("$PYTHON" -c 'from osgeo import gdal; print(gdal.__version__)' 2>/dev/null || echo '?')
    printf -- '- machine: %s cores (nproc), %s, %s RAM\n' "$(nproc)" "$cpu" "$mem"
    printf -- '- GDAL %s; %s\n' "$gdal" "$("$PYTHON" --version 2>&1)"
    if ((!PEERS_ONLY)); then
        printf -- '- strata: %s (modified %s)\n' "$STRATA" "$(date -r "$STRATA" '+%F %T')"
    fi
    printf -- '- %s timed run(s) per contender after one warm-up; median wall seconds, median CPU\n' "$REPS"
    printf -- '  (user+system) seconds, max peak RSS; x limit and speed-up compare wall seconds\n' 
    printf -- '- other load: most CPU (in cores) other processes used during a kept run; runs above %s\n' "$MAX_OTHER"
    printf -- '  were retried up to %s times\n' "$RETRIES"
}

# ---- measuring --------------------------------------------------------------------------------

# reset_out: an empty output folder before every run, so no run pays for another's files.
reset_out() { rm -rf "$OUT"; mkdir -p "$OUT"; }

# cpu_busy: clock ticks the whole machine has spent busy (user+nice+system+irq+softirq+steal).
cpu_busy() {
    local _cpu user nice system _idle _iowait irq softirq steal
    read -r _cpu user nice system _idle _iowait irq softirq steal _ </proc/stat
    echo $((user + nice + system + irq + softirq + steal))
}

# run_once LOG CMD...: run CMD under /usr/bin/time, print "SECONDS PEAK_KB CPU_SECONDS OTHER":
# wall time, peak RSS, the command's user+system time, and the CPU other processes used
# meanwhile, in cores (the machine's busy time minus the command's, over the wall time): a
# gauge of noisy neighbours. CPU seconds are much less sensitive to them than wall seconds.
run_once() {
    local log=$1 tf b0 b1
    shift
    tf=$(mktemp)
    b0=$(cpu_busy)
    if ! "$TIME_BIN" -f '%e %M %U %S' -o "$tf" "$@" >"$log" 2>&1; then
        log "FAILED: $*"
        tail -n 20 "$log" >&2
        rm -f "$tf"
        exit 1
    fi
    b1=$(cpu_busy)
    tail -n 1 "$tf" | awk -v ticks=$((b1 - b0)) -v hz="$CLK_TCK" '{
        other = (ticks / hz - $3 - $4) / ($1 > 0.01 ? $1 : 0.01)
        printf "%s %s %.2f %.2f\n", $1, $2, $3 + $4, (other > 0 ? other : 0)
    }'
    rm -f "$tf"
}

# timed_run LOG CMD...: run_once, retried (up to RETRIES times, after a pause) while other
# processes used more than MAX_OTHER cores during the run.
timed_run() {
    local try r
    for ((try = 1; ; try++)); do
        reset_out
        r=$(run_once "$@")
        if awk -v o="${r##* }" -v max="$MAX_OTHER" 'BEGIN { exit !(o <= max) }' || ((try > RETRIES)); then
            printf '%s\n' "$r"
            return
        fi
        log "  other processes used ${r##* } cores during the run: retrying in ${RETRY_PAUSE}s"
        sleep "$RETRY_PAUSE"
    done
}

# median X...: the middle value (the lower middle for an even count).
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }

# stats_row WORKLOAD KEY "SECONDS..." "CPU_SECONDS..." PEAK_KB MAX_OTHER: appends a row to
# $RESULTS (median, min and max wall seconds, peak MB, worst other load, median CPU seconds).
stats_row() {
    local workload=$1 key=$2 kb=$5 max_other=$6 sorted med min max cpu_med
    local -a secs cpus
    read -r -a secs <<<"$3"
    read -r -a cpus <<<"$4"
    sorted=$(printf '%s\n' "${secs[@]}" | sort -g)
    med=$(median "${secs[@]}")
    min=$(head -n 1 <<<"$sorted")
    max=$(tail -n 1 <<<"$sorted")
    cpu_med=$(median "${cpus[@]}")
    printf '%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n' "$workload" "$key" "$med" "$min" "$max" $((kb / 1024)) \
        "$max_other" "$cpu_med" >>"$RESULTS"
    log "  $key -> ${med} s (min ${min}, max ${max}), ${cpu_med} CPU s, peak $((kb / 1024)) MB, others used <= $max_other cores"
}

# log_path WORKLOAD KEY: where a contender's last run logs.
log_path() { echo "$WORK/logs/$(tr -c 'A-Za-z0-9\n' '_' <<<"$1")-$2.log"; }

# measure P WORKLOAD KEY LOG CMD...: one timed run of a contender, added to the caller's
# variables P_secs and P_cpus (space-separated lists), P_kb and P_other (largest so far).
measure() {
    local p=$1 workload=$2 key=$3 log=$4 sec k cpu other
    shift 4
    read -r sec k cpu other < <(timed_run "$log" "$@")
    local sv=${p}_secs cv=${p}_cpus kv=${p}_kb ov=${p}_other
    printf -v "$sv" '%s %s' "${!sv}" "$sec"
    printf -v "$cv" '%s %s' "${!cv}" "$cpu"
    if ((k > ${!kv})); then
        printf -v "$kv" '%s' "$k"
    fi
    printf -v "$ov" '%s' "$(awk -v a="${!ov}" -v b="$other" 'BEGIN { print (b > a ? b : a) }')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$key" "$sec" "$k" "$cpu" "$other" >>"$WORK/raw.tsv"
}

# bench WORKLOAD KEY CMD...: warm-up + REPS timed runs; append a row to $RESULTS.
# Leaves the log of the last run in LAST_LOG and the outputs of the last run in $OUT.
bench() {
    local workload=$1 key=$2 i
    shift 2
    LAST_LOG=$(log_path "$workload" "$key")
    log "$workload | $key: warm-up + $REPS run(s)"
    reset_out
    run_once "$LAST_LOG" "$@" >/dev/null
    local c_secs="" c_cpus="" c_kb=0 c_other=0
    for ((i = 0; i < REPS; i++)); do
        measure c "$workload" "$key" "$LAST_LOG" "$@"
    done
    stats_row "$workload" "$key" "$c_secs" "$c_cpus" "$c_kb" "$c_other"
}

# bench_with_limit WORKLOAD LIST STRATA_ARGS...: the decode-once limit on the files of LIST
# and strata, in turns (limit, strata, limit, ...) after a warm-up of each. The machine's
# speed drifts by several percent within minutes; in turns, the drift moves both alike, so
# the ratio holds. With --peers-only, the limit alone. Leaves strata's outputs in $OUT.
bench_with_limit() {
    local workload=$1 list=$2 i files
    shift 2
    mapfile -t files <"$list"
    if ((PEERS_ONLY)); then
        bench "$workload" limit "$LIMIT_READ" "${files[@]}"
        return
    fi
    local llog slog
    llog=$(log_path "$workload" limit)
    slog=$(log_path "$workload" strata)
    log "$workload | limit and strata in turns: warm-up + $REPS run(s) each"
    reset_out
    run_once "$llog" "$LIMIT_READ" "${files[@]}" >/dev/null
    reset_out
    run_once "$slog" "$STRATA" "$@" >/dev/null
    local l_secs="" l_cpus="" l_kb=0 l_other=0 s_secs="" s_cpus="" s_kb=0 s_other=0
    for ((i = 0; i < REPS; i++)); do
        measure l "$workload" limit "$llog" "$LIMIT_READ" "${files[@]}"
        measure s "$workload" strata "$slog" "$STRATA" "$@"
    done
    stats_row "$workload" limit "$l_secs" "$l_cpus" "$l_kb" "$l_other"
    stats_row "$workload" strata "$s_secs" "$s_cpus" "$s_kb" "$s_other"
    LAST_LOG=$slog
}

# raster_mean FILE...: mean of all valid (not nodata, not NaN) pixels of all bands and files.
raster_mean() {
    "$PYTHON" - "$@" <<'EOF'
import sys, numpy as np
from osgeo import gdal
s, n = 0.0, 0
for f in sys.argv[1:]:
    ds = gdal.Open(f)
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        a = band.ReadAsArray().astype(np.float64)
        ok = np.isfinite(a)
        if band.GetNoDataValue() is not None:
            ok &= a != band.GetNoDataValue()
        s += a[ok].sum(); n += int(ok.sum())
print(s / n)
EOF
}

# check WORKLOAD KEY VALUE: record a result value to cross-check strata against xarray.
check() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$WORK/checks.tsv"; }
last_value() { tail -n 1 "$LAST_LOG" | awk '{print $NF}'; }

# ---- workloads ----------------------------------------------------------------------------------

workload_read() {
    local name
    for name in A B; do
        local wl="read, stack $name (${DESC[$name]})"
        bench_with_limit "$wl" "${LIST[$name]}" read-all "@${LIST[$name]}"
    done
}

workload_reduce() {
    local op name
    for op in mean std; do
        for name in A B; do
            local wl="reduce $op, stack $name (${DESC[$name]})"
            bench_with_limit "$wl" "${LIST[$name]}" reduce --quiet --op "$op" -o "$OUT/$op.tif" \
                "@${LIST[$name]}"
            ((PEERS_ONLY)) || check "$wl" strata "$(raster_mean "$OUT/$op.tif")"
            bench "$wl" xarray "$PYTHON" "$PEERS/peer_xarray.py" "$op" "${DIR[$name]}"
            check "$wl" xarray "$(last_value)"
            bench "$wl" seed "$PYTHON" "$PEERS/peer_seed_engine.py" "$op" "${DIR[$name]}"
        done
    done
}

# median on A and B (limit and strata in turns), then three quantiles in one pass (against the
# median's time: they share one selection), then xarray + dask's median.
workload_median() {
    local name
    for name in A B; do
        local wl="reduce median, stack $name (${DESC[$name]})"
        bench_with_limit "$wl" "${LIST[$name]}" reduce --quiet --op median -o "$OUT/median.tif" \
            "@${LIST[$name]}"
        if ! ((PEERS_ONLY)); then
            check "$wl" strata "$(raster_mean "$OUT/median.tif")"
            bench "$wl" "strata p10,p50,p90" "$STRATA" reduce --quiet --op p10,p50,p90 \
                -o "$OUT/q_{op}.tif" "@${LIST[$name]}"
        fi
        ((${NO_PEERS:-0})) && continue
        bench "$wl" xarray "$PYTHON" "$PEERS/peer_xarray.py" median "${DIR[$name]}"
        check "$wl" xarray "$(last_value)"
    done
}

workload_groupby() {
    local wl="groupby mean, $NGROUPS groups, stack A (${DESC[A]})"
    local labels=$WORK/labels_A.txt
    write_labels "${LIST[A]}" "$labels"
    bench_with_limit "$wl" "${LIST[A]}" groupby --quiet --labels "@$labels" --op mean \
        -o "$OUT/groups" "@${LIST[A]}"
    if ! ((PEERS_ONLY)); then
        check "$wl" strata "$(raster_mean "$OUT"/groups/*.tif)"
        # The peer keeps its result in memory: the same work without compressing 12 outputs.
        bench "$wl" "strata --compress none" "$STRATA" groupby --quiet --compress none \
            --labels "@$labels" --op mean -o "$OUT/groups_raw" "@${LIST[A]}"
    fi
    bench "$wl" xarray "$PYTHON" "$PEERS/peer_xarray_groupby.py" "${DIR[A]}" "$NGROUPS"
    check "$wl" xarray "$(last_value)"
}

# Peak memory of strata read-all on the first T/4, T/2 and T files of stack A: must stay flat.
workload_memflat() {
    local t=${SIZE_A[0]} n
    for n in $((t / 4)) $((t / 2)) "$t"; do
        local list=$WORK/A_first$n.lst wl="memory vs T: read, first $n files of stack A"
        write_list "${DIR[A]}" "$list" "$n"
        bench_with_limit "$wl" "$list" read-all "@$list"
    done
}

# ---- report -------------------------------------------------------------------------------------

render_table() {
    awk -F'\t' '
        function name(k) {
            if (k == "limit") return "decode-once limit"
            if (k == "xarray") return "xarray + dask"
            if (k == "seed") return "seed engine (dask.delayed)"
            return k
        }
        NR == FNR { if ($2 == "limit") lim[$1] = $3; if ($2 == "xarray") xa[$1] = $3; next }
        FNR == 1 {
            print "| workload | contender | seconds (median) | min - max | CPU s | peak MB | x limit | speed-up vs xarray | other load |"
            print "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        }
        {
            ratio = ($1 in lim && lim[$1] > 0) ? sprintf("%.2f", $3 / lim[$1]) : "-"
            speed = ($1 in xa && $3 > 0) ? sprintf("%.1f", xa[$1] / $3) : "-"
            printf "| %s | %s | %.2f | %.2f - %.2f | %.2f | %d | %s | %s | %.2f |\n", \
                   ($1 == prev ? "" : $1), name($2), $3, $4, $5, $8, $6, ratio, speed, $7
            prev = $1
        }' "$RESULTS" "$RESULTS"
}

# The same ratios on CPU (user+system) seconds: the fairer view when the machine is shared.
render_cpu_table() {
    printf '\nCPU seconds (user+system), less sensitive to other load than wall seconds:\n\n'
    awk -F'\t' '
        NR == FNR { if ($2 == "limit") lim[$1] = $8; if ($2 == "xarray") xa[$1] = $8; next }
        FNR == 1 {
            print "| workload | contender | CPU s | x limit (CPU) | less CPU than xarray |"
            print "| --- | --- | ---: | ---: | ---: |"
        }
        {
            ratio = ($1 in lim && lim[$1] > 0) ? sprintf("%.2f", $8 / lim[$1]) : "-"
            speed = ($1 in xa && $8 > 0) ? sprintf("%.1f", xa[$1] / $8) : "-"
            printf "| %s | %s | %.2f | %s | %s |\n", ($1 == prev ? "" : $1), $2, $8, ratio, speed
            prev = $1
        }' "$RESULTS" "$RESULTS"
}

render_checks() {
    [[ -s $WORK/checks.tsv ]] || return 0
    printf '\nResult check (mean of all valid output pixels; the seed engine does not mask nodata and is not checked):\n\n'
    awk -F'\t' '
        { v[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
        END {
            print "| workload | strata | xarray | relative difference |"
            print "| --- | ---: | ---: | ---: |"
            for (i = 1; i <= n; i++) {
                w = order[i]; s = v[w, "strata"]; x = v[w, "xarray"]
                d = (s != "" && x != "" && x != 0) ? sprintf("%.1e", (s - x) / x) : "-"
                printf "| %s | %s | %s | %s |\n", w, (s == "" ? "-" : s), (x == "" ? "-" : x), d
            }
        }' "$WORK/checks.tsv"
}

# ---- main -----------------------------------------------------------------------------------------

main() {
    parse_args "$@"
    if ((QUICK)); then
        SIZE_A=(24 512 512) SIZE_B=(120 64 64)
        REPS=${REPS:-1}
        WORK=$BENCH_DIR/run-quick
    else
        SIZE_A=(60 2048 2048) SIZE_B=(1000 256 256)
        REPS=${REPS:-3}
        WORK=$BENCH_DIR/run
    fi
    check_tools
    OUT=$WORK/out RESULTS=$WORK/results.tsv
    rm -rf "$WORK"
    mkdir -p "$WORK/logs"
    : >"$RESULTS"
    : >"$WORK/raw.tsv"

    declare -gA DIR LIST DESC
    DIR[A]=$(ensure_stack "${SIZE_A[@]}")
    DESC[A]="${SIZE_A[0]} x ${SIZE_A[1]}x${SIZE_A[2]}"
    if selected read || selected reduce || selected median; then
        DIR[B]=$(ensure_stack "${SIZE_B[@]}")
        DESC[B]="${SIZE_B[0]} x ${SIZE_B[1]}x${SIZE_B[2]}"
    fi
    local name
    for name in "${!DIR[@]}"; do
        LIST[$name]=$WORK/$name.lst
        write_list "${DIR[$name]}" "${LIST[$name]}"
    done

    local w
    for w in ${ALL_WORKLOADS//,/ }; do
        if selected "$w"; then "workload_$w"; fi
    done

    {
        machine_info
        printf '\n'
        render_table
        render_cpu_table
        render_checks
    } | tee "$WORK/results.md"
    log "saved $WORK/results.md (raw timings: $WORK/raw.tsv, logs: $WORK/logs)"
}

main "$@"
