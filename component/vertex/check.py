"""Ask Vertex AI, before anything is written, what it would otherwise refuse only after the push.

Reading the model and the endpoint is one round trip each, made at once: missing permissions, a
wrong region or project and a missing endpoint then fail the step with nothing published. What
only Vertex can answer (an endpoint in another project or region than the model, which the
`DeployedModel.model` docs allow) is asked here rather than refused on its text.
"""

import logging
import time
from typing import Any

from google.api_core import exceptions as api_exceptions

from component.errors import InputError, PublishError
from component.vertex.client import CALL_TIMEOUT, READ_RETRY, Clients, clients, in_threads, vertex_errors
from component.vertex.target import VertexTarget

log = logging.getLogger(__name__)


def ready_for_push(target: VertexTarget, written_by: str) -> Clients:
    """Vertex's clients, once Vertex said it knows the model (or may create it) and the endpoint:
    most of its refusals then come before anything is written. InputError when vertex_model or
    vertex_endpoint names nothing that can be used; PublishError (nothing published) when Vertex
    cannot be asked or refuses to answer."""
    _warn_if_newer_tensorflow(target, written_by)
    api = clients(target)
    # Both reads share one budget: each request may take only what is left of it.
    deadline = time.monotonic() + CALL_TIMEOUT
    tasks = [lambda: _check_model(api, target, deadline)]
    if target.endpoint_name:
        tasks.append(lambda: _check_endpoint(api, target, deadline))
    try:
        in_threads(tasks)
    except PublishError as exc:
        raise PublishError(f"{exc}; nothing was published") from None
    return api


def _warn_if_newer_tensorflow(target: VertexTarget, written_by: str) -> None:
    """A SavedModel written by a newer TensorFlow than the serving image runs may use ops that image
    does not know: Vertex then fails to serve it, long after the push. Worth a warning, not a refusal:
    most models load all the same."""
    serving = target.serving_tensorflow()
    model = _major_minor(written_by)
    if serving and model and model > serving:
        log.warning(
            "The model was written by TensorFlow %s, but the serving image %s runs TensorFlow %d.%d: "
            "Vertex AI may fail to load it (ops unknown to the older TensorFlow); vertex_serving_image "
            "chooses another image.", written_by, target.serving_image, *serving,
        )


def _within(deadline: float) -> dict[str, Any]:
    left = max(deadline - time.monotonic(), 1.0)
    return {"retry": READ_RETRY.with_timeout(left), "timeout": left}


def _check_model(api: Clients, target: VertexTarget, deadline: float) -> None:
    with vertex_errors(f"vertex_model: reading {target.model_name} before pushing", target):
        try:
            api.models.get_model(name=target.model_name, **_within(deadline))
        except api_exceptions.NotFound:
            if target.is_vertex_id:
                raise InputError(
                    f"vertex_model: there is no model {target.model_id} in {target.location}; a numeric ID is "
                    "one Vertex AI gave an existing model (a new model's ID starts with a letter or _)"
                ) from None
            log.info("Vertex AI: %s does not exist yet; the first push creates it.", target.model_name)


def _check_endpoint(api: Clients, target: VertexTarget, deadline: float) -> None:
    with vertex_errors(f"vertex_endpoint: reading {target.endpoint_name} before pushing", target):
        try:
            api.endpoints.get_endpoint(name=target.endpoint_name, **_within(deadline))
        except api_exceptions.NotFound:
            raise InputError(
                f"vertex_endpoint: there is no endpoint {target.endpoint_name}; create it first, or check its "
                "project and region"
            ) from None


def _major_minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None
