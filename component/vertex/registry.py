"""Register a published version in the Vertex AI Model Registry.

The version directory itself (gs://.../<version>, with saved_model.pb at its top) becomes a new
version of the registry model; the first push creates the model with that ID. One directory is
registered once: before uploading, the step waits for the model's unfinished uploads (an earlier
attempt of this step may have given up on one, or died, while it kept running), then looks for a
version whose artifact_uri is this directory and reuses it. The new version takes `default`
(unless vertex_default_version is false), as the Vertex SDK's upload does.
"""

import logging
from datetime import datetime, timedelta, timezone

from google.api_core import exceptions as api_exceptions
from google.cloud.aiplatform_v1 import types
from google.protobuf import field_mask_pb2

from component.vertex.client import (
    CALL_TIMEOUT, READ_RETRY, Clients, operation_seconds, vertex_errors, wait, wait_for_earlier,
)
from component.vertex.target import Registration, VertexTarget

log = logging.getLogger(__name__)


def register(api: Clients, target: VertexTarget, version_uri: str, version: int) -> Registration:
    """Register `version_uri` as a version of target's model (or find it registered) with its aliases."""
    with vertex_errors(f"vertex_model: registering {version_uri} as a version of {target.model_name}", target):
        parent, found = _find(api, target, version_uri)
        if found is None:
            try:
                version_id = _upload(api, target, parent, version_uri, version)
            except api_exceptions.Conflict:  # ALREADY_EXISTS: REST answers 409, the base class
                # The model was created meanwhile: by another push, or by an earlier attempt of this
                # step whose upload of this very directory may still be running.
                parent, found = _find(api, target, version_uri)
                version_id = found.version_id if found is not None else _upload(api, target, parent, version_uri, version)
        if found is not None:
            version_id = found.version_id
            log.info(
                "Vertex AI: version %s of %s already registers %s (made by an earlier attempt): reusing it.",
                version_id, target.model_name, version_uri,
            )
            _apply_changes(api, target, found)
        aliases = _apply_aliases(api, target, version_id)
    return Registration(f"{target.model_name}@{version_id}", version_id, found is not None, aliases)


def versions_in_use(api: Clients, target: VertexTarget) -> set[str]:
    """The artifact_uris (without a trailing /) of vertex_model's versions in its region that are
    deployed anywhere, deployed on vertex_endpoint, hold an alias, or were created less than one
    operation bound ago: Vertex may read them again (a redeploy, a rollback, a replica restarting),
    and a version that new may be in the middle of its own push's DeployModel, which the registry
    does not show yet. Other models, and this model ID in other regions, are not asked."""
    with vertex_errors(f"keep_versions: reading which versions of {target.model_name} Vertex AI uses", target):
        versions = list(api.models.list_model_versions(name=target.model_name, retry=READ_RETRY, timeout=CALL_TIMEOUT))
        on_endpoint: set[str] = set()
        if target.endpoint_name:
            endpoint = api.endpoints.get_endpoint(name=target.endpoint_name, retry=READ_RETRY, timeout=CALL_TIMEOUT)
            on_endpoint = {d.model_version_id for d in endpoint.deployed_models
                           if d.model.partition("@")[0].split("/")[-1] == target.model_id}
    recent = datetime.now(timezone.utc) - timedelta(seconds=operation_seconds())
    used = {v.artifact_uri.rstrip("/") for v in versions
            if v.deployed_models or v.version_aliases or v.version_id in on_endpoint or _created(v) > recent}
    log.info("Retention keeps the directories of the registry versions of %s that are deployed, hold an alias "
             "or were created in the last %.0f s; other registry models, and this model in other regions, are not "
             "asked (feed one registry model from one base).", target.model_name, operation_seconds())
    return used


def _created(version: types.Model) -> datetime:
    # A version the service shows without its creation time counts as new: kept rather than lost.
    when = version.version_create_time or version.create_time
    return when if when else datetime.now(timezone.utc)


