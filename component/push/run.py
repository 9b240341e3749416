"""The push, start to end: check inputs, decide, publish, return what happened."""

import logging
import os
from dataclasses import replace
from pathlib import Path

from component.errors import InputError, PublishError
from component.model import Model
from component.push.archive import archive
from component.push.gate import decide
from component.push.local_base import base_entries
from component.push.outcome import AfterPublishError, Outcome
from component.push.publish import push
from component.push.request import PushRequest
from component.runtime.progress import Progress
from component.savedmodel.inspect import deep_check_with_tensorflow, inspect_model, signature_line
from component.savedmodel.locate import find_model
from component.stores.local_files import copy_model
from component.stores.mounts import gcs_uri_of_mount
from component.stores.registry import is_remote
from component.vertex.target import VertexTarget

log = logging.getLogger(__name__)


def run(request: PushRequest) -> Outcome:
    # Every input is checked before anything is decided or written, so a bad input fails loudly
    # even when the model would not have been pushed.
    # A model in the destination's own service is read through its API, so it is copied server-side.
    model = find_model(request.model, request.infra_blessing, request.destination.base)
    log.info("Model to push: %s (from %s), %d files, %.1f MB.", model.root, model.origin, len(model.files), model.total_bytes / 1e6)
    _check_locations(model, request)
    decision = decide(request.model_blessing, request.infra_blessing)
    if not decision.push:
        log.warning("Not pushing: %s. Nothing was written to %s.", decision.reason, request.destination.base)
        return Outcome(False, decision.reason, model.root, decision.readings)
    summary = inspect_model(model, request.required_signatures)
    for signature in summary.signatures.values():
        log.info("Model signature %s", signature_line(signature))
    if request.deep_validation:
        _deep_check(model, request.required_signatures)
    log.info("Pushing: %s.", decision.reason)
    if request.pushed_model is not None:
        archive(model, request.pushed_model)
    published = push(model, request.destination, reuse=not request.force_new_version, keep=request.keep_versions)
    outcome = Outcome(True, decision.reason, model.root, decision.readings, published, summary)
    if request.vertex is not None:
        outcome = _on_vertex(request.vertex, outcome)
    return outcome


def _on_vertex(target: VertexTarget, outcome: Outcome) -> Outcome:
    """Register the published version (and deploy it when asked). A failure here leaves the version
    published: the error carries the outcome so far, for the record and the pipeline's outputs."""
    log.info("Registering version %d in the Vertex AI Model Registry as a version of %s.",
             outcome.published.version, target.model_name)
    # Only a push that registers loads the Vertex clients: they take seconds and much memory to load.
    from component.vertex.client import clients
    from component.vertex.deploy import deploy
    from component.vertex.registry import register

    published = outcome.published
    try:
        api = clients(target)
        outcome = replace(outcome, registration=register(api, target, published.uri, published.version))
        if target.endpoint_id:
            outcome = replace(outcome, registration=deploy(api, target, outcome.registration))
    except PublishError as exc:  # a stop (Interrupted) passes: it has its own exit code and line
        raise AfterPublishError(
            f"{exc}; version {published.version} WAS published at {published.uri} and stays published",
            outcome=outcome,
        ) from None
    return outcome


def _deep_check(model: Model, required_signatures: tuple[str, ...]) -> None:
    if is_remote(model.root):
        import tempfile  # only this check needs it; every start would load it otherwise

        # TensorFlow's own store access is not what the push uses (credentials, emulators): load a copy.
        with tempfile.TemporaryDirectory(prefix="model-pusher-deep-check-") as tmp:
            copy_model(model, Path(tmp), Progress(f"Downloading {model.root} for the deep check", len(model.files), model.total_bytes))
            deep_check_with_tensorflow(Path(tmp), required_signatures)
    else:
        deep_check_with_tensorflow(Path(model.root), required_signatures)
    log.info("TensorFlow loaded the model and found its required signatures.")


def _check_locations(model: Model, request: PushRequest) -> None:
    """Nothing this push writes may land in the model it reads, and the archive copy and the
    report may not land in the destination base (`--pushed-model base/1` would rewrite live
    version 1 in place), nor the base inside the archive copy."""
    base = request.destination.base
    outputs = [o for o in (request.pushed_model, *request.written_after) if o is not None]
    written = [(o.name, where) for o in outputs for where in (o.uri, str(o.path))]
    for name, location in [("push_destination", base), *written]:
        if _inside(location, model.root):
            raise InputError(f"{name}: {location} is inside the model directory {model.root}; choose a location outside it")
    for name, location in written:
        if _inside(location, base):
            raise InputError(f"{name}: {location} is inside the destination base {base}; choose a location outside it")
        if request.pushed_model is not None and name == request.pushed_model.name and _inside(base, location):
            raise InputError(f"push_destination: {base} is inside the {name} location {location}; choose a location outside it")
    if not is_remote(base):
        base_entries(Path(base))  # a base that is a file, or a symlink loop, is refused here


def _inside(location: str, root: str) -> bool:
    target, top = _comparable(location), _comparable(root)
    return target == top or target.startswith(top.rstrip("/") + "/")


def _comparable(location: str) -> str:
    # os.path.realpath, unlike Path.resolve, does not raise on a symlink loop.
    location = gcs_uri_of_mount(location) or location
    return location.rstrip("/") if is_remote(location) else os.path.realpath(location)
