#!/usr/bin/env bash
# Data safety through the CLI (issue 17): an output never overwrites an input, to-zarr replaces
# only its own stores and only once the new one is complete, SIGINT/SIGTERM leave the previous
# outputs as they were and nothing that looks complete, names JSON cannot hold are refused with
# that reason, time patterns need a year, exit codes (2 command line, 1 data), FIFO inputs.
# Every case checks the exit code, the message naming the file, and that the inputs are byte
# for byte what they were (md5sum).
#
# Needs: STRATA_CLI (the binary), PYTHON (numpy + osgeo), gdal_create and gdal_translate.
set -u

source "$(dirname "$0")/lib/harness.sh" safety
cd "$WORK" || exit 99

# inputs_intact DESCRIPTION: every fixture still has its checksum.
inputs_intact() {
  if md5sum --quiet -c "$WORK/sums" >/dev/null 2>&1; then ok "$1: inputs unchanged"; else not_ok "$1: inputs unchanged" "$(md5sum -c "$WORK/sums" 2>&1 | grep -v ': OK$')"; fi
}
expect_absent() { # PATH DESCRIPTION
  if [ ! -e "$1" ]; then ok "$2"; else not_ok "$2" "$1 exists"; fi
}
# tree_sum DIR: one checksum over every file of a folder (names and contents).
tree_sum() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs md5sum | md5sum); }
# no_leftovers DIR DESCRIPTION: no .part, temporary file or hidden store folder in DIR.
no_leftovers() {
  local left
  left=$(find "$1" -maxdepth 1 \( -name '*.part' -o -name '*.tmp*' -o -name '.*strata-*' \) | sort)
  if [ -z "$left" ]; then ok "$2"; else not_ok "$2" "left behind: $left"; fi
}

# ---- fixtures: three small GeoTIFFs -------------------------------------------------------------
make_tif() { # NAME BURN [extra gdal_create options...]
  local name=$1 burn=$2
  shift 2
  gdal_create -q -of GTiff -outsize 20 10 -bands 1 -ot Int16 -burn "$burn" -a_srs EPSG:32632 \
    -a_ullr 500000 5000100 500200 5000000 -co TILED=YES -co BLOCKXSIZE=16 -co BLOCKYSIZE=16 \
    "$@" "$name" || { echo "cannot make fixture $name"; exit 99; }
}
make_tif a_20210105.tif 1
make_tif b_20210210.tif 2
make_tif c_20210315.tif 4
A=a_20210105.tif B=b_20210210.tif C=c_20210315.tif
md5sum "$A" "$B" "$C" >"$WORK/sums"

# ---- 1. an output that is an input ------------------------------------------------------------
expect_rc 1 "reduce -o an input" reduce -q --op mean -o "$C" "$A" "$B" "$C"
expect_stderr_has "output $C is the input $C" "reduce names the input it refuses to overwrite"
inputs_intact "reduce -o an input"
expect_rc 1 "reduce -o an input through ./ and a symlink" reduce -q --op mean -o ./link.tif "$A" "$B" \
  "$(ln -s "$B" link.tif && echo link.tif)"
expect_stderr_has "is the input" "symlinked output refused"
expect_rc 1 "reduce -o a hard link of an input" reduce -q --op mean -o hard.tif "$A" "$B" \
  "$(ln "$C" hard.tif && echo "$C")"
expect_stderr_has "output hard.tif is the input $C" "hard link refused (device and inode)"
rm -f link.tif hard.tif
expect_rc 1 "reduce whose .part is an input" reduce -q --op mean -o x.tif "$A" \
  "$(cp "$B" x.tif.part && echo x.tif.part)"
