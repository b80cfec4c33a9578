# The seed's cookbook (../shared/SEED.md, "Lazy DatasetCollection — complete cookbook"), its
# notebook cells in order, with two changes only: the import line (strata instead of
# pyramids.dataset) and DATA, which points at a folder holding crop_aligned_folder/0.tif..5.tif
# (the STRATA_COOKBOOK_DATA environment variable, or the first argument).
import sys as _sys
import os as _os
if __name__ == '__main__' and len(_sys.argv) > 1:
    _os.environ['STRATA_COOKBOOK_DATA'] = _sys.argv[1]

# ---- Setup
import os
os.environ['MPLBACKEND'] = 'Agg'
from pathlib import Path
import numpy as np
DATA = Path(os.environ['STRATA_COOKBOOK_DATA']).resolve()
DATA.is_dir()

# ---- 1. Build a synthetic stack
# 6 aligned rasters named 0.tif..5.tif — same geobox, different values.
folder = DATA / 'crop_aligned_folder'
files = sorted(folder.glob('[0-5].tif'))
[f.name for f in files]
from strata import DatasetCollection
cube = DatasetCollection.from_files(files)
cube.time_length, cube.rows, cube.columns

# ---- 2. The lazy 4-D cube — collection.data
cube.data.shape, cube.data.dtype
# Chunks are one-timestep-per-chunk by default —
# the delayed-based graph reads a whole file at a time.
cube.data.chunks

# ---- 3. Built-in reductions
time_mean = cube.mean(skipna=True)
time_sum = cube.sum(skipna=True)
type(time_mean).__name__, time_mean.shape
# std / var are also available
stats = {
'min': float(cube.min().min()),
'max': float(cube.max().max()),
'mean': float(cube.mean().mean()),
'std': float(cube.std().mean()),
}
stats

# ---- 4. Grouped reductions — groupby(labels)
# Synthetic label array — group timesteps into two buckets.
labels = np.array(['A', 'A', 'A', 'B', 'B', 'B'][: cube.time_length])
grouped = cube.groupby(labels)
group_means = grouped.mean()
sorted(group_means.keys()), group_means['A'].shape

# ---- 5. collection.meta — the picklable RasterMeta snapshot
meta = cube.meta
(
meta.epsg,
meta.shape,
meta.cell_size,
meta.nodata,
meta.dtype,
)
# The snapshot is picklable — ship across dask workers.
import pickle
restored = pickle.loads(pickle.dumps(meta))
restored == meta

# ---- 6. Parallel cube write — collection.to_zarr
import tempfile
workdir = Path(tempfile.mkdtemp(prefix='pyramids-cube-'))
store = workdir / 'cube.zarr'
cube.to_zarr(str(store), mode='w')
sorted(p.name for p in store.iterdir())
# Inspect the metadata — readable by any Zarr/xarray consumer.
import json
root_attrs = json.loads((store / '.zattrs').read_text())
root_attrs['pyramids_zarr_version'], root_attrs['time_length']

# ---- not in the seed: what the cells above showed, when run as a script
if __name__ == '__main__':
    print('files:', [f.name for f in files])
    print('cube (T, R, C):', (cube.time_length, cube.rows, cube.columns))
    print('data:', cube.data.shape, cube.data.dtype, 'chunks', cube.data.chunks)
    print('mean:', type(time_mean).__name__, time_mean.shape)
    print('stats:', stats)
    print('groups:', sorted(group_means.keys()), group_means['A'].shape)
    print('meta:', (meta.epsg, meta.shape, meta.cell_size, meta.nodata, meta.dtype))
    print('restored == meta:', restored == meta)
    print('store:', store, sorted(p.name for p in store.iterdir()))
    print('root attrs:', root_attrs['pyramids_zarr_version'], root_attrs['time_length'])
