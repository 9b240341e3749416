"""The rows of `make bench` over a network line (bench/netline.py): the push and the baselines
talk to the emulator through a loopback proxy that adds a round trip and, for the big file, caps
each connection's bandwidth, as GCS and S3 are reached in production.

Besides seconds, each row shows the visible window: the time from the version's first object to
its saved_model.pb, read from the creation times the store reports. For one push the proxy's log
of HTTP exchanges is turned into the chain of requests that waited on each other.
"""

import json
import re
import sys
import tempfile
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.measure import REPO, Row, measure, print_aligned, row, with_ratios
from bench.netline import NetLine
from tests.support.gcs_emulator import Emulator
from tests.support.local_server import free_port

PY = sys.executable
BUCKET = "bench"
PREFIX = "model"
RTT_MS = 30.0
CAP_MBPS = 100.0
# A cap this machine can exceed several times over (its CPU moves 40 to 150 MB/s through the line
# and the emulator, shared by all streams), so that the line, not the machine, limits (e).
LOW_CAP_MBPS = 10.0


@dataclass(frozen=True)
class Line:
    rtt_ms: float
    mbps: float | None = None

    def __str__(self) -> str:
        return f"{self.rtt_ms:.0f} ms" + (f", {self.mbps:.0f} MB/s/conn" if self.mbps else "")


def command(method: str, model: Path) -> list[str]:
    if method == "push":
        return [PY, "-m", "component", "--model", str(model), "--push-destination", f"gs://{BUCKET}/{PREFIX}",
                "--versioning", "SEQUENTIAL"]
    return [PY, str(REPO / "bench" / "baselines.py"), method, str(model), BUCKET, f"{PREFIX}/1"]


