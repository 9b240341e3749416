"""Progress of a transfer: a bar on a terminal, a plain log line every few seconds in a pipeline."""

import logging
import sys
import threading
import time

from component.runtime import stopping

log = logging.getLogger(__name__)

MB = 1024 * 1024


def rate(nbytes: int, seconds: float) -> str:
    return f"{nbytes / MB / max(seconds, 1e-6):.1f} MB/s"


class Progress:
    """Thread-safe counters of files and bytes done; callers add to them as data moves."""

    def __init__(self, what: str, total_files: int, total_bytes: int, interval: float = 10.0) -> None:
        self.what = what
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.files = 0
        self.bytes = 0
        self.started = time.monotonic()
        self._interval = interval
        self._last_shown = self.started
        self._lock = threading.Lock()
        self._bar = sys.stderr.isatty()

    def add(self, nbytes: int = 0, files: int = 0) -> None:
        # Every transfer reports here a block at a time, so this is where a stop request (SIGTERM)
        # reaches the threads that move bytes.
        stopping.check()
        with self._lock:
            self.bytes += nbytes
            self.files += files
            now = time.monotonic()
            if now - self._last_shown >= (0.2 if self._bar else self._interval):
                self._last_shown = now
                self._show(now)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def done(self) -> None:
        if self._bar and self.seconds >= 0.2:
            self._show(time.monotonic())
            sys.stderr.write("\n")

    def _show(self, now: float) -> None:
        pct = 100.0 * self.bytes / self.total_bytes if self.total_bytes else 100.0
        text = (
            f"{self.what}: {self.files}/{self.total_files} files, {self.bytes / MB:.1f}/"
            f"{self.total_bytes / MB:.1f} MB ({pct:.0f}%), {rate(self.bytes, now - self.started)}"
        )
        if self._bar:
            filled = int(pct / 5)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (20 - filled)}] {text}")
            sys.stderr.flush()
        else:
            log.info("%s", text)


class RetriedTransfer:
    """What a transfer that may be retried reports to its Progress: an attempt starts again from 0
    (a stream) or sends a piece again (a part of a multipart upload), and the bytes already
    reported are not counted twice."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._reached: dict[object, int] = {}
        self._lock = threading.Lock()

    def reached(self, offset: int, piece: object = None) -> None:
        """`piece` (None for a whole stream) has now moved `offset` bytes in its current attempt."""
        with self._lock:
            new = offset - self._reached.get(piece, 0)
            if new <= 0:
                return
            self._reached[piece] = offset
        if self._progress is not None:
            self._progress.add(new)
