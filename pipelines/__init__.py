"""Example pipelines that use this component: copy them, change the URIs, run them.

`python -m pipelines.compile` (or `make pipelines`) compiles each one to pipelines/compiled/<name>.yaml.
"""
