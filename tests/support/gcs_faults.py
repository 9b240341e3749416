"""A loopback HTTP proxy in front of a store's emulator (GCS, or S3 with `dialect="s3"`) that
misbehaves on purpose.

`decide(Seen)` picks what happens to each request: None forwards it; "503", "429", "500", "409" or
"403" answers that status without forwarding, with the store's own error (S3: SlowDown,
ConditionalRequestConflict, AccessDenied, ...); "reset" drops the connection before forwarding,
"reset-after" after the emulator has handled it (the client never hears it worked);
"corrupt-request" / "corrupt-response" flip one byte of the body on the way; "strip-conditions"
forwards without If-None-Match / If-Match (a store that ignores conditional writes); "trickle"
answers with the store's headers, then its body one byte every 2 s (a read that never times out
though it never ends); a callable is
called (e.g. to wait at a barrier) and the request is then forwarded. It records the status of
every forwarded answer, and counts the bytes clients upload, to tell a server-side copy from bytes
streamed through the client.
"""

import http.client
import itertools
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
              "proxy-authenticate", "host", "content-length"}


@dataclass(frozen=True)
class Seen:
    number: int  # 1 for the first request the proxy sees
    method: str
    path: str  # with the query string
    body: bytes  # what the client sent (a multipart upload names its object here, not in the path)


Decision = str | Callable[[], None] | None


class FaultProxy:
    def __init__(self, upstream: str, decide: Callable[[Seen], Decision] = lambda seen: None,
                 dialect: str = "gcs") -> None:
        self.upstream = urlsplit(upstream)
        self.decide = decide
        self.dialect = dialect
        self.requests: list[Seen] = []
        self.answers: list[tuple[Seen, int]] = []  # forwarded requests and the status they got
        self.faults: list[tuple[Seen, str]] = []
        self.upload_bytes = 0
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, method: str, path: str, body: bytes) -> Seen:
        with self._lock:
            seen = Seen(next(self._numbers), method, path, body)
            self.requests.append(seen)
            # GCS uploads go to /upload/...; S3 uploads are PUTs (a copy's PUT has no body).
            if path.startswith("/upload/") if self.dialect == "gcs" else method == "PUT":
                self.upload_bytes += len(body)
            return seen

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._proxy()

            do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

            def _proxy(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen = proxy._record(self.command, self.path, body)
                decision = proxy.decide(seen)
                if callable(decision):
                    decision()
                    decision = None
                if decision is not None:
                    with proxy._lock:
                        proxy.faults.append((seen, decision))
                if decision in ("503", "429", "500", "409", "403"):
                    return self._fail(int(decision))
                if decision == "reset":
                    return self._reset()
                if decision == "corrupt-request" and body:
                    body = _flip(body)
                status, headers, payload = self._forward(body, strip=decision == "strip-conditions")
                with proxy._lock:
                    proxy.answers.append((seen, status))
                if decision == "reset-after":
                    return self._reset()
                if decision == "corrupt-response" and payload:
                    payload = _flip(payload)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() == "location":
                        value = value.replace(f"{proxy.upstream.scheme}://{proxy.upstream.netloc}", proxy.url)
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                if self.command == "HEAD":  # no body; the length is the object's (S3's HeadObject)
                    length = next((v for k, v in headers if k.lower() == "content-length"), "0")
                    self.send_header("Content-Length", length)
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if decision == "trickle":
                    return self._trickle(payload)
                self.wfile.write(payload)

            def _trickle(self, payload: bytes) -> None:
                try:
                    for i in range(len(payload)):
                        self.wfile.write(payload[i:i + 1])
                        self.wfile.flush()
                        time.sleep(2)
                except OSError:  # the client went away
                    self.close_connection = True

            def _forward(self, body: bytes, strip: bool = False) -> tuple[int, list[tuple[str, str]], bytes]:
                connection = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                dropped = HOP_BY_HOP | ({"if-none-match", "if-match"} if strip else set())
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
                    headers["Content-Length"] = str(len(body))
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    return response.status, response.getheaders(), response.read()
                finally:
                    connection.close()

            def _fail(self, status: int) -> None:
                if proxy.dialect == "s3":
                    code, message = S3_ERRORS[status]
                    payload = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                               f"<Message>{message}</Message></Error>").encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                message = {
                    403: "tester@example.iam.gserviceaccount.com does not have storage.objects.create access "
                         "to the Google Cloud Storage object. Permission 'storage.objects.create' denied.",
                    429: "The rate of change requests to the object is too high.",
                    500: "Internal Error",
                    409: "Conflict",
                    503: "Backend Error",
                }[status]
                payload = json.dumps({"error": {"code": status, "message": message,
                                                "errors": [{"message": message, "reason": "injected"}]}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _reset(self) -> None:
                # SO_LINGER 0: close() sends a TCP RST, what a dropped connection looks like.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

        return Handler


# S3's own error codes and messages for the statuses the proxy answers.
S3_ERRORS = {
    403: ("AccessDenied", "Access Denied"),
    409: ("ConditionalRequestConflict", "A conflicting conditional operation is currently in progress against "
                                        "this resource. Please try again."),
    429: ("SlowDown", "Please reduce your request rate."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # the connections this proxy resets on purpose


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
