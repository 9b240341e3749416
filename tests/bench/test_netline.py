"""The network line `make bench` puts in front of the stores (bench/netline.py): it must add its
round trip to every exchange without serialising a connection's stream, cap a connection's
bandwidth, and log each HTTP exchange, or the bench rows through it measure nothing real."""

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.netline import NetLine
from bench.network import steps
from tests.support.local_server import free_port

MB = 1_000_000


class Sink(BaseHTTPRequestHandler):
    """Reads the request body and answers its length."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        left = int(self.headers["Content-Length"])
        while left:
            left -= len(self.rfile.read(min(left, 1 << 20)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def exchange(port: int, path: str, body: bytes = b"", connection: http.client.HTTPConnection | None = None) -> float:
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Length": str(len(body))})
    assert conn.getresponse().read() == b"ok"
    return time.perf_counter() - started


def test_every_exchange_takes_a_round_trip_and_connections_overlap(server, tmp_path):
    port = free_port()
    # A long round trip, so that eight exchanges one after another (2.4 s) and at once (0.3 s) stay
    # apart even on a loaded machine.
    with NetLine(port, server, rtt_ms=300, log=tmp_path / "log.jsonl") as line:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        exchange(port, "/warm-up", connection=conn)  # the first pays for the line's and the server's start
        one_after_another = [exchange(port, f"/seq/{i}", connection=conn) for i in range(3)]
        started = time.perf_counter()
        threads = [threading.Thread(target=exchange, args=(port, f"/par/{i}")) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        together = time.perf_counter() - started
        conn.close()
    assert all(0.3 <= s < 1.2 for s in one_after_another), one_after_another  # upper bound: room for a loaded machine
    assert together < 1.5, f"8 connections at once took {together:.2f} s: the line serialises them"
    logged = line.exchanges()
    assert sorted(e["target"] for e in logged) == sorted(["/warm-up"] + [f"/seq/{i}" for i in range(3)] + [f"/par/{i}" for i in range(8)])
    assert all(e["method"] == "POST" and e["end"] - e["start"] >= 0.3 for e in logged)
    # The three on one connection waited on each other; the eight together were one step.
    assert [sum(s.labels.values()) for s in steps(logged)] == [1, 1, 1, 1, 8]


def test_a_stream_is_delayed_not_slowed(server):
    """A delay line: 32 MB at a 100 ms round trip takes about what it takes without one, plus the
    round trip; a sleep per chunk would make it take seconds."""
    body = b"x" * (32 * MB)
    port = free_port()
    with NetLine(port, server, rtt_ms=100):
        seconds = exchange(port, "/big", body)
    assert 0.1 <= seconds < 1.5, seconds


def test_bandwidth_is_capped_per_connection(server):
    body = b"x" * (8 * MB)
    port = free_port()
    with NetLine(port, server, rtt_ms=2, mbps=20):
        one = exchange(port, "/one", body)
        started = time.perf_counter()
        threads = [threading.Thread(target=exchange, args=(port, f"/two/{i}", body)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        two = time.perf_counter() - started
    assert 0.35 <= one < 1.5, f"8 MB at 20 MB/s took {one:.2f} s"
    # The cap is per connection: two connections move twice the bytes in about the same time.
    assert two < one * 1.6, (one, two)


def test_the_log_names_a_multipart_uploads_object(server, tmp_path):
    """The name is in the body, which a client may send after the request line, as urllib3 does."""
    port = free_port()
    body = b'--b\r\ncontent-type: application/json\r\n\r\n{"name": "model/1/saved_model.pb"}\r\n--b--\r\n'
    with NetLine(port, server, rtt_ms=2, log=tmp_path / "log.jsonl") as line:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.putrequest("POST", "/upload/storage/v1/b/x/o?uploadType=multipart")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        time.sleep(0.05)  # the body arrives as a chunk of its own
        conn.send(body)
        assert conn.getresponse().read() == b"ok"
        conn.close()
    [logged] = line.exchanges()
    assert logged["target"] == "/upload/storage/v1/b/x/o?uploadType=multipart&name=model/1/saved_model.pb"


def test_an_upload_that_waits_for_100_continue_is_one_exchange(server, tmp_path):
    """boto3 sends `Expect: 100-continue` with every upload and its body only after the interim
    answer: one exchange of two round trips, noted as such, not two exchanges."""
    port = free_port()
    body = b"x" * 1000
    with NetLine(port, server, rtt_ms=100, log=tmp_path / "log.jsonl") as line:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        conn.putrequest("POST", "/bucket/key")
        conn.putheader("Content-Length", str(len(body)))
        conn.putheader("Expect", "100-continue")
        conn.putheader("If-None-Match", "*")
        conn.endheaders()
        assert conn.sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        conn.send(body)
        assert conn.getresponse().read() == b"ok"
        seconds = time.perf_counter() - started
        conn.close()
    [logged] = line.exchanges()
    assert logged["target"] == "/bucket/key"
    assert logged["headers"] == {"expect": "100-continue", "if-none-match": "*"}
    assert logged["end"] - logged["start"] >= 0.2 and seconds >= 0.2
