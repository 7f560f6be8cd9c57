#!/usr/bin/env python3
"""A scripted stand-in for kube-apiserver over HTTPS, for reflector tests: it answers lists and
watches of one collection as a scenario says, including the ways a real or hostile server ends a
list or a watch.

    scripted_apiserver.py SCENARIO PORT CERT KEY

relist            list 1 -> [a] at rv 10; the watch from 10 -> ERROR 410; list 2 -> [b] at rv 20;
                  the watch from 20 stays open (a bookmark every second)
expired-continue  page 1 -> [a] + continue t1; t1 -> 410 Gone (once); page 1 -> [a] + t2;
                  t2 -> [b], the end; then a quiet watch
endless-pages     every page -> [x] + the same continue token, for ever
"""

import http.server
import json
import ssl
import sys
import threading
import time
import urllib.parse

SCENARIO, PORT, CERT, KEY = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
state = {"lists": 0, "expired": False}
lock = threading.Lock()


def item(name):
    return {"apiVersion": "siteplane.io/v1alpha1", "kind": "Site",
            "metadata": {"name": name, "namespace": "default", "resourceVersion": "1"}}


def page(names, rv, token=None):
    metadata = {"resourceVersion": rv}
    if token:
        metadata["continue"] = token
    return {"kind": "SiteList", "apiVersion": "siteplane.io/v1alpha1", "metadata": metadata,
            "items": [item(n) for n in names]}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def watch(self, lines, hold):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        for line in lines:
            self.wfile.write((json.dumps(line) + "\n").encode())
            self.wfile.flush()
        while hold:
            time.sleep(1)
            bookmark = {"type": "BOOKMARK", "object": {"kind": "Site",
                                                       "metadata": {"resourceVersion": "20"}}}
            self.wfile.write((json.dumps(bookmark) + "\n").encode())
            self.wfile.flush()

    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if "watch" in query:
            rv = query.get("resourceVersion", [""])[0]
            if SCENARIO == "relist" and rv == "10":
                gone = {"kind": "Status", "code": 410, "reason": "Expired",
                        "message": "too old resource version: 10 (15)"}
                return self.watch([{"type": "ERROR", "object": gone}], hold=False)
            return self.watch([], hold=True)
        token = query.get("continue", [""])[0]
        with lock:
            state["lists"] += 1
            lists = state["lists"]
            if SCENARIO == "relist":
                return self.send_json(200, page(["a"] if lists == 1 else ["b"],
                                                "10" if lists == 1 else "20"))
            if SCENARIO == "expired-continue":
                if token == "t1" and not state["expired"]:
                    state["expired"] = True
                    return self.send_json(410, {"kind": "Status", "code": 410,
                                                "message": "the continue token is too old"})
                if token in ("t1", "t2"):
                    return self.send_json(200, page(["b"], "30"))
                return self.send_json(200, page(["a"], "30",
                                                "t2" if state["expired"] else "t1"))
            return self.send_json(200, page(["x"], "40", "same"))


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERT, KEY)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.daemon_threads = True
server.serve_forever()
