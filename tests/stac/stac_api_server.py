#!/usr/bin/python3
"""A small STAC API on 127.0.0.1 for the search tests, beside the COGs it points at.

    stac_api_server.py ROOT ITEMS.json [--lifetime SECONDS]

Prints its port on the first line of stdout once it listens. ROOT/cogs/* are served with
Range support (http_server.py's handler); "{server}" in an asset href becomes this server's
URL. The first path segment picks a flavour of API, so one server serves every case:

  /api        landing page with conformsTo, search by GET and POST (query, filter, sort)
  /getonly    search by GET only; conformance classes only in /getonly/conformance; next
              links are relative ("?token=...")
  /noext      item search without the query, filter and sort extensions
  /flaky      as /api, but every 3rd search answers 429 (Retry-After 1, then 0) and every
              7th 503
  /slow       as /api, but the first search request takes 3 s (a client timeout)
  /auth       as /api, but every request needs the header X-Api-Key: s3cret-key-value
  /badnext    the first page's next link has no href
  /loop       the next link of every page asks for the second page again
  /repeat     every page is the first page under a new token
  /big        each page carries 300 kB of padding
  /hop        as /api, but next links name the host "localhost" (another origin)
  /html       an HTML landing page
  /notstac    a JSON landing page without conformance classes or links
  /nosearch   conformance without STAC API - Item Search
  anything else: 404

Paging: "limit" items a page (default 5), the next page by a "token" (a query parameter for
GET; the POST next link carries {"token": ...} with merge). GET /_log gives the requests seen
(method, path, whether the API key was right) as JSON.
"""
import argparse
import json
import os
import threading
import time
import urllib.parse
from datetime import datetime, timezone
import sys
from http.server import ThreadingHTTPServer

from http_server import Handler

STAC = "https://api.stacspec.org/v1.0.0"
ALL_CLASSES = [f"{STAC}/core", f"{STAC}/item-search", f"{STAC}/item-search#query",
               f"{STAC}/item-search#filter", f"{STAC}/item-search#sort",
               "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json"]
FLAVOURS = {"hop", "api", "getonly", "noext", "flaky", "slow", "auth", "badnext", "loop", "repeat",
            "big", "html", "notstac", "nosearch"}
API_KEY = "s3cret-key-value"


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def in_interval(t, spec):
    if "/" not in spec:
        return t == parse_time(spec)
    a, b = spec.split("/", 1)
    return (a in ("", "..") or t >= parse_time(a)) and (b in ("", "..") or t <= parse_time(b))


def compare(op, a, b):
    return {"lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b, "eq": a == b,
            "neq": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "=": a == b,
            "<>": a != b}[op]


def cql2(expr, props):
    """The part of CQL2-JSON the tests use: and/or/not and comparisons of a property."""
    op, args = expr["op"], expr.get("args", [])
    if op == "and":
        return all(cql2(a, props) for a in args)
    if op == "or":
        return any(cql2(a, props) for a in args)
    if op == "not":
        return not cql2(args[0], props)
    prop = args[0]["property"]
    if prop not in props:
        return False
    return compare(op, props[prop], args[1])


def matches(item, p):
    props = item["properties"]
    if p.get("collections") and item.get("collection") not in p["collections"]:
        return False
    if p.get("bbox"):
        b, ib = p["bbox"], item["bbox"]
        if ib[0] > b[2] or ib[2] < b[0] or ib[1] > b[3] or ib[3] < b[1]:
            return False
    if p.get("datetime") and not in_interval(parse_time(props["datetime"]), p["datetime"]):
        return False
    for name, ops in (p.get("query") or {}).items():
        if name not in props or not all(compare(o, props[name], v) for o, v in ops.items()):
            return False
    if p.get("filter") and not cql2(p["filter"], props):
        return False
    return True


def get_params(query):
    q = urllib.parse.parse_qs(query)
    p = {k: v[0] for k, v in q.items()}
    if "collections" in p:
        p["collections"] = p["collections"].split(",")
    if "bbox" in p:
        p["bbox"] = [float(v) for v in p["bbox"].split(",")]
    for k in ("query", "filter"):
        if k in p:
            p[k] = json.loads(p[k])
    if "sortby" in p:
        p["sortby"] = [{"field": f.lstrip("+-"), "direction": "desc" if f[0] == "-" else "asc"}
                       for f in p["sortby"].split(",")]
    return p