expect_stderr_has "output x.tif.part is the input x.tif.part" "the .part of an output is checked too"
expect_absent x.tif "no output written when its .part is an input"
rm -f x.tif.part
printf '%s\n' "$A" "$B" "$C" >list.txt
expect_rc 1 "reduce -o an @LIST entry" reduce -q --op sum -o "$WORK/$B" @list.txt
expect_stderr_has "is the input $B" "@LIST entries are inputs too"
expect_rc 1 "groupby label naming an input" groupby -q --labels a_20210105,B,B --op mean -o . "$A" "$B" "$C"
expect_stderr_has "output ./$A is the input $A" "groupby names the input"
expect_absent B.tif "groupby wrote no group"
expect_absent index.json "groupby wrote no index.json"
expect_rc 1 "groupby index.json that is an input" groupby -q --labels x,y,y --op mean -o . "$A" "$B" \
  "$(cp "$C" index.json && echo index.json)"
expect_stderr_has "output ./index.json is the input index.json" "groupby checks index.json"
expect_absent x.tif "groupby wrote nothing"
rm -f index.json
expect_rc 1 "kerchunk -o an input" kerchunk -o "$B" "$A" "$B"
expect_stderr_has "output $B is the input $B" "kerchunk names the input"
expect_rc 1 "to-zarr -o an input" to-zarr -q -o "$B" "$A" "$B"
expect_stderr_has "output $B is the input $B" "to-zarr names the input"
mkdir -p holder.zarr && cp "$A" holder.zarr/in.tif
expect_rc 1 "to-zarr into a folder holding an input" to-zarr -q -o holder.zarr holder.zarr/in.tif "$B"
expect_stderr_has "holds the input holder.zarr/in.tif" "to-zarr refuses a store holding an input"
if cmp -s "$A" holder.zarr/in.tif; then ok "the input inside the folder is kept"; else not_ok "the input inside the folder is kept"; fi
cat >items.json <<EOF
{"type": "FeatureCollection", "features": [
 {"type": "Feature", "stac_version": "1.0.0", "id": "i1", "geometry": null,
  "properties": {"datetime": "2021-01-05T00:00:00Z"}, "links": [],
  "assets": {"data": {"href": "$A", "type": "image/tiff"}}},
 {"type": "Feature", "stac_version": "1.0.0", "id": "i2", "geometry": null,
  "properties": {"datetime": "2021-02-10T00:00:00Z"}, "links": [],
  "assets": {"data": {"href": "$WORK/$B", "type": "image/tiff"}}}]}
EOF
expect_rc 1 "reduce --stac -o a local href" reduce -q --op mean -o "$B" --stac items.json
expect_stderr_has "is the input $WORK/$B" "STAC hrefs that are local files are inputs"
inputs_intact "item 1"

# ---- 2. to-zarr -o PATH that is not a store of ours ------------------------------------------------
echo "my notes" >notes.txt
md5sum notes.txt >>"$WORK/sums"
expect_rc 1 "to-zarr -o a regular file" to-zarr -q -o notes.txt "$A"
expect_stderr_has "notes.txt: exists and is not a Zarr store (a regular file)" "to-zarr names the file it refuses"
mkdir other.zarr && echo '{"zarr_format": 2}' >other.zarr/.zgroup && echo '{}' >other.zarr/.zattrs
expect_rc 1 "to-zarr -o a Zarr store strata did not write" to-zarr -q -o other.zarr "$A"
expect_stderr_has "other.zarr: is a Zarr store that strata did not write" "foreign store refused"
if [ -f other.zarr/.zgroup ]; then ok "foreign store kept"; else not_ok "foreign store kept"; fi
inputs_intact "item 2"

