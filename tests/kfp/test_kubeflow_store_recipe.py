"""The README's recipe for pushing to Kubeflow's own store compiles with the real kfp SDK and gives
the step the store's credentials and endpoint."""

import re

import yaml
from kfp import compiler

from tests.support.command import REPO
from pipelines.pusher import model_pusher


def recipe() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## S3 and Kubeflow's own store"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_recipe_injects_the_secret_and_the_endpoint(tmp_path):
    namespace = {"model_pusher": model_pusher}
    exec(compile(recipe(), "README.md", "exec"), namespace)
    compiler.Compiler().compile(namespace["pipeline"], str(tmp_path / "recipe.yaml"))
    spec, platform = yaml.safe_load_all((tmp_path / "recipe.yaml").read_text())

    container = spec["deploymentSpec"]["executors"]["exec-model-pusher"]["container"]
    assert {"name": "AWS_ENDPOINT_URL", "value": "http://seaweedfs.kubeflow:9000"} in container["env"]
    [secret] = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-model-pusher"]["secretAsEnv"]
    assert secret["secretName"] == "mlpipeline-minio-artifact"
    assert {(k["secretKey"], k["envVar"]) for k in secret["keyToEnv"]} == {
        ("accesskey", "AWS_ACCESS_KEY_ID"), ("secretkey", "AWS_SECRET_ACCESS_KEY")}
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["model_uri"]["defaultValue"].startswith("minio://")
