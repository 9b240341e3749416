"""A network line on loopback: a TCP proxy that gives every connection a round trip and,
optionally, a bandwidth cap, so `make bench` sees what production sees. The emulators answer in a
tenth of a millisecond; GCS and S3 in 20 to 50 ms, and that is what decides which upload wins.

  python bench/netline.py --port P --upstream 127.0.0.1:Q --rtt-ms 30 [--mbps 100] [--log FILE]

- Latency: every chunk, in both directions, is delivered one-way (rtt / 2) after it was read. A
  delay line, not a sleep per chunk: reading goes on while earlier chunks wait, so a connection
  still streams at full speed, only later, as on a long cable.
- Bandwidth: a token bucket per connection and direction paces the reading side, like the
  slowest link of a path; the delay comes on top. What the line holds is bounded, so a fast
  sender is slowed by TCP's own back-pressure instead of filling this process's memory: answers
  to the bandwidth-delay product (at least 4 MiB), uploads to UPLOAD_WINDOW (see there).
- Log (--log): one JSON line per HTTP exchange, `{"conn", "start", "end", "method", "target"}`,
  times in seconds on this process's monotonic clock. `start` is when the client sent the
  request's first bytes, `end` when the last byte of the answer reached it: the time the client
  waited. HTTP/1.1 clients send a connection's next request only after the previous answer, so an
  exchange starts with the first bytes a client sends after bytes of an answer came back (an
  interim "100 Continue" is not one). The request is
  not parsed beyond its first line, the few headers in NOTED_HEADERS (S3 says in them whether a
  write is conditional or a copy: `"headers": {name: value}`) and the object name of a GCS
  multipart upload, which is in its body; so any HTTP store (GCS's JSON API, S3) works behind it.

Listens on 127.0.0.1 only. Prints "ready" on stdout once listening; SIGTERM writes what is still
open to the log and exits.
"""

import argparse
import asyncio
import itertools
import json
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

CHUNK = 256 * 1024
MIN_WINDOW = 4 * 1024 * 1024
# What the line holds of what clients send, waiting for the server to read it. Large: GCS and S3
# read every upload as it arrives, but fake-gcs-server reads one request body at a time (parallel
# uploads straight to it finish one after another), and a small window would pass that back to the
# clients as if their connections shared one line.
UPLOAD_WINDOW = 512 * 1024 * 1024
_MULTIPART_NAME = re.compile(rb'"name":\s*"([^"]*)"')
NOTED_HEADERS = ("if-none-match", "if-match", "x-amz-copy-source", "expect")
# One or more interim answers (werkzeug, moto's server, sends "100 Continue" twice).
_INTERIM = re.compile(rb"(?:HTTP/1\.1 1\d\d [^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n)+")


@dataclass
class Exchange:
    conn: int
    start: float
    method: str
    target: str
    headers: dict[str, str]
    end: float | None = None  # None until answer bytes came back


def _noted(fields: list[str]) -> dict[str, str]:
    """The NOTED_HEADERS among a request's header lines (those in its first chunk: clients send the
    head in one piece)."""
    pairs = (field.partition(":") for field in fields)
    return {name.strip().lower(): value.strip() for name, _, value in pairs if name.strip().lower() in NOTED_HEADERS}


class Log:
    def __init__(self, out: TextIO | None) -> None:
        self.out = out

    def write(self, exchange: Exchange | None) -> None:
        if self.out is None or exchange is None:
            return
        self.out.write(json.dumps({"conn": exchange.conn, "start": exchange.start, "end": exchange.end,
                                   "method": exchange.method, "target": exchange.target,
                                   "headers": exchange.headers}) + "\n")
        self.out.flush()


class Connection:
    """One client connection and its upstream one, with the exchange under way on it."""

    def __init__(self, number: int, log: Log) -> None:
        self.number = number
        self.log = log
        self.current: Exchange | None = None
        self._head = b""  # the current request's first bytes, while its object name is unknown

    def sent(self, data: bytes, now: float) -> None:
        if self.current is None or self.current.end is not None:
            self.log.write(self.current)
            first, *fields = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, _, rest = first.partition(" ")
            self.current = Exchange(self.number, now, method, rest.rsplit(" ", 1)[0], _noted(fields))
            self._head = b""
        # A multipart upload names its object in its body, which may come in a later chunk than
        # the request line.
        if "uploadType=multipart" in self.current.target and "&name=" not in self.current.target \
                and len(self._head) < CHUNK:
            self._head += data
            if name := _MULTIPART_NAME.search(self._head):
                self.current.target += "&name=" + name.group(1).decode("latin-1")

    def answered(self, data: bytes, now: float) -> None:
        # "100 Continue" (what a client sending `Expect: 100-continue` waits for before it sends
        # the body, as boto3 does on every upload) is not the answer: the exchange goes on.
        if self.current is not None and not _INTERIM.fullmatch(data):
            self.current.end = now

    def close(self) -> None:
        self.log.write(self.current)
        self.current = None


