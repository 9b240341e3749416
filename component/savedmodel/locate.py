"""Find the SavedModel inside a model artifact, in every layout TFX writes, and list its files."""

import logging

from component.artifacts import Artifact, parse_flag
from component.errors import InputError
from component.model import SAVED_MODEL_FILES, Model
from component.stores.registry import is_remote
from component.stores.trees import LocalTree, Tree, open_tree

log = logging.getLogger(__name__)

def artifact_entries(artifact: Artifact) -> dict[str, bool]:
    """The names at the top of an artifact (marker files); {} when KFP made no directory for it,
    as for a blessing that is metadata only."""
    if is_remote(artifact.uri) and not artifact.path.is_dir():
        return open_tree(artifact).entries("")
    return LocalTree(artifact).entries("")


def find_model(model: Artifact | None, infra_blessing: Artifact | None, destination: str = "") -> Model:
    """The SavedModel to push: from `model` when given (as TFX), else InfraValidator's warmed-up copy.

    `destination`: artifacts in the same service are read through its API even when mounted (see open_tree)."""
    if model is None and infra_blessing is None:
        raise InputError(
            "model: no model given; connect `model`, or an `infra_blessing` that holds a warmed-up model "
            "(InfraValidator with make_warmup=True)"
        )
    if model is None:
        _require_has_model(infra_blessing)
    tree = open_tree(model if model is not None else infra_blessing, destination)
    if model is not None:
        return tree.model(_serving_dir(tree, model.name), f"{model.name} {model.uri}")
    return tree.model(_stamped_dir(tree, infra_blessing),
                      f"{infra_blessing.name} {infra_blessing.uri} (warmed-up stamped_model)")


def _require_has_model(infra_blessing: Artifact) -> None:
    has_model = infra_blessing.metadata.get("has_model")
    if has_model is not None and not parse_flag(has_model, "infra_blessing.metadata.has_model"):
        raise InputError(
            "infra_blessing: does not contain a model (has_model=0); connect `model`, or run "
            "InfraValidator with make_warmup=True"
        )


def _stamped_dir(tree: Tree, infra_blessing: Artifact) -> str:
    if not tree.entries("").get("stamped_model"):
        raise InputError(
            f"infra_blessing: no stamped_model/ directory in {infra_blessing.uri}, so it holds no model; "
            "connect `model`, or run InfraValidator with make_warmup=True"
        )
    _require_saved_model(tree, "stamped_model", infra_blessing.name)
    return "stamped_model"


def _serving_dir(tree: Tree, input_name: str) -> str:
    """TFX's layouts: Format-Serving/ (TFX >= 0.29), serving_model_dir/ (older), Estimator export/."""
    top = tree.entries("")
    rel = next((d for d in ("Format-Serving", "serving_model_dir") if top.get(d)), "")
    if tree.entries(rel).get("export"):
        rel = _only_child(tree, _join(rel, "export"), "exporter name", input_name)
        rel = _only_child(tree, rel, "timestamp", input_name)
    _require_saved_model(tree, rel, input_name)
    return rel


def _only_child(tree: Tree, rel: str, what: str, input_name: str) -> str:
    names = tree.entries(rel)
    if len(names) != 1:
        raise InputError(
            f"{input_name}: Estimator layout {rel}/ must hold exactly one {what} directory, "
            f"found {sorted(names) or 'none'}"
        )
    return _join(rel, next(iter(names)))


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _require_saved_model(tree: Tree, rel: str, input_name: str) -> None:
    if not any(tree.entries(rel).get(f) is False for f in SAVED_MODEL_FILES):
        raise InputError(
            f"{input_name}: no saved_model.pb or saved_model.pbtxt in {_join(tree.uri.rstrip('/'), rel)}; "
            "expected a SavedModel, or a TFX model artifact (Format-Serving/, serving_model_dir/ "
            "or export/<name>/<timestamp>/)"
        )
