"""The push, start to end: check inputs, decide, publish, return what happened."""

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from component.artifacts import OutputArtifact
from component.errors import InputError, Interrupted, PublishError
from component.model import NAME_MAX, PATH_MAX, Model, check_fits_on_disk, long_component
from component.push.gate import decide
from component.push.local_base import base_entries
from component.push.outcome import AfterPublishError, Outcome
from component.push.publish import push
from component.push.request import PushRequest
from component.push.retention import retain_at
from component.push.rollback_note import NOTE, without_note
from component.push.versioning import STAGING_NAME_MAX
from component.savedmodel.inspect import deep_check, inspect_model, signature_line
from component.savedmodel.locate import find_model
from component.stores.archive import archive, take_back
from component.stores.mounts import within
from component.stores.registry import is_remote
from component.vertex.target import VertexTarget

if TYPE_CHECKING:
    from component.vertex.client import Clients

log = logging.getLogger(__name__)


def run(request: PushRequest) -> Outcome:
    # Every input is checked before anything is decided or written, so a bad input fails loudly
    # even when the model would not have been pushed.
    # A model in the destination's own service is read through its API, so it is copied server-side.
    model = find_model(request.model, request.infra_blessing, request.destination.base)
    if without_note(model) != model:
        # A rollback copy pushed as a model: its note speaks of versions of the base it came from.
        # What a push publishes is a push, so the note stays behind.
        log.info("The model holds a rollback note (%s) from where it was copied; it is not pushed with it.", NOTE)
        model = without_note(model)
    log.info("Model to push: %s (from %s), %d files, %.2f MB.", model.root, model.origin, len(model.files), model.total_bytes / 1e6)
    _check_locations(model, request)
    decision = decide(request.model_blessing, request.infra_blessing)
    if not decision.push:
        log.warning("Not pushing: %s. Nothing was written to %s.", decision.reason, request.destination.base)
        return Outcome(False, decision.reason, model.root, decision.readings)
    summary = inspect_model(model, request.required_signatures)
    for signature in summary.signatures.values():
        log.info("Model signature %s", signature_line(signature))
    if request.deep_validation:
        deep_check(model, request.required_signatures)
    api = None
    if request.vertex is not None:
        # Only a push that registers loads the Vertex clients (0.6-1.5 s and 100 MB).
        from component.vertex.check import ready_for_push

        api = ready_for_push(request.vertex, summary.tensorflow_version)
    log.info("Pushing: %s.", decision.reason)
    pushed_model = request.pushed_model
    # With Vertex, retention waits until the registry says which versions it still uses.
    keep_now = request.keep_versions if request.vertex is None else 0
    archived: list[OutputArtifact] = []

    def archive_first() -> None:
        if pushed_model is not None:
            archive(model, pushed_model)
            archived.append(pushed_model)

    try:
        published = push(model, request.destination, reuse=not request.force_new_version, keep=keep_now,
                         before_writing=archive_first)
    except (Interrupted, PublishError):  # nothing published: neither is the archive copy kept
        for target in archived:
            take_back(model, target)
        raise
    outcome = Outcome(True, decision.reason, model.root, decision.readings, published, summary)
    if request.vertex is not None:
        outcome = _on_vertex(request.vertex, api, outcome)
        if request.keep_versions:
            from component.vertex.registry import versions_in_use

            kept = retain_at(request.destination.base, request.keep_versions, outcome.published,
                             lambda: versions_in_use(api, request.vertex))
            outcome = replace(outcome, published=kept)
    return outcome


def _on_vertex(target: VertexTarget, api: "Clients", outcome: Outcome) -> Outcome:
    """Register the published version (and deploy it when asked). A failure here leaves the version
    published: the error carries the outcome so far, for the record and the pipeline's outputs."""
    from component.vertex.deploy import deploy
    from component.vertex.registry import register

    log.info("Registering version %d in the Vertex AI Model Registry as a version of %s.",
             outcome.published.version, target.model_name)
    published = outcome.published
    try:
        outcome = replace(outcome, registration=register(api, target, published.uri, published.version))
        if target.endpoint_name:
            outcome = replace(outcome, registration=deploy(api, target, outcome.registration))
    except PublishError as exc:
        raise AfterPublishError(
            f"{exc}; version {published.version} WAS published at {published.uri} and stays published",
            outcome=outcome,
        ) from None
    except Interrupted as exc:  # a reused version was not published by this process: say it stands
        raise AfterPublishError(
            f"stopped by {exc.signal_name} while registering or deploying it in Vertex AI; version {published.version} WAS "
            f"published at {published.uri} and stays published", exc.exit_code, outcome=outcome,
        ) from None
    return outcome


def _check_locations(model: Model, request: PushRequest) -> None:
    """Nothing this push writes may land in the model it reads, and the archive copy and the
    report may not land in the destination base (`--pushed-model base/1` would rewrite live
    version 1 in place), nor the base inside the archive copy."""
    base = request.destination.base
    outputs = [o for o in (request.pushed_model, *request.written_after) if o is not None]
    written = [(o.name, where) for o in outputs for where in (o.uri, str(o.path))]
    for name, location in [("push_destination", base), *written]:
        if within(location, model.root):
            raise InputError(f"{name}: {location} is inside the model directory {model.root}; choose a location outside it")
    for name, location in written:
        if within(location, base):
            raise InputError(f"{name}: {location} is inside the destination base {base}; choose a location outside it")
        if request.pushed_model is not None and name == request.pushed_model.name:
            # The archive copy empties its location first: it may hold neither the base nor the model.
            if within(base, location):
                raise InputError(f"push_destination: {base} is inside the {name} location {location}; choose a location "
                                 "outside it")
            if within(model.root, location):
                raise InputError(f"{name}: {location} holds the model directory {model.root}, and the archive copy "
                                 "empties its location first; choose a location outside the model")
    for name, location in [("push_destination", base), *written]:
        part = None if is_remote(location) else long_component(location)
        if part is not None:
            raise InputError(f"{name}: {location[:80]!r}... has a name of {len(os.fsencode(part))} bytes; a file system "
                             f"allows {NAME_MAX}")
    longest = max((len(os.fsencode(f.rel)) for f in model.files), default=0)
    copies = [("push_destination", base)] + [(o.name, str(o.path)) for o in (request.pushed_model,) if o is not None]
    for name, location in copies:
        # Files land one level deeper than the location (a hidden staging directory), and the
        # whole path must fit in PATH_MAX, not only each of its names.
        deepest = len(os.fsencode(os.path.abspath(location))) + 1 + STAGING_NAME_MAX + 1 + longest
        if not is_remote(location) and deepest >= PATH_MAX:
            raise InputError(f"{name}: {location[:80]!r}... is too deep for this model: its files would get paths of "
                             f"{deepest} bytes, and a file system allows {PATH_MAX - 1}; choose a shorter location")
    local_copy = not is_remote(base) or request.pushed_model is not None or request.deep_validation
    if is_remote(model.root) and local_copy:
        check_fits_on_disk(model, "model")
    if not is_remote(base):
        base_entries(Path(base))  # a base that is a file, or a symlink loop, is refused here
