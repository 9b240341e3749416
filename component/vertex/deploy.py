"""Deploy a registered version to a Vertex AI endpoint with its share of the traffic, once.

A retried step waits for the endpoint's unfinished deployments (an earlier attempt may have given
up on one, or died, while it kept running), then finds the version deployed and does not deploy it
again. A version already deployed gets the share asked now (a re-run promoting a canary), by
updating the endpoint's traffic split as the Vertex SDK's Endpoint.update does. With
vertex_undeploy_previous, this model's other versions that are left with no traffic are removed
from the endpoint afterwards.
"""

import logging
from collections.abc import Mapping

from google.cloud.aiplatform_v1 import types
from google.protobuf import field_mask_pb2

from component.vertex.client import CALL_TIMEOUT, READ_RETRY, Clients, vertex_errors, wait, wait_for_earlier
from component.vertex.target import Registration, VertexTarget

log = logging.getLogger(__name__)

NEW_MODEL_KEY = "0"  # in a DeployModel traffic split: the model being deployed


def deploy(api: Clients, target: VertexTarget, registration: Registration) -> Registration:
    doing = f"vertex_endpoint: deploying {registration.model_version} to {target.endpoint_name}"
    with vertex_errors(doing, target):
        # An earlier attempt's undeploy or replica change still running would otherwise be issued again.
        wait_for_earlier(api.endpoints, target.endpoint_name, "DeployModel", "UndeployModel", "MutateDeployedModel")
        endpoint = _endpoint(api, target)
        already = next((d for d in endpoint.deployed_models if _is_version(d, target, registration.version_id)), None)
        if already is not None:
            log.info(
                "Vertex AI: version %s is already deployed on %s (deployed model %s): not deploying it again.",
                registration.version_id, target.endpoint_name, already.id,
            )
            deployed_id = already.id
            _apply_resources(api, target, already)
            _give_share(api, target, endpoint, deployed_id)
        else:
            deployed_id = _deploy(api, target, registration, dict(endpoint.traffic_split))
        undeployed = _undeploy_previous(api, target, deployed_id) if target.undeploy_previous else ()
        split = dict(_endpoint(api, target).traffic_split)  # as it is now, for the record
    return Registration(
        registration.model_version, registration.version_id, registration.reused, registration.aliases,
        endpoint=target.endpoint_name, deployed_model_id=deployed_id, deployed_now=already is None,
        traffic_split=split, undeployed=undeployed,
    )


def split_traffic(current: Mapping[str, int], percent: int) -> dict[str, int]:
    """The split after deploying a model with `percent`: the models that have traffic now keep their
    proportions of the rest, rounded to whole percents that sum to 100 (largest remainders first).
    An endpoint that serves nothing yet gives the new model everything."""
    others = {k: v for k, v in current.items() if v > 0}
    total = sum(others.values())
    if not total:
        return {NEW_MODEL_KEY: 100}
    rest = 100 - percent
    exact = {k: rest * v / total for k, v in others.items()}
    split = {k: int(share) for k, share in exact.items()}
    by_remainder = sorted(exact, key=lambda k: (split[k] - exact[k], k))
    for k in by_remainder[: rest - sum(split.values())]:
        split[k] += 1
    return {**{k: v for k, v in split.items() if v}, NEW_MODEL_KEY: percent}


def _endpoint(api: Clients, target: VertexTarget) -> types.Endpoint:
    return api.endpoints.get_endpoint(name=target.endpoint_name, retry=READ_RETRY, timeout=CALL_TIMEOUT)


def _apply_resources(api: Clients, target: VertexTarget, deployed: types.DeployedModel) -> None:
    """A re-run asks for what it asks now: replica counts can change on a deployed model
    (MutateDeployedModel); its machine type cannot, so a different one is a warning, not silence."""
    have = deployed.dedicated_resources
    if have.machine_spec.machine_type != target.machine_type:
        log.warning(
            "vertex_machine_type: deployed model %s runs on %s, and a deployed model's machine type cannot change, "
            "so %s is not used; publish a new version with force_new_version=true.",
            deployed.id, have.machine_spec.machine_type, target.machine_type,
        )
    had = (have.min_replica_count, have.max_replica_count or have.min_replica_count)
    wanted = (target.min_replicas, target.max_replicas or target.min_replicas)
    if had == wanted:
        return
    log.info("Vertex AI: deployed model %s has %d-%d replicas; changing them to the %d-%d asked.", deployed.id, *had, *wanted)
    resources = types.DedicatedResources(min_replica_count=wanted[0], max_replica_count=wanted[1])
    operation = api.endpoints.mutate_deployed_model(
        endpoint=target.endpoint_name, deployed_model=types.DeployedModel(id=deployed.id, dedicated_resources=resources),
        update_mask=field_mask_pb2.FieldMask(paths=["dedicated_resources.min_replica_count",
                                                    "dedicated_resources.max_replica_count"]),
        timeout=CALL_TIMEOUT,
    )
    wait(operation, f"changing the replicas of deployed model {deployed.id}")


