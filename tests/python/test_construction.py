"""Building collections: paths, properties, errors with the C message, threads."""
import pathlib
import threading

import numpy as np
import pytest

from conftest import make_stack, write_tif
from strata import DatasetCollection


def test_from_files_str_and_path(stack):
    a = DatasetCollection.from_files(stack.paths)
    b = DatasetCollection.from_files([pathlib.Path(p) for p in stack.paths])
    for c in (a, b):
        assert c.time_length == 6 and len(c) == 6
        assert (c.rows, c.columns, c.band_count) == (37, 45, 2)
        assert c.shape == (6, 37, 45)
        assert c.files == stack.paths
        assert c.times is None


def test_empty_list():
    with pytest.raises(ValueError, match="at least one path"):
        DatasetCollection.from_files([])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        DatasetCollection.from_files([tmp_path / "nope.tif"])
    assert "nope.tif" in str(e.value)


def test_not_a_raster(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_text("not a tiff")
    with pytest.raises(OSError) as e:
        DatasetCollection.from_files([bad])
    assert "bad.tif" in str(e.value)


def test_wrong_types(stack):
    with pytest.raises(TypeError):
        DatasetCollection.from_files([1, 2])
    with pytest.raises(TypeError):
        DatasetCollection.from_files(5)
    c = DatasetCollection.from_files(stack.paths)
    with pytest.raises(TypeError):
        c.mean(skipna="yes")
    with pytest.raises(ValueError):
        c.std(ddof=-1)


def test_misaligned_refused_when_read(tmp_path, stack):
    odd = tmp_path / "odd.tif"
    write_tif(odd, np.zeros((2, 20, 45), np.float32), -9999.0)
    c = DatasetCollection.from_files(stack.paths[:2] + [str(odd)])  # template only opened
    for call in (c.validate, c.mean, lambda: c.data.compute()):
        with pytest.raises(ValueError) as e:
            call()
        assert "odd.tif" in str(e.value)


def test_meta_argument(stack, tmp_path):
    m = DatasetCollection.from_files(stack.paths).meta
    assert DatasetCollection.from_files(stack.paths, meta=m).meta == m
    other = make_stack(tmp_path, n=1, rows=5, cols=5)
    with pytest.raises(ValueError):
        DatasetCollection.from_files(other.paths, meta=m)
    with pytest.raises(TypeError):
        DatasetCollection.from_files(stack.paths, meta="m")


def test_reads_from_threads(stack):
    c = DatasetCollection.from_files(stack.paths)
    errors, results = [], {}

    def work(i):
        try:
            results[i] = (c.data[i % 6].compute(), c.mean())
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, (block, mean) in results.items():
        np.testing.assert_array_equal(block, stack.values[i % 6])
        np.testing.assert_array_equal(mean, results[0][1])