class ApiHandler(Handler):
    def send_json(self, obj, code=200, ctype="application/geo+json", headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_text(self, code, text, ctype="text/plain"):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def record(self, path):
        with self.server.lock:
            self.server.log.append({"method": self.command, "path": path,
                                    "key": self.headers.get("X-Api-Key") == API_KEY,
                                    "has_key": "X-Api-Key" in self.headers,
                                    "host": self.headers.get("Host", "").split(":")[0]})

    def landing(self, fl):
        url = f"{self.base()}/{fl}"
        if fl == "html":
            return self.send_text(200, "<!doctype html><html><body>Hi</body></html>",
                                  "text/html")
        if fl == "notstac":
            return self.send_json({"title": "a JSON document"}, ctype="application/json")
        links = [{"rel": "self", "href": url}, {"rel": "conformance", "href": f"{url}/conformance"},
                 {"rel": "search", "href": f"{url}/search", "method": "GET",
                  "type": "application/geo+json"}]
        if fl != "getonly":
            links.append({"rel": "search", "href": f"{url}/search", "method": "POST",
                          "type": "application/geo+json"})
        doc = {"type": "Catalog", "id": fl, "stac_version": "1.0.0", "description": fl,
               "links": links}
        if fl != "getonly":
            doc["conformsTo"] = self.classes(fl)
        self.send_json(doc, ctype="application/json")

    def classes(self, fl):
        if fl == "noext":
            return ALL_CLASSES[:2]
        if fl == "nosearch":
            return ALL_CLASSES[:1]
        return ALL_CLASSES

    def search(self, fl, params):
        srv = self.server
        with srv.lock:
            srv.searches += 1
            n = srv.searches
        if fl == "flaky" and n % 3 == 0:
            retry = "1" if n == 3 else "0"
            return self.send_json({"code": "TooManyRequests"}, 429, "application/json",
                                  [("Retry-After", retry)])
        if fl == "flaky" and n % 7 == 0:
            return self.send_json({"code": "ServerError"}, 503, "application/json")
        if fl == "slow" and n == 1:
            time.sleep(3)
        items = [it for it in srv.items if matches(it, params)]
        for s in reversed(params.get("sortby") or []):
            field = s["field"].removeprefix("properties.")
            items.sort(key=lambda it: it["properties"][field], reverse=s["direction"] == "desc")
        limit = int(params.get("limit", 5))
        start = int(params.get("token", "0"))
        if fl == "repeat":
            start = 0
        page = items[start:start + limit]
        url = f"{self.base()}/{fl}/search"
        if fl == "hop":
            url = url.replace("127.0.0.1", "localhost")
        links = [{"rel": "root", "href": f"{self.base()}/{fl}"}]
        nxt = start + limit if start + limit < len(items) else None
        if fl == "loop" and nxt is not None:
            nxt = limit
        if fl == "repeat":
            nxt = int(params.get("token", "0")) + limit
        if nxt is not None:
            token = str(nxt)
            if fl == "badnext":
                links.append({"rel": "next", "type": "application/geo+json"})
            elif self.command == "POST":
                links.append({"rel": "next", "href": url, "method": "POST",
                              "body": {"token": token}, "merge": True})
            else:
                q = {k: v for k, v in urllib.parse.parse_qsl(
                    urllib.parse.urlsplit(self.path).query)}
                q["token"] = token
                # /getonly gives a relative href of a query alone, which keeps the path.
                href = "" if fl == "getonly" else url
                links.append({"rel": "next", "href": href + "?" + urllib.parse.urlencode(q)})
        feats = [json.loads(json.dumps(it).replace("{server}", self.base())) for it in page]
        doc = {"type": "FeatureCollection", "features": feats, "links": links,
               "numberMatched": len(items), "numberReturned": len(feats)}
        if fl == "big":
            doc["padding"] = "x" * 300000
        self.send_json(doc)

    def route(self, body=None):
        parts = urllib.parse.urlsplit(self.path)
        seg = [s for s in parts.path.split("/") if s]
        self.record(parts.path)
        if seg and seg[0] == "_log":
            with self.server.lock:
                return self.send_json(self.server.log, ctype="application/json")
        if seg and seg[0] == "cogs":
            return self.serve(self.command != "HEAD")
        if not seg or seg[0] not in FLAVOURS or len(seg) > 2:
            return self.not_found()
        fl = seg[0]
        if fl == "auth" and self.headers.get("X-Api-Key") != API_KEY:
            return self.send_json({"code": "Unauthorized"}, 401, "application/json")
        if len(seg) == 1:
            return self.landing(fl)
        if seg[1] == "conformance" and fl not in ("html", "notstac"):
            return self.send_json({"conformsTo": self.classes(fl)}, ctype="application/json")
        if seg[1] == "search" and fl not in ("html", "notstac"):
            if body is not None:
                if fl == "getonly":
                    return self.send_text(405, "GET only")
                return self.search(fl, json.loads(body or b"{}"))
            return self.search(fl, get_params(parts.query))
        return self.not_found()

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.route(self.rfile.read(n))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that time out or stop reading an oversized page drop the connection.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("items")
    p.add_argument("--lifetime", type=float, default=300)
    a = p.parse_args()
    srv = Server(("127.0.0.1", 0), ApiHandler)
    srv.root = os.path.realpath(a.root)
    srv.fail_every = 0
    srv.fail_all = False
    srv.count = 0
    srv.searches = 0
    srv.log = []
    srv.lock = threading.Lock()
    with open(a.items) as f:
        srv.items = json.load(f)
    timer = threading.Timer(a.lifetime, srv.shutdown)
    timer.daemon = True
    timer.start()
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
