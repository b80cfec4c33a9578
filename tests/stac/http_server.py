#!/usr/bin/python3
"""A small HTTP server for the STAC tests: serves a folder on 127.0.0.1 with Range support.

    http_server.py ROOT [--fail-every N] [--fail-all] [--lifetime SECONDS]
                   [--close-every N] [--no-range] [--log FILE]

Prints the port on its first line of stdout once it listens, then serves until killed or
until --lifetime elapses (so a test that dies never leaves it running). --fail-every N answers
every Nth request with 503 (transient failures GDAL should retry); --fail-all answers every
request with 503. --close-every N sends half the body of every Nth answer and closes the
connection (a reset mid-transfer); --no-range ignores Range headers (200, whole file); --log
FILE appends "METHOD PATH RANGE" per request. A request log goes to stderr when
STAC_SERVER_LOG is set.
"""
import argparse
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("STAC_SERVER_LOG"):
            sys.stderr.write("%s\n" % (fmt % args))

    def should_fail(self):
        srv = self.server
        with srv.lock:
            srv.count += 1
            n = srv.count
        return srv.fail_all or (srv.fail_every > 0 and n % srv.fail_every == 0)

    def fail(self):
        body = b"transient failure\n"
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Retry-After", "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def local_path(self):
        path = self.path.split("?", 1)[0]
        full = os.path.realpath(os.path.join(self.server.root, path.lstrip("/")))
        if not full.startswith(self.server.root + os.sep) or not os.path.isfile(full):
            return None
        return full

    def not_found(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def serve(self, with_body):
        srv = self.server
        # Other servers (stac_api_server.py) reuse this handler without these options.
        log = getattr(srv, "request_log", None)
        if log:
            with srv.lock:
                log.write("%s %s %s\n" % (self.command, self.path.split("?", 1)[0],
                                               self.headers.get("Range", "-")))
                log.flush()
        if self.should_fail():
            return self.fail()
        full = self.local_path()
        if full is None:
            return self.not_found()
        size = os.path.getsize(full)
        start, end = 0, size - 1
        m = RANGE.match("" if getattr(srv, "no_range", False) else self.headers.get("Range", ""))
        partial = m is not None and (m.group(1) or m.group(2))
        if partial:
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:
                start = max(0, size - int(m.group(2)))
            if start >= size or start > end:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(206 if partial else 200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if partial:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if with_body:
            with open(full, "rb") as f:
                f.seek(start)
                body = f.read(end - start + 1)
            close_every = getattr(srv, "close_every", 0)
            with srv.lock:
                srv.answers = getattr(srv, "answers", 0) + 1
                cut = close_every > 0 and srv.answers % close_every == 0
            if cut:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    def do_GET(self):
        self.serve(True)

    def do_HEAD(self):
        self.serve(False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--fail-every", type=int, default=0)
    p.add_argument("--fail-all", action="store_true")
    p.add_argument("--lifetime", type=float, default=120)
    p.add_argument("--close-every", type=int, default=0)
    p.add_argument("--no-range", action="store_true")
    p.add_argument("--log")
    a = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.root = os.path.realpath(a.root)
    srv.fail_every = a.fail_every
    srv.fail_all = a.fail_all
    srv.count = 0
    srv.answers = 0
    srv.close_every = a.close_every
    srv.no_range = a.no_range
    srv.request_log = open(a.log, "a") if a.log else None
    srv.lock = threading.Lock()
    timer = threading.Timer(a.lifetime, srv.shutdown)
    timer.daemon = True
    timer.start()
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
