"""`python -m pipelines.compile [DIR]` (make pipelines): compile every example to DIR, default pipelines/compiled/."""

import sys
from pathlib import Path

from kfp import compiler

from . import existing_model, train_evaluate_push, vertex_existing_model, vertex_registry

COMPILED = Path(__file__).resolve().parent / "compiled"
PIPELINES = {
    "existing_model": existing_model.pipeline,
    "vertex_existing_model": vertex_existing_model.pipeline,
    "vertex_registry": vertex_registry.pipeline,
    "train_evaluate_push": train_evaluate_push.pipeline,
}


def compile_all(out_dir: Path = COMPILED) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, pipeline in PIPELINES.items():
        paths[name] = out_dir / f"{name}.yaml"
        compiler.Compiler().compile(pipeline, str(paths[name]))
    return paths


if __name__ == "__main__":
    for path in compile_all(Path(sys.argv[1]) if len(sys.argv) > 1 else COMPILED).values():
        print(path)