def gcs_line_row(case: str, method: str, model: Path, line: Line, repeats: int,
                 on_log: Callable[[list[dict]], None] | None = None) -> Row:
    """`method` through `line` to a fresh emulator, `repeats` times; the median, and the window."""
    runs, windows = [], []
    for _ in range(repeats):
        port = free_port()
        with tempfile.NamedTemporaryFile(suffix=".jsonl") as log, Emulator(f"http://127.0.0.1:{port}") as emulator:
            emulator.create_bucket(BUCKET)
            with NetLine(port, emulator.port, line.rtt_ms, line.mbps, Path(log.name) if on_log else None) as proxy:
                runs.append(measure(command(method, model), {"STORAGE_EMULATOR_HOST": proxy.url}))
            windows.append(gcs_window(emulator.url, f"{PREFIX}/1/"))
            if on_log is not None:
                on_log(proxy.exchanges())
                on_log = None
    result = row(case, f"GCS {line}", method, model, runs)
    result.window_s = sorted(windows)[len(windows) // 2]
    return result


def gcs_window(emulator_url: str, prefix: str) -> float:
    """Seconds from the first object under `prefix` to its saved_model.pb, by GCS's timeCreated."""
    created, token = {}, None
    while True:
        query = {"prefix": prefix, **({"pageToken": token} if token else {})}
        url = f"{emulator_url}/storage/v1/b/{BUCKET}/o?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            page = json.load(answer)
        created.update({o["name"][len(prefix):]: _instant(o["timeCreated"]) for o in page.get("items", [])})
        if not (token := page.get("nextPageToken")):
            break
    return created["saved_model.pb"] - min(created.values())


def _instant(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


# --- which requests waited on each other ---


_TOKEN = re.compile(r"\.pushing-[0-9a-f]{32}")


def label(method: str, target: str) -> str:
    """A request in words, with this push's random names and the version's file names folded."""
    url = urllib.parse.urlsplit(target)
    query = dict(urllib.parse.parse_qsl(url.query))
    path = urllib.parse.unquote(url.path)
    if path.startswith("/upload/"):
        what = f"upload {query.get('name', '?')}"
    elif "/rewriteTo/" in path:
        what = f"copy to {path.split('/o/')[-1]}"
    elif path.endswith("/o") and method == "GET":
        what = f"list {query.get('prefix', '')}" + (" (one level)" if query.get("delimiter") else "")
    else:
        what = f"{method.lower()} {path.split('/o/', 1)[-1]}"
    if "ifGenerationMatch" in query:
        what += " if-absent" if query["ifGenerationMatch"] == "0" else " if-unchanged"
    return fold(what)


def fold(what: str) -> str:
    """A push's random names as ID, and the names of the files in a version or staging area as <file>."""
    what = _TOKEN.sub(".pushing-ID", re.sub(r"probe-[0-9a-f]{32}", "probe-ID", what))
    return re.sub(rf"({PREFIX}/(?:\d+|\.pushing-ID)/)\S+", r"\1<file>", what)


@dataclass
class Step:
    """Requests in flight together; the next step starts only after all of these ended."""
    start: float
    end: float
    labels: Counter

    def describe(self) -> str:
        parts = [f"{n} x {what}" if n > 1 else what for what, n in self.labels.most_common()]
        return f"{(self.end - self.start) * 1000:6.0f} ms  " + "; ".join(parts)


def gcs_label(exchange: dict) -> str:
    return label(exchange["method"], exchange["target"])


def steps(exchanges: list[dict], describe: Callable[[dict], str] = gcs_label) -> list[Step]:
    """The exchanges grouped into steps: a request that starts after everything before it ended
    waited on it (or on work done in between) and opens a new step. `describe` puts one in words."""
    found: list[Step] = []
    for e in sorted(exchanges, key=lambda e: e["start"]):
        end = e["end"] if e["end"] is not None else e["start"]
        if found and e["start"] < found[-1].end:
            found[-1].end = max(found[-1].end, end)
            found[-1].labels[describe(e)] += 1
        else:
            found.append(Step(e["start"], end, Counter({describe(e): 1})))
    return found


def print_round_trips(case: str, exchanges: list[dict], rtt_ms: float, describe: Callable[[dict], str] = gcs_label,
                      store: str = "") -> None:
    chain = steps(exchanges, describe)
    lone = sum(1 for s in chain if sum(s.labels.values()) == 1)
    total = chain[-1].end - chain[0].start
    print(f"\nRound trips of one ({case}) {store + ' ' if store else ''}push at {rtt_ms:.0f} ms: {len(exchanges)} requests "
          f"in {len(chain)} steps that waited on each other ({lone} of them a single request), {total:.2f} s from first "
          "request to last answer:")
    for i, step in enumerate(chain, 1):
        print(f"  {i:2d}. {step.describe()}")


def rows(models: dict[str, Path]) -> tuple[list[Row], list[dict]]:
    """(c) many small files at RTT_MS; (a) the window for 300 files; (d) and (e) one big file,
    each connection capped."""
    slow = Line(RTT_MS)
    logged: list[dict] = []
    many = [gcs_line_row("c", "push", models["c"], slow, 3, logged.extend)]
    many += [gcs_line_row("c", method, models["c"], slow, 1 if method == "sequential" else 3)
             for method in ("sequential", "transfer_manager")]
    window = [gcs_line_row("a", "push", models["a"], slow, 1)]
    big = [gcs_line_row("d", method, models["d"], Line(RTT_MS, CAP_MBPS), 1) for method in ("push", "sequential")]
    low = [gcs_line_row("e", method, models["e"], Line(RTT_MS, LOW_CAP_MBPS), 1) for method in ("push", "sequential")]
    return (with_ratios(many, ("sequential", "transfer_manager")) + window
            + with_ratios(big, ("sequential",)) + with_ratios(low, ("sequential",))), logged


COLUMNS = ("case", "line", "method", "s", "MiB/s", "x sequential", "x transfer_mgr", "peak RSS MB", "window s")
TARGETS = (("c", "sequential", 10.0), ("c", "transfer_manager", 1.5), ("d", "sequential", 3.0),
           ("e", "sequential", 3.0))
WINDOW_LIMIT_S = 1.0
RSS_LIMIT_MB = 250


def print_table(rows: list[Row]) -> None:
    def ratio(r: Row, baseline: str) -> str:
        return f"{r.ratios[baseline]:.2f}" if baseline in r.ratios else ""

    table = [list(COLUMNS)] + [
        [r.case, r.to.removeprefix("GCS "), r.method, f"{r.seconds:.2f}", f"{r.model_bytes / 2**20 / r.seconds:.0f}",
         ratio(r, "sequential"), ratio(r, "transfer_manager"), f"{r.peak_rss_mb:.0f}", f"{r.window_s:.2f}"]
        for r in rows
    ]
    print("\nTo the GCS emulator through a network line (bench/netline.py): a round trip on every connection,")
    print("and for (d), (e) each connection capped. (c) 200 x 256 KiB shards; (a) as above; (d) one 1 GiB shard;")
    print("(e) one 128 MiB shard. sequential = one file after another, each in one stream.")
    print("window s = from the version's first object to its saved_model.pb (the emulator's creation times).\n")
    print_aligned(table)


def print_targets(rows: list[Row]) -> None:
    push = {r.case: r for r in rows if r.method == "push"}
    for case, baseline, least in TARGETS:
        got = push[case].ratios[baseline]
        print(f"{'ok  ' if got >= least else 'MISS'} ({case}) GCS push over {push[case].to.removeprefix('GCS ')}: "
              f"{got:.2f}x {baseline} (target >= {least}x)")
    for case in ("c", "a"):
        window = push[case].window_s
        print(f"{'ok  ' if window < WINDOW_LIMIT_S else 'MISS'} ({case}) GCS visible window {window:.2f} s "
              f"(target < {WINDOW_LIMIT_S:g} s)")
    rss = push["d"].peak_rss_mb
    print(f"{'ok  ' if rss < RSS_LIMIT_MB else 'MISS'} (d) GCS push: peak RSS {rss:.0f} MB (target < {RSS_LIMIT_MB} MB)")
