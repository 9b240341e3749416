"""A clean stop on SIGTERM (how Kubernetes and KFP stop a step, SIGKILL following after a grace
period of 30 s by default) and SIGINT: the main thread gets Interrupted, which unwinds through
each store's cleanup; transfer threads see the request at their next block (Progress.add) and
stop there, so the push is gone within seconds, leaving nothing that is not published.

The moment a version becomes visible (a rename, or its saved_model.pb written) is `committing()`:
a stop request waits for it to finish, and `published_at` then says the version stands, so the
one-line error can never claim that nothing was published when something was.
"""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from component.errors import Interrupted

_requested = threading.Event()
_signal: list[tuple[int, str]] = []
_committing = 0
published_at: list[str] = []  # the version made visible by this process, once it is


def install() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _on_signal)


def finished() -> None:
    """The command's outcome is recorded: a stop request from now on changes nothing, so a push
    that was published and recorded never ends as one killed by a signal."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)


def requested() -> bool:
    return _requested.is_set()


def check() -> None:
    """Raise Interrupted in whichever thread asks, once a stop was requested (not while a version
    is being made visible: that finishes first)."""
    if _requested.is_set() and not _committing:
        raise Interrupted(*_signal[0])


@contextmanager
def committing(uri: str) -> Iterator[None]:
    """Make `uri` visible inside this block; a stop request waits until it is done and noted."""
    global _committing
    _committing += 1
    try:
        yield
        published_at.append(uri)
    finally:
        _committing -= 1
    check()


def _on_signal(signum: int, frame: object) -> None:
    if _requested.is_set():
        return  # already stopping: let the cleanup finish (SIGKILL is the backstop)
    _signal.append((signum, signal.Signals(signum).name))
    _requested.set()
    if not _committing:
        raise Interrupted(*_signal[0])
