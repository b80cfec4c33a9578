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

import xarray as xr  # before osgeo (see tests/oracle/fixtures.py)
import fsspec
import numpy as np

CLI = os.environ.get("STRATA_CLI")


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, cond, label, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {label} {detail}", flush=True)

    def run(self, label, fn, *args):
        """Runs one case; an exception is a failure, never a skip."""
        try:
            fn(self, *args)
        except Exception as e:  # noqa: BLE001
            self.failed += 1
            print(f"FAIL {label}: {type(e).__name__}: {e}", flush=True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed or not self.passed else 0)


def require_cli():
    if not CLI or not os.path.exists(CLI):
        print(f"STRATA_CLI not set or missing: {CLI!r}")
        sys.exit(1)


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
