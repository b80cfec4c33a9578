"""The STAC inputs strata takes and what it does with them: the document forms (Item,
ItemCollection, bare array, API search response) from a file, stdin or a URL; relative hrefs
against the self link or the document's location; ordering, --keep-order, --bbox,
--max-items and --href-replace. Paths and times are read back from `info --json`."""
import json
import os

from stac_common import (DATES, Checks, Server, Stack, cli, collection, make_item, read_tif,
                         require_cli, same_array, tmpdir, write_json)


def info(c, label, *args, **kw):
    r = cli("info", "--json", *args, **kw)
    c.ok(r.returncode == 0, f"{label} exit code", r.stderr)
    if r.returncode:
        return None
    return json.loads(r.stdout)


def paths(j):
    return [s["path"] for s in j["timesteps"]] if j else []


def times(j):
    return [s.get("time") for s in j["timesteps"]] if j else []


def local_items(**kw):
    return [make_item(t, lambda t, a: STACK.path(t, a), **kw) for t in range(len(DATES))]


def case_forms(c, work):
    items = local_items()
    want = STACK.files("B04")
    forms = {
        "collection": collection(items),
        "array": items,
        "search": {"type": "FeatureCollection", "features": items, "numberMatched": 5,
                   "numberReturned": 5, "context": {"returned": 5},
                   "links": [{"rel": "next", "href": "http://example.com/search?page=2"}]},
    }
    for name, doc in forms.items():
        j = info(c, name, "--stac", write_json(os.path.join(work, f"{name}.json"), doc),
                 "--asset", "B04")
        c.ok(paths(j) == want, f"form {name} paths", str(paths(j)))
        c.ok(times(j) == sorted(times(j)) and len(times(j)) == 5, f"form {name} times")
    j = info(c, "single item", "--stac", write_json(os.path.join(work, "one.json"), items[2]))
    c.ok(paths(j) == [STACK.path(2, "B04")], "single item path", str(paths(j)))
    with open(os.path.join(work, "collection.json")) as f:
        j = info(c, "stdin", "--stac", "-", "--asset", "B04", stdin=f.read())
    c.ok(paths(j) == want, "stdin paths")


def case_relative(c, work, srv):
    rel = [make_item(t, lambda t, a: f"cogs/t{t}_{a}.tif") for t in range(len(DATES))]
    doc = write_json(os.path.join(STACK.root, "rel.json"), collection(rel))
    # Against the file's own location, from another working folder.
    j = info(c, "relative to file", "--stac", doc, "--asset", "B08", cwd="/")
    c.ok(paths(j) == STACK.files("B08"), "relative to the file", str(paths(j)[:1]))
    # From stdin: relative to the working folder.
    with open(doc) as f:
        j = info(c, "relative stdin", "--stac", "-", cwd=STACK.root, stdin=f.read())
    c.ok(paths(j) == [f"cogs/t{t}_B04.tif" for t in STACK.order], "stdin relative to cwd",
         str(paths(j)[:1]))
    # Against the URL the document came from.
    j = info(c, "relative to URL", "--stac", f"{srv.url}/rel.json", "--asset", "B04")
    c.ok(paths(j) == [f"/vsicurl/{srv.url}/cogs/t{t}_B04.tif" for t in STACK.order],
         "relative to the URL", str(paths(j)[:1]))
    # Against the item's self link, which wins over the document's location.
    linked = [make_item(t, lambda t, a: f"../cogs/./t{t}_{a}.tif",
                        self_href=f"{srv.url}/items/scene-{t}.json") for t in range(len(DATES))]
    doc = write_json(os.path.join(work, "self.json"), collection(linked))
    j = info(c, "relative to self", "--stac", doc, "--asset", "B04")
    c.ok(paths(j) == [f"/vsicurl/{srv.url}/cogs/t{t}_B04.tif" for t in STACK.order],
         "relative to the self link", str(paths(j)[:1]))
    out = os.path.join(work, "self_mean.tif")
    r = cli("reduce", "--quiet", "--op", "mean", "-o", out, "--stac", doc, "--asset", "B04")
    c.ok(r.returncode == 0 and same_array(read_tif(out), REF), "self link read", r.stderr)


