"""STAC API search (--stac-search, `strata stac search`) against stac_api_server.py on
127.0.0.1: the reduction of what a search finds equals numpy's over the matching local files
(the test's own selection) and strata's from-files run; a 5-page search returns every item
exactly once, by POST and by GET; 429/503/timeouts are retried; API keys are sent and never
printed; each error case fails with the URL, exit 1 and nothing written."""
import json
import os
import subprocess
import urllib.request
from datetime import datetime, timedelta, timezone

import numpy as np
from osgeo import gdal

from stac_common import PYTHON, HERE, Checks, cli, read_tif, require_cli, tmpdir

gdal.UseExceptions()

N = 24
ROWS, COLS = 32, 48
GT = (600000.0, 20.0, 0.0, 5000000.0, 0.0, -20.0)
EPSG = 32632
KEY = "s3cret-key-value"
FAST = {"GDAL_HTTP_RETRY_DELAY": "0.01"}


def when(i):
    t = datetime(2021, 1, 1, 10, tzinfo=timezone.utc) + timedelta(days=3 * i)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def collection_of(i):
    return "l8" if i % 4 == 3 else "s2"


def cloud(i):
    return (i * 37) % 100


def bbox_of(i):
    lon = 10.0 + (i % 6)
    return [lon, 45.0, lon + 0.5, 45.5]


def write_cog(path, i):
    rng = np.random.default_rng(500 + i)
    a = rng.integers(1, 5000, size=(ROWS, COLS)).astype(np.uint16)
    a[rng.random((ROWS, COLS)) < 0.1] = 0
    mem = gdal.GetDriverByName("MEM").Create("", COLS, ROWS, 1, gdal.GDT_UInt16)
    mem.SetGeoTransform(GT)
    mem.SetProjection(f"EPSG:{EPSG}")
    mem.GetRasterBand(1).SetNoDataValue(0)
    mem.GetRasterBand(1).WriteArray(a)
    gdal.GetDriverByName("COG").CreateCopy(path, mem, options=["COMPRESS=DEFLATE"])


def make_items(root):
    os.makedirs(os.path.join(root, "cogs"), exist_ok=True)
    items = []
    for i in range(N):
        write_cog(os.path.join(root, "cogs", f"s{i}.tif"), i)
        # Relative hrefs (against the search URL) for every other item: the client makes
        # them absolute.
        href = f"{{server}}/cogs/s{i}.tif" if i % 2 == 0 else f"../cogs/s{i}.tif"
        props = {"datetime": when(i), "eo:cloud_cover": cloud(i)}
        if i % 3:
            props.update({"proj:epsg": EPSG, "proj:shape": [ROWS, COLS],
                          "proj:transform": [GT[1], GT[2], GT[0], GT[4], GT[5], GT[3]]})
        items.append({"type": "Feature", "stac_version": "1.0.0", "id": f"scene-{i:02d}",
                      "collection": collection_of(i), "bbox": bbox_of(i), "geometry": None,
                      "properties": props, "links": [],
                      "assets": {"data": {"href": href, "type": "image/tiff",
                                          "raster:bands": [{"data_type": "uint16",
                                                            "nodata": 0}]}}})
    path = os.path.join(root, "catalog.json")
    with open(path, "w") as f:
        json.dump(items, f)
    return path


class ApiServer:
    def __init__(self, root, items):
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, "stac_api_server.py"), root,
                                      items, "--lifetime", "300"], stdout=subprocess.PIPE,
                                     text=True)
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def log(self):
        with urllib.request.urlopen(self.url + "/_log") as r:
            return json.load(r)

    def searches(self, flavour, since=0):
        return [e["method"] for e in self.log()[since:] if e["path"] == f"/{flavour}/search"]

    def close(self):
        self.proc.kill()
        self.proc.wait()


def expected(collections=None, bbox=None, start=None, end=None, max_cloud=None):
    """The test's own selection: ids and item numbers in time order."""
    out = []
    for i in range(N):
        b = bbox_of(i)
        if collections and collection_of(i) not in collections:
            continue
        if bbox and (b[0] > bbox[2] or b[2] < bbox[0] or b[1] > bbox[3] or b[3] < bbox[1]):
            continue
        if start and when(i) < start or end and when(i) > end:
            continue
        if max_cloud is not None and not cloud(i) < max_cloud:
            continue
        out.append(i)
    return out


