#!/usr/bin/env bash
# CLI tests for `strata`: exit codes (0 ok, 1 data/run errors, 2 usage errors), messages that
# name the bad file, `info --json`/`--check`, @LIST files, outputs and their values, and no
# output (nor *.part) left behind by a failed reduce.
#
# Needs: STRATA_CLI (the binary), PYTHON (with osgeo), gdal_create from gdal-bin.
set -u

source "$(dirname "$0")/lib/harness.sh" cli

# expect_no_outputs DIR DESCRIPTION: nothing but the inputs in DIR (no .tif nor .part).
expect_no_files() {
  local dir=$1 desc=$2 left
  left=$(find "$dir" -maxdepth 1 -type f \( -name '*.part' -o -name 'out*' \) | sort)
  if [ -z "$left" ]; then ok "$desc"; else not_ok "$desc" "left behind: $left"; fi
}

# pixel_values FILE: prints "min max" of band 1 over all pixels (nodata excluded).
pixel_stats() {
  "$PY" - "$1" <<'PYEOF'
import sys
from osgeo import gdal
import numpy as np
ds = gdal.Open(sys.argv[1])
a = ds.GetRasterBand(1).ReadAsArray().astype('float64')
print("%s %s %dx%d %s" % (repr(float(np.nanmin(a))), repr(float(np.nanmax(a))), ds.RasterXSize,
      ds.RasterYSize, gdal.GetDataTypeName(ds.GetRasterBand(1).DataType)))
PYEOF
}

expect_pixels() { # FILE "MIN MAX WxH TYPE" DESCRIPTION
  local got
  got=$(pixel_stats "$1" 2>&1)
  if [ "$got" = "$2" ]; then ok "$3"; else not_ok "$3" "got '$got', expected '$2'"; fi
}

# ---- fixtures -----------------------------------------------------------------------------
D="$WORK/data"
mkdir -p "$D"
make_tif() { # NAME BURN [extra gdal_create options...]
  local name=$1 burn=$2
  shift 2
  gdal_create -q -of GTiff -outsize 20 10 -bands 1 -ot Int16 -burn "$burn" -a_srs EPSG:32632 \
    -a_ullr 500000 5000100 500200 5000000 -co TILED=YES -co BLOCKXSIZE=16 -co BLOCKYSIZE=16 \
    "$@" "$D/$name" || { echo "cannot make fixture $name"; exit 99; }
}
make_tif s_20210105.tif 1
make_tif s_20210210.tif 2
make_tif s_20210315.tif 4
GOOD=("$D/s_20210105.tif" "$D/s_20210210.tif" "$D/s_20210315.tif")
# Misaligned: another size; another CRS.
gdal_create -q -of GTiff -outsize 21 10 -bands 1 -ot Int16 -burn 9 -a_srs EPSG:32632 \
  -a_ullr 500000 5000100 500210 5000000 "$D/z_size.tif"
gdal_create -q -of GTiff -outsize 20 10 -bands 1 -ot Int16 -burn 9 -a_srs EPSG:32633 \
  -a_ullr 500000 5000100 500200 5000000 "$D/z_crs.tif"
printf 'not a raster\n' >"$D/z_text.tif"
MISSING="$D/does_not_exist.tif"