async def carry(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, one_way: float, rate: float | None,
                window: int, on_read=None, on_delivered=None) -> None:
    """Move one direction's bytes: paced by `rate` (bytes/s) when read, delivered `one_way` later;
    at most `window` bytes held in between."""
    loop = asyncio.get_running_loop()
    line: asyncio.Queue = asyncio.Queue(maxsize=max(2, window // CHUNK))
    # Tokens a quiet connection saves up: 20 ms worth, so the event loop's late wake-ups are made
    # up for and the average stays at `rate`.
    burst = max(float(CHUNK), (rate or 0) * 0.02)

    async def receive() -> None:
        tokens, last = burst, loop.time()
        try:
            while data := await reader.read(CHUNK):
                if rate:
                    now = loop.time()
                    tokens = min(burst, tokens + (now - last) * rate) - len(data)
                    last = now
                    if tokens < 0:
                        await asyncio.sleep(-tokens / rate)
                if on_read is not None:
                    on_read(data, loop.time())
                await line.put((loop.time() + one_way, data))
        except ConnectionError:
            pass
        await line.put((loop.time() + one_way, b""))

    async def deliver() -> None:
        try:
            while True:
                due, data = await line.get()
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
                if on_delivered is not None:
                    on_delivered(data, loop.time())
        except ConnectionError:
            return

    await asyncio.gather(receive(), deliver())


async def serve(port: int, upstream: tuple[str, int], rtt: float, rate: float | None, log: Log) -> None:
    numbers = itertools.count(1)
    open_connections: set[Connection] = set()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        connection = Connection(next(numbers), log)
        open_connections.add(connection)
        try:
            server_reader, server_writer = await asyncio.open_connection(*upstream)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(
                carry(client_reader, server_writer, rtt / 2, rate, UPLOAD_WINDOW, on_read=connection.sent),
                carry(server_reader, client_writer, rtt / 2, rate, max(MIN_WINDOW, int((rate or 0) * rtt)),
                      on_delivered=connection.answered),
            )
        except asyncio.CancelledError:
            pass  # stopping: SIGTERM
        finally:
            connection.close()
            open_connections.discard(connection)
            for writer in (client_writer, server_writer):
                writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, limit=CHUNK)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()
    for connection in list(open_connections):
        connection.close()


class NetLine:
    """`with NetLine(port, upstream_port, rtt_ms=30) as line:` this proxy in its own process (its
    buffers must not raise the bench runner's peak RSS, which every process it starts inherits)."""

    def __init__(self, port: int, upstream_port: int, rtt_ms: float, mbps: float | None = None,
                 log: Path | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._command = [sys.executable, __file__, "--port", str(port), "--upstream", f"127.0.0.1:{upstream_port}",
                         "--rtt-ms", str(rtt_ms)]
        self._command += ["--mbps", str(mbps)] if mbps else []
        self._command += ["--log", str(log)] if log else []
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "NetLine":
        self._process = subprocess.Popen(self._command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        if self._process.stdout.readline().strip() != "ready":
            self._process.kill()
            raise RuntimeError(f"the network line did not start: {' '.join(self._command)}")
        return self

    def __exit__(self, *exc) -> None:
        self._process.terminate()  # it writes the exchanges still open to its log first
        self._process.wait(timeout=10)
        self._process.stdout.close()

    def exchanges(self) -> list[dict]:
        """The log, once the line has stopped."""
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="port to listen on, on 127.0.0.1")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the server behind the line")
    parser.add_argument("--rtt-ms", type=float, default=30.0, help="round trip added to every connection")
    parser.add_argument("--mbps", type=float, default=None, help="cap per connection and direction, MB/s")
    parser.add_argument("--log", default=None, help="write one JSON line per HTTP exchange here")
    args = parser.parse_args()
    host, _, upstream_port = args.upstream.rpartition(":")
    out = open(args.log, "w") if args.log else None
    try:
        asyncio.run(serve(args.port, (host, int(upstream_port)), args.rtt_ms / 1000,
                          args.mbps * 1e6 if args.mbps else None, Log(out)))
    finally:
        if out is not None:
            out.close()


if __name__ == "__main__":
    sys.exit(main())
