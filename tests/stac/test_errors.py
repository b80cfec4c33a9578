"""Malformed or inconsistent STAC input: each case exits non-zero with a message naming the
item and what is wrong; command lines mixing files and --stac are refused."""
import copy
import os

from stac_common import (COLS, DATES, GT, ROWS, Checks, Stack, cli, collection, make_item,
                         require_cli, tmpdir, write_cog, write_json)


def items():
    return [make_item(t, lambda t, a: STACK.path(t, a)) for t in range(len(DATES))]


def broken(fn):
    doc = items()
    fn(doc)
    return doc


def expect(c, label, doc_or_text, needles, *opts, code=1):
    path = os.path.join(WORK, "bad.json")
    if isinstance(doc_or_text, str):
        with open(path, "w") as f:
            f.write(doc_or_text)
    else:
        write_json(path, collection(doc_or_text) if isinstance(doc_or_text, list) else doc_or_text)
    r = cli("info", "--check", "--stac", path, *opts)
    c.ok(r.returncode == code, f"{label}: exit code {r.returncode}", r.stderr)
    for n in needles:
        c.ok(n in r.stderr, f"{label}: message names {n!r}", r.stderr.strip())


def case_malformed(c):
    expect(c, "no such asset", items(), ["scene-0", "no asset 'B99'", "B04, B08"],
           "--asset", "B99")
    expect(c, "missing href", broken(lambda d: d[2]["assets"]["B04"].pop("href")),
           ["scene-2", "asset 'B04' has no href"], "--asset", "B04")
    expect(c, "empty href", broken(lambda d: d[1]["assets"]["B08"].update(href="")),
           ["scene-1", "no href"], "--asset", "B04,B08")
    expect(c, "bad datetime",
           broken(lambda d: d[3]["properties"].update(datetime="2021-13-45T99:00:00Z")),
           ["scene-3", "bad properties.datetime", "2021-13-45"])
    expect(c, "datetime not a string", broken(lambda d: d[3]["properties"].update(datetime=5)),
           ["scene-3", "datetime"])
    expect(c, "no datetime", broken(lambda d: d[4]["properties"].update(datetime=None)),
           ["scene-4", "no properties.datetime"])
    expect(c, "bad transform",
           broken(lambda d: d[1]["properties"].update({"proj:transform": [1, 2, 3]})),
           ["scene-1", "proj:transform"])
    expect(c, "bad shape", broken(lambda d: d[1]["properties"].update({"proj:shape": [0, 3]})),
           ["scene-1", "proj:shape"])
    expect(c, "no assets", broken(lambda d: d[0].pop("assets")), ["scene-0", "assets"])
    expect(c, "item not an object", [1, 2], ["#1", "not a JSON object"])
    expect(c, "not JSON", '{"type": "FeatureCollection", "features": [', ["not JSON"])
    expect(c, "not STAC", '{"hello": 1}', ["not an Item"])
    expect(c, "empty collection", collection([]), ["no items"])
    r = cli("info", "--stac", os.path.join(WORK, "missing.json"))
    c.ok(r.returncode == 1 and "missing.json" in r.stderr, "missing file", r.stderr)


def case_misaligned(c):
    expect(c, "shape differs",
           broken(lambda d: d[2]["properties"].update({"proj:shape": [ROWS, COLS + 1]})),
           ["scene-2", "proj:shape", f"[{ROWS}, {COLS + 1}]", "scene-"])
    gt = [GT[1], GT[2], GT[0] + 30, GT[4], GT[5], GT[3]]
    expect(c, "transform differs",
           broken(lambda d: d[4]["properties"].update({"proj:transform": gt})),
           ["scene-4", "proj:transform"])
    expect(c, "epsg differs",
           broken(lambda d: d[1]["properties"].update({"proj:epsg": 32637})),
           ["scene-1", "EPSG:32637", "EPSG:32636"])
    # Asset-level fields override the item's: a second asset on another grid is refused.
    expect(c, "asset shape differs",
           broken(lambda d: d[0]["assets"]["B08"].update({"proj:shape": [10, 10]})),
           ["scene-0", "asset 'B08'", "proj:shape"], "--asset", "B04,B08")
    expect(c, "asset types differ",
           broken(lambda d: d[0]["assets"]["B08"]["raster:bands"][0].update(data_type="uint8")),
           ["scene-0", "B04", "B08", "uint8", "different data types"], "--asset", "B04,B08")
    # Without proj: fields the files themselves are checked when opened.
    odd = os.path.join(WORK, "odd.tif")
    write_cog(odd, 9, "B04", rows=ROWS - 1)
    doc = [make_item(t, lambda t, a: odd if t == 3 else STACK.path(t, a), proj=False,
                     raster=False) for t in range(len(DATES))]
    expect(c, "file differs", doc, ["odd.tif", "template"])


def case_usage(c):
    doc = write_json(os.path.join(WORK, "ok.json"), collection(items()))
    r = cli("info", "--stac", doc, STACK.path(0, "B04"))
    c.ok(r.returncode != 0 and "not both" in r.stderr, "files and --stac", r.stderr)
    r = cli("info", "--asset", "B04", STACK.path(0, "B04"))
    c.ok(r.returncode != 0 and "need --stac" in r.stderr, "--asset without --stac", r.stderr)
    for opt, val in (("--bbox", "1,2,3"), ("--bbox", "0,5,1,4"), ("--max-items", "0"),
                     ("--href-replace", "noequals")):
        r = cli("info", "--stac", doc, opt, val)
        c.ok(r.returncode == 2 and opt in r.stderr, f"bad {opt} {val}", r.stderr)
    r = cli("info", "--stac", doc)
    c.ok(r.returncode == 0, "a good document passes", r.stderr)


def main():
    global STACK, WORK
    require_cli()
    c = Checks()
    with tmpdir("strata-stac-errors-") as work:
        WORK = work
        STACK = Stack(work)
        c.run("malformed", case_malformed)
        c.run("misaligned", case_misaligned)
        c.run("usage", case_usage)
    c.finish()


if __name__ == "__main__":
    main()
