"""A clean stop on SIGTERM (how Kubernetes and KFP stop a step, SIGKILL following after a grace
period of 30 s by default) and SIGINT: the main thread gets Interrupted, which unwinds through
each store's cleanup; transfer threads see the request at their next block (Progress.add) and
stop there, so the push is gone within seconds, leaving nothing that is not published. A push
still unwinding GIVE_UP_SECONDS after the request (a request whose answer trickles in never times
out) ends where it is, saying so: what it had written is then left for the next push to remove.

The moment a version becomes visible (a rename, or its saved_model.pb written) is `committing()`:
a stop request waits for it to finish, and `published_at` then says the version stands, so the
one-line error can never claim that nothing was published when something was.
"""

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from component.errors import Interrupted

# How long a stopped push may take to unwind before it ends where it is: a request whose answer
# trickles in never times out, and Kubernetes kills the step 30 s after SIGTERM by default.
GIVE_UP_SECONDS = 15.0
# Then a version being made visible gets this long more to finish, so that its line can say it stands.
COMMIT_SECONDS = 10.0

_requested = threading.Event()
_recorded = threading.Event()
_said: list[int] = []  # the command's last line is out, with this exit code: the deadline adds none
_signal: list[tuple[int, str]] = []
_committing: list[str] = []  # the version being made visible right now
published_at: list[str] = []  # the version made visible by this process, once it is
left_behind: list[str] = []  # where a stopped push could not remove what it had written


def install() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _on_signal)


def finished() -> None:
    """The command's outcome is recorded: a stop request from now on changes nothing, so a push
    that was published and recorded never ends as one killed by a signal."""
    _recorded.set()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)


def said(exit_code: int) -> None:
    """The command's error line is out: should the stop's deadline still find the process running
    (threads waiting on requests), it ends it with this exit code and says nothing more."""
    _said.append(exit_code)


def stopped_line(exc: Interrupted) -> str:
    """The one error line of a stopped command: what stands, and what is left."""
    if published_at:
        return (f"version {published_at[-1]} was published; then the step was stopped by {exc.signal_name} before "
                "it finished (it may not be recorded)")
    if left_behind:
        return (f"stopped by {exc.signal_name}: nothing was published; what this push had written in "
                f"{', '.join(left_behind)} is left, and the next push there removes it")
    return str(exc)


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
    _committing.append(uri)
    try:
        yield
        published_at.append(uri)
    finally:
        _committing.remove(uri)
    check()


def _on_signal(signum: int, frame: object) -> None:
    if _requested.is_set():
        return  # already stopping: let the cleanup finish (SIGKILL is the backstop)
    _signal.append((signum, signal.Signals(signum).name))
    _requested.set()
    threading.Thread(target=_end_if_still_running, name="stop deadline", daemon=True).start()
    if not _committing:
        raise Interrupted(*_signal[0])


def _end_if_still_running() -> None:
    """End the process GIVE_UP_SECONDS after a stop request if it is still unwinding (a thread
    waiting on a request that never ends would keep it alive until Kubernetes kills it, with no
    word said); a version being made visible gets COMMIT_SECONDS more to finish, and a recorded
    outcome stands."""
    time.sleep(GIVE_UP_SECONDS)
    deadline = time.monotonic() + COMMIT_SECONDS
    while _committing and time.monotonic() < deadline:
        time.sleep(0.1)
    if _recorded.is_set():
        return
    exc = Interrupted(*_signal[0])
    if _said:
        os._exit(_said[-1])
    unfinished = list(_committing)  # another thread may finish it meanwhile
    if unfinished:
        line = (f"stopped by {exc.signal_name} while {unfinished[-1]} was being made visible, and a request still in "
                f"flight {GIVE_UP_SECONDS + COMMIT_SECONDS:.0f} s after the stop was abandoned: that version may or "
                "may not be published (list the base to see)")
    elif published_at:
        line = stopped_line(exc)
    else:
        line = (f"stopped by {exc.signal_name}: nothing was published; a request still in flight "
                f"{GIVE_UP_SECONDS:.0f} s after the stop was abandoned, so what this push had written may be left, "
                "and the next push there removes it")
    logging.getLogger("component").error("%s", line)
    os._exit(exc.exit_code)