def ids_of(path):
    with open(path) as f:
        return [it["id"] for it in json.load(f)["features"]]


def reduce_run(c, work, tag, *source):
    out = os.path.join(work, f"{tag}_{{op}}.tif")
    r = cli("reduce", "--quiet", "--op", "mean,count,max", "-o", out, *source, env=FAST)
    c.ok(r.returncode == 0, f"{tag} reduce", r.stderr)
    if r.returncode:
        return None
    return {op: read_tif(out.replace("{op}", op)) for op in ("mean", "count", "max")}


def numpy_oracle(work, sel):
    a = np.stack([gdal.Open(os.path.join(work, "cogs", f"s{i}.tif")).ReadAsArray()
                  for i in sel]).astype(np.float64)
    valid = a != 0
    count = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, a, 0).sum(axis=0) / count
    return mean, count, np.where(valid, a, 0).max(axis=0)


def case_reduce_equals_files(c, work, srv):
    bbox = [10.2, 44.0, 13.1, 46.0]
    sel = expected({"s2"}, bbox, "2021-01-10T00:00:00Z", "2021-03-20T00:00:00Z", 60)
    c.ok(len(sel) >= 4, "selection has several items", str(sel))
    args = ["--stac-search", srv.url + "/api", "--asset", "data", "--collections", "s2",
            "--bbox", ",".join(map(str, bbox)), "--datetime",
            "2021-01-10T00:00:00Z/2021-03-20T00:00:00Z", "--query", "eo:cloud_cover<60",
            "--limit", "2"]
    got = reduce_run(c, work, "search", *args)
    ref = reduce_run(c, work, "files", *[os.path.join(work, "cogs", f"s{i}.tif") for i in sel])
    if not got or not ref:
        return
    for op in got:
        c.ok(np.array_equal(got[op], ref[op], equal_nan=True), f"search {op} == from-files")
    mean, count, mx = numpy_oracle(work, sel)
    c.ok(np.array_equal(got["count"][0], count), "search count == numpy")
    has = count > 0
    c.ok(np.allclose(got["mean"][0][has], mean[has], rtol=1e-6), "search mean == numpy")
    c.ok(np.array_equal(got["max"][0][has], mx[has]), "search max == numpy")
    # The same through the search endpoint, by GET, with a CQL2 filter instead of --query.
    cql = json.dumps({"op": "and", "args": [
        {"op": "<", "args": [{"property": "eo:cloud_cover"}, 60]},
        {"op": ">=", "args": [{"property": "eo:cloud_cover"}, 0]}]})
    args2 = ["--stac-search", srv.url + "/getonly/search", "--asset", "data", "--collections",
             "s2", "--bbox", ",".join(map(str, bbox)), "--datetime",
             "2021-01-10T00:00:00Z/2021-03-20T00:00:00Z", "--filter", cql]
    got2 = reduce_run(c, work, "get", *args2)
    for op in got2 or {}:
        c.ok(np.array_equal(got2[op], ref[op], equal_nan=True), f"GET filter {op} == files")


def search_cmd(*args, env=None):
    e = dict(FAST)
    e.update(env or {})
    return cli("stac", "search", *args, env=e)


def case_five_pages(c, work, srv):
    want = [f"scene-{i:02d}" for i in expected({"s2"})]
    c.ok(len(want) == 18, "18 s2 items", str(len(want)))
    for flavour, method in (("api", "POST"), ("getonly", "GET")):
        out = os.path.join(work, f"pages_{flavour}.json")
        since = len(srv.log())
        r = search_cmd(srv.url + "/" + flavour, "--collections", "s2", "--limit", "4", "-o", out)
        c.ok(r.returncode == 0, f"{flavour} 5-page search", r.stderr)
        if r.returncode:
            continue
        got = ids_of(out)
        c.ok(sorted(got) == sorted(want) and len(set(got)) == len(got),
             f"{flavour}: every item exactly once", f"{got}")
        calls = srv.searches(flavour, since)
        c.ok(calls == [method] * 5, f"{flavour}: 5 {method} requests", str(calls))
        c.ok("5 pages, 18 items (18 matched)" in r.stderr, f"{flavour} summary", r.stderr)
        with open(out) as f:
            hrefs = [it["assets"]["data"]["href"] for it in json.load(f)["features"]]
        c.ok(all(h.startswith(srv.url + "/cogs/s") for h in hrefs), f"{flavour} absolute hrefs",
             str(hrefs[:3]))
    # The file reads back with the same items, and the same result as the search.
    a = reduce_run(c, work, "fromfile", "--stac", os.path.join(work, "pages_api.json"))
    b = reduce_run(c, work, "fromsearch", "--stac-search", srv.url + "/api", "--collections",
                   "s2", "--limit", "4")
    for op in a or {}:
        c.ok(b is not None and np.array_equal(a[op], b[op], equal_nan=True), f"file == search {op}")


