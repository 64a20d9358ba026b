#!/usr/bin/env python3
"""A TLS front with authentication for the test schema registry, which
itself speaks plain HTTP without authentication: it checks each request's
Authorization header (Basic user:password, or Bearer token) and forwards the
request to the registry, so that the registry client's TLS and credentials
are tested against the real registry behind it.

usage: registry_proxy.py --upstream URL --cert PEM --key PEM --port-file FILE
                         [--basic USER:PASSWORD] [--bearer TOKEN]

Listens on a free 127.0.0.1 port, written to --port-file once it accepts
connections; answers 401 to a request without accepted credentials. Runs
until killed.
"""
import argparse
import base64
import http.server
import ssl
import urllib.error
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--basic")
    ap.add_argument("--bearer")
    a = ap.parse_args()
    accepted = set()
    if a.basic:
        accepted.add("Basic " + base64.b64encode(a.basic.encode()).decode())
    if a.bearer:
        accepted.add("Bearer " + a.bearer)
    upstream = a.upstream.rstrip("/")

    class Handler(http.server.BaseHTTPRequestHandler):
        def forward(self):
            if self.headers.get("Authorization") not in accepted:
                body = b'{"error_code":40101,"message":"unauthorized"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else None
            req = urllib.request.Request(upstream + self.path, data=data, method=self.command)
            if self.headers.get("Content-Type"):
                req.add_header("Content-Type", self.headers["Content-Type"])
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    status, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = forward

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
