"""The push, start to end: check inputs, decide, publish, return what happened."""

import logging
from pathlib import Path

from .errors import InputError
from .gate import decide
from .local_store import copy_model
from .model import Model
from .model_source import find_model
from .progress import Progress
from .pusher import archive, push
from .record import Outcome
from .report import signature_line
from .request import PushRequest
from .stores import is_remote
from .validate import deep_check_with_tensorflow, inspect_model

log = logging.getLogger(__name__)


def run(request: PushRequest) -> Outcome:
    # Every input is checked before anything is decided or written, so a bad input fails loudly
    # even when the model would not have been pushed.
    # A model in the destination's own service is read through its API, so it is copied server-side.
    model = find_model(request.model, request.infra_blessing, request.destination.base)
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
        _deep_check(model, request.required_signatures)
    log.info("Pushing: %s.", decision.reason)
    if request.pushed_model is not None:
        archive(model, request.pushed_model)
    published = push(model, request.destination, reuse=not request.force_new_version, keep=request.keep_versions)
    return Outcome(True, decision.reason, model.root, decision.readings, published, summary)


def _deep_check(model: Model, required_signatures: tuple[str, ...]) -> None:
    if is_remote(model.root):
        import tempfile  # 1 ms at every start otherwise; only this check needs it

        # TensorFlow's own store access is not what the push uses (credentials, emulators): load a copy.
        with tempfile.TemporaryDirectory(prefix="model-pusher-deep-check-") as tmp:
            copy_model(model, Path(tmp), Progress(f"Downloading {model.root} for the deep check", len(model.files), model.total_bytes))
            deep_check_with_tensorflow(Path(tmp), required_signatures)
    else:
        deep_check_with_tensorflow(Path(model.root), required_signatures)
    log.info("TensorFlow loaded the model and found its required signatures.")


def _check_not_inside(model: Model, request: PushRequest) -> None:
    targets = [("push_destination", request.destination.base)]
    if request.pushed_model is not None:
        targets += [("pushed_model", request.pushed_model.uri), ("pushed_model", str(request.pushed_model.path))]
    root = _comparable(model.root)
    for name, location in targets:
        target = _comparable(location)
        if target == root or target.startswith(root + "/"):
            raise InputError(f"{name}: {location} is inside the model directory {model.root}; choose a location outside it")


def _comparable(location: str) -> str:
    return location.rstrip("/") if is_remote(location) else str(Path(location).resolve())