def _find(api: Clients, target: VertexTarget, version_uri: str) -> tuple[types.Model | None, types.Model | None]:
    """(the model or None, its version registering `version_uri` or None), once no upload to the
    model is running: a version may not be listed, or not be usable, before its upload finished."""
    wait_for_earlier(api.models, target.model_name, "UploadModel")
    parent = _existing_model(api, target)
    return parent, (_version_of(api, target, version_uri) if parent is not None else None)


def _existing_model(api: Clients, target: VertexTarget) -> types.Model | None:
    try:
        return api.models.get_model(name=target.model_name, retry=READ_RETRY, timeout=CALL_TIMEOUT)
    except api_exceptions.NotFound:
        return None


def _version_of(api: Clients, target: VertexTarget, version_uri: str) -> types.Model | None:
    """The registry version made from `version_uri` (by an earlier attempt of this step), if any."""
    pager = api.models.list_model_versions(name=target.model_name, retry=READ_RETRY, timeout=CALL_TIMEOUT)
    return next((v for v in pager if v.artifact_uri.rstrip("/") == version_uri.rstrip("/")), None)


def _upload(api: Clients, target: VertexTarget, parent: types.Model | None, version_uri: str, version: int) -> str:
    model = types.Model(
        # A new version keeps its model's name in the console; a new model is named by its ID.
        display_name=parent.display_name if parent is not None else target.model_id,
        artifact_uri=version_uri,
        container_spec=types.ModelContainerSpec(image_uri=target.serving_image),
        labels=dict(target.labels),
        version_description=f"Version {version} pushed by kfp-model-pusher to {version_uri}",
    )
    if parent is None:
        log.info("Vertex AI: creating model %s with %s as its first version.", target.model_name, version_uri)
        request = types.UploadModelRequest(parent=target.location, model_id=target.model_id, model=model)
    else:
        log.info("Vertex AI: uploading %s as a new version of %s.", version_uri, target.model_name)
        request = types.UploadModelRequest(parent=target.location, parent_model=target.model_name, model=model)
    operation = api.models.upload_model(request=request, timeout=CALL_TIMEOUT)
    response = wait(operation, f"uploading {version_uri} to the Model Registry")
    log.info("Vertex AI: registered %s as version %s of %s.", version_uri, response.model_version_id, target.model_name)
    return response.model_version_id


def _apply_changes(api: Clients, target: VertexTarget, version: types.Model) -> None:
    """A re-run asks for what it asks now: labels can change on a registered version; its serving
    image cannot, so a different one is a warning, not silence."""
    if any(version.labels.get(k) != v for k, v in target.labels.items()):
        log.info("Vertex AI: setting the labels of version %s of %s to %s.", version.version_id, target.model_name,
                 ", ".join(f"{k}={v}" for k, v in target.labels.items()))
        api.models.update_model(
            model=types.Model(name=f"{target.model_name}@{version.version_id}", labels=dict(target.labels)),
            update_mask=field_mask_pb2.FieldMask(paths=["labels"]), timeout=CALL_TIMEOUT,
        )
    if version.container_spec.image_uri != target.serving_image:
        log.warning(
            "vertex_serving_image: version %s of %s runs %s, and a registered version's serving image cannot "
            "change, so %s is not used; publish a new version with force_new_version=true.",
            version.version_id, target.model_name, version.container_spec.image_uri, target.serving_image,
        )


def _apply_aliases(api: Clients, target: VertexTarget, version_id: str) -> tuple[str, ...]:
    """Give the version its aliases, `default` included unless told not to (Vertex moves each from
    the version that held it); returns all the aliases the version has afterwards."""
    if not target.wanted_aliases:
        return _aliases_now(api, target, version_id)
    merged = api.models.merge_version_aliases(
        name=f"{target.model_name}@{version_id}", version_aliases=list(target.wanted_aliases),
        retry=READ_RETRY, timeout=CALL_TIMEOUT,
    )
    log.info("Vertex AI: version %s now has aliases %s.", version_id, ", ".join(merged.version_aliases))
    return tuple(merged.version_aliases)


def _aliases_now(api: Clients, target: VertexTarget, version_id: str) -> tuple[str, ...]:
    model = api.models.get_model(name=f"{target.model_name}@{version_id}", retry=READ_RETRY, timeout=CALL_TIMEOUT)
    return tuple(model.version_aliases)
