#!/usr/bin/env bash
# Sources other than GeoTIFF: NetCDF variables (NETCDF:"f.nc":var) and VRTs, written from the
# same GeoTIFFs with GDAL's own tools, must reduce to exactly the GeoTIFF stack's answer.
set -euo pipefail
: "${STRATA_CLI:?}" "${PYTHON:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" - "$work" <<'PY'
import sys, numpy as np
from osgeo import gdal, osr
d = sys.argv[1]
srs = osr.SpatialReference(); srs.ImportFromEPSG(4326)
rng = np.random.default_rng(3)
for t in range(5):
    ds = gdal.GetDriverByName("GTiff").Create(f"{d}/s{t}.tif", 70, 50, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((10, 0.1, 0, 50, 0, -0.1)); ds.SetProjection(srs.ExportToWkt())
    a = rng.normal(5, 2, (50, 70)).astype(np.float32); a[rng.random((50, 70)) < 0.1] = -1
    b = ds.GetRasterBand(1); b.SetNoDataValue(-1); b.WriteArray(a); ds = None
PY
tifs=() ncs=() vrts=()
for t in 0 1 2 3 4; do
    gdal_translate -q -of netCDF "$work/s$t.tif" "$work/s$t.nc"
    gdalbuildvrt -q "$work/s$t.vrt" "$work/s$t.tif"
    tifs+=("$work/s$t.tif") ncs+=("NETCDF:\"$work/s$t.nc\":Band1") vrts+=("$work/s$t.vrt")
done
"$STRATA_CLI" reduce --quiet --op mean,count -o "$work/tif_{op}.tif" "${tifs[@]}"
"$STRATA_CLI" reduce --quiet --op mean,count -o "$work/nc_{op}.tif" "${ncs[@]}"
"$STRATA_CLI" reduce --quiet --op mean,count -o "$work/vrt_{op}.tif" "${vrts[@]}"
"$STRATA_CLI" info --check "${ncs[@]}" | grep -q "all 5 files match"
"$PYTHON" - "$work" <<'PY'
import sys
from osgeo import gdal
d = sys.argv[1]
ok = 0
for op in ("mean", "count"):
    ref = gdal.Open(f"{d}/tif_{op}.tif")
    for kind in ("nc", "vrt"):
        other = gdal.Open(f"{d}/{kind}_{op}.tif")
        assert ref.ReadRaster() == other.ReadRaster(), (kind, op)
        ok += 1
print(f"{ok + 1} passed, 0 failed")
PY