# ---- exit codes: usage errors (2) -----------------------------------------------------------
expect_rc 2 "no command"
expect_rc 2 "unknown command" frobnicate "${GOOD[@]}"
expect_stderr_has "frobnicate" "unknown command is named"
expect_rc 0 "--help" --help
expect_rc 0 "reduce --help" reduce --help
expect_rc 2 "reduce without --op" reduce -o "$WORK/o1/out.tif" "${GOOD[@]}"
expect_rc 2 "reduce without -o" reduce --op mean "${GOOD[@]}"
expect_rc 2 "unknown op" reduce --op meen -o "$WORK/out.tif" "${GOOD[@]}"
expect_stderr_has "meen" "unknown op is named"
expect_rc 2 "one good op, one unknown" reduce --op mean,bogus -o "$WORK/out_{op}.tif" "${GOOD[@]}"
expect_rc 2 "--ddof -1" reduce --op std --ddof -1 -o "$WORK/out.tif" "${GOOD[@]}"
expect_rc 2 "--ddof abc" reduce --op std --ddof abc -o "$WORK/out.tif" "${GOOD[@]}"
expect_stderr_has "abc" "bad --ddof value is named"
expect_rc 2 "--dtype int8" reduce --op mean --dtype int8 -o "$WORK/out.tif" "${GOOD[@]}"
expect_stderr_has "int8" "bad --dtype is named"
expect_rc 2 "--dtype int16" reduce --op mean --dtype int16 -o "$WORK/out.tif" "${GOOD[@]}"
expect_rc 2 "several ops without {op}" reduce --op mean,max -o "$WORK/out.tif" "${GOOD[@]}"
expect_stderr_has "{op}" "message explains {op}"
expect_rc 2 "unknown option" reduce --op mean --frobnicate -o "$WORK/out.tif" "${GOOD[@]}"
expect_rc 2 "--threads -1" reduce --op mean --threads -1 -o "$WORK/out.tif" "${GOOD[@]}"
expect_rc 2 "--cache 0" reduce --op mean --cache 0 -o "$WORK/out.tif" "${GOOD[@]}"
expect_rc 2 "groupby without --by or --labels" groupby --op mean -o "$WORK/g0" "${GOOD[@]}"
expect_rc 2 "groupby with both --by and --labels" groupby --by month --labels a,b,c --op mean -o "$WORK/g0" "${GOOD[@]}"
expect_rc 2 "groupby with too few labels" groupby --labels a,b --op mean -o "$WORK/g0" "${GOOD[@]}"
expect_rc 2 "info with an unknown option" info --frobnicate "${GOOD[@]}"
expect_no_files "$WORK" "usage errors wrote nothing"

# ---- info --------------------------------------------------------------------------------
expect_rc 0 "info" info "${GOOD[@]}"
expect_stdout_has "(T=3, B=1, R=10, C=20)" "info shows the shape"
expect_stdout_has "32632" "info shows the EPSG code"
expect_rc 0 "info --json" info --json "${GOOD[@]}"
if "$PY" -c 'import json,sys; json.load(sys.stdin)' <"$OUT" 2>/dev/null; then
  ok "info --json parses as JSON"
else
  not_ok "info --json parses as JSON" "stdout: $(head -c 300 "$OUT")"
