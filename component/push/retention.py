"""Keep only the newest versions at a base, once the new one stands."""

import logging
from collections.abc import Sequence
from dataclasses import replace

from component.errors import Interrupted, PusherError
from component.push.base import ServingBase
from component.push.outcome import AfterPublishError, Published
from component.push.versions import list_versions

log = logging.getLogger(__name__)


def retain_after(base: ServingBase, keep: int, published: Published) -> Published:
    """Retention runs after the version stands: its failure is reported, never mistaken for a
    failed push; a stop request (SIGTERM) during it says the version was published."""
    try:
        return replace(published, removed=_retain(base, keep, published.version))
    except Interrupted as exc:
        raise AfterPublishError(
            f"version {published.version} was published at {published.uri}; then the step was stopped by "
            f"{exc.signal_name} during retention (older versions may remain)", exc.exit_code,
        ) from None
    except (PusherError, OSError) as exc:
        log.warning("Version %d was published at %s, but retention (keep_versions=%d) failed: %s",
                    published.version, published.uri, keep, exc)
        return replace(published, retention_error=str(exc))


def versions_text(versions: Sequence[int]) -> str:
    """"version 3" or "versions 3, 2", as a sentence needs it."""
    return ("version " if len(versions) == 1 else "versions ") + ", ".join(map(str, versions))


def _retain(base: ServingBase, keep: int, pushed: int) -> tuple[int, ...]:
    """Delete complete versions beyond the `keep` newest, and the remains of dead pushes; never the
    one just pushed, and never an incomplete one a live push may be filling right now."""
    infos = list_versions(base)
    complete = [i.version for i in reversed(infos) if i.complete or i.version == pushed]
    doomed = [v for v in complete[keep:] if v != pushed]
    remains = [i.version for i in infos
               if not i.complete and i.version != pushed and base.abandoned(i.version, i.modified)]
    for version in doomed + remains:
        base.delete_version(version)
    if doomed:
        log.info("Retention (keep_versions=%d): removed %s from %s.", keep, versions_text(doomed), base.uri)
    if remains:
        log.info("Removed incomplete %s from %s: remains of pushes that died, untouched for a lease "
                 "period.", versions_text(remains), base.uri)
    return tuple(sorted(doomed + remains, reverse=True))
