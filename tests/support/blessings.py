"""Blessing and model artifacts laid out on disk the way TFX's components write them."""

import shutil
from pathlib import Path


def blessing(directory: Path, *markers: str) -> Path:
    """A blessing artifact directory holding the given marker files (BLESSED, INFRA_NOT_BLESSED, ...)."""
    directory.mkdir(parents=True, exist_ok=True)
    for marker in markers:
        (directory / marker).touch()
    return directory


def tfx_model_artifact(saved_model: Path, directory: Path, layout: str = "Format-Serving") -> Path:
    """A Trainer Model artifact: `layout` is Format-Serving, serving_model_dir, or an Estimator export."""
    if layout == "estimator":
        target = directory / "Format-Serving" / "export" / "chicago-taxi" / "1689000000"
    else:
        target = directory / layout
    shutil.copytree(saved_model, target)
    return directory


def infra_blessing_with_model(saved_model: Path, directory: Path, warmup: bytes) -> Path:
    """InfraValidator's output with make_warmup=True: INFRA_BLESSED and a stamped_model with warmup."""
    blessing(directory, "INFRA_BLESSED")
    stamped = Path(shutil.copytree(saved_model, directory / "stamped_model"))
    (stamped / "assets.extra").mkdir()
    (stamped / "assets.extra" / "tf_serving_warmup_requests").write_bytes(warmup)
    return directory