# ---- 3. mode w keeps the old store until the new one is complete ---------------------------------
expect_rc 0 "to-zarr writes a store" to-zarr -q -o s.zarr "$A" "$B"
OLD=$(tree_sum s.zarr)
expect_rc 1 "to-zarr over it with a missing input" to-zarr -q -o s.zarr "$A" missing.tif
expect_stderr_has "missing.tif" "the missing input is named"
if [ "$(tree_sum s.zarr)" = "$OLD" ]; then ok "the old store is intact after a failed mode w"; else not_ok "the old store is intact after a failed mode w"; fi
no_leftovers . "no half store beside it"
expect_rc 0 "to-zarr mode w replaces it" to-zarr -q -o s.zarr "$A" "$B" "$C"
"$PY" - <<'PYEOF' >"$OUT" 2>&1
import zarr
print(zarr.open_consolidated("s.zarr", mode="r")["data"].shape[0])
PYEOF
if [ "$(cat "$OUT")" = "3" ]; then ok "zarr reads the replaced store (3 timesteps)"; else not_ok "zarr reads the replaced store" "$(cat "$OUT")"; fi
no_leftovers . "no old store left after the swap"
# reduce and groupby keep an old output on failure too
expect_rc 0 "reduce writes an output" reduce -q --op max -o r.tif "$A" "$B"
md5sum r.tif >r.sum
expect_rc 1 "reduce over it with a missing input" reduce -q --op max -o r.tif "$A" missing.tif
if md5sum --quiet -c r.sum >/dev/null 2>&1; then ok "reduce keeps the old output"; else not_ok "reduce keeps the old output"; fi
expect_rc 0 "groupby writes a folder" groupby -q --labels p,p,q --op max -o g "$A" "$B" "$C"
GOLD=$(tree_sum g)
expect_rc 1 "groupby over it with a missing input" groupby -q --labels p,p,q --op max -o g "$A" "$B" missing.tif
if [ "$(tree_sum g)" = "$GOLD" ]; then ok "groupby keeps the old folder"; else not_ok "groupby keeps the old folder"; fi
no_leftovers g "groupby left no .part"
expect_rc 0 "kerchunk writes refs" kerchunk -o k.json "$A" "$B"
md5sum k.json >k.sum
expect_rc 1 "kerchunk over it with a missing input" kerchunk -o k.json "$A" missing.tif
if md5sum --quiet -c k.sum >/dev/null 2>&1; then ok "kerchunk keeps the old refs"; else not_ok "kerchunk keeps the old refs"; fi
no_leftovers . "kerchunk left no temporary file"
inputs_intact "item 3"

# ---- 6. SIGINT / SIGTERM mid-run -------------------------------------------------------------------
mkdir big
"$PY" - <<'PYEOF' || { echo "cannot make the big stack"; exit 99; }
from osgeo import gdal
import numpy as np
ds = gdal.GetDriverByName("GTiff").Create("big/f000.tif", 1024, 1024, 1, gdal.GDT_Float32,
                                          ["TILED=YES", "COMPRESS=DEFLATE"])
