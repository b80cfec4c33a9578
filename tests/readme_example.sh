#!/usr/bin/env bash
# Installs the build into a temporary prefix, extracts the C example from README.md, builds it
# with pkg-config and runs it on a generated stack, checking the answer against numpy.
set -euo pipefail
src=$1 bin=$2 sanitize=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$bin" --prefix "$work/prefix" >/dev/null
sed -n '/<!-- example:start -->/,/<!-- example:end -->/p' "$src/README.md" |
    sed '1,2d;$d' | sed '$d' >"$work/mean_pixel.c"
grep -q 'int main' "$work/mean_pixel.c"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
flags=()
[ -n "$sanitize" ] && flags=(-fsanitize="$sanitize")
cc -std=c11 -Wall -Wextra -Werror "${flags[@]}" "$work/mean_pixel.c" \
    $(pkg-config --cflags --libs strata) -Wl,-rpath,"$(pkg-config --variable=libdir strata)" \
    -o "$work/mean_pixel"
"$PYTHON" - "$work" <<'PY'
import sys
import numpy as np
from osgeo import gdal
d = sys.argv[1]
drv = gdal.GetDriverByName("GTiff")
for t in range(4):
    ds = drv.Create(f"{d}/s{t}.tif", 9, 7, 1, gdal.GDT_Int16)
    ds.SetGeoTransform((0, 1, 0, 0, 0, -1))
    a = np.full((7, 9), 10 * t, np.int16)
    if t == 2:
        a[3, 4] = -1
    b = ds.GetRasterBand(1)
    b.SetNoDataValue(-1)
    b.WriteArray(a)
    ds = None
PY
out=$("$work/mean_pixel" "$work"/s0.tif "$work"/s1.tif "$work"/s2.tif "$work"/s3.tif)
echo "$out"
# centre pixel (3, 4): values 0, 10, (nodata), 30 -> mean 13.333333 over 3
[ "$out" = "mean 13.333333 over 3 valid timesteps" ]
echo "1 passed, 0 failed"
