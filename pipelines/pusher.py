"""The pusher as pipelines use it: loaded from the shipped component.yaml, like any shared component.

In your own repository, point this at your copy of component.yaml (or its raw URL with
`components.load_component_from_url`).
"""

from pathlib import Path

from kfp import components

COMPONENT_YAML = Path(__file__).resolve().parent.parent / "component.yaml"

model_pusher = components.load_component_from_file(str(COMPONENT_YAML))