def case_limits_and_order(c, work, srv):
    out = os.path.join(work, "max.json")
    since = len(srv.log())
    r = search_cmd(srv.url + "/api", "--max-items", "7", "--limit", "3", "-o", out)
    c.ok(r.returncode == 0 and len(ids_of(out)) == 7, "max-items 7", r.stderr)
    c.ok(len(srv.searches("api", since)) == 3, "max-items stops after 3 pages")
    out = os.path.join(work, "sorted.json")
    r = search_cmd(srv.url + "/api", "--sortby", "-eo:cloud_cover", "--limit", "10", "-o", out)
    c.ok(r.returncode == 0, "sortby", r.stderr)
    want = [f"scene-{i:02d}" for i in sorted(range(N), key=lambda i: -cloud(i))]
    c.ok(r.returncode == 0 and ids_of(out) == want, "sortby order kept in the file")
    r = search_cmd(srv.url + "/api", "--datetime", "../2021-01-07T10:00:00Z", "-o", out)
    c.ok(r.returncode == 0 and ids_of(out) == ["scene-00", "scene-01", "scene-02"],
         "open-start interval", r.stderr)


def case_retries(c, work, srv):
    out = os.path.join(work, "flaky.json")
    since = len(srv.log())
    r = search_cmd(srv.url + "/flaky", "--limit", "2", "-o", out)
    c.ok(r.returncode == 0, "flaky (429 with Retry-After, 503) search", r.stderr)
    c.ok(r.returncode == 0 and sorted(ids_of(out)) == [f"scene-{i:02d}" for i in range(N)],
         "flaky: every item exactly once")
    c.ok(len(srv.searches("flaky", since)) > 12, "flaky: some requests were retried")
    out = os.path.join(work, "slow.json")
    r = search_cmd(srv.url + "/slow", "--limit", "12", "-o", out, env={"GDAL_HTTP_TIMEOUT": "1"})
    c.ok(r.returncode == 0 and len(ids_of(out)) == N, "timeout retried", r.stderr)


def case_headers(c, work, srv):
    out = os.path.join(work, "auth.json")
    r = search_cmd(srv.url + "/auth", "-o", out)
    c.ok(r.returncode == 1 and "HTTP 401" in r.stderr and srv.url + "/auth" in r.stderr,
         "no key: 401 with the URL", r.stderr)
    r = search_cmd(srv.url + "/auth", "--header", f"X-Api-Key: {KEY}", "-o", out)
    c.ok(r.returncode == 0 and len(ids_of(out)) == N, "--header key", r.stderr)
    r = search_cmd(srv.url + "/auth", "-o", out, env={"STRATA_STAC_HEADERS":
                                                      f"X-Other: 1\nX-Api-Key: {KEY}"})
    c.ok(r.returncode == 0, "STRATA_STAC_HEADERS key", r.stderr)
    r = search_cmd(srv.url + "/auth", "--header", "X-Api-Key: wrong-secret-value", "-o", out)
    c.ok(r.returncode == 1 and "wrong-secret-value" not in r.stderr + r.stdout,
         "a wrong key fails, its value not shown", r.stderr)
    r = search_cmd(srv.url + "/auth", "--header", f"X-Api-Key {KEY}", "-o", out)
    c.ok(r.returncode == 2 and KEY not in r.stderr + r.stdout, "malformed header: value hidden",
         r.stderr)
    r = search_cmd(srv.url + "/auth", "-o", out, env={"STRATA_STAC_HEADERS": f"X-Api-Key {KEY}"})
    c.ok(r.returncode == 1 and KEY not in r.stderr + r.stdout, "malformed env header: hidden",
         r.stderr)
    log = [e for e in srv.log() if e["path"].startswith("/auth")]
    c.ok(any(e["key"] for e in log), "the server saw the key")
    # The key goes to the API's own host only: not to a next link naming another host.
    since = len(srv.log())
    r = search_cmd(srv.url + "/hop", "--limit", "10", "--header", f"X-Api-Key: {KEY}", "-o", out)
    c.ok(r.returncode == 0 and len(ids_of(out)) == N, "next link to another host", r.stderr)
    hops = [(e["host"], e["has_key"]) for e in srv.log()[since:] if e["path"] == "/hop/search"]
    c.ok(hops == [("127.0.0.1", True), ("localhost", False), ("localhost", False)],
         "key sent to the API's host only", str(hops))


