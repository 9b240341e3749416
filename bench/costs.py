"""The per-push costs the beyond-TFX issue adds, in ms (median of 5): validating the model without
TensorFlow, and the re-push check that finds the model already published at `base`.

Run by bench/run.py in its own process right after a push, so the check meets a real version.
Prints one JSON object.
"""

import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from component.push.base import open_base as open_store
from component.push.reuse import find_reusable
from component.savedmodel.inspect import inspect_model
from component.stores.trees import local_model


def median_ms(work: Callable[[], object], repeats: int = 5) -> float:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main(model_dir: str, base: str) -> None:
    logging.disable(logging.INFO)  # the re-push check says what it found on every call
    model = local_model(Path(model_dir), "model", "the benchmark model")
    store = open_store(base)

    def repush_check() -> None:
        if find_reusable(store, model, store.versions()) is None:
            sys.exit(f"the re-push check did not find the model at {base}")

    print(json.dumps({"validate_ms": median_ms(lambda: inspect_model(model)), "repush_ms": median_ms(repush_check)}))


if __name__ == "__main__":
    main(*sys.argv[1:])
