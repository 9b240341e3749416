"""A step after the push that uses what it published: here, it says what a model server will load."""

from kfp import dsl


@dsl.component(base_image="python:3.11-slim")
def announce_version(pushed_version: str, pushed_destination: str) -> str:
    """Print and return the published version's location (a deploy or notify step goes here)."""
    message = f"Version {pushed_version} is published at {pushed_destination}; TF Serving loads it next."
    print(message)
    return message
