"""dask.distributed: the dask path on 2 worker processes, and the C engine's reductions split
into parts per worker, merged bitwise equal to one process."""
import numpy as np
from distributed import Client, LocalCluster

from conftest import make_stack
from strata import DatasetCollection


def test_local_cluster(tmp_path):
    # 300x300 pixels make several tiles of whole 16x16 blocks, so each worker has a share.
    stack = make_stack(tmp_path, n=6, bands=1, rows=300, cols=300)
    c = DatasetCollection.from_files(stack.paths)
    parts = [c._core.reduce(["count"], 1, 0, None, i, 2, 0)[0][2]["count"][0] for i in (0, 1)]
    assert all(p.any() for p in parts) and not (parts[0] & parts[1]).any()
    local_mean = c.mean()
    local_groups = c.groupby(["a", "b", "a", "b", "c", "c"]).reduce(["mean", "min", "count"])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=40) as cluster, Client(cluster) as client:
        got = c.data.mean(axis=0).compute()
        np.testing.assert_array_equal(got, c.data.mean(axis=0).compute(scheduler="threads"))
        np.testing.assert_allclose(got, stack.values.mean(axis=0), rtol=1e-5)
        ops = ["mean", "std", "min", "sum", "count", "median"]
        local = c.reduce(ops)
        dist = c.reduce(ops, client=client)
        for op in ops:
            assert dist[op].dtype == local[op].dtype, op
            assert dist[op].tobytes() == local[op].tobytes(), op
        assert c.mean(client=client).tobytes() == local_mean.tobytes()
        g = c.groupby(["a", "b", "a", "b", "c", "c"]).reduce(["mean", "min", "count"],
                                                              client=client)
        for op in g:
            for k in g[op]:
                assert g[op][k].tobytes() == local_groups[op][k].tobytes(), (op, k)
