#!/usr/bin/python3
"""One contender of bench/python.sh: strata's Python package on a folder of GeoTIFFs.

usage: py_contender.py mean|dask|groupby DIR [NGROUPS]
  mean     cube.mean()                          (the C engine)
  dask     cube.data.mean(axis=0).compute()     (the dask path, threads)
  groupby  cube.groupby(t % NGROUPS).mean()     (the C engine, one pass)
Prints the seconds the call took inside the process (the table's wall time includes start-up:
the interpreter, numpy, and GDAL's libraries that strata._core loads).
"""
import glob
import sys
import time

import numpy as np

from strata import DatasetCollection

what, folder = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(folder + "/*.tif"))
t0 = time.perf_counter()
cube = DatasetCollection.from_files(files)
if what == "mean":
    res = cube.mean()
elif what == "dask":
    import dask

    with dask.config.set(scheduler="threads"):
        res = cube.data.mean(axis=0).compute()
elif what == "groupby":
    ng = int(sys.argv[3])
    res = cube.groupby(np.arange(len(files)) % ng).mean()  # {label: ndarray}, as users get it
else:
    raise SystemExit("unknown contender %r" % what)
took = time.perf_counter() - t0
check = np.mean([np.nanmean(a) for a in res.values()]) if isinstance(res, dict) else np.nanmean(res)
print("%s %.3f s in process, result mean %.6g" % (what, took, float(check)))
