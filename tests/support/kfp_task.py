"""Run component.yaml's real command line the way KFP does, with kfp.local's own helpers.

kfp.local's SubprocessRunner refuses container components, so this does what its task dispatcher
does for them: build the executor input, resolve the placeholders in the command, run it (here as
a process, or inside the image), then read the outputs back with kfp's executor-output reader.
These helpers are kfp internals, which is why setup.py pins kfp>=2.14,<3.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfp import components
from kfp.local import executor_input_utils, executor_output_utils, placeholder_utils, utils
from kfp.pipeline_spec import pipeline_spec_pb2

from component.settings import MOUNT_ROOT_ENV
from component.kfp.options import OUTPUT_ARTIFACT
from tests.support.command import REPO

COMPONENT_YAML = REPO / "component.yaml"


@dataclass(frozen=True)
class Task:
    image: str
    command: list[str]  # resolved: what the container would run
    executor_input: pipeline_spec_pb2.ExecutorInput
    component_spec: pipeline_spec_pb2.ComponentSpec

    def outputs(self) -> dict[str, Any]:
        """Output parameters and artifacts as kfp reads them from the executor output file."""
        return executor_output_utils.get_outputs_for_task(self.executor_input, self.component_spec)


def prepare(arguments: dict[str, Any], task_root: Path, pushed_model_uri: str | None = None) -> Task:
    """Resolve the shipped component.yaml's command for these arguments (dsl artifacts and values).

    Outputs go under `task_root`, as kfp.local lays them out; `pushed_model_uri` replaces the output
    artifact's uri, as a pipeline root on gs:// or minio:// would.
    """
    pipeline_spec = components.load_component_from_file(str(COMPONENT_YAML)).pipeline_spec
    component_name, component_spec = next(iter(pipeline_spec.components.items()))
    executor = utils.struct_to_executor_spec(pipeline_spec.deployment_spec["executors"][component_spec.executor_label])
    executor_input = executor_input_utils.construct_executor_input(
        component_spec=component_spec, arguments=arguments, task_root=str(task_root), block_input_artifact=False,
    )
    if pushed_model_uri is not None:
        executor_input.outputs.artifacts[OUTPUT_ARTIFACT].artifacts[0].uri = pushed_model_uri
    container = executor.container
    command = placeholder_utils.replace_placeholders(
        full_command=[*container.command, *container.args],
        executor_input_dict=executor_input_utils.executor_input_to_dict(executor_input, component_spec),
        pipeline_resource_name="test-pipeline",
        task_resource_name=executor_input_utils.get_local_task_resource_name(component_name),
        pipeline_root=str(task_root),
        unique_pipeline_id=placeholder_utils.make_random_id(),
    )
    return Task(container.image, command, executor_input, component_spec)


def run_on_host(task: Task, mount_root: Path | None = None) -> dict[str, Any]:
    """Run the resolved command as the image would, with this interpreter in place of its python;
    `mount_root` stands in for the container's / (where /gcs, /s3 and /minio are)."""
    assert task.command[:3] == ["python", "-m", "component"], task.command
    env = {**os.environ, **({MOUNT_ROOT_ENV: str(mount_root)} if mount_root else {})}
    result = subprocess.run([sys.executable, *task.command[1:]], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return task.outputs()
