#!/usr/bin/env bash
# `strata demo` runs the whole cookbook on its sample stack and its own checks say yes.
set -euo pipefail
: "${STRATA_CLI:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$STRATA_CLI" demo "$work/demo" >"$work/out.txt" 2>"$work/err.txt"
pass=0 fail=0
expect() { # expect TEXT: a line of the demo's output
    if grep -qF -- "$1" "$work/out.txt"; then pass=$((pass + 1)); else
        echo "FAILED: demo output lacks: $1"; fail=$((fail + 1)); fi
}
expect "meta equal after the round trip: yes"
expect "== 10."
expect "equal to step 5's mean from the files: yes"
expect "DJF           3 timesteps"
expect "wrote $work/demo/cube.zarr"
grep -q "misaligned.tif: geotransform" "$work/err.txt" && pass=$((pass + 1)) ||
    { echo "FAILED: the misaligned file is not named"; fail=$((fail + 1)); }
for f in time_mean.tif seasons/index.json halves/A_count.tif stac_mean.tif refs.json; do
    [ -s "$work/demo/$f" ] && pass=$((pass + 1)) || { echo "FAILED: no $f"; fail=$((fail + 1)); }
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