def case_errors(c, work, srv):
    cases = [
        ("html", [], "not a STAC API: the landing page is HTML"),
        ("notstac", [], "not a STAC API: no conformance classes"),
        ("missing", [], "HTTP 404"),
        ("nosearch", [], "does not conform to STAC API - Item Search"),
        ("api", ["--collections", "none"], "matched no items"),
        ("badnext", ["--limit", "5"], "malformed \"next\" link: no href"),
        ("loop", ["--limit", "5"], "loop of \"next\" links"),
        ("repeat", ["--limit", "5"], "repeats an earlier page"),
        ("big", [], "the response is over 100000 bytes"),
        ("noext", ["--query", "eo:cloud_cover<5"], "does not support --query"),
        ("noext", ["--filter", '{"op":"=","args":[{"property":"x"},1]}'],
         "does not support --filter"),
        ("noext", ["--sortby", "+datetime"], "does not support --sortby"),
    ]
    out = os.path.join(work, "kept.json")
    for flavour, extra, words in cases:
        with open(out, "w") as f:
            f.write("previous")
        url = f"{srv.url}/{flavour}"
        r = search_cmd(url, *extra, "-o", out, env={"STRATA_STAC_MAX_PAGE_BYTES": "100000"})
        c.ok(r.returncode == 1 and words in r.stderr and url in r.stderr,
             f"error {flavour} {extra}", r.stderr)
        with open(out) as f:
            c.ok(f.read() == "previous", f"error {flavour}: output kept")
        stray = [n for n in os.listdir(work) if n.startswith("kept.json.")]
        c.ok(not stray, f"error {flavour}: no temporary left", str(stray))
        if flavour not in ("html", "loop"):
            continue
        # The reading commands fail the same way and write nothing.
        tif = os.path.join(work, f"err_{flavour}_{{op}}.tif")
        r = cli("reduce", "--quiet", "--op", "mean", "-o", tif, "--stac-search", url, *extra,
                env=dict(FAST, STRATA_STAC_MAX_PAGE_BYTES="100000"))
        c.ok(r.returncode == 1 and words in r.stderr, f"reduce error {flavour}", r.stderr)
        c.ok(not os.path.exists(tif.replace("{op}", "mean")), f"reduce error {flavour}: no output")
    # Command-line mistakes.
    r = cli("reduce", "--op", "mean", "-o", os.path.join(work, "x.tif"), "--collections", "s2",
            os.path.join(work, "cogs", "s0.tif"))
    c.ok(r.returncode != 0 and "need --stac-search" in r.stderr, "filters need --stac-search",
         r.stderr)
    r = cli("info", "--stac", "a.json", "--stac-search", srv.url + "/api")
    c.ok(r.returncode != 0 and "not both" in r.stderr, "--stac and --stac-search", r.stderr)
    r = cli("stac", "search", srv.url + "/api")
    c.ok(r.returncode == 2, "stac search needs -o", r.stderr)
    r = search_cmd(srv.url + "/api", "--datetime", "yesterday", "-o", out)
    c.ok(r.returncode == 1 and "--datetime 'yesterday'" in r.stderr, "bad datetime", r.stderr)
    r = search_cmd(srv.url + "/api", "--query", "eo:cloud_cover~3", "-o", out)
    c.ok(r.returncode == 1 and "query term" in r.stderr, "bad query term", r.stderr)


def main():
    require_cli()
    c = Checks()
    with tmpdir("strata-stac-search-") as work:
        items = make_items(work)
        srv = ApiServer(work, items)
        try:
            c.run("reduce equals files", case_reduce_equals_files, work, srv)
            c.run("five pages", case_five_pages, work, srv)
            c.run("limits and order", case_limits_and_order, work, srv)
            c.run("retries", case_retries, work, srv)
            c.run("headers", case_headers, work, srv)
            c.run("errors", case_errors, work, srv)
        finally:
            srv.close()
    c.finish()


if __name__ == "__main__":
    main()
