"""Keep only the newest versions at a base, once the new one stands."""

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from component.errors import Interrupted, PusherError
from component.push.base import ServingBase, open_base
from component.push.outcome import AfterPublishError, Published
from component.push.versions import list_versions

log = logging.getLogger(__name__)


# The URIs (no trailing /) of versions something outside the base still reads: never deleted.
InUse = Callable[[], Collection[str]]


def retain_after(base: ServingBase, keep: int, published: Published, in_use: InUse = frozenset) -> Published:
    """Retention runs after the version stands: its failure is reported, never mistaken for a
    failed push; a stop request (SIGTERM) during it says the version was published."""
    try:
        return replace(published, removed=_retain(base, keep, published.version, in_use))
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


def retain_at(base_uri: str, keep: int, published: Published, in_use: InUse) -> Published:
    """retain_after, for a push that decides what to keep only once the version is registered."""
    return retain_after(open_base(base_uri), keep, published, in_use)


def _retain(base: ServingBase, keep: int, pushed: int, in_use: InUse) -> tuple[int, ...]:
    """Delete complete versions beyond the `keep` newest, and the remains of dead pushes; never the
    one just pushed, never one `in_use`, and never an incomplete one a live push may be filling
    right now."""
    infos = list_versions(base)
    complete = [i.version for i in reversed(infos) if i.complete or i.version == pushed]
    beyond = [v for v in complete[keep:] if v != pushed]
    used = {uri.rstrip("/") for uri in in_use()} if beyond else set()
    kept = [v for v in beyond if base.version_uri(v).rstrip("/") in used]
    doomed = [v for v in beyond if v not in kept]
    if kept:
        log.info("Retention (keep_versions=%d): keeping versions %s, which the Vertex AI registry model may still "
                 "read.", keep, ", ".join(map(str, kept)))
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
