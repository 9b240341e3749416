"""KFP executor inputs as the launcher writes them, for a local push: the tests build on these."""

from pathlib import Path


def executor_input(tmp_path: Path, artifacts: dict, params: dict | None = None) -> dict:
    return {
        "inputs": {
            "artifacts": artifacts,
            "parameterValues": {"push_destination": str(tmp_path / "serving"), **(params or {})},
        },
        "outputs": {
            "artifacts": {"pushed_model": {"artifacts": [{
                "name": "projects/p/artifacts/42", "uri": str(tmp_path / "pushed_model"), "metadata": {},
                "type": {"schemaTitle": "system.Artifact"},
            }]}},
            "parameters": {name: {"outputFile": str(tmp_path / "params" / name)}
                           for name in ("pushed", "pushed_destination", "pushed_version")},
            "outputFile": str(tmp_path / "executor_output.json"),
        },
    }


def artifact(uri: Path | str, **metadata) -> dict:
    return {"artifacts": [{"name": "a", "uri": str(uri), "metadata": metadata}]}
