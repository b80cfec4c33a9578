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
