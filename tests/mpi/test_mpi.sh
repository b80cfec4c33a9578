#!/usr/bin/env bash
# strata under mpirun: 1, 2 and 3 ranks give results bitwise identical to the single-process
# run, for every reduce op and groupby (3 ranks on the stack of several tiles); a file that
# only rank 1 reads makes the whole job fail, naming the file, with no output left.
set -euo pipefail
: "${STRATA_CLI:?}" "${PYTHON:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
check() { # check NAME COMMAND...
    if "${@:2}"; then pass=$((pass + 1)); else echo "FAILED: $1"; fail=$((fail + 1)); fi
}
# Open MPI's plugins are unloaded before LeakSanitizer looks: only full stacks (slow unwind)
# reach the MPI frames that tests/lsan.supp names. Slow unwinding makes every allocation
# several times dearer, so only the ranks get it (single-process runs keep the fast one), and
# 16 frames of it, which reach a named frame for every allocation of Open MPI's (its plugins'
# constructors are matched by _dl_init; 12 frames do not, for 3 ranks). Leaks are found
# whatever the depth; a shorter stack can only match fewer suppressions.
mpirun_n() { # mpirun_n N ARGS...
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0:malloc_context_size=16" \
        timeout 300 mpirun --oversubscribe --allow-run-as-root -n "$1" "${@:2}"
}

# Two stacks: many tiles (split over ranks) and one tile with many timesteps (split in time),
# small: every rank runs with slow unwinding (above), which makes each block read dear.
"$PYTHON" - "$work" <<'PY'
import sys, numpy as np
from osgeo import gdal, osr
d = sys.argv[1]
srs = osr.SpatialReference(); srs.ImportFromEPSG(32636)
rng = np.random.default_rng(7)
def stack(name, T, R, C, B, block):
    for t in range(T):
        ds = gdal.GetDriverByName("GTiff").Create(f"{d}/{name}_{t:03d}.tif", C, R, B, gdal.GDT_Float32,
                                                 ["TILED=YES", f"BLOCKXSIZE={block}", f"BLOCKYSIZE={block}"])
        ds.SetGeoTransform((500000, 30, 0, 3500000, 0, -30)); ds.SetProjection(srs.ExportToWkt())
        for b in range(B):
            a = rng.normal(10, 3, (R, C)).astype(np.float32)
            a[rng.random((R, C)) < 0.05] = -9999
            a[0:3, 0:3] = -9999
            band = ds.GetRasterBand(b + 1); band.SetNoDataValue(-9999); band.WriteArray(a)
        ds = None
stack("wide", 6, 200, 330, 2, 64)
stack("deep", 24, 48, 48, 1, 16)
PY
ls "$work"/wide_*.tif >"$work/wide.txt"
ls "$work"/deep_*.tif >"$work/deep.txt"
ops=mean,sum,min,max,std,var,count,median

# same_rasters NAME DIR_A DIR_B: every .tif equal pixel for pixel, bit for bit; the pairs are
# compared together at the end, in one Python (its start-up with GDAL is not free).
same_rasters() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$work/same.tsv"; }
check_same_rasters() {
    local line seen=0
    while IFS= read -r line; do
        seen=$((seen + 1))
        case $line in
        ok) pass=$((pass + 1)) ;;
        *) echo "$line"; fail=$((fail + 1)) ;;
        esac
    done < <("$PYTHON" - "$work/same.tsv" <<'PY'
import sys, os
from osgeo import gdal
for line in open(sys.argv[1]):
    name, a, b = line.rstrip("\n").split("\t")
    try:
        names = sorted(n for n in os.listdir(a) if n.endswith(".tif"))
        assert names and names == sorted(n for n in os.listdir(b) if n.endswith(".tif")), (names, os.listdir(b))
        for n in names:
            da, db = gdal.Open(f"{a}/{n}"), gdal.Open(f"{b}/{n}")
            assert da.ReadRaster() == db.ReadRaster(), n
            assert da.GetGeoTransform() == db.GetGeoTransform(), n
        print("ok")
    except Exception as e:
        print(f"FAILED: {name}: {e!r}")
PY
    )
    # a Python that died early answers for fewer pairs than were asked
    if [ "$seen" -ne "$(wc -l <"$work/same.tsv")" ]; then
        echo "FAILED: raster comparisons: $seen answers for $(wc -l <"$work/same.tsv") pairs"
        fail=$((fail + 1))
    fi
}

