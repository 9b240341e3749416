"""How the stores wait and retry: google.api_core's Retry (jittered exponential backoff, bounded in
time, a predicate for what is transient), with what every store needs on top:

- a stop request (SIGTERM, SIGINT) ends the retries of every thread at once;
- the waits between attempts are at most MAX_BACKOFF: a thread asleep cannot be woken, and
  Kubernetes kills a step 30 s after asking it to stop;
- no request waits longer than the retry budget, nor long enough to hold a stop up for more than
  seconds; once a stop was requested, the cleanup's requests wait only briefly (a store that stopped
  answering would otherwise hold the cleanup until the kill, and the next push cleans up anyway).
"""

import logging
from collections.abc import Callable

from google.api_core import retry as api_retry

from component.runtime import stopping

log = logging.getLogger(__name__)

MAX_BACKOFF = 4.0
# Seconds to connect; to wait for an answer, or for the socket to take one block of a body.
CONNECT_SECONDS, READ_SECONDS = 5.0, 10.0
STOPPING_SECONDS = 2.0


def timeouts(budget: float) -> tuple[float, float]:
    """(connect, read) timeouts of one request, for a store whose retry budget is `budget`."""
    if stopping.requested():
        return STOPPING_SECONDS, STOPPING_SECONDS
    return min(CONNECT_SECONDS, budget), min(READ_SECONDS, budget)


def bounded_retry(predicate: Callable[[Exception], bool], budget: float,
                  describe: Callable[[Exception], str]) -> api_retry.Retry:
    """Retry what `predicate` calls transient for at most `budget` seconds in all; each retry is
    logged as `describe(error)`."""

    def before_next_attempt(exc: Exception) -> None:
        stopping.check()
        log.info("%s; trying again.", describe(exc))

    return api_retry.Retry(predicate=predicate, initial=0.5, maximum=MAX_BACKOFF, multiplier=2.0, timeout=budget,
                           on_error=before_next_attempt)
