"""from_stac with duck-typed items (JSON dicts, pystac-like objects) over local files."""
from datetime import datetime, timezone
from types import SimpleNamespace

import numpy as np
import pytest

from strata import DatasetCollection


def dict_items(paths, with_times=True):
    items = []
    for i, p in enumerate(paths):
        it = {"type": "Feature", "id": "it%d" % i, "bbox": [i, 0.0, i + 1.0, 1.0],
              "assets": {"B04": {"href": p}, "B08": {"href": p}}}
        if with_times:
            it["properties"] = {"datetime": "2021-0%d-15T10:00:00Z" % (9 - i)}
        items.append(it)
    return items


def test_dicts_keep_order_and_times(stack):
    c = DatasetCollection.from_stac(dict_items(stack.paths), "B04")
    assert c.files == stack.paths  # input order kept though times go backwards
    np.testing.assert_array_equal(c.data.compute(), stack.values)
    assert list(c.times) == [np.datetime64("2021-0%d-15T10:00:00" % (9 - i)) for i in range(6)]


def test_dicts_without_properties(stack):
    c = DatasetCollection.from_stac(dict_items(stack.paths, with_times=False), "B08")
    assert c.times is None and c.time_length == 6


def test_objects(stack):
    items = [SimpleNamespace(id="o%d" % i, bbox=None,
                             datetime=datetime(2020, 1, i + 1, tzinfo=timezone.utc),
                             assets={"B04": SimpleNamespace(href=p)})
             for i, p in enumerate(stack.paths)]
    c = DatasetCollection.from_stac(items, asset="B04")
    assert c.files == stack.paths
    assert c.times[2] == np.datetime64("2020-01-03T00:00:00")
    np.testing.assert_array_equal(c.mean(), DatasetCollection.from_files(stack.paths).mean())


def test_bbox_max_items_patch_url(stack):
    items = dict_items(stack.paths)
    del items[5]["bbox"]  # no bbox: kept
    calls = []

    def patch(href):
        calls.append(href)
        return href

    # x in [2, 3.5]: item 1 touches at x=2, items 2 and 3 overlap, item 4 starts at 4.
    c = DatasetCollection.from_stac(items, "B04", bbox=(2.0, 0.5, 3.5, 0.7), patch_url=patch)
    assert c.files == [stack.paths[i] for i in (1, 2, 3, 5)]
    assert calls == c.files
    c = DatasetCollection.from_stac(items, "B04", bbox=(2.0, 0.5, 3.5, 0.7), max_items=2)
    assert c.files == stack.paths[1:3]


def test_errors(stack):
    items = dict_items(stack.paths)
    with pytest.raises(KeyError, match="it0.*B02"):
        DatasetCollection.from_stac(items, "B02")
    items[3]["assets"]["B04"] = {"title": "no href"}
    with pytest.raises(KeyError, match="it3"):
        DatasetCollection.from_stac(items, "B04")
    with pytest.raises(ValueError, match="no item left"):
        DatasetCollection.from_stac(dict_items(stack.paths), "B04", bbox=(50, 50, 60, 60))
    with pytest.raises(ValueError):
        DatasetCollection.from_stac([], "B04")
    with pytest.raises(TypeError):
        DatasetCollection.from_stac(dict_items(stack.paths), 4)
