#!/usr/bin/env python3
"""A hostile client for one siteplane listener: closes (FIN) and resets (RST, SO_LINGER 0) its
connection at every stage of a request, and after each abuse checks that the server process is
alive and still answers a normal request on the same listener.

After an abuse it waits until the server has closed its end of that connection (the server-side
socket leaves /proc/net/tcp{,6} or is past its own close), so the server has written to the dead
socket before the process is checked: the outcome never depends on a sleep.

Prints one line per case ("ok <listener> <stage> <mode>") and exits 1 at the first case after
which the process is gone or does not answer.

  abuse_client.py --name https --port 8443 --tls --pid 123 --large /large.bin
  abuse_client.py --name api --port 6443 --tls --api --token TOKEN --pid 123
  abuse_client.py --name http --port 8080 --pid 123 --refused
"""

import argparse
import json
import os
import socket
import ssl
import struct
import sys
import time

DEADLINE = 20.0  # bounds a hang only; every wait below ends as soon as its condition holds


def client_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The abuse is about the transport, not about who the server is.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Target:
    def __init__(self, args):
        self.name = args.name
        self.port = args.port
        self.tls = args.tls
        self.api = args.api
        self.token = args.token
        self.pid = args.pid
        self.large = args.large
        self.created = 0

    def auth(self):
        return f"Authorization: Bearer {self.token}\r\n" if self.api else ""

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE)
        return raw, raw.getsockname()[1]

    def connect_tls(self):
        raw, local = self.connect()
        wrapped = client_context().wrap_socket(raw, server_hostname="localhost")
        return wrapped, local

    def open(self):
        return self.connect_tls() if self.tls else self.connect()

    def request(self, method, path, body=b"", extra=""):
        head = (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{self.auth()}{extra}"
                f"Content-Length: {len(body)}\r\n\r\n")
        return head.encode() + body

    def normal_path(self):
        return "/readyz" if self.api else "/"


def process_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The state follows the parenthesised command name; a zombie has died.
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


# States in which the server's socket has been closed by the server (or no longer exists).
SERVER_CLOSED = {"04", "05", "06", "07", "09", "0B"}  # FIN_WAIT1/2, TIME_WAIT, CLOSE, LAST_ACK, CLOSING


def server_side_open(server_port, client_port):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    local, remote, state = fields[1], fields[2], fields[3]
                    if (int(local.rsplit(":", 1)[1], 16) == server_port
                            and int(remote.rsplit(":", 1)[1], 16) == client_port
                            and state not in SERVER_CLOSED):
                        return True
        except OSError:
            continue
    return False


def wait_server_closed(target, client_port):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if not process_alive(target.pid):
            return
        if not server_side_open(target.port, client_port):
            return
        time.sleep(0.02)
    raise RuntimeError(f"the server kept connection from port {client_port} open")


