"""dask.distributed: the dask path on 2 worker processes, and the C engine's reductions split
into parts per worker, merged bitwise equal to one process."""
import numpy as np
from distributed import Client, LocalCluster

from strata import DatasetCollection


def test_local_cluster(stack):
    c = DatasetCollection.from_files(stack.paths)
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
