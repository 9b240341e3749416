"""The S3 rows of `make bench` (`python -m bench.run s3`): the push to moto's S3 server next to what
users would write with boto3 (bench/s3_baselines.py), on loopback and through a network line
(bench/netline.py).

Every measurement is its own process, timed from start to exit, its peak RSS read from wait4, with
a fresh moto server on 127.0.0.1 (it keeps objects in memory) started before it and stopped after.

The visible window (from the version's first object to its saved_model.pb) comes from the line's
log of HTTP exchanges, not from the store: S3 gives LastModified to the second. It is an upper
bound: from when the first write into the version began reaching the store (its start + rtt/2) to
when the answer to the saved_model.pb write left it (its end - rtt/2), on one monotonic clock
(microseconds); it overstates the window by the time the store spent on those two requests.
"""

import resource
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench import network
from bench.measure import REPO, Row, measure, measure_costs, print_aligned, row, with_ratios
from bench.netline import NetLine
from tests.support.local_server import free_port
from tests.support.s3_server import S3Server

PY = sys.executable
BUCKET = "bench"
PREFIX = network.PREFIX
REPEATS = {"a": 5, "b": 3}  # the 500 MiB rows take seconds each; their spread is small
BASELINES = ("sequential", "s3transfer")
TARGETS = (("a", "sequential", 1.6), ("a", "s3transfer", 1.0), ("b", "sequential", 1.6), ("b", "s3transfer", 1.0),
           ("c", "sequential", 10.0), ("c", "s3transfer", 1.5), ("e", "sequential", 3.0), ("f", "sequential", 8.0),
           ("f", "s3transfer", 1.5))
# The line each case's target is measured through: (e) where each connection's bandwidth is the
# limit, so parts in flight count and the machine's CPU does not; (c) and (f) where round trips are.
SLOW = network.Line(network.RTT_MS)
CAPPED = network.Line(network.RTT_MS, network.LOW_CAP_MBPS)
TARGET_LINES = {"c": f"S3 {SLOW}", "e": f"S3 {CAPPED}", "f": f"S3 {SLOW}"}
RSS_LIMIT_MB = 250
WINDOW_LIMIT_S = 1.0


def command(method: str, model: Path) -> list[str]:
    if method == "push":
        return [PY, "-m", "component", "--model", str(model), "--push-destination", f"s3://{BUCKET}/{PREFIX}",
                "--versioning", "SEQUENTIAL"]
    return [PY, str(REPO / "bench" / "s3_baselines.py"), method, str(model), BUCKET, f"{PREFIX}/1"]


