"""Vertex AI registration as data: what the vertex_* options ask for, checked before anything is
written, and what registering did. No Google import here: request building and the record use it
on every push, and only a push that registers loads the Vertex clients (vertex.client)."""

import json
import logging
import re
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

from component import settings
from component.errors import InputError

# Vertex's prebuilt TensorFlow CPU serving image, the newest the Vertex SDK lists (named once here
# and once in the README), from the Artifact Registry of the model's region as the SDK's helper and
# the console choose it: us-, europe- or asia-docker.pkg.dev.
SERVING_IMAGE = "{registry}-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
PREBUILT_REGISTRIES = ("us", "europe", "asia")  # the SDK's helper refuses other regions
# The TensorFlow version a Vertex prebuilt TensorFlow image runs, from its name (tf2-cpu.2-15).
_PREBUILT_TF = re.compile(r"[a-z]+-docker\.pkg\.dev/vertex-ai/prediction/tf2-(?:cpu|gpu)\.(\d+)-(\d+)(?::.*)?")
DEFAULT_MACHINE_TYPE = "n1-standard-2"

_MODEL_ID = r"[a-z_][a-z0-9_-]{0,62}|[0-9]{1,63}"  # new IDs are the first; Vertex's own IDs are numbers
_ENDPOINT_ID = r"[a-z0-9][a-z0-9-]{0,62}"
_PROJECT = r"[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20}|[a-z0-9.-]+:[a-z][a-z0-9-]{4,28}[a-z0-9]"
_REGION = re.compile(r"[a-z]+-[a-z]+[0-9]{1,2}")
_RESOURCE = r"projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/{kind}/(?P<id>[^/]+)"
_ALIAS = re.compile(r"[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]")
_MACHINE_TYPE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+")
MAX_LABELS = 64
MAX_LABEL_CHARS = 63
DEFAULT_ALIAS = "default"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VertexTarget:
    """Where and how to register a pushed version (and, with an endpoint, deploy it)."""

    project: str
    region: str
    model_id: str
    aliases: tuple[str, ...]
    labels: Mapping[str, str]
    serving_image: str
    endpoint_name: str  # projects/P/locations/R/endpoints/ID; empty: register only
    traffic_percentage: int
    machine_type: str
    min_replicas: int
    max_replicas: int  # 0: as many as min_replicas (Vertex's own meaning of 0)
    undeploy_previous: bool
    api_endpoint: str  # MODEL_PUSHER_VERTEX_API_ENDPOINT; empty: the regional endpoint
    default_version: bool = True  # the new version takes the `default` alias, as in the SDK's upload

    @property
    def location(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    @property
    def model_name(self) -> str:
        return f"{self.location}/models/{self.model_id}"

    @property
    def is_vertex_id(self) -> bool:
        """A number: an ID Vertex assigned, so the model must exist (a new model's ID cannot start with a digit)."""
        return self.model_id.isdigit()

    @property
    def wanted_aliases(self) -> tuple[str, ...]:
        """The aliases the registered version must hold: the asked ones, and `default` unless told not to."""
        return tuple(dict.fromkeys((*self.aliases, DEFAULT_ALIAS))) if self.default_version else self.aliases

    def serving_tensorflow(self) -> tuple[int, int] | None:
        """The TensorFlow (major, minor) the serving image runs, when it is one of Vertex's prebuilt images."""
        match = _PREBUILT_TF.fullmatch(self.serving_image)
        return (int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True)
class Registration:
    """What registering (and deploying) did; every field is what the record and the report show."""

    model_version: str  # projects/P/locations/R/models/ID@VERSION, what GCPC's ModelDeployOp takes
    version_id: str
    reused: bool  # the registry already had a version of this gs:// URI (a retried step)
    aliases: tuple[str, ...] = ()
    endpoint: str = ""
    deployed_model_id: str = ""
    deployed_now: bool = False  # False with an endpoint: it was already deployed there
    traffic_split: Mapping[str, int] | None = None  # the endpoint's split afterwards
    undeployed: tuple[str, ...] = ()  # deployed model IDs of older versions removed

    @property
    def api_uri(self) -> str:
        """The version's REST URL, the `uri` GCPC gives its google.VertexModel artifacts."""
        region = self.model_version.split("/")[3]
        return f"https://{region}-aiplatform.googleapis.com/v1/{self.model_version}"


def parse_vertex_options(values: Mapping[str, Any], set_options: Set[str], destination_base: str) -> VertexTarget | None:
    """The vertex_* options, each already of its kind (str, int or bool, as the option table says),
    checked together; None when vertex_model is empty. `set_options` names the options that were
    set (given a value other than their default)."""
    model = values["vertex_model"].strip()
    if not model:
        _refuse_without("vertex_model", values, set_options, _MODEL_OPTIONS)
        return None
    if not destination_base.startswith("gs://"):
        raise InputError(
            f"vertex_model: Vertex AI registers models from Cloud Storage, but push_destination is "
            f"{destination_base}; push to a gs:// base directory"
        )
    project, region, model_id = _resource("vertex_model", model, "models", _MODEL_ID)
    env = settings.current()
    project = _agree("vertex_project", project, values["vertex_project"], env.project, settings.PROJECT_ENVS)
    region = _agree("vertex_region", region, values["vertex_region"], env.region, settings.REGION_ENVS)
    if not re.fullmatch(_PROJECT, project):
        raise InputError(f"vertex_project: {project!r} is not a Google Cloud project ID or number")
    if not _REGION.fullmatch(region):
        raise InputError(f"vertex_region: {region!r} is not a Vertex AI region such as us-central1")
    endpoint = values["vertex_endpoint"].strip()
    endpoint_name = ""
    if endpoint:
        # An endpoint named with another project or region is not refused on its text: a project
        # number may be the model's project, and a deployed model may live in another location.
        # Vertex is asked before the push (vertex.check) and its answer is mapped.
        e_project, e_region, endpoint_id = _resource("vertex_endpoint", endpoint, "endpoints", _ENDPOINT_ID)
        # The region names the host the endpoint is asked at: nothing but a region may be there.
        if e_project and not re.fullmatch(_PROJECT, e_project) or e_region and not _REGION.fullmatch(e_region):
            raise InputError(f"vertex_endpoint: {endpoint!r} does not name a Google Cloud project and a Vertex AI region")
        endpoint_name = f"projects/{e_project or project}/locations/{e_region or region}/endpoints/{endpoint_id}"
    else:
        _refuse_without("vertex_endpoint", values, set_options, _ENDPOINT_OPTIONS)
    traffic = values["vertex_traffic_percentage"]
    if not 0 <= traffic <= 100:
        raise InputError(f"vertex_traffic_percentage: must be 0 to 100, got {traffic}")
    min_replicas = values["vertex_min_replicas"]
    max_replicas = values["vertex_max_replicas"]
    if min_replicas < 1:
        raise InputError(f"vertex_min_replicas: must be 1 or more, got {min_replicas}")
    if max_replicas and max_replicas < min_replicas:
        raise InputError(
            f"vertex_max_replicas: {max_replicas} is below vertex_min_replicas {min_replicas} (0 means the same)"
        )
    machine_type = values["vertex_machine_type"].strip()
    if not _MACHINE_TYPE.fullmatch(machine_type):
        raise InputError(f"vertex_machine_type: {machine_type!r} is not a machine type such as n1-standard-2")
    image = values["vertex_serving_image"].strip() or default_serving_image(region)
    if any(c.isspace() for c in image):
        raise InputError(f"vertex_serving_image: {image!r} is not a container image URI")
    labels = {**_run_labels(), **_labels(values["vertex_labels"])}
    _check_label_count(labels)
    return VertexTarget(
        project=project,
        region=region,
        model_id=model_id,
        aliases=_aliases(values["vertex_version_aliases"]),
        labels=labels,
        serving_image=image,
        endpoint_name=endpoint_name,
        traffic_percentage=traffic,
        machine_type=machine_type,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        undeploy_previous=values["vertex_undeploy_previous"],
        api_endpoint=env.vertex_api_endpoint,
        default_version=values["vertex_default_version"],
    )


def default_serving_image(region: str) -> str:
    """Vertex's prebuilt TensorFlow image from the registry of the region's continent (us, europe, asia)."""
    registry = region.split("-", 1)[0]
    if registry not in PREBUILT_REGISTRIES:
        raise InputError(
            f"vertex_serving_image: Vertex AI's prebuilt serving images exist only in the us, europe and asia "
            f"registries, not for region {region}; set vertex_serving_image to an image Vertex AI can pull there"
        )
    return SERVING_IMAGE.format(registry=registry)


# Options that mean nothing without vertex_model / vertex_endpoint: a value other than the
# default there is a mistake worth reporting, not ignoring.
_ENDPOINT_OPTIONS = ("vertex_traffic_percentage", "vertex_machine_type", "vertex_min_replicas",
                     "vertex_max_replicas", "vertex_undeploy_previous")
_MODEL_OPTIONS = ("vertex_project", "vertex_region", "vertex_version_aliases", "vertex_labels",
                  "vertex_serving_image", "vertex_default_version", "vertex_endpoint", *_ENDPOINT_OPTIONS)


def _refuse_without(needed: str, values: Mapping[str, Any], set_options: Set[str], dependents: tuple[str, ...]) -> None:
    for name in dependents:
        if name in set_options:
            value = values[name]
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            raise InputError(f"{name}: is set to {shown!r} but {needed} is empty; set {needed} too")


def _resource(name: str, value: str, kind: str, id_pattern: str) -> tuple[str, str, str]:
    """(project, region, id) from an ID or a full resource name; project and region empty for an ID."""
    if value.startswith("projects/"):
        match = re.fullmatch(_RESOURCE.format(kind=kind), value)
        if not match or not re.fullmatch(id_pattern, match["id"]):
            raise InputError(f"{name}: {value!r} is not projects/PROJECT/locations/REGION/{kind}/ID")
        return match["project"], match["region"], match["id"]
    if not re.fullmatch(id_pattern, value):
        raise InputError(
            f"{name}: {value!r} is not a {kind[:-1]} ID (lowercase letters, digits, - and _) "
            f"or a projects/PROJECT/locations/REGION/{kind}/ID name"
        )
    return "", "", value


def _agree(name: str, from_resource: str, given: str, from_env: str, envs: tuple[str, ...]) -> str:
    given = given.strip()
    if from_resource and given and given != from_resource:
        raise InputError(f"{name}: {given} differs from the {from_resource} in vertex_model's resource name")
    found = from_resource or given or from_env
    if not found:
        raise InputError(f"{name}: not given, not in vertex_model's resource name, nor in ${' or $'.join(envs)}")
    return found


def _aliases(text: str) -> tuple[str, ...]:
    aliases = tuple(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    for alias in aliases:
        if not _ALIAS.fullmatch(alias):
            raise InputError(
                f"vertex_version_aliases: {alias!r} is not an alias (a lowercase letter first, then letters, "
                "digits or -, ending in a lowercase letter or digit)"
            )
    return aliases


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in (i.strip() for i in text.split(",") if i.strip()):
        if "=" not in item:
            raise InputError(f"vertex_labels: {item!r} is not key=value")
        key, value = (p.strip() for p in item.split("=", 1))
        problem = label_problem(key, value)
        if problem:
            raise InputError(f"vertex_labels: {key}={value} is not a label: {problem}")
        if key in labels:
            raise InputError(f"vertex_labels: label {key} is given twice")
        labels[key] = value
    return labels


def label_problem(key: str, value: str) -> str:
    """Why Vertex would refuse this label ("" if it would not): keys and values of up to 63 lowercase
    letters (international ones too), digits, _ and -; a key starts with a letter."""
    if not key or not _is_lower_letter(key[0]):
        return "a key starts with a lowercase letter"
    for what, text in (("key", key), ("value", value)):
        if len(text) > MAX_LABEL_CHARS:
            return f"a {what} has at most {MAX_LABEL_CHARS} characters"
        if not all(_is_lower_letter(c) or c.isdigit() or c in "_-" for c in text):
            return f"a {what} holds only lowercase letters, digits, _ and -"
    return ""


def _is_lower_letter(c: str) -> bool:
    # International letters without case (Japanese, Chinese...) count as lowercase, as Vertex allows.
    return c.isalpha() and not c.isupper()


def _check_label_count(labels: Mapping[str, str]) -> None:
    if len(labels) > MAX_LABELS:
        raise InputError(
            f"vertex_labels: with the pipeline run's labels (${settings.VERTEX_RUN_LABELS_ENV}) the version would have "
            f"{len(labels)} labels; Vertex AI allows {MAX_LABELS}"
        )


def _run_labels() -> dict[str, str]:
    """The pipeline run's labels; one that Vertex would refuse is dropped with a warning, as GCPC does:
    the step cannot change them, and they are not what it registers."""
    text = settings.current().vertex_run_labels
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict):
        log.warning("$%s is not a JSON object of labels (%r): the run's labels are not added.", settings.VERTEX_RUN_LABELS_ENV, text[:100])
        return {}
    labels = {}
    for key, value in doc.items():
        problem = label_problem(key, value) if isinstance(value, str) else "a value is text"
        if problem:
            log.warning("$%s: dropping the run label %s=%s: %s.", settings.VERTEX_RUN_LABELS_ENV, key, value, problem)
        else:
            labels[key] = value
    return labels
