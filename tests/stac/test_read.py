"""STAC items pointing at COGs on a local HTTP server: every result equals the same files read
with from-files, with and without projection metadata, with several assets as bands, through
a server that fails every Nth request (GDAL's retries), and a clear error naming the href from
one that fails every request."""
import json
import os

from stac_common import (ASSETS, DATES, Checks, Server, Stack, cli, collection, make_item,
                         read_tif, require_cli, same_array, tmpdir, write_json)

OPS = "mean,min,max,count,std"
# Quick retries for the test; the count stays strata's default, which is what is tested.
FAST = {"GDAL_HTTP_RETRY_DELAY": "0.01"}


def reduce_files(c, work, asset, tag):
    out = os.path.join(work, f"{tag}_{{op}}.tif")
    r = cli("reduce", "--quiet", "--op", OPS, "-o", out, *STACK.files(asset))
    c.ok(r.returncode == 0, f"{tag} from-files reduce", r.stderr)
    return {op: read_tif(out.replace("{op}", op)) for op in OPS.split(",")}


def reduce_stac(c, items, work, tag, *opts, env=None):
    out = os.path.join(work, f"{tag}_{{op}}.tif")
    r = cli("reduce", "--quiet", "--op", OPS, "-o", out, "--stac", items, *opts, env=env)
    c.ok(r.returncode == 0, f"{tag} STAC reduce", r.stderr)
    if r.returncode:
        return None
    return {op: read_tif(out.replace("{op}", op)) for op in OPS.split(",")}


def compare(c, tag, got, want, band=0):
    for op in OPS.split(","):
        c.ok(got is not None and same_array(got[op][band:band + 1], want[op]), f"{tag} {op}")


def http_items(work, url, name="items.json", **kw):
    items = [make_item(t, lambda t, a: f"{url}/cogs/t{t}_{a}.tif", **kw)
             for t in range(len(DATES))]
    return write_json(os.path.join(work, name), collection(items))


def case_http_equals_files(c, work, srv):
    items = http_items(work, srv.url)
    compare(c, "http proj", reduce_stac(c, items, work, "http", "--asset", "B04"), REF["B04"])
    # The first asset of the first item is the default.
    compare(c, "http default asset", reduce_stac(c, items, work, "dflt"), REF["B04"])


def case_template_opened(c, work, srv):
    """Without proj:/raster: fields the first asset is the template."""
    items = http_items(work, srv.url, "bare.json", proj=False, raster=False)
    compare(c, "template", reduce_stac(c, items, work, "tmpl", "--asset", "B08"), REF["B08"])
    a = json.loads(cli("info", "--json", "--stac", items, "--asset", "B08").stdout)["meta"]
    b = json.loads(cli("info", "--json", *STACK.files("B08")).stdout)["meta"]
    for k in ("epsg", "geotransform", "rows", "cols", "dtype", "block", "driver"):
        c.ok(a[k] == b[k], f"template meta {k}", f"{a[k]} != {b[k]}")
    c.ok(a["bands"][0]["nodata"] == b["bands"][0]["nodata"], "template nodata")


def case_meta_from_json(c, work, srv):
    """With proj: and raster: fields the meta needs no file: info works against a server that
    fails everything, and matches the files' meta."""
    items = http_items(work, srv.url, "meta.json")
    with Server(STACK.root, "--fail-all") as down:
        dead = http_items(work, down.url, "dead.json")
        r = cli("info", "--json", "--stac", dead, "--asset", "B04")
        c.ok(r.returncode == 0, "meta without opening", r.stderr)
    a = json.loads(cli("info", "--json", "--stac", items, "--asset", "B04").stdout)["meta"]
    b = json.loads(cli("info", "--json", *STACK.files("B04")).stdout)["meta"]
    for k in ("epsg", "geotransform", "rows", "cols", "dtype"):
        c.ok(a[k] == b[k], f"json meta {k}", f"{a[k]} != {b[k]}")
    c.ok(a["bands"][0]["nodata"] == b["bands"][0]["nodata"], "json meta nodata")
    r = cli("info", "--check", "--stac", items, "--asset", "B04")
    c.ok(r.returncode == 0, "json meta files check", r.stderr)