def finish(sock, mode):
    if mode == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_response(sock):
    """Reads one response (head and Content-Length body): (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError(f"connection closed before a response: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, body


def normal_request(target):
    sock, _ = target.open()
    try:
        sock.sendall(target.request("GET", target.normal_path()))
        status, _ = read_response(sock)
        return status
    finally:
        sock.close()


def api_create_site(target):
    target.created += 1
    body = json.dumps({"apiVersion": "siteplane.io/v1alpha1", "kind": "Site",
                       "metadata": {"name": f"abuse-{target.created}"},
                       "spec": {"root": "/nonexistent"}}).encode()
    sock, _ = target.open()
    try:
        sock.sendall(target.request("POST", "/apis/siteplane.io/v1alpha1/namespaces/default/sites",
                                    body, "Content-Type: application/json\r\n"))
        read_response(sock)
    finally:
        sock.close()


# Each stage opens a connection, takes it to that stage, and returns (socket, client port).

def stage_connect(target):
    return target.connect()  # TLS listeners: before the ClientHello


def stage_mid_hello(target):
    raw, local = target.connect()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    raw.sendall(hello[: len(hello) // 2])
    return raw, local


def stage_handshake(target):
    return target.connect_tls()


def stage_mid_request_line(target):
    sock, local = target.open()
    sock.sendall(b"GET /some/pa")
    return sock, local


def stage_mid_headers(target):
    sock, local = target.open()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n" + target.auth().encode() + b"X-Half: ab")
    return sock, local


def stage_mid_body(target):
    sock, local = target.open()
    path = "/apis/siteplane.io/v1alpha1/namespaces/default/sites" if target.api else "/"
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\n{target.auth()}"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    sock.sendall(head.encode() + b"{" + b" " * 4000)
    return sock, local


def stage_response(target):
    # The request is complete; the server writes its response into a connection that is gone.
    sock, local = target.open()
    if target.api:
        sock.sendall(target.request("GET", "/apis/siteplane.io/v1alpha1/namespaces/default/sites"))
    else:
        sock.sendall(target.request("GET", target.large))
        sock.recv(1)  # the response has started
    return sock, local


def stage_pipelined(target):
    sock, local = target.open()
    path = "/apis/siteplane.io/v1alpha1/namespaces/default/sites" if target.api else target.large
    sock.sendall(target.request("GET", path) * 32)
    return sock, local


def stage_watch(target):
    sock, local = target.open()
    sock.sendall(target.request(
        "GET", "/apis/siteplane.io/v1alpha1/namespaces/default/sites?watch=true"))
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("watch closed before its head")
        data += chunk
    return sock, local


def run_case(target, stage, mode):
    sock, local = STAGES[stage](target)
    finish(sock, mode)
    if stage == "watch":
        # Events for the closed watch: the server writes them into the dead connection.
        api_create_site(target)
        api_create_site(target)
    wait_server_closed(target, local)
    if not process_alive(target.pid):
        return "the server process died"
    status = normal_request(target)
    if status != 200:
        return f"a normal request then got {status}"
    return None


STAGES = {
    "connect": stage_connect,
    "mid-client-hello": stage_mid_hello,
    "after-handshake": stage_handshake,
    "mid-request-line": stage_mid_request_line,
    "mid-headers": stage_mid_headers,
    "mid-body": stage_mid_body,
    "response": stage_response,
    "pipelined": stage_pipelined,
    "watch": stage_watch,
}


def stages_for(target):
    names = ["connect"]
    if target.tls:
        names += ["mid-client-hello", "after-handshake"]
    names += ["mid-request-line", "mid-headers", "mid-body", "response", "pipelined"]
    if target.api:
        names.append("watch")
    return names


# Request heads RFC 9112 says a server MUST reject: each must get 400 and the connection closed.
REFUSED = [
    b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: other\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: localhost\nHost: other\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    # Chunk data followed by two bytes that are not CRLF: a strict proxy ends the body elsewhere.
    b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhelloXX0\r\n\r\n",
]


def check_refused(target):
    for raw in REFUSED:
        sock, _ = target.open()
        try:
            # The bearer token goes first so that the API's answer is about the syntax alone.
            line, rest = raw.split(b"\r\n", 1)
            sock.sendall(line + b"\r\n" + target.auth().encode() + rest)
            status, _ = read_response(sock)
            rest = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except (OSError, RuntimeError) as error:
            print(f"FAIL {target.name} refused {raw!r}: {error}", flush=True)
            return 1
        finally:
            sock.close()
        if status != 400 or rest:
            print(f"FAIL {target.name} refused {raw!r}: got {status} then {rest[:80]!r}",
                  flush=True)
            return 1
        print(f"ok {target.name} refused {raw!r}", flush=True)
    return 0


def check_upgrade(target):
    """An Upgrade request whose body is another request: http-parser stops at the end of the
    head of an upgrade and leaves the rest to "the other protocol". A server that then went on
    parsing HTTP would answer the body as a second request that a proxy in front saw as data."""
    inner = b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n" + target.auth().encode() + b"\r\n"
    head = (f"POST / HTTP/1.1\r\nHost: localhost\r\n{target.auth()}Connection: Upgrade\r\n"
            f"Upgrade: h2c\r\nContent-Length: {len(inner)}\r\n\r\n")
    sock, _ = target.open()
    data = b""
    try:
        sock.sendall(head.encode() + inner)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (OSError, RuntimeError) as error:
        print(f"FAIL {target.name} upgrade: {error}", flush=True)
        return 1
    finally:
        sock.close()
    responses = data.count(b"HTTP/1.1 ")
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    if responses != 1 or status < 400:
        print(f"FAIL {target.name} upgrade: {responses} responses, first {status}: {data[:300]!r}",
              flush=True)
        return 1
    print(f"ok {target.name} upgrade answered {status} and closed", flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--api", action="store_true")
    parser.add_argument("--token", default="")
    parser.add_argument("--large", default="/large.bin")
    parser.add_argument("--stage", action="append", help="only these stages")
    parser.add_argument("--refused", action="store_true",
                        help="instead: send heads that must get 400 and a closed connection")
    args = parser.parse_args()
    target = Target(args)
    if args.refused:
        return check_refused(target) or check_upgrade(target)
    for stage in args.stage or stages_for(target):
        for mode in ("close", "reset"):
            try:
                failure = run_case(target, stage, mode)
            except (OSError, RuntimeError) as error:
                failure = f"{type(error).__name__}: {error}"
            if not process_alive(target.pid):
                failure = "the server process died"
            if failure:
                print(f"FAIL {target.name} {stage} {mode}: {failure}", flush=True)
                return 1
            print(f"ok {target.name} {stage} {mode}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
