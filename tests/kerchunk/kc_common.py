"""Shared pieces of the kerchunk tests: running the CLI, opening an index, counting checks.

The index is opened the way users do: fsspec's reference filesystem under zarr, through
xarray's zarr engine. Answers come from python3-netcdf4 and GDAL reading the files directly.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import CLI, Checks, require_cli  # noqa: E402,F401  (re-exported)

import xarray as xr  # before osgeo (see tests/oracle/fixtures.py)
import fsspec
import numpy as np



def kerchunk(out, files, *opts):
    """Runs `strata kerchunk`; returns the completed process."""
    args = [CLI, "kerchunk", "-o", out, *opts, *files]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def open_refs(path, **kw):
    # fsspec caches filesystems by their arguments: a rewritten index must be read afresh.
    fs = fsspec.filesystem("reference", fo=path, remote_protocol="file",
                           skip_instance_cache=True)
    return xr.open_dataset(fs.get_mapper(""), engine="zarr", consolidated=False, **kw)


def same(a, b):
    """Equal bit for bit: same dtype and bytes (NaNs in the same places count as equal)."""
    a = np.asarray(a)
    b = np.asarray(b)
    a = a.astype(a.dtype.newbyteorder("="))  # byte order is storage, not value
    b = b.astype(b.dtype.newbyteorder("="))
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return a.tobytes() == b.tobytes()


def tmpdir():
    path = tempfile.mkdtemp(prefix="strata-kc-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def crashed(proc):
    """A signal or a sanitizer report: never acceptable, whatever the input."""
    return proc.returncode < 0 or "Sanitizer" in proc.stderr or "runtime error" in proc.stderr
