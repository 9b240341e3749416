"""A Kubeflow Pipelines container component that pushes blessed TensorFlow SavedModels."""

__version__ = "0.1.0"
