# One virtualenv in the repo; each target installs what it needs into it by itself.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test check-image bench clean component.yaml pipelines

$(VENV)/.runtime: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime setup.py
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.runtime
	PY=$(PY) examples/demo.sh

test: $(VENV)/.test
	$(PY) -m pytest -q tests
	$(MAKE) --no-print-directory check-image

# Build the image with podman, run the component in it and a pipeline with kfp.local's DockerRunner
# (installs podman & co. when missing).
check-image: $(VENV)/.test
	PY=$(PY) docker/check_image.sh

# component.yaml is generated from component/kfp/spec.py (its inputs from component.kfp.options.OPTIONS);
# a test fails when the shipped file is out of date.
component.yaml: $(VENV)/.test
	$(PY) -m component.kfp.spec $@

pipelines: $(VENV)/.test
	$(PY) -m pipelines.compile

# Three passes of every row, then their medians and ranges (about 35 minutes).
bench: $(VENV)/.test
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) demo-output build *.egg-info
