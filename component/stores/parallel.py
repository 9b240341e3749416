"""Run independent tasks on threads; the first failure cancels what has not started and is raised."""

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

# Tasks in flight. Each mostly waits on a store's latency or the disk, so many more threads than
# cores pays.
WORKERS = 32

T = TypeVar("T")


def in_parallel(tasks: Sequence[Callable[[], T]], workers: int = WORKERS) -> list[T]:
    """Run `tasks` on `workers` threads; the first failure cancels those not started and is raised."""
    if not tasks:
        return []
    with ThreadPoolExecutor(min(workers, len(tasks))) as pool:
        futures = [pool.submit(task) for task in tasks]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # a stop request: nothing more starts, what runs stops at its next block
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        failed = next((f for f in futures if f.done() and f.exception() is not None), None)
        if failed is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            raise failed.exception()  # type: ignore[misc]
        return [f.result() for f in futures]
