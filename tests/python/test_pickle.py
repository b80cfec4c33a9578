"""A collection pickles as its JSON and works in a multiprocessing `spawn` child."""
import multiprocessing as mp
import pickle

import numpy as np

from strata import DatasetCollection


def child(blob, store):
    import zarr

    c = pickle.loads(blob)
    return (c.data.compute(), c.mean(), c.groupby([0, 0, 1, 1, 2, 2]).max()[2],
            (c.to_zarr(store), zarr.open_group(store, mode="r")["data"][:])[1])


def test_pickle_round_trip(stack):
    c = DatasetCollection.from_files(stack.paths)
    blob = pickle.dumps(c)
    assert c.to_json().encode() in blob or len(blob) < 2 * len(c.to_json()) + 200
    r = pickle.loads(blob)
    assert r.meta == c.meta and r.files == c.files


def test_spawn_child(stack, tmp_path):
    c = DatasetCollection.from_files(stack.paths)
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        data, mean, gmax, written = pool.apply(child, (pickle.dumps(c), str(tmp_path / "s.zarr")))
    np.testing.assert_array_equal(data, stack.values)
    np.testing.assert_array_equal(mean, c.mean())
    np.testing.assert_array_equal(gmax, c.groupby([0, 0, 1, 1, 2, 2]).max()[2])
    np.testing.assert_array_equal(written, stack.values)