fi
got=$("$PY" -c '
import json, sys
d = json.load(sys.stdin)
m = d["meta"]
print(m["rows"], m["cols"], m["epsg"], m["dtype"], len(d["timesteps"]), d["timesteps"][2]["path"].split("/")[-1])
' <"$OUT" 2>&1)
if [ "$got" = "10 20 32632 int16 3 s_20210315.tif" ]; then ok "info --json content"; else not_ok "info --json content" "got '$got'"; fi
expect_rc 0 "info --json --time-pattern" info --json --time-pattern %Y%m%d "${GOOD[@]}"
got=$("$PY" -c 'import json,sys; print([s["time"] for s in json.load(sys.stdin)["timesteps"]])' <"$OUT" 2>&1)
if [ "$got" = "[1609804800, 1612915200, 1615766400]" ]; then ok "times from file names"; else not_ok "times from file names" "got '$got'"; fi
expect_rc 1 "info --time-pattern with no match" info --time-pattern X%Y%m%d "${GOOD[@]}"
expect_stderr_has "s_20210105.tif" "the file without a time is named"
expect_rc 1 "info --times unparseable" info --times 2021-01-01,2021-13-01,2021-03-01 "${GOOD[@]}"
expect_stderr_has "2021-13-01" "the bad time is named"
expect_rc 2 "info --times count mismatch" info --times 2021-01-01,2021-02-01 "${GOOD[@]}"

expect_rc 0 "info --check on good files" info --check "${GOOD[@]}"
expect_stdout_has "all 3 files match" "info --check reports success"
expect_rc 1 "info --check, another size at the end" info --check "${GOOD[@]}" "$D/z_size.tif"
expect_stderr_has "z_size.tif" "info --check names the file of another size"
expect_rc 1 "info --check, another CRS at the end" info --check "${GOOD[@]}" "$D/z_crs.tif"
expect_stderr_has "z_crs.tif" "info --check names the file with another CRS"
expect_stderr_has "CRS" "info --check says the CRS differs"
expect_rc 1 "info --check, missing file in the middle" info --check "${GOOD[0]}" "$MISSING" "${GOOD[1]}"
expect_stderr_has "does_not_exist.tif" "info --check names the missing file"
expect_rc 1 "info --check, not a raster" info --check "${GOOD[@]}" "$D/z_text.tif"
expect_stderr_has "z_text.tif" "info --check names the non-raster"
expect_rc 0 "info without --check does not open the others" info "${GOOD[@]}" "$MISSING"
expect_rc 1 "info, missing template" info "$MISSING" "${GOOD[@]}"
expect_stderr_has "does_not_exist.tif" "the missing template is named"

# ---- @LIST -------------------------------------------------------------------------------
LIST="$WORK/list.txt"
{
  echo "# inputs"
  echo "${GOOD[0]}"
  echo ""
  echo "${GOOD[1]}"
  printf '%s\r\n' "${GOOD[2]}"
} >"$LIST"
expect_rc 0 "info @LIST" info "@$LIST"
expect_stdout_has "(T=3, B=1, R=10, C=20)" "@LIST gives three files (comment, blank line, CRLF)"
expect_rc 0 "info @LIST plus a path" info "@$LIST" "${GOOD[0]}"
expect_stdout_has "(T=4," "@LIST and paths combine"
expect_rc 1 "@LIST that does not exist" info "@$WORK/nolist.txt"
expect_stderr_has "nolist.txt" "the missing list is named"
BADLIST="$WORK/badlist.txt"
printf '%s\n%s\n' "${GOOD[0]}" "$D/z_size.tif" >"$BADLIST"
expect_rc 1 "info --check @LIST with a bad file" info --check "@$BADLIST"
expect_stderr_has "z_size.tif" "bad file from a list is named"

# ---- reduce -------------------------------------------------------------------------------
R="$WORK/r"
mkdir -p "$R"
expect_rc 0 "reduce mean" reduce --quiet --op mean -o "$R/out.tif" "${GOOD[@]}"
# mean of 1, 2, 4 = 7/3; on disk float32 (int16 input).
expect_pixels "$R/out.tif" "$("$PY" -c 'import numpy as np; v=float(np.float32(7/3)); print(repr(v), repr(v), "20x10 Float32")')" "reduce mean values"
expect_rc 0 "reduce mean,max,count with {op}" reduce --quiet --op mean,max,count -o "$R/out_{op}.tif" "${GOOD[@]}"
expect_pixels "$R/out_max.tif" "4.0 4.0 20x10 Int16" "reduce max values"
expect_pixels "$R/out_count.tif" "3.0 3.0 20x10 Int32" "reduce count values"
expect_rc 0 "reduce mean --dtype float64" reduce --quiet --op mean --dtype float64 -o "$R/out64.tif" "${GOOD[@]}"
expect_pixels "$R/out64.tif" "$("$PY" -c 'print(repr(7/3), repr(7/3), "20x10 Float64")')" "reduce mean float64 values"
expect_rc 0 "reduce from @LIST" reduce --quiet --op sum -o "$R/out_sum.tif" "@$LIST"
expect_pixels "$R/out_sum.tif" "7.0 7.0 20x10 Float64" "reduce sum from @LIST values"
expect_rc 0 "reduce sum --dtype int64" reduce --quiet --op sum --dtype int64 -o "$R/out_sum64.tif" "@$LIST"
expect_pixels "$R/out_sum64.tif" "7.0 7.0 20x10 Int64" "reduce sum --dtype int64 values"
expect_rc 0 "reduce std --ddof 1" reduce --quiet --op std --ddof 1 --threads 2 -o "$R/out_std.tif" "${GOOD[@]}"
expect_pixels "$R/out_std.tif" "$("$PY" -c 'import numpy as np; v=float(np.float32(np.std([1.,2.,4.], ddof=1))); print(repr(v), repr(v), "20x10 Float32")')" "reduce std ddof=1 values"
left=$(find "$R" -name '*.part')
if [ -z "$left" ]; then ok "no .part files after successful runs"; else not_ok "no .part after success" "$left"; fi

# compression: "COMPRESS PREDICTOR" as GDAL reports them (ZSTD with the predictor by default).
layout() {
  "$PY" - "$1" <<'PYEOF'
import sys
from osgeo import gdal
ds = gdal.Open(sys.argv[1])
md = ds.GetMetadata("IMAGE_STRUCTURE")
print(md.get("COMPRESSION", "NONE"), md.get("PREDICTOR", "1"))
PYEOF
}
expect_layout() { # FILE "COMPRESS PREDICTOR" DESCRIPTION
  local got
  got=$(layout "$1" 2>&1)
  if [ "$got" = "$2" ]; then ok "$3"; else not_ok "$3" "got '$got', expected '$2'"; fi
}
expect_layout "$R/out.tif" "ZSTD 3" "default output: ZSTD, float predictor"
expect_layout "$R/out_max.tif" "ZSTD 2" "default integer output: ZSTD, horizontal predictor"
for c in deflate:DEFLATE lzw:LZW; do
  expect_rc 0 "reduce --compress ${c%%:*}" reduce --quiet --compress "${c%%:*}" --op mean -o "$R/c_${c%%:*}.tif" "${GOOD[@]}"
  expect_layout "$R/c_${c%%:*}.tif" "${c##*:} 3" "--compress ${c%%:*} output: ${c##*:}, float predictor"
done
expect_rc 0 "reduce --compress none" reduce --quiet --compress none --op mean -o "$R/c_none.tif" "${GOOD[@]}"
expect_layout "$R/c_none.tif" "NONE 1" "--compress none output: uncompressed"
expect_pixels "$R/c_none.tif" "$("$PY" -c 'import numpy as np; v=float(np.float32(7/3)); print(repr(v), repr(v), "20x10 Float32")')" "uncompressed output values"
expect_rc 2 "--compress lz4" reduce --quiet --compress lz4 --op mean -o "$R/c_bad.tif" "${GOOD[@]}"
expect_stderr_has "lz4" "unknown compression is named"

# ---- failed reduces leave nothing behind -----------------------------------------------------
F="$WORK/f"
mkdir -p "$F"
expect_rc 1 "reduce, misaligned file at the end" reduce --quiet --op mean -o "$F/out.tif" "${GOOD[@]}" "$D/z_size.tif"
expect_stderr_has "z_size.tif" "reduce names the misaligned file"
expect_no_files "$F" "no output nor .part after a misaligned file"
expect_rc 1 "reduce, several ops, CRS differs at the end" reduce --quiet --op mean,max -o "$F/out_{op}.tif" "${GOOD[@]}" "$D/z_crs.tif"
expect_stderr_has "z_crs.tif" "reduce names the file with another CRS"
expect_no_files "$F" "no outputs nor .part after a CRS mismatch"
expect_rc 1 "reduce, missing file in the middle" reduce --quiet --op mean -o "$F/out.tif" "${GOOD[0]}" "$MISSING" "${GOOD[1]}"
expect_stderr_has "does_not_exist.tif" "reduce names the missing file"
expect_no_files "$F" "no output after a missing file"
expect_rc 1 "reduce, missing template" reduce --quiet --op mean -o "$F/out.tif" "$MISSING" "${GOOD[@]}"
expect_stderr_has "does_not_exist.tif" "reduce names the missing template"
expect_rc 1 "reduce, not a raster at the end" reduce --quiet --op mean -o "$F/out.tif" "${GOOD[@]}" "$D/z_text.tif"
expect_stderr_has "z_text.tif" "reduce names the non-raster"
expect_no_files "$F" "no output after a non-raster input"
# Unwritable output: the parent of the output is a regular file (fails even as root).
touch "$F/plainfile"
expect_rc 1 "reduce into an unwritable place" reduce --quiet --op mean -o "$F/plainfile/out.tif" "${GOOD[@]}"
expect_stderr_has "plainfile/out.tif" "reduce names the output it cannot write"
expect_rc 1 "reduce into a missing folder" reduce --quiet --op mean,max -o "$F/nodir/out_{op}.tif" "${GOOD[@]}"
expect_no_files "$F" "no output nor .part after an unwritable output"
if [ "$(id -u)" != 0 ]; then
  RO="$WORK/ro"
  mkdir -p "$RO"
  chmod 555 "$RO"
  expect_rc 1 "reduce into a read-only folder" reduce --quiet --op mean -o "$RO/out.tif" "${GOOD[@]}"
  expect_no_files "$RO" "nothing in the read-only folder"
  chmod 755 "$RO"
fi
# A disk that fills up mid-run: a file size limit (SIGXFSZ ignored, so writes fail with EFBIG)
# below the outputs' size. Blocks encoded by the workers (ZSTD) and by GDAL (LZW) both fail
# the run, name the output and leave nothing.
NOISE="$WORK/noise"
mkdir -p "$NOISE"
"$PY" - "$NOISE" <<'PYEOF'
import sys
import numpy as np
from osgeo import gdal
rng = np.random.default_rng(1)
for t in range(3):
    ds = gdal.GetDriverByName("GTiff").Create("%s/n%d.tif" % (sys.argv[1], t), 600, 500, 1,
                                              gdal.GDT_Float32, ["TILED=YES"])
    ds.SetGeoTransform((500000, 30, 0, 3500000, 0, -30))
    ds.GetRasterBand(1).WriteArray(rng.standard_normal((500, 600)).astype(np.float32))
    ds = None
PYEOF
for c in zstd lzw; do
  (trap '' XFSZ; ulimit -f 64; "$STRATA" reduce --quiet --compress "$c" --op mean,max \
     -o "$F/out_full_{op}.tif" "$NOISE"/n*.tif >"$OUT" 2>"$ERR")
  RC=$?
  if [ "$RC" -eq 1 ]; then ok "reduce --compress $c on a full disk (exit 1)"; else not_ok "reduce --compress $c on a full disk" "exit $RC, expected 1"; fi
  expect_stderr_has "$F/out_full_" "--compress $c: the message names the output"
  expect_no_files "$F" "--compress $c: no output nor .part after a full disk"
done
(trap '' XFSZ; ulimit -f 64; "$STRATA" groupby --quiet --labels a,b,a --op mean \
   -o "$F/full_groups" "$NOISE"/n*.tif >"$OUT" 2>"$ERR")
RC=$?
if [ "$RC" -eq 1 ]; then ok "groupby on a full disk (exit 1)"; else not_ok "groupby on a full disk" "exit $RC, expected 1"; fi
left=$(find "$F/full_groups" -type f 2>/dev/null)
if [ -z "$left" ]; then ok "groupby on a full disk leaves no file"; else not_ok "groupby on a full disk leaves no file" "$left"; fi
# An existing output is untouched by a failed run.
cp "$R/out.tif" "$F/keep.tif"
before=$(cksum <"$F/keep.tif")
expect_rc 1 "failed reduce onto an existing output" reduce --quiet --op mean -o "$F/keep.tif" "${GOOD[@]}" "$D/z_size.tif"
if [ "$(cksum <"$F/keep.tif")" = "$before" ] && [ ! -e "$F/keep.tif.part" ]; then
  ok "existing output kept as it was"
else
  not_ok "existing output kept as it was"
fi
rm -f "$F/keep.tif" "$F/plainfile"

# ---- groupby -------------------------------------------------------------------------------
G="$WORK/g"
expect_rc 0 "groupby --labels" groupby --quiet --labels a,b,a --op mean -o "$G" "${GOOD[@]}"
expect_pixels "$G/a.tif" "2.5 2.5 20x10 Float32" "groupby label a mean (1, 4)"
expect_pixels "$G/b.tif" "2.0 2.0 20x10 Float32" "groupby label b mean (2)"
if "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [g["label"] for g in d["groups"]] == ["a", "b"], d
assert [g["count"] for g in d["groups"]] == [2, 1], d
' "$G/index.json" 2>"$ERR"; then ok "groupby index.json"; else not_ok "groupby index.json"; fi
G2="$WORK/g2"
expect_rc 0 "groupby --by month" groupby --quiet --by month --time-pattern %Y%m%d --op max,count -o "$G2" "${GOOD[@]}"
expect_pixels "$G2/03_max.tif" "4.0 4.0 20x10 Int16" "groupby month 03 max"
expect_pixels "$G2/01_count.tif" "1.0 1.0 20x10 Int32" "groupby month 01 count"
expect_rc 1 "groupby --by month without times" groupby --quiet --by month --op mean -o "$WORK/g3" "${GOOD[@]}"
expect_rc 1 "groupby with a misaligned file" groupby --quiet --labels a,b,a,b --op mean -o "$WORK/g4" "${GOOD[@]}" "$D/z_size.tif"
expect_stderr_has "z_size.tif" "groupby names the misaligned file"
left=$(find "$WORK/g4" -type f 2>/dev/null)
if [ -z "$left" ]; then ok "failed groupby leaves no files"; else not_ok "failed groupby leaves no files" "$left"; fi

finish
