"""The HTTP side: a threaded HTTP/1.1 server on 127.0.0.1 in front of the simulator.

One daemon thread per connection (keep-alive, as a ``requests.Session`` uses it); each answer
goes out in one ``sendall`` with an exact ``Content-Length`` and ``TCP_NODELAY``, so small
answers are not held back by Nagle's algorithm. ``stop()`` closes the listening socket and
every open connection, wakes any handler that is sleeping (jitter, latency, slow faults) and
joins the threads.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .gateway import Gateway, Reply, dumps

log = logging.getLogger("kisresearch.sim")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
}


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() joins our own thread list, with a timeout
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: Any) -> None:
        self.sim = sim
        self.stopping = threading.Event()
        self.conns: set[socket.socket] = set()
        self.threads: set[threading.Thread] = set()
        self.lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(
            target=self._run,
            args=(request, client_address),
            name="kisresearch-sim-conn",
            daemon=True,
        )
        with self.lock:
            self.threads.add(t)
            self.conns.add(request)
        t.start()

    def _run(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # a broken connection must not take the server down
            log.debug("connection error", exc_info=True)
        finally:
            self.shutdown_request(request)
            with self.lock:
                self.conns.discard(request)
                self.threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("error handling a request from %s", client_address, exc_info=True)

    def close_connections(self) -> list[threading.Thread]:
        with self.lock:
            conns, threads = list(self.conns), list(self.threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        return threads


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kisresearch-sim"
    sys_version = ""
    timeout = 300  # an idle keep-alive connection is closed after this many seconds
    server: HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        sim = self.server.sim
        path = url.path
        if path.startswith("/__sim/"):
            reply = sim.admin(method, path, query, body)
        else:
            if not self._sleep(sim.jitter_delay()):
                return
            gw: Gateway = sim.gateway
            if path.startswith("/oauth2/"):
                reply = gw.oauth(method, path, body)
            elif path.startswith("/common/master/"):
                reply = gw.master(path.rsplit("/", 1)[1])
            else:
                reply = gw.rest(method, path, query, headers)
        if not self._sleep(reply.delay) or reply.drop:
            self.close_connection = True
            return
        self._write(reply)

    def _sleep(self, seconds: float) -> bool:
        """Wait, unless the server stops meanwhile (then False and the connection closes)."""
        if seconds > 0 and self.server.stopping.wait(seconds):
            self.close_connection = True
            return False
        return not self.server.stopping.is_set()

    def _write(self, reply: Reply) -> None:
        head = [
            f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Error')}",
            f"content-type: {reply.content_type}",
            f"content-length: {len(reply.body)}",
        ]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        if self.close_connection:
            head.append("connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body
        try:
            if reply.trickle <= 0:
                self.wfile.write(data)
                return
            cut = len(data) - len(reply.body)
            self.wfile.write(data[:cut])
            pieces = max(1, len(reply.body) // 8)
            for i in range(pieces):
                self.wfile.write(reply.body[i * 8 : (i + 1) * 8 if i < pieces - 1 else None])
                self.wfile.flush()
                if not self._sleep(reply.trickle / pieces):
                    return
        except OSError:
            self.close_connection = True


def admin_reply(payload: Any, status: int = 200) -> Reply:
    return Reply(status, dumps(payload))


def parse_faults(body: bytes) -> dict[str, Any]:
    data = json.loads(body.decode("utf-8") or "{}")
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data