def case_schemes(c, work):
    hrefs = {"s3": "s3://bucket/key/a.tif", "gs": "gs://bucket/a.tif",
             "https": "https://a.example/x/a.tif", "file": "file:///data/a.tif"}
    want = {"s3": "/vsis3/bucket/key/a.tif", "gs": "/vsigs/bucket/a.tif",
            "https": "/vsicurl/https://a.example/x/a.tif", "file": "/data/a.tif"}
    for k, href in hrefs.items():
        items = [make_item(0, lambda t, a: href, assets=["B04"])]
        j = info(c, k, "--stac", write_json(os.path.join(work, f"{k}.json"), items))
        c.ok(paths(j) == [want[k]], f"scheme {k}", str(paths(j)))


def case_order_and_filters(c, work):
    doc = write_json(os.path.join(work, "all.json"), collection(local_items()))
    j = info(c, "keep order", "--stac", doc, "--asset", "B04", "--keep-order")
    c.ok(paths(j) == STACK.files("B04", range(len(DATES))), "keep order paths")
    # bboxes are [30+t, 31, 30.5+t, 31.5]: this one meets t = 1 and 2 only.
    j = info(c, "bbox", "--stac", doc, "--bbox", "31.2,30,32.2,32")
    c.ok(paths(j) == [STACK.path(t, "B04") for t in sorted([1, 2], key=lambda t: DATES[t])],
         "bbox filter", str(paths(j)))
    # Items without a bbox are kept.
    items = local_items()
    del items[4]["bbox"]
    nob = write_json(os.path.join(work, "nobbox.json"), collection(items))
    j = info(c, "no bbox kept", "--stac", nob, "--bbox", "31.2,30,32.2,32")
    c.ok(STACK.path(4, "B04") in paths(j) and len(paths(j)) == 3, "item without bbox kept")
    # A box across the antimeridian (minx > maxx) meets t = 0 only.
    j = info(c, "antimeridian", "--stac", doc, "--bbox", "170,30,30.2,32")
    c.ok(paths(j) == [STACK.path(0, "B04")], "antimeridian bbox", str(paths(j)))
    j = info(c, "max items", "--stac", doc, "--max-items", "2")
    c.ok(paths(j) == STACK.files("B04")[:2], "max items after sorting", str(paths(j)))
    j = info(c, "max items after bbox", "--stac", doc, "--bbox", "31.2,30,40,32",
             "--max-items", "1")
    c.ok(len(paths(j)) == 1 and paths(j)[0] in [STACK.path(t, "B04") for t in (1, 2, 3, 4)],
         "max items counts after the bbox")
    r = cli("info", "--stac", doc, "--bbox", "100,0,101,1")
    c.ok(r.returncode == 1 and "no item left" in r.stderr, "nothing left is an error", r.stderr)


def case_href_replace(c, work, srv):
    items = [make_item(t, lambda t, a: f"https://a.example/data/t{t}_{a}.tif")
             for t in range(len(DATES))]
    doc = write_json(os.path.join(work, "mirror.json"), collection(items))
    out = os.path.join(work, "mirror.tif")
    r = cli("reduce", "--quiet", "--op", "mean", "-o", out, "--stac", doc, "--asset", "B04",
            "--href-replace", f"https://a.example/data/={srv.url}/cogs/")
    c.ok(r.returncode == 0 and same_array(read_tif(out), REF), "mirror over HTTP", r.stderr)
    j = info(c, "local mirror", "--stac", doc, "--href-replace", "http://other/=/nowhere/",
             "--href-replace", f"https://a.example/data/={STACK.cogs}/")
    c.ok(paths(j) == STACK.files("B04"), "local mirror, second rule", str(paths(j)[:1]))


def main():
    global STACK, REF
    require_cli()
    c = Checks()
    with tmpdir("strata-stac-input-") as work:
        STACK = Stack(work)
        ref = os.path.join(work, "ref.tif")
        r = cli("reduce", "--quiet", "--op", "mean", "-o", ref, *STACK.files("B04"))
        c.ok(r.returncode == 0, "reference", r.stderr)
        REF = read_tif(ref)
        with Server(work) as srv:
            c.run("document forms", case_forms, work)
            c.run("relative hrefs", case_relative, work, srv)
            c.run("schemes", case_schemes, work)
            c.run("order and filters", case_order_and_filters, work)
            c.run("href replace", case_href_replace, work, srv)
    c.finish()


if __name__ == "__main__":
    main()
