"""`make bench`: push the benchmark models to the GCS emulator, to a local directory and to moto's
S3 server (bench/s3_rows.py), next to what users would do otherwise, in the same run, and print the
tables.

Every measurement is its own process, timed from start to exit, its peak RSS read from wait4: the
push and the baselines pay the same interpreter start. Each GCS or S3 measurement gets a fresh
emulator (they keep objects in memory, and slow down as they fill); each local one an empty
directory, after a sync, so nobody pays for the previous run's writes. The median of REPEATS runs
is shown. The whole set runs PASSES times (`--passes N`), and a last table gives each row's median
and range over the passes, under the date, the machine and its floor (starting the interpreter),
so that a number can be compared with another run of another day.
"""

import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import network, s3_rows
from bench.measure import (
    REPO, Row, measure, measure_costs, print_aligned, print_floor, print_machine, print_passes, row, with_ratios,
)
from tests.support.gcs_emulator import Emulator

REPEATS = 5
PASSES = 3
BUCKET = "bench"
MiB = 1024 * 1024
PY = sys.executable
TARGETS = (  # (case, what, baseline, at least) from the GCS issue; local ones from issue 11
    ("a", "GCS", "sequential", 1.6),
    ("a", "GCS", "transfer_manager", 0.9),
    ("a", "local", "cp -r && sync", 1.0),
    ("b", "local", "cp -r && sync", 1.0),
)
RSS_LIMIT_MB = 250


