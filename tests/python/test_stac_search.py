"""from_stac_search against the loopback STAC API of the CLI tests (tests/stac): paging,
filters, and the same values as from_files on the matching files."""
import json
import os
import warnings
import subprocess
import sys

import numpy as np
import pytest

from conftest import make_stack
from strata import DatasetCollection

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "stac", "stac_api_server.py")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    root = tmp_path_factory.mktemp("stac_api")
    stack = make_stack(os.path.join(root, "cogs"), n=12, bands=1, rows=20, cols=30)
    items = []
    for t, path in enumerate(stack.paths):
        items.append({"type": "Feature", "stac_version": "1.0.0", "id": "scene-%02d" % t,
                      "collection": "even" if t % 2 == 0 else "odd",
                      "bbox": [10.0, 45.0, 10.5, 45.5], "geometry": None,
                      "properties": {"datetime": "2021-01-%02dT10:00:00Z" % (t + 1),
                                     "eo:cloud_cover": t * 10},
                      "links": [],
                      "assets": {"data": {"href": "{server}/cogs/%s" % os.path.basename(path),
                                          "type": "image/tiff"}}})
    catalog = os.path.join(root, "catalog.json")
    with open(catalog, "w") as f:
        json.dump(items, f)
    proc = subprocess.Popen([sys.executable, SERVER, str(root), catalog, "--lifetime", "120"],
                            stdout=subprocess.PIPE, text=True)
    url = "http://127.0.0.1:%d/api" % int(proc.stdout.readline())
    yield url, stack
    proc.kill()
    proc.wait()


def test_search_pages_and_values(api):
    url, stack = api
    cube = DatasetCollection.from_stac_search(url, "data", collections=["even"], limit=2)
    assert cube.time_length == 6  # three pages of two
    want = stack.ref[0::2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exp = np.nanmean(want, axis=0)
    np.testing.assert_allclose(cube.mean(), exp, rtol=2e-6, equal_nan=True)
    np.testing.assert_array_equal(cube.times,
                                  np.array(["2021-01-%02dT10:00:00" % (t + 1) for t in
                                            range(0, 12, 2)], dtype="datetime64[ns]"))


def test_search_filters(api):
    url, _ = api
    cube = DatasetCollection.from_stac_search(url, "data", datetime="2021-01-03/..",
                                              query={"eo:cloud_cover": {"lt": 70}},
                                              max_items=3)
    assert [os.path.basename(f) for f in cube.files] == ["2.tif", "3.tif", "4.tif"]


def test_search_errors_name_the_url(api):
    url, _ = api
    with pytest.raises(Exception, match="nosearch|Item Search"):
        DatasetCollection.from_stac_search(url.replace("/api", "/nosearch"), "data")
    with pytest.raises(ValueError):
        DatasetCollection.from_stac_search(url, "data", collections=["none-such"])