ds.SetGeoTransform([0, 1, 0, 0, 0, -1])
ds.GetRasterBand(1).WriteArray(np.random.default_rng(1).random((1024, 1024), dtype="float32"))
ds = None
PYEOF
for i in $(seq 1 39); do cp big/f000.tif "big/f$(printf %03d "$i").tif"; done
md5sum big/*.tif >>"$WORK/sums"
# interrupt SIGNAL WATCH ARGS...: starts strata ARGS, waits until WATCH exists (the run is
# writing), sends SIGNAL; sets RC.
interrupt() {
  local sig=$1 watch=$2
  shift 2
  "$STRATA" "$@" >"$OUT" 2>"$ERR" &
  local pid=$! i
  for i in $(seq 1 600); do
    [ -e "$watch" ] && break
    sleep 0.02
  done
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"
    RC=-1
    return
  fi
  kill "-$sig" "$pid"
  wait "$pid"
  RC=$?
}
expect_rc 0 "reduce writes big_mean.tif" reduce -q --op mean -o big_mean.tif big/f00[0-2].tif
md5sum big_mean.tif >big.sum
interrupt INT big_mean.tif.part reduce -q --threads 1 --op mean -o big_mean.tif big/*.tif
if [ "$RC" -eq 130 ]; then ok "SIGINT: reduce exits 130"; else not_ok "SIGINT: reduce exits 130" "exit $RC"; fi
expect_stderr_has "interrupted by SIGINT" "SIGINT is reported"
if md5sum --quiet -c big.sum >/dev/null 2>&1; then ok "SIGINT: the previous output is intact"; else not_ok "SIGINT: the previous output is intact"; fi
no_leftovers . "SIGINT: no .part left"
expect_rc 0 "to-zarr writes big.zarr" to-zarr -q -o big.zarr big/f00[0-2].tif
ZOLD=$(tree_sum big.zarr)
interrupt TERM .big.zarr.strata-new/data to-zarr -q --threads 1 -o big.zarr big/*.tif
if [ "$RC" -eq 143 ]; then ok "SIGTERM: to-zarr exits 143"; else not_ok "SIGTERM: to-zarr exits 143" "exit $RC"; fi
expect_stderr_has "interrupted by SIGTERM" "SIGTERM is reported"
if [ "$(tree_sum big.zarr)" = "$ZOLD" ]; then ok "SIGTERM: the previous store is intact"; else not_ok "SIGTERM: the previous store is intact"; fi
no_leftovers . "SIGTERM: no temporary store left"
interrupt INT new.zarr/data to-zarr -q --threads 1 -o new.zarr big/*.tif
if [ "$RC" -eq 130 ]; then ok "SIGINT: a new store's run exits 130"; else not_ok "SIGINT: a new store's run exits 130" "exit $RC"; fi
expect_absent new.zarr "SIGINT: the new store is removed"
inputs_intact "item 6"

# ---- 7. names that are not UTF-8 ---------------------------------------------------------------------
BADNAME=$'bad\xff.tif'
cp "$A" "$BADNAME"
expect_rc 2 "groupby label not UTF-8" groupby -q --labels $'x\xff',y,y --op mean -o g7 "$A" "$B" "$C"
expect_stderr_has "is not valid UTF-8" "the label's fault is named"
expect_absent g7 "groupby created no folder for refused labels"
expect_rc 1 "to-zarr file name not UTF-8" to-zarr -q -o z7.zarr "$BADNAME" "$B"
expect_stderr_has "is not valid UTF-8" "to-zarr says why"
expect_absent z7.zarr "to-zarr wrote no store"
expect_rc 1 "kerchunk file name not UTF-8" kerchunk -o k7.json "$BADNAME" "$B"
expect_stderr_has "is not valid UTF-8" "kerchunk says why"
if grep -q "out of memory" "$ERR"; then not_ok "kerchunk does not blame memory"; else ok "kerchunk does not blame memory"; fi
expect_rc 1 "info --json file name not UTF-8" info --json "$BADNAME" "$B"
expect_stderr_has "is not valid UTF-8" "info --json says why"
if [ -s "$OUT" ]; then not_ok "info --json printed nothing" "$(head -c 200 "$OUT")"; else ok "info --json printed nothing"; fi
expect_rc 0 "reduce reads a file name that is not UTF-8" reduce -q --op max -o r7.tif "$BADNAME" "$B"
inputs_intact "item 7"

# ---- 9. a time pattern without a year ----------------------------------------------------------------
expect_rc 2 "groupby --time-pattern without %Y" groupby -q --by year --time-pattern a_ --op mean -o g9 "$A"
expect_stderr_has "time pattern 'a_' has no year field (%Y)" "the pattern's fault is named"
expect_absent g9 "no 1970.tif written"
expect_rc 2 "info --time-pattern without %Y" info --time-pattern %m%d "$A"

# ---- minor: exit codes, labels, times, STAC, kerchunk, FIFO -----------------------------------------
for cmd in reduce groupby to-zarr info read-all anomaly; do
  case $cmd in
  reduce) args=(--op mean -o m.tif) ;;
  groupby) args=(--labels a --op mean -o gm) ;;
  anomaly) args=(--labels a --clim c.zarr -o m.zarr) ;;
  to-zarr) args=(-o m.zarr) ;;
  *) args=() ;;
  esac
  expect_rc 2 "$cmd without input files" "$cmd" "${args[@]}"
  expect_stderr_has "no input files" "$cmd says there are no input files"
done
expect_rc 2 "kerchunk without input files" kerchunk -o m.json
expect_rc 2 "reduce -o ''" reduce --op mean -o '' "$A"
expect_rc 2 "groupby -o ''" groupby --labels a --op mean -o '' "$A"
expect_rc 2 "to-zarr -o ''" to-zarr -o '' "$A"
expect_rc 2 "kerchunk -o ''" kerchunk -o '' "$A"
expect_rc 2 "wrong --times count" reduce --op mean -o m.tif --times 2021-01-01 "$A" "$B"
expect_stderr_has "--times gives 1 times for 2 files" "the --times count is named"
expect_rc 2 "wrong --labels count" groupby --labels a --op mean -o gm "$A" "$B"
expect_rc 2 "wrong --labels count (anomaly)" anomaly --labels a --clim c.zarr -o m.zarr "$A" "$B"
expect_stderr_has "1 labels for 2 files" "anomaly names the counts"
expect_rc 2 "label of spaces" groupby --labels '  ,b' --op mean -o gm "$A" "$B"
expect_stderr_has "only spaces" "spaces-only label refused"
expect_rc 2 "label with a control character" groupby --labels $'a\tb,b' --op mean -o gm "$A" "$B"
expect_stderr_has "control character" "control character refused"
expect_absent gm "groupby created no folder before checking its labels"
expect_rc 0 "to-zarr with times" to-zarr -q -o t.zarr --times 2021-01-01,2021-02-01 "$A" "$B"
TOLD=$(tree_sum t.zarr)
expect_rc 1 "to-zarr --mode a with an earlier time" to-zarr -q -o t.zarr --mode a --times 2020-12-01 "$C"
expect_stderr_has "$C: time 2020-12-01T00:00:00Z is earlier than the store's last time" "an earlier append is refused, naming the file"
expect_rc 1 "to-zarr --mode a with the last time again" to-zarr -q -o t.zarr --mode a --times 2021-02-01 "$C"
expect_stderr_has "already in the store" "a repeated time is refused"
if [ "$(tree_sum t.zarr)" = "$TOLD" ]; then ok "refused appends left the store as it was"; else not_ok "refused appends left the store as it was"; fi
expect_rc 1 "to-zarr with unsorted times" to-zarr -q -o u.zarr --times 2021-03-01,2021-02-01 "$A" "$B"
expect_stderr_has "give the files in increasing time order" "unsorted times are refused"
expect_absent u.zarr "no store from unsorted times"
printf '{"type": "Feature", ' >broken.json
expect_rc 1 "STAC document that is not JSON" reduce -q --op mean -o m.tif --stac broken.json
expect_stderr_has "broken.json: STAC: not JSON" "the STAC parse error names the document"
gdal_translate -q -co TILED=YES -co BLOCKXSIZE=32 -co BLOCKYSIZE=32 "$A" t32.tif
gdal_translate -q -co TILED=YES -co BLOCKXSIZE=16 -co BLOCKYSIZE=16 "$A" t16.tif
expect_rc 1 "kerchunk over files of different tile sizes" kerchunk -o m.json t32.tif t16.tif
expect_stderr_has "t16.tif: its geobox differs from t32.tif's in its tile size" "the tile size is named"
for il in PIXEL BAND; do
  gdal_translate -q -b 1 -b 1 -co TILED=YES -co BLOCKXSIZE=16 -co BLOCKYSIZE=16 -co INTERLEAVE=$il "$A" "il_$il.tif"
done
expect_rc 1 "kerchunk over pixel- and band-interleaved files" kerchunk -o m.json il_PIXEL.tif il_BAND.tif
expect_stderr_has "interleave" "the interleave is named"
mkdir -p lists && printf '%s\n' "../$A" "../$B" >lists/rel.txt
expect_rc 0 "@LIST relative paths resolve from the list's folder" reduce -q --op sum -o rel.tif @lists/rel.txt
mkfifo pipe.tif
expect_rc 1 "a FIFO input is refused" reduce -q --op mean -o m.tif "$A" pipe.tif
expect_stderr_has "pipe.tif: is a FIFO" "the FIFO is named"
expect_rc 1 "kerchunk refuses a FIFO" kerchunk -o m.json "$A" pipe.tif
expect_stderr_has "pipe.tif: is a FIFO" "kerchunk names the FIFO"
inputs_intact "minor"

finish
