"""The push, start to end: check inputs, decide, publish, return what happened."""

import logging
from pathlib import Path

from .errors import InputError
from .gate import decide
from .model_source import Model, find_model
from .pusher import archive, push
from .record import Outcome
from .report import signature_line
from .request import PushRequest
from .validate import deep_check_with_tensorflow, inspect_model

log = logging.getLogger(__name__)


def run(request: PushRequest) -> Outcome:
    # Every input is checked before anything is decided or written, so a bad input fails loudly
    # even when the model would not have been pushed.
    # Pushing to GCS, a model that is in GCS too is read through the API, so it is copied server-side.
    model = find_model(request.model, request.infra_blessing, prefer_gcs=request.destination.base.startswith("gs://"))
    log.info("Model to push: %s (from %s), %d files, %.1f MB.", model.root, model.origin, len(model.files), model.total_bytes / 1e6)
    _check_not_inside(model, request)
    decision = decide(request.model_blessing, request.infra_blessing)
    if not decision.push:
        log.warning("Not pushing: %s. Nothing was written to %s.", decision.reason, request.destination.base)
        return Outcome(False, decision.reason, model.root, decision.readings)
    summary = inspect_model(model, request.required_signatures)
    for signature in summary.signatures.values():
        log.info("Model signature %s", signature_line(signature))
    if request.deep_validation:
        deep_check_with_tensorflow(Path(model.root), request.required_signatures)
        log.info("TensorFlow loaded the model and found its required signatures.")
    log.info("Pushing: %s.", decision.reason)
    if request.pushed_model is not None:
        archive(model, request.pushed_model)
    published = push(model, request.destination, reuse=not request.force_new_version, keep=request.keep_versions)
    return Outcome(True, decision.reason, model.root, decision.readings, published, summary)


def _check_not_inside(model: Model, request: PushRequest) -> None:
    if request.destination.base.startswith("gs://") or model.root.startswith("gs://"):
        return
    root = Path(model.root).resolve()
    targets = {"push_destination": Path(request.destination.base)}
    if request.pushed_model is not None:
        targets["pushed_model"] = request.pushed_model.path
    for name, path in targets.items():
        resolved = path.resolve()
        if resolved == root or root in resolved.parents:
            raise InputError(f"{name}: {path} is inside the model directory {root}; choose a location outside it")