def case_two_assets(c, work, srv):
    items = http_items(work, srv.url, "two.json")
    got = reduce_stac(c, items, work, "two", "--asset", "B04,B08")
    compare(c, "two assets band 1", got, REF["B04"], 0)
    compare(c, "two assets band 2", got, REF["B08"], 1)
    info = json.loads(cli("info", "--json", "--stac", items, "--asset", "B04,B08").stdout)
    names = [b["name"] for b in info["meta"]["bands"]]
    c.ok(names == ASSETS, "band names are the asset keys", str(names))
    c.ok(info["sources"] == 2, "two sources a timestep")


def case_groupby_month(c, work, srv):
    items = http_items(work, srv.url, "gb.json")
    a, b = os.path.join(work, "gb_stac"), os.path.join(work, "gb_files")
    r = cli("groupby", "--quiet", "--by", "month", "--op", "mean", "-o", a, "--stac", items,
            "--asset", "B04")
    c.ok(r.returncode == 0, "groupby STAC", r.stderr)
    r = cli("groupby", "--quiet", "--by", "month", "--op", "mean", "-o", b, "--times",
            STACK.times(), *STACK.files("B04"))
    c.ok(r.returncode == 0, "groupby files", r.stderr)
    for m in ("01", "02", "03"):
        c.ok(same_array(read_tif(f"{a}/{m}.tif"), read_tif(f"{b}/{m}.tif")), f"month {m}")


def case_flaky(c, work):
    for every in ("3", "2"):
        # A server failing every second request in lockstep can, with many requests in
        # flight, fail the same request on each of its tries however they are spaced (real
        # failures are not in lockstep): ten tries keep this case about the results.
        env = dict(FAST, GDAL_HTTP_MAX_RETRY="10") if every == "2" else FAST
        with Server(STACK.root, "--fail-every", every) as flaky:
            items = http_items(work, flaky.url, f"flaky{every}.json")
            got = reduce_stac(c, items, work, f"flaky{every}", "--asset", "B04,B08", env=env)
            compare(c, f"flaky every {every} band 1", got, REF["B04"], 0)
            compare(c, f"flaky every {every} band 2", got, REF["B08"], 1)
            # The STAC document itself from the flaky server, hrefs relative to its URL.
            rel = [make_item(t, lambda t, a: f"cogs/t{t}_{a}.tif") for t in range(len(DATES))]
            write_json(os.path.join(STACK.root, f"rel{every}.json"), collection(rel))
            got = reduce_stac(c, f"{flaky.url}/rel{every}.json", work, f"flakyurl{every}",
                              "--asset", "B08", env=env)
            compare(c, f"flaky every {every} STAC by URL", got, REF["B08"])


def case_dead_server(c, work):
    with Server(STACK.root, "--fail-all") as down:
        items = http_items(work, down.url, "down.json")
        out = os.path.join(work, "down.tif")
        r = cli("reduce", "--quiet", "--op", "mean", "-o", out, "--stac", items, "--asset", "B04",
                env=FAST)
        c.ok(r.returncode == 1, "dead server exit code", str(r.returncode))
        href = f"{down.url}/cogs/t"
        c.ok(href in r.stderr and "503" in r.stderr, "dead server names the href", r.stderr)
        r = cli("info", "--stac", f"{down.url}/items.json", env=FAST)
        c.ok(r.returncode == 1 and f"{down.url}/items.json" in r.stderr, "dead STAC URL",
             r.stderr)
        c.ok(not os.path.exists(out), "no output from a failed read")


def main():
    global STACK, REF
    require_cli()
    c = Checks()
    with tmpdir("strata-stac-read-") as work:
        STACK = Stack(work)
        REF = {a: reduce_files(c, work, a, f"ref{a}") for a in ASSETS}
        with Server(work) as srv:
            c.run("http equals files", case_http_equals_files, work, srv)
            c.run("template opened", case_template_opened, work, srv)
            c.run("meta from JSON", case_meta_from_json, work, srv)
            c.run("two assets", case_two_assets, work, srv)
            c.run("groupby month", case_groupby_month, work, srv)
        c.run("flaky server", case_flaky, work)
        c.run("dead server", case_dead_server, work)
    c.finish()


if __name__ == "__main__":
    main()