for stack in wide deep; do
    mkdir -p "$work/$stack-1p"
    "$STRATA_CLI" reduce --quiet --op $ops -o "$work/$stack-1p/r_{op}.tif" "@$work/$stack.txt"
    awk '{print (NR % 3 == 0) ? "c" : (NR % 2 ? "a" : "b")}' "$work/$stack.txt" \
        >"$work/$stack-labels.txt"
    "$STRATA_CLI" groupby --quiet --labels "@$work/$stack-labels.txt" --op mean,std \
        -o "$work/$stack-1p/g" "@$work/$stack.txt"
    # One rank runs the single-process path, checked above. Ranks share out whole tiles:
    # wide has 2 (200x330 in 256x256 tiles), so 2 ranks each compute one and 3 ranks leave
    # one idle; deep is one tile, so every rank but rank 0 is idle whatever their number,
    # and a third rank would only add a second idle one: deep runs on 2.
    ranks="2 3"
    [ "$stack" = deep ] && ranks=2
    for n in $ranks; do
        out="$work/$stack-$n"
        mkdir -p "$out"
        check "$stack reduce, $n ranks" mpirun_n "$n" "$STRATA_CLI" reduce --quiet --threads 1 \
            --op $ops -o "$out/r_{op}.tif" "@$work/$stack.txt"
        check "$stack groupby, $n ranks" mpirun_n "$n" "$STRATA_CLI" groupby --quiet --threads 1 \
            --labels "@$work/$stack-labels.txt" --op mean,std -o "$out/g" "@$work/$stack.txt"
        same_rasters "$stack reduce, $n ranks = 1 process" "$work/$stack-1p" "$out"
        same_rasters "$stack groupby, $n ranks = 1 process" "$work/$stack-1p/g" "$out/g"
        check "$stack groupby index, $n ranks" cmp -s "$work/$stack-1p/g/index.json" "$out/g/index.json"
    done
done

# to-zarr: every rank writes its chunks, rank 0 the metadata; stores are byte-identical to a
# single process's (v2 and v3, and an append).
for v in 2 3; do
    "$STRATA_CLI" to-zarr -q --zarr-version $v -o "$work/z$v-1p.zarr" "@$work/wide.txt"
    "$STRATA_CLI" to-zarr -q --zarr-version $v --mode a -o "$work/z$v-1p.zarr" "@$work/deep.txt" \
        2>/dev/null || true # a different grid: refused, store unchanged
    for n in 2 3; do
        check "to-zarr v$v, $n ranks" mpirun_n "$n" "$STRATA_CLI" to-zarr -q --threads 1 \
            --zarr-version $v -o "$work/z$v-$n.zarr" "@$work/wide.txt"
        check "to-zarr v$v, $n ranks = 1 process" diff -r "$work/z$v-1p.zarr" "$work/z$v-$n.zarr"
    done
done
head -5 "$work/wide.txt" >"$work/first.txt"
tail -5 "$work/wide.txt" >"$work/last.txt"
# The store appended to is written once by one process (writing a store with 2 ranks is
# checked above): only the append runs on the ranks.
"$STRATA_CLI" to-zarr -q -o "$work/za-1p.zarr" "@$work/first.txt"
cp -r "$work/za-1p.zarr" "$work/za-2.zarr"
"$STRATA_CLI" to-zarr -q --mode a -o "$work/za-1p.zarr" "@$work/last.txt"
check "to-zarr append, 2 ranks" mpirun_n 2 "$STRATA_CLI" to-zarr -q --threads 1 --mode a \
    -o "$work/za-2.zarr" "@$work/last.txt"
check "to-zarr append, 2 ranks = 1 process" diff -r "$work/za-1p.zarr" "$work/za-2.zarr"

# A file truncated in its last blocks: only the rank holding those tiles reads them.
cp "$(tail -n 1 "$work/wide.txt")" "$work/bad.tif"
size=$(stat -c %s "$work/bad.tif")
truncate -s $((size * 3 / 4)) "$work/bad.tif"
sed '$d' "$work/wide.txt" >"$work/bad.txt"
echo "$work/bad.tif" >>"$work/bad.txt"
mkdir -p "$work/badout"
set +e
mpirun_n 2 "$STRATA_CLI" reduce --quiet --threads 1 --op mean -o "$work/badout/m.tif" \
    "@$work/bad.txt" 2>"$work/bad.err"
rc=$?
set -e
check "bad file: non-zero exit" test "$rc" -ne 0
check "bad file: message names the file" grep -q "bad.tif" "$work/bad.err"
check "bad file: message names the rank" grep -q "rank 1" "$work/bad.err"
check "bad file: no output left" test -z "$(ls -A "$work/badout")"
set +e
mpirun_n 2 "$STRATA_CLI" to-zarr -q --threads 1 -o "$work/badout/bad.zarr" "@$work/bad.txt" \
    2>"$work/badz.err"
rc=$?
set -e
check "bad file, to-zarr: non-zero exit" test "$rc" -ne 0
check "bad file, to-zarr: message names the file" grep -q "bad.tif" "$work/badz.err"
check "bad file, to-zarr: no metadata" test ! -e "$work/badout/bad.zarr/.zmetadata" -a \
    ! -e "$work/badout/bad.zarr/.zgroup"
check_same_rasters
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
