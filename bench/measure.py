"""What every row of `make bench` is: one command, run as its own process, timed from start to
exit, its peak RSS read from wait4."""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    case: str
    to: str  # "GCS" (the emulator) or "local"
    method: str
    model_bytes: int
    seconds: float
    peak_rss_mb: float
    ratios: dict[str, float] = field(default_factory=dict)  # baseline -> its seconds / ours
    # For pushes, the beyond-TFX costs in ms (bench/costs.py): validation, and the re-push check
    # that finds the model already published. None (baselines) prints as "-".
    validate_ms: float | None = None
    repush_ms: float | None = None
    # On object stores: seconds from the version's first object to its saved_model.pb (store times).
    window_s: float | None = None


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from start to exit, and peak RSS in MB, of one process. The peak includes this
    runner's own (about 15 MB), which Linux carries into every child across exec."""
    os.sync()  # nobody pays for the writes of what ran before
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env},
                                   stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            errors.seek(0)
            sys.exit(f"{' '.join(command)} failed:\n{errors.read().decode()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def row(case: str, to: str, method: str, model: Path, runs: list[tuple[float, float]],
        costs: dict[str, float] | None = None) -> Row:
    size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    return Row(case, to, method, size, statistics.median(s for s, _ in runs), max(r for _, r in runs),
               **(costs or {}))


def with_ratios(rows: list[Row], baselines: tuple[str, ...]) -> list[Row]:
    seconds = {r.method: r.seconds for r in rows}
    for r in rows:
        r.ratios = {b: seconds[b] / r.seconds for b in baselines}
    return rows


def measure_costs(model: Path, base: str, env: dict[str, str]) -> dict[str, float]:
    """Validation and re-push check (bench/costs.py), in their own process (the runner's RSS stays small)."""
    done = subprocess.run([sys.executable, str(REPO / "bench" / "costs.py"), str(model), base], cwd=REPO,
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO), **env}, text=True)
    if done.returncode:
        sys.exit(f"bench/costs.py failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def print_aligned(table: list[list[str]]) -> None:
    """A header line and rows: the first three columns (names) left-aligned, the numbers right-aligned."""
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for i, line in enumerate(table):
        print("  ".join(cell.rjust(w) if j >= 3 else cell.ljust(w) for j, (cell, w) in enumerate(zip(line, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def spread(values: Sequence[float], digits: int = 2) -> str:
    """The median, and the range when the values differ: "1.03 [0.98-1.10]"."""
    low, mid, high = min(values), statistics.median(values), max(values)
    text = f"{mid:.{digits}f}"
    return text if f"{low:.{digits}f}" == f"{high:.{digits}f}" else f"{text} [{low:.{digits}f}-{high:.{digits}f}]"


def print_machine() -> None:
    """When and where: a benchmark result means nothing without them."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}: {os.cpu_count()} x {cpu}, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at the start")


def print_floor(repeats: int) -> None:
    """What no push can go below on this machine: starting the interpreter, and starting the command
    (the interpreter plus importing it, with nothing pushed)."""
    floors = {
        "the interpreter's start (python -c pass)": [sys.executable, "-c", "pass"],
        "the command's start (python -m component --version)": [sys.executable, "-m", "component", "--version"],
    }
    for what, command in floors.items():
        print(f"floor: {what}: {spread([measure(command, {})[0] for _ in range(repeats)], 3)} s")


def print_passes(passes: list[list[Row]]) -> None:
    """Every row over the passes: the median of each pass's median, and their range."""
    if len(passes) < 2:
        return
    print(f"\nOver {len(passes)} passes: median [lowest-highest] of the passes' medians.\n")
    table = [["case", "to", "method", "s", "x baseline", "window s"]]
    for first in passes[0]:
        same = [r for rows in passes for r in rows if (r.case, r.to, r.method) == (first.case, first.to, first.method)]
        ratios = "  ".join(f"{spread([r.ratios[b] for r in same])} {b}" for b in first.ratios if b != first.method)
        windows = [r.window_s for r in same if r.window_s is not None]
        table.append([first.case, first.to, first.method, spread([r.seconds for r in same]), ratios,
                      spread(windows) if windows else "-"])
    print_aligned(table)
