"""Go back to an older version by republishing it as the newest one."""

import logging

from component.errors import InputError
from component.model import Model
from component.push.base import open_base
from component.push.destination import Destination
from component.push.outcome import Published
from component.push.publish import push
from component.push.versions import list_versions

log = logging.getLogger(__name__)


def rollback(destination: Destination, to_version: int | None) -> tuple[Model, Published]:
    """Republish an older version (default: the one before the newest) as the newest, through the
    same staged, atomic path as a push, so model servers that serve the newest switch back to it."""
    base = open_base(destination.base)
    complete = [v.version for v in list_versions(base) if v.complete]
    if len(complete) < 2 and to_version is None:
        raise InputError(f"rollback: {base.uri} has {len(complete)} complete version(s); nothing to roll back to")
    target = complete[-2] if to_version is None else to_version
    if target not in complete:
        raise InputError(
            f"rollback: version {target} is not a complete version at {base.uri} (complete: {', '.join(map(str, complete)) or 'none'})"
        )
    if target == complete[-1]:
        raise InputError(f"rollback: version {target} is already the newest version at {base.uri}")
    log.info("Rolling back %s to version %d: republishing it as a new version.", base.uri, target)
    source = base.version_model(target)
    return source, push(source, destination, reuse=False)
