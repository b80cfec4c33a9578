"""to_kerchunk on GeoTIFFs, the index read the way users do (fsspec reference + xarray)."""
import json

import fsspec
import numpy as np
import xarray as xr

from strata import DatasetCollection


def test_kerchunk_geotiff(int_stack, tmp_path):
    c = DatasetCollection.from_files(int_stack.paths)
    out = tmp_path / "refs.json"
    refs = c.to_kerchunk(out, concat_dim="time")
    assert isinstance(refs, dict) and refs == json.loads(out.read_text())
    assert refs["version"] == 1
    fs = fsspec.filesystem("reference", fo=str(out), remote_protocol="file",
                           skip_instance_cache=True)
    ds = xr.open_dataset(fs.get_mapper(""), engine="zarr", consolidated=False,
                         mask_and_scale=False)
    (var,) = [v for v in ds.data_vars if ds[v].ndim == 4]
    assert ds[var].dims[0] == "time" and set(ds[var].dims) == {"time", "band", "y", "x"}
    got = ds[var].transpose("time", "band", "y", "x").values
    np.testing.assert_array_equal(got, int_stack.values)


def test_library_messages_reach_logging(tmp_path, caplog):
    """The C library's log (strata_set_log) arrives in logging.getLogger("strata"): a variable
    kerchunk cannot index is a warning naming the file and the variable."""
    import logging

    import netCDF4

    from strata import _core

    path = tmp_path / "fletcher.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF4") as d:
        d.createDimension("time", 3)
        d.createDimension("x", 4)
        d.createVariable("time", "f8", ("time",))[:] = [0, 1, 2]
        d.createVariable("pr", "f4", ("time", "x"), fletcher32=True)[:] = 1
        d.createVariable("tas", "f4", ("time", "x"))[:] = 2
    with caplog.at_level(logging.INFO, logger="strata"):
        _core.kerchunk([str(path)], str(tmp_path / "refs.json"), "time")
    got = [r for r in caplog.records if r.name == "strata"]
    assert len(got) == 1 and got[0].levelno == logging.WARNING, caplog.text
    assert str(path) in got[0].getMessage() and "'pr'" in got[0].getMessage()
    assert "fletcher32" in got[0].getMessage()
