"""A step after the push that uses what it published: here, it says what a model server will load."""

from kfp import dsl


@dsl.component(base_image="python:3.11-slim")
def announce_version(pushed_version: str, pushed_destination: str) -> str:
    """Print and return the published version's location (a deploy or notify step goes here)."""
    message = f"Version {pushed_version} is published at {pushed_destination}; TF Serving loads it next."
    print(message)
    return message


@dsl.component(base_image="python:3.11-slim")
def announce_registered_version(
    registered_model: dsl.Input[dsl.Artifact], vertex_model_version: str, vertex_deployed_endpoint: str
) -> str:
    """Print and return the Model Registry version (what GCPC's ModelDeployOp would take) and where it serves."""
    message = f"Registered {registered_model.metadata.get('resourceName', vertex_model_version)}"
    message += f"; deployed on {vertex_deployed_endpoint}." if vertex_deployed_endpoint else "; not deployed."
    print(message)
    return message