def main(argv: list[str]) -> None:
    """`argv`: any of "gcs", "local", "network" (the GCS rows through bench/netline.py), "s3" (default
    all), and `--passes N`."""
    passes = PASSES
    if "--passes" in argv:
        at = argv.index("--passes")
        passes, argv = int(argv[at + 1]), argv[:at] + argv[at + 2:]
    parts = argv or ["gcs", "local", "network", "s3"]
    print_machine()
    work = Path(tempfile.mkdtemp(prefix="model-pusher-bench-"))
    try:
        # An installed package has its bytecode compiled (pip does it); this checkout may not, and
        # with PYTHONDONTWRITEBYTECODE set every push would compile the package first (17 ms).
        subprocess.run([PY, "-m", "compileall", "-q", str(REPO / "component")], check=True)
        print_floor(REPEATS)
        print(f"Building the benchmark models in {work} ...", file=sys.stderr)
        subprocess.run([PY, str(REPO / "bench" / "models.py"), str(work)], check=True)
        results = []
        for number in range(1, passes + 1):
            print(f"\n=== pass {number} of {passes}")
            results.append(one_pass(parts, work))
        print_passes(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def one_pass(parts: list[str], work: Path) -> list[Row]:
    """Every row of `parts` once, each the median of its runs; prints their tables and targets."""
    cases = {"a": (work / "a", "300 x 1 MiB shards + 23 small files"), "b": (work / "b", "one 500 MiB shard")}
    rows: list[Row] = []
    for case, (model, _) in cases.items():
        rows += gcs_rows(case, model) if "gcs" in parts else []
        rows += local_rows(case, model, work / "serving") if "local" in parts else []
    if "gcs" in parts:
        # Peak RSS must not grow with the model: the same push with half the bytes, once.
        rows.append(gcs_row("b/2", "push", work / "b-half", repeats=1))
    if rows:
        print_table(rows, cases)
        print_targets(rows)
    if "network" in parts:
        slow, logged = network.rows({case: work / case for case in "acde"})
        network.print_table(slow)
        network.print_round_trips("c", logged, network.RTT_MS)
        print()
        network.print_targets(slow)
        rows += slow
    if "s3" in parts:
        s3, logs = s3_rows.rows({case: work / case for case in ("a", "b", "b-half", "c", "e", "f")})
        s3_rows.print_table(s3)
        s3_rows.print_round_trips(logs)
        print()
        s3_rows.print_targets(s3)
        rows += s3
    return rows


def gcs_rows(case: str, model: Path) -> list[Row]:
    rows = [gcs_row(case, method, model) for method in ("push", "sequential", "transfer_manager")]
    return with_ratios(rows, ("sequential", "transfer_manager"))


def gcs_row(case: str, method: str, model: Path, repeats: int = REPEATS) -> Row:
    def command(_: int) -> list[str]:
        if method == "push":
            return [PY, "-m", "component", "--model", str(model), "--push-destination", f"gs://{BUCKET}/model",
                    "--versioning", "SEQUENTIAL"]
        return [PY, str(REPO / "bench" / "baselines.py"), method, str(model), BUCKET, "model/1"]

    runs, costs = [], {}
    for i in range(repeats):
        with Emulator() as emulator:
            emulator.create_bucket(BUCKET)
            env = {"STORAGE_EMULATOR_HOST": emulator.url}
            runs.append(measure(command(i), env))
            if method == "push" and not costs:
                costs = measure_costs(model, f"gs://{BUCKET}/model", env)
    return row(case, "GCS", method, model, runs, costs)


def local_rows(case: str, model: Path, serving: Path) -> list[Row]:
    commands: dict[str, Callable[[], list[str]]] = {
        "push": lambda: [PY, "-m", "component", "--model", str(model), "--push-destination", str(serving),
                         "--versioning", "SEQUENTIAL"],
        "cp -r": lambda: ["cp", "-r", str(model), str(serving / "1")],
        # The same durability as the push, which flushes every file before the version appears.
        "cp -r && sync": lambda: ["sh", "-c", 'cp -r "$0" "$1" && sync', str(model), str(serving / "1")],
    }
    # Taken in turns, so a disk that others keep busy for a while slows every method alike.
    runs: dict[str, list[tuple[float, float]]] = {method: [] for method in commands}
    costs: dict[str, float] = {}
    for _ in range(REPEATS):
        for method, command in commands.items():
            shutil.rmtree(serving, ignore_errors=True)
            serving.mkdir(parents=True)
            runs[method].append(measure(command(), {}))
            if method == "push" and not costs:
                costs = measure_costs(model, str(serving), {})
    shutil.rmtree(serving, ignore_errors=True)
    rows = [row(case, "local", method, model, runs[method], costs if method == "push" else None) for method in commands]
    return with_ratios(rows, ("cp -r", "cp -r && sync"))


COLUMNS = ("case", "to", "method", "s", "MiB/s", "x sequential", "x transfer_mgr", "x cp -r", "x cp+sync",
           "peak RSS MB", "validate ms", "re-push ms")


def cells(r: Row) -> list[str]:
    def ratio(baseline: str) -> str:
        return f"{r.ratios[baseline]:.2f}" if baseline in r.ratios else ""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    return [r.case, r.to, r.method, f"{r.seconds:.2f}", f"{r.model_bytes / MiB / r.seconds:.0f}",
            ratio("sequential"), ratio("transfer_manager"), ratio("cp -r"), ratio("cp -r && sync"),
            f"{r.peak_rss_mb:.0f}", ms(r.validate_ms), ms(r.repush_ms)]


def print_table(rows: list[Row], cases: dict[str, tuple[Path, str]]) -> None:
    table = [list(COLUMNS)] + [cells(r) for r in rows]
    print()
    for case, (_, what) in cases.items():
        print(f"({case}) {what}")
    print("(b/2) the (b) push with a 250 MiB shard: peak RSS must not grow with the model")
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Median of {REPEATS} runs, each a whole process; x <baseline> = baseline seconds / these seconds;")
    print(f"peak RSS includes the {floor:.0f} MB every child inherits from this runner.\n")
    print_aligned(table)


def print_targets(rows: list[Row]) -> None:
    print()
    push = {(r.case, r.to): r for r in rows if r.method == "push"}
    for case, to, baseline, least in TARGETS:
        if (case, to) not in push:
            continue  # that part was not run
        got = push[case, to].ratios[baseline]
        print(f"{'ok  ' if got >= least else 'MISS'} ({case}) {to} push: {got:.2f}x {baseline} (target >= {least}x)")
    for case in ("b", "b/2") if ("b", "GCS") in push else ():
        rss = push[case, "GCS"].peak_rss_mb
        print(f"{'ok  ' if rss < RSS_LIMIT_MB else 'MISS'} ({case}) GCS push: peak RSS {rss:.0f} MB (target < {RSS_LIMIT_MB} MB)")


if __name__ == "__main__":
    main(sys.argv[1:])