def _give_share(api: Clients, target: VertexTarget, endpoint: types.Endpoint, deployed_id: str) -> None:
    """Give a deployed model the share asked, the others keeping their proportions of the rest."""
    now = {k: v for k, v in endpoint.traffic_split.items() if v}
    others = {k: v for k, v in now.items() if k != deployed_id}
    wanted = {(deployed_id if k == NEW_MODEL_KEY else k): v
              for k, v in split_traffic(others, target.traffic_percentage).items() if v}
    if wanted == now:
        return
    log.info("Vertex AI: deployed model %s has %d%% of %s's traffic; giving it the %d%% asked (split now %s).",
             deployed_id, now.get(deployed_id, 0), target.endpoint_name, wanted.get(deployed_id, 0), wanted)
    api.endpoints.update_endpoint(
        endpoint=types.Endpoint(name=target.endpoint_name, traffic_split=wanted),
        update_mask=field_mask_pb2.FieldMask(paths=["traffic_split"]), timeout=CALL_TIMEOUT,
    )


def _deploy(api: Clients, target: VertexTarget, registration: Registration, current: dict[str, int]) -> str:
    split = split_traffic(current, target.traffic_percentage)
    if split[NEW_MODEL_KEY] != target.traffic_percentage:
        log.warning(
            "Vertex AI: %s serves no traffic yet, so version %s gets all of it, not the %d%% asked.",
            target.endpoint_name, registration.version_id, target.traffic_percentage,
        )
    log.info(
        "Vertex AI: deploying version %s to %s on %s x %d-%d with %d%% of the traffic; this takes minutes.",
        registration.version_id, target.endpoint_name, target.machine_type, target.min_replicas,
        target.max_replicas or target.min_replicas, split[NEW_MODEL_KEY],
    )
    deployed_model = types.DeployedModel(
        model=registration.model_version,
        display_name=f"{target.model_id}-v{registration.version_id}",
        dedicated_resources=types.DedicatedResources(
            machine_spec=types.MachineSpec(machine_type=target.machine_type),
            min_replica_count=target.min_replicas,
            max_replica_count=target.max_replicas,
        ),
    )
    operation = api.endpoints.deploy_model(
        endpoint=target.endpoint_name, deployed_model=deployed_model, traffic_split=split, timeout=CALL_TIMEOUT,
    )
    deployed = wait(operation, f"deploying version {registration.version_id}").deployed_model
    log.info("Vertex AI: deployed version %s on %s as deployed model %s.", registration.version_id,
             target.endpoint_name, deployed.id)
    return deployed.id


def _undeploy_previous(api: Clients, target: VertexTarget, keep_id: str) -> tuple[str, ...]:
    endpoint = _endpoint(api, target)
    removed = []
    for d in endpoint.deployed_models:
        if d.id == keep_id or not _is_version(d, target, None):
            continue
        share = endpoint.traffic_split.get(d.id, 0)
        if share:
            log.info("Vertex AI: version %s (deployed model %s) still gets %d%% of the traffic: left deployed.",
                     d.model_version_id, d.id, share)
            continue
        log.info("Vertex AI: undeploying version %s (deployed model %s), which gets no traffic.", d.model_version_id, d.id)
        operation = api.endpoints.undeploy_model(endpoint=target.endpoint_name, deployed_model_id=d.id, timeout=CALL_TIMEOUT)
        wait(operation, f"undeploying deployed model {d.id}")
        removed.append(d.id)
    return tuple(removed)


def _is_version(deployed: types.DeployedModel, target: VertexTarget, version_id: str | None) -> bool:
    """Whether `deployed` is a version of target's model (`version_id`, or any when None). Names are
    compared without their project: Vertex may answer with the project's number for its ID."""
    name, _, at_version = deployed.model.partition("@")
    if name.split("/", 2)[-1] != target.model_name.split("/", 2)[-1]:
        return False
    return version_id is None or (deployed.model_version_id or at_version) == version_id