def s3_row(case: str, method: str, model: Path, repeats: int, line: network.Line | None = None,
           logs: list[list[dict]] | None = None) -> Row:
    """`method` to a fresh moto server, `repeats` times, through `line` if given (then with the
    median window, and each run's log of exchanges appended to `logs`, start and exit included)."""
    runs, windows, costs = [], [], {}
    for _ in range(repeats):
        with S3Server() as server:
            server.create_bucket(BUCKET)
            if line is None:
                runs.append(measure(command(method, model), server.env()))
                if method == "push" and not costs:
                    costs = measure_costs(model, f"s3://{BUCKET}/{PREFIX}", server.env())
                continue
            run, exchanges = through(line, server, command(method, model))
            runs.append(run)
            windows.append(window(exchanges, line.rtt_ms))
            if logs is not None:
                logs.append(exchanges)
    result = row(case, f"S3 {line}" if line else "S3 loopback", method, model, runs, costs)
    result.window_s = sorted(windows)[len(windows) // 2] if windows else None
    return result


def through(line: network.Line, server: S3Server, argv: list[str]) -> tuple[tuple[float, float], list[dict]]:
    """Run `argv` against `server` through `line`: its seconds and peak RSS, and its exchanges, with
    a first one standing for the process's start up to its first request and a last one from its
    last answer to its exit (on the monotonic clock of the line's log)."""
    port = free_port()
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as log:
        with NetLine(port, server.port, line.rtt_ms, line.mbps, Path(log.name)) as proxy:
            seconds, peak_mb = measure(argv, server.env(proxy.url))
            exited = time.monotonic()
        exchanges = proxy.exchanges()
    started = exited - seconds
    first, last = min(e["start"] for e in exchanges), max(e["end"] or e["start"] for e in exchanges)
    return (seconds, peak_mb), [
        {"start": started, "end": first, "method": "START", "target": "", "headers": {}}, *exchanges,
        {"start": last, "end": exited, "method": "EXIT", "target": "", "headers": {}},
    ]


def _version_key(exchange: dict) -> str:
    """The key under <prefix>/1/ that this exchange makes exist (a PutObject, a CopyObject, the
    completion of a multipart upload), or ""."""
    url = urllib.parse.urlsplit(exchange["target"])
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    creates = (exchange["method"] == "PUT" and "partNumber" not in query) or \
              (exchange["method"] == "POST" and "uploadId" in query)
    path = urllib.parse.unquote(url.path)
    version = f"/{BUCKET}/{PREFIX}/1/"
    return path[len(version):] if creates and path.startswith(version) else ""


def window(exchanges: list[dict], rtt_ms: float) -> float:
    """Seconds from the version's first object to its saved_model.pb, at most (see the docstring)."""
    writes = [e for e in exchanges if _version_key(e) and e["end"] is not None]
    loader = max(e["end"] for e in writes if _version_key(e) == "saved_model.pb")
    return loader - min(e["start"] for e in writes) - rtt_ms / 1000


def label(exchange: dict) -> str:
    """An S3 request (path-style) in words, with the push's random names folded."""
    method, headers = exchange["method"], exchange.get("headers", {})
    if method in ("START", "EXIT"):
        return {"START": "process start (interpreter, imports, reading the model)", "EXIT": "process exit"}[method]
    url = urllib.parse.urlsplit(exchange["target"])
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    key = urllib.parse.unquote(url.path).removeprefix(f"/{BUCKET}").lstrip("/")
    if "list-type" in query:
        what = f"list {query.get('prefix', [''])[0]}" + (" (one level)" if "delimiter" in query else "")
    elif "uploads" in query:
        what = f"start multipart {key}"
    elif "partNumber" in query:
        what = f"upload part of {key}"
    elif "uploadId" in query:
        what = f"{'complete' if method == 'POST' else 'abort'} multipart {key}"
    elif "x-amz-copy-source" in headers:
        what = f"copy to {key}"
    else:
        what = {"PUT": "upload", "GET": "read", "HEAD": "head", "DELETE": "delete"}.get(method, method) + f" {key}"
    if headers.get("if-none-match") == "*":
        what += " if-absent"
    elif "if-match" in headers:
        what += " if-unchanged"
    if headers.get("expect") == "100-continue":
        what += " (+100-continue)"  # the body waits a round trip for the store's go-ahead
    return network.fold(what)


def rows(models: dict[str, Path]) -> tuple[list[Row], dict[str, list[dict]]]:
    """Loopback: (a), (b), and the (b) push with half the bytes; through a 30 ms line: (c), and the
    (a) push's window. Also the exchanges of one push each of (a), (b) (through a line of no delay)
    and (c) at 30 ms, for the round trips."""
    result: list[Row] = []
    for case in ("a", "b"):
        result += with_ratios([s3_row(case, method, models[case], REPEATS[case]) for method in ("push", *BASELINES)],
                              BASELINES)
    result.append(s3_row("b/2", "push", models["b-half"], 1))
    slow = network.Line(network.RTT_MS)
    logs: dict[str, list[list[dict]]] = {"c": []}
    many = [s3_row("c", "push", models["c"], 3, slow, logs["c"])]
    many += [s3_row("c", method, models["c"], 1 if method == "sequential" else 3, slow) for method in BASELINES]
    result += with_ratios(many, BASELINES)
    result.append(s3_row("a", "push", models["a"], 1, slow))
    result += with_ratios([s3_row("e", method, models["e"], 1, CAPPED) for method in ("push", "sequential")],
                          ("sequential",))
    result += with_ratios([s3_row("f", method, models["f"], 1 if method == "sequential" else 3, SLOW)
                           for method in ("push", *BASELINES)], BASELINES)
    # Where the time of the loopback pushes goes: through a line that adds nothing but its own relaying.
    for case in ("a", "b"):
        logs[case] = []
        s3_row(case, "push", models[case], 1, network.Line(0.0), logs[case])
    return result, {case: runs[0] for case, runs in logs.items()}


COLUMNS = ("case", "line", "method", "s", "MiB/s", "x sequential", "x s3transfer", "peak RSS MB", "re-push ms",
           "window s")


def print_table(rows: list[Row]) -> None:
    def ratio(r: Row, baseline: str) -> str:
        return f"{r.ratios[baseline]:.2f}" if baseline in r.ratios else ""

    table = [list(COLUMNS)] + [
        [r.case, r.to.removeprefix("S3 "), r.method, f"{r.seconds:.2f}", f"{r.model_bytes / 2**20 / r.seconds:.0f}",
         ratio(r, "sequential"), ratio(r, "s3transfer"), f"{r.peak_rss_mb:.0f}",
         "-" if r.repush_ms is None else f"{r.repush_ms:.1f}", "-" if r.window_s is None else f"{r.window_s:.2f}"]
        for r in rows
    ]
    print("\nTo moto's S3 server (a fresh one per run), on loopback and through a network line (bench/netline.py).")
    print("(a), (b), (c) as above; (b/2) the (b) push with a 250 MiB shard: peak RSS must not grow with the model.")
    print("sequential = one PutObject per file, one after another; s3transfer = upload_file per file with")
    print("TransferConfig(max_concurrency=10), 10 files at a time (bench/s3_baselines.py). Median of 5 runs for (a),")
    print("3 for (b) and the 30 ms push and s3transfer rows, 1 otherwise. window s = the version's first object to its")
    print("saved_model.pb, at most (from the line's log of exchanges: S3's LastModified has a resolution of 1 s).")
    print("(e) one 128 MiB file through a line that caps each connection: sequential is one stream. (f) 400 files")
    print("of 16 KiB at 30 ms round trip. Every row is wall clock from process start to exit, for every client.")
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak RSS includes the {floor:.0f} MB every child inherits from this runner.\n")
    print_aligned(table)


def print_round_trips(logs: dict[str, list[dict]]) -> None:
    """Each push's requests, grouped into steps that waited on each other (network.steps), with
    when each began: the gaps between steps are the client's own work (checksums, reading files)."""
    for case, what in (("a", "loopback"), ("b", "loopback"), ("c", f"{network.RTT_MS:.0f} ms")):
        exchanges = logs[case]
        chain = network.steps(exchanges, label)
        origin = chain[0].start
        print(f"\nOne ({case}) S3 push, {what}: {len(exchanges) - 2} requests in {len(chain) - 2} steps that waited on "
              f"each other, {chain[-1].end - origin:.2f} s from start to exit (at: time since the start):")
        for step in chain:
            print(f"  at {step.start - origin:5.2f} s {step.describe()}")


def print_targets(rows: list[Row]) -> None:
    push = {(r.case, r.to): r for r in rows if r.method == "push"}
    slow = f"S3 {SLOW}"
    for case, baseline, least in TARGETS:
        r = push[case, TARGET_LINES.get(case, "S3 loopback")]
        got = r.ratios[baseline]
        print(f"{'ok  ' if got >= least else 'MISS'} ({case}) {r.to} push: {got:.2f}x {baseline} (target >= {least}x)")
    for case in ("b", "b/2"):
        rss = push[case, "S3 loopback"].peak_rss_mb
        print(f"{'ok  ' if rss < RSS_LIMIT_MB else 'MISS'} ({case}) S3 push: peak RSS {rss:.0f} MB (target < {RSS_LIMIT_MB} MB)")
    for case in ("c", "a"):
        got = push[case, slow].window_s
        print(f"{'ok  ' if got < WINDOW_LIMIT_S else 'MISS'} ({case}) S3 visible window over {network.RTT_MS:.0f} ms: "
              f"{got:.2f} s (target < {WINDOW_LIMIT_S:g} s)")
